// Cluster-scale bench: kdns (and CoreDNS's kubernetes plugin, where Go is installed) against the test
// API server holding a large synthetic cluster. Measures initial sync (spawn → /ready 200), resident
// memory and bytes per RRset, then programming latency (API write → answer visible) under a steady
// rate of EndpointSlice changes.
//
//   node dist/bench/k8s/scale.js [--services 10000] [--endpoints 100000] [--rate 100] [--duration 30]
//                                [--headless 0.5] [--workers 1,2,4,8] [--baseline-cli PATH] [--coredns auto|off|PATH]
//                                [--sync-timeout 300]
//
// kdns runs once per `--workers` count (one row each), CoreDNS once, all against the same cluster in one run.
// Prints JSON and a markdown table; writes bench/results/k8s-<timestamp>.json.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { TestApiServer } from '../../test/k8s-api/server.js';
import { SyntheticCluster } from './cluster.js';
import { Prober, type LatencyResult } from './probe.js';
import { memory, startCoreDns, startKdns, stop, waitReady, type Started } from './servers.js';

// 1.15: client-go 0.37, which syncs through the watch-list protocol (sendInitialEvents) rather than lists.
export const COREDNS_VERSION = 'v1.15.0';
const COREDNS_MODULE = `github.com/coredns/coredns@${COREDNS_VERSION}`;
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MiB = 1024 * 1024;

interface Args {
  services: number;
  endpoints: number;
  rate: number;
  duration: number;
  headless: number;
  /** kdns `--workers` counts, one run each. */
  workers: number[];
  /** Another kdns build's dist/src/cli.js, measured beside this one (a before/after in one run); '' = none. */
  baselineCli: string;
  coredns: string;
  syncTimeout: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    services: 10000, endpoints: 100000, rate: 100, duration: 30, headless: 0.5, workers: [1, 2, 4, 8], baselineCli: '', coredns: 'auto', syncTimeout: 300,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]!.replace(/^--/, '').replace(/-(\w)/g, (_m, c: string) => c.toUpperCase()) as keyof Args;
    const value = argv[i + 1];
    const workers = key === 'workers' && value !== undefined ? value.split(',').map(Number) : [];
    if (!(key in a) || value === undefined || workers.some((n) => !Number.isInteger(n) || n < 1)) {
      throw new Error(`usage: scale.js [--services N] [--endpoints M] [--rate R] [--duration S] [--headless F] [--workers N,N,...] [--baseline-cli PATH] [--coredns auto|off|PATH] [--sync-timeout S]; bad '${argv[i]} ${value ?? ''}'`);
    }
    (a as unknown as Record<string, unknown>)[key] = key === 'coredns' || key === 'baselineCli' ? value : key === 'workers' ? workers : Number(value);
  }
  return a;
}

export interface ServerResult {
  server: string;
  ok: boolean;
  error?: string;
  syncMs?: number;
  rssMiB?: number;
  /** ms from ready until RSS stopped moving (workers may still be applying the sync's deltas at ready). */
  settleMs?: number;
  peakRssMiB?: number;
  baselineRssMiB?: number;
  rrsets?: number | null;
  bytesPerRrset?: number | null;
  rssAfterChurnMiB?: number;
  /** kdns only, after sync: where the memory is, from its /metrics (MiB). */
  internals?: Internals;
  /** kdns start-up milestones from its log: ms after spawn. */
  milestones?: Record<string, number>;
  latency?: LatencyResult;
  /** Distinct API requests the server made (method, path, query keys), and the ones that failed. */
  apiRequests?: string[];
  apiFailures?: string[];
  /** The server's last log lines, when it failed or some change never became visible. */
  logTail?: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const mib = (b: number): number => Math.round((b / MiB) * 10) / 10;

/** The RRset count: a metric if the server exports one, else kdns's "cluster zone synced" log line. */
async function rrsetCount(s: Started): Promise<number | null> {
  try {
    const text = await (await fetch(s.metricsUrl, { signal: AbortSignal.timeout(2000) })).text();
    const m = /^kdns_\w*(?:rrsets|records)\w*(?:\{[^}]*\})?\s+(\d+)/m.exec(text);
    if (m) return Number(m[1]);
  } catch {
    // fall back to the log
  }
  for (const line of s.lines) {
    if (!line.includes('cluster zone synced')) continue;
    try {
      const rec = JSON.parse(line) as { rrsets?: number };
      if (typeof rec.rrsets === 'number') return rec.rrsets;
    } catch {
      // not JSON
    }
  }
  return null;
}

export interface Internals {
  /** Main thread's JS heap, used (nodejs_heap_size_used_bytes). */
  mainHeapUsedMiB: number | null;
  /** Data-plane threads' JS heaps summed, used and reserved (kdns_data_plane_heap_bytes). */
  dataPlaneHeapUsedMiB: number | null;
  dataPlaneHeapTotalMiB: number | null;
  /** The C negative-answer table, once per process (kdns_native_cache_bytes{table="negative"}; a baseline from before issue 10 sums one per worker). */
  nativeNegativeMiB: number | null;
}

/** Where a kdns process's memory is, from the gauges it exports. */
async function internals(s: Started): Promise<Internals | undefined> {
  try {
    // Worker threads answer the scrape; a busy one can take a while on a loaded machine.
    const text = await (await fetch(s.metricsUrl, { signal: AbortSignal.timeout(60_000) })).text();
    const gauge = (re: RegExp): number | null => {
      const m = re.exec(text);
      return m ? mib(Number(m[1])) : null;
    };
    return {
      mainHeapUsedMiB: gauge(/^nodejs_heap_size_used_bytes\s+(\S+)/m),
      dataPlaneHeapUsedMiB: gauge(/^kdns_data_plane_heap_bytes\{kind="used"\}\s+(\S+)/m),
      dataPlaneHeapTotalMiB: gauge(/^kdns_data_plane_heap_bytes\{kind="total"\}\s+(\S+)/m),
      nativeNegativeMiB: gauge(/^kdns_native_cache_bytes\{table="negative"\}\s+(\S+)/m),
    };
  } catch {
    return undefined;
  }
}

/**
 * Waits until RSS holds still (three readings a second apart within 1%; at most 120 s) and returns how
 * long that took. /ready says the control plane has the cluster; worker threads may still be applying
 * the deltas of the sync then, so memory read at ready would miss part of it.
 */
async function settle(pid: number): Promise<number> {
  const t0 = performance.now();
  const readings: number[] = [];
  while (performance.now() - t0 < 120_000) {
    await sleep(1000);
    readings.push(memory(pid).rss);
    const last = readings.slice(-3);
    if (last.length === 3 && Math.max(...last) - Math.min(...last) <= 0.01 * Math.max(...last)) break;
  }
  return Math.round(performance.now() - t0);
}

/** kdns's JSON log lines about start-up, as ms after spawn ("initial list applied EndpointSlice": 9000). */
function milestones(s: Started): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of s.lines) {
    try {
      const rec = JSON.parse(line) as { msg?: string; time?: number | string; kind?: string };
      const time = typeof rec.time === 'string' ? Date.parse(rec.time) : rec.time;
      if (typeof time !== 'number' || Number.isNaN(time) || !rec.msg || !/serving|initial list applied|cluster zone synced/.test(rec.msg)) continue;
      out[rec.kind ? `${rec.msg} ${rec.kind}` : rec.msg] = time - s.startedWall;
    } catch {
      // not JSON (CoreDNS)
    }
  }
  return out;
}

function requestLog(api: TestApiServer, from: number): string[] {
  const seen = new Set<string>();
  for (const r of api.requests.slice(from)) seen.add(`${r.method} ${r.path}?${Object.keys(r.query).sort().join('&')}`);
  return [...seen].sort();
}

async function measure(
  name: string, start: (kubeconfig: string) => Promise<Started>, api: TestApiServer, kubeconfig: string,
  emptyKubeconfig: string, cluster: SyntheticCluster, args: Args, failures: string[],
): Promise<ServerResult> {
  const result: ServerResult = { server: name, ok: false };
  let s: Started | null = null;
  const requestsFrom = api.requests.length;
  const failuresFrom = failures.length;
  try {
    // Baseline: the same server on an empty cluster, so bytes per RRset leaves out the runtime.
    const empty = await start(emptyKubeconfig);
    try {
      await waitReady(empty, 60_000);
      await sleep(1000);
      result.baselineRssMiB = mib(memory(empty.child.pid!).rss);
    } finally {
      await stop(empty);
    }

    s = await start(kubeconfig);
    try {
      result.syncMs = Math.round(await waitReady(s, args.syncTimeout * 1000));
    } catch (err) {
      // A free port taken by another process between our probe and the server's bind: once more.
      if (!/EADDRINUSE/.test((err as Error).message)) throw err;
      await stop(s);
      s = await start(kubeconfig);
      result.syncMs = Math.round(await waitReady(s, args.syncTimeout * 1000));
    }
    result.settleMs = await settle(s.child.pid!);
    const mem = memory(s.child.pid!);
    result.rssMiB = mib(mem.rss);
    result.peakRssMiB = mib(mem.peak);
    result.rrsets = await rrsetCount(s);
    if (s.name === 'kdns') result.internals = await internals(s);
    result.milestones = milestones(s);

    const prober = new Prober('127.0.0.1', s.dnsPort);
    const total = Math.round(args.rate * args.duration);
    const t0 = performance.now();
    for (let i = 0; i < total; i++) {
      await sleep(t0 + (i * 1000) / args.rate - performance.now());
      const target = cluster.change();
      if (target === null) throw new Error('no headless Service to change (use --headless > 0)');
      prober.track(target);
    }
    result.latency = await prober.finish();
    result.rssAfterChurnMiB = mib(memory(s.child.pid!).rss);
    result.ok = true;
    if (result.latency.timedOut > 0) result.logTail = s.lines.slice(-30);
  } catch (err) {
    result.error = (err as Error).message;
    if (s) result.logTail = s.lines.slice(-30);
  } finally {
    if (s) await stop(s);
    result.apiRequests = requestLog(api, requestsFrom);
    result.apiFailures = [...new Set(failures.slice(failuresFrom))];
  }
  return result;
}

/**
 * The CoreDNS binary to run, building it into bench/k8s/.go/<version>/bin when Go is installed (one
 * directory per version, so a binary built for an older pin is never picked up); null + why otherwise.
 */
function coreDnsBinary(choice: string): { path: string | null; why: string } {
  if (choice === 'off') return { path: null, why: 'disabled (--coredns off)' };
  if (choice !== 'auto') return existsSync(choice) ? { path: choice, why: 'given' } : { path: null, why: `${choice} does not exist` };
  const gobin = join(ROOT, 'bench', 'k8s', '.go', COREDNS_VERSION, 'bin');
  const binary = join(gobin, 'coredns');
  if (existsSync(binary)) return { path: binary, why: `found ${binary}` };
  if (spawnSync('go', ['version']).status !== 0) return { path: null, why: 'Go is not installed' };
  process.stderr.write(`building CoreDNS: go install ${COREDNS_MODULE} (GOBIN=${gobin})\n`);
  const r = spawnSync('go', ['install', COREDNS_MODULE], { env: { ...process.env, GOBIN: gobin }, stdio: 'inherit', timeout: 20 * 60_000 });
  return r.status === 0 && existsSync(binary) ? { path: binary, why: `built ${COREDNS_MODULE}` } : { path: null, why: `go install ${COREDNS_MODULE} failed` };
}

function table(results: ServerResult[], counts: { services: number; endpoints: number }, args: Args): string {
  const rows = [
    '| server | services | endpoints | initial sync s | settle s | RSS MiB (peak) | empty RSS MiB | bytes/RRset | main heap MiB | data-plane heap MiB (reserved) | C negative MiB | changes/s × s | p50 ms | p99 ms | not visible in 5 s |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const shown = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : String(v));
  for (const r of results) {
    if (!r.ok) {
      rows.push(`| ${r.server} | ${counts.services} | ${counts.endpoints} | failed: ${(r.error ?? '').split('\n')[0]} |||||||||||||`);
      continue;
    }
    const l = r.latency!;
    const i = r.internals;
    const heap = i?.dataPlaneHeapUsedMiB == null ? '-' : `${i.dataPlaneHeapUsedMiB} (${shown(i.dataPlaneHeapTotalMiB)})`;
    rows.push(`| ${r.server} | ${counts.services} | ${counts.endpoints} | ${(r.syncMs! / 1000).toFixed(2)} | ${(r.settleMs! / 1000).toFixed(0)} | ${r.rssMiB} (${r.peakRssMiB}) | ${r.baselineRssMiB} | ${r.bytesPerRrset ?? '?'} | ${shown(i?.mainHeapUsedMiB)} | ${heap} | ${shown(i?.nativeNegativeMiB)} | ${args.rate} × ${args.duration} | ${l.p50Ms ?? '-'} | ${l.p99Ms ?? '-'} | ${l.timedOut}/${l.changes} |`);
  }
  return rows.join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'kdns-k8s-bench-'));
  const cli = join(ROOT, 'dist', 'src', 'cli.js');
  const emptyApi = await TestApiServer.start();
  const api = await TestApiServer.start({ historyLimit: Math.max(1000, args.rate * args.duration * 2) });
  // Every failed API request (status ≥ 400), to say exactly what a client asked for that this server lacks.
  const failures: string[] = [];
  for (const server of [api, emptyApi]) {
    (server as unknown as { server: http.Server }).server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      res.on('finish', () => {
        if (res.statusCode >= 400) failures.push(`${req.method} ${req.url} → ${res.statusCode}`);
      });
    });
  }
  try {
    const kubeconfig = join(dir, 'kubeconfig');
    const emptyKubeconfig = join(dir, 'kubeconfig-empty');
    writeFileSync(kubeconfig, api.kubeconfigFile());
    writeFileSync(emptyKubeconfig, emptyApi.kubeconfigFile());
    const cluster = new SyntheticCluster(api, { services: args.services, endpoints: args.endpoints, headless: args.headless });
    const g0 = performance.now();
    const counts = cluster.populate();
    const generateMs = Math.round(performance.now() - g0);
    process.stderr.write(`generated ${JSON.stringify(counts)} in ${generateMs} ms\n`);

    const results: ServerResult[] = [];
    // CoreDNS first: run after kdns's rows it once reported ready at once and never saw a change (not
    // understood yet); first, it syncs as in the small check in README.md.
    const core = coreDnsBinary(args.coredns);
    if (core.path !== null) {
      const binary = core.path;
      results.push(await measure(`CoreDNS ${COREDNS_VERSION}`, (kc) => startCoreDns(binary, kc, dir), api, kubeconfig, emptyKubeconfig, cluster, args, failures));
    }
    for (const workers of args.workers) {
      const flags = ['--workers', String(workers)];
      results.push(await measure(`kdns --workers ${workers}`, (kc) => startKdns(cli, kc, flags), api, kubeconfig, emptyKubeconfig, cluster, args, failures));
      if (args.baselineCli !== '') {
        const baseline = args.baselineCli;
        results.push(await measure(`baseline --workers ${workers}`, (kc) => startKdns(baseline, kc, flags), api, kubeconfig, emptyKubeconfig, cluster, args, failures));
      }
    }
    // CoreDNS exports no record count: both servers hold the same cluster, so kdns's count is the common unit.
    const rrsets = results.find((r) => r.rrsets)?.rrsets ?? null;
    for (const r of results) {
      if (r.ok && rrsets) r.bytesPerRrset = Math.round(((r.rssMiB! - r.baselineRssMiB!) * MiB) / rrsets);
    }

    const report = {
      bench: 'k8s-scale',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
      args,
      cluster: { ...counts, generateMs, headlessSlices: cluster.headlessSlices.length },
      coredns: core.why,
      results,
      notes: 'The test API server, the load and the probes share this process and the machine with the server under test: noisy. bytesPerRrset = (RSS after sync − RSS on an empty cluster) / kdns RRset count.',
    };
    console.log(JSON.stringify(report, null, 2));
    console.log('\n' + table(results, counts, args));
    const outDir = join(ROOT, 'bench', 'results');
    mkdirSync(outDir, { recursive: true });
    const out = join(outDir, `k8s-${report.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
    process.stderr.write(`wrote ${out}\n`);
  } finally {
    await api.close();
    await emptyApi.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
