// `npm run bench:takeover`: what clients lose when a DNS server is replaced under load.
//
//   node dist/bench/takeover/run.js [--reps N] [--seconds S] [--only kdns-takeover,kdns-restart,coredns-restart]
//
// Each scenario starts a server (2 workers) on a fixed loopback port, then runs a 1 ms prober (one query a
// millisecond, each counted answered or lost) and udpgen (closed loop, 4 sockets × 32 in flight; its
// qps is printed, and must be ≥ 20k for the run to count) for S seconds; 2 s in, the server is replaced:
//   kdns-takeover    `kdns --takeover` started beside it (the old one exits 0 once the new one serves)
//   kdns-restart     SIGTERM (kdns drains), wait for its exit, start a new kdns
//   coredns-restart  the same with CoreDNS 1.15 (hosts plugin on the same hosts file)
// Lost = sent − answered (the prober waits 1 s per probe, udpgen 1 s). Servers on core 0, load on core 1.
// Every server is started and stopped by PID; every load run is bounded in time and count.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { corednsPath } from '../lib/peers.js';
import { run, sleep, start, stop, stopAll, waitForDns, waitForOutput, type Proc } from '../lib/proc.js';
import { benchSession, freePort } from '../lib/session.js';
import { Prober, type ProbeResult } from './prober.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '8' },
    only: { type: 'string' },
  },
});
const REPS = Math.min(Math.max(Math.round(Number(values.reps)), 1), 10);
const SECONDS = Math.min(Math.max(Number(values.seconds), 5), 30);
const REPLACE_AT_MS = 2000;
const READY_MS = 30_000;
const TIMEOUT_MS = 1000;
const NAME = 'db.bench.test';
const MIN_QPS = 20_000;

const session = benchSession('kdns-bench-takeover-');
const { tmp, serverPin, loadPin } = session;
const log = (msg: string): void => { process.stderr.write(`[bench:takeover] ${msg}\n`); };

interface Server {
  start(): Promise<Proc>;
  /** Replaces `old` by a new server; resolves with it once it answers (and the old one is gone). */
  replace(old: Proc): Promise<Proc>;
}

interface Outcome {
  scenario: string;
  probes: ProbeResult;
  load: { sent: number; received: number; lost: number; qps: number };
  oldExit: number | null;
}

function pinned(pin: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return pin ? ['taskset', ['-c', pin, cmd, ...args]] : [cmd, args];
}

function kdnsServer(port: number, hosts: string, takeover: boolean): Server {
  const args = (extra: string[]): string[] => [join(ROOT, 'dist/src/cli.js'), '--listen', `127.0.0.1:${port}`, '--hosts', hosts,
    '--no-forward', '--http', 'none', '--engine', 'native', '--workers', '2', '--log-format', 'json', ...extra];
  const launch = async (extra: string[]): Promise<Proc> => {
    const p = start('kdns', ...pinned(serverPin, process.execPath, args(extra)));
    await waitForOutput(p, '"msg":"serving"', READY_MS);
    return p;
  };
  return {
    start: () => launch([]),
    async replace(old) {
      if (takeover) {
        const next = await launch(['--takeover']);
        await exitOf(old);
        return next;
      }
      await stop(old, 10_000);
      return launch([]);
    },
  };
}

function corednsServer(port: number, hosts: string, binary: string): Server {
  const conf = join(tmp, 'Corefile');
  writeFileSync(conf, `bench.test:${port} {\n    bind 127.0.0.1\n    hosts ${hosts} bench.test\n}\n`);
  const launch = async (): Promise<Proc> => {
    const p = start('coredns', ...pinned(serverPin, binary, ['-conf', conf, '-quiet']), { ...process.env, GOMAXPROCS: '2' });
    await waitForDns(p, port, 'bench.test', READY_MS);
    return p;
  };
  return {
    start: launch,
    async replace(old) {
      await stop(old, 10_000);
      return launch();
    },
  };
}

async function exitOf(p: Proc): Promise<number | null> {
  if (!p.exited) await new Promise<void>((r) => p.child.once('exit', () => r()));
  return p.child.exitCode;
}

async function scenario(name: string, server: Server, port: number, udpgen: string, queries: string): Promise<Outcome> {
  let proc = await server.start();
  const prober = new Prober(port, NAME, SECONDS * 1000, TIMEOUT_MS);
  const [cmd, args] = pinned(loadPin, udpgen, [
    '--server', '127.0.0.1', '--port', String(port), '--queries', queries, '--duration', String(SECONDS),
    '--max-queries', String(SECONDS * 200_000), '--sockets', '4', '--window', '32', '--batch', '32', '--timeout-ms', String(TIMEOUT_MS),
  ]);
  const load = run(cmd, args, (SECONDS + 15) * 1000);
  await prober.start();
  await sleep(REPLACE_AT_MS);
  const old = proc;
  proc = await server.replace(old);
  const oldExit = await exitOf(old);
  const loaded = await load;
  const probes = await prober.stop();
  await stop(proc, 10_000);
  if (loaded.code !== 0) throw new Error(`udpgen failed (${loaded.code}): ${loaded.stderr.trim()}`);
  const j = JSON.parse(loaded.stdout.trim().split('\n').pop()!) as { sent: number; received: number; qps: number };
  return { scenario: name, probes, load: { sent: j.sent, received: j.received, lost: j.sent - j.received, qps: Math.round(j.qps) }, oldExit };
}

function build(src: string, out: string): void {
  const r = spawnSync('gcc', ['-O2', '-Wall', '-o', out, join(ROOT, src)], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${src} could not be built (gcc required, bench/setup.sh): ${r.stderr}`);
}

async function main(): Promise<void> {
  const udpgen = join(tmp, 'udpgen');
  build('bench/loadgen/udpgen.c', udpgen);
  const hosts = join(tmp, 'hosts');
  writeFileSync(hosts, `10.1.2.3 ${NAME}\n`);
  const queries = join(tmp, 'queries.txt');
  writeFileSync(queries, `${NAME} A\n`);
  const port = await freePort(new Set());
  const coredns = corednsPath();
  if (coredns !== undefined) log(`coredns: ${coredns}, ${spawnSync(coredns, ['-version'], { encoding: 'utf8', timeout: 10_000 }).stdout.split('\n')[0]}`);
  const scenarios: Array<[string, Server | null]> = [
    ['kdns-takeover', kdnsServer(port, hosts, true)],
    ['kdns-restart', kdnsServer(port, hosts, false)],
    ['coredns-restart', coredns === undefined ? null : corednsServer(port, hosts, coredns)],
  ];
  const only = values.only === undefined ? null : new Set(values.only.split(','));
  const outcomes: Outcome[] = [];
  for (let rep = 1; rep <= REPS; rep++) {
    for (const [name, server] of scenarios) {
      if (only !== null && !only.has(name)) continue;
      if (server === null) {
        if (rep === 1) log(`${name}: coredns not installed (go install github.com/coredns/coredns@v1.15.0)`);
        continue;
      }
      const o = await scenario(name, server, port, udpgen, queries);
      outcomes.push(o);
      log(`rep ${rep} ${name}: probes ${o.probes.lost}/${o.probes.sent} lost (longest gap ${o.probes.longestGap} ms), `
        + `load ${o.load.lost}/${o.load.sent} lost at ${o.load.qps} qps, old exit ${o.oldExit}`);
    }
  }
  console.log('| scenario | rep | probes lost / sent | longest gap (ms) | load lost / sent | load qps | old exit |');
  console.log('|---|---|---|---|---|---|---|');
  const reps = new Map<string, number>();
  for (const o of outcomes) {
    const rep = (reps.get(o.scenario) ?? 0) + 1;
    reps.set(o.scenario, rep);
    const slow = o.load.qps < MIN_QPS ? ' (below 20k)' : '';
    console.log(`| ${o.scenario} | ${rep} | ${o.probes.lost} / ${o.probes.sent} | ${o.probes.longestGap} | ${o.load.lost} / ${o.load.sent} | ${o.load.qps}${slow} | ${o.oldExit ?? 'signal'} |`);
  }
  console.log(JSON.stringify({ seconds: SECONDS, reps: REPS, outcomes }));
}

main().catch(async (err: unknown) => {
  log(err instanceof Error ? err.stack ?? err.message : String(err));
  await stopAll();
  process.exitCode = 1;
}).finally(() => session.cleanup());
