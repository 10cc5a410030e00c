// Answers computed after their batch (forwarded misses), sent many at a time: each is copied into a staging
// buffer with its peer, and one udpSendMany (one sendmmsg) sends them all once the current JavaScript turn
// is over. The answers to one batch of upstream replies thus leave in one syscall instead of one each. An
// answer made outside such a batch (one upstream reply in a wake-up, the usual case below flood rates, or a
// timeout's SERVFAIL) leaves at once, before the bookkeeping that follows it (the cache write, the metrics).

import { MANY_STRIDE, type NativeBinding, type UdpHandle } from './native-binding.js';

/** Answers staged at most before a send (the addon's batch limit). */
const MAX_STAGED = 1024;
/** Staging room; an answer that does not fit sends what is staged first. */
const STAGING_BYTES = 256 * 1024;

/** True while the upstream link hands JavaScript a batch of several answers (answersInBatch). */
let batching = false;

/** The upstream link says whether the answers made from now on belong to one batch of several (this thread). */
export function answersInBatch(on: boolean): void {
  batching = on;
}

export class LateAnswers {
  private readonly buf = Buffer.allocUnsafe(STAGING_BYTES);
  private readonly meta = new Int32Array(MANY_STRIDE * MAX_STAGED);
  private count = 0;
  private used = 0;
  private scheduled = false;
  private readonly flushNow = (): void => this.flush();

  constructor(private readonly binding: NativeBinding, private readonly handle: () => UdpHandle | null) {}

  /** Stages `msg` for the peer (family 4|6, port, its address as meta's four ADDR words, IPv6 scope id). */
  add(msg: Buffer, family: number, port: number, a0: number, a1: number, a2: number, a3: number, scope: number): void {
    if (msg.length > STAGING_BYTES) return; // larger than any UDP answer we make
    if (this.count === MAX_STAGED || this.used + msg.length > STAGING_BYTES) this.flush();
    const m = this.count * MANY_STRIDE;
    this.buf.set(msg, this.used);
    this.meta[m] = this.used;
    this.meta[m + 1] = msg.length;
    this.meta[m + 2] = family;
    this.meta[m + 3] = port;
    this.meta[m + 4] = a0;
    this.meta[m + 5] = a1;
    this.meta[m + 6] = a2;
    this.meta[m + 7] = a3;
    this.meta[m + 8] = scope;
    this.used += msg.length;
    this.count++;
    if (!batching) {
      this.flush();
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushNow);
    }
  }

  /** Sends what is staged now. */
  flush(): void {
    this.scheduled = false;
    const n = this.count;
    if (n === 0) return;
    this.count = 0;
    this.used = 0;
    const handle = this.handle();
    if (handle !== null) this.binding.udpSendMany(handle, this.buf, this.meta, n); // drops are counted in C
  }
}
