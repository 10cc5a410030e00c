// The fast engine: per listen address one UDP socket driven by the addon's batch loop (recvmmsg → one JS call
// per batch → sendmmsg) and one TCP listener fd handed to net.Server. With `reusePort` both sockets carry
// SO_REUSEPORT, so every worker thread can run its own NativeEngine on the same port and the kernel spreads
// the packets. Buffers and per-slot views are made once at start; the batch callback allocates nothing.

import type net from 'node:net';
import { DROP_MALFORMED, DROP_OTHER, DROP_SEND_ERROR, FAMILY_V4, FAMILY_V6 } from '../metrics/dns-counters.js';
import { PROTO_UDP, RESPOND_FORWARD, RESPONSE_BUFFER_SIZE, type Responder } from '../server/responder.js';
import { bindUdpThenTcp } from './bind-pair.js';
import { answerQueryTimed, forwardNow, forwardQuery, type ForwardSink } from './answer.js';
import { performance } from 'node:perf_hooks';
import { fstatSync } from 'node:fs';
import {
  H_BATCHES, H_NATIVE, H_RX_PACKETS, H_RX_TRUNCATED, H_TX_DROPPED, H_TX_ERRORS, H_TX_PACKETS, IN_LEN_ANSWERED, META_HEADER,
  META_STRIDE, S_ADDR, S_FAMILY, S_IN_LEN, S_OUT_LEN, S_PORT, S_SCOPE, loadNative, nativeUnavailableReason, type NativeBinding,
  type UdpHandle,
} from './native-binding.js';
import { NativeAnswerCache, type NativeCacheStats } from './native-cache.js';
import { answerOwed, InFlight } from './in-flight.js';
import { logReceiveBuffer } from './receive-buffer.js';
import { udpReceiveDrops, type UdpSocketId } from './udp-drops.js';
import { TcpConnections } from './tcp.js';
import { createRateLimiter, type RateLimiter } from '../rate-limit/index.js';
import type { BoundAddress, EngineOptions, PacketEngine, QueryObserver } from './types.js';
import { ExchangeObservers } from './observers.js';
import type { Logger } from 'pino';
import type { ClientViews } from '../views/client-views.js';
import { socketsFor, type ListenSockets } from '../takeover/sockets.js';
import type { DatagramLink } from '../forward/datagram-link.js';
import { LateAnswers } from './late-answers.js';
import { NativeUpstreamLink } from './native-upstream-link.js';

export const DEFAULT_BATCH = 64;
/** Bytes per receive slot: a larger query is dropped (and counted) by the addon. */
const IN_SLOT = 4096;
/** The responder writes the whole compiled answer before it truncates for UDP, so a slot holds any message. */
const OUT_SLOT = Math.ceil(RESPONSE_BUFFER_SIZE / 64) * 64;
const TCP_BACKLOG = 511;
const LOG_EVERY = 1000;

export interface NativeEngineOptions extends EngineOptions {
  /** SO_REUSEPORT on both sockets, so other engines (worker threads) may bind the same port. Default false. */
  reusePort?: boolean;
  /** Datagrams per recvmmsg/sendmmsg and per JS call (1-1024). Default 64. */
  batchSize?: number;
  /** The addon; loaded with loadNative() when omitted. */
  binding?: NativeBinding;
  /**
   * Answer UDP table hits in C from a copy of the responder's compiled answers (NativeAnswerCache).
   * Default true; false sends every datagram through JavaScript (for comparison and diagnosis).
   */
  answerCache?: boolean;
  /**
   * Name of the process-global C tables (native/answer_cache.c) the engines of one server share, one per
   * worker thread; absent: this engine's tables are its own.
   */
  sharedTables?: string;
  /**
   * Sockets handed over by the kdns this one takes over (src/takeover): served instead of binding new
   * ones for their address (a worker that gets none for an address binds one into the same group).
   */
  adopted?: readonly ListenSockets[];
}

/** Counters of every UDP socket of an engine (the addon's meta header, summed). */
export interface NativeUdpStats {
  rxPackets: number;
  txPackets: number;
  txDropped: number;
  txErrors: number;
  rxTruncated: number;
  batches: number;
  /** Queries answered by the native answer cache, without JavaScript. */
  nativeAnswers: number;
}

/** One UDP socket: its buffers, the views the responder writes through, and the batch callback. */
class UdpPort {
  readonly meta: Int32Array;
  /** The meta header as the addon writes it: uint32 counters that wrap at 2^32. */
  readonly counters: Uint32Array;
  /** Each counter's running total since start: fold() adds the wrapped differences (exact to 2^53). */
  private readonly totals = new Float64Array(META_HEADER);
  private readonly lastSeen = new Uint32Array(META_HEADER);
  /** The socket's inode, to find its kernel drop count in /proc/net/udp. */
  inode = 0;
  private readonly inViews: Buffer[] = [];
  private readonly outViews: Buffer[] = [];
  private readonly responder: Responder;
  private readonly observer: QueryObserver | null;
  private readonly log: Logger;
  private seenTxDropped = 0;
  private seenTxErrors = 0;
  private failures = 0;
  handle: UdpHandle | null = null;
  readonly inBuf: Buffer;
  readonly outBuf: Buffer;
  /** Bound once here, so the addon calls the same function every batch. */
  readonly onBatch: (count: number) => void;

  private readonly binding: NativeBinding;
  /** Forwarded answers, sent many per sendmmsg. */
  private readonly late: LateAnswers;
  /** peerText's last peer (family, 4 address words) and its text. */
  private readonly lastPeer = new Int32Array(5);
  private lastPeerText = '';
  private perQueryMicros = 0;
  /** The addon counts unsent answers into the observer's counters itself (an answer cache with counters). */
  private readonly nativeCounted: boolean;
  /** The engine's forwarded queries still owed an answer (waited for on shutdown). */
  private readonly forwards: InFlight;

  /** UDP response-rate limiting (src/rate-limit); the peer's address bytes are read through metaBytes. */
  private readonly limiter: RateLimiter | null;
  private readonly metaBytes: Uint8Array;
  /** dnstap and top talkers: the exchanges JS answers; the ones made in C go to their native rings. */
  private readonly exchanges: ExchangeObservers | null;
  /** Views (src/views): the responder of each datagram's client; null: `responder` answers all. */
  private readonly views: ClientViews | null;

  constructor(
    batch: number, responder: Responder, observer: QueryObserver | null, log: Logger, binding: NativeBinding, nativeCounted: boolean,
    forwards: InFlight,
    limiter: RateLimiter | null,
    exchanges: ExchangeObservers | null,
    views: ClientViews | null,
  ) {
    this.exchanges = exchanges;
    this.views = views;
    this.limiter = limiter;
    this.binding = binding;
    this.late = new LateAnswers(binding, () => this.handle);
    this.forwards = forwards;
    this.nativeCounted = nativeCounted;
    this.responder = responder;
    this.observer = observer;
    this.log = log;
    // allocUnsafeSlow: outside Node's pool, and the untouched tail of each output slot never becomes resident.
    this.inBuf = Buffer.allocUnsafeSlow(batch * IN_SLOT);
    this.outBuf = Buffer.allocUnsafeSlow(batch * OUT_SLOT);
    this.meta = new Int32Array(META_HEADER + batch * META_STRIDE);
    this.counters = new Uint32Array(this.meta.buffer, this.meta.byteOffset, META_HEADER);
    this.metaBytes = new Uint8Array(this.meta.buffer);
    for (let i = 0; i < batch; i++) {
      this.inViews.push(this.inBuf.subarray(i * IN_SLOT, (i + 1) * IN_SLOT));
      this.outViews.push(this.outBuf.subarray(i * OUT_SLOT, (i + 1) * OUT_SLOT));
    }
    this.onBatch = this.batch.bind(this);
  }

  private batch(count: number): void {
    if (this.observer !== null && !this.nativeCounted) this.reportSendDrops(this.observer);
    const started = performance.now();
    let i = 0;
    // The try sits outside the per-packet loop; a throw (a bug: the responder does not throw) costs that
    // one packet, and the loop resumes after it.
    while (i < count) {
      try {
        for (; i < count; i++) this.answer(i);
      } catch (err) {
        this.meta[META_HEADER + i * META_STRIDE + S_OUT_LEN] = 0;
        this.observer?.dropped(DROP_OTHER);
        if (this.failures++ % LOG_EVERY === 0) this.log.error({ err, failures: this.failures }, 'udp query failed');
        i++;
      }
    }
    // Each query of the next batch is reported with this batch's cost per query: one clock read per batch.
    this.perQueryMicros = Math.round(((performance.now() - started) * 1000) / count) | 0;
  }

  private answer(i: number): void {
    const meta = this.meta;
    const base = META_HEADER + i * META_STRIDE;
    const len = meta[base + S_IN_LEN]!;
    if (len === IN_LEN_ANSWERED) return; // the answer cache did it; OUT_LEN is set
    if (len === 0) {
      // Larger than a slot (the addon truncated it): not a query we can read.
      meta[base + S_OUT_LEN] = 0;
      this.observer?.dropped(DROP_MALFORMED);
      return;
    }
    const limiter = this.limiter;
    if (limiter !== null) {
      limiter.clientFromBytes(meta[base + S_FAMILY]!, this.metaBytes, (base + S_ADDR) * 4);
      if (!limiter.admitQuery()) {
        meta[base + S_OUT_LEN] = 0;
        return;
      }
    }
    const family = meta[base + S_FAMILY] === 6 ? FAMILY_V6 : FAMILY_V4;
    const exchanges = this.exchanges;
    const sampled = exchanges === null ? 0
      : exchanges.queryFromBytes(family === FAMILY_V6, this.metaBytes, (base + S_ADDR) * 4, meta[base + S_PORT]!, PROTO_UDP, this.inViews[i]!, len);
    const views = this.views;
    // The same pick as native/views.c makes for the answers it gives in C, from the same bytes.
    const responder = views === null ? this.responder : views.forBytes(meta[base + S_FAMILY]!, this.metaBytes, (base + S_ADDR) * 4);
    let n = answerQueryTimed(responder, this.observer, this.inViews[i]!, len, PROTO_UDP, family, this.outViews[i]!, this.perQueryMicros);
    if (n === RESPOND_FORWARD) {
      // A forwarded cache hit goes out in this batch; only real upstream work leaves it.
      const address = this.peerText(base);
      n = forwardNow(responder, this.observer, this.inViews[i]!, len, address, family, PROTO_UDP, this.outViews[i]!);
      if (n === RESPOND_FORWARD) {
        meta[base + S_OUT_LEN] = 0;
        this.forward(responder, i, len, family, address, sampled);
        return;
      }
    }
    const out = limiter === null ? n : limiter.limitResponse(this.outViews[i]!, n);
    meta[base + S_OUT_LEN] = out;
    if (sampled !== 0 && out > 0) exchanges!.response(sampled, PROTO_UDP, this.outViews[i]!, out);
  }

  /**
   * The peer's address of slot `base` as text (the forwarder's ACL and logs take text); the last one is kept,
   * since consecutive forwarded queries mostly come from the same few clients (a node's pods, a CoreDNS).
   */
  private peerText(base: number): string {
    const m = this.meta;
    const fam = m[base + S_FAMILY]!;
    const a = base + S_ADDR;
    const last = this.lastPeer;
    if (fam === last[0] && m[a] === last[1] && m[a + 1] === last[2] && m[a + 2] === last[3] && m[a + 3] === last[4]) return this.lastPeerText;
    const addr = Buffer.from(m.buffer, m.byteOffset + a * 4, 16);
    this.lastPeerText = fam === 6 ? ipv6Text(addr) : `${addr[0]}.${addr[1]}.${addr[2]}.${addr[3]}`;
    last[0] = fam;
    for (let k = 0; k < 4; k++) last[k + 1] = m[a + k]!;
    return this.lastPeerText;
  }

  /** The slow path: the peer's address is copied out of the slot now, the answer is sent on its own later. */
  private forward(responder: Responder, i: number, len: number, family: number, text: string, sampled: number): void {
    const m = this.meta;
    const base = META_HEADER + i * META_STRIDE;
    const a = base + S_ADDR; // the address words are copied: the slot is reused
    // A link-local client is reachable only through its interface: its scope goes along.
    const peer = new ForwardedPeer(m[base + S_FAMILY]!, m[base + S_PORT]!, m[base + S_SCOPE]! >>> 0, m[a]!, m[a + 1]!, m[a + 2]!, m[a + 3]!, sampled);
    this.forwards.begin();
    forwardQuery(responder, this.observer, this.inViews[i]!, len, text, family, PROTO_UDP, this.forwardSink, peer);
  }

  /** Where every forwarded answer of this engine goes: one sink, each query's peer passed along. */
  private readonly forwardSink: ForwardSink<ForwardedPeer> = {
    send: (response, peer) => {
      if (this.handle === null) return;
      const limited = this.limiter === null ? response : limitForwarded(this.limiter, response, peer.fam, peer.addrBytes());
      if (limited === null) return;
      this.late.add(limited, peer.fam, peer.port, peer.a0, peer.a1, peer.a2, peer.a3, peer.scope);
      if (peer.sampled !== 0) this.exchanges!.laterFromBytes(peer.sampled, peer.fam === 6, peer.addrBytes(), 0, peer.port, PROTO_UDP, limited);
    },
    settled: () => this.forwards.end(),
  };

  /** Sends the forwarded answers staged so far (before the socket closes). */
  flushLate(): void {
    this.late.flush();
  }

  /**
   * The header counters as totals that never go back: a counter that wrapped since the last call counts
   * its distance modulo 2^32 (exact as long as calls come less than 2^32 packets apart: hours at line rate).
   */
  fold(): Float64Array {
    const c = this.counters;
    for (let i = 0; i < META_HEADER; i++) {
      this.totals[i] += (c[i]! - this.lastSeen[i]!) >>> 0;
      this.lastSeen[i] = c[i]!;
    }
    return this.totals;
  }

  /** Answers the kernel refused in earlier batches (the addon counts them after the JS call returns). */
  private reportSendDrops(observer: QueryObserver): void {
    const dropped = this.counters[H_TX_DROPPED]!;
    const errors = this.counters[H_TX_ERRORS]!;
    let lost = ((dropped - this.seenTxDropped) >>> 0) + ((errors - this.seenTxErrors) >>> 0);
    this.seenTxDropped = dropped;
    this.seenTxErrors = errors;
    for (; lost > 0; lost--) observer.dropped(DROP_SEND_ERROR);
  }
}

/**
 * Who a forwarded answer goes to, copied out of the batch's slot (the slot is reused): the address as the
 * four int32 words of meta's ADDR, so a miss allocates no Buffer for it.
 */
class ForwardedPeer {
  constructor(
    readonly fam: number, readonly port: number, readonly scope: number,
    readonly a0: number, readonly a1: number, readonly a2: number, readonly a3: number,
    readonly sampled: number,
  ) {}

  /** The 16 address bytes (the rate limiter and the exchange observers take bytes). */
  addrBytes(): Buffer {
    return Buffer.from(Int32Array.of(this.a0, this.a1, this.a2, this.a3).buffer);
  }
}

/** A forwarded answer arrives after its batch, when the limiter has moved on: set its client again first. */
function limitForwarded(limiter: RateLimiter, response: Buffer, family: number, addr: Buffer): Buffer | null {
  limiter.clientFromBytes(family, addr, 0);
  return limiter.limitLater(response);
}

/**
 * The process-global name of view `i`'s tables: the server's own key for the default view (and without
 * views), `KEY/view/NAME` for a configured view, so every worker's view NAME reads the same tables and no
 * view reads another's. null: tables of this worker's own.
 */
function viewShareKey(sharedTables: string | null, views: ClientViews | null, i: number): string | null {
  if (sharedTables === null || views === null || i === views.responders.length - 1) return sharedTables;
  return `${sharedTables}/view/${views.names[i]!}`;
}

/**
 * One view's native tables, or the sum of every view's (the engine's metrics report one figure): a view's
 * tables count only where this worker is their primary, so the sum over workers still counts each once.
 */
function sumStats(all: NativeCacheStats[]): NativeCacheStats {
  if (all.length === 1) return all[0]!;
  const sum: NativeCacheStats = {
    entries: 0, bytes: 0, forwarded: 0, forwardedBytes: 0, negativeNames: 0, negativeBytes: 0, primary: true, forwardedPrimary: true,
  };
  for (const s of all) {
    if (s.primary) {
      sum.entries += s.entries;
      sum.bytes += s.bytes;
      sum.negativeNames += s.negativeNames;
      sum.negativeBytes += s.negativeBytes;
    }
    if (s.forwardedPrimary) {
      sum.forwarded += s.forwarded;
      sum.forwardedBytes += s.forwardedBytes;
    }
  }
  return sum;
}

/** Text form of a 16-byte IPv6 address (uncompressed groups; the forwarder's ACL parses it). */
function ipv6Text(addr: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(addr.readUInt16BE(i).toString(16));
  return groups.join(':');
}

interface Listener {
  udp: UdpPort;
  tcp: net.Server;
  bound: BoundAddress;
  /** The fds of both sockets, for a successor's takeover. */
  sockets: ListenSockets;
}

export class NativeEngine implements PacketEngine {
  readonly name = 'native';
  private readonly opts: NativeEngineOptions;
  private readonly binding: NativeBinding;
  private readonly batchSize: number;
  private readonly listeners: Listener[] = [];
  private readonly tcp: TcpConnections;
  private readonly udpForwards = new InFlight();
  /** One answer cache per view (the default view last), or one without views; [] when C answers nothing. */
  private caches: NativeAnswerCache[] = [];
  private readonly limiter: RateLimiter | null;
  private readonly exchanges: ExchangeObservers | null;
  /** The forwarder's UDP to its upstreams through the addon, made on first use. */
  private link: NativeUpstreamLink | null = null;

  constructor(opts: NativeEngineOptions) {
    const binding = opts.binding ?? loadNative();
    if (binding === null) throw new Error(`native engine unavailable: ${nativeUnavailableReason()}`);
    const batch = opts.batchSize ?? DEFAULT_BATCH;
    if (!Number.isInteger(batch) || batch < 1 || batch > binding.abi.maxBatch) {
      throw new RangeError(`batchSize must be 1-${binding.abi.maxBatch}, got ${batch}`);
    }
    this.opts = opts;
    this.binding = binding;
    this.batchSize = batch;
    this.tcp = new TcpConnections(opts, Buffer.allocUnsafe(RESPONSE_BUFFER_SIZE));
    this.limiter = createRateLimiter(opts.rateLimit, opts.observer, opts.log, opts.rateLimitTable);
    this.exchanges = ExchangeObservers.of(opts.exchangeObservers);
  }

  get tcpConnections(): number {
    return this.tcp.size;
  }

  /**
   * The forwarder's UDP link to its upstreams in C (Forwarder.setDatagramLink); closed with the engine. null
   * where the addon has none (no epoll: not Linux), and the forwarder keeps Node's dgram sockets.
   */
  upstreamLink(): DatagramLink | null {
    if (this.link !== null) return this.link;
    try {
      this.link = new NativeUpstreamLink(this.binding);
    } catch (err) {
      this.opts.log.warn({ err }, 'no native upstream link; forwarded queries use dgram sockets');
    }
    return this.link;
  }

  get udpStats(): NativeUdpStats {
    const s: NativeUdpStats = {
      rxPackets: 0, txPackets: 0, txDropped: 0, txErrors: 0, rxTruncated: 0, batches: 0, nativeAnswers: 0,
    };
    for (const { udp } of this.listeners) {
      const m = udp.fold();
      s.rxPackets += m[H_RX_PACKETS]!;
      s.txPackets += m[H_TX_PACKETS]!;
      s.txDropped += m[H_TX_DROPPED]!;
      s.txErrors += m[H_TX_ERRORS]!;
      s.rxTruncated += m[H_RX_TRUNCATED]!;
      s.batches += m[H_BATCHES]!;
      s.nativeAnswers += m[H_NATIVE]!;
    }
    return s;
  }

  get udpReceiveDrops(): number {
    const sockets: UdpSocketId[] = this.listeners.filter((l) => l.udp.inode > 0).map((l) => ({ inode: l.udp.inode }));
    return udpReceiveDrops(sockets);
  }

  /**
   * Entries and bytes of the native answer cache, and the names and bytes of its negative-answer table (null
   * when the engine runs without one).
   */
  get answerCacheStats(): NativeCacheStats | null {
    return this.caches.length === 0 ? null : sumStats(this.caches.map((c) => c.stats));
  }

  async start(): Promise<BoundAddress[]> {
    // Answers made in C never reach the limiter (nor an exchange observer without a native ring), so with
    // either every datagram goes through JS. Each view has its own tables, shared by the workers.
    if (this.opts.answerCache !== false && this.limiter === null && (this.exchanges?.seeNative ?? true)) {
      const views = this.opts.views ?? null;
      const responders = views?.responders ?? [this.opts.responder];
      const caches = responders.map((r, i) =>
        NativeAnswerCache.attach(this.binding, r, this.opts.observer, viewShareKey(this.opts.sharedTables ?? null, views, i)));
      if (caches.every((c) => c !== null)) this.caches = caches as NativeAnswerCache[];
      else caches.forEach((c, i) => { if (c !== null) { responders[i]!.removeMirror(c); c.close(); } });
    }
    try {
      for (const addr of this.opts.listen) {
        const adopted = socketsFor(this.opts.adopted ?? [], addr.host, addr.port);
        if (adopted.length === 0) this.listeners.push(await this.listen(addr.host, addr.port));
        for (const pair of adopted) this.listeners.push(await this.serve(pair.host, pair.port, pair.udp, pair.tcp, null));
      }
    } catch (err) {
      await this.close();
      throw err;
    }
    return this.listeners.map((l) => l.bound);
  }

  /** UDP first, then TCP on the port UDP got (an ephemeral UDP port may be taken for TCP: try again). */
  private async listen(host: string, port: number): Promise<Listener> {
    const reusePort = this.opts.reusePort === true;
    const b = this.binding;
    let receiveBuffer = -1;
    const pair = await bindUdpThenTcp(
      port,
      (p) => {
        const udp = b.createUdpSocket(host, p, reusePort, this.opts.udpReceiveBuffer ?? 0);
        receiveBuffer = udp.receiveBuffer;
        return { socket: udp.fd, port: udp.port };
      },
      (p) => b.createTcpListener(host, p, reusePort, TCP_BACKLOG),
      (fd) => b.closeFd(fd),
    );
    return this.serve(host, pair.port, pair.udp, pair.tcp.fd, receiveBuffer);
  }

  /** Serves a bound UDP socket and a listening TCP socket (bound here, or adopted from a predecessor). */
  private async serve(host: string, port: number, udpFd: number, tcpFd: number, receiveBuffer: number | null): Promise<Listener> {
    const b = this.binding;
    let server: net.Server;
    try {
      server = await this.serveTcp(tcpFd);
    } catch (err) {
      b.closeFd(udpFd); // the TCP fd belongs to the server, which closed it
      throw err;
    }
    const port_ = new UdpPort(
      this.batchSize, this.opts.responder, this.opts.observer, this.opts.log, this.binding, this.caches.length > 0 && this.opts.observer !== null,
      this.udpForwards,
      this.limiter,
      this.exchanges,
      this.opts.views ?? null,
    );
    port_.inode = fstatSync(udpFd).ino; // a socket's inode, as /proc/net/udp lists it
    // An adopted socket keeps the receive buffer its first owner asked for.
    if (receiveBuffer !== null) logReceiveBuffer(this.opts.log, `${host}:${port}`, this.opts.udpReceiveBuffer ?? 0, receiveBuffer);
    try {
      port_.handle = this.startUdp(udpFd, port_);
      // The answers made in C never reach onBatch: the observers see them through their native rings.
      if (this.caches.length > 0) this.exchanges?.attachNative(b, port_.handle);
    } catch (err) {
      b.closeFd(udpFd);
      server.close();
      throw err;
    }
    return { udp: port_, tcp: server, bound: { address: host, port }, sockets: { host, port, udp: udpFd, tcp: tcpFd } };
  }

  /** The batch loop over `fd`, with the answer cache, or with one per view and the rules that pick it (views.c). */
  private startUdp(fd: number, port: UdpPort): UdpHandle {
    const b = this.binding;
    const caches = this.caches;
    const views = this.opts.views ?? null;
    if (views === null || caches.length === 0) {
      return b.udpStart(fd, this.batchSize, port.inBuf, port.outBuf, port.meta, port.onBatch, caches[0]?.handle, caches[0]?.forwardedHandle);
    }
    return b.udpStart(fd, this.batchSize, port.inBuf, port.outBuf, port.meta, port.onBatch,
      caches.map((c) => c.handle), caches.map((c) => c.forwardedHandle), views.matcher.wireRules());
  }

  private serveTcp(fd: number): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      const server = this.tcp.createServer();
      server.once('error', reject);
      server.listen({ fd }, () => {
        server.removeListener('error', reject);
        server.on('error', (err) => this.opts.log.warn({ err }, 'tcp server error'));
        resolve(server);
      });
    });
  }

  /** Every listen address's socket fds, while serving (what a takeover hands to the successor). */
  get sockets(): ListenSockets[] {
    return this.listeners.map((l) => l.sockets);
  }

  async close(): Promise<void> {
    // Stop reading first (UDP queues stay unread, no new TCP connections), keeping the UDP fds for the
    // forwarded answers still owed; every socket closes once they are sent or the grace period is over.
    for (const l of this.listeners) if (l.udp.handle !== null) this.binding.udpPause(l.udp.handle);
    this.tcp.stopReading(this.listeners.map((l) => l.tcp));
    await answerOwed(this.opts, this.udpForwards, this.tcp);
    for (const l of this.listeners) {
      l.udp.flushLate();
      if (l.udp.handle !== null) this.binding.udpStop(l.udp.handle);
      l.udp.handle = null;
    }
    this.link?.close();
    this.link = null;
    const responders = this.opts.views?.responders ?? [this.opts.responder];
    this.caches.forEach((c, i) => {
      responders[i]!.removeMirror(c);
      c.close(); // after udpStop: no batch reads through this view any more
    });
    this.caches = [];
    this.tcp.destroyAll();
  }
}
