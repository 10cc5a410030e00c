// Work an engine still owes its clients (forwarded queries), counted so a shutdown can wait for it, and
// the one bounded wait a shutdown does.

import type { TcpConnections } from './tcp.js';
import type { EngineOptions } from './types.js';

/** How long an engine's close() waits for answers owed when EngineOptions.shutdownGraceMs is not given. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 5000;

/** Counts work still running (begin … end); `settled()` resolves when none is. */
export class InFlight {
  private count = 0;
  private waiters: Array<() => void> = [];

  get size(): number {
    return this.count;
  }

  begin(): void {
    this.count++;
  }

  end(): void {
    if (--this.count > 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  settled(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** Waits for `work` at most `ms` milliseconds; true when it finished in time. The timer never outlives the wait. */
export async function settleWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => { timer = setTimeout(resolve, ms, false); });
  try {
    return await Promise.race([work.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Both engines' shutdown once they have stopped reading: the answers owed (forwarded UDP queries, every TCP
 * connection's) are waited for, at most the grace period. The log line says reading has stopped (tests
 * wait for it before sending a query that must not be read).
 */
export async function answerOwed(opts: EngineOptions, udpForwards: InFlight, tcp: TcpConnections): Promise<void> {
  opts.log.info({ udpForwards: udpForwards.size, tcpConnections: tcp.size }, 'stopped reading: answering what was received');
  const owed = Promise.all([udpForwards.settled(), tcp.settled()]);
  if (!(await settleWithin(owed, opts.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS))) {
    opts.log.warn({ udpForwards: udpForwards.size, tcpConnections: tcp.size }, 'shutdown grace period over: closing with answers still owed');
  }
}
