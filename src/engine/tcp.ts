// DNS over TCP (RFC 7766), shared by both engines: they differ only in how the listening socket is made
// (node: `listen({ host, port })`; native: an SO_REUSEPORT fd from the addon, `listen({ fd })`).
// Length-prefixed messages, many per connection, pipelined; all answers to one read go out in one write.
// A zone transfer (src/transfer) is one query answered by many messages, written as they come back.
//
// What no client can do here (each is a closed connection, counted in kdns_tcp_connections_closed_total):
// - hold a slot by idling: after tcp.idle-timeout without traffic the connection is closed outright
//   (an `end()` would wait for the client's FIN, and the slot with it);
// - lock others out by holding many: at tcp.max-connections the longest-idle connection is closed to admit
//   the new one (RFC 7766 §6.2.3), instead of refusing it;
// - keep a connection by dripping bytes: a message must arrive whole within tcp.message-timeout of its
//   first byte, and bytes do not extend that;
// - pile up work: at tcp.max-queries-in-flight unanswered forwards, or while answers wait in memory for a
//   client that does not read them, kdns reads nothing more from the connection.
// A client's half-close (FIN) ends its input only: the answers to every query it sent before, forwarded
// ones included, are written before kdns ends its side (allowHalfOpen). Shutdown does the same for every
// connection (`stopReading`), then `settled()` says when all are done.

import net from 'node:net';
import type { Logger } from 'pino';
import type { TcpConfig } from '../config/types.js';
import { TCP_CLOSED_DEADLINE, TCP_CLOSED_EVICTED, TCP_CLOSED_IDLE } from '../metrics/dns-counters.js';
import { PROTO_TCP, RESPOND_FORWARD, type Responder } from '../server/responder.js';
import type { ClientViews } from '../views/client-views.js';
import { answerQuery, forwardNow, forwardQuery, responderFor, type ForwardSink } from './answer.js';
import { ExchangeObservers } from './observers.js';
import type { ExchangeObserver, QueryObserver } from './types.js';

const MAX_TCP_MESSAGE = 65535;
const EMPTY = Buffer.alloc(0);

export interface TcpOptions {
  tcp: TcpConfig;
  responder: Responder;
  /** Views by client network (src/views): the responder each connection's queries go to; absent or null: `responder`. */
  views?: ClientViews | null;
  observer: QueryObserver | null;
  log: Logger;
  /** dnstap, top talkers (types.ts ExchangeObserver); absent or empty: nobody. */
  exchangeObservers?: readonly ExchangeObserver[];
}

/** One client connection: its unread bytes, its forwarded queries, and what may close it. */
class Connection {
  readonly socket: net.Socket;
  readonly family: number;
  readonly address: string;
  readonly port: number;
  /** Bytes read but not yet answered: the start of a message, or whole ones while throttled. */
  pending: Buffer = EMPTY;
  /** Forwarded queries whose answers are still owed. */
  forwarding = 0;
  /** No more input is taken: the client half-closed, or kdns is shutting down. Owed answers still go out. */
  inputDone = false;
  /** `end()` was called: our FIN follows the answers already written. */
  ended = false;
  /** Reading is paused because `forwarding` reached tcp.max-queries-in-flight. */
  throttled = false;
  /** Reading is paused until the answers written so far drain to the kernel (a client slow to read them). */
  waitingDrain = false;
  /** Armed at the first byte of a message that has not arrived whole yet (tcp.message-timeout). */
  deadline: NodeJS.Timeout | null = null;

  constructor(socket: net.Socket) {
    this.socket = socket;
    this.family = socket.remoteFamily === 'IPv6' ? 1 : 0;
    this.address = socket.remoteAddress ?? '';
    this.port = socket.remotePort ?? 0;
  }
}

/** Every TCP connection of one engine, over any number of listening servers. */
export class TcpConnections {
  private readonly opts: TcpOptions;
  /** In order of last activity (a whole query read, an answer written): the first is the longest idle. */
  private readonly connections = new Set<Connection>();
  private readonly out: Buffer;
  private closing = false;
  private onSettled: (() => void) | null = null;
  private readonly exchanges: ExchangeObservers | null;

  /** `out` is the engine's response buffer (RESPONSE_BUFFER_SIZE); answers are copied out of it at once. */
  constructor(opts: TcpOptions, out: Buffer) {
    this.opts = opts;
    this.out = out;
    this.exchanges = ExchangeObservers.of(opts.exchangeObservers);
  }

  get size(): number {
    return this.connections.size;
  }

  /** A server whose connections this object answers; the caller calls listen() on it. */
  createServer(): net.Server {
    // No server.maxConnections: Node would refuse at the cap, and the cap here evicts instead.
    return net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.accept(socket));
  }

  private accept(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (this.connections.size >= this.opts.tcp.maxConnections) this.evictLongestIdle();
    const conn = new Connection(socket);
    this.connections.add(conn);
    socket.setTimeout(this.opts.tcp.idleTimeoutMs);
    socket.on('timeout', () => this.onIdle(conn));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.forget(conn));
    socket.on('end', () => this.onEnd(conn));
    socket.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    socket.on('drain', () => {
      conn.waitingDrain = false;
      this.resume(conn);
    });
  }

  /** The longest-idle connection that owes no forwarded answer; failing that, the longest idle. */
  private evictLongestIdle(): void {
    let victim: Connection | null = null;
    for (const conn of this.connections) {
      if (conn.forwarding === 0) {
        victim = conn;
        break;
      }
      victim ??= conn;
    }
    if (victim === null) return;
    this.closeFor(victim, TCP_CLOSED_EVICTED);
  }

  /** Closes `conn` now, counting why; the slot is free at once (no waiting for the client's FIN). */
  private closeFor(conn: Connection, reason: number): void {
    this.opts.observer?.tcpClosed(reason);
    this.forget(conn);
    conn.socket.destroy();
  }

  private forget(conn: Connection): void {
    if (conn.deadline !== null) clearTimeout(conn.deadline);
    conn.deadline = null;
    if (!this.connections.delete(conn)) return;
    if (this.closing) this.checkSettled();
  }

  private touch(conn: Connection): void {
    // Re-inserting moves it to the end of the Set: the order stays "longest idle first".
    if (this.connections.delete(conn)) this.connections.add(conn);
  }

  private onIdle(conn: Connection): void {
    if (conn.forwarding > 0) {
      // Not idle: kdns owes it an answer, and the forwarder's own timeouts bound that wait.
      conn.socket.setTimeout(this.opts.tcp.idleTimeoutMs);
      return;
    }
    this.closeFor(conn, TCP_CLOSED_IDLE);
  }

  private onData(conn: Connection, chunk: Buffer): void {
    if (conn.inputDone) return; // after a half-close or during shutdown: read only so the close is clean
    conn.pending = conn.pending.length === 0 ? chunk : Buffer.concat([conn.pending, chunk]);
    this.readMessages(conn);
  }

  /** The client half-closed: what it sent whole is answered, a partial message is dropped, then our FIN. */
  private onEnd(conn: Connection): void {
    this.stopInput(conn);
    this.finishIfDone(conn);
  }

  private stopInput(conn: Connection): void {
    conn.inputDone = true;
    if (conn.deadline !== null) clearTimeout(conn.deadline);
    conn.deadline = null;
    // Keep reading (and discarding) so that closing never meets unread bytes, which would make it a reset.
    conn.socket.resume();
  }

  /** Reads again once nothing holds the connection paused; a partial message gets a fresh deadline. */
  private resume(conn: Connection): void {
    if (conn.inputDone || conn.throttled || conn.waitingDrain) return;
    conn.socket.resume();
    this.armDeadline(conn, false);
  }

  /** Answers every whole message in `conn.pending` (until throttled), in one write. */
  private readMessages(conn: Connection): void {
    const socket = conn.socket;
    const pending = conn.pending;
    const maxInFlight = this.opts.tcp.maxQueriesInFlightPerConnection;
    const replies: Buffer[] = [];
    let offset = 0;
    while (pending.length - offset >= 2 && conn.forwarding < maxInFlight) {
      const size = pending.readUInt16BE(offset);
      if (size === 0) {
        // A zero-length message cannot be a query and leaves the stream unframed: close.
        socket.destroy();
        return;
      }
      if (pending.length - offset - 2 < size) break;
      const reply = this.answer(conn, pending.subarray(offset + 2, offset + 2 + size), size);
      offset += 2 + size;
      if (reply !== null) replies.push(reply);
    }
    conn.pending = offset === pending.length ? EMPTY : pending.subarray(offset);
    if (offset > 0) this.touch(conn);
    if (replies.length === 1) socket.write(replies[0]!);
    else if (replies.length > 1) socket.write(Buffer.concat(replies));
    conn.throttled = conn.forwarding >= maxInFlight;
    if (socket.writableNeedDrain) conn.waitingDrain = true;
    if ((conn.throttled || conn.waitingDrain) && !conn.inputDone) socket.pause();
    this.armDeadline(conn, offset > 0);
    this.finishIfDone(conn);
  }

  /** One query: the framed answer, or null (dropped, or forwarded: written later by writeLater). */
  private answer(conn: Connection, query: Buffer, size: number): Buffer | null {
    const { observer } = this.opts;
    const responder = responderFor(this.opts, conn.address);
    const exchanges = this.exchanges;
    const sampled = exchanges === null ? 0 : exchanges.queryFromText(conn.address, conn.port, PROTO_TCP, query, size);
    let n = answerQuery(responder, observer, query, size, PROTO_TCP, conn.family, this.out);
    if (n === RESPOND_FORWARD) {
      n = forwardNow(responder, observer, query, size, conn.address, conn.family, PROTO_TCP, this.out);
      if (n === RESPOND_FORWARD) {
        conn.forwarding++;
        forwardQuery(responder, observer, query, size, conn.address, conn.family, PROTO_TCP, this.forwardSink, { conn, sampled });
        return null;
      }
    }
    if (n === 0) return null;
    if (sampled !== 0) exchanges!.response(sampled, PROTO_TCP, this.out, n);
    const reply = Buffer.allocUnsafe(n + 2);
    reply.writeUInt16BE(Math.min(n, MAX_TCP_MESSAGE), 0);
    this.out.copy(reply, 2, 0, n);
    return reply;
  }

  /** False when the connection is gone and the answer was not written. */
  private writeLater(conn: Connection, response: Buffer): boolean {
    if (conn.socket.destroyed || conn.ended) return false;
    const framed = Buffer.allocUnsafe(response.length + 2);
    framed.writeUInt16BE(response.length, 0);
    response.copy(framed, 2);
    conn.socket.write(framed);
    this.touch(conn);
    // A zone transfer writes many messages: a client that does not read them stops being read too.
    if (conn.socket.writableNeedDrain && !conn.waitingDrain) {
      conn.waitingDrain = true;
      if (!conn.inputDone) conn.socket.pause();
    }
    return true;
  }

  private forwardSettled(conn: Connection): void {
    conn.forwarding--;
    if (conn.socket.destroyed) return;
    if (conn.throttled && conn.forwarding < this.opts.tcp.maxQueriesInFlightPerConnection) {
      conn.throttled = false;
      this.readMessages(conn); // the whole messages read while throttled
      this.resume(conn);
      return;
    }
    this.finishIfDone(conn);
  }

  /**
   * tcp.message-timeout runs from a message's first byte: armed when a partial message is left over and
   * none was armed (or a whole message was just read, so the partial one is new); cleared while kdns is
   * not reading (the wait is then kdns's, not the client's) and when no partial message is left.
   */
  private armDeadline(conn: Connection, progressed: boolean): void {
    const waiting = !conn.inputDone && !conn.throttled && !conn.waitingDrain && conn.pending.length > 0;
    if (waiting && conn.deadline !== null && !progressed) return;
    if (conn.deadline !== null) clearTimeout(conn.deadline);
    conn.deadline = waiting ? setTimeout(this.deadlinePassed, this.opts.tcp.messageTimeoutMs, conn) : null;
  }

  /** Where every forwarded TCP answer goes: framed onto its connection, which counts it as settled after. */
  private readonly forwardSink: ForwardSink<{ conn: Connection; sampled: number }> = {
    send: (r, { conn, sampled }) => {
      if (this.writeLater(conn, r) && sampled !== 0) this.exchanges!.laterFromText(sampled, conn.address, conn.port, PROTO_TCP, r);
    },
    settled: ({ conn }) => this.forwardSettled(conn),
  };

  private readonly deadlinePassed = (conn: Connection): void => {
    conn.deadline = null;
    this.closeFor(conn, TCP_CLOSED_DEADLINE);
  };

  /** Ends our side once input is over and every answer owed has been written. */
  private finishIfDone(conn: Connection): void {
    if (!conn.inputDone || conn.ended || conn.forwarding > 0 || conn.throttled || conn.socket.destroyed) return;
    conn.ended = true;
    conn.pending = EMPTY; // a partial message the client will never complete
    // end() flushes the answers already written, then sends FIN; the socket closes when the client's FIN comes.
    conn.socket.end(() => {
      if (this.closing) this.checkSettled();
    });
  }

  /**
   * Shutdown, first step: closes `servers` (no new connections) and stops reading every connection; each
   * ends once the answers it is owed (forwarded ones too) are written. Then await settled().
   */
  stopReading(servers: net.Server[]): void {
    this.closing = true;
    for (const server of servers) server.close();
    for (const conn of [...this.connections]) {
      this.stopInput(conn);
      this.finishIfDone(conn);
    }
  }

  /** Resolves when every connection has written all it owes and sent FIN (or is closed). After stopReading. */
  settled(): Promise<void> {
    return new Promise((resolve) => {
      this.onSettled = resolve;
      this.checkSettled();
    });
  }

  private checkSettled(): void {
    if (this.onSettled === null) return;
    for (const conn of this.connections) if (!conn.socket.writableFinished) return;
    const resolve = this.onSettled;
    this.onSettled = null;
    resolve();
  }

  /** Shutdown, last step: closes whatever is left (the grace period is over, or all is settled). */
  destroyAll(): void {
    for (const conn of [...this.connections]) {
      this.forget(conn);
      conn.socket.destroy();
    }
  }
}
