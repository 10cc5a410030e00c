// The process's Prometheus registry: Node/process default metrics (unprefixed, as every
// exporter names them) and kdns_build_info. Components add their own metrics to it.

import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { KDNS_VERSION } from '../config/version.js';

/** How often the event-loop delay is sampled (ms). */
const EVENT_LOOP_SAMPLE_MS = 100;

export function createRegistry(): Registry {
  const registry = new Registry();
  // The event-loop delay histogram samples on a timer: prom-client's 10 ms default wakes the main thread
  // 100 times a second even when kdns has nothing to do; 100 ms still shows any stall that matters here.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  const info = new Gauge({
    name: 'kdns_build_info',
    help: 'A metric with a constant 1 value labeled by version and Node.js version.',
    labelNames: ['version', 'nodeversion'],
    registers: [registry],
  });
  info.set({ version: KDNS_VERSION, nodeversion: process.version }, 1);
  return registry;
}
