// Runs dnsmasq as a real upstream for forwarding tests: loopback only, on a free port, no resolv.conf and
// no hosts file, every query logged to stderr (--log-queries) so a test can count what reached it.
// The caller adds the records (--host-record, --address, --server ...). Bounded start-up, and the child
// never outlives the test process.
import { spawn, type ChildProcess } from 'node:child_process';
import dnsPacket from 'dns-packet';
import { query } from './dns-client.js';
import { freePort } from './named.js';

export const DNSMASQ_BIN = process.env.KDNS_DNSMASQ ?? '/usr/sbin/dnsmasq';

export interface DnsmasqHandle {
  port: number;
  pid: number;
  /** Log lines so far (dnsmasq writes them to stderr with --log-facility=-). */
  log(): string[];
  /** How many logged queries are for `name` (and `type`, e.g. 'A', when given). */
  queriesFor(name: string, type?: string): number;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * Starts dnsmasq with `args` on a free loopback port and resolves once it answers. `probeName` must be a
 * name it answers itself (a --host-record or --address), used to tell that it is up.
 */
export async function startDnsmasq(args: string[], probeName: string, opts: { port?: number; startTimeoutMs?: number } = {}): Promise<DnsmasqHandle> {
  let lastErr: unknown;
  // Two tries: the free port may be taken between picking it and dnsmasq binding it.
  for (let attempt = 0; attempt < 2; attempt++) {
    const port = opts.port ?? await freePort();
    try {
      return await launch(port, args, probeName, opts.startTimeoutMs ?? 10_000);
    } catch (err) {
      lastErr = err;
      if (opts.port !== undefined) break;
    }
  }
  throw lastErr;
}

async function launch(port: number, args: string[], probeName: string, startTimeoutMs: number): Promise<DnsmasqHandle> {
  const child = spawn(DNSMASQ_BIN, [
    '--keep-in-foreground', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces',
    '--no-resolv', '--no-hosts', '--conf-file=/dev/null', '--pid-file=', '--log-queries', '--log-facility=-',
    '--user=root', '--group=root', ...args,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const lines: string[] = [];
  let partial = '';
  const onData = (s: string): void => {
    const parts = (partial + s).split('\n');
    partial = parts.pop() ?? '';
    for (const l of parts) if (lines.length < 100_000) lines.push(l);
  };
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let exited: number | null = null;
  const exitPromise = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      exited = code ?? (signal ? 128 : 1);
      resolve();
    });
  });
  const stop = async (): Promise<void> => {
    if (exited !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => { if (exited === null) child.kill('SIGKILL'); }, 3000);
    await exitPromise;
    clearTimeout(t);
  };
  const probe = dnsPacket.encode({ type: 'query', id: 77, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: probeName }] });
  const deadline = Date.now() + startTimeoutMs;
  while (Date.now() < deadline && exited === null) {
    try {
      await query(port, probe, { timeoutMs: 300, attempts: 1 });
      const handle: DnsmasqHandle = {
        port,
        pid: child.pid as number,
        log: () => [...lines],
        queriesFor: (name, type) => lines.filter((l) => {
          const m = /query\[(\w+)\] (\S+) from/.exec(l);
          return m !== null && m[2]!.toLowerCase() === name.toLowerCase() && (type === undefined || m[1] === type);
        }).length,
        stop,
      };
      return handle;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await stop();
  throw new Error(`dnsmasq did not answer on port ${port} within ${startTimeoutMs} ms (exit ${exited}); log:\n${lines.slice(-20).join('\n')}`);
}
