// The portable engine: Node's dgram for UDP and net for TCP, one socket pair per listen address.
// It is the fallback when the native addon is missing and the reference the native engine is tested
// against. Per-packet costs here are Node's (one JS call and one syscall each way per packet).

import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { isIPv6 } from 'node:net';
import { PROTO_TCP, PROTO_UDP, RESPONSE_BUFFER_SIZE, type Responder } from '../server/responder.js';
import type { BoundAddress, EngineOptions, PacketEngine, QueryObserver } from './types.js';

const BIND_ATTEMPTS = 20;
const DRAIN_DEADLINE_MS = 5000;
const MAX_TCP_MESSAGE = 65535;

export const DROP_MALFORMED = 0;
export const DROP_TCP_LIMIT = 1;

interface Pair {
  udp: dgram.Socket;
  tcp: net.Server;
  bound: BoundAddress;
}

export class NodeEngine implements PacketEngine {
  readonly name = 'node';
  private readonly opts: EngineOptions;
  private readonly pairs: Pair[] = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly out = Buffer.allocUnsafe(RESPONSE_BUFFER_SIZE);
  private closing = false;

  constructor(opts: EngineOptions) {
    this.opts = opts;
  }

  get tcpConnections(): number {
    return this.sockets.size;
  }

  async start(): Promise<BoundAddress[]> {
    for (const addr of this.opts.listen) this.pairs.push(await this.bindPair(addr.host, addr.port));
    return this.pairs.map((p) => p.bound);
  }

  /** UDP first, then TCP on the port UDP got (an ephemeral UDP port may be taken for TCP: try again). */
  private async bindPair(host: string, port: number): Promise<Pair> {
    let lastError: unknown = null;
    for (let attempt = 0; attempt < (port === 0 ? BIND_ATTEMPTS : 1); attempt++) {
      const udp = await this.bindUdp(host, port);
      const udpPort = udp.address().port;
      try {
        const tcp = await this.bindTcp(host, udpPort);
        return { udp, tcp, bound: { address: host, port: udpPort } };
      } catch (err) {
        lastError = err;
        udp.close();
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') break;
      }
    }
    throw lastError;
  }

  private bindUdp(host: string, port: number): Promise<dgram.Socket> {
    return new Promise((resolve, reject) => {
      const udp = dgram.createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', ipv6Only: isIPv6(host) });
      udp.once('error', reject);
      udp.bind({ address: host, port, exclusive: true }, () => {
        udp.removeListener('error', reject);
        udp.on('error', (err) => this.opts.log.warn({ err }, 'udp socket error'));
        udp.on('message', (msg, rinfo) => this.onUdp(udp, msg, rinfo));
        resolve(udp);
      });
    });
  }

  private onUdp(udp: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const n = this.answer(msg, msg.length, PROTO_UDP, rinfo.family === 'IPv6' ? 1 : 0);
    if (n === 0) return;
    // dgram may keep the buffer until the kernel takes it, so the shared output buffer cannot be sent
    // directly; allocUnsafe draws from Node's pool, which keeps this cheap.
    const reply = Buffer.allocUnsafe(n);
    this.out.copy(reply, 0, 0, n);
    udp.send(reply, 0, n, rinfo.port, rinfo.address);
  }

  /** Runs the responder and feeds the observer. Returns the response length in `this.out`. */
  private answer(query: Buffer, len: number, proto: number, family: number): number {
    const observer: QueryObserver | null = this.opts.observer;
    const responder: Responder = this.opts.responder;
    if (observer === null) return responder.respond(query, len, proto, this.out);
    const started = performance.now();
    const n = responder.respond(query, len, proto, this.out);
    if (n === 0) {
      observer.dropped(DROP_MALFORMED);
      return 0;
    }
    observer.request(proto, family, responder.lastQtype);
    observer.response(responder.lastRcode, (performance.now() - started) / 1000);
    return n;
  }

  private bindTcp(host: string, port: number): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ noDelay: true }, (socket) => this.onConnection(socket));
      server.maxConnections = this.opts.tcp.maxConnections;
      server.on('drop', () => this.opts.observer?.dropped(DROP_TCP_LIMIT));
      server.once('error', reject);
      server.listen({ host, port, exclusive: true, ipv6Only: isIPv6(host) }, () => {
        server.removeListener('error', reject);
        server.on('error', (err) => this.opts.log.warn({ err }, 'tcp server error'));
        resolve(server);
      });
    });
  }

  /** RFC 7766: length-prefixed messages, many per connection, pipelined; one write per read. */
  private onConnection(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    const family = socket.remoteFamily === 'IPv6' ? 1 : 0;
    let pending: Buffer = Buffer.alloc(0);
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
        const n = this.answer(query, size, PROTO_TCP, family);
        if (n === 0) continue;
        const reply = Buffer.allocUnsafe(n + 2);
        reply.writeUInt16BE(Math.min(n, MAX_TCP_MESSAGE), 0);
        this.out.copy(reply, 2, 0, n);
        replies.push(reply);
      }
      pending = offset === pending.length ? Buffer.alloc(0) : pending.subarray(offset);
      if (replies.length === 1) socket.write(replies[0]!);
      else if (replies.length > 1) socket.write(Buffer.concat(replies));
      if (this.closing) socket.end();
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    const closedServers = this.pairs.map((p) => new Promise<void>((resolve) => p.tcp.close(() => resolve())));
    for (const p of this.pairs) p.udp.close();
    // Every query already read has been answered synchronously; end() flushes those answers, then FIN.
    for (const socket of this.sockets) socket.end();
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, DRAIN_DEADLINE_MS).unref());
    await Promise.race([Promise.all(closedServers), deadline]);
    for (const socket of this.sockets) socket.destroy();
  }
}
