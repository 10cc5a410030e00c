// Packet-path counters in shared memory. Each worker owns one slot (a Float64Array region of one
// SharedArrayBuffer) and bumps plain numbers in it: no message, lock or allocation per query.
// The main thread sums the slots only when Prometheus scrapes (dns-collector.ts).
//
// Why plain `+=` and not Atomics: a slot has exactly one writer, so no update is ever lost; the
// reader may see a value one query stale, which a scrape cannot tell apart from timing. Float64
// counts exactly up to 2^53, decades at any query rate. Slots are padded to 64 bytes so two
// workers never write the same cache line (false sharing would cost more than the counting).

import {
  TYPE_A, TYPE_AAAA, TYPE_ANY, TYPE_AXFR, TYPE_CAA, TYPE_CNAME, TYPE_HTTPS, TYPE_IXFR, TYPE_MX,
  TYPE_NS, TYPE_PTR, TYPE_SOA, TYPE_SRV, TYPE_SVCB, TYPE_TXT,
} from '../dns/constants.js';

export const PROTO_UDP = 0;
export const PROTO_TCP = 1;
export const FAMILY_V4 = 0;
export const FAMILY_V6 = 1;

/** Why a packet got no answer. Names are the `reason` label of kdns_dns_dropped_total. */
export const DROP_MALFORMED = 0; // could not read header/question
export const DROP_QR_SET = 1; // a response sent to us (reflection, loops)
export const DROP_TCP_LIMIT = 2; // connection refused: tcp.max-connections reached
export const DROP_TCP_IN_FLIGHT = 3; // query dropped: tcp.max-queries-in-flight reached
export const DROP_TCP_IDLE = 4; // connection closed by tcp.idle-timeout with a partial query
export const DROP_SEND_ERROR = 5; // the kernel refused the reply
export const DROP_OTHER = 15;
export const DROP_REASONS: readonly string[] = [
  'malformed', 'qr-set', 'tcp-limit', 'tcp-in-flight', 'tcp-idle', 'send-error',
];
const DROP_SLOTS = 16;

/** Why kdns closed a TCP connection itself. Names are the `reason` label of kdns_tcp_connections_closed_total. */
export const TCP_CLOSED_IDLE = 0; // no traffic for tcp.idle-timeout
export const TCP_CLOSED_DEADLINE = 1; // a message did not arrive whole within tcp.message-timeout
export const TCP_CLOSED_EVICTED = 2; // the longest-idle connection, closed at tcp.max-connections for a new one
export const TCP_CLOSED_REASONS: readonly string[] = ['idle', 'deadline', 'evicted'];

/** The qtype buckets of the `type` label; everything else counts as "other" (bounded cardinality). */
export const TYPE_LABELS: readonly string[] = [
  'A', 'AAAA', 'NS', 'PTR', 'SRV', 'CNAME', 'SOA', 'TXT', 'MX', 'CAA', 'ANY', 'AXFR', 'IXFR', 'HTTPS', 'SVCB', 'other',
];
const TYPE_CODES = [
  TYPE_A, TYPE_AAAA, TYPE_NS, TYPE_PTR, TYPE_SRV, TYPE_CNAME, TYPE_SOA, TYPE_TXT, TYPE_MX, TYPE_CAA, TYPE_ANY,
  TYPE_AXFR, TYPE_IXFR, TYPE_HTTPS, TYPE_SVCB,
];
const NTYPES = TYPE_LABELS.length;
const TYPE_OTHER = NTYPES - 1;
const TYPE_TABLE_SIZE = TYPE_CAA + 1;
const TYPE_BUCKET = new Uint8Array(TYPE_TABLE_SIZE).fill(TYPE_OTHER);
TYPE_CODES.forEach((code, i) => { TYPE_BUCKET[code] = i; });

/** Rcodes 0-23 (every assigned one, incl. extended) get their own series; higher ones are "other". */
export const RCODE_SLOTS = 24;
export const RCODE_LABELS: readonly string[] = [
  'NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET',
  'NOTAUTH', 'NOTZONE', 'DSOTYPENI', 'RCODE12', 'RCODE13', 'RCODE14', 'RCODE15', 'BADVERS', 'BADKEY',
  'BADTIME', 'BADMODE', 'BADNAME', 'BADALG', 'BADTRUNC', 'BADCOOKIE', 'other',
];

/** Histogram upper bounds in seconds: 25 µs doubling to ~6.5 s; a cache hit lands in the first few. */
export const DURATION_BOUNDS: Float64Array = Float64Array.from(
  { length: 19 }, (_, k) => Number((25e-6 * 2 ** k).toPrecision(6)),
);
const NBOUNDS = DURATION_BOUNDS.length;
/** The same bounds in whole microseconds, for responseMicros (25 µs doubling: exact in integers). */
const DURATION_BOUNDS_US: Int32Array = Int32Array.from({ length: NBOUNDS }, (_, k) => 25 * 2 ** k);

// Slot layout (indexes into one worker's Float64Array).
export const REQ_OFF = 0; // [proto][family][type]
export const RESP_OFF = REQ_OFF + 2 * 2 * NTYPES; // [rcode], last = other
export const DUR_OFF = RESP_OFF + RCODE_SLOTS + 1; // [bucket] per bound, then +Inf
export const DUR_SUM = DUR_OFF + NBOUNDS + 1;
export const DROP_OFF = DUR_SUM + 1;
export const TCP_CLOSED_OFF = DROP_OFF + DROP_SLOTS; // [reason]
/** What the rate limiter did (src/rate-limit RL_* actions: answered, slipped, dropped, logged, ...). */
export const RATE_LIMIT_OFF = TCP_CLOSED_OFF + TCP_CLOSED_REASONS.length;
export const RATE_LIMIT_SLOTS = 8;
const USED = RATE_LIMIT_OFF + RATE_LIMIT_SLOTS;
export const SLOT_DOUBLES = Math.ceil(USED / 8) * 8; // 8 doubles = one 64-byte cache line
export const SLOT_BYTES = SLOT_DOUBLES * 8;

export class DnsCounters {
  private readonly f: Float64Array;

  /** One slot per worker. Callers that count on the main thread too should ask for one more. */
  static bufferFor(workers: number): SharedArrayBuffer {
    return new SharedArrayBuffer(workers * SLOT_BYTES);
  }

  constructor(sab: SharedArrayBuffer, slot: number) {
    if (!Number.isInteger(slot) || slot < 0 || (slot + 1) * SLOT_BYTES > sab.byteLength) {
      throw new RangeError(`counter slot ${slot} is outside a buffer of ${sab.byteLength / SLOT_BYTES} slots`);
    }
    this.f = new Float64Array(sab, slot * SLOT_BYTES, SLOT_DOUBLES);
  }

  /** proto 0 udp / 1 tcp, family 0 v4 / 1 v6. Masks keep a bad argument inside the request block. */
  request(proto: number, family: number, qtype: number): void {
    const t = qtype >= 0 && qtype < TYPE_TABLE_SIZE ? TYPE_BUCKET[qtype] : TYPE_OTHER;
    this.f[REQ_OFF + ((proto & 1) * 2 + (family & 1)) * NTYPES + t]++;
  }

  /** rcode including the extended bits (BADVERS is 16). */
  response(rcode: number, durationSeconds: number): void {
    const f = this.f;
    f[RESP_OFF + (rcode >= 0 && rcode < RCODE_SLOTS ? rcode : RCODE_SLOTS)]++;
    let b = 0;
    while (b < NBOUNDS && durationSeconds > DURATION_BOUNDS[b]) b++;
    f[DUR_OFF + b]++;
    f[DUR_SUM] += durationSeconds;
  }

  /**
   * The same with the duration in whole microseconds. Batch engines use this: a double passed between
   * functions is boxed on the heap, an integer is not, so this keeps the per-query path free of garbage.
   */
  responseMicros(rcode: number, micros: number): void {
    const f = this.f;
    f[RESP_OFF + (rcode >= 0 && rcode < RCODE_SLOTS ? rcode : RCODE_SLOTS)]++;
    let b = 0;
    while (b < NBOUNDS && micros > DURATION_BOUNDS_US[b]!) b++;
    f[DUR_OFF + b]++;
    f[DUR_SUM] += micros * 1e-6;
  }

  dropped(reason: number): void {
    this.f[DROP_OFF + (reason >= 0 && reason < DROP_SLOTS ? reason : DROP_OTHER)]++;
  }

  /** A TCP connection kdns closed itself, by TCP_CLOSED_* reason (an unknown reason is not counted). */
  tcpClosed(reason: number): void {
    if (reason >= 0 && reason < TCP_CLOSED_REASONS.length) this.f[TCP_CLOSED_OFF + reason]++;
  }

  /** One response or query handled by the rate limiter; `action` is one of its RL_* constants. */
  rateLimited(action: number): void {
    this.f[RATE_LIMIT_OFF + (action >= 0 && action < RATE_LIMIT_SLOTS ? action : RATE_LIMIT_SLOTS - 1)]++;
  }

  /**
   * This slot and its layout, for the native answer cache, which counts the queries it answers in C
   * straight into the slot (same thread, one writer). The plan's order is read by native/answer_cache_napi.c.
   */
  nativeCounters(): NativeCounters {
    const plan = new Int32Array(9 + NBOUNDS + TYPE_TABLE_SIZE);
    plan.set([REQ_OFF, NTYPES, RESP_OFF, RCODE_SLOTS, DUR_OFF, NBOUNDS, DUR_SUM, DROP_OFF + DROP_SEND_ERROR, TYPE_TABLE_SIZE]);
    plan.set(DURATION_BOUNDS_US, 9);
    plan.set(TYPE_BUCKET, 9 + NBOUNDS);
    return { values: this.f, plan };
  }
}

/** A counter slot as the native engine writes it (see DnsCounters.nativeCounters). */
export interface NativeCounters {
  values: Float64Array;
  plan: Int32Array;
}

/** The slots added up (scrape time only; allocates). */
export function sumSlots(sab: SharedArrayBuffer, workers: number): Float64Array {
  const slots = Math.min(workers, Math.floor(sab.byteLength / SLOT_BYTES));
  const all = new Float64Array(sab, 0, slots * SLOT_DOUBLES);
  const total = new Float64Array(SLOT_DOUBLES);
  for (let s = 0; s < slots; s++) {
    const base = s * SLOT_DOUBLES;
    for (let i = 0; i < SLOT_DOUBLES; i++) total[i] += all[base + i];
  }
  return total;
}

export { NTYPES as TYPE_BUCKETS };
