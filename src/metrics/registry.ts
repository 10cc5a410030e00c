// The process's Prometheus registry: Node/process default metrics (unprefixed, as every
// exporter names them) and kdns_build_info. Components add their own metrics to it.

import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { KDNS_VERSION } from '../config/version.js';

export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const info = new Gauge({
    name: 'kdns_build_info',
    help: 'A metric with a constant 1 value labeled by version and Node.js version.',
    labelNames: ['version', 'nodeversion'],
    registers: [registry],
  });
  info.set({ version: KDNS_VERSION, nodeversion: process.version }, 1);
  return registry;
}
