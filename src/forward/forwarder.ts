// The forwarder: what the responder calls for names outside kdns's zones. Per query: the ACL, the route
// (local rules answered here), AAAA filtering, then the cache; on a miss one upstream query per distinct
// question (identical questions in flight wait for the same answer), with retries across servers and a TCP
// retry for truncated answers. Serve-stale follows RFC 8767: refresh first, and answer from the expired
// entry (TTL staleTtl) only when the refresh fails or the client response timer fires. Every path is
// bounded by timeouts; nothing throws to the caller.

import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  EDNS_ADVERTISED_UDP, FLAG_CD, RCODE_NXDOMAIN, RCODE_NOERROR, RCODE_REFUSED, RCODE_SERVFAIL, TYPE_A, TYPE_AAAA, TYPE_TXT, CLASS_IN,
} from '../dns/constants.js';
import type { UpstreamAddress } from '../config/types.js';
import { keyToWire } from '../dns/name.js';
import { Acl } from './acl.js';
import {
  cacheKey, ForwardCache, KIND_NEGATIVE, KIND_SERVFAIL, STATE_FRESH, type CacheEntry,
} from './cache.js';
import { carriesLoopMarker, isLoopProbeName, loopProbeAnswer, newLoopProbeName } from './loop-guard.js';
import {
  buildUpstreamQuery, indexResponse, localResponse, OPT_SIZE, questionEndOf, readClientQuestion, writeClientResponse,
  type ClientQuestion, type IndexedResponse, type LocalRecord,
} from './message.js';
import { ForwardMetrics, HIT_DENIAL, HIT_SERVFAIL, HIT_SUCCESS } from './metrics.js';
import { isOwnAddress, readResolvConf, type ForwardOptions } from './options.js';
import { RouteTable } from './routes.js';
import { Upstream, upstreamName, type UpstreamSettings, type UpstreamTap } from './upstream.js';
import type { ForwardReuseSetup } from '../server/responder.js';

export interface ForwardClient {
  address: string;
  family: 4 | 6;
  proto: 'udp' | 'tcp';
  /** The UDP payload size this client may receive (the responder's EDNS computation). */
  maxUdpSize: number;
}

/** One upstream question, shared by every query waiting for it. */
interface Question {
  key: string;
  nameWire: Buffer;
  qtype: number;
  qclass: number;
  dnssecOk: boolean;
  checkingDisabled: boolean;
  upstreams: Upstream[];
  tcp: boolean;
}

const REUSE_MARGIN_MS = 2;
/** exchange(): no upstream of the route is up; the client gets SERVFAIL (or stale) without a send, and it is not cached. */
const NONE_UP = 'none_up';

export class Forwarder {
  private opts: ForwardOptions;
  private readonly log: Logger;
  private readonly metrics: ForwardMetrics;
  private readonly cache: ForwardCache;
  private readonly acl: Acl;
  private table: RouteTable<Upstream>;
  private byAddress = new Map<string, Upstream>();
  private readonly upstreamSettings: UpstreamSettings;
  private readonly inflight = new Map<string, Promise<IndexedResponse | null>>();
  private readonly loopProbes = new Map<string, Upstream>();
  private readonly now: () => number;
  private rotation = 0;
  private closed = false;
  /** What tryAnswerNow's last answer may be reused for (see reuse); reset on every call. */
  private reuseMs = 0;
  private reuseKind = 0;
  /**
   * Called when answers handed out for reuse must be forgotten at once (cache flushed, an upstream
   * disabled): the responder sets it to clear its forwarded mirrors.
   */
  onReuseInvalid: (() => void) | null = null;
  /** Query logging of upstream traffic (dnstap), given to every upstream. */
  private upstreamTap: UpstreamTap | null = null;
  private readonly counters = {
    queries: 0, cacheHits: 0, cacheMisses: 0, staleServed: 0, prefetches: 0, coalesced: 0,
    refused: 0, localAnswers: 0, servfail: 0, loopProbesSeen: 0,
  };

  /**
   * `clock` is for tests (milliseconds, Date.now by default). `sharedCache` is the process's one cache store
   * (allocateForwardStore), the same for every worker's forwarder; null: this forwarder makes its own.
   */
  constructor(opts: ForwardOptions, log: Logger, registry: Registry | null, clock: () => number = Date.now,
    sharedCache: SharedArrayBuffer | null = null) {
    this.opts = opts;
    this.log = log;
    this.now = clock;
    this.cache = new ForwardCache(opts.cache, clock, sharedCache);
    this.metrics = new ForwardMetrics(registry, this.cache);
    this.cache.onEvict = () => this.metrics.cacheEvictions.inc();
    this.acl = new Acl(opts.allowNetworks);
    this.upstreamSettings = {
      maxInFlight: opts.maxInFlightPerUpstream,
      failuresBeforeDown: opts.failuresBeforeDown,
      probeIntervalMs: opts.probeIntervalMs,
      probeMaxIntervalMs: opts.probeMaxIntervalMs,
      probeTimeoutMs: opts.timeoutMs,
      tcpIdleTimeoutMs: opts.tcpIdleTimeoutMs,
      // Node's list plus the private CA: a `ca` option replaces the default list instead of adding to it.
      tlsCa: opts.tlsCa === null ? undefined : [...rootCertificates, readFileSync(opts.tlsCa, 'utf8')],
    };
    this.table = this.buildTable(new Map());
    log.info({ upstreams: this.table.allUpstreams().map((u) => u.name), policy: opts.policy }, 'forwarder ready');
  }

  /**
   * A SIGHUP reload: new routes, default upstreams, --address rules, policy, timeout, attempts, local TTL
   * and AAAA filtering (src/reload says which settings a reload applies). The access list, the cache and
   * the upstream tunables stay as built: change them with a restart. Upstreams still configured keep
   * their health and sockets; the others are closed. The cache is flushed, since its answers came
   * through the old routes.
   */
  reconfigure(next: ForwardOptions): void {
    if (this.closed) return;
    const previous = this.byAddress;
    this.opts = { ...next, cache: this.opts.cache, allowNetworks: this.opts.allowNetworks };
    this.table = this.buildTable(previous);
    for (const [name, up] of previous) if (!this.byAddress.has(name)) up.close();
    this.flushCache();
    this.log.info({ upstreams: this.table.allUpstreams().map((u) => u.name), policy: this.opts.policy }, 'forwarder reconfigured');
  }

  /** The route table for this.opts; upstreams found in `reuse` are kept rather than opened again. */
  private buildTable(reuse: ReadonlyMap<string, Upstream>): RouteTable<Upstream> {
    const opts = this.opts;
    this.byAddress = new Map();
    let defaults: UpstreamAddress[] = opts.defaultUpstreams;
    if (defaults.length === 0 && opts.resolvConf !== null) defaults = readResolvConf(opts.resolvConf, opts.listen, this.log);
    const upstreamFor = (a: UpstreamAddress): Upstream | null => this.upstreamFor(a, reuse);
    const defaultUps = defaults.map(upstreamFor).filter((u): u is Upstream => u !== null);
    if (defaultUps.length === 0) this.log.warn('no default upstreams: names without a route get SERVFAIL');
    return new RouteTable(opts.routes, opts.addresses, defaultUps, upstreamFor);
  }

  /** One Upstream per address, shared by every route; kdns's own addresses are refused (a loop). */
  private upstreamFor(a: UpstreamAddress, reuse: ReadonlyMap<string, Upstream>): Upstream | null {
    const name = upstreamName(a);
    if (a.tls === undefined && isOwnAddress(a, this.opts.listen)) {
      this.log.error({ upstream: name }, 'upstream refused: it is one of kdns\'s own listen addresses (a forwarding loop)');
      return null;
    }
    let up = this.byAddress.get(name) ?? reuse.get(name);
    if (up !== undefined) this.byAddress.set(name, up);
    if (up === undefined) {
      up = new Upstream(a, this.upstreamSettings, this.metrics, this.log);
      up.tap = this.upstreamTap;
      this.byAddress.set(name, up);
    }
    return up;
  }

  /** Logs every query sent to an upstream and its answer from now on (null: stop). */
  setTap(tap: UpstreamTap | null): void {
    this.upstreamTap = tap;
    for (const up of this.byAddress.values()) up.tap = tap;
  }

  /** True when `resolve` answers for this name: a route, a local rule or default upstreams apply. */
  routes(qnameKey: string): boolean {
    const rule = this.table.match(qnameKey);
    return rule.kind !== 'forward' || rule.upstreams.length > 0;
  }

  /**
   * True for the loop guard's probe names; the responder answers them with `loopProbeResponse` and never
   * forwards them. Seeing one of our own probes here means its upstream sent it back: disable it.
   */
  isLoopProbe(qnameKey: string): boolean {
    if (!isLoopProbeName(qnameKey)) return false;
    this.counters.loopProbesSeen++;
    const up = this.loopProbes.get(qnameKey);
    if (up !== undefined) this.disableForLoop(up);
    return true;
  }

  /** The answer for a loop probe query (NOERROR, a marker TXT); null when the query is malformed. */
  loopProbeResponse(query: Buffer): Buffer | null {
    return loopProbeAnswer(query);
  }

  /**
   * Sends a loop probe through each default upstream and waits for the answers (bounded by the timeout).
   * Returns the names of the upstreams disabled. Call once kdns is listening.
   */
  async detectLoops(): Promise<string[]> {
    const ups = this.table.defaultRule.upstreams.filter((u) => !u.disabled);
    await Promise.all(ups.map(async (up) => {
      const name = newLoopProbeName();
      this.loopProbes.set(name, up);
      const msg = buildUpstreamQuery(randomInt(0, 65536), keyToWire(name), TYPE_TXT, CLASS_IN, false, false);
      const r = await up.rawExchange(msg, this.opts.timeoutMs);
      if (typeof r !== 'string' && carriesLoopMarker(r, questionEndOf(msg))) this.disableForLoop(up);
    }));
    return ups.filter((u) => u.disabled).map((u) => u.name);
  }

  private disableForLoop(up: Upstream): void {
    if (up.disabled) return;
    up.disable();
    this.onReuseInvalid?.(); // its routes now answer SERVFAIL, not from the cache
    this.metrics.loopsDetected.labels(up.name).inc();
    this.log.error({ upstream: up.name },
      'forwarding loop: a probe sent to this upstream came back to kdns; upstream disabled (if it comes from resolv.conf, point kdns at the real resolver, e.g. /run/systemd/resolve/resolv.conf)');
  }

  async resolve(query: Buffer, qnameKey: string, qtype: number, client: ForwardClient): Promise<Buffer | null> {
    let q: ClientQuestion | null = null;
    try {
      q = readClientQuestion(query);
      if (q === null) return null;
      return await this.answer(query, q, qnameKey, qtype, client);
    } catch (err) {
      this.log.error({ err, qname: qnameKey }, 'forwarder error; answering SERVFAIL');
      this.counters.servfail++;
      return q === null ? null : localResponse(query, q, RCODE_SERVFAIL);
    }
  }

  private local(query: Buffer, q: ClientQuestion, rcode: number, reason: string, records?: LocalRecord[]): Buffer {
    this.counters.localAnswers++;
    this.metrics.local.labels(reason).inc();
    if (rcode === RCODE_SERVFAIL) this.counters.servfail++;
    return localResponse(query, q, rcode, records);
  }

  /**
   * The answer when it needs no upstream (a fresh cache hit, a local rule, an ACL refusal), or null when
   * resolve() must be called. Synchronous, so a batch engine can send cache hits in the same batch as
   * authoritative answers instead of one promise and one syscall per hit. Never throws.
   */
  tryAnswerNow(query: Buffer, qnameKey: string, qtype: number, client: ForwardClient): Buffer | null {
    this.reuseMs = 0;
    try {
      const q = readClientQuestion(query);
      if (q === null) return null;
      const now = this.immediate(query, q, qnameKey, qtype, client);
      if (!Buffer.isBuffer(now)) return null;
      this.counters.queries++;
      return now;
    } catch {
      return null;
    }
  }

  private async answer(query: Buffer, q: ClientQuestion, qnameKey: string, qtype: number, client: ForwardClient): Promise<Buffer> {
    this.counters.queries++;
    const now = this.immediate(query, q, qnameKey, qtype, client);
    if (Buffer.isBuffer(now)) return now;
    const { question, entry, udpLimit } = now;
    if (entry !== undefined) return this.fromStaleEntry(entry, question, query, q, udpLimit);
    this.counters.cacheMisses++;
    this.metrics.cacheMisses.inc();
    const r = await this.fetch(question);
    return this.fromResult(r, question, query, q, udpLimit);
  }

  /** Everything decided without the network: the answer, or what the network part needs. */
  private immediate(
    query: Buffer, q: ClientQuestion, qnameKey: string, qtype: number, client: ForwardClient,
  ): Buffer | { question: Question; entry: CacheEntry | undefined; udpLimit: number } {
    const udpLimit = client.proto === 'tcp' ? 65535 : Math.max(512, client.maxUdpSize);
    if (this.closed) return this.local(query, q, RCODE_SERVFAIL, 'closed');
    if (!this.acl.allows(client.address)) {
      this.counters.refused++;
      return this.local(query, q, RCODE_REFUSED, 'acl');
    }
    const rule = this.table.match(qnameKey);
    if (rule.kind === 'local') return this.local(query, q, RCODE_NXDOMAIN, 'local_only');
    if (rule.kind === 'address') {
      if (rule.v4.length === 0 && rule.v6.length === 0) return this.local(query, q, RCODE_NXDOMAIN, 'address');
      const ips = qtype === TYPE_A ? rule.v4 : qtype === TYPE_AAAA ? rule.v6 : [];
      const ttl = this.opts.localTtl;
      return this.local(query, q, RCODE_NOERROR, 'address', ips.map((rdata) => ({ type: qtype, ttl, rdata })));
    }
    if (this.opts.filterAaaa && qtype === TYPE_AAAA) return this.local(query, q, RCODE_NOERROR, 'filtered_aaaa');
    if (rule.upstreams.every((u) => u.disabled)) return this.local(query, q, RCODE_SERVFAIL, 'no_upstream');

    const cd = (q.flags & FLAG_CD) !== 0;
    const question: Question = {
      key: cacheKey(qnameKey, qtype, q.qclass, q.dnssecOk, cd),
      nameWire: query.subarray(12, 12 + q.nameLength),
      qtype, qclass: q.qclass, dnssecOk: q.dnssecOk, checkingDisabled: cd,
      upstreams: rule.upstreams, tcp: client.proto === 'tcp',
    };
    const entry = this.cache.get(question.key);
    if (entry !== undefined && this.cache.state(entry) === STATE_FRESH) return this.fromFreshEntry(entry, question, query, q, udpLimit);
    // Every upstream of the route is down: answer now, without a send (the probes bring them back).
    if (!rule.upstreams.some((u) => u.healthy)) {
      if (entry !== undefined && entry.kind !== KIND_SERVFAIL && this.opts.cache.serveStale) return this.stale(entry, query, q, udpLimit);
      return this.local(query, q, RCODE_SERVFAIL, 'upstreams_down');
    }
    return { question, entry, udpLimit };
  }

  private fromFreshEntry(e: CacheEntry, question: Question, query: Buffer, q: ClientQuestion, udpLimit: number): Buffer {
    this.counters.cacheHits++;
    this.metrics.pendingHits[e.kind === KIND_SERVFAIL ? HIT_SERVFAIL : e.kind === KIND_NEGATIVE ? HIT_DENIAL : HIT_SUCCESS]++;
    if (e.kind === KIND_SERVFAIL) {
      this.counters.servfail++;
      return localResponse(query, q, RCODE_SERVFAIL);
    }
    this.cache.hit(e);
    this.maybePrefetch(e, question);
    this.noteReuse(e, q, udpLimit);
    return writeClientResponse(e.msg, e.ttlOffsets, this.cache.currentTtls(e), e.extRcodeHi, query, q, udpLimit);
  }

  /**
   * How long the fresh-hit answer being built stays exactly right for the same question and flags (DO, CD,
   * AD), from any client the access list allows: until its TTLs tick, it goes stale, or the prefetch window
   * opens (a hit must then reach maybePrefetch). Not for answers that are truncated or carry an extended
   * rcode. A couple of milliseconds are kept back so a copy never outlives the second it was made for.
   */
  private noteReuse(e: CacheEntry, q: ClientQuestion, udpLimit: number): void {
    if (e.extRcodeHi !== 0 || e.msg.length + (q.hasOpt ? OPT_SIZE : 0) > udpLimit) return;
    const p = this.opts.cache.prefetch;
    const prefetchAt = p.minHits > 0 && e.lifetime >= 2
      ? e.storedAt + e.lifetime * 1000 - e.lifetime * 10 * p.beforeExpiryPercent
      : Infinity;
    const ms = this.cache.steadyMs(e, prefetchAt) - REUSE_MARGIN_MS;
    if (ms <= 0) return;
    this.reuseMs = ms;
    this.reuseKind = e.kind === KIND_NEGATIVE ? HIT_DENIAL : HIT_SUCCESS;
  }

  /**
   * For the answer the last tryAnswerNow returned: how many milliseconds it may be reused for (0: not at
   * all) and the kdns_cache_hits_total kind (HIT_*) each reuse counts as.
   */
  reuse(): { ms: number; kind: number } {
    return { ms: this.reuseMs, kind: this.reuseKind };
  }

  /** What a native copy of reusable answers needs: the access list as address rules, our OPT size, the hit counts. */
  reuseSetup(): ForwardReuseSetup {
    return {
      acl: this.acl.wireRules(), advertisedUdp: EDNS_ADVERTISED_UDP, hits: this.metrics.pendingHits, maxEntries: this.opts.cache.maxEntries,
    };
  }

  /** Popular entries are refreshed in the background when little of their TTL is left. */
  private maybePrefetch(e: CacheEntry, question: Question): void {
    const p = this.opts.cache.prefetch;
    if (p.minHits <= 0 || e.hits < p.minHits || e.lifetime < 2 || this.inflight.has(question.key)) return;
    if (this.cache.remainingMs(e) > e.lifetime * 10 * p.beforeExpiryPercent) return;
    if (!this.cache.claimPrefetch(e)) return; // another worker (or an earlier hit here) refreshes it
    this.counters.prefetches++;
    this.metrics.cachePrefetch.inc();
    void this.fetch(question);
  }

  private async fromStaleEntry(e: CacheEntry, question: Question, query: Buffer, q: ClientQuestion, udpLimit: number): Promise<Buffer> {
    // RFC 8767 §4: after a failed refresh, answer stale at once for a while instead of trying every time.
    if (this.now() - e.refreshFailedAt < this.opts.cache.staleTtl * 1000) return this.stale(e, query, q, udpLimit);
    this.counters.cacheMisses++;
    this.metrics.cacheMisses.inc();
    const refresh = this.fetch(question);
    let timer: NodeJS.Timeout | undefined;
    const clientTimer = new Promise<'timer'>((resolve) => {
      timer = setTimeout(() => resolve('timer'), this.opts.cache.staleAnswerTimeoutMs);
    });
    const winner = await Promise.race([refresh, clientTimer]);
    clearTimeout(timer);
    if (winner === 'timer' || winner === null || isFailure(winner)) return this.stale(e, query, q, udpLimit);
    return this.fromResult(winner, question, query, q, udpLimit);
  }

  private stale(e: CacheEntry, query: Buffer, q: ClientQuestion, udpLimit: number): Buffer {
    this.counters.staleServed++;
    this.metrics.cacheServedStale.inc();
    return writeClientResponse(e.msg, e.ttlOffsets, this.cache.currentTtls(e), e.extRcodeHi, query, q, udpLimit);
  }

  /** The client's answer from a fetch result: from the fresh cache entry it made, else directly. */
  private fromResult(r: IndexedResponse | null, question: Question, query: Buffer, q: ClientQuestion, udpLimit: number): Buffer {
    if (r === null) {
      this.counters.servfail++;
      return localResponse(query, q, RCODE_SERVFAIL);
    }
    if (r.rcode === RCODE_SERVFAIL) this.counters.servfail++;
    // The TTLs as the cache keeps them (clamped), as a hit just after would give them.
    const e = this.cache.entryFor(r);
    if (e !== null && e.msg === r.msg) {
      return writeClientResponse(e.msg, e.ttlOffsets, this.cache.currentTtls(e), e.extRcodeHi, query, q, udpLimit);
    }
    return writeClientResponse(r.msg, r.ttlOffsets, r.ttls, r.extRcodeHi, query, q, udpLimit);
  }

  /** One upstream exchange per question at a time; the answer goes into the cache. Never rejects. */
  private fetch(question: Question): Promise<IndexedResponse | null> {
    const running = this.inflight.get(question.key);
    if (running !== undefined) {
      this.counters.coalesced++;
      this.metrics.cacheCoalesced.inc();
      return running;
    }
    const p = this.exchange(question)
      .catch((err: unknown) => {
        this.log.error({ err }, 'upstream exchange failed');
        return null;
      })
      .then((r) => {
        if (r === NONE_UP) {
          // Nothing was asked: no SERVFAIL entry, so the first query after a probe brings a server back is sent.
          this.noteRefreshFailed(question.key);
          return null;
        }
        this.store(question.key, r);
        return r;
      })
      .finally(() => this.inflight.delete(question.key));
    this.inflight.set(question.key, p);
    return p;
  }

  private store(key: string, r: IndexedResponse | null): void {
    if (this.closed) return;
    const failed = r === null || isFailure(r);
    const prev = this.cache.peek(key);
    // Keep the last good answer for serve-stale; note the failure for the RFC 8767 recheck timer.
    if (failed && this.noteRefreshFailed(key)) return;
    if (r === null) {
      const sf = this.cache.servfailEntry();
      if (sf !== null) this.cache.set(key, sf);
      return;
    }
    const entry = this.cache.entryFor(r);
    if (entry !== null) this.cache.set(key, entry);
    else if (prev !== undefined && !failed) this.cache.delete(key); // e.g. TTL 0 now: forget the old answer
  }

  /** True when a good answer is kept for serve-stale: the failed refresh is noted on it (RFC 8767 §4). */
  private noteRefreshFailed(key: string): boolean {
    if (!this.opts.cache.serveStale) return false;
    const prev = this.cache.peek(key);
    if (prev === undefined || prev.kind === KIND_SERVFAIL) return false;
    this.cache.noteRefreshFailed(key, this.now()); // lost to a concurrent write: that one is newer anyway
    return true;
  }

  /**
   * Try upstreams that are up in policy order, `attempts` times in total; truncated UDP answers are retried
   * over TCP. A server is asked again only while it is still up: one that went down during this query
   * (refused, or its N-th timeout) gets no second send.
   */
  private async exchange(question: Question): Promise<IndexedResponse | null | typeof NONE_UP> {
    const order = this.order(question.upstreams);
    if (order.length === 0) return NONE_UP;
    let last: IndexedResponse | null = null;
    let attempts = 0;
    let busy: Set<Upstream> | null = null;
    // Bounded: each turn either uses an attempt or finds one more server at its in-flight cap.
    for (let turn = 0; turn < this.opts.attempts + order.length && attempts < this.opts.attempts; turn++) {
      const up = order[turn % order.length]!;
      if (busy?.has(up) || !up.healthy) continue;
      const msg = buildUpstreamQuery(randomInt(0, 65536), question.nameWire, question.qtype, question.qclass,
        question.dnssecOk, question.checkingDisabled);
      let res = await up.exchange(msg, question.tcp, this.opts.timeoutMs);
      if (res === 'busy') {
        (busy ??= new Set()).add(up);
        if (busy.size === order.length) break; // every server is at its cap: SERVFAIL now, never queue
        continue;
      }
      attempts++;
      if (typeof res === 'string') continue;
      let idx = indexResponse(res, questionEndOf(msg));
      if (idx === null) continue;
      if (idx.truncated && !question.tcp) {
        // RFC 7766 §5: a truncated answer is retried over TCP, on the same server.
        const tcpMsg = buildUpstreamQuery(randomInt(0, 65536), question.nameWire, question.qtype, question.qclass,
          question.dnssecOk, question.checkingDisabled);
        res = await up.exchange(tcpMsg, true, this.opts.timeoutMs);
        const viaTcp = typeof res === 'string' ? null : indexResponse(res, questionEndOf(tcpMsg));
        if (viaTcp === null) {
          last = idx; // the client gets TC and can retry over TCP itself
          continue;
        }
        idx = viaTcp;
      }
      if (!isFailure(idx)) return idx;
      last = idx;
      if (order.length === 1) break; // asking the same server again for the same question gives the same SERVFAIL
    }
    return last;
  }

  /** The upstreams that are up, in policy order. Down ones are left to their probes; disabled ones are never used. */
  private order(ups: readonly Upstream[]): Upstream[] {
    const healthy = ups.filter((u) => u.healthy);
    if (healthy.length > 1) {
      let start = 0;
      if (this.opts.policy === 'round_robin') start = this.rotation++ % healthy.length;
      else if (this.opts.policy === 'random') start = randomInt(0, healthy.length);
      if (start > 0) healthy.push(...healthy.splice(0, start));
    }
    return healthy;
  }

  /** Drops every cached answer; returns how many there were. */
  flushCache(): number {
    const n = this.cache.clear();
    this.onReuseInvalid?.();
    this.log.info({ entries: n }, 'cache flushed');
    return n;
  }

  stats(): object {
    const size = this.cache.size();
    return {
      ...this.counters,
      cache: { entries: size.entries, bytes: size.bytes, evictions: this.cache.evictions },
      inflight: this.inflight.size,
      upstreams: [...this.byAddress.values()].map((u) => ({
        name: u.name, healthy: u.healthy, disabled: u.disabled, inFlight: u.inFlight, requests: u.requests, failures: u.failures,
        connections: u.connections,
      })),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.onReuseInvalid?.();
    for (const up of this.byAddress.values()) up.close();
    await Promise.allSettled([...this.inflight.values()]);
    // The cache is not cleared: other workers (and this one's replacement after a restart) share it.
  }
}

/** An upstream answer that should make us try elsewhere and not replace a good cached one. */
function isFailure(r: IndexedResponse): boolean {
  return r.rcode === RCODE_SERVFAIL || r.rcode === RCODE_REFUSED || r.truncated;
}
