// Response-rate limiting as bind9 does it (lib/dns/rrl.c), per worker thread: every UDP response is put
// in a bucket keyed by the client block (/24, /56), its kind (answer, NXDOMAIN, NODATA, referral, error)
// and, per kind, the qname and qtype, the zone or nothing. A bucket earns `rate` tokens a second, holds
// at most `rate`, and may owe up to `window × rate`; a response without a token is dropped, except that
// every `slip`-th one goes out truncated (TC=1) so a real client retries over TCP, which is never limited.
// Errors are never slipped (bind9 drops them). Also the per-client query limit (`queries-per-second`).
// Nothing is allocated per packet: the client is set from bytes or words, buckets live in typed arrays.

import type { Logger } from 'pino';
import { blockText, ExemptList, isV4Mapped, prefixMask, wordsFromBytes, wordsFromText } from './client.js';
import type { RateLimitConfig } from './config.js';
import {
  inspect, KIND_ERROR, KIND_NAMES, KIND_NODATA, KIND_NXDOMAIN, KIND_QUERIES, KIND_QUERY, KIND_REFERRAL, seen, truncateInPlace,
} from './inspect.js';
import { BucketTable } from './table.js';

/** What happened to a response or query; the `action` label of the rate-limit metrics. */
export const RL_ANSWERED = 0;
export const RL_SLIPPED = 1;
export const RL_DROPPED = 2;
/** log-only: would have been slipped or dropped, was answered. */
export const RL_LOGGED = 3;
export const RL_QUERY_DROPPED = 4;
export const RL_QUERY_LOGGED = 5;
export const RL_ACTIONS = 6;

/** Where the limiter counts what it did (DnsCounters.rateLimited). */
export interface RateLimitCounter {
  rateLimited(action: number): void;
}

const VERDICT_OK = 0;
const VERDICT_SLIP = 1;
const VERDICT_DROP = 2;
/** Start-of-limiting log lines per second per worker: a spoofed flood must not become a log flood. */
const LOG_LINES_PER_SECOND = 10;

function wallSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export class RateLimiter {
  private readonly table: BucketTable;
  private readonly rates = new Int32Array(8);
  private readonly slip: number;
  private readonly window: number;
  private readonly logOnly: boolean;
  private readonly exempt: ExemptList;
  private readonly v4Mask: Uint32Array;
  private readonly v6Mask: Uint32Array;
  private readonly v4Prefix: number;
  private readonly v6Prefix: number;
  private readonly counter: RateLimitCounter | null;
  private readonly log: Logger | null;
  private readonly now: () => number;
  // The current client: set by one of the client*() calls, read by admitQuery() and limitResponse().
  private readonly addr = new Uint32Array(4);
  private family = 4;
  private exempted = false;
  private logSecond = 0;
  private logLines = 0;

  /**
   * `table`: the buckets, shared with the other workers' limiters (BucketTable.bufferFor(max-table-size));
   * a private one when omitted. `now`: the clock in whole seconds (tests move it).
   */
  constructor(
    config: RateLimitConfig, counter: RateLimitCounter | null, log: Logger | null,
    table: SharedArrayBuffer = BucketTable.bufferFor(config.maxTableSize), now: () => number = wallSeconds,
  ) {
    const rps = config.responsesPerSecond;
    this.rates[KIND_QUERY] = rps;
    this.rates[KIND_REFERRAL] = config.referralsPerSecond ?? rps;
    this.rates[KIND_NODATA] = config.nodataPerSecond ?? rps;
    this.rates[KIND_NXDOMAIN] = config.nxdomainsPerSecond ?? rps;
    this.rates[KIND_ERROR] = config.errorsPerSecond ?? rps;
    this.rates[KIND_QUERIES] = config.queriesPerSecond;
    this.slip = config.slip;
    this.window = config.window;
    this.logOnly = config.logOnly;
    this.exempt = new ExemptList(config.exemptClients);
    this.v4Prefix = config.ipv4PrefixLength;
    this.v6Prefix = config.ipv6PrefixLength;
    this.v4Mask = prefixMask(config.ipv4PrefixLength);
    this.v6Mask = prefixMask(config.ipv6PrefixLength);
    this.table = new BucketTable(table);
    this.counter = counter;
    this.log = log;
    this.now = now;
  }

  /** Buckets in use (at most max-table-size, rounded up to a multiple of 4). */
  get buckets(): number {
    return this.table.size;
  }

  /** The client of the next admitQuery()/limitResponse(), from its address text (node engine). */
  clientFromText(address: string): void {
    this.family = wordsFromText(address, this.addr) === 6 ? 6 : 4;
    this.checkExempt();
  }

  /** The same from address bytes: 4 (IPv4) or 16 (IPv6) of them at `offset` (native engine's slot). */
  clientFromBytes(family: number, bytes: Uint8Array, offset: number): void {
    if (family === 6 && isV4Mapped(bytes, offset)) {
      family = 4;
      offset += 12;
    }
    this.family = family;
    wordsFromBytes(bytes, offset, family === 6 ? 16 : 4, this.addr);
    this.checkExempt();
  }

  private checkExempt(): void {
    this.exempted = !this.exempt.empty && this.exempt.includes(this.family, this.addr);
  }

  /** The per-client query limit: false when this query must be dropped unanswered. */
  admitQuery(): boolean {
    const rate = this.rates[KIND_QUERIES]!;
    if (rate === 0 || this.exempted) return true;
    const p = this.table.probe;
    p[0] = KIND_QUERIES | (this.family === 6 ? 0x80 : 0);
    p[1] = this.addr[0]!; p[2] = this.addr[1]!; p[3] = this.addr[2]!; p[4] = this.addr[3]!;
    p[5] = 0;
    const e = this.table.find();
    if (this.takeToken(e, rate)) return true;
    this.count(this.logOnly ? RL_QUERY_LOGGED : RL_QUERY_DROPPED);
    this.noteLimiting(e, KIND_QUERIES, 32 * (this.family === 6 ? 4 : 1));
    return this.logOnly;
  }

  /**
   * Rate limits the UDP response `buf[0..n)` for the current client: returns n (send it), 0 (drop it)
   * or the shorter length of the truncated form written over it (slip). n ≤ 0 passes through.
   */
  limitResponse(buf: Buffer, n: number): number {
    if (n <= 0) return n;
    if (this.exempted || !inspect(buf, n)) return this.answered(n);
    const kind = seen.kind;
    const rate = this.rates[kind]!;
    if (rate === 0) return this.answered(n);
    const v6 = this.family === 6;
    const mask = v6 ? this.v6Mask : this.v4Mask;
    const p = this.table.probe;
    // bind9's make_key: qtype and class for answers, class for NODATA and referrals, nothing else.
    const qclass = kind === KIND_QUERY || kind === KIND_NODATA || kind === KIND_REFERRAL ? seen.qclass & 0xff : 0;
    const qtype = kind === KIND_QUERY ? seen.qtype : 0;
    p[0] = (kind | (v6 ? 0x80 : 0) | (qclass << 8) | (qtype << 16)) >>> 0;
    for (let w = 0; w < 4; w++) p[1 + w] = (this.addr[w]! & mask[w]!) >>> 0;
    p[5] = seen.nameHash;
    const e = this.table.find();
    const verdict = this.debit(e, rate, kind !== KIND_ERROR);
    if (verdict === VERDICT_OK) return this.answered(n);
    this.noteLimiting(e, kind, v6 ? this.v6Prefix : this.v4Prefix);
    if (this.logOnly) {
      this.count(RL_LOGGED);
      return n;
    }
    if (verdict === VERDICT_SLIP) {
      this.count(RL_SLIPPED);
      return truncateInPlace(buf);
    }
    this.count(RL_DROPPED);
    return 0;
  }

  /**
   * limitResponse for an answer that arrives after its batch (a forwarded one): the buffer may be shared
   * (the forwarder's cache), so a slip is written to a copy. null: drop it. Set the client first.
   */
  limitLater(response: Buffer): Buffer | null {
    const copy = Buffer.from(response);
    const n = this.limitResponse(copy, copy.length);
    if (n === 0) return null;
    return n === copy.length ? copy : copy.subarray(0, n);
  }

  private answered(n: number): number {
    this.count(RL_ANSWERED);
    return n;
  }

  private count(action: number): void {
    if (this.counter !== null) this.counter.rateLimited(action);
  }

  /**
   * bind9's debit_rrl_entry: credit the seconds since the last debit (a bucket idle longer than the window
   * starts afresh), take one token, and when there was none, clamp the debt and decide slip or drop.
   */
  private debit(e: number, rate: number, maySlip: boolean): number {
    const t = this.table;
    const now = this.now();
    const age = t.age(e, now);
    if (age > 0) {
      const credited = age > this.window ? Infinity : t.balance(e) + rate * age;
      if (credited > rate) {
        t.setBalance(e, rate);
        t.setSlipCount(e, 0);
      } else {
        t.setBalance(e, credited);
      }
    }
    t.stamp(e, now);
    const balance = t.debit(e);
    if (balance >= 0) {
      if (t.limiting(e)) t.setLimiting(e, false);
      return VERDICT_OK;
    }
    const floor = -this.window * rate;
    if (balance < floor) t.setBalance(e, floor);
    if (!maySlip || this.slip === 0) return VERDICT_DROP;
    // Slip the first limited response of every `slip` (bind9's counter: slip, then drop slip-1).
    const c = t.slipCount(e);
    t.setSlipCount(e, c + 1 >= this.slip ? 0 : c + 1);
    return c === 0 ? VERDICT_SLIP : VERDICT_DROP;
  }

  /**
   * The per-client query limit's plain token bucket: `rate` tokens a second, at most `rate`, and no debt
   * (unlike RRL's window), so a client that slows down is served again within a second.
   */
  private takeToken(e: number, rate: number): boolean {
    const t = this.table;
    const now = this.now();
    const age = t.age(e, now);
    if (age > 0) t.setBalance(e, Math.min(rate, t.balance(e) + rate * Math.min(age, 1)));
    t.stamp(e, now);
    if (t.balance(e) <= 0) return false;
    t.debit(e);
    if (t.limiting(e)) t.setLimiting(e, false);
    return true;
  }

  /** Logs the start of limiting for a bucket, at most LOG_LINES_PER_SECOND lines a second. */
  private noteLimiting(e: number, kind: number, prefix: number): void {
    const t = this.table;
    if (t.limiting(e) || this.log === null) return;
    t.setLimiting(e, true);
    const now = this.now();
    if (now !== this.logSecond) {
      this.logSecond = now;
      this.logLines = 0;
    }
    if (this.logLines++ >= LOG_LINES_PER_SECOND) return;
    const words = [t.keyWord(e, 1), t.keyWord(e, 2), t.keyWord(e, 3), t.keyWord(e, 4)];
    const client = blockText(this.family, words, prefix);
    const what = kind === KIND_QUERIES ? 'queries from' : `${KIND_NAMES[kind]} to`;
    this.log.warn({ client, kind: KIND_NAMES[kind], logOnly: this.logOnly },
      `rate-limit: ${this.logOnly ? 'would limit' : 'limiting'} ${what} ${client}`);
  }
}
