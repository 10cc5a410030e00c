// The rate-limit component: one RateLimiter per packet engine (per worker thread), or none when off.

import type { Logger } from 'pino';
import { rateLimitEnabled, type RateLimitConfig } from './config.js';
import { RateLimiter, type RateLimitCounter } from './limiter.js';
import { BucketTable } from './table.js';

export { RateLimiter, RL_ACTIONS, RL_ANSWERED, RL_DROPPED, RL_LOGGED, RL_QUERY_DROPPED, RL_QUERY_LOGGED, RL_SLIPPED } from './limiter.js';
export type { RateLimitCounter } from './limiter.js';
export { defaultRateLimit, rateLimitEnabled, type RateLimitConfig } from './config.js';

/** The buckets every worker's limiter shares, or null when rate limiting is off. Made once, on the main thread. */
export function rateLimitTable(config: RateLimitConfig): SharedArrayBuffer | null {
  return rateLimitEnabled(config) ? BucketTable.bufferFor(config.maxTableSize) : null;
}

/**
 * A limiter for one engine when `config` limits anything, else null (the engines then skip every check).
 * `table` (rateLimitTable) is shared with the other workers; without it the limiter has its own.
 */
export function createRateLimiter(
  config: RateLimitConfig | null | undefined, counter: Partial<RateLimitCounter> | null, log: Logger,
  table?: SharedArrayBuffer | null,
): RateLimiter | null {
  if (config == null || !rateLimitEnabled(config)) return null;
  const sink = counter !== null && typeof counter.rateLimited === 'function' ? (counter as RateLimitCounter) : null;
  return new RateLimiter(config, sink, log.child({ component: 'rate-limit' }), table ?? undefined);
}
