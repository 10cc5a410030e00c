// The `rate-limit:` section: bind9's response-rate limiting (RRL) keys, plus `queries-per-second`, the
// per-client query limit of JD's KDNS. Off by default: cluster DNS serves its own pods, and limiting them
// would turn a busy pod into a broken one.

/** What the limiter needs; every rate is per second per client block (see README.md). */
export interface RateLimitConfig {
  /** NOERROR answers with records, per (block, qname, qtype). 0: not limited. */
  responsesPerSecond: number;
  /** null: same as responsesPerSecond (bind9's default for each of these four). */
  nxdomainsPerSecond: number | null;
  nodataPerSecond: number | null;
  referralsPerSecond: number | null;
  errorsPerSecond: number | null;
  /** Every Nth limited response goes out truncated (TC=1) instead of being dropped; 0 never, 1 always. */
  slip: number;
  /** Seconds of debt a bucket may run up (and of idleness after which it starts afresh). */
  window: number;
  /** CIDRs never limited. */
  exemptClients: string[];
  /** Count and log what would be limited, but answer everything. */
  logOnly: boolean;
  ipv4PrefixLength: number;
  ipv6PrefixLength: number;
  /** Buckets, shared by every worker; past it the least recently used of a set is reused. */
  maxTableSize: number;
  /** Queries per second per client address beyond which queries are dropped unanswered. 0: off. */
  queriesPerSecond: number;
}

export function defaultRateLimit(): RateLimitConfig {
  return {
    responsesPerSecond: 0,
    nxdomainsPerSecond: null,
    nodataPerSecond: null,
    referralsPerSecond: null,
    errorsPerSecond: null,
    slip: 2,
    window: 15,
    exemptClients: [],
    logOnly: false,
    ipv4PrefixLength: 24,
    ipv6PrefixLength: 56,
    maxTableSize: 20_000,
    queriesPerSecond: 0,
  };
}

/** True when some rate is set, i.e. the limiter has anything to do. */
export function rateLimitEnabled(c: RateLimitConfig): boolean {
  return c.responsesPerSecond > 0 || (c.nxdomainsPerSecond ?? 0) > 0 || (c.nodataPerSecond ?? 0) > 0
    || (c.referralsPerSecond ?? 0) > 0 || (c.errorsPerSecond ?? 0) > 0 || c.queriesPerSecond > 0;
}
