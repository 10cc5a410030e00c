// The kdns_worker_* metrics of the data plane (README.md, Metrics).

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ImageStats } from './hub-image.js';

export interface WorkerMetrics {
  restarts: Counter;
  lag: Histogram;
}

/** Registers the metrics in `registry` (none when absent); `answering` and `image` are read at each scrape. */
export function workerMetrics(registry: Registry | undefined, answering: () => number, image: () => ImageStats): WorkerMetrics {
  const registers = registry === undefined ? [] : [registry];
  // The zone image exists once per process whatever the worker count (src/zone/image.ts).
  new Gauge({
    name: 'kdns_zone_image_bytes',
    help: 'Bytes of the shared zone image (name table + record heap), once per process.',
    registers,
    collect() {
      this.set(image().bytes);
    },
  });
  new Gauge({
    name: 'kdns_zone_image_garbage_bytes',
    help: 'Heap bytes of the zone image held by replaced records, reclaimed by the next rebuild.',
    registers,
    collect() {
      this.set(image().garbage);
    },
  });
  new Gauge({
    name: 'kdns_zone_image_rebuilds',
    help: 'Times the zone image was rebuilt (compacted or grown) since start.',
    registers,
    collect() {
      this.set(image().rebuilds);
    },
  });
  new Gauge({
    name: 'kdns_worker_threads',
    help: 'Data-plane worker threads currently answering.',
    registers,
    collect() {
      this.set(answering());
    },
  });
  return {
    restarts: new Counter({
      name: 'kdns_worker_restarts_total',
      help: 'Data-plane worker threads restarted after a crash.',
      registers,
    }),
    lag: new Histogram({
      name: 'kdns_worker_delta_apply_seconds',
      help: 'Time from a zone change on the main thread to its delta applied in a worker replica.',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
  };
}
