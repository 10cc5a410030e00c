// One packet-engine interface, two engines: `node` (dgram/net, everywhere) and `native` (the C addon with
// SO_REUSEPORT and recvmmsg/sendmmsg batches). Engines move bytes; the Responder decides what to say.

import type { ListenAddress, TcpConfig } from '../config/types.js';
import type { Responder } from '../server/responder.js';
import type { ClientViews } from '../views/client-views.js';
import type { Logger } from 'pino';
import type { NativeCounters } from '../metrics/dns-counters.js';
import type { RateLimitConfig } from '../rate-limit/config.js';
import type { ListenSockets } from '../takeover/sockets.js';

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
 * Sees client queries and responses as bytes (dnstap, src/dnstap). An engine names the client first, then
 * logs the query and, when `query` said it is sampled, the response (also when a forwarded one comes later).
 */
export interface ClientTap {
  /** The client of the next calls: 16 address bytes at `offset` (IPv4 in the first 4) and its port. */
  clientBytes(ipv6: boolean, bytes: Uint8Array, offset: number, port: number): void;
  /** The same from the address as text (node engine, TCP, forwarded answers). */
  clientText(address: string, port: number): void;
  /** Logs a query (PROTO_UDP/PROTO_TCP); false when sampling skips this exchange. */
  query(proto: number, msg: Buffer, len: number): boolean;
  response(proto: number, msg: Buffer, len: number): void;
}

/**
 * Sees every answer an engine sends (top talkers, src/stats): the response, whose question names the
 * query, and the client. Implementations sample; a call must cost next to nothing when not sampled.
 */
export interface AnswerTap {
  /** `addr[addrOffset..+16)` is the client's address (IPv4 in the first 4 bytes), `family` 4 or 6. */
  answered(response: Buffer, length: number, family: number, addr: Uint8Array, addrOffset: number): void;
  answeredText(response: Buffer, length: number, address: string): void;
  /** A ring for the answers a native UDP socket makes in C (native/observe.h); absent: C answers unseen. */
  nativeRing?(): Buffer;
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
  /** Query logging (dnstap); absent or null: off. The native engine then answers nothing in C. */
  tap?: ClientTap | null;
  /** Top talkers (src/stats); absent or null: off. */
  talkers?: AnswerTap | null;
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
}
