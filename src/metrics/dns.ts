// The DNS metrics in one import: the per-worker counters (packet path) and their collector
// (main thread, scrape time).

export * from './dns-counters.js';
export { registerDnsMetrics, serverLabel, type DnsMetricsOptions } from './dns-collector.js';
