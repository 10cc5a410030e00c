// The forwarder's UDP to its upstreams, through the addon (native/upstream.c): a fresh connected socket per
// query, opened in C ahead of need (random source port, RFC 5452; a ready pool per upstream), every socket
// of the thread in one epoll set, and the answers handed to JavaScript in batches, one call for all that
// arrived. What this replaces per miss is
// Node's dgram: a socket object, its event emitter and registration, a Buffer per read, one callback per
// datagram. JavaScript keeps the DNS: the answer is matched to its query (ID and question) here, and
// everything after (cache, coalescing, retries, TCP fallback) stays in the forwarder. Timeouts: the
// exchanges of one timeout length expire in the order they were sent, so a queue per length (tokens and
// deadlines in typed arrays: nothing for the garbage collector to keep alive until the deadline) and one
// timer for the earliest deadline still waiting replace a timer per query.

import type { Cancellable, DatagramLink, DatagramTarget } from '../forward/datagram-link.js';
import { matchesQuery, questionEndOf } from '../forward/message.js';
import type { FailureReason } from '../forward/upstream-health.js';
import { answersInBatch } from './late-answers.js';
import {
  UP_HEADER, UP_STRIDE, UP_S_FD, UP_S_KEEP, UP_S_LEN, UP_S_TOKEN, type NativeBinding, type UpstreamHandle,
} from './native-binding.js';

/** Answers read per call into JavaScript; more wait for the next round of the same wake-up. */
const BATCH = 64;
/** Bytes per answer slot: a larger answer arrives as -EMSGSIZE (the forwarder retries over TCP). */
const SLOT = 4096;
const ECONNREFUSED = 111;
/** The timer is never armed sooner than this from now (ms): deadlines close together share one expiry. */
const MIN_TIMER_MS = 5;

type Done = (r: Buffer | FailureReason) => void;

/** One query in flight on the link. */
class LinkExchange implements Cancellable {
  fd = -1;
  readonly questionEnd: number;

  constructor(
    readonly link: NativeUpstreamLink,
    readonly token: number,
    readonly msg: Buffer,
    readonly live: Set<Cancellable>,
    readonly done: Done,
    /** performance.now() ms past which it times out. */
    readonly deadline: number,
  ) {
    this.questionEnd = questionEndOf(msg);
  }

  cancel(): void {
    this.link.giveUp(this, 'error');
  }
}

export class NativeUpstreamLink implements DatagramLink {
  private readonly binding: NativeBinding;
  private readonly handle: UpstreamHandle;
  private readonly inBuf = Buffer.alloc(BATCH * SLOT);
  private readonly meta = new Int32Array(UP_HEADER + UP_STRIDE * BATCH);
  private readonly pending = new Map<number, LinkExchange>();
  private nextToken = 1;
  /** Exchanges by timeout length, each queue in deadline order (sent in order, same length). */
  private readonly deadlines = new Map<number, DeadlineQueue>();
  /** The one timer, for the earliest deadline of any queue; null when nothing waits. */
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private readonly expireNow = (): void => this.expire();

  constructor(binding: NativeBinding) {
    this.binding = binding;
    this.handle = binding.upstreamCreate(this.inBuf, this.meta, BATCH, (count) => this.answers(count));
  }

  exchange(to: DatagramTarget, msg: Buffer, timeoutMs: number, live: Set<Cancellable>, done: Done): void {
    const token = this.nextToken;
    this.nextToken = (token + 1) & 0x7fffffff || 1;
    const fd = this.binding.upstreamSend(this.handle, token, to.family, to.port, to.addr, msg, msg.length);
    if (fd < 0) {
      // Nothing is in flight: the forwarder hears about it on the next tick, as from the network.
      process.nextTick(done, fd === -ECONNREFUSED ? 'refused' : 'error');
      return;
    }
    const x = new LinkExchange(this, token, msg, live, done, performance.now() + timeoutMs);
    x.fd = fd;
    live.add(x);
    this.pending.set(token, x);
    let queue = this.deadlines.get(timeoutMs);
    if (queue === undefined) this.deadlines.set(timeoutMs, queue = new DeadlineQueue());
    queue.push(token, x.deadline);
    if (x.deadline < this.timerAt) this.arm(x.deadline);
  }

  /** Ends an exchange without an answer (timeout, cancel): its socket is closed in C. */
  giveUp(x: LinkExchange, reason: FailureReason): void {
    if (this.pending.get(x.token) !== x) return;
    this.binding.upstreamClose(this.handle, x.fd, x.token);
    this.finish(x, reason);
  }

  /** Sockets open in C for queries in flight. */
  get open(): number {
    return this.pending.size;
  }

  close(): void {
    for (const x of [...this.pending.values()]) this.giveUp(x, 'error');
    this.binding.upstreamStop(this.handle);
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    this.deadlines.clear();
  }

  /** The addon's batch: `count` slots, each an answer (or an error) for one token's socket. */
  private answers(count: number): void {
    // Several answers: their clients' answers leave together at the end of the turn (late-answers.ts).
    answersInBatch(count > 1);
    try {
      this.answersIn(count);
    } finally {
      answersInBatch(false);
    }
  }

  private answersIn(count: number): void {
    const meta = this.meta;
    for (let i = 0; i < count; i++) {
      const base = UP_HEADER + i * UP_STRIDE;
      const x = this.pending.get(meta[base + UP_S_TOKEN]!);
      if (x === undefined || x.fd !== meta[base + UP_S_FD]) continue; // not ours any more: C closes the socket
      const len = meta[base + UP_S_LEN]!;
      if (len < 0) {
        this.finish(x, len === -ECONNREFUSED ? 'refused' : 'error');
        continue;
      }
      const data = this.inBuf.subarray(i * SLOT, i * SLOT + len);
      if (!matchesQuery(data, x.msg, x.questionEnd)) {
        meta[base + UP_S_KEEP] = 1; // not its answer (late, or spoofed): keep waiting on the same socket
        continue;
      }
      // A copy: the slot is read into again, and the forwarder may keep the answer (a truncated one while it
      // retries over TCP).
      this.finish(x, Buffer.from(data));
    }
  }

  private finish(x: LinkExchange, r: Buffer | FailureReason): void {
    this.pending.delete(x.token);
    x.live.delete(x);
    x.done(r);
  }

  /** The timer for `at` (performance.now() ms), replacing a later one. */
  private arm(at: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.expireNow, Math.max(0, at - performance.now()));
  }

  /** Times out every exchange past its deadline, then arms the timer for the next deadline, if any. */
  private expire(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const [length, queue] of this.deadlines) {
      // Answered exchanges are dropped from the front as they come; a waiting one past its deadline times out.
      while (queue.size > 0) {
        const x = this.pending.get(queue.headToken);
        if (x !== undefined && queue.headDeadline > now) break;
        queue.shift();
        if (x !== undefined) this.giveUp(x, 'timeout');
      }
      if (queue.size === 0) this.deadlines.delete(length);
      else next = Math.min(next, queue.headDeadline);
    }
    // Never sooner than MIN_TIMER_MS from now: a burst of deadlines is handled by one timer, a few ms late.
    if (next < Infinity) this.arm(Math.max(next, now + MIN_TIMER_MS));
  }
}

/** A FIFO of (token, deadline) in a growable ring of typed arrays. */
class DeadlineQueue {
  private tokens = new Int32Array(256);
  private at = new Float64Array(256);
  private head = 0;
  size = 0;

  push(token: number, deadline: number): void {
    if (this.size === this.tokens.length) this.grow();
    const i = (this.head + this.size) & (this.tokens.length - 1);
    this.tokens[i] = token;
    this.at[i] = deadline;
    this.size++;
  }

  get headToken(): number {
    return this.tokens[this.head]!;
  }

  get headDeadline(): number {
    return this.at[this.head]!;
  }

  shift(): void {
    this.head = (this.head + 1) & (this.tokens.length - 1);
    this.size--;
  }

  private grow(): void {
    const tokens = new Int32Array(this.tokens.length * 2);
    const at = new Float64Array(this.at.length * 2);
    for (let i = 0; i < this.size; i++) {
      const j = (this.head + i) & (this.tokens.length - 1);
      tokens[i] = this.tokens[j]!;
      at[i] = this.at[j]!;
    }
    this.tokens = tokens;
    this.at = at;
    this.head = 0;
  }
}
