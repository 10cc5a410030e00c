// Prometheus metrics of the forwarder and its cache. Names follow CoreDNS's forward and cache plugins with
// the kdns_ prefix (coredns_forward_requests_total → kdns_forward_requests_total), so dashboards port by a
// prefix swap. Without a registry (a worker thread that reports through shared counters instead) the
// metric objects still exist, registered nowhere, so the code that counts has one path.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface CacheSizeSource {
  size(): { entries: number; bytes: number };
}

export const HIT_SUCCESS = 0;
export const HIT_DENIAL = 1;
export const HIT_SERVFAIL = 2;
const HIT_KINDS = ['success', 'denial', 'servfail'];

/**
 * A count kept as a plain number where it happens (a miss, an upstream query) and added to its prom-client
 * counter when the counter is read: prom-client hashes the label values on every inc, which costs more than
 * the bookkeeping it counts.
 */
export class PendingCount {
  n = 0;
  constructor(private readonly target: { inc(v: number): void }) {}

  flush(): void {
    if (this.n === 0) return;
    this.target.inc(this.n);
    this.n = 0;
  }
}

export class ForwardMetrics {
  readonly requests: Counter<'to' | 'proto'>;
  readonly responses: Counter<'to' | 'rcode'>;
  readonly rtt: Histogram<'upstream'>;
  readonly failures: Counter<'upstream' | 'reason'>;
  readonly up: Gauge<'upstream'>;
  readonly connections: Counter<'upstream' | 'proto'>;
  readonly maxConcurrentRejects: Counter<'to'>;
  readonly healthcheckFailures: Counter<'to'>;
  readonly loopsDetected: Counter<'to'>;
  readonly local: Counter<'reason'>;
  readonly cacheHits: Counter<'type'>;
  readonly cacheMisses: Counter;
  readonly cacheServedStale: Counter;
  readonly cachePrefetch: Counter;
  readonly cacheCoalesced: Counter;
  readonly cacheEvictions: Counter;
  readonly cacheEntries: Gauge;
  readonly cacheBytes: Gauge;
  readonly udpSockets: Gauge<'via'>;
  /** Set by the forwarder: its UDP queries in flight (one socket each) by how they travel ('addon' or 'dgram'). */
  udpInFlight: (() => Map<string, number>) | null = null;
  /**
   * Cache hits by kind (HIT_SUCCESS, HIT_DENIAL, HIT_SERVFAIL), counted as plain numbers on the hit path
   * (a prom-client inc per hit costs more than the rest of a hit's bookkeeping) and added to
   * kdns_cache_hits_total whenever the counter is read.
   */
  readonly pendingHits = new Float64Array(3);
  /** Each counter's PendingCounts (pending()), flushed by the counter's collect. */
  private readonly pendingOf = new Map<object, PendingCount[]>();
  readonly misses: PendingCount;
  readonly coalesced: PendingCount;
  readonly evictions: PendingCount;

  constructor(registry: Registry | null, cache: CacheSizeSource) {
    const registers = registry === null ? [] : [registry];
    const pendingOf = this.pendingOf;
    const collect = function (this: object): void {
      for (const p of pendingOf.get(this) ?? []) p.flush();
    };
    this.requests = new Counter({
      name: 'kdns_forward_requests_total', help: 'Queries sent to each upstream.', labelNames: ['to', 'proto'], registers, collect,
    });
    this.responses = new Counter({
      name: 'kdns_forward_responses_total', help: 'Responses from each upstream by rcode.', labelNames: ['to', 'rcode'], registers, collect,
    });
    this.rtt = new Histogram({
      name: 'kdns_forward_upstream_rtt_seconds', help: 'Upstream round-trip time of answered queries and health probes.',
      labelNames: ['upstream'], buckets: [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4], registers,
    });
    this.failures = new Counter({
      name: 'kdns_forward_upstream_failures_total',
      help: 'Upstream queries without an answer, by reason: timeout, refused (ICMP unreachable, connection refused), tls (certificate or handshake), error.',
      labelNames: ['upstream', 'reason'], registers,
    });
    this.up = new Gauge({
      name: 'kdns_forward_upstream_up', help: '1 when the upstream is in use, 0 when down or disabled (0 when any worker has it down).',
      labelNames: ['upstream'], registers,
      // Health is kept per worker thread: the aggregate is up only where every worker has it up.
      aggregator: 'min',
    });
    this.connections = new Counter({
      name: 'kdns_forward_upstream_connections_total', help: 'TCP and TLS connections opened to each upstream (reused and pipelined).',
      labelNames: ['upstream', 'proto'], registers,
    });
    this.maxConcurrentRejects = new Counter({
      name: 'kdns_forward_max_concurrent_rejects_total', help: 'Queries not sent because the upstream had too many in flight.',
      labelNames: ['to'], registers,
    });
    this.healthcheckFailures = new Counter({
      name: 'kdns_forward_healthcheck_failures_total', help: 'Active probes of a down upstream that got no answer.', labelNames: ['to'], registers,
    });
    this.loopsDetected = new Counter({
      name: 'kdns_forward_loops_detected_total', help: 'Upstreams disabled because a loop probe came back to kdns.', labelNames: ['to'], registers,
    });
    this.local = new Counter({
      name: 'kdns_forward_local_answers_total',
      help: 'Forwardable names answered without an upstream (refused by ACL, local-only, address, filtered AAAA, no upstream, overload).',
      labelNames: ['reason'], registers,
    });
    const pending = this.pendingHits;
    this.cacheHits = new Counter({
      name: 'kdns_cache_hits_total', help: 'Answers from the cache by kind (success, denial, servfail).', labelNames: ['type'], registers,
      collect() {
        for (let kind = 0; kind < HIT_KINDS.length; kind++) {
          if (pending[kind]! > 0) this.labels(HIT_KINDS[kind]!).inc(pending[kind]);
          pending[kind] = 0;
        }
      },
    });
    this.cacheMisses = new Counter({ name: 'kdns_cache_misses_total', help: 'Cache lookups that found no fresh entry.', registers, collect });
    this.cacheServedStale = new Counter({
      name: 'kdns_cache_served_stale_total', help: 'Expired answers served because the upstream failed or was slow (RFC 8767).', registers,
    });
    this.cachePrefetch = new Counter({ name: 'kdns_cache_prefetch_total', help: 'Popular entries refreshed before expiry.', registers });
    this.cacheCoalesced = new Counter({
      name: 'kdns_cache_coalesced_total', help: 'Queries that joined an identical upstream query already in flight.', registers, collect,
    });
    this.cacheEvictions = new Counter({
      name: 'kdns_cache_evictions_total', help: 'Entries evicted to stay within the size bounds.', registers, collect,
    });
    // One cache per process: every worker reports the same store, so the aggregate is any one of them.
    this.cacheEntries = new Gauge({
      name: 'kdns_cache_entries', help: 'Entries in the forward cache (one per process, shared by every worker).', registers,
      aggregator: 'max',
      collect() { this.set(cache.size().entries); },
    });
    this.cacheBytes = new Gauge({
      name: 'kdns_cache_size_bytes', help: 'Bytes of the forward cache\'s slots in use (each entry takes one fixed-size slot).', registers,
      aggregator: 'max',
      collect() { this.set(cache.size().bytes); },
    });
    const metrics = this;
    this.udpSockets = new Gauge({
      name: 'kdns_forward_upstream_udp_sockets',
      help: 'UDP queries to upstreams in flight, one socket each, by how they travel: addon (the native engine\'s link in C) or dgram (Node).',
      labelNames: ['via'], registers,
      collect() {
        const now = metrics.udpInFlight?.();
        this.reset();
        for (const [via, open] of now ?? []) this.labels(via).set(open);
      },
    });
    this.misses = this.pending(this.cacheMisses);
    this.coalesced = this.pending(this.cacheCoalesced);
    this.evictions = this.pending(this.cacheEvictions);
  }

  /** A plain-number count of `counter` (its child for `labels`) for a hot path; it reaches the counter when read. */
  pending<T extends string>(counter: Counter<T>, ...labels: string[]): PendingCount {
    const p = new PendingCount(labels.length === 0 ? counter : counter.labels(...labels));
    let list = this.pendingOf.get(counter);
    if (list === undefined) this.pendingOf.set(counter, list = []);
    list.push(p);
    return p;
  }
}
