// The forward cache: upstream answers kept as wire bytes with the offset of every TTL, so a hit is one
// copy plus a TTL patch per record, and the TTL a client sees goes down as the entry ages. Positive
// answers are clamped per record to [minTtl, maxTtl]; negative ones (NXDOMAIN, NODATA) live for the RFC 2308
// §5 TTL, min(SOA TTL, SOA MINIMUM), capped; a negative answer without an SOA is not cached (RFC 2308 §5);
// SERVFAIL is remembered briefly (RFC 2308 §7.1) so a dead upstream is not asked again for every query.
// With serve-stale on, an expired entry is kept up to staleMaxAge more for RFC 8767. The entries live in
// one SharedStore per process (shared-store.ts), read and written by every worker thread without locks;
// this class is the policy over it. Bounded by entries and bytes: the store's slots are fixed at start.
import { RCODE_NOERROR, RCODE_NXDOMAIN, RCODE_SERVFAIL } from '../dns/constants.js';
import type { IndexedResponse } from './message.js';
import type { CacheOptions } from './options.js';
import { allocateStore, SharedStore, type StoredEntry } from './shared-store.js';

export const KIND_POSITIVE = 0;
export const KIND_NEGATIVE = 1;
export const KIND_SERVFAIL = 2;

export const STATE_FRESH = 0;
export const STATE_STALE = 1;

/**
 * An entry: the upstream message minus its OPT (empty for SERVFAIL entries, answered locally), the offset
 * and stored (clamped) TTL of each record, `lifetime` (seconds fresh: the smallest TTL) from `storedAt`
 * (clock ms), its hits and the clock ms of its last failed refresh (RFC 8767 §4). A copy: changes go
 * through the cache (hit, noteRefreshFailed), so every worker sees them.
 */
export type CacheEntry = StoredEntry;

/** A cache key: the name, type, class and the DO and CD bits (both change what an upstream returns). */
export function cacheKey(qnameKey: string, qtype: number, qclass: number, dnssecOk: boolean, checkingDisabled: boolean): string {
  return qnameKey + '|' + qtype + '|' + qclass + (dnssecOk ? '|D' : '|-') + (checkingDisabled ? 'C' : '-');
}

export class ForwardCache {
  private readonly store: SharedStore;
  private readonly opts: CacheOptions;
  private readonly now: () => number;
  /** Entries this thread replaced to make room (other threads count their own). */
  evictions = 0;
  onEvict: (() => void) | null = null;

  /**
   * `shared` is the process's store (allocateForwardStore), the same for every worker; without it the
   * cache makes its own (one forwarder in the process: tests).
   */
  constructor(opts: CacheOptions, now: () => number = Date.now, shared: SharedArrayBuffer | null = null) {
    this.opts = opts;
    this.now = now;
    this.store = new SharedStore(shared ?? allocateForwardStore(opts));
  }

  /** Makes the entry to store for an upstream response, or null when it must not be cached. */
  entryFor(r: IndexedResponse): CacheEntry | null {
    const o = this.opts;
    const at = this.now();
    if (r.truncated) return null;
    if (r.rcode === RCODE_SERVFAIL && r.extRcodeHi === 0) return this.servfailEntry();
    const negative = r.rcode === RCODE_NXDOMAIN || (r.rcode === RCODE_NOERROR && r.ancount === 0);
    if (!negative && r.rcode !== RCODE_NOERROR) return null; // REFUSED, NOTIMP, FORMERR, extended: not cached
    if (r.extRcodeHi !== 0) return null;
    let ttls: number[];
    if (negative) {
      if (r.soaIndex < 0) return null;
      const neg = Math.min(r.negativeTtl, o.negativeMaxTtl);
      ttls = r.ttls.map((t) => Math.min(t, neg));
      ttls[r.soaIndex] = neg;
    } else {
      ttls = r.ttls.map((t) => Math.max(o.minTtl, Math.min(t, o.maxTtl)));
    }
    let lifetime = Infinity;
    for (const t of ttls) if (t < lifetime) lifetime = t;
    if (!(lifetime > 0) || lifetime === Infinity) return null; // TTL 0: use once, do not cache
    return {
      kind: negative ? KIND_NEGATIVE : KIND_POSITIVE, msg: r.msg, ttlOffsets: r.ttlOffsets, ttls,
      extRcodeHi: 0, storedAt: at, lifetime, hits: 0, refreshFailedAt: -Infinity, slot: -1, version: 0,
    };
  }

  /** A SERVFAIL marker entry (upstream said SERVFAIL, or nobody answered), or null when disabled. */
  servfailEntry(): CacheEntry | null {
    if (this.opts.servfailTtl <= 0) return null;
    return {
      kind: KIND_SERVFAIL, msg: Buffer.alloc(0), ttlOffsets: [], ttls: [], extRcodeHi: 0,
      storedAt: this.now(), lifetime: this.opts.servfailTtl, hits: 0, refreshFailedAt: -Infinity, slot: -1, version: 0,
    };
  }

  set(key: string, entry: CacheEntry): void {
    if (this.store.write(key, entry) !== 'evicted') return;
    this.evictions++;
    this.onEvict?.();
  }

  /**
   * The entry for `key` when fresh or still servable stale. One past both is left where it is: it is the
   * first to be replaced in its slots (readers never write).
   */
  get(key: string): CacheEntry | undefined {
    const e = this.store.read(key);
    if (e === undefined) return undefined;
    if (this.state(e) === STATE_FRESH) return e;
    const servableStale = this.opts.serveStale && e.kind !== KIND_SERVFAIL &&
      this.now() < e.storedAt + (e.lifetime + this.opts.staleMaxAge) * 1000;
    return servableStale ? e : undefined;
  }

  /** The entry whatever its age. */
  peek(key: string): CacheEntry | undefined {
    return this.store.read(key);
  }

  /** Counts a hit on `e` (seen by every worker); returns its hits since stored. */
  hit(e: CacheEntry): number {
    e.hits = this.store.hit(e);
    return e.hits;
  }

  /** True for one caller per stored answer across the process: that one prefetches it. */
  claimPrefetch(e: CacheEntry): boolean {
    return this.store.claimPrefetch(e);
  }

  /** Notes a failed refresh of `key`'s entry at `at` (clock ms); false when there is no entry to note it on. */
  noteRefreshFailed(key: string, at: number): boolean {
    return this.store.noteRefreshFailed(key, at);
  }

  state(e: CacheEntry): number {
    return this.now() < e.storedAt + e.lifetime * 1000 ? STATE_FRESH : STATE_STALE;
  }

  /** Milliseconds of freshness left (negative when stale). */
  remainingMs(e: CacheEntry): number {
    return e.storedAt + e.lifetime * 1000 - this.now();
  }

  /**
   * Milliseconds from now during which an answer built from `e` now stays the same bytes: until its TTLs
   * next tick down (whole seconds since storedAt, as currentTtls counts), it stops being fresh, or `until`
   * (a clock ms, e.g. the start of a prefetch window) comes. 0 when it is not fresh.
   */
  steadyMs(e: CacheEntry, until = Infinity): number {
    const now = this.now();
    const age = now - e.storedAt;
    const nextTick = (Math.floor(age / 1000) + 1) * 1000 - age;
    return Math.max(0, Math.min(nextTick, e.storedAt + e.lifetime * 1000 - now, until - now));
  }

  /** TTLs to send now: each stored TTL minus the whole seconds elapsed, or staleTtl for a stale entry. */
  currentTtls(e: CacheEntry): number[] {
    const out = new Array<number>(e.ttls.length);
    if (this.state(e) === STATE_STALE) {
      out.fill(this.opts.staleTtl);
      return out;
    }
    const elapsed = Math.floor((this.now() - e.storedAt) / 1000);
    for (let i = 0; i < e.ttls.length; i++) out[i] = Math.max(0, e.ttls[i]! - elapsed);
    return out;
  }

  delete(key: string): void {
    this.store.delete(key);
  }

  /** Drops everything, for every worker; returns how many entries there were. */
  clear(): number {
    return this.store.clear();
  }

  /** What the store holds now: entries and the bytes of their slots (the same from every worker). */
  size(): { entries: number; bytes: number } {
    return { entries: this.store.entries, bytes: this.store.bytesHeld };
  }
}

/** The process's forward cache store for these bounds: made once, handed to every worker. */
export function allocateForwardStore(opts: CacheOptions): SharedArrayBuffer {
  return allocateStore(opts.maxEntries, opts.maxBytes);
}
