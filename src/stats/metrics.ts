// The top lists as Prometheus series, with bounded cardinality: each scrape asks the workers for the
// TOP_SERIES heaviest keys of each list (as GET /api/v1/stats/top does) and exports exactly those, so a
// scrape has at most 4 × TOP_SERIES series whatever the traffic; a key that leaves the top is gone from
// the next scrape (the gauge is reset each time), not kept for ever.

import { Gauge, type Registry } from 'prom-client';
import { mergedTop, type StatsSource } from './api.js';
import { TOP_BY } from './top-talkers.js';

/** Keys per list in /metrics. */
export const TOP_SERIES = 10;

export function registerTopMetrics(registry: Registry, top: NonNullable<StatsSource['top']>): void {
  new Gauge({
    name: 'kdns_top_talkers',
    help: `Estimated answers over the last 60 s of the ${TOP_SERIES} heaviest keys of each top list (by: client, name, nxdomain, namespace); sampled and bounded as GET /api/v1/stats/top.`,
    labelNames: ['by', 'key'],
    registers: [registry],
    async collect() {
      const lists = await Promise.all(TOP_BY.map(async (by) => [by, await mergedTop(top, by, TOP_SERIES)] as const));
      this.reset();
      for (const [by, list] of lists) for (const c of list.top) this.set({ by, key: c.key }, c.count);
    },
  });
}
