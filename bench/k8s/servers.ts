// Starting the servers under test (kdns, CoreDNS) against a kubeconfig, and measuring them from the
// outside: time to /ready, resident memory from /proc, log lines.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import dgram from 'node:dgram';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export interface Started {
  name: string;
  child: ChildProcess;
  dnsPort: number;
  readyUrl: string;
  metricsUrl: string;
  startedAt: number;
  /** Date.now() at spawn, to place log timestamps. */
  startedWall: number;
  /** Every stdout/stderr line so far. */
  lines: string[];
}

/** A port free for both TCP and UDP on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}

function collect(child: ChildProcess): string[] {
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      lines.push(...parts);
    });
  }
  return lines;
}

export async function startKdns(cli: string, kubeconfig: string, flags: string[] = []): Promise<Started> {
  const dnsPort = await freePort();
  const httpPort = await freePort();
  const startedAt = performance.now();
  const startedWall = Date.now();
  const child = spawn(process.execPath, [
    // Node flags for kdns, e.g. KDNS_BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the sync.
    ...(process.env.KDNS_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''),
    cli, '--kubeconfig', kubeconfig, '--listen', `127.0.0.1:${dnsPort}`, '--http', `127.0.0.1:${httpPort}`,
    '--no-forward', '--log-level', 'info', ...flags,
    // Extra kdns flags for a run, e.g. KDNS_BENCH_ARGS='--workers 1' to measure the in-process data plane.
    ...(process.env.KDNS_BENCH_ARGS ?? '').split(' ').filter((a) => a !== ''),
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  return {
    name: 'kdns', child, dnsPort, startedAt, startedWall, lines: collect(child),
    readyUrl: `http://127.0.0.1:${httpPort}/ready`, metricsUrl: `http://127.0.0.1:${httpPort}/metrics`,
  };
}

export async function startCoreDns(binary: string, kubeconfig: string, dir: string): Promise<Started> {
  const dnsPort = await freePort();
  const readyPort = await freePort();
  const metricsPort = await freePort();
  const corefile = join(dir, `Corefile-${dnsPort}`);
  writeFileSync(corefile, [
    `.:${dnsPort} {`,
    '    bind 127.0.0.1',
    '    kubernetes cluster.local {',
    `        kubeconfig ${kubeconfig}`,
    '    }',
    `    ready 127.0.0.1:${readyPort}`,
    `    prometheus 127.0.0.1:${metricsPort}`,
    '    errors',
    '}',
    '',
  ].join('\n'));
  const startedAt = performance.now();
  const startedWall = Date.now();
  const child = spawn(binary, ['-conf', corefile], { stdio: ['ignore', 'pipe', 'pipe'] });
  return {
    name: 'coredns', child, dnsPort, startedAt, startedWall, lines: collect(child),
    readyUrl: `http://127.0.0.1:${readyPort}/ready`, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
  };
}

/** Milliseconds from spawn to the first 200 from /ready; throws on exit or timeout. */
export async function waitReady(s: Started, timeoutMs: number): Promise<number> {
  const deadline = s.startedAt + timeoutMs;
  let exited: string | null = null;
  s.child.once('exit', (code, signal) => (exited = `exited with ${code ?? signal}`));
  for (;;) {
    if (exited !== null) throw new Error(`${s.name} ${exited}:\n${s.lines.slice(-20).join('\n')}`);
    if (performance.now() > deadline) throw new Error(`${s.name} not ready after ${timeoutMs} ms:\n${s.lines.slice(-20).join('\n')}`);
    try {
      const res = await fetch(s.readyUrl, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return performance.now() - s.startedAt;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** VmRSS and VmHWM (peak) of a process, in bytes. */
export function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

export async function stop(s: Started): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const done = new Promise<void>((r) => s.child.once('exit', () => r()));
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(timer);
}
