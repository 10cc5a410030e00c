// One measurement = one bounded run of a load generator against one running server, with the server's
// CPU time read from /proc before and after.
import { cpuSeconds, run, type Proc } from './proc.js';

export interface UdpResult {
  qps: number;
  sent: number;
  received: number;
  timeouts: number;
  cpuUsPerQuery: number; // server CPU (user + system) per answered query, µs
  rcodes: Record<string, number>;
  truncated: number;
}

export interface LatencyResult {
  qps: number;
  lost: number;
  p50: number; // µs
  p99: number;
  p999: number;
}

export interface TcpResult {
  qps: number;
  lost: number;
}

function pinned(pin: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return pin ? ['taskset', ['-c', pin, cmd, ...args]] : [cmd, args];
}

export interface UdpOptions {
  sockets: number; window: number; batch: number; timeoutMs: number;
  /** A new random first label on every query (udpgen --random-label): a random-name flood. */
  randomLabel?: boolean;
  /** Stop after this many queries (default: 5 million per second of duration, i.e. the duration decides). */
  maxQueries?: number;
}

export async function udpThroughput(
  udpgen: string, server: Proc, port: number, queries: string, seconds: number, pin: string | undefined, o: UdpOptions,
): Promise<UdpResult> {
  const [cmd, args] = pinned(pin, udpgen, [
    '--server', '127.0.0.1', '--port', String(port), '--queries', queries, '--duration', String(seconds),
    '--max-queries', String(o.maxQueries ?? Math.round(seconds * 5_000_000)), '--sockets', String(o.sockets), '--window', String(o.window),
    '--batch', String(o.batch), '--timeout-ms', String(o.timeoutMs), '--random-label', o.randomLabel === true ? '1' : '0',
  ]);
  const cpu0 = cpuSeconds(server.pid);
  const r = await run(cmd, args, (seconds + 15) * 1000);
  const cpu1 = cpuSeconds(server.pid);
  if (r.code !== 0) throw new Error(`udpgen failed (${r.code}): ${r.stderr.trim()}`);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    qps: number; sent: number; received: number; timeouts: number; truncated: number; rcodes: Record<string, number>;
  };
  return {
    qps: j.qps, sent: j.sent, received: j.received, timeouts: j.timeouts, rcodes: j.rcodes, truncated: j.truncated,
    cpuUsPerQuery: j.received > 0 ? ((cpu1 - cpu0) * 1e6) / j.received : NaN,
  };
}

function dnsperfStat(out: string, label: string): number {
  const m = new RegExp(`${label}:\\s+([0-9.]+)`).exec(out);
  return m ? Number(m[1]) : NaN;
}

function pct(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** dnsperf at a fixed rate, every query's latency from its verbose lines. */
export async function latency(
  port: number, queries: string, seconds: number, rate: number, pin: string | undefined,
): Promise<LatencyResult> {
  const [cmd, args] = pinned(pin, 'dnsperf', [
    '-s', '127.0.0.1', '-p', String(port), '-d', queries, '-l', String(seconds), '-Q', String(rate),
    '-c', '4', '-q', '500', '-t', '2', '-v',
  ]);
  const r = await run(cmd, args, (seconds + 15) * 1000);
  if (r.code !== 0) throw new Error(`dnsperf failed (${r.code}): ${r.stderr.trim().slice(0, 300)}`);
  const lat: number[] = [];
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('> ')) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) lat.push(v * 1e6);
  }
  const sorted = Float64Array.from(lat).sort();
  return {
    qps: dnsperfStat(r.stdout, 'Queries per second'),
    lost: dnsperfStat(r.stdout, 'Queries lost'),
    p50: pct(sorted, 0.5), p99: pct(sorted, 0.99), p999: pct(sorted, 0.999),
  };
}

/** dnsperf over TCP: a few connections, many queries outstanding on each (pipelined). */
export async function tcpThroughput(port: number, queries: string, seconds: number, pin: string | undefined): Promise<TcpResult> {
  const [cmd, args] = pinned(pin, 'dnsperf', [
    '-m', 'tcp', '-s', '127.0.0.1', '-p', String(port), '-d', queries, '-l', String(seconds), '-c', '4', '-q', '200', '-t', '2',
  ]);
  const r = await run(cmd, args, (seconds + 15) * 1000);
  if (r.code !== 0) throw new Error(`dnsperf -m tcp failed (${r.code}): ${r.stderr.trim().slice(0, 300)}`);
  return { qps: dnsperfStat(r.stdout, 'Queries per second'), lost: dnsperfStat(r.stdout, 'Queries lost') };
}
