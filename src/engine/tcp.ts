// DNS over TCP (RFC 7766), shared by both engines: they differ only in how the listening socket is made
// (node: `listen({ host, port })`; native: an SO_REUSEPORT fd from the addon, `listen({ fd })`).
// Length-prefixed messages, many per connection, pipelined; all answers to one read go out in one write;
// an idle timeout; a cap on connections; on close, answers already computed are flushed, then FIN.

import net from 'node:net';
import type { Logger } from 'pino';
import type { TcpConfig } from '../config/types.js';
import { DROP_TCP_LIMIT } from '../metrics/dns-counters.js';
import { PROTO_TCP, RESPOND_FORWARD, type Responder } from '../server/responder.js';
import { answerQuery, forwardNow, forwardQuery } from './answer.js';
import type { QueryObserver } from './types.js';

const DRAIN_DEADLINE_MS = 5000;
const MAX_TCP_MESSAGE = 65535;
const EMPTY = Buffer.alloc(0);

export interface TcpOptions {
  tcp: TcpConfig;
  responder: Responder;
  observer: QueryObserver | null;
  log: Logger;
}

/** Every TCP connection of one engine, over any number of listening servers. */
export class TcpConnections {
  private readonly opts: TcpOptions;
  private readonly sockets = new Set<net.Socket>();
  private readonly out: Buffer;
  private closing = false;

  /** `out` is the engine's response buffer (RESPONSE_BUFFER_SIZE); answers are copied out of it at once. */
  constructor(opts: TcpOptions, out: Buffer) {
    this.opts = opts;
    this.out = out;
  }

  get size(): number {
    return this.sockets.size;
  }

  /** A server whose connections this object answers; the caller calls listen() on it. */
  createServer(): net.Server {
    const server = net.createServer({ noDelay: true }, (socket) => this.onConnection(socket));
    server.maxConnections = this.opts.tcp.maxConnections;
    server.on('drop', () => this.opts.observer?.dropped(DROP_TCP_LIMIT));
    return server;
  }

  private onConnection(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    const family = socket.remoteFamily === 'IPv6' ? 1 : 0;
    let pending: Buffer = EMPTY;
    // Forwarded queries still waiting for an upstream; on shutdown the connection ends after them.
    let forwarding = 0;
    const sendLater = (response: Buffer): void => {
      forwarding--;
      if (socket.destroyed) return;
      const framed = Buffer.allocUnsafe(response.length + 2);
      framed.writeUInt16BE(response.length, 0);
      response.copy(framed, 2);
      socket.write(framed);
      if (this.closing && forwarding === 0) socket.end();
    };
    socket.setTimeout(this.opts.tcp.idleTimeoutMs);
    socket.on('timeout', () => socket.end());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const replies: Buffer[] = [];
      let offset = 0;
      while (pending.length - offset >= 2) {
        const size = pending.readUInt16BE(offset);
        if (size === 0) {
          // A zero-length message cannot be a query and leaves the stream unframed: close.
          socket.destroy();
          return;
        }
        if (pending.length - offset - 2 < size) break;
        const query = pending.subarray(offset + 2, offset + 2 + size);
        offset += 2 + size;
        let n = answerQuery(this.opts.responder, this.opts.observer, query, size, PROTO_TCP, family, this.out);
        if (n === RESPOND_FORWARD) {
          const address = socket.remoteAddress ?? '';
          n = forwardNow(this.opts.responder, this.opts.observer, query, size, address, family, PROTO_TCP, this.out);
          if (n === RESPOND_FORWARD) {
            forwarding++;
            forwardQuery(this.opts.responder, this.opts.observer, query, size, address, family, PROTO_TCP, sendLater);
            continue;
          }
        }
        if (n === 0) continue;
        const reply = Buffer.allocUnsafe(n + 2);
        reply.writeUInt16BE(Math.min(n, MAX_TCP_MESSAGE), 0);
        this.out.copy(reply, 2, 0, n);
        replies.push(reply);
      }
      pending = offset === pending.length ? EMPTY : pending.subarray(offset);
      if (replies.length === 1) socket.write(replies[0]!);
      else if (replies.length > 1) socket.write(Buffer.concat(replies));
      if (this.closing && forwarding === 0) socket.end();
    });
  }

  /** Closes `servers`, ends every connection after its computed answers, destroys stragglers at the deadline. */
  async close(servers: net.Server[]): Promise<void> {
    this.closing = true;
    const closed = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    // Every query already read has been answered synchronously; end() flushes those answers, then FIN.
    for (const socket of this.sockets) socket.end();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => { timer = setTimeout(resolve, DRAIN_DEADLINE_MS); });
    await Promise.race([Promise.all(closed), deadline]);
    clearTimeout(timer);
    for (const socket of this.sockets) socket.destroy();
  }
}
