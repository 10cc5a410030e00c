// What every bench run sets up first: core pinning (servers on core 0, load generators on core 1 when the
// machine has two cores), a temp dir, and clean-up of every process it started on exit or on a signal.

import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { killAllNow, stopAll } from './proc.js';

export interface BenchSession {
  twoCores: boolean;
  serverPin: string | undefined;
  loadPin: string | undefined;
  tmp: string;
  cleanup(): void;
}

export function benchSession(prefix: string): BenchSession {
  const twoCores = os.availableParallelism() >= 2;
  const tmp = mkdtempSync(join(os.tmpdir(), prefix));
  let cleaned = false;
  const cleanup = (): void => {
    if (cleaned) return;
    cleaned = true;
    killAllNow();
    rmSync(tmp, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => { void stopAll().finally(() => { cleanup(); process.exit(130); }); });
  }
  return { twoCores, serverPin: twoCores ? '0' : undefined, loadPin: twoCores ? '1' : undefined, tmp, cleanup };
}

/** A port free for both UDP and TCP on 127.0.0.1, below the ephemeral range so clients never take it. */
export async function freePort(used: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (used.has(port)) continue;
    const ok = await new Promise<boolean>((res) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => { u.close(); res(false); });
      u.bind(port, '127.0.0.1', () => {
        const t = net.createServer();
        t.once('error', () => { u.close(); res(false); });
        t.listen(port, '127.0.0.1', () => { t.close(() => { u.close(); res(true); }); });
      });
    });
    if (ok) { used.add(port); return port; }
  }
  throw new Error('no free port found');
}
