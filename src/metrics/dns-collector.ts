// Exposes the shared counters (dns-counters.ts) to prom-client. The metrics are custom objects
// whose get() sums the worker slots at scrape time, so the packet path never calls prom-client.
// Names and labels are CoreDNS's with the kdns_ prefix, so dashboards work by a prefix swap;
// `family` is "1" (IPv4) or "2" (IPv6) as in CoreDNS.

import type { Metric, Registry } from 'prom-client';
import type { ListenAddress } from '../config/types.js';
import {
  DROP_OFF, DROP_OTHER, DROP_REASONS, DUR_OFF, DUR_SUM, DURATION_BOUNDS, RATE_LIMIT_OFF, RCODE_LABELS, REQ_OFF, RESP_OFF,
  SLOT_DOUBLES, sumSlots, TCP_CLOSED_OFF, TCP_CLOSED_REASONS, TYPE_BUCKETS, TYPE_LABELS,
} from './dns-counters.js';
import { RL_ANSWERED, RL_DROPPED, RL_LOGGED, RL_QUERY_DROPPED, RL_QUERY_LOGGED, RL_SLIPPED } from '../rate-limit/limiter.js';

interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

type MetricType = 'counter' | 'histogram';

/** `dns://127.0.0.1:5353`, several addresses joined by ','; the `server` label. */
export function serverLabel(listen: ListenAddress[]): string {
  return 'dns://' + listen.map((l) => (l.host.includes(':') ? `[${l.host}]` : l.host) + ':' + l.port).join(',');
}

export interface DnsMetricsOptions {
  /** The `server` label; use serverLabel(config.listen). */
  server?: string;
  /** The `zone` label; "." until answers are counted per zone. */
  zone?: string;
}

export function registerDnsMetrics(
  registry: Registry, sab: SharedArrayBuffer, workers: number, opts: DnsMetricsOptions = {},
): void {
  const server = opts.server ?? 'dns://';
  const zone = opts.zone ?? '.';
  // Each metric sums the slots itself: a few thousand additions per scrape, and no state to go stale.
  const totals = (): Float64Array => sumSlots(sab, workers);

  const add = (name: string, help: string, type: MetricType, collect: (t: Float64Array) => Sample[]): void => {
    const metric = {
      name, help, type, aggregator: 'sum',
      get: async () => ({ name, help, type, aggregator: 'sum', values: collect(totals()) }),
      reset: () => {}, // values live in the workers' slots; nothing to reset here
    };
    registry.registerMetric(metric as unknown as Metric);
  };

  add('kdns_dns_requests_total', 'Counter of DNS requests made per zone, protocol and family.', 'counter', (t) => {
    const out: Sample[] = [];
    for (let proto = 0; proto < 2; proto++) {
      for (let family = 0; family < 2; family++) {
        for (let type = 0; type < TYPE_BUCKETS; type++) {
          const value = t[REQ_OFF + (proto * 2 + family) * TYPE_BUCKETS + type];
          // Like CoreDNS, a series appears once it has counted something.
          if (value > 0) {
            out.push({ value, labels: { server, zone, proto: proto ? 'tcp' : 'udp', family: family + 1, type: TYPE_LABELS[type] } });
          }
        }
      }
    }
    return out;
  });

  add('kdns_dns_responses_total', 'Counter of response status codes.', 'counter', (t) => {
    const out: Sample[] = [];
    for (let r = 0; r < RCODE_LABELS.length; r++) {
      const value = t[RESP_OFF + r];
      if (value > 0) out.push({ value, labels: { server, zone, rcode: RCODE_LABELS[r], plugin: '' } });
    }
    return out;
  });

  add('kdns_dns_request_duration_seconds', 'Histogram of the time (in seconds) each request took.', 'histogram', (t) => {
    const labels = { server, zone };
    const out: Sample[] = [];
    let cumulative = 0;
    for (let b = 0; b <= DURATION_BOUNDS.length; b++) {
      cumulative += t[DUR_OFF + b];
      const le = b < DURATION_BOUNDS.length ? DURATION_BOUNDS[b] : '+Inf';
      out.push({ value: cumulative, labels: { ...labels, le }, metricName: 'kdns_dns_request_duration_seconds_bucket' });
    }
    out.push({ value: t[DUR_SUM], labels, metricName: 'kdns_dns_request_duration_seconds_sum' });
    out.push({ value: cumulative, labels, metricName: 'kdns_dns_request_duration_seconds_count' });
    return out;
  });

  add('kdns_dns_dropped_total', 'Counter of packets dropped without an answer, by reason.', 'counter', (t) => {
    const out: Sample[] = [];
    for (let i = DROP_OFF; i < SLOT_DOUBLES && i < DROP_OFF + DROP_OTHER + 1; i++) {
      const r = i - DROP_OFF;
      const value = t[i];
      if (value > 0) {
        out.push({ value, labels: { reason: DROP_REASONS[r] ?? (r === DROP_OTHER ? 'other' : `reason-${r}`) } });
      }
    }
    return out;
  });

  add('kdns_tcp_connections_closed_total', 'TCP connections kdns closed itself, by reason (idle, deadline, evicted).', 'counter', (t) => {
    const out: Sample[] = [];
    for (let r = 0; r < TCP_CLOSED_REASONS.length; r++) {
      const value = t[TCP_CLOSED_OFF + r];
      if (value > 0) out.push({ value, labels: { reason: TCP_CLOSED_REASONS[r] } });
    }
    return out;
  });
  // The rate limiter's work (src/rate-limit): responses by what became of them, and per-client query drops.
  const rateLimitSeries = (t: Float64Array, actions: readonly [number, string][]): Sample[] =>
    actions.filter(([a]) => t[RATE_LIMIT_OFF + a] > 0).map(([a, label]) => ({ value: t[RATE_LIMIT_OFF + a], labels: { action: label } }));
  add('kdns_rate_limit_responses_total', 'UDP responses seen by response-rate limiting, by what became of them.', 'counter',
    (t) => rateLimitSeries(t, [[RL_ANSWERED, 'answered'], [RL_SLIPPED, 'slipped'], [RL_DROPPED, 'dropped'], [RL_LOGGED, 'logged']]));
  add('kdns_rate_limit_queries_total', 'UDP queries over the per-client query limit: dropped, or logged only (log-only).', 'counter',
    (t) => rateLimitSeries(t, [[RL_QUERY_DROPPED, 'dropped'], [RL_QUERY_LOGGED, 'logged']]));
}
