// One packet-engine interface, two engines: `node` (dgram/net, everywhere) and `native` (the C addon with
// SO_REUSEPORT and recvmmsg/sendmmsg batches). Engines move bytes; the Responder decides what to say.

import type { ListenAddress, TcpConfig } from '../config/types.js';
import type { Responder } from '../server/responder.js';
import type { ClientViews } from '../views/client-views.js';
import type { Logger } from 'pino';
import type { NativeCounters } from '../metrics/dns-counters.js';
import type { RateLimitConfig } from '../rate-limit/config.js';
import type { ListenSockets } from '../takeover/sockets.js';
import type { NativeBinding, UdpHandle } from './native-binding.js';
import type { DatagramLink } from '../forward/datagram-link.js';

/** What the metrics layer needs from an engine, per answered query; no allocation. */
export interface QueryObserver {
  request(proto: number, family: number, qtype: number): void;
  response(rcode: number, durationSeconds: number): void;
  /** The same with an integer duration in microseconds (no boxed double per query). */
  responseMicros(rcode: number, micros: number): void;
  dropped(reason: number): void;
  /** A TCP connection kdns closed itself (TCP_CLOSED_* in src/metrics/dns-counters.ts). */
  tcpClosed(reason: number): void;
  /** What the rate limiter did with a UDP response or query (src/rate-limit RL_* actions). */
  rateLimited?(action: number): void;
  /**
   * Where the native engine may count the queries it answers without JavaScript. An observer without it
   * sees every query, so the native engine then answers nothing in C.
   */
  nativeCounters?(): NativeCounters;
}

/**
 * Sees the client exchanges an engine serves, as bytes: dnstap (src/dnstap) and top talkers (src/stats) are
 * the two. Engines keep one list of them (observers.ts) and make the same calls on each: name the client,
 * then the query, then, for each observer whose `query` said it samples this exchange, the response (a
 * forwarded one when it comes back, after naming the client again). Calls must cost next to nothing when
 * the exchange is not sampled.
 */
export interface ExchangeObserver {
  /** The client of the next calls: 16 address bytes at `offset` (IPv4 in the first 4) and its port. */
  clientBytes(ipv6: boolean, bytes: Uint8Array, offset: number, port: number): void;
  /** The same from the address as text (node engine, TCP, forwarded answers). */
  clientText(address: string, port: number): void;
  /** A query (PROTO_UDP/PROTO_TCP) arrives; true when this observer wants its response. */
  query(proto: number, msg: Buffer, len: number): boolean;
  /** The response to a query this observer wanted. */
  response(proto: number, msg: Buffer, len: number): void;
  /**
   * Sees, from now on, the exchanges a native UDP socket answers in C (native/observe.h rings). An observer
   * without it sees every query only if every datagram goes through JavaScript, so the native engine then
   * runs without its C answer cache.
   */
  attachNative?(binding: NativeBinding, handle: UdpHandle): void;
}

export interface EngineOptions {
  listen: ListenAddress[];
  tcp: TcpConfig;
  /** How long close() waits for queries already received to be answered (forwarded ones too); default 5 s. */
  shutdownGraceMs?: number;
  responder: Responder;
  /** Views by client network (src/views): the responder each client's queries go to; absent or null: `responder` for all. */
  views?: ClientViews | null;
  log: Logger;
  observer: QueryObserver | null;
  /** SO_RCVBUF asked for on every UDP socket, in bytes; 0 keeps the kernel's default. */
  udpReceiveBuffer?: number;
  /** Response-rate limiting for UDP (src/rate-limit); absent, null or all rates 0: off. */
  rateLimit?: RateLimitConfig | null;
  /** Its buckets, shared by every worker (src/rate-limit rateLimitTable); absent: the engine's own. */
  rateLimitTable?: SharedArrayBuffer | null;
  /** Who sees the client exchanges (dnstap, top talkers); absent or empty: nobody. */
  exchangeObservers?: readonly ExchangeObserver[];
}

export interface BoundAddress {
  address: string;
  port: number;
}

export interface PacketEngine {
  readonly name: string;
  /** Binds every listen address (UDP and TCP on the same port) and starts answering. */
  start(): Promise<BoundAddress[]>;
  /**
   * Stops reading (UDP and TCP; no new TCP connections), answers what was already received, forwarded
   * queries included, for up to the shutdown grace period, then closes every socket.
   */
  close(): Promise<void>;
  /** Open TCP connections, for metrics and tests. */
  readonly tcpConnections: number;
  /** Datagrams the kernel dropped on this engine's UDP sockets because their receive queue was full. */
  readonly udpReceiveDrops: number;
  /**
   * The socket fds a successor may take over (src/takeover); absent on the node engine, whose dgram
   * sockets no successor could adopt.
   */
  readonly sockets?: ListenSockets[];
  /**
   * How the forwarder's UDP queries should reach its upstreams with this engine (Forwarder.setDatagramLink):
   * the native engine's link in C; absent: Node's dgram sockets.
   */
  upstreamLink?(): DatagramLink | null;
}
