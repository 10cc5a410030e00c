// One TCP connection to an upstream, reused and pipelined (RFC 7766 §6.2.1): many queries in flight,
// answers matched by ID and question, in any order. Closed after an idle period; when it breaks, every
// query waiting on it fails at once so the caller can try elsewhere.

import net from 'node:net';
import { randomInt } from 'node:crypto';
import { matchesQuery, questionEndOf } from './message.js';

export type TcpOutcome = Buffer | 'timeout' | 'error';

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
  closed = false;

  constructor(host: string, port: number, idleMs: number) {
    this.idleMs = idleMs;
    this.socket = net.createConnection({ host, port });
    this.socket.setNoDelay(true);
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.on('error', () => this.shutdown());
    this.socket.on('close', () => this.shutdown());
    this.socket.on('end', () => this.shutdown());
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Sends `msg` (its ID may be changed to be unique on this connection); resolves with the answer. */
  query(msg: Buffer, timeoutMs: number): Promise<TcpOutcome> {
    if (this.closed) return Promise.resolve('error');
    // IDs must be unique among the queries pending on this connection; bounded retries, then give up.
    let id = msg.readUInt16BE(0);
    for (let i = 0; i < 16 && this.pending.has(id); i++) id = randomInt(0, 65536);
    if (this.pending.has(id)) return Promise.resolve('error');
    msg.writeUInt16BE(id, 0);
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    return new Promise<TcpOutcome>((resolve) => {
      const timer = setTimeout(() => this.finish(id, 'timeout'), timeoutMs);
      this.pending.set(id, { sent: msg, qEnd: questionEndOf(msg), timer, done: resolve });
      const frame = Buffer.allocUnsafe(2 + msg.length);
      frame.writeUInt16BE(msg.length, 0);
      msg.copy(frame, 2);
      this.socket.write(frame);
    });
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
    for (const id of [...this.pending.keys()]) this.finish(id, 'error');
  }
}
