// `npm run bench`: kdns against the fastest DNS servers on this machine, same zone, same queries.
//
//   node dist/bench/run.js [--quick] [--duration S] [--reps N] [--zone 10k|small] [--rate QPS]
//                          [--only id,id] [--no-two-workers] [--no-write] [--no-flood] [--flood-queries N]
//
// Phase 1: every peer with one worker pinned to core 0, load generators pinned to core 1; UDP
// throughput with udpgen in interleaved repetitions (A B C, C B A, A B C …), server CPU per query from
// /proc, the random-name flood the same way, latency with dnsperf at a fixed moderate rate, TCP pipelined
// with dnsperf -m tcp, and kdns's RSS over a long random-name flood (10 million queries).
// Phase 2: the peers that have workers, with 2 of them and nothing pinned.
// Writes bench/results/<timestamp>.json and .svg, prints the markdown tables and the targets.
// Every server is started and stopped by PID; every load run is bounded in time and count.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { latency, tcpThroughput, udpThroughput, type UdpOptions, type UdpResult } from './lib/measure.js';
import { PEERS, type Peer, type PeerContext } from './lib/peers.js';
import { rssMiB, stop, stopAll, tail, type Proc } from './lib/proc.js';
import { combineLatency, markdown, svg, type FloodRss, type PeerResult, type Results } from './lib/report.js';
import { generateQueries, generateZone, ORIGIN } from './zones/generate.js';
import { benchSession, freePort } from './lib/session.js';
import { recordDnstapFrames } from './lib/dnstap.js';
import { observationTable } from './lib/observation.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    reps: { type: 'string' },
    zone: { type: 'string', default: '10k' },
    rate: { type: 'string', default: '10000' },
    only: { type: 'string' },
    'no-two-workers': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    'no-forward-mix': { type: 'boolean', default: false },
    'no-flood': { type: 'boolean', default: false },
    'flood-queries': { type: 'string' },
  },
});
const QUICK = values.quick!;
const DURATION = Math.min(Math.max(Number(values.duration ?? (QUICK ? 1 : 5)), 0.5), 60);
const REPS = Math.min(Math.max(Math.round(Number(values.reps ?? (QUICK ? 1 : 5))), 1), 20);
const RATE = Math.min(Math.max(Number(values.rate), 1000), 200_000);
const TCP_REPS = Math.min(REPS, 3);
const LATENCY_REPS = Math.min(REPS, 3);
/** Quiet time between the throughput floods and the latency runs (see there). */
const SETTLE_MS = QUICK ? 500 : 5000;
const ONLY = values.only ? new Set(values.only.split(',')) : undefined;
const UDP: UdpOptions = { sockets: 4, window: 32, batch: 32, timeoutMs: 200 };
const TCP_PEERS = new Set(['kdns-native', 'kdns-node', 'bind9']);
/** Peers that serve the zone with DNS semantics, and the packet ceiling (one fixed answer) for reference. */
const FLOOD_PEERS = new Set(['kdns-native', 'kdns-native-http', 'kdns-native-top', 'kdns-native-views', 'kdns-dnstap', 'kdns-node', 'bind9', 'knot', 'nsd', 'coredns', 'ceiling']);
const FLOOD: UdpOptions = { ...UDP, randomLabel: true };
/** The long flood kdns's RSS is watched over (the 10 million queries). */
const FLOOD_RSS_QUERIES = Math.min(Math.max(Number(values['flood-queries'] ?? (QUICK ? 200_000 : 10_000_000)), 10_000), 50_000_000);
const RSS_SAMPLE_MS = 200;
const session = benchSession('kdns-bench-');
const { serverPin: SERVER_PIN, loadPin: LOAD_PIN, tmp, cleanup } = session;

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

function build(name: string, src: string, extra: string[] = []): boolean {
  const out = join(tmp, 'bin', name);
  const r = spawnSync('gcc', ['-O2', '-Wall', '-o', out, join(ROOT, src), ...extra], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) log(`cannot build ${src}: ${r.error?.message ?? r.stderr}`);
  return r.status === 0;
}


interface Running { peer: Peer; proc: Proc; port: number; workers: number; result: PeerResult }

async function startPeers(workers: number, pin: string | undefined, zone: string, peers: Peer[]): Promise<{ running: Running[]; results: PeerResult[] }> {
  const running: Running[] = [];
  const results: PeerResult[] = [];
  const used = new Set<number>();
  for (const peer of peers) {
    const result: PeerResult = { id: peer.id, label: peer.label, status: 'ok', udp: [], tcp: [] };
    results.push(result);
    if (workers > 1 && !peer.multiWorker) { result.status = 'n/a'; result.reason = 'single-threaded by design'; continue; }
    const dir = join(tmp, `${peer.id}-${workers}`);
    mkdirSync(dir, { recursive: true });
    const ctx: PeerContext = { root: ROOT, dir, bin: join(tmp, 'bin'), zone, origin: ORIGIN, port: await freePort(used), workers, pin };
    const missing = peer.missing(ctx);
    if (missing) { result.status = 'not available'; result.reason = missing; log(`${peer.id}: not available: ${missing}`); continue; }
    try {
      const t0 = Date.now();
      const proc = await peer.start(ctx);
      running.push({ peer, proc, port: ctx.port, workers, result });
      log(`${peer.id}: serving on 127.0.0.1:${ctx.port} (pid ${proc.pid}, ${Date.now() - t0} ms)`);
    } catch (err) {
      result.status = 'not available';
      result.reason = String((err as Error).message ?? err);
      log(`${peer.id}: not available: ${result.reason}`); // the peer stopped its own process
    }
  }
  return { running, results };
}

async function stopPeers(running: Running[]): Promise<void> {
  for (const r of running) await stop(r.proc);
}

async function udpRounds(
  running: Running[], queries: string, pin: string | undefined, reps: number, o: UdpOptions = UDP,
  into: (r: PeerResult) => UdpResult[] = (r) => r.udp,
): Promise<void> {
  const udpgen = join(tmp, 'bin', 'udpgen');
  const what = o.randomLabel === true ? ' flood' : '';
  for (const r of running) { // warm-up: answer tables filled, JIT warm, caches hot
    try { await udpThroughput(udpgen, r.proc, r.port, queries, Math.min(DURATION, 1), pin, o); } catch { /* measured below */ }
  }
  for (let rep = 0; rep < reps; rep++) {
    // Every other round in reverse order, so no peer always runs first or right after the same one.
    for (const r of rep % 2 === 0 ? running : [...running].reverse()) {
      if (r.result.status !== 'ok') continue;
      const label = r.workers > 1 || !pin ? ` (${r.workers} worker${r.workers > 1 ? 's' : ''}${pin ? '' : ', unpinned'})` : '';
      if (r.proc.exited) { r.result.status = 'failed'; r.result.reason = `exited during the run: ${tail(r.proc)}`; continue; }
      try {
        const u = await udpThroughput(udpgen, r.proc, r.port, queries, DURATION, pin, o);
        into(r.result).push(u);
        log(`${r.peer.id}${label}${what} rep ${rep + 1}/${reps}: ${Math.round(u.qps)} qps, ${u.cpuUsPerQuery.toFixed(2)} µs CPU/query, ${u.timeouts} timeouts`);
      } catch (err) {
        log(`${r.peer.id} rep ${rep + 1}: ${(err as Error).message}`);
      }
    }
  }
}

/**
 * kdns's resident memory while one long random-name flood runs against it (sampled every RSS_SAMPLE_MS):
 * every query a name never seen, so any per-name state that is not bounded shows up here.
 */
async function floodRss(r: Running, queries: string, pin: string | undefined): Promise<FloodRss> {
  const udpgen = join(tmp, 'bin', 'udpgen');
  const beforeMiB = rssMiB(r.proc.pid);
  let peakMiB = beforeMiB;
  const timer = setInterval(() => { peakMiB = Math.max(peakMiB, rssMiB(r.proc.pid)); }, RSS_SAMPLE_MS);
  try {
    // udpgen stops at the count, or after its longest run (600 s) on a machine too busy to reach it.
    const u = await udpThroughput(udpgen, r.proc, r.port, queries, 600, pin, { ...FLOOD, maxQueries: FLOOD_RSS_QUERIES });
    const afterMiB = rssMiB(r.proc.pid);
    return { queries: u.sent, qps: u.qps, beforeMiB, peakMiB: Math.max(peakMiB, afterMiB), afterMiB };
  } finally {
    clearInterval(timer);
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  mkdirSync(join(tmp, 'bin'));
  build('responder', 'bench/ceiling/responder.c', ['-pthread']); // without it the ceiling is "not available"
  if (!build('udpgen', 'bench/loadgen/udpgen.c')) throw new Error('udpgen could not be built: gcc is required (bench/setup.sh)');
  const haveDnsperf = spawnSync('dnsperf', ['-h'], { timeout: 5000 }).error === undefined;
  if (!haveDnsperf) log('dnsperf not installed: no latency or TCP numbers (bench/setup.sh installs it)');

  let zone: string, queries: string;
  if (values.zone === 'small') {
    zone = join(ROOT, 'bench/zones/cluster.local.zone');
    queries = join(ROOT, 'bench/queries/cluster.local.txt');
  } else {
    zone = join(tmp, 'cluster-10k.zone');
    queries = join(tmp, 'cluster-10k.txt');
    writeFileSync(zone, generateZone(10_000));
    writeFileSync(queries, generateQueries(10_000, 20_000));
  }
  const peers = PEERS.filter((p) => !ONLY || ONLY.has(p.id));
  // The flood's names: a new random label in front of this one, so each is a nonexistent cluster name.
  const floodQueries = join(tmp, 'flood.txt');
  writeFileSync(floodQueries, `default.svc.${ORIGIN.replace(/\.$/, '')} A\n`);
  log(`duration ${DURATION} s, ${REPS} reps, zone ${values.zone}, servers on core ${SERVER_PIN ?? '-'}, load on core ${LOAD_PIN ?? '-'}`);

  // Phase 1: one worker, pinned.
  const one = await startPeers(1, SERVER_PIN, zone, peers);
  await udpRounds(one.running, queries, LOAD_PIN, REPS);
  if (!values['no-flood']) {
    await udpRounds(one.running.filter((r) => FLOOD_PEERS.has(r.peer.id)), floodQueries, LOAD_PIN, REPS, FLOOD, (r) => (r.flood ??= []));
  }
  if (haveDnsperf) {
    // The throughput runs just flooded every peer; Node and Go runtimes tidy up for a while after (GC), on
    // the shared server core. Let that pass, then measure latency in interleaved repetitions, so one
    // peer's housekeeping cannot land on one other peer's only run.
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    for (let rep = 0; rep < LATENCY_REPS; rep++) {
      for (const r of one.running) {
        if (r.result.status !== 'ok') continue;
        try {
          const l = await latency(r.port, queries, DURATION, RATE, LOAD_PIN);
          (r.result.latencyReps ??= []).push(l);
          log(`${r.peer.id} latency @${RATE} qps rep ${rep + 1}/${LATENCY_REPS}: p50 ${l.p50.toFixed(0)} µs, p99 ${l.p99.toFixed(0)} µs`);
        } catch (err) { log(`${r.peer.id} latency: ${(err as Error).message}`); }
      }
    }
    for (const r of one.running) if (r.result.latencyReps?.length) r.result.latency = combineLatency(r.result.latencyReps);
    for (const r of one.running) { // TCP warm-up: its code path has not run yet
      if (r.result.status !== 'ok' || !TCP_PEERS.has(r.peer.id)) continue;
      try { await tcpThroughput(r.port, queries, Math.min(DURATION, 1), LOAD_PIN); } catch { /* measured below */ }
    }
    for (let rep = 0; rep < TCP_REPS; rep++) {
      for (const r of one.running) {
        if (r.result.status !== 'ok' || !TCP_PEERS.has(r.peer.id)) continue;
        try {
          const t = await tcpThroughput(r.port, queries, DURATION, LOAD_PIN);
          r.result.tcp.push(t);
          log(`${r.peer.id} TCP rep ${rep + 1}/${TCP_REPS}: ${Math.round(t.qps)} qps, ${t.lost} lost`);
        } catch (err) { log(`${r.peer.id} TCP: ${(err as Error).message}`); }
      }
    }
  }
  await recordDnstapFrames(one.running);
  let rss: FloodRss | undefined;
  const kdnsNative = one.running.find((r) => r.peer.id === 'kdns-native' && r.result.status === 'ok' && !r.proc.exited);
  if (!values['no-flood'] && kdnsNative !== undefined) {
    try {
      rss = await floodRss(kdnsNative, floodQueries, LOAD_PIN);
      log(`kdns-native RSS over ${rss.queries} flood queries: ${rss.beforeMiB.toFixed(1)} → peak ${rss.peakMiB.toFixed(1)} MiB`);
    } catch (err) { log(`flood RSS: ${(err as Error).message}`); }
  }
  await stopPeers(one.running);

  // Phase 2: nothing pinned, each multi-worker peer with 1 and with 2 workers, all interleaved, so
  // the scaling ratio compares like with like.
  let two: PeerResult[] = [];
  let oneUnpinned: PeerResult[] = [];
  if (!values['no-two-workers']) {
    const multi = peers.filter((p) => p.multiWorker);
    const a = await startPeers(1, undefined, zone, multi);
    const b = await startPeers(2, undefined, zone, peers);
    await udpRounds([...a.running, ...b.running], queries, undefined, REPS);
    await recordDnstapFrames(b.running);
    await stopPeers([...a.running, ...b.running]);
    oneUnpinned = a.results;
    two = b.results;
  }
  await stopAll();

  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const results: Results = {
    date,
    command: `npm run bench --${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`,
    machine: { cpus: os.availableParallelism(), kernel: os.release(), node: process.version, load: os.loadavg() },
    options: { duration: DURATION, reps: REPS, zone: values.zone, latencyRate: RATE, udpgen: `${UDP.sockets}x${UDP.window} window, batch ${UDP.batch}, timeout ${UDP.timeoutMs} ms`, seconds: Math.round((Date.now() - started) / 1000) },
    oneWorker: one.results,
    oneWorkerUnpinned: oneUnpinned,
    twoWorkers: two,
    floodRss: rss,
  };
  const md = markdown(results) + [
    'What watching costs (issue 14): each variant against plain kdns native in the same interleaved rounds:',
    '',
    observationTable(results),
    '',
  ].join('\n');
  if (!values['no-write']) {
    const dir = join(ROOT, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const stamp = date.replace(/:/g, '-');
    writeFileSync(join(dir, `${stamp}.json`), JSON.stringify(results, null, 2) + '\n');
    writeFileSync(join(dir, `${stamp}.svg`), svg(results));
    writeFileSync(join(dir, `${stamp}.md`), md);
    log(`wrote bench/results/${stamp}.{json,svg,md}`);
  }
  process.stdout.write(md);
  if (!values['no-forward-mix']) forwardMix();
}

/**
 * The third query mix, forwarded names with a warm cache, has its own peers (an upstream and the forwarders
 * dnsmasq, unbound, CoreDNS) and so its own script, bench/forward/run.ts; it runs here after the rest with
 * the same duration and repetitions (at most 5: its runs are per forwarder, not per zone).
 */
function forwardMix(): void {
  const script = join(ROOT, 'dist/bench/forward/run.js');
  const args = [script, '--duration', String(Math.min(DURATION, 30)), '--reps', String(Math.min(REPS, 5))];
  if (values['no-write']) args.push('--no-write');
  log('forwarded names with a warm cache: node ' + args.slice(0).map((a) => a.replace(ROOT + '/', '')).join(' '));
  const r = spawnSync(process.execPath, args, { stdio: 'inherit', timeout: 30 * 60 * 1000 });
  if (r.status !== 0) log(`the forwarding mix failed (exit ${r.status ?? r.signal}); the results above stand`);
}

main().then(
  () => { cleanup(); process.exit(0); },
  (err: unknown) => { log(`failed: ${(err as Error).stack ?? String(err)}`); void stopAll().finally(() => { cleanup(); process.exit(1); }); },
);
