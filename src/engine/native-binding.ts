// Loads the C addon (native/kdns_native.c) in try/catch and types it. `loadNative()` returns null when the
// addon is missing, fails to load, or speaks another ABI, and `nativeUnavailableReason()` says why, so the
// engine choice can log it. The ABI is documented in native/README.md; the constants here must match it.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Layout of the meta Int32Array (native/README.md). */
export const ABI_VERSION = 8;
export const META_HEADER = 16;
export const META_STRIDE = 9;
// header fields: uint32 counters that wrap at 2^32 (read them through a Uint32Array, see UdpCounters)
export const H_ABI = 0;
export const H_COUNT = 1;
export const H_RX_PACKETS = 2;
export const H_TX_PACKETS = 3;
export const H_RX_TRUNCATED = 4;
export const H_TX_DROPPED = 5;
export const H_TX_ERRORS = 6;
export const H_BATCHES = 7;
export const H_WAKEUPS = 8;
export const H_RX_ERRORS = 9;
export const H_OUT_INVALID = 10;
/** Queries answered from the native answer cache, without a JavaScript call. */
export const H_NATIVE = 11;
// slot fields, at META_HEADER + slot * META_STRIDE
/** Bytes received; 0: too long for a slot (dropped); IN_LEN_ANSWERED: answered in C, nothing to do. */
export const S_IN_LEN = 0;
export const IN_LEN_ANSWERED = -1;
export const S_OUT_LEN = 1;
export const S_FAMILY = 2;
export const S_PORT = 3;
export const S_ADDR = 4;
/** IPv6 scope id (interface index) of a link-local peer, 0 otherwise; udpSendTo needs it back. */
export const S_SCOPE = 8;

/** udpSendMany's meta: MANY_STRIDE int32 per message (native/README.md, "The UDP batch engine"). */
export const MANY_STRIDE = 9;
export const M_OFFSET = 0;
export const M_LENGTH = 1;
export const M_FAMILY = 2;
export const M_PORT = 3;
/** 4 int32 = 16 address bytes in network order, as S_ADDR. */
export const M_ADDR = 4;
export const M_SCOPE = 8;

/** Layout of the upstream link's meta (native/README.md, "Upstream link"). */
export const UP_HEADER = 10;
export const UP_STRIDE = 4;
// header fields: uint32 counters that wrap at 2^32 (UP_OPEN and UP_READY are gauges)
export const UP_ABI = 0;
export const UP_COUNT = 1;
export const UP_SENT = 2;
export const UP_RECEIVED = 3;
export const UP_SEND_ERRORS = 4;
export const UP_RECV_ERRORS = 5;
export const UP_OPEN = 6;
export const UP_TRUNCATED = 7;
/** Sockets connected ahead of need and never used, in the link's ready pools (one per upstream). */
export const UP_READY = 8;
/** Sends that found no ready socket and opened one on the query's path. */
export const UP_OPENED_INLINE = 9;
// slot fields, at UP_HEADER + slot * UP_STRIDE
export const UP_S_TOKEN = 0;
/** Bytes in the slot, or -errno: -ECONNREFUSED (the upstream's port is closed), -EMSGSIZE (longer than a slot). */
export const UP_S_LEN = 1;
/** C presets 0 (the socket is closed after the callback); set 1 to keep it open and waiting. */
export const UP_S_KEEP = 2;
export const UP_S_FD = 3;

export interface BoundFd {
  fd: number;
  port: number;
}

export interface BoundUdpFd extends BoundFd {
  /** SO_RCVBUF as the kernel reports it (twice what it grants as payload room), -1 if unknown. */
  receiveBuffer: number;
}

/** Opaque handle of a running UDP batch engine. */
export type UdpHandle = { readonly __kdnsUdpHandle: unique symbol };
/** Opaque handle of an upstream link (native/upstream.c). */
export type UpstreamHandle = { readonly __kdnsUpstreamHandle: unique symbol };
/** Opaque handle of a native answer cache (native/answer_cache.c). */
export type CacheHandle = { readonly __kdnsCacheHandle: unique symbol };

export interface NativeBinding {
  /**
   * A bound, non-blocking UDP socket (IPV6_V6ONLY for v6). `receiveBuffer` > 0 asks for that SO_RCVBUF
   * (SO_RCVBUFFORCE when permitted, else capped by net.core.rmem_max). Throws a system error (`code` = errno name).
   */
  createUdpSocket(host: string, port: number, reusePort: boolean, receiveBuffer?: number): BoundUdpFd;
  /** A bound, listening, non-blocking TCP socket for `net.Server#listen({ fd })`. */
  createTcpListener(host: string, port: number, reusePort: boolean, backlog: number): BoundFd;
  /** Closes an fd never handed to udpStart or net. Returns 0 or -errno. */
  closeFd(fd: number): number;
  /**
   * Polls `fd` on this thread's loop; `callback(count)` runs once per received batch that has a datagram
   * the cache did not answer. Owns `fd` from now on. With views (src/views), `cache` and `forwardedCache`
   * are arrays, one entry per view (the default view last), and `viewRules` picks a datagram's view from its
   * peer (ViewMatcher.wireRules).
   */
  udpStart(
    fd: number, batchSize: number, inBuf: Buffer, outBuf: Buffer, meta: Int32Array, callback: (count: number) => void,
    cache?: CacheHandle | readonly CacheHandle[] | null, forwardedCache?: CacheHandle | readonly (CacheHandle | null)[] | null,
    viewRules?: Buffer | null,
  ): UdpHandle;
  /** Stops polling but keeps the fd, so udpSendTo still works (shutdown: answers still owed). Idempotent. */
  udpPause(handle: UdpHandle): void;
  /** Stops polling and closes the fd (synchronously). Idempotent. */
  udpStop(handle: UdpHandle): void;
  /** One datagram outside the batch (an answer computed later; `scope` from S_SCOPE). Returns 0 or -errno. */
  udpSendTo(handle: UdpHandle, buf: Buffer, length: number, family: number, port: number, addr: Buffer, scope?: number): number;
  /**
   * Sends `count` (0-1024) datagrams outside the batch with sendmmsg: message i is described at
   * `meta[i * MANY_STRIDE]` (M_OFFSET, M_LENGTH into `buf`, M_FAMILY, M_PORT, M_ADDR, M_SCOPE). Returns how
   * many the kernel accepted (the rest are counted in H_TX_DROPPED / H_TX_ERRORS), or -EBADF after udpStop.
   * A record outside `buf` or with a bad family or port throws a TypeError before anything is sent.
   */
  udpSendMany(handle: UdpHandle, buf: Buffer, meta: Int32Array, count: number): number;
  /**
   * An upstream link polled on this thread's loop: `inBuf` is `batchSize` slots of `inBuf.length / batchSize`
   * bytes (>= 512), `meta` has UP_HEADER + UP_STRIDE x batchSize elements; `callback(count)` runs once per batch
   * of answers (slot fields UP_S_*). After it returns, each delivered socket is closed unless UP_S_KEEP is 1.
   */
  upstreamCreate(inBuf: Buffer, meta: Int32Array, batchSize: number, callback: (count: number) => void): UpstreamHandle;
  /**
   * Sends `msg[0, length)` from a fresh connected socket (random source port) to the upstream (`addr`: 16
   * bytes, IPv4 in the first 4), taken from the upstream's ready pool when it has one (UP_READY); its answer
   * comes back in a slot with `token`. Returns the fd, or -errno (nothing left open); -EBADF after
   * upstreamStop.
   */
  upstreamSend(link: UpstreamHandle, token: number, family: number, port: number, addr: Buffer, msg: Buffer, length: number): number;
  /** Closes the socket of an exchange given up on, if `fd` is open for `token`: 0, else -ENOENT. */
  upstreamClose(link: UpstreamHandle, fd: number, token: number): number;
  /** Stops polling and closes every socket (the ready ones too). Idempotent; safe inside the callback. */
  upstreamStop(link: UpstreamHandle): void;
  /** Links whose memory is not yet released, in every thread (freed after upstreamStop and GC). For tests. */
  liveUpstreams(): number;
  /**
   * A view of an answer cache; `recursionAvailable` sets RA in its answers, `maxUdpPayload` goes in its OPT.
   * With `shareKey` the table is the process's one of that name, shared with every view of it in any thread
   * (made with these bounds by the first); without, a table of its own. A table never holds more than
   * `maxEntries` answers or `maxBytes` bytes of them (older ones are evicted).
   */
  cacheCreate(recursionAvailable: boolean, maxUdpPayload: number, maxEntries?: number, maxBytes?: number, shareKey?: string): CacheHandle;
  /**
   * Stores a copy of the answer template (ID 0, RD and CD clear, no OPT) for the lower-case wire name, qtype
   * (class IN) and flag variant (forwarded caches: forwardVariant), used for `validMs` (0: until deleted);
   * each use counts one hit of `kind` in a forwarded cache's hit counts. The entry is this view's: only it
   * deletes or clears it (any view, in a forwarded table).
   */
  cacheSet(
    cache: CacheHandle, name: Buffer, nameLength: number, qtype: number, answer: Buffer, variant?: number, validMs?: number, kind?: number,
  ): void;
  cacheDelete(cache: CacheHandle, name: Buffer, nameLength: number, qtype: number, variant?: number): boolean;
  /**
   * Makes a cache one of forwarded answers: keyed by flag variant too, entries expire, served only to peers
   * in `acl` (18-byte rules: family, prefix, 16 address bytes), our OPT says `advertisedUdp`, and every use
   * adds 1 to hits[kind].
   */
  cacheMakeForwarded(cache: CacheHandle, advertisedUdp: number, acl: Buffer, hits: Float64Array): void;
  /** Removes the answers this view inserted (every answer of a forwarded table). */
  cacheClear(cache: CacheHandle): void;
  /**
   * The table's entries and bytes; `shared`: it has a share key; `primary`: this view is the one that reports
   * it (one per table); `views`: views of it alive.
   */
  cacheStats(cache: CacheHandle): { entries: number; bytes: number; shared: boolean; primary: boolean; views: number };
  /** Makes this view the feeder of its table's negative answers unless another is; whether it is. */
  cacheClaimNegative(cache: CacheHandle): boolean;
  /** Detaches the view now: its answers leave the table (the table goes with its last view). Idempotent. */
  cacheClose(cache: CacheHandle): void;
  /** Tables alive in the process (for leak tests). */
  cacheLiveStores(): number;
  /** Counts the cache's answers (and the engine's unsent answers) in `values`, laid out as `plan` says. */
  cacheSetCounters(cache: CacheHandle, values: Float64Array, plan: Int32Array): void;
  /** Forgets the cache's negative-answer zones and names (native/negative.c). */
  negativeClear(cache: CacheHandle): void;
  /**
   * Adds or replaces a zone of negative answers: its lower-case wire apex, the NXDOMAIN, NXDOMAIN-for-SOA and
   * NODATA messages compiled for the apex as qname (null: answer nothing in it), and the SOA's conflict labels.
   */
  negativeZone(cache: CacheHandle, apex: Buffer, nxdomain: Buffer | null, nxdomainSoa: Buffer | null, nodata: Buffer | null, conflicts: Buffer): void;
  /** Applies name records ([length][wire name][flags][n][n × qtype]); returns how many. */
  negativeNames(cache: CacheHandle, records: Buffer): number;
  negativeStats(cache: CacheHandle): { names: number; zones: number; bytes: number };
  /**
   * Opens / closes a batch of negative changes (the calls between may be many): while one is open, the C
   * path answers no negative from the table, so no thread sees a change half applied.
   */
  negativeBegin(cache: CacheHandle): void;
  negativeEnd(cache: CacheHandle): void;
  /** A listening unix socket at the abstract name `\0name` (the takeover channel, native/takeover.c). */
  handoffListen(name: string): number;
  /**
   * Sends `fds` and `payload` in one SCM_RIGHTS message to the channel `\0name`; throws EPERM when another
   * user listens there. Returns the channel owner's pid.
   */
  sendFds(name: string, fds: number[], payload: Buffer): number;
  /** The message sent to channel `listenFd`, or null when none has arrived. */
  receiveFds(listenFd: number): { fds: number[]; payload: Buffer } | null;
  /**
   * Samples the queries answered in C into `ring` (a Buffer laid out as src/stats/ring.ts says; native/observe.h)
   * for top talkers; null stops. A no-op after udpStop.
   */
  udpObserve(handle: UdpHandle, ring: Buffer | null): void;
  /**
   * Logs the exchanges answered in C, one in `every`, as dnstap records into `ring` (a Buffer over a
   * src/dnstap/ring.ts SharedArrayBuffer; native/observe.h); null stops. A no-op after udpStop.
   */
  udpTap(handle: UdpHandle, ring: Buffer | null, every: number): void;
  /** Engines whose memory is not yet released, in every thread (freed after udpStop and GC). For tests. */
  liveEngines(): number;
  readonly abi: {
    version: number; metaHeader: number; metaStride: number; maxBatch: number; mmsg: number; upHeader: number; upStride: number;
  };
}

const ADDON_PATH = fileURLToPath(new URL('../../../native/build/Release/kdns_native.node', import.meta.url));

let loaded: NativeBinding | null | undefined;
let reason = '';

/** The addon, or null (see nativeUnavailableReason). Loaded once per thread. */
export function loadNative(): NativeBinding | null {
  if (loaded !== undefined) return loaded;
  const path = process.env.KDNS_NATIVE_ADDON ?? ADDON_PATH;
  try {
    const binding = createRequire(import.meta.url)(path) as NativeBinding;
    const abi = binding.abi;
    if (
      abi?.version !== ABI_VERSION || abi.metaHeader !== META_HEADER || abi.metaStride !== META_STRIDE ||
      abi.upHeader !== UP_HEADER || abi.upStride !== UP_STRIDE
    ) {
      reason = `${path} speaks ABI ${JSON.stringify(abi)}, expected version ${ABI_VERSION}: rebuild it (npm run build:native)`;
      loaded = null;
    } else {
      loaded = binding;
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    reason = code === 'MODULE_NOT_FOUND'
      ? `${path} is not built (run: node native/build.mjs; it needs local Node headers)`
      : `${path} failed to load: ${(err as Error).message}`;
    loaded = null;
  }
  return loaded;
}

/** Why loadNative() returned null; '' when it did not. */
export function nativeUnavailableReason(): string {
  loadNative();
  return reason;
}
