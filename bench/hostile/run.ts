// Hostile-traffic campaign (issue 9 item 7; not part of npm test): the default 2-worker kdns (native engine)
// serving the bench cluster zone and forwarding (ops.cna to one dnsmasq, everything else to another) takes
// 10 million mixed hostile UDP datagrams (bench/hostile/corpus.ts, replayed and paced by
// bench/loadgen/rawgen.c from many 127.0.0.0/8 source addresses) and, at the same time, the TCP abuses of
// bench/hostile/tcp-abuse.ts; control queries with known answers go over UDP and TCP every second.
// Reports crashes (exit, worker restarts), wrong control answers, control timeouts, RSS peak and kernel
// drops, as JSON and markdown in bench/results/hostile-<timestamp>.{json,md}.
//
//   npx tsc -p . && npm run bench:hostile                     # 10,000,000 datagrams at 50,000/s (~4 min)
//   npm run bench:hostile -- --quick                          # 200,000 datagrams at 8,000/s (~30 s)
//   options: --count N --rate PPS --seed S --sources K --idle N --workers N --no-tcp --no-write
//            --render FILE.json (the markdown of an earlier result, e.g. after a change to report.ts)
//
// Exit 0 when nothing was found, 1 when something was (the findings head the markdown), 2 on a setup error.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { prng } from '../../test/fuzz/mutate.js';
import { check } from '../../test/wire/clients.js';
import { cpuSeconds, run, start, stop, stopAll, tail, waitForDns, waitForOutput, type Proc } from '../lib/proc.js';
import { benchSession, freePort } from '../lib/session.js';
import { ControlProber, type ControlTarget } from './control.js';
import { CATEGORIES, buildCorpus, encodeCorpus, type CorpusNames } from './corpus.js';
import { Observer, metricSum, scrape } from './observe.js';
import { findings, markdown, quantile, type CampaignResult, type RawgenResult } from './report.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const ZONE_FILE = join(ROOT, 'bench/zones/cluster.local.zone');
const ZONE = 'cluster.local';
const FORWARDED = 'ops.cna';
const DEFAULT_DOMAIN = 'example.org';
const CONTROL: ControlTarget[] = [
  { label: 'cluster', name: `svc-00000.default.svc.${ZONE}`, address: '10.96.1.0' },
  { label: 'forwarded', name: `ctl.${FORWARDED}`, address: '192.0.2.53' },
];
const READY_MS = 60_000;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    count: { type: 'string' },
    rate: { type: 'string' },
    seed: { type: 'string', default: '9' },
    sources: { type: 'string', default: '64' },
    idle: { type: 'string', default: '2500' },
    workers: { type: 'string', default: '2' },
    'no-tcp': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    render: { type: 'string' },
  },
});
const QUICK = values.quick!;
const COUNT = Math.min(Math.max(Math.floor(Number(values.count ?? (QUICK ? 200_000 : 10_000_000))), 1000), 100_000_000);
const RATE = Math.min(Math.max(Math.floor(Number(values.rate ?? (QUICK ? 8000 : 50_000))), 100), 1_000_000);
const SEED = Math.floor(Number(values.seed)) >>> 0;
const SOURCES = Math.min(Math.max(Math.floor(Number(values.sources)), 1), 256);
const IDLE = Math.min(Math.max(Math.floor(Number(values.idle)), 0), 10_000);
const WORKERS = Math.min(Math.max(Math.floor(Number(values.workers)), 1), 16);
const SEND_SECONDS = COUNT / RATE;
const CORPUS_SIZE = Math.min(COUNT, 250_000);
const session = benchSession('kdns-hostile-');

function log(msg: string): void {
  process.stderr.write(`[bench/hostile] ${msg}\n`);
}

function dnsmasq(name: string, port: number, records: string[]): Proc {
  return start(name, '/usr/sbin/dnsmasq', [
    '--keep-in-foreground', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv',
    '--no-hosts', '--conf-file=/dev/null', '--pid-file=', '--user=root', '--group=root', '--log-facility=-', ...records,
  ]);
}

interface Kdns { proc: Proc; exit: { code: number | null; signal: string | null }; levels: Record<string, number>; samples: string[] }

/** Starts kdns and keeps count of its log lines by level (pino numbers: 40 warn, 50 error, 60 fatal). */
async function startKdns(port: number, httpPort: number, opsPort: number, defaultPort: number): Promise<Kdns> {
  const proc = start('kdns', process.execPath, [
    join(ROOT, 'dist/src/cli.js'), '--listen', `127.0.0.1:${port}`, '--engine', 'native', '--workers', String(WORKERS),
    '--zone-file', `${ZONE_FILE}@${ZONE}`, `--server=/${FORWARDED}/127.0.0.1#${opsPort}`, `--server=127.0.0.1#${defaultPort}`,
    '--http', `127.0.0.1:${httpPort}`,
  ]);
  const k: Kdns = { proc, exit: { code: null, signal: null }, levels: {}, samples: [] };
  proc.child.on('exit', (code, signal) => { k.exit = { code, signal }; });
  const names: Record<number, string> = { 40: 'warn', 50: 'error', 60: 'fatal' };
  proc.child.stdout!.on('data', (chunk: Buffer) => {
    for (const m of chunk.toString('utf8').matchAll(/"level":(\d+)[^\n]*/g)) {
      const level = names[Number(m[1])];
      if (!level) continue;
      k.levels[level] = (k.levels[level] ?? 0) + 1;
      if (k.samples.length < 10) k.samples.push(m[0].slice(0, 300));
    }
  });
  await waitForOutput(proc, '"msg":"serving"', READY_MS);
  await waitForDns(proc, port, ZONE, READY_MS);
  const serving = proc.output.find((l) => l.includes('"msg":"serving"')) ?? '';
  if (serving.includes('"engine":"') && !serving.includes('"engine":"native"')) throw new Error(`kdns did not run the native engine: ${tail(proc)}`);
  return k;
}

/** Strictly parses every response rawgen sampled (u16 LE length + bytes each). */
function checkSamples(file: string): { checked: number; malformed: number; examples: string[] } {
  const r = { checked: 0, malformed: 0, examples: [] as string[] };
  if (!existsSync(file)) return r;
  const b = readFileSync(file);
  for (let o = 0; o + 2 <= b.length;) {
    const len = b.readUInt16LE(o);
    const msg = b.subarray(o + 2, o + 2 + len);
    o += 2 + len;
    r.checked++;
    const c = check(msg);
    if (!c.ok) {
      r.malformed++;
      if (r.examples.length < 5) r.examples.push(`${c.why}: ${msg.toString('hex').slice(0, 120)}`);
    }
  }
  return r;
}

function corpusNames(): CorpusNames {
  const owners = new Map<string, number>();
  for (const line of readFileSync(ZONE_FILE, 'utf8').split('\n')) {
    const f = line.split(/\s+/);
    if (f[3] === 'A') owners.set(f[0]!.replace(/\.$/, ''), (owners.get(f[0]!.replace(/\.$/, '')) ?? 0) + 1);
  }
  const byCount = [...owners].sort((a, b) => b[1] - a[1]);
  return {
    zone: ZONE,
    existing: byCount.slice(0, 200).map(([name]) => name),
    big: byCount.slice(0, 3).map(([name]) => name),
    forwarded: FORWARDED,
    forwardedName: CONTROL[1]!.name,
    defaultDomain: DEFAULT_DOMAIN,
  };
}

function buildRawgen(): string {
  const out = join(session.tmp, 'rawgen');
  const r = spawnSync('gcc', ['-O2', '-Wall', '-o', out, join(ROOT, 'bench/loadgen/rawgen.c')], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`rawgen could not be built (gcc required, bench/setup.sh): ${r.stderr}`);
  return out;
}

async function tcpAbuse(port: number, seconds: number): Promise<Record<string, unknown> | null> {
  const r = await run(process.execPath, [
    join(ROOT, 'dist/bench/hostile/tcp-abuse.js'), '--port', String(port), '--seconds', String(seconds),
    '--cluster-name', CONTROL[0]!.name, '--forwarded-name', CONTROL[1]!.name, '--idle', String(IDLE),
  ], (seconds + 60) * 1000);
  if (r.code !== 0) { log(`tcp-abuse failed (${r.code}): ${r.stderr.trim().slice(-500)}`); return null; }
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

/** --render FILE.json: prints (and writes beside it) the markdown of an earlier result with this report code. */
function render(file: string): void {
  const md = markdown(JSON.parse(readFileSync(file, 'utf8')) as CampaignResult);
  process.stdout.write(md);
  if (!values['no-write']) writeFileSync(file.replace(/\.json$/, '.md'), md);
}

async function main(): Promise<void> {
  if (values.render) { render(values.render); return; }
  const t0 = Date.now();
  if (!existsSync(join(ROOT, 'dist/src/cli.js'))) throw new Error('dist/src/cli.js not built (npx tsc -p .)');
  const rawgen = buildRawgen();
  const names = corpusNames();
  const corpus = buildCorpus(SEED, CORPUS_SIZE, names, prng);
  const corpusFile = join(session.tmp, 'corpus.bin');
  writeFileSync(corpusFile, encodeCorpus(corpus));
  log(`corpus: ${CORPUS_SIZE} datagrams, seed ${SEED}`);

  const used = new Set<number>();
  const [port, httpPort, opsPort, defaultPort] = [await freePort(used), await freePort(used), await freePort(used), await freePort(used)];
  const ops = dnsmasq('dnsmasq-ops', opsPort, [`--host-record=${CONTROL[1]!.name},${CONTROL[1]!.address}`, `--local=/${FORWARDED}/`]);
  // The default upstream's answers carry a TTL (dnsmasq's local answers have 0 otherwise), so the flood of
  // random example.org names fills kdns's forward cache: its bounds are part of what is attacked. The
  // ops.cna control name keeps TTL 0, so every control query takes the forwarding path live.
  const def = dnsmasq('dnsmasq-default', defaultPort, [`--address=/${DEFAULT_DOMAIN}/192.0.2.80`, '--local-ttl=300']);
  await waitForDns(ops, opsPort, FORWARDED, READY_MS);
  await waitForDns(def, defaultPort, DEFAULT_DOMAIN, READY_MS);
  const kdns = await startKdns(port, httpPort, opsPort, defaultPort);
  log(`kdns pid ${kdns.proc.pid} on 127.0.0.1:${port} (${WORKERS} workers, native), metrics on ${httpPort}; upstreams ${opsPort} (${FORWARDED}), ${defaultPort} (default)`);

  const loadAtStart = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  const cpu0 = cpuSeconds(kdns.proc.pid);
  const observer = new Observer(kdns.proc.pid, port);
  observer.start();
  const rssStartKiB = observer.samples[0]?.rssKiB ?? 0;
  const prober = new ControlProber(port, CONTROL);
  await prober.start();

  // The attack: UDP flood and TCP abuse at the same time, both bounded.
  const maxSeconds = Math.ceil(SEND_SECONDS * 2.5) + 30; // a starved machine sends slower than asked
  const samplesFile = join(session.tmp, 'samples.bin');
  const tcpSeconds = Math.max(15, Math.ceil(SEND_SECONDS));
  const tcpRun = values['no-tcp'] ? Promise.resolve(null) : tcpAbuse(port, tcpSeconds);
  log(`sending ${COUNT} datagrams at ${RATE}/s (about ${Math.round(SEND_SECONDS)} s)${values['no-tcp'] ? '' : `, TCP abuse for ${tcpSeconds} s`}`);
  const progress = setInterval(() => {
    const last = observer.samples.at(-1);
    const c = prober.stats.map((x) => `${x.label}/${x.transport} ${x.right}/${x.asked}`).join(', ');
    if (last) log(`t=${last.t}s RSS ${(last.rssKiB / 1024).toFixed(0)} MiB, kernel drops ${last.drops}; control right/asked: ${c}`);
  }, 10_000);
  const flood = await run(rawgen, [
    '--port', String(port), '--corpus', corpusFile, '--count', String(COUNT), '--rate', String(RATE),
    '--max-seconds', String(maxSeconds), '--sources', String(SOURCES), '--seed', String(SEED),
    '--samples', samplesFile, '--sample-every', String(Math.max(1, Math.floor(COUNT / 50_000))),
  ], (maxSeconds + 30) * 1000);
  if (flood.code !== 0) { clearInterval(progress); throw new Error(`rawgen failed (${flood.code}): ${flood.stderr.trim()}`); }
  clearInterval(progress);
  const raw = JSON.parse(flood.stdout.trim().split('\n').pop()!) as RawgenResult;
  log(`flood done: ${raw.sent} sent, ${raw.responses} responses in ${raw.seconds.toFixed(0)} s`);
  const tcp = await tcpRun;
  const cpuDuringAttack = cpuSeconds(kdns.proc.pid) - cpu0;
  // A few more control rounds after the attack: does it recover?
  await new Promise((r) => setTimeout(r, 3000));
  await prober.stop();
  observer.stop();
  const drops = observer.udpDrops();

  const metricsText = await scrape(httpPort);
  const metrics: Record<string, number> = {};
  // Every kdns counter and gauge at the end, per label set (histograms left out).
  for (const line of (metricsText ?? '').split('\n')) {
    const m = /^(kdns_[a-z0-9_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m && !/_(bucket|sum|count)$/.test(m[1]!.split('{')[0]!) && Number.isFinite(Number(m[2]))) metrics[m[1]!] = Number(m[2]);
  }
  const samples = checkSamples(samplesFile);
  const serverExited = kdns.proc.exited;
  await stop(kdns.proc);
  await stopAll();

  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const partial: Omit<CampaignResult, 'findings'> = {
    date,
    command: `npm run bench:hostile${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: `${os.availableParallelism()} CPUs, Linux ${os.release()}, Node ${process.version}, load average at start ${loadAtStart}, at end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`,
    options: { count: COUNT, rate: RATE, seed: SEED, sources: SOURCES, corpus: CORPUS_SIZE, workers: WORKERS, idle: values['no-tcp'] ? 0 : IDLE, seconds: Math.round((Date.now() - t0) / 1000) },
    server: {
      pid: kdns.proc.pid, exited: serverExited, exitCode: serverExited ? kdns.exit.code : null, signal: serverExited ? kdns.exit.signal : null,
      workerRestarts: metricsText ? metricSum(metricsText, 'kdns_worker_restarts_total') : null,
      cpuSeconds: Number(cpuDuringAttack.toFixed(1)),
      logLevels: kdns.levels, logSamples: kdns.samples,
    },
    udp: {
      ...raw,
      byCategory: CATEGORIES.map((name, i) => ({ name, ...raw.categories[i]! })),
      samplesChecked: samples.checked, samplesMalformed: samples.malformed, malformedSamples: samples.examples,
    },
    drops: {
      kernel: drops.drops,
      sockets: drops.sockets,
      metric: metricsText ? metricSum(metricsText, 'kdns_udp_receive_drops_total') : null,
    },
    memory: { rssStartKiB, rssPeakKiB: observer.peakRssKiB, hwmKiB: observer.hwmKiB, rssEndKiB: observer.samples.at(-1)?.rssKiB ?? 0 },
    control: prober.stats.map(({ latenciesMs, ...c }) => ({
      ...c, p50Ms: quantile(latenciesMs, 0.5), p99Ms: quantile(latenciesMs, 0.99), maxMs: latenciesMs.length ? Math.max(...latenciesMs) : NaN,
    })),
    tcp,
    metrics,
  };
  partial.udp.categories = [];
  const result: CampaignResult = { ...partial, findings: findings(partial) };
  const md = markdown(result);
  process.stdout.write(md);
  if (!values['no-write']) {
    const dir = join(ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const base = join(dir, `hostile-${date.replace(/:/g, '-')}`);
    writeFileSync(`${base}.json`, JSON.stringify({ ...result, rssSamples: observer.samples }, null, 2) + '\n');
    writeFileSync(`${base}.md`, md);
    log(`wrote ${base}.{json,md}`);
  }
  session.cleanup();
  process.exit(result.findings.length === 0 ? 0 : 1);
}

main().catch(async (err) => {
  log(`failed: ${(err as Error).stack ?? err}`);
  await stopAll();
  session.cleanup();
  process.exit(2);
});
