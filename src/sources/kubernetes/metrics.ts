// The cluster zone's Prometheus metrics (subsystem `kubernetes`). Counters are bumped by the sources
// as API events arrive; the object counts and the synced flag are read from the state when scraped,
// so they cost nothing between scrapes.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { KindName } from './kinds.js';

/** What the sources report; the live source reports all of it, the manifests source objects and sync. */
export interface KubernetesObserver {
  /** An add/update/delete for one object reached the source (from a watch or a relist). */
  event(kind: KindName, type: EventType): void;
  /** The event's RRset changes are in the serving zone; `receivedMs` is performance.now() at arrival. */
  applied(receivedMs: number): void;
  /** An object failed validation and was skipped (its earlier records, if any, withdrawn). */
  rejected(kind: KindName): void;
  /** A watch was opened again after the first (clean end, 410 relist, or restart after an error). */
  watchRestarted(kind: KindName): void;
}

export type EventType = 'added' | 'modified' | 'deleted';

// An event is applied synchronously on arrival, so this measures microseconds to milliseconds; the
// upper buckets catch a stalled event loop.
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export interface KubernetesMetricsSources {
  synced(): boolean;
  objects(): Record<KindName, number>;
}

export class KubernetesMetrics implements KubernetesObserver {
  private readonly events: Counter<'kind' | 'type'>;
  private readonly rejectedTotal: Counter<'kind'>;
  private readonly restarts: Counter<'kind'>;
  private readonly latency: Histogram;

  constructor(registry: Registry, from: KubernetesMetricsSources) {
    const registers = [registry];
    new Gauge({
      name: 'kdns_kubernetes_synced',
      help: '1 once every watched kind has been listed and the cluster zone answers, else 0 (SERVFAIL).',
      registers,
      collect() {
        this.set(from.synced() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'kdns_kubernetes_objects',
      help: 'API objects the cluster zone is built from, by kind.',
      labelNames: ['kind'],
      registers,
      collect() {
        for (const [kind, n] of Object.entries(from.objects())) this.set({ kind }, n);
      },
    });
    this.events = new Counter({
      name: 'kdns_kubernetes_events_total',
      help: 'Object adds, updates and deletes received from the API (watch events and relist differences).',
      labelNames: ['kind', 'type'],
      registers,
    });
    this.rejectedTotal = new Counter({
      name: 'kdns_kubernetes_rejected_objects_total',
      help: 'Objects skipped because they failed validation (logged as "object skipped").',
      labelNames: ['kind'],
      registers,
    });
    this.restarts = new Counter({
      name: 'kdns_kubernetes_watch_restarts_total',
      help: 'Watches opened again after the first: stream ended, 410 Expired relist, or restart after an error.',
      labelNames: ['kind'],
      registers,
    });
    this.latency = new Histogram({
      name: 'kdns_kubernetes_programming_latency_seconds',
      help: 'From an API event arriving to its changes being served (answers compiled after it see the change).',
      buckets: LATENCY_BUCKETS,
      registers,
    });
  }

  event(kind: KindName, type: EventType): void {
    this.events.inc({ kind, type });
  }

  applied(receivedMs: number): void {
    this.latency.observe((performance.now() - receivedMs) / 1000);
  }

  rejected(kind: KindName): void {
    this.rejectedTotal.inc({ kind });
  }

  watchRestarted(kind: KindName): void {
    this.restarts.inc({ kind });
  }
}
