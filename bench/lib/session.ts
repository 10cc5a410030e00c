// What every bench run sets up first: core pinning (servers on core 0, load generators on core 1 when the
// machine has two cores), a temp dir, and clean-up of every process it started on exit or on a signal.

import { mkdtempSync, rmSync } from 'node:fs';
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
