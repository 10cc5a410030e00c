// HTTP benchmark of kdns's operator surface with autocannon: REST record reads and writes per second
// (dynamic zones; writes with and without --state-dir, i.e. with and without an fsync per change), and
// /metrics scrape latency idle and while dnsperf keeps the DNS side busy at a fixed rate.
//
//   npx tsc -p . && node dist/bench/http/run.js [--duration S] [--dns-rate QPS] [--no-write]
//
// kdns runs with 2 workers (native engine) on 127.0.0.1 ports the bench picks; every run is bounded by
// --duration; every process is started and stopped by PID (bench/lib/proc.ts). Writes
// bench/results/http-<timestamp>.json and prints a markdown table.
import autocannon, { type Result } from 'autocannon';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { latency, type LatencyResult } from '../lib/measure.js';
import { start, stop, waitForOutput, type Proc } from '../lib/proc.js';
import { benchSession, freePort } from '../lib/session.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const ZONE = 'bench.test';
const NAMES = 1000;
const TOKEN = 'bench-token-0123456789abcdef0123';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    'dns-rate': { type: 'string', default: '20000' },
    'no-write': { type: 'boolean', default: false },
  },
});
const DURATION = Math.min(Math.max(Math.round(Number(values.duration) || 5), 1), 60);
const DNS_RATE = Math.min(Math.max(Math.round(Number(values['dns-rate']) || 20000), 1000), 200000);
const session = benchSession('kdns-http-bench-');

function log(msg: string): void {
  process.stderr.write(`[bench/http] ${msg}\n`);
}

/** A state file holding NAMES A records, so reads list a zone of realistic size from the first request. */
function seedState(stateDir: string): void {
  const records = Array.from({ length: NAMES }, (_, i) => ({
    name: `h${i}.${ZONE}.`, type: 'A', ttl: 60, values: [`10.${(i >> 8) & 255}.${i & 255}.1`],
  }));
  mkdirSync(join(stateDir, 'dynamic'), { recursive: true });
  writeFileSync(join(stateDir, 'dynamic', `${ZONE}.json`), JSON.stringify({ version: 1, zone: `${ZONE}.`, serial: 1, records }));
}

interface Kdns {
  proc: Proc;
  dns: number;
  http: number;
}

async function startKdns(stateDir: string | null, used: Set<number>): Promise<Kdns> {
  const dns = await freePort(used);
  const http = await freePort(used);
  writeFileSync(join(session.tmp, 'token'), TOKEN);
  const args = [join(ROOT, 'dist/src/cli.js'), '--listen', `127.0.0.1:${dns}`, '--http', `127.0.0.1:${http}`,
    '--workers', '2', '--engine', 'native', '--no-forward', '--log-level', 'warn',
    '--zone-file', `${join(ROOT, 'bench/zones/cluster.local.zone')}@cluster.local`,
    '--dynamic-zone', ZONE, '--api-token-file', join(session.tmp, 'token'), ...(stateDir === null ? [] : ['--state-dir', stateDir])];
  const proc = start('kdns', process.execPath, args);
  await waitForOutput(proc, '"msg":"serving"', 30_000).catch(async () => {
    // --log-level warn hides the serving line: wait for the HTTP port instead.
    for (let i = 0; i < 300; i++) {
      if (await fetch(`http://127.0.0.1:${http}/health`).then((r) => r.ok, () => false)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('kdns did not start');
  });
  return { proc, dns, http };
}

interface Row {
  what: string;
  rps: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  non2xx: number;
}

function row(what: string, r: Result): Row {
  return { what, rps: r.requests.average, p50ms: r.latency.p50, p99ms: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx };
}

async function writes(k: Kdns, connections: number): Promise<Result> {
  let n = 0;
  return autocannon({
    url: `http://127.0.0.1:${k.http}`, connections, duration: DURATION,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    requests: [{
      method: 'PUT',
      setupRequest: (req) => {
        const i = n++;
        return { ...req, path: `/api/v1/zones/${ZONE}/records/w${i}/A`, body: JSON.stringify({ ttl: 60, values: [`10.200.${(i >> 8) & 255}.${i & 255}`] }) };
      },
    }],
  });
}

async function main(): Promise<void> {
  const used = new Set<number>();
  const stateDir = join(session.tmp, 'state');
  seedState(stateDir);
  const rows: Row[] = [];
  let dnsUnderScrape: LatencyResult | null = null;

  const durable = await startKdns(stateDir, used);
  const base = `http://127.0.0.1:${durable.http}`;
  log(`reads: GET one name of ${NAMES}, then the whole zone (${DURATION} s each, 10 connections)`);
  rows.push(row('GET records?name= (1 of 1,000 RRsets)', await autocannon({ url: `${base}/api/v1/zones/${ZONE}/records?name=h7`, connections: 10, duration: DURATION })));
  rows.push(row('GET records (all 1,000 RRsets)', await autocannon({ url: `${base}/api/v1/zones/${ZONE}/records`, connections: 10, duration: DURATION })));
  log('writes with --state-dir (fsync per change), 4 connections');
  rows.push(row('PUT record, saved (--state-dir)', await writes(durable, 4)));
  log('/metrics scrapes, idle, 1 connection');
  rows.push(row('GET /metrics, DNS idle', await autocannon({ url: `${base}/metrics`, connections: 1, duration: DURATION })));
  log(`/metrics scrapes while dnsperf sends ${DNS_RATE} qps`);
  const [scrape, dns] = await Promise.all([
    autocannon({ url: `${base}/metrics`, connections: 1, duration: DURATION }),
    latency(durable.dns, join(ROOT, 'bench/queries/cluster.local.txt'), DURATION, DNS_RATE, undefined),
  ]);
  rows.push(row(`GET /metrics, DNS at ${DNS_RATE} qps`, scrape));
  dnsUnderScrape = dns;
  await stop(durable.proc);

  const memory = await startKdns(null, used);
  log('writes without --state-dir (memory only), 4 connections');
  rows.push(row('PUT record, memory only', await writes(memory, 4)));
  await stop(memory.proc);

  const table = [
    '| request | req/s | p50 ms | p99 ms | errors | non-2xx |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.what} | ${Math.round(r.rps)} | ${r.p50ms} | ${r.p99ms} | ${r.errors} | ${r.non2xx} |`),
  ].join('\n');
  const dnsLine = `DNS during the scrapes: ${Math.round(dnsUnderScrape.qps)} qps answered, ${dnsUnderScrape.lost} lost, `
    + `p50 ${dnsUnderScrape.p50.toFixed(0)} µs, p99 ${dnsUnderScrape.p99.toFixed(0)} µs`;
  process.stdout.write(`${table}\n\n${dnsLine}\n`);
  if (!values['no-write']) {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
    const file = join(ROOT, 'bench/results', `http-${stamp}.json`);
    writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), duration: DURATION, dnsRate: DNS_RATE, rows, dns: dnsUnderScrape }, null, 1));
    log(`wrote ${file}`);
  }
}

main().then(() => session.cleanup(), (err: unknown) => {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  session.cleanup();
  process.exit(1);
});
