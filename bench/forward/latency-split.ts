// Where a forwarder's cold-path latency goes: the bench's set-up (named upstream, one forwarder pinned to
// core 0, dnsperf on core 1 over names never seen), with tcpdump on lo capturing only the two test ports.
// Each query's four packets (client query in, upstream query out, upstream answer in, client answer out)
// carry kernel timestamps, so the client's latency splits into (a) the forwarder's work before the upstream,
// (b) the upstream's round trip and (c) the forwarder's work after it. Per thread of the forwarder, from
// /proc/PID/task/TID/schedstat: CPU, run-queue wait and timeslices (wake-ups) per query, and the same with no
// traffic at all (idle wake-ups). --warm S first floods S seconds of random names (every one a miss), to tell
// the miss path's JIT warm-up apart from its steady cost.
//
//   npx tsc -p . && node dist/bench/forward/latency-split.js [--servers kdns,kdns:warm,dnsmasq] [--rounds 2] [--phases 3]
//     [--seconds 3] [--rate 300] [--idle 5] [--warm 0] [--kdns-node-args=--perf-basic-prof] [--kdns-log FILE]
//     [--upstream-pin 1]
//
// Needs tcpdump (apt-get install tcpdump) and the right to capture on lo. Prints one JSON line per phase and a
// markdown table; writes nothing else. Every process is started and stopped by PID, every run time-limited.
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { latency, udpThroughput } from '../lib/measure.js';
import { sleep, start, stop, stopAll, waitForDns, waitForOutput, type Proc } from '../lib/proc.js';
import { benchSession, freePort } from '../lib/session.js';
import { writeNamedConf } from '../lib/peers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const ORIGIN = 'fwd.test';

const { values } = parseArgs({
  options: {
    servers: { type: 'string', default: 'kdns,dnsmasq' },
    rounds: { type: 'string', default: '1' },
    phases: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '3' },
    rate: { type: 'string', default: '300' },
    idle: { type: 'string', default: '5' },
    warm: { type: 'string', default: '0' },
    'kdns-node-args': { type: 'string', default: '' },
    'keep-dir': { type: 'string' },
    /** kdns's whole stdout and stderr go to this file (e.g. with --kdns-node-args=--trace-deopt). */
    'kdns-log': { type: 'string' },
    /** Pin named to this core list (default: unpinned, as bench/forward/run.ts runs it). */
    'upstream-pin': { type: 'string' },
  },
});
const clamp = (v: string | undefined, lo: number, hi: number, d: number): number => Math.min(Math.max(Number(v) || d, lo), hi);
const ROUNDS = Math.round(clamp(values.rounds, 1, 5, 1));
const PHASES = Math.round(clamp(values.phases, 1, 6, 3));
const SECONDS = clamp(values.seconds, 1, 10, 3);
const RATE = Math.round(clamp(values.rate, 10, 2000, 300));
const IDLE = clamp(values.idle, 1, 30, 5);
const WARM = Math.min(Math.max(Number(values.warm) || 0, 0), 10);
const session = benchSession('kdns-split-');
const { serverPin, loadPin, tmp } = session;

function log(msg: string): void {
  process.stderr.write(`[latency-split] ${new Date().toISOString().slice(11, 19)} ${msg}\n`);
}

function loadavg(): string {
  return os.loadavg().map((x) => x.toFixed(2)).join(' ');
}

// ---- the processes ------------------------------------------------------------------------------------------

function pinned(name: string, cmd: string, args: string[], pin: string | undefined): Proc {
  return pin ? start(name, 'taskset', ['-c', pin, cmd, ...args]) : start(name, cmd, args);
}

function startServer(id: string, port: number, upstream: number): Proc {
  if (id === 'kdns') {
    const nodeArgs = values['kdns-node-args']!.split(' ').filter(Boolean);
    return pinned('kdns', process.execPath, [...nodeArgs,
      join(ROOT, 'dist/src/cli.js'), '--listen', `127.0.0.1:${port}`, '--engine', 'native', '--workers', '1',
      '--http', 'none', '--log-level', 'warn', `--server=127.0.0.1#${upstream}`,
    ], serverPin);
  }
  if (id === 'dnsmasq') {
    return pinned('dnsmasq', '/usr/sbin/dnsmasq', [
      '--keep-in-foreground', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv',
      '--no-hosts', '--conf-file=/dev/null', '--pid-file=', '--cache-size=10000', `--server=127.0.0.1#${upstream}`,
      '--user=root', '--group=root', '--log-facility=-',
    ], serverPin);
  }
  throw new Error(`unknown server ${id} (kdns, dnsmasq)`);
}

// ---- per-thread scheduler statistics ------------------------------------------------------------------------

interface ThreadStat { name: string; runNs: number; waitNs: number; slices: number }

/** Every thread of `pid`: name, CPU ns, run-queue wait ns and timeslices so far (/proc/PID/task/TID/schedstat). */
function threads(pid: number): Map<number, ThreadStat> {
  const out = new Map<number, ThreadStat>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const [run, wait, slices] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out.set(Number(tid), { name, runNs: run!, waitNs: wait!, slices: slices! });
    } catch { /* the thread ended */ }
  }
  return out;
}

interface ThreadDelta { name: string; cpuUs: number; waitUs: number; slices: number }

/** What each thread did between two snapshots; threads that did nothing are left out. */
function delta(a: Map<number, ThreadStat>, b: Map<number, ThreadStat>): ThreadDelta[] {
  const out: ThreadDelta[] = [];
  for (const [tid, s] of b) {
    const p = a.get(tid) ?? { runNs: 0, waitNs: 0, slices: 0 };
    const d = { name: `${s.name}/${tid}`, cpuUs: (s.runNs - p.runNs) / 1e3, waitUs: (s.waitNs - p.waitNs) / 1e3, slices: s.slices - p.slices };
    if (d.slices > 0) out.push(d);
  }
  return out.sort((x, y) => y.cpuUs - x.cpuUs);
}

// ---- the capture --------------------------------------------------------------------------------------------

interface Packet { t: number; src: number; dst: number; id: number; qr: boolean; qname: string }

/** The UDP/DNS packets of a pcap file (tcpdump -w on lo, nanosecond timestamps, Ethernet framing). */
function readPcap(file: string): Packet[] {
  const b = readFileSync(file);
  const magic = b.readUInt32LE(0);
  const nano = magic === 0xa1b23c4d;
  if (!nano && magic !== 0xa1b2c3d4) throw new Error(`${file}: not a little-endian pcap file`);
  const link = b.readUInt32LE(20);
  const l2 = link === 1 ? 14 : link === 113 ? 16 : link === 0 ? 4 : -1;
  if (l2 < 0) throw new Error(`${file}: link type ${link} not handled`);
  const out: Packet[] = [];
  for (let off = 24; off + 16 <= b.length;) {
    const t = b.readUInt32LE(off) + b.readUInt32LE(off + 4) / (nano ? 1e9 : 1e6);
    const caplen = b.readUInt32LE(off + 8);
    const p = off + 16;
    off = p + caplen;
    const ip = p + l2;
    if ((b[ip]! >> 4) !== 4 || b[ip + 9] !== 17) continue;
    const udp = ip + (b[ip]! & 15) * 4;
    const dns = udp + 8;
    if (dns + 12 > p + caplen) continue;
    const labels: string[] = [];
    for (let q = dns + 12; q < p + caplen && b[q]! > 0 && b[q]! < 64;) {
      labels.push(b.toString('latin1', q + 1, q + 1 + b[q]!).toLowerCase());
      q += 1 + b[q]!;
    }
    out.push({ t, src: b.readUInt16BE(udp), dst: b.readUInt16BE(udp + 2), id: b.readUInt16BE(dns), qr: (b[dns + 2]! & 0x80) !== 0, qname: labels.join('.') });
  }
  return out;
}

interface Split { a: number; b: number; c: number; total: number; t0: number }

/** Each client query's four packets, matched by (client port, ID) and by name, as µs intervals. */
function splits(packets: Packet[], serverPort: number, upstreamPort: number): { rows: Split[]; unmatched: number; upstreamPerQuery: number } {
  const clientIn = new Map<string, Packet>(); // qname → first client query
  const upOut = new Map<string, Packet>();
  const upIn = new Map<string, Packet>();
  const clientOut = new Map<string, Packet>();
  const sentUp = new Map<string, string>(); // forwarder port/ID → qname
  let upstreamQueries = 0;
  for (const k of packets) {
    if (k.dst === serverPort && !k.qr) { if (!clientIn.has(k.qname)) clientIn.set(k.qname, k); }
    else if (k.dst === upstreamPort && !k.qr) {
      upstreamQueries++;
      if (!upOut.has(k.qname)) upOut.set(k.qname, k);
      sentUp.set(`${k.src}/${k.id}`, k.qname);
    } else if (k.src === upstreamPort && k.qr) {
      const name = sentUp.get(`${k.dst}/${k.id}`) ?? k.qname;
      if (!upIn.has(name)) upIn.set(name, k);
    } else if (k.src === serverPort && k.qr) { if (!clientOut.has(k.qname)) clientOut.set(k.qname, k); }
  }
  const rows: Split[] = [];
  let unmatched = 0;
  for (const [name, q] of clientIn) {
    const o = upOut.get(name); const i = upIn.get(name); const r = clientOut.get(name);
    if (!o || !i || !r) { unmatched++; continue; }
    rows.push({ a: (o.t - q.t) * 1e6, b: (i.t - o.t) * 1e6, c: (r.t - i.t) * 1e6, total: (r.t - q.t) * 1e6, t0: q.t });
  }
  return { rows, unmatched, upstreamPerQuery: clientIn.size ? upstreamQueries / clientIn.size : NaN };
}

/** Slow queries (> 5 ms) in time order, grouped into episodes: one stall of the server delays every query behind it. */
function stalls(rows: Split[]): { queries: number; episodes: number; worstMs: number } {
  const slow = rows.filter((r) => r.total > 5000).sort((x, y) => x.t0 - y.t0);
  let episodes = 0;
  let last = -Infinity;
  for (const r of slow) {
    if (r.t0 - last > 0.05) episodes++;
    last = r.t0;
  }
  return { queries: slow.length, episodes, worstMs: slow.reduce((m, r) => Math.max(m, r.total / 1000), 0) };
}

function pct(xs: number[], p: number): number {
  const s = Float64Array.from(xs).sort();
  return s.length ? s[Math.min(s.length - 1, Math.floor(s.length * p))]! : NaN;
}

// ---- the run ------------------------------------------------------------------------------------------------

interface PhaseResult {
  server: string; round: number; phase: number; load: string; queries: number; unmatched: number; upstreamPerQuery: number;
  a: [number, number]; b: [number, number]; c: [number, number]; wire: [number, number]; dnsperf: [number, number];
  /** The slowest 1 % by wire time: the median of a, b and c among them (where the tail comes from). */
  tail: [number, number, number];
  /** Stalls: queries slower than 5 ms, grouped when less than 50 ms apart; how many groups and the longest latency. */
  stalls: { queries: number; episodes: number; worstMs: number };
  perQuery: ThreadDelta[];
}

async function phase(server: string, round: number, n: number, proc: Proc, port: number, upPort: number, dir: string): Promise<PhaseResult> {
  const pcap = join(dir, `${server.replace(/[^a-z0-9]/g, '')}-r${round}-p${n}.pcap`);
  const dump = start('tcpdump', 'taskset', ['-c', loadPin ?? '0', 'tcpdump', '-i', 'lo', '-n', '-s', '256', '-B', '8192',
    '--time-stamp-precision=nano', '-w', pcap, `udp and (port ${port} or port ${upPort})`]);
  await waitForOutput(dump, 'listening on', 10_000);
  const label = server.replace(/[^a-z0-9]/g, '');
  const names = join(dir, `names-${label}-r${round}-p${n}.txt`);
  const count = Math.ceil(RATE * SECONDS * 1.5) + 100;
  writeFileSync(names, Array.from({ length: count }, (_, i) => `c${i}.p${n}r${round}.${label}.split.cold.${ORIGIN} A`).join('\n') + '\n');
  const load = loadavg();
  const t0 = threads(proc.pid);
  const lat = await latency(port, names, SECONDS, RATE, loadPin);
  const t1 = threads(proc.pid);
  await sleep(200);
  await stop(dump);
  const { rows, unmatched, upstreamPerQuery } = splits(readPcap(pcap), port, upPort);
  const q = rows.length || 1;
  const slow = rows.slice().sort((x, y) => y.total - x.total).slice(0, Math.max(1, Math.floor(rows.length / 100)));
  const pair = (f: (s: Split) => number): [number, number] => [pct(rows.map(f), 0.5), pct(rows.map(f), 0.99)];
  return {
    server, round, phase: n, load, queries: rows.length, unmatched, upstreamPerQuery,
    a: pair((s) => s.a), b: pair((s) => s.b), c: pair((s) => s.c), wire: pair((s) => s.total), dnsperf: [lat.p50, lat.p99],
    tail: [pct(slow.map((s) => s.a), 0.5), pct(slow.map((s) => s.b), 0.5), pct(slow.map((s) => s.c), 0.5)],
    stalls: stalls(rows),
    perQuery: delta(t0, t1).map((d) => ({ name: d.name, cpuUs: d.cpuUs / q, waitUs: d.waitUs / q, slices: d.slices / q })),
  };
}

function fmt(n: number): string {
  return Number.isFinite(n) ? n.toFixed(0) : '—';
}

async function main(): Promise<void> {
  const dir = values['keep-dir'] ?? tmp;
  mkdirSync(dir, { recursive: true });
  const zone = join(dir, `${ORIGIN}.zone`);
  writeFileSync(zone, [`$ORIGIN ${ORIGIN}.`, '$TTL 3600', `@ IN SOA ns.${ORIGIN}. hostmaster.${ORIGIN}. 1 3600 600 86400 3600`,
    `@ IN NS ns.${ORIGIN}.`, 'ns IN A 192.0.2.53', '*.cold IN A 192.0.2.200', 'h0000 IN A 10.0.0.1', ''].join('\n'));
  const warmFile = join(dir, 'warm.txt');
  writeFileSync(warmFile, `flood.cold.${ORIGIN} A\n`);
  const udpgen = join(dir, 'udpgen');
  if (WARM > 0 || values.servers!.includes(':warm')) {
    const r = spawnSync('gcc', ['-O2', '-o', udpgen, join(ROOT, 'bench/loadgen/udpgen.c')], { timeout: 60_000 });
    if (r.status !== 0) throw new Error('udpgen could not be built');
  }
  const used = new Set<number>();
  const upPort = await freePort(used);
  const upDir = join(dir, 'named');
  mkdirSync(upDir, { recursive: true });
  const upstream = pinned('named', '/usr/sbin/named', ['-g', '-n', '1', '-c', writeNamedConf(upDir, upPort, ORIGIN, zone)], values['upstream-pin']);
  await waitForDns(upstream, upPort, ORIGIN, 30_000);
  log(`named on ${upPort} (pid ${upstream.pid}); load ${loadavg()}`);
  const results: PhaseResult[] = [];
  const idle: Record<string, unknown>[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const spec of values.servers!.split(',')) {
      // `kdns:warm` is kdns with the miss flood first, whatever --warm says (3 s unless --warm is set).
      const [server, variant] = spec.split(':') as [string, string | undefined];
      const warmSeconds = variant === 'warm' ? WARM || 3 : WARM;
      const port = await freePort(used);
      const proc = startServer(server, port, upPort);
      const kdnsLog = values['kdns-log'];
      if (server === 'kdns' && kdnsLog) {
        const keep = (chunk: Buffer): void => appendFileSync(kdnsLog, chunk);
        proc.child.stdout!.on('data', keep);
        proc.child.stderr!.on('data', keep);
      }
      await waitForDns(proc, port, ORIGIN, 30_000);
      log(`${server} round ${round} on ${port} (pid ${proc.pid}); load ${loadavg()}`);
      await sleep(1000);
      const i0 = threads(proc.pid);
      await sleep(IDLE * 1000);
      const i1 = threads(proc.pid);
      const perSecond = delta(i0, i1).map((d) => ({ name: d.name, cpuUs: d.cpuUs / IDLE, waitUs: d.waitUs / IDLE, slices: d.slices / IDLE }));
      idle.push({ server: spec, round, load: loadavg(), perSecond });
      process.stdout.write(JSON.stringify({ idle: server, round, perSecond }) + '\n');
      if (warmSeconds > 0) {
        // A random first label on every query: all misses, so the miss path's JavaScript gets hot (and optimized) first.
        const w = await udpThroughput(udpgen, proc, port, warmFile, warmSeconds, loadPin, { sockets: 4, window: 32, batch: 32, timeoutMs: 1000, randomLabel: true });
        log(`${spec}: ${warmSeconds} s of random-name misses first (${w.received} answered)`);
      }
      for (let n = 1; n <= PHASES; n++) {
        const r = await phase(spec, round, n, proc, port, upPort, dir);
        results.push(r);
        process.stdout.write(JSON.stringify(r) + '\n');
        log(`${server} r${round} p${n}: wire p50 ${fmt(r.wire[0])} p99 ${fmt(r.wire[1])}; a ${fmt(r.a[0])}/${fmt(r.a[1])} ` +
          `b ${fmt(r.b[0])}/${fmt(r.b[1])} c ${fmt(r.c[0])}/${fmt(r.c[1])}; dnsperf ${fmt(r.dnsperf[0])}/${fmt(r.dnsperf[1])}; load ${r.load}`);
      }
      await stop(proc);
    }
  }
  await stop(upstream);
  await stopAll();
  const lines = [
    `Command: \`node dist/bench/forward/latency-split.js ${process.argv.slice(2).join(' ')}\`, ${new Date().toISOString()}`, '',
    '| server | round/phase | load avg (1/5/15) | queries | client in → upstream out p50/p99 µs | upstream (named) p50/p99 | upstream answer in → client answer out p50/p99 | wire total p50/p99 | dnsperf p50/p99 | slowest 1 %: median a / b / c | > 5 ms: queries / episodes / worst ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...results.map((r) => `| ${r.server} | ${r.round}/${r.phase} | ${r.load} | ${r.queries}${r.unmatched ? ` (+${r.unmatched} unmatched)` : ''} | ` +
      `${fmt(r.a[0])} / ${fmt(r.a[1])} | ${fmt(r.b[0])} / ${fmt(r.b[1])} | ${fmt(r.c[0])} / ${fmt(r.c[1])} | ${fmt(r.wire[0])} / ${fmt(r.wire[1])} | ` +
      `${fmt(r.dnsperf[0])} / ${fmt(r.dnsperf[1])} | ${r.tail.map(fmt).join(' / ')} | ${r.stalls.queries} / ${r.stalls.episodes} / ${fmt(r.stalls.worstMs)} |`),
    '', 'Per query, per thread (CPU µs, run-queue wait µs, timeslices):', '',
    ...results.map((r) => `- ${r.server} ${r.round}/${r.phase}: ` + r.perQuery.map((d) => `${d.name} ${d.cpuUs.toFixed(1)}/${d.waitUs.toFixed(1)}/${d.slices.toFixed(2)}`).join(', ')),
    '', 'Idle, per second (CPU µs, run-queue wait µs, timeslices):', '',
    ...idle.map((i) => `- ${i.server} round ${i.round} (load ${i.load}): ` + (i.perSecond as ThreadDelta[]).map((d) => `${d.name} ${d.cpuUs.toFixed(0)}/${d.waitUs.toFixed(0)}/${d.slices.toFixed(1)}`).join(', ')),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch(async (err) => {
  log(`failed: ${(err as Error).stack ?? err}`);
  await stopAll();
  process.exit(1);
});
