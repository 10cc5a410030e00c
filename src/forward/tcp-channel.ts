// One stream connection to an upstream, plain TCP or TLS (RFC 7858), reused and pipelined (RFC 7766
// §6.2.1): many queries in flight, answers matched by ID and question, in any order. Closed after an idle
// period; when it breaks, every query waiting on it fails at once, with the reason (refused, a TLS
// verification failure, or a plain error), so the caller can try elsewhere and the health logic can tell
// a dead server from a lost connection.

import type net from 'node:net';
import { randomId16 } from '../util/random-ids.js';
import { matchesQuery, questionEndOf } from './message.js';
import type { FailureReason } from './upstream-health.js';

export type TcpOutcome = Buffer | FailureReason;

interface Pending {
  sent: Buffer;
  qEnd: number;
  timer: NodeJS.Timeout;
  done: (r: TcpOutcome) => void;
}

export class TcpChannel {
  private readonly socket: net.Socket;
  private readonly pending = new Map<number, Pending>();
  private buffered: Buffer = Buffer.alloc(0);
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly idleMs: number;
  /** TLS: true once the handshake (certificate check included) has passed; plain TCP: once connected. */
  private established = false;
  private readonly secure: boolean;
  /** What the queries still waiting get when the connection ends. */
  private failure: FailureReason = 'error';
  closed = false;
  /** The error that ended the connection (its code names a TLS verification failure), for the log. */
  lastError: (Error & { code?: string }) | null = null;

  /**
   * `socket`: a connection being opened (net.createConnection or tls.connect); `secure` says which, so that
   * an error before the handshake completes counts as a TLS failure rather than a lost connection.
   */
  constructor(socket: net.Socket, idleMs: number, secure: boolean) {
    this.idleMs = idleMs;
    this.secure = secure;
    this.socket = socket;
    this.socket.setNoDelay(true);
    this.socket.once(secure ? 'secureConnect' : 'connect', () => { this.established = true; });
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.on('error', (err: Error & { code?: string }) => {
      this.lastError = err;
      this.failure = classify(err, this.secure && !this.established);
      this.shutdown();
    });
    this.socket.on('close', () => this.shutdown());
    this.socket.on('end', () => this.shutdown());
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Sends `msg` (its ID may be changed to be unique on this connection); resolves with the answer. */
  query(msg: Buffer, timeoutMs: number): Promise<TcpOutcome> {
    if (this.closed) return Promise.resolve(this.failure);
    // IDs must be unique among the queries pending on this connection; bounded retries, then give up.
    let id = msg.readUInt16BE(0);
    for (let i = 0; i < 16 && this.pending.has(id); i++) id = randomId16();
    if (this.pending.has(id)) return Promise.resolve('error');
    msg.writeUInt16BE(id, 0);
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    return new Promise<TcpOutcome>((resolve) => {
      const timer = setTimeout(() => this.timedOut(id), timeoutMs);
      this.pending.set(id, { sent: msg, qEnd: questionEndOf(msg), timer, done: resolve });
      const frame = Buffer.allocUnsafe(2 + msg.length);
      frame.writeUInt16BE(msg.length, 0);
      msg.copy(frame, 2);
      // Before the handshake this is buffered by the socket and sent once the connection is up.
      this.socket.write(frame);
    });
  }

  /**
   * A query timed out. If the connection never came up (a silent address, a stuck handshake), it is
   * dropped with the rest of its queries, so the next query or probe connects afresh instead of waiting
   * on the same dead attempt until the kernel gives up on it.
   */
  private timedOut(id: number): void {
    if (this.established) {
      this.finish(id, 'timeout');
      return;
    }
    this.failure = 'timeout';
    this.shutdown();
  }

  private finish(id: number, result: TcpOutcome): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.done(result);
    if (this.pending.size === 0 && !this.closed) {
      this.idleTimer = setTimeout(() => this.shutdown(), this.idleMs);
      this.idleTimer.unref();
    }
  }

  private onData(d: Buffer): void {
    this.buffered = this.buffered.length === 0 ? d : Buffer.concat([this.buffered, d]);
    // Bounded: each turn consumes one whole frame.
    while (this.buffered.length >= 2) {
      const len = this.buffered.readUInt16BE(0);
      if (this.buffered.length < 2 + len) break;
      const msg = Buffer.from(this.buffered.subarray(2, 2 + len));
      this.buffered = this.buffered.subarray(2 + len);
      if (msg.length < 2) continue;
      const p = this.pending.get(msg.readUInt16BE(0));
      if (p !== undefined && matchesQuery(msg, p.sent, p.qEnd)) this.finish(msg.readUInt16BE(0), msg);
    }
  }

  /** Closes the connection and fails whatever is still waiting on it. */
  shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.socket.destroy();
    for (const id of [...this.pending.keys()]) this.finish(id, this.failure);
  }
}

/**
 * ECONNREFUSED: nothing listens. During a TLS handshake, anything but an OS error (ECONNRESET, EPIPE...)
 * is the certificate check or the handshake itself failing (ERR_TLS_CERT_ALTNAME_INVALID,
 * UNABLE_TO_VERIFY_LEAF_SIGNATURE, ERR_SSL_...).
 */
function classify(err: Error & { code?: string }, duringHandshake: boolean): FailureReason {
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED') return 'refused';
  if (duringHandshake && !/^E[A-Z]+$/.test(code)) return 'tls';
  return 'error';
}
