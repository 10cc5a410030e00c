// Wiring for main.ts: health checks run on the main thread over the zones it owns, writing through the
// same ZoneWriter the dynamic zones use (hub deltas with worker threads, direct changes in-process).

import type { Logger } from 'pino';
import type { KdnsConfig } from '../config/types.js';
import type { ZoneWriter } from '../worker/zone-writer.js';
import type { ZoneSet } from '../zone/index.js';
import { HealthChecker } from './health.js';

/** Starts the checks of every policy with `health-check`; null when there are none. */
export function startHealthChecks(config: KdnsConfig, zones: ZoneSet, writer: ZoneWriter, log: Logger): HealthChecker | null {
  if (!config.policies.some((p) => p.healthCheck !== null)) return null;
  const checker = new HealthChecker({ policies: config.policies, zones, writer, log });
  checker.start();
  return checker;
}
