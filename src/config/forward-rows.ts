// The `forward:` section's rows of the option table: the forwarder's tunables. Each row is a key path
// under `forward:` and a flag (`forward: {cache: {max-ttl: 600}}` is `--forward-cache-max-ttl 600`).
// The layer holds only what was given (`ForwardLayer`); load.ts lays it over defaultForwardOptions().

import type { ConfigLayer, ForwardLayer } from './types.js';
import type { OptionSpec } from './options.js';
import { parseBool, parseDurationMs, parseIntIn, ValueProblem } from './values.js';
import { parseAddressRule, POLICIES, type CacheOptions, type ForwardOptions, type ForwardPolicy } from '../forward/options.js';
import { parseCidr } from '../forward/acl.js';

type Row = (key: string[], rest: Omit<OptionSpec, 'key' | 'flag'>) => OptionSpec;

function forwardOf(l: ConfigLayer): ForwardLayer {
  return (l.forward ??= {});
}

function cacheOf(l: ConfigLayer): NonNullable<ForwardLayer['cache']> {
  return (forwardOf(l).cache ??= {});
}

const WEEK = 604_800;

export function forwardRows(opt: (key: string[], flag: null, rest: Omit<OptionSpec, 'key' | 'flag'>) => OptionSpec): OptionSpec[] {
  const row: Row = (key, rest) => opt(['forward', ...key], null, rest);
  type IntField = 'attempts' | 'maxInFlightPerUpstream' | 'failuresBeforeDown' | 'localTtl';
  const int = (key: string, field: IntField, [min, max]: [number, number], defaultText: string, help: string): OptionSpec =>
    row([key], { arg: 'N', defaultText, help, apply: (l, v) => { forwardOf(l)[field] = parseIntIn(v, min, max); } });
  type DurationField = 'timeoutMs' | 'probeIntervalMs' | 'probeMaxIntervalMs' | 'tcpIdleTimeoutMs';
  const duration = (key: string, field: DurationField, defaultText: string, help: string, check?: OptionSpec['check']): OptionSpec =>
    row([key], { arg: 'DURATION', defaultText, help, check, apply: (l, v) => { forwardOf(l)[field] = parseDurationMs(v); } });
  type CacheIntField = 'maxEntries' | 'maxBytes' | 'minTtl' | 'maxTtl' | 'negativeMaxTtl' | 'servfailTtl' | 'staleTtl' | 'staleMaxAge';
  const cacheInt = (key: string, field: CacheIntField, arg: string, [min, max]: [number, number], defaultText: string, help: string,
    check?: OptionSpec['check']): OptionSpec =>
    row(['cache', key], { arg, defaultText, help, check, apply: (l, v) => { cacheOf(l)[field] = parseIntIn(v, min, max); } });
  const prefetchInt = (key: string, field: 'minHits' | 'beforeExpiryPercent', [min, max]: [number, number], defaultText: string, help: string): OptionSpec =>
    row(['cache', 'prefetch', key], {
      arg: 'N', defaultText, help, apply: (l, v) => { (cacheOf(l).prefetch ??= {})[field] = parseIntIn(v, min, max); },
    });
  return [
    row(['policy'], {
      arg: POLICIES.join('|'), defaultText: 'sequential',
      help: 'which upstream of a route is asked first: in the order given, in turn, or at random',
      apply: (l, v) => {
        if (!(POLICIES as readonly string[]).includes(v)) throw new ValueProblem(`expected one of ${POLICIES.join(', ')}, got '${v}'`);
        forwardOf(l).policy = v as ForwardPolicy;
      },
    }),
    duration('timeout', 'timeoutMs', '2s', 'wait this long for an upstream answer before the next try'),
    int('attempts', 'attempts', [1, 10], '2', 'upstream tries per query in total, across servers'),
    int('max-in-flight-per-upstream', 'maxInFlightPerUpstream', [1, 65_535], '1000', 'queries one upstream may have unanswered; past it the next upstream is tried'),
    int('failures-before-down', 'failuresBeforeDown', [1, 1000], '3', 'timeouts in a row after which an upstream is marked down and probed'),
    duration('probe-interval', 'probeIntervalMs', '1s', 'first wait between probes of a down upstream (doubles per failed probe)'),
    duration('probe-max-interval', 'probeMaxIntervalMs', '10s', 'longest wait between probes of a down upstream (at least probe-interval)',
      (l) => {
        const f = l.forward;
        if (f?.probeMaxIntervalMs !== undefined && f.probeIntervalMs !== undefined && f.probeMaxIntervalMs < f.probeIntervalMs) {
          throw new ValueProblem(`expected at least probe-interval (${f.probeIntervalMs}ms), got ${f.probeMaxIntervalMs}ms`);
        }
      }),
    duration('tcp-idle-timeout', 'tcpIdleTimeoutMs', '10s', 'close a pipelined TCP or TLS connection to an upstream idle this long'),
    int('local-ttl', 'localTtl', [0, WEEK], '0', 'TTL of --address answers (dnsmasq\'s local-ttl)'),
    row(['allow-networks'], {
      arg: 'CIDR', repeatable: true, defaultText: 'private networks and loopback',
      help: 'clients whose queries may be forwarded; others get REFUSED for names kdns does not serve',
      apply: (l, v) => {
        if (parseCidr(v) === null) throw new ValueProblem(`expected a CIDR like 10.0.0.0/8, got '${v}'`);
        (forwardOf(l).allowNetworks ??= []).push(v);
      },
    }),
    row(['filter-aaaa'], {
      defaultText: 'false', help: 'same as --filter-aaaa',
      apply: (l, v) => { forwardOf(l).filterAaaa = parseBool(v); },
    }),
    row(['address'], {
      arg: '/DOMAIN/[IP,...]', repeatable: true, defaultText: 'none', help: 'same as --address',
      apply: (l, v) => {
        const rules = parseAddressRule(v);
        if (rules === null) throw new ValueProblem(`expected a rule like '/x.test/1.2.3.4' or '/x.test/', got '${v}'`);
        (forwardOf(l).addresses ??= []).push(...rules);
      },
    }),
    cacheInt('max-entries', 'maxEntries', 'N', [1, 10_000_000], '10000', 'forwarded answers cached, one cache per process shared by every worker'),
    // Reserved at start (one SharedArrayBuffer), hence the 4 GiB cap.
    cacheInt('max-bytes', 'maxBytes', 'BYTES', [65_536, 2 ** 32], String(16 * 1024 * 1024), 'bytes of the forward cache, one per process, reserved at start'),
    cacheInt('min-ttl', 'minTtl', 'SECONDS', [0, WEEK], '0', 'cached records live at least this long'),
    cacheInt('max-ttl', 'maxTtl', 'SECONDS', [0, WEEK], '3600', 'cached records live at most this long (at least min-ttl)',
      (l) => {
        const c = l.forward?.cache;
        if (c?.minTtl !== undefined && c.maxTtl !== undefined && c.minTtl > c.maxTtl) {
          throw new ValueProblem(`expected at least cache.min-ttl (${c.minTtl}), got ${c.maxTtl}`);
        }
      }),
    cacheInt('negative-max-ttl', 'negativeMaxTtl', 'SECONDS', [0, WEEK], '300', 'cap on how long NXDOMAIN and NODATA answers are cached'),
    cacheInt('servfail-ttl', 'servfailTtl', 'SECONDS', [0, 300], '5', 'how long an upstream SERVFAIL (or silence) is remembered; 0: not at all'),
    row(['cache', 'serve-stale'], {
      defaultText: 'true', help: 'RFC 8767: answer from an expired entry when the upstream fails or is slow',
      apply: (l, v) => { cacheOf(l).serveStale = parseBool(v); },
    }),
    cacheInt('stale-ttl', 'staleTtl', 'SECONDS', [1, 3600], '30', 'TTL of stale answers, and the wait before refreshing again'),
    cacheInt('stale-max-age', 'staleMaxAge', 'SECONDS', [1, WEEK], '86400', 'how long past expiry an entry may still be served stale'),
    row(['cache', 'stale-answer-timeout'], {
      arg: 'DURATION', defaultText: '1800ms', help: 'answer stale when a refresh takes longer than this (RFC 8767 client timer)',
      apply: (l, v) => { cacheOf(l).staleAnswerTimeoutMs = parseDurationMs(v); },
    }),
    prefetchInt('min-hits', 'minHits', [0, 1_000_000], '3', 'hits an entry needs in its lifetime to be refreshed before expiry; 0: no prefetch'),
    prefetchInt('before-expiry-percent', 'beforeExpiryPercent', [1, 99], '10', 'refresh when this share of the TTL is left'),
  ];
}

/** Lays the given fields over `base` (defaults or a lower layer's result). */
export function mergeForward<T extends { cache: CacheOptions }>(base: T, layer: ForwardLayer): T {
  const { cache, ...top } = layer;
  const out: T = { ...base, ...definedOnly(top) };
  if (cache !== undefined) {
    const { prefetch, ...rest } = cache;
    out.cache = { ...base.cache, ...definedOnly(rest) };
    if (prefetch !== undefined) out.cache.prefetch = { ...base.cache.prefetch, ...definedOnly(prefetch) };
  }
  return out;
}

/** A probe-interval above the default probe cap lifts the cap, unless some layer gave the cap itself. */
export function liftProbeCap(merged: ForwardOptions, layers: readonly ConfigLayer[]): void {
  if (layers.some((l) => l.forward?.probeMaxIntervalMs !== undefined)) return;
  merged.probeMaxIntervalMs = Math.max(merged.probeMaxIntervalMs, merged.probeIntervalMs);
}

function definedOnly<O extends object>(o: O): Partial<O> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<O>;
}
