// The dashboard's numbers, read from the same metrics /metrics serves (prom-client JSON, workers'
// registries merged in), cut down to a small object: running totals only. The page polls it and takes
// differences for rates and latency percentiles, so the server keeps no history.

import type { MetricObjectWithValues, MetricValue } from 'prom-client';

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

export interface Summary {
  /** Milliseconds since the epoch when it was read. */
  time: number;
  /** Requests by transport (udp, tcp). */
  requests: Record<string, number>;
  /** Responses by rcode name. */
  responses: Record<string, number>;
  /** The request-duration histogram: upper bounds in seconds and cumulative counts (last: +Inf). */
  duration: { bounds: number[]; cumulative: number[] };
  /** Forward cache lookups (all workers). */
  cache: { hits: number; misses: number };
  /** Forward upstreams: 1 up, 0 down (any worker). */
  upstreams: Array<{ upstream: string; up: boolean }>;
  /** Data-plane threads answering (1 when the main thread answers). */
  workers: number;
}

function values(metrics: MetricsJson, name: string): MetricValue<string>[] {
  return metrics.find((m) => m.name === name)?.values ?? [];
}

function sumBy(metrics: MetricsJson, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values(metrics, name)) {
    const key = String(v.labels[label] ?? '');
    out[key] = (out[key] ?? 0) + v.value;
  }
  return out;
}

function total(metrics: MetricsJson, name: string): number {
  return values(metrics, name).reduce((n, v) => n + v.value, 0);
}

export function summarize(metrics: MetricsJson, workers: number, now = Date.now()): Summary {
  const buckets = values(metrics, 'kdns_dns_request_duration_seconds')
    .filter((v) => (v as { metricName?: string }).metricName?.endsWith('_bucket') === true);
  const upstreams = values(metrics, 'kdns_forward_upstream_up').map((v) => ({ upstream: String(v.labels.to ?? ''), up: v.value > 0 }));
  return {
    time: now,
    requests: sumBy(metrics, 'kdns_dns_requests_total', 'proto'),
    responses: sumBy(metrics, 'kdns_dns_responses_total', 'rcode'),
    duration: {
      bounds: buckets.filter((v) => v.labels.le !== '+Inf').map((v) => Number(v.labels.le)),
      cumulative: buckets.map((v) => v.value),
    },
    cache: { hits: total(metrics, 'kdns_cache_hits_total'), misses: total(metrics, 'kdns_cache_misses_total') },
    upstreams,
    workers,
  };
}
