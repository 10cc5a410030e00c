// Stopping a server a test started, by its PID: SIGTERM, SIGKILL if it is still there after a grace
// period, resolved once it has exited. Shared by the helpers that run named and unbound.
import type { ChildProcess } from 'node:child_process';

export interface ChildStopper {
  /** True once the child has exited. */
  exited(): boolean;
  stop(): Promise<void>;
}

export function childStopper(child: ChildProcess, graceMs = 5000, onExit?: () => void): ChildStopper {
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => { exited = true; onExit?.(); resolve(); }));
  return {
    exited: () => exited,
    stop: async () => {
      if (exited) return;
      process.kill(child.pid!, 'SIGTERM');
      const timer = setTimeout(() => { if (!exited) process.kill(child.pid!, 'SIGKILL'); }, graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}
