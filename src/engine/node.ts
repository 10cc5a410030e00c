// The portable engine: Node's dgram for UDP and net for TCP, one socket pair per listen address.
// It is the fallback when the native addon is missing and the reference the native engine is tested
// against. Per-packet costs here are Node's (one JS call and one syscall each way per packet).

import dgram from 'node:dgram';
import type net from 'node:net';
import { isIPv6 } from 'node:net';
import { PROTO_UDP, RESPOND_FORWARD, RESPONSE_BUFFER_SIZE } from '../server/responder.js';
import { literalLookup } from '../util/literal-lookup.js';
import { bindUdpThenTcp } from './bind-pair.js';
import { answerQuery, forwardNow, forwardQuery, responderFor, type ForwardSink } from './answer.js';
import { ExchangeObservers } from './observers.js';
import { answerOwed, InFlight } from './in-flight.js';
import { logReceiveBuffer } from './receive-buffer.js';
import { udpReceiveDrops } from './udp-drops.js';
import { TcpConnections } from './tcp.js';
import { createRateLimiter, type RateLimiter } from '../rate-limit/index.js';
import type { BoundAddress, EngineOptions, PacketEngine } from './types.js';

interface Pair {
  udp: dgram.Socket;
  tcp: net.Server;
  bound: BoundAddress;
}

export class NodeEngine implements PacketEngine {
  readonly name = 'node';
  private readonly opts: EngineOptions;
  private readonly pairs: Pair[] = [];
  private readonly out = Buffer.allocUnsafe(RESPONSE_BUFFER_SIZE);
  private readonly tcp: TcpConnections;
  private readonly udpForwards = new InFlight();
  /** Where every forwarded UDP answer goes: one sink, each query's client passed along. */
  private readonly forwardSink: ForwardSink<UdpPeer> = {
    send: (response, peer) => {
      const limiter = this.limiter;
      const limited = limiter === null ? response : limitForwarded(limiter, response, peer.address);
      if (limited === null) return;
      peer.udp.send(limited, peer.port, peer.address);
      if (peer.sampled !== 0) this.exchanges!.laterFromText(peer.sampled, peer.address, peer.port, PROTO_UDP, limited);
    },
    settled: () => this.udpForwards.end(),
  };
  /** Shutting down: datagrams still arriving are dropped (Node 20's dgram cannot stop reading a socket). */
  private closing = false;
  /** UDP only: TCP is never rate limited (a slipped client retries there). */
  private readonly limiter: RateLimiter | null;
  private readonly exchanges: ExchangeObservers | null;

  constructor(opts: EngineOptions) {
    this.opts = opts;
    this.tcp = new TcpConnections(opts, this.out);
    this.limiter = createRateLimiter(opts.rateLimit, opts.observer, opts.log, opts.rateLimitTable);
    this.exchanges = ExchangeObservers.of(opts.exchangeObservers);
  }

  get tcpConnections(): number {
    return this.tcp.size;
  }

  /** By local address: a dgram socket is bound exclusively, so nothing else of ours shares it. */
  get udpReceiveDrops(): number {
    return udpReceiveDrops(this.pairs.map((p) => ({ host: p.bound.address, port: p.bound.port })));
  }

  async start(): Promise<BoundAddress[]> {
    for (const addr of this.opts.listen) this.pairs.push(await this.bindPair(addr.host, addr.port));
    return this.pairs.map((p) => p.bound);
  }

  /** UDP first, then TCP on the port UDP got (see bind-pair.ts). */
  private async bindPair(host: string, port: number): Promise<Pair> {
    const bound = await bindUdpThenTcp(
      port,
      async (p) => {
        const socket = await this.bindUdp(host, p);
        return { socket, port: socket.address().port };
      },
      (p) => this.bindTcp(host, p),
      (udp) => udp.close(),
    );
    return { udp: bound.udp, tcp: bound.tcp, bound: { address: host, port: bound.port } };
  }

  private bindUdp(host: string, port: number): Promise<dgram.Socket> {
    return new Promise((resolve, reject) => {
      const requested = this.opts.udpReceiveBuffer ?? 0;
      // dgram sets SO_RCVBUF (capped by net.core.rmem_max; it cannot force past it) when it binds.
      const udp = dgram.createSocket({
        type: isIPv6(host) ? 'udp6' : 'udp4', ipv6Only: isIPv6(host), lookup: literalLookup,
        ...(requested > 0 ? { recvBufferSize: requested } : {}),
      });
      udp.once('error', reject);
      udp.bind({ address: host, port, exclusive: true }, () => {
        udp.removeListener('error', reject);
        logReceiveBuffer(this.opts.log, `${host}:${udp.address().port}`, requested, udp.getRecvBufferSize());
        udp.on('error', (err) => this.opts.log.warn({ err }, 'udp socket error'));
        udp.on('message', (msg, rinfo) => this.onUdp(udp, msg, rinfo));
        resolve(udp);
      });
    });
  }

  private onUdp(udp: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closing) return;
    const family = rinfo.family === 'IPv6' ? 1 : 0;
    const limiter = this.limiter;
    if (limiter !== null) {
      limiter.clientFromText(rinfo.address);
      if (!limiter.admitQuery()) return;
    }
    const exchanges = this.exchanges;
    const sampled = exchanges === null ? 0 : exchanges.queryFromText(rinfo.address, rinfo.port, PROTO_UDP, msg, msg.length);
    const responder = responderFor(this.opts, rinfo.address);
    let n = answerQuery(responder, this.opts.observer, msg, msg.length, PROTO_UDP, family, this.out);
    if (n === RESPOND_FORWARD) {
      const now = forwardNow(responder, this.opts.observer, msg, msg.length, rinfo.address, family, PROTO_UDP, this.out);
      if (now === RESPOND_FORWARD) {
        this.udpForwards.begin();
        forwardQuery(responder, this.opts.observer, msg, msg.length, rinfo.address, family, PROTO_UDP, this.forwardSink,
          { udp, address: rinfo.address, port: rinfo.port, sampled });
        return;
      }
      n = now;
    }
    if (limiter !== null) n = limiter.limitResponse(this.out, n);
    if (n === 0) return;
    if (sampled !== 0) exchanges!.response(sampled, PROTO_UDP, this.out, n);
    // dgram may keep the buffer until the kernel takes it, so the shared output buffer cannot be sent
    // directly; allocUnsafe draws from Node's pool, which keeps this cheap.
    const reply = Buffer.allocUnsafe(n);
    reply.set(this.out.subarray(0, n));
    udp.send(reply, rinfo.port, rinfo.address); // no offset/length: those make dgram slice the buffer again
  }

  private bindTcp(host: string, port: number): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      const server = this.tcp.createServer();
      server.once('error', reject);
      server.listen({ host, port, exclusive: true, ipv6Only: isIPv6(host) }, () => {
        server.removeListener('error', reject);
        server.on('error', (err) => this.opts.log.warn({ err }, 'tcp server error'));
        resolve(server);
      });
    });
  }

  async close(): Promise<void> {
    // Stop taking queries (no new TCP connections, UDP datagrams ignored), answer what is owed within the
    // grace period, then close every socket.
    this.closing = true;
    this.tcp.stopReading(this.pairs.map((p) => p.tcp));
    await answerOwed(this.opts, this.udpForwards, this.tcp);
    for (const p of this.pairs) p.udp.close();
    this.tcp.destroyAll();
  }
}

/** A forwarded answer arrives later, after other clients' queries: set its client again first. */
/** Who a forwarded UDP answer goes to. */
interface UdpPeer {
  udp: dgram.Socket;
  address: string;
  port: number;
  sampled: number;
}

function limitForwarded(limiter: RateLimiter, response: Buffer, address: string): Buffer | null {
  limiter.clientFromText(address);
  return limiter.limitLater(response);
}
