// Forwarding benchmark: one upstream (BIND named, authoritative for fwd.test with ~1000 names and a
// wildcard for never-seen names) and four forwarders in front of it, one at a time on core 0:
// kdns (native engine, 1 worker), dnsmasq (--cache-size=10000), unbound (1 thread, forward-zone ".")
// and CoreDNS (forward + cache). For each: warm-cache UDP qps with udpgen on core 1 (interleaved
// repetitions, server CPU µs per answer, and the upstream's CPU during the run to show the cache was
// warm), then cold-path latency with dnsperf on core 1 over names no server has seen (each name once; two
// phases, the first after start reported apart), then a random-subdomain flood (every query a miss).
//
//   npx tsc -p . && node dist/bench/forward/run.js [--duration S] [--reps N] [--cold-rate QPS] [--only kdns,dnsmasq,...]
//     [--phases warm,cold,flood] [--no-write]      KDNS_BENCH_NODE_ARGS='--cpu-prof ...' passes node flags to kdns
//   (npm run bench runs it too, after the cluster-name mixes)
//
// Writes bench/results/forward-<timestamp>.json and prints a markdown table with ratios to dnsmasq.
// Every process is started and stopped by PID (bench/lib/proc.ts); every run has a time limit.
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { latency, udpThroughput, type LatencyResult, type UdpOptions, type UdpResult } from '../lib/measure.js';
import { cpuSeconds, probeQuery, sleep, start, stop, stopAll, tail, waitForDns, type Proc } from '../lib/proc.js';
import { range } from '../lib/report.js';
import { benchSession, freePort } from '../lib/session.js';
import { writeNamedConf } from '../lib/peers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const ORIGIN = 'fwd.test';
const NAMES = 1000;
const READY_MS = 30_000;

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '3' },
    reps: { type: 'string', default: '3' },
    'cold-rate': { type: 'string', default: '300' },
    only: { type: 'string' },
    phases: { type: 'string', default: 'warm,cold,flood' },
    'no-write': { type: 'boolean', default: false },
  },
});
const DURATION = Math.min(Math.max(Number(values.duration) || 3, 0.5), 30);
const REPS = Math.min(Math.max(Math.round(Number(values.reps) || 3), 1), 10);
const COLD_RATE = Math.min(Math.max(Math.round(Number(values['cold-rate']) || 300), 50), 5000);
const UDP: UdpOptions = { sockets: 4, window: 32, batch: 32, timeoutMs: 200 };
/** The random-subdomain flood: as many misses in flight as the warm runs have queries; 1 s timeout (each is an upstream round trip). */
const FLOOD: UdpOptions = { ...UDP, timeoutMs: 1000, randomLabel: true };
const FLOOD_SECONDS = Math.max(1, Math.min(DURATION, 5));
/** `--phases warm,cold,flood`: the ones to run (a profile of one phase alone, say). */
const PHASES = new Set(values.phases.split(','));
const session = benchSession('kdns-fwd-bench-');
const { serverPin: SERVER_PIN, loadPin: LOAD_PIN, tmp, cleanup } = session;

function log(msg: string): void {
  process.stderr.write(`[bench/forward] ${msg}\n`);
}

function which(cmd: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin', '/usr/local/sbin'])) {
    if (d && existsSync(join(d, cmd))) return join(d, cmd);
  }
  return undefined;
}

function corednsPath(): string | undefined {
  const p = join(process.env.GOPATH ?? join(process.env.HOME ?? '/root', 'go'), 'bin', 'coredns');
  return existsSync(p) ? p : which('coredns');
}


// ---- the upstream's zone and the query files ------------------------------------------------------------

/** ~1000 names (A, TTL 1 h), negative answers cached for 1 h too, and a wildcard for cold-path names. */
function upstreamZone(): string {
  const lines = [
    `$ORIGIN ${ORIGIN}.`, '$TTL 3600',
    `@ IN SOA ns.${ORIGIN}. hostmaster.${ORIGIN}. 1 3600 600 86400 3600`,
    `@ IN NS ns.${ORIGIN}.`, `ns IN A 192.0.2.53`,
    `*.cold IN A 192.0.2.200`,
  ];
  for (let i = 0; i < NAMES; i++) lines.push(`h${String(i).padStart(4, '0')} IN A 10.${(i >> 8) & 255}.${i & 255}.1`);
  return lines.join('\n') + '\n';
}

/** The warm mix, each question once per pass: A on existing names 80 %, AAAA (NODATA) 10 %, NXDOMAIN 10 %. */
function warmQueries(): string {
  const out: string[] = [];
  for (let i = 0; i < NAMES; i++) {
    const name = `h${String(i).padStart(4, '0')}.${ORIGIN}`;
    out.push(`${name} A`);
    if (i % 8 === 0) out.push(`${name} AAAA`);
    if (i % 8 === 4) out.push(`nx${i}.${ORIGIN} A`);
  }
  return out.join('\n') + '\n';
}

/** Names under the wildcard below `label` (one server and phase each), each once (more lines than dnsperf sends). */
function coldQueriesUnder(label: string, count: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(`c${i}.${label}.cold.${ORIGIN} A`);
  return out.join('\n') + '\n';
}

// ---- the servers ----------------------------------------------------------------------------------------

interface Forwarder {
  id: string;
  label: string;
  missing(): string | undefined;
  start(port: number, upstream: number, dir: string): Promise<Proc>;
}

function pinned(name: string, cmd: string, args: string[], env?: NodeJS.ProcessEnv): Proc {
  return SERVER_PIN ? start(name, 'taskset', ['-c', SERVER_PIN, cmd, ...args], env) : start(name, cmd, args, env);
}

async function ready(p: Proc, check: () => Promise<unknown>): Promise<Proc> {
  try {
    await check();
    return p;
  } catch (err) {
    await stop(p);
    throw err;
  }
}

/** Extra node flags for kdns from KDNS_BENCH_NODE_ARGS (space-separated), e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`. */
function nodeArgs(): string[] {
  return (process.env.KDNS_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
}

const FORWARDERS: Forwarder[] = [
  {
    id: 'kdns',
    label: 'kdns (native, 1 worker)',
    missing: () => (existsSync(join(ROOT, 'dist/src/cli.js')) ? undefined : 'dist/src/cli.js not built (npx tsc -p .)'),
    async start(port, upstream) {
      const p = pinned('kdns', process.execPath, [
        ...nodeArgs(), join(ROOT, 'dist/src/cli.js'), '--listen', `127.0.0.1:${port}`, '--engine', 'native', '--workers', '1',
        '--http', 'none', '--log-level', 'warn', `--server=127.0.0.1#${upstream}`,
      ]);
      return ready(p, async () => {
        // --log-level warn hides "serving"; the DNS answer is the readiness signal, the engine is checked below.
        await waitForDns(p, port, ORIGIN, READY_MS);
        if (p.output.some((l) => /fall(ing)? ?back|native engine unavailable/i.test(l))) throw new Error(`kdns did not run the native engine: ${tail(p)}`);
      });
    },
  },
  {
    id: 'dnsmasq',
    label: 'dnsmasq (--cache-size=10000)',
    missing: () => (which('dnsmasq') ? undefined : 'dnsmasq not installed (apt-get install dnsmasq)'),
    async start(port, upstream) {
      // -k (no --no-daemon): TCP handled by forked children as in production; no query log (it costs per query).
      const p = pinned('dnsmasq', which('dnsmasq')!, [
        '--keep-in-foreground', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv',
        '--no-hosts', '--conf-file=/dev/null', '--pid-file=', '--cache-size=10000', `--server=127.0.0.1#${upstream}`,
        '--user=root', '--group=root', '--log-facility=-',
      ]);
      return ready(p, () => waitForDns(p, port, ORIGIN, READY_MS));
    },
  },
  {
    id: 'unbound',
    label: 'unbound (1 thread, forward-zone)',
    missing: () => (which('unbound') ? undefined : 'unbound not installed (bench/setup.sh)'),
    async start(port, upstream, dir) {
      const conf = join(dir, 'unbound.conf');
      writeFileSync(conf, [
        'server:',
        '  interface: 127.0.0.1',
        `  port: ${port}`,
        '  num-threads: 1',
        '  do-ip6: no',
        '  username: ""',
        '  chroot: ""',
        `  directory: "${dir}"`,
        '  pidfile: ""',
        '  use-syslog: no',
        '  logfile: ""',
        '  verbosity: 0',
        '  access-control: 127.0.0.0/8 allow',
        '  do-not-query-localhost: no',
        '  module-config: "iterator"',
        '  qname-minimisation: no',
        '  msg-cache-size: 16m',
        '  rrset-cache-size: 32m',
        '  prefetch: no',
        '  local-zone: "test." nodefault', // unbound answers NXDOMAIN for test. itself by default (RFC 6761)
        'remote-control:',
        '  control-enable: no',
        'forward-zone:',
        '  name: "."',
        `  forward-addr: 127.0.0.1@${upstream}`,
        '',
      ].join('\n'));
      const p = pinned('unbound', which('unbound')!, ['-d', '-c', conf]);
      return ready(p, () => waitForDns(p, port, ORIGIN, READY_MS));
    },
  },
  {
    id: 'coredns',
    label: 'CoreDNS (forward + cache, GOMAXPROCS=1)',
    missing: () => (corednsPath() ? undefined : 'coredns not installed (bench/setup.sh)'),
    async start(port, upstream, dir) {
      const conf = join(dir, 'Corefile');
      writeFileSync(conf, `.:${port} {\n    bind 127.0.0.1\n    forward . 127.0.0.1:${upstream}\n    cache\n}\n`);
      const p = pinned('coredns', corednsPath()!, ['-conf', conf, '-quiet'], { ...process.env, GOMAXPROCS: '1' });
      return ready(p, () => waitForDns(p, port, ORIGIN, READY_MS));
    },
  },
];

async function startUpstream(port: number, statsPort: number, zone: string, dir: string): Promise<Proc> {
  const named = which('named');
  if (!named) throw new Error('named not installed (bench/setup.sh): it is the upstream');
  const conf = writeNamedConf(dir, port, ORIGIN, zone);
  // Its statistics channel counts the queries it received: the flood's upstream queries per client query.
  appendFileSync(conf, `statistics-channels { inet 127.0.0.1 port ${statsPort} allow { 127.0.0.1; }; };\n`);
  // Unpinned: during warm runs it should be idle (its CPU is reported to show that).
  const p = start('upstream', named, ['-g', '-n', '1', '-c', conf]);
  return ready(p, () => waitForDns(p, port, ORIGIN, READY_MS));
}

/** Queries named has received so far (its statistics channel, JSON). */
async function upstreamQueries(statsPort: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${statsPort}/json/v1/server`, { signal: AbortSignal.timeout(5000) });
  const j = await res.json() as { opcodes?: Record<string, number> };
  return j.opcodes?.QUERY ?? NaN;
}

/** The rcode of one A query with RD set (forwarders may refuse RD=0), or -1 after 3 tries of 1 s. */
async function askRecursive(port: number, name: string): Promise<number> {
  const q = probeQuery(name, 1);
  q[2] = 0x01; // RD
  const sock = dgram.createSocket('udp4');
  let rcode = -1;
  sock.on('message', (m) => { if (m.length >= 12 && m.readUInt16BE(0) === 0x4242) rcode = m[3]! & 0x0f; });
  sock.on('error', () => { /* counted as no answer */ });
  try {
    for (let i = 0; i < 3 && rcode < 0; i++) {
      sock.send(q, port, '127.0.0.1');
      for (let w = 0; w < 50 && rcode < 0; w++) await sleep(20);
    }
  } finally {
    sock.close();
  }
  return rcode;
}

// ---- the run --------------------------------------------------------------------------------------------

interface Result {
  id: string;
  label: string;
  status: 'ok' | 'not available' | 'failed';
  reason?: string;
  udp: UdpResult[];
  /** Upstream CPU seconds used during each warm run (≈ 0 when every answer came from the cache). */
  upstreamCpu: number[];
  /** The second cold phase: the miss path has run ~COLD_RATE × seconds times before (JIT warm, sockets ready). */
  cold?: LatencyResult;
  /** The first cold phase after start: the first misses the server ever forwards. */
  coldFirst?: LatencyResult;
  /** Random-subdomain flood (every query a miss): client answers per second and upstream queries per client query. */
  flood?: UdpResult & { upstreamPerQuery: number };
}

interface Running { f: Forwarder; proc: Proc; port: number; result: Result }

function build(name: string, src: string): string {
  const out = join(tmp, name);
  const r = spawnSync('gcc', ['-O2', '-Wall', '-o', out, join(ROOT, src)], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${name} could not be built (gcc required, bench/setup.sh): ${r.stderr}`);
  return out;
}

function fmtK(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  return n >= 1000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0);
}

function markdown(date: string, results: Result[], meta: Record<string, unknown>): string {
  const base = results.find((r) => r.id === 'dnsmasq');
  const baseQps = range((base?.udp ?? []).map((u) => u.qps))?.median;
  const baseCold = base?.cold?.p50;
  const baseFlood = base?.flood?.qps;
  const lines = [
    `#### ${date}`, '',
    `Command: \`${meta.command}\`  `,
    `Machine: ${meta.machine}  `,
    `Options: ${meta.options}`, '',
    'Warm cache (every answer cached): UDP qps with udpgen on core 1, server on core 0; cold path: dnsperf at ' +
    `${COLD_RATE} qps over names never asked before (each one forwarded to named); flood: udpgen with a random first label ` +
    `under cold.${ORIGIN} for ${FLOOD_SECONDS} s (every query a miss), upstream queries counted by named's statistics channel.`, '',
    '| forwarder | warm UDP qps median (range) | × dnsmasq | server CPU µs/answer | upstream CPU during warm runs | answers NOERROR / NXDOMAIN / other | cold p50 / p99 µs | cold p50 × dnsmasq | first cold phase p50 / p99 µs | flood qps (× dnsmasq) | flood µs CPU/answer | flood timeouts | flood upstream queries / client query |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    if (r.status !== 'ok') {
      lines.push(`| ${r.label} | ${r.status}: ${r.reason ?? ''} | | | | | | | | | | | |`);
      continue;
    }
    const q = range(r.udp.map((u) => u.qps));
    const cpu = range(r.udp.map((u) => u.cpuUsPerQuery));
    const rc: Record<string, number> = {};
    let total = 0;
    for (const u of r.udp) for (const [k, v] of Object.entries(u.rcodes)) { rc[k] = (rc[k] ?? 0) + v; total += v; }
    const pct = (k: string): string => (total > 0 ? ((100 * (rc[k] ?? 0)) / total).toFixed(0) : '—');
    const other = total > 0 ? (100 - Number(pct('noerror')) - Number(pct('nxdomain'))).toFixed(0) : '—';
    const upCpu = r.upstreamCpu.reduce((a, b) => a + b, 0);
    lines.push([
      '', r.label,
      q ? `${fmtK(q.median)} (${fmtK(q.min)}–${fmtK(q.max)})` : '—',
      q && baseQps ? `${(q.median / baseQps).toFixed(2)}×` : '—',
      cpu ? cpu.median.toFixed(2) : '—',
      `${upCpu.toFixed(2)} s`,
      `${pct('noerror')} / ${pct('nxdomain')} / ${other}`,
      r.cold ? `${r.cold.p50.toFixed(0)} / ${r.cold.p99.toFixed(0)}` : '—',
      r.cold && baseCold ? `${(r.cold.p50 / baseCold).toFixed(2)}×` : '—',
      r.coldFirst ? `${r.coldFirst.p50.toFixed(0)} / ${r.coldFirst.p99.toFixed(0)}` : '—',
      r.flood ? `${fmtK(r.flood.qps)}${baseFlood ? ` (${(r.flood.qps / baseFlood).toFixed(2)}×)` : ''}` : '—',
      r.flood ? r.flood.cpuUsPerQuery.toFixed(2) : '—',
      r.flood ? String(r.flood.timeouts) : '—',
      r.flood ? r.flood.upstreamPerQuery.toFixed(2) : '—',
      '',
    ].join(' | ').trim());
  }
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const started = Date.now();
  const udpgen = build('udpgen', 'bench/loadgen/udpgen.c');
  const haveDnsperf = spawnSync('dnsperf', ['-h'], { timeout: 5000 }).error === undefined;
  if (!haveDnsperf) log('dnsperf not installed: no cold-path latency (bench/setup.sh installs it)');
  const used = new Set<number>();
  const zone = join(tmp, `${ORIGIN}.zone`);
  writeFileSync(zone, upstreamZone());
  const warm = join(tmp, 'warm.txt');
  writeFileSync(warm, warmQueries());
  const upDir = join(tmp, 'upstream');
  mkdirSync(upDir);
  const upPort = await freePort(used);
  const statsPort = await freePort(used);
  const upstream = await startUpstream(upPort, statsPort, zone, upDir);
  log(`upstream named on 127.0.0.1:${upPort} (pid ${upstream.pid}), ${NAMES} names; duration ${DURATION} s, ${REPS} reps`);

  const only = values.only ? new Set(values.only.split(',')) : undefined;
  const results: Result[] = [];
  const running: Running[] = [];
  for (const f of FORWARDERS.filter((x) => !only || only.has(x.id))) {
    const result: Result = { id: f.id, label: f.label, status: 'ok', udp: [], upstreamCpu: [] };
    results.push(result);
    const missing = f.missing();
    if (missing) { result.status = 'not available'; result.reason = missing; log(`${f.id}: not available: ${missing}`); continue; }
    const dir = join(tmp, f.id);
    mkdirSync(dir);
    try {
      const port = await freePort(used);
      const proc = await f.start(port, upPort, dir);
      // Comparable only if it really forwards: a name of the zone must come back NOERROR.
      const rcode = await askRecursive(port, `h0000.${ORIGIN}`);
      if (rcode !== 0) {
        await stop(proc);
        throw new Error(`h0000.${ORIGIN} answered with rcode ${rcode}, not NOERROR: not forwarding to the upstream`);
      }
      running.push({ f, proc, port, result });
      log(`${f.id}: serving on 127.0.0.1:${port} (pid ${proc.pid})`);
    } catch (err) {
      result.status = 'not available';
      result.reason = (err as Error).message;
      log(`${f.id}: not available: ${result.reason}`);
    }
  }

  // Warm: two short passes fill each cache (and warm JITs); then interleaved measured runs.
  for (const r of PHASES.has('warm') ? running : []) {
    for (let i = 0; i < 2; i++) {
      try { await udpThroughput(udpgen, r.proc, r.port, warm, 1, LOAD_PIN, UDP); } catch (err) { log(`${r.f.id} warm-up: ${(err as Error).message}`); }
    }
  }
  for (let rep = 0; rep < (PHASES.has('warm') ? REPS : 0); rep++) {
    for (const r of running) {
      if (r.proc.exited) { r.result.status = 'failed'; r.result.reason = `exited: ${tail(r.proc)}`; continue; }
      try {
        const up0 = cpuSeconds(upstream.pid);
        const u = await udpThroughput(udpgen, r.proc, r.port, warm, DURATION, LOAD_PIN, UDP);
        const up = cpuSeconds(upstream.pid) - up0;
        r.result.udp.push(u);
        r.result.upstreamCpu.push(up);
        log(`${r.f.id} rep ${rep + 1}/${REPS}: ${Math.round(u.qps)} qps, ${u.cpuUsPerQuery.toFixed(2)} µs CPU/answer, ${u.timeouts} timeouts, upstream CPU ${up.toFixed(2)} s`);
      } catch (err) { log(`${r.f.id} rep ${rep + 1}: ${(err as Error).message}`); }
    }
  }

  // Cold: every name new to this server, so each one is a cache miss forwarded to named. Two phases per
  // server: the first misses it ever forwards (a JIT's code still unoptimized), then the same again, which is
  // what a server that has been running meets; the second is the one compared.
  if (haveDnsperf && PHASES.has('cold')) {
    const seconds = Math.max(1, Math.min(DURATION, 5));
    for (const phase of ['first', 'second'] as const) {
      for (const r of running) {
        if (r.result.status !== 'ok') continue;
        const file = join(tmp, `cold-${r.f.id}-${phase}.txt`);
        writeFileSync(file, coldQueriesUnder(`${phase}.${r.f.id}`, Math.ceil(COLD_RATE * seconds * 1.5) + 100));
        try {
          const res = await latency(r.port, file, seconds, COLD_RATE, LOAD_PIN);
          if (phase === 'first') r.result.coldFirst = res;
          else r.result.cold = res;
          log(`${r.f.id} cold path (${phase} phase) @${COLD_RATE} qps: p50 ${res.p50.toFixed(0)} µs, p99 ${res.p99.toFixed(0)} µs, ${res.lost} lost`);
        } catch (err) { log(`${r.f.id} cold path: ${(err as Error).message}`); }
      }
    }
  }
  // Flood: udpgen's random first label under *.cold, so every query is a name nobody has seen (all misses).
  const flood = join(tmp, 'flood.txt');
  writeFileSync(flood, `flood.cold.${ORIGIN} A\n`);
  for (const r of PHASES.has('flood') ? running : []) {
    if (r.result.status !== 'ok' || r.proc.exited) continue;
    try {
      const before = await upstreamQueries(statsPort);
      const u = await udpThroughput(udpgen, r.proc, r.port, flood, FLOOD_SECONDS, LOAD_PIN, FLOOD);
      const upstreamPerQuery = (await upstreamQueries(statsPort) - before) / Math.max(1, u.sent);
      r.result.flood = { ...u, upstreamPerQuery };
      log(`${r.f.id} flood: ${Math.round(u.qps)} qps, ${u.cpuUsPerQuery.toFixed(2)} µs CPU/answer, ${u.timeouts} timeouts, ` +
        `${upstreamPerQuery.toFixed(2)} upstream queries per client query`);
    } catch (err) { log(`${r.f.id} flood: ${(err as Error).message}`); }
  }
  for (const r of running) await stop(r.proc);
  await stop(upstream);
  await stopAll();

  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const meta = {
    command: `node dist/bench/forward/run.js${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`,
    machine: `${os.availableParallelism()} CPUs, Linux ${os.release()}, Node ${process.version}, load average at end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`,
    options: `duration=${DURATION}, reps=${REPS}, cold-rate=${COLD_RATE}, udpgen=${UDP.sockets}x${UDP.window} window, batch ${UDP.batch}, ` +
      `timeout ${UDP.timeoutMs} ms, warm mix ${NAMES} A + ${NAMES / 8} AAAA (NODATA) + ${NAMES / 8} NXDOMAIN, seconds=${Math.round((Date.now() - started) / 1000)}`,
  };
  const md = markdown(date, results, meta);
  process.stdout.write(md);
  if (values['no-write']) return;
  const outDir = join(ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `forward-${date.replace(/:/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ date, ...meta, results }, null, 2) + '\n');
  log(`wrote ${file}`);
}

main().catch(async (err) => {
  log(`failed: ${(err as Error).stack ?? err}`);
  await stopAll();
  cleanup();
  process.exit(1);
});
