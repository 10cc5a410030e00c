// The forwarder: what the responder calls for names outside kdns's zones. Per query, once, from the
// responder's parsed query (its QuerySlot): the ACL, the route (local rules answered here), AAAA filtering,
// then the cache (answerNow). A miss becomes a MissTicket holding what that found; continueMiss sends one
// upstream query per distinct question (identical questions in flight wait for the same answer), with
// retries across servers and a TCP retry for truncated answers, and calls the ticket's callback with the
// response: callbacks all the way, no promise per query. Serve-stale follows RFC 8767: refresh first, and
// answer from the expired entry (TTL staleTtl) only when the refresh fails or the client response timer
// fires. Every path is bounded by timeouts; nothing throws to the caller.

import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  EDNS_ADVERTISED_UDP, FLAG_CD, HEADER_SIZE, RCODE_NXDOMAIN, RCODE_NOERROR, RCODE_REFUSED, RCODE_SERVFAIL, TYPE_A, TYPE_AAAA, TYPE_TXT, CLASS_IN,
} from '../dns/constants.js';
import type { UpstreamAddress } from '../config/types.js';
import { keyToWire } from '../dns/name.js';
import { QuerySlot, readQuery, READ_OK } from '../dns/query-reader.js';
import { randomId16 } from '../util/random-ids.js';
import { Acl } from './acl.js';
import {
  cacheKey, ForwardCache, KIND_NEGATIVE, KIND_SERVFAIL, STATE_FRESH, type CacheEntry,
} from './cache.js';
import { carriesLoopMarker, isLoopProbeName, loopProbeAnswer, newLoopProbeName } from './loop-guard.js';
import {
  buildUpstreamQuery, clientQuestionOf, indexResponse, localResponse, OPT_SIZE, questionEndOf, writeClientResponse,
  type ClientQuestion, type IndexedResponse, type LocalRecord,
} from './message.js';
import type { DatagramLink } from './datagram-link.js';
import { ForwardOutcome, MissTicket, type ForwardReuseSetup, type Question } from './outcome.js';
import { ForwardMetrics, HIT_DENIAL, HIT_SERVFAIL, HIT_SUCCESS } from './metrics.js';
import { isOwnAddress, readResolvConf, type ForwardOptions } from './options.js';
import { RouteTable } from './routes.js';
import { Upstream, upstreamName, type UpstreamOutcome, type UpstreamSettings, type UpstreamTap } from './upstream.js';

export interface ForwardClient {
  address: string;
  family: 4 | 6;
  proto: 'udp' | 'tcp';
  /** The UDP payload size this client may receive (the responder's EDNS computation). */
  maxUdpSize: number;
}

/** An upstream exchange's result: the answer, null (no answer), or NONE_UP (nothing was asked). */
type FetchResult = IndexedResponse | null;
/** Waits for one upstream question: a client's ticket, or null for a prefetch (nobody to answer). */
type Waiter = MissTicket | null;

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
  /** Questions asked upstream now → the tickets waiting for the answer (coalescing). */
  private readonly inflight = new Map<string, Waiter[]>();
  /** Set while continueMiss runs: an answer found then is delivered on the next tick. */
  private continuing = false;
  /** close(): called when the last question in flight settles. */
  private drained: (() => void) | null = null;
  private readonly loopProbes = new Map<string, Upstream>();
  private readonly now: () => number;
  private rotation = 0;
  private closed = false;
  /** Called when answers handed out for reuse must be forgotten at once (cache flushed, an upstream disabled). */
  private readonly reuseInvalidListeners: Array<() => void> = [];
  /** resolve()'s own reader slot and outcome (tests and tools; the engines hand over the responder's). */
  private readonly ownSlot = new QuerySlot();
  private readonly ownOutcome = new ForwardOutcome();
  /** Query logging of upstream traffic (dnstap), given to every upstream. */
  private upstreamTap: UpstreamTap | null = null;
  /** How plain upstreams' UDP queries travel (the native engine's link), given to every upstream; null: dgram. */
  private datagramLink: DatagramLink | null = null;
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
    this.cache.onEvict = () => { this.metrics.evictions.n++; };
    this.metrics.udpInFlight = () => {
      const open = new Map<string, number>();
      for (const up of this.byAddress.values()) {
        if (up.tls === undefined) open.set(up.udpVia, (open.get(up.udpVia) ?? 0) + up.udpInFlight);
      }
      return open;
    };
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
      up.useLink(this.datagramLink);
      this.byAddress.set(name, up);
    }
    return up;
  }

  /** Logs every query sent to an upstream and its answer from now on (null: stop). */
  setTap(tap: UpstreamTap | null): void {
    this.upstreamTap = tap;
    for (const up of this.byAddress.values()) up.tap = tap;
  }

  /** Plain upstreams send their UDP queries through `link` from now on (null: Node's dgram sockets). */
  setDatagramLink(link: DatagramLink | null): void {
    this.datagramLink = link;
    for (const up of this.byAddress.values()) up.useLink(link);
  }

  /** True when `resolve` answers for this name: a route, a local rule or default upstreams apply. */
  routes(qnameKey: string): boolean {
    const rule = this.table.peek(qnameKey);
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

  /** The answer for a loop probe query (NOERROR, a marker TXT), from the responder's parsed query. */
  loopProbeResponse(query: Buffer, slot: QuerySlot): Buffer {
    return loopProbeAnswer(query, clientQuestionOf(slot));
  }

  /**
   * `listener` is called whenever answers handed out for reuse (ForwardOutcome.reuseMs) must be forgotten
   * at once: a cache flush, an upstream disabled by the loop guard, close().
   */
  onReuseInvalid(listener: () => void): void {
    this.reuseInvalidListeners.push(listener);
  }

  private reuseInvalid(): void {
    for (const listener of this.reuseInvalidListeners) listener();
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
      const msg = buildUpstreamQuery(randomId16(), keyToWire(name), TYPE_TXT, CLASS_IN, false, false);
      const r = await up.rawExchange(msg, this.opts.timeoutMs);
      if (typeof r !== 'string' && carriesLoopMarker(r, questionEndOf(msg))) this.disableForLoop(up);
    }));
    return ups.filter((u) => u.disabled).map((u) => u.name);
  }

  private disableForLoop(up: Upstream): void {
    if (up.disabled) return;
    up.disable();
    this.reuseInvalid(); // its routes now answer SERVFAIL, not from the cache
    this.metrics.loopsDetected.labels(up.name).inc();
    this.log.error({ upstream: up.name },
      'forwarding loop: a probe sent to this upstream came back to kdns; upstream disabled (if it comes from resolv.conf, point kdns at the real resolver, e.g. /run/systemd/resolve/resolv.conf)');
  }

  /**
   * The whole query in, the whole response out (null: not a query the reader accepts). For tests and tools:
   * the engines hand over the responder's parsed query with answerNow and continueMiss instead.
   */
  resolve(query: Buffer, qnameKey: string, qtype: number, client: ForwardClient): Promise<Buffer | null> {
    const slot = this.ownSlot;
    if (readQuery(query, query.length, slot) !== READ_OK || slot.qtype !== qtype) return Promise.resolve(null);
    const out = this.ownOutcome;
    this.answerNow(query, slot, qnameKey, client, out);
    if (out.answer !== null) return Promise.resolve(out.answer);
    const ticket = out.ticket!;
    return new Promise((resolve) => {
      ticket.onAnswer = resolve;
      this.continueMiss(ticket);
    });
  }

  private local(query: Buffer, q: ClientQuestion, rcode: number, reason: string, records?: LocalRecord[]): Buffer {
    this.counters.localAnswers++;
    this.metrics.local.labels(reason).inc();
    if (rcode === RCODE_SERVFAIL) this.counters.servfail++;
    return localResponse(query, q, rcode, records);
  }

  /**
   * Everything decided without the network, once per query, from the responder's parsed query (`slot`, as
   * readQuery left it; `query` holds its bytes): `out.answer` when no upstream is needed (a fresh cache hit,
   * a local rule, a refusal; with `out.reuseMs`), else `out.ticket` for continueMiss. Synchronous, so a batch
   * engine sends cache hits in the same batch as authoritative answers. Never throws.
   */
  answerNow(query: Buffer, slot: QuerySlot, qnameKey: string, client: ForwardClient, out: ForwardOutcome): void {
    out.reset();
    const q = clientQuestionOf(slot);
    try {
      this.counters.queries++;
      this.immediate(query, q, qnameKey, slot.qtype, client, out);
    } catch (err) {
      this.log.error({ err, qname: qnameKey }, 'forwarder error; answering SERVFAIL');
      out.reset();
      this.counters.servfail++;
      out.answer = localResponse(query, q, RCODE_SERVFAIL);
    }
  }

  /**
   * The network part of a miss answerNow returned as a ticket: the stale-entry rules or the upstream
   * exchange, then `ticket.onAnswer(response, ticket.replyTo)` exactly once. Never throws.
   */
  continueMiss(ticket: MissTicket): void {
    this.continuing = true;
    try {
      this.startMiss(ticket);
    } finally {
      this.continuing = false;
    }
  }

  private startMiss(ticket: MissTicket): void {
    const e = ticket.entry;
    if (e === undefined) {
      this.counters.cacheMisses++;
      this.metrics.misses.n++;
      this.fetch(ticket.question, ticket);
      return;
    }
    // RFC 8767 §4: after a failed refresh, answer stale at once for a while instead of trying every time.
    if (this.now() - e.refreshFailedAt < this.opts.cache.staleTtl * 1000) {
      this.deliver(ticket, this.stale(e, ticket.query, ticket.q, ticket.udpLimit));
      return;
    }
    this.counters.cacheMisses++;
    this.metrics.misses.n++;
    ticket.staleTimer = setTimeout(staleTimerFired, this.opts.cache.staleAnswerTimeoutMs, this, ticket);
    this.fetch(ticket.question, ticket);
  }

  /** The RFC 8767 client response timer of a stale refresh fired: the client gets the stale answer now. */
  staleAnswerNow(ticket: MissTicket): void {
    ticket.staleTimer = undefined;
    if (ticket.answered) return;
    this.deliver(ticket, this.stale(ticket.entry!, ticket.query, ticket.q, ticket.udpLimit));
  }

  /** The client's response from an upstream result, then the ticket's callback (unless it was answered stale). */
  private settle(ticket: MissTicket, r: FetchResult, entry: CacheEntry | null): void {
    if (ticket.answered) return;
    if (ticket.staleTimer !== undefined) {
      clearTimeout(ticket.staleTimer);
      ticket.staleTimer = undefined;
    }
    let response: Buffer;
    try {
      const e = ticket.entry;
      if (e !== undefined && (r === null || isFailure(r))) response = this.stale(e, ticket.query, ticket.q, ticket.udpLimit);
      else response = this.fromResult(r, entry, ticket.query, ticket.q, ticket.udpLimit);
    } catch (err) {
      this.log.error({ err }, 'forwarder error; answering SERVFAIL');
      this.counters.servfail++;
      response = localResponse(ticket.query, ticket.q, RCODE_SERVFAIL);
    }
    this.deliver(ticket, response);
  }

  private deliver(ticket: MissTicket, response: Buffer): void {
    ticket.answered = true;
    // Answered inside continueMiss (stale now, no upstream up, all at their caps): the caller gets it on
    // the next tick, as it would from the network, never inside its own call (a TCP connection's read loop).
    if (this.continuing) process.nextTick(deliverTicket, this, ticket, response);
    else this.answerTicket(ticket, response);
  }

  /** Calls the ticket's callback; a failing caller is logged, never thrown into the forwarder. */
  answerTicket(ticket: MissTicket, response: Buffer): void {
    try {
      ticket.onAnswer?.(response, ticket.replyTo);
    } catch (err) {
      this.log.error({ err }, 'forwarded answer: the caller failed to send it');
    }
  }

  /** Everything decided without the network: `out.answer`, or `out.ticket` with what the network part needs. */
  private immediate(query: Buffer, q: ClientQuestion, qnameKey: string, qtype: number, client: ForwardClient, out: ForwardOutcome): void {
    const udpLimit = client.proto === 'tcp' ? 65535 : Math.max(512, client.maxUdpSize);
    if (this.closed) { out.answer = this.local(query, q, RCODE_SERVFAIL, 'closed'); return; }
    if (!this.acl.allows(client.address)) {
      this.counters.refused++;
      out.answer = this.local(query, q, RCODE_REFUSED, 'acl');
      return;
    }
    const rule = this.table.match(qnameKey);
    if (rule.kind === 'local') { out.answer = this.local(query, q, RCODE_NXDOMAIN, 'local_only'); return; }
    if (rule.kind === 'address') {
      if (rule.v4.length === 0 && rule.v6.length === 0) { out.answer = this.local(query, q, RCODE_NXDOMAIN, 'address'); return; }
      const ips = qtype === TYPE_A ? rule.v4 : qtype === TYPE_AAAA ? rule.v6 : [];
      const ttl = this.opts.localTtl;
      out.answer = this.local(query, q, RCODE_NOERROR, 'address', ips.map((rdata) => ({ type: qtype, ttl, rdata })));
      return;
    }
    if (this.opts.filterAaaa && qtype === TYPE_AAAA) { out.answer = this.local(query, q, RCODE_NOERROR, 'filtered_aaaa'); return; }
    if (rule.upstreams.every((u) => u.disabled)) { out.answer = this.local(query, q, RCODE_SERVFAIL, 'no_upstream'); return; }

    const cd = (q.flags & FLAG_CD) !== 0;
    const key = cacheKey(qnameKey, qtype, q.qclass, q.dnssecOk, cd);
    const entry = this.cache.get(key);
    if (entry !== undefined && this.cache.state(entry) === STATE_FRESH) {
      out.answer = this.fromFreshEntry(entry, key, rule.upstreams, query, q, udpLimit, client.proto === 'tcp', out);
      return;
    }
    // Every upstream of the route is down: answer now, without a send (the probes bring them back).
    if (!rule.upstreams.some((u) => u.healthy)) {
      if (entry !== undefined && entry.kind !== KIND_SERVFAIL && this.opts.cache.serveStale) out.answer = this.stale(entry, query, q, udpLimit);
      else out.answer = this.local(query, q, RCODE_SERVFAIL, 'upstreams_down');
      return;
    }
    // The ticket outlives the receive buffer: copy the header and question, the only bytes answers use.
    const copy = Buffer.from(query.subarray(0, q.questionEnd));
    out.ticket = new MissTicket(this.question(key, copy, q, rule.upstreams, client.proto === 'tcp'), entry, copy, q, udpLimit);
  }

  private question(key: string, query: Buffer, q: ClientQuestion, upstreams: Upstream[], tcp: boolean): Question {
    return {
      key, nameWire: query.subarray(12, 12 + q.nameLength), qtype: q.qtype, qclass: q.qclass, dnssecOk: q.dnssecOk,
      checkingDisabled: (q.flags & FLAG_CD) !== 0, upstreams, tcp,
    };
  }

  private fromFreshEntry(
    e: CacheEntry, key: string, upstreams: Upstream[], query: Buffer, q: ClientQuestion, udpLimit: number, tcp: boolean, out: ForwardOutcome,
  ): Buffer {
    this.counters.cacheHits++;
    this.metrics.pendingHits[e.kind === KIND_SERVFAIL ? HIT_SERVFAIL : e.kind === KIND_NEGATIVE ? HIT_DENIAL : HIT_SUCCESS]++;
    if (e.kind === KIND_SERVFAIL) {
      this.counters.servfail++;
      return localResponse(query, q, RCODE_SERVFAIL);
    }
    this.cache.hit(e);
    this.maybePrefetch(e, key, query, q, upstreams, tcp);
    this.noteReuse(e, q, udpLimit, out);
    return writeClientResponse(e.msg, e.ttlOffsets, this.cache.currentTtls(e), e.extRcodeHi, query, q, udpLimit);
  }

  /**
   * How long the fresh-hit answer being built stays exactly right for the same question and flags (DO, CD,
   * AD), from any client the access list allows: until its TTLs tick, it goes stale, or the prefetch window
   * opens (a hit must then reach maybePrefetch). Not for answers that are truncated or carry an extended
   * rcode. A couple of milliseconds are kept back so a copy never outlives the second it was made for.
   */
  private noteReuse(e: CacheEntry, q: ClientQuestion, udpLimit: number, out: ForwardOutcome): void {
    if (e.extRcodeHi !== 0 || e.msg.length + (q.hasOpt ? OPT_SIZE : 0) > udpLimit) return;
    const p = this.opts.cache.prefetch;
    const prefetchAt = p.minHits > 0 && e.lifetime >= 2
      ? e.storedAt + e.lifetime * 1000 - e.lifetime * 10 * p.beforeExpiryPercent
      : Infinity;
    const ms = this.cache.steadyMs(e, prefetchAt) - REUSE_MARGIN_MS;
    if (ms <= 0) return;
    out.reuseMs = ms;
    out.reuseKind = e.kind === KIND_NEGATIVE ? HIT_DENIAL : HIT_SUCCESS;
  }

  /** What a native copy of reusable answers needs: the access list as address rules, our OPT size, the hit counts. */
  reuseSetup(): ForwardReuseSetup {
    return {
      acl: this.acl.wireRules(), advertisedUdp: EDNS_ADVERTISED_UDP, hits: this.metrics.pendingHits, maxEntries: this.opts.cache.maxEntries,
    };
  }

  /** Popular entries are refreshed in the background when little of their TTL is left. */
  private maybePrefetch(e: CacheEntry, key: string, query: Buffer, q: ClientQuestion, upstreams: Upstream[], tcp: boolean): void {
    const p = this.opts.cache.prefetch;
    if (p.minHits <= 0 || e.hits < p.minHits || e.lifetime < 2 || this.inflight.has(key)) return;
    if (this.cache.remainingMs(e) > e.lifetime * 10 * p.beforeExpiryPercent) return;
    if (!this.cache.claimPrefetch(e)) return; // another worker (or an earlier hit here) refreshes it
    this.counters.prefetches++;
    this.metrics.cachePrefetch.inc();
    // The question is built only now: the receive buffer is reused, so its name is copied.
    this.fetch(this.question(key, Buffer.from(query.subarray(0, q.questionEnd)), q, upstreams, tcp), null);
  }

  private stale(e: CacheEntry, query: Buffer, q: ClientQuestion, udpLimit: number): Buffer {
    this.counters.staleServed++;
    this.metrics.cacheServedStale.inc();
    return writeClientResponse(e.msg, e.ttlOffsets, this.cache.currentTtls(e), e.extRcodeHi, query, q, udpLimit);
  }

  /** The client's answer from a fetch result: from the fresh cache entry it made, else directly. */
  private fromResult(r: FetchResult, e: CacheEntry | null, query: Buffer, q: ClientQuestion, udpLimit: number): Buffer {
    if (r === null) {
      this.counters.servfail++;
      return localResponse(query, q, RCODE_SERVFAIL);
    }
    if (r.rcode === RCODE_SERVFAIL) this.counters.servfail++;
    // The TTLs as the cache keeps them (clamped), as a hit just after would give them.
    if (e !== null && e.msg === r.msg) {
      return writeClientResponse(e.msg, e.ttlOffsets, this.cache.currentTtls(e), e.extRcodeHi, query, q, udpLimit);
    }
    return writeClientResponse(r.msg, r.ttlOffsets, r.ttls, r.extRcodeHi, query, q, udpLimit);
  }

  /**
   * One upstream exchange per question at a time; the answer goes into the cache, then every waiter of the
   * question is answered from it in one go (one callback per upstream answer, however many clients wait).
   */
  private fetch(question: Question, waiter: Waiter): void {
    const waiting = this.inflight.get(question.key);
    if (waiting !== undefined) {
      this.counters.coalesced++;
      this.metrics.coalesced.n++;
      waiting.push(waiter);
      return;
    }
    this.inflight.set(question.key, [waiter]);
    try {
      this.exchange(question, (r) => this.fetched(question, r));
    } catch (err) {
      this.log.error({ err }, 'upstream exchange failed');
      this.fetched(question, null);
    }
  }

  private fetched(question: Question, r: FetchResult | typeof NONE_UP): void {
    const waiters = this.inflight.get(question.key);
    if (waiters === undefined) return; // settled already (an exchange that failed after its callback ran)
    this.inflight.delete(question.key);
    if (r === NONE_UP) {
      // Nothing was asked: no SERVFAIL entry, so the first query after a probe brings a server back is sent.
      this.noteRefreshFailed(question.key);
      for (const w of waiters) if (w !== null) this.settle(w, null, null);
    } else {
      // The entry as the cache keeps it (TTLs clamped), made once for every waiter's answer and the store.
      const entry = r === null ? null : this.cache.entryFor(r);
      for (const w of waiters) if (w !== null) this.settle(w, r, entry);
      // Stored after the answers went out (nothing else runs in between): the store is not on their path.
      this.store(question.key, r, entry);
    }
    if (this.inflight.size === 0 && this.drained !== null) this.drained();
  }

  /** `entry`: cache.entryFor(r), null when r is not cacheable. */
  private store(key: string, r: IndexedResponse | null, entry: CacheEntry | null): void {
    if (this.closed) return;
    const failed = r === null || isFailure(r);
    // Keep the last good answer for serve-stale; note the failure for the RFC 8767 recheck timer.
    if (failed && this.noteRefreshFailed(key)) return;
    if (r === null) {
      const sf = this.cache.servfailEntry();
      if (sf !== null) this.cache.set(key, sf);
      return;
    }
    if (entry !== null) this.cache.set(key, entry);
    else if (!failed) this.cache.delete(key); // e.g. TTL 0 now: forget the old answer (if there is one)
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
   * (refused, or its N-th timeout) gets no second send. `done` is called once.
   */
  private exchange(question: Question, done: (r: FetchResult | typeof NONE_UP) => void): void {
    const order = this.order(question.upstreams);
    if (order.length === 0) { done(NONE_UP); return; }
    new Exchange(question, order, this.opts.attempts, this.opts.timeoutMs, done).next();
  }

  /** The upstreams that are up, in policy order. Down ones are left to their probes; disabled ones are never used. */
  private order(ups: readonly Upstream[]): readonly Upstream[] {
    // The common route, one server and up: the route's own list (the Exchange only reads it), no copy per query.
    if (ups.length === 1 && ups[0]!.healthy) return ups;
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
    this.reuseInvalid();
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
    this.reuseInvalid();
    // Closing the upstreams ends their exchanges at once, so every question in flight settles.
    const drained = this.inflight.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => { this.drained = resolve; });
    for (const up of this.byAddress.values()) up.close();
    await drained;
    // The cache is not cleared: other workers (and this one's replacement after a restart) share it.
  }
}

/** An upstream answer that should make us try elsewhere and not replace a good cached one. */
function isFailure(r: IndexedResponse): boolean {
  return r.rcode === RCODE_SERVFAIL || r.rcode === RCODE_REFUSED || r.truncated;
}

function deliverTicket(fwd: Forwarder, ticket: MissTicket, response: Buffer): void {
  fwd.answerTicket(ticket, response);
}

function staleTimerFired(fwd: Forwarder, ticket: MissTicket): void {
  fwd.staleAnswerNow(ticket);
}

/**
 * One upstream question's tries, as callbacks: each try's answer decides the next step. Bounded: each turn
 * either uses an attempt or finds one more server at its in-flight cap.
 */
class Exchange {
  private last: FetchResult = null;
  private attempts = 0;
  private turn = 0;
  private busy: Set<Upstream> | null = null;
  /** Where our queries' question ends: header, the name as given (buildUpstreamQuery copies it), type, class. */
  private readonly questionEnd: number;

  constructor(
    private readonly question: Question,
    private readonly order: readonly Upstream[],
    private readonly maxAttempts: number,
    private readonly timeoutMs: number,
    private readonly done: (r: FetchResult) => void,
  ) {
    this.questionEnd = HEADER_SIZE + question.nameWire.length + 4;
  }

  next(): void {
    const order = this.order;
    while (this.turn < this.maxAttempts + order.length && this.attempts < this.maxAttempts) {
      const up = order[this.turn++ % order.length]!;
      if (this.busy?.has(up) || !up.healthy) continue;
      if (!up.hasCapacity()) {
        up.noteBusy();
        (this.busy ??= new Set()).add(up);
        if (this.busy.size === order.length) break; // every server is at its cap: SERVFAIL now, never queue
        continue;
      }
      up.exchange(this.query(), this.question.tcp, this.timeoutMs, (res) => this.answered(up, res));
      return;
    }
    this.done(this.last);
  }

  private query(): Buffer {
    const q = this.question;
    return buildUpstreamQuery(randomId16(), q.nameWire, q.qtype, q.qclass, q.dnssecOk, q.checkingDisabled);
  }

  private answered(up: Upstream, res: UpstreamOutcome): void {
    this.attempts++;
    if (typeof res === 'string') { this.next(); return; }
    const idx = indexResponse(res, this.questionEnd);
    if (idx === null) { this.next(); return; }
    if (idx.truncated && !this.question.tcp) {
      // RFC 7766 §5: a truncated answer is retried over TCP, on the same server.
      up.exchange(this.query(), true, this.timeoutMs, (viaTcp) => {
        const full = typeof viaTcp === 'string' ? null : indexResponse(viaTcp, this.questionEnd);
        if (full === null) {
          this.last = idx; // the client gets TC and can retry over TCP itself
          this.next();
          return;
        }
        this.result(full);
      });
      return;
    }
    this.result(idx);
  }

  private result(idx: IndexedResponse): void {
    if (!isFailure(idx)) { this.done(idx); return; }
    this.last = idx;
    // Asking the same server again for the same question gives the same SERVFAIL.
    if (this.order.length === 1) { this.done(idx); return; }
    this.next();
  }
}
