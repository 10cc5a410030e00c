// Forwarding settings: the typed options, their defaults, a pure parser for the `forward:` section of
// kdns.yaml, and resolv.conf reading. Routes and default upstreams come from the config layer (the
// dnsmasq-style --server flags); this file owns the tunables and the loop guards on upstream addresses.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import type { KdnsConfig, ListenAddress, UpstreamAddress, UpstreamRoute } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { nameToKey } from '../dns/name.js';
import { parseCidr } from './acl.js';

export type ForwardPolicy = 'sequential' | 'round_robin' | 'random';
export const POLICIES: readonly ForwardPolicy[] = ['sequential', 'round_robin', 'random'];

export interface PrefetchOptions {
  /** Hits an entry needs within its lifetime before it is refreshed ahead of expiry. 0 disables prefetch. */
  minHits: number;
  /** Refresh when this share of the original TTL (1-99 %) is left. */
  beforeExpiryPercent: number;
}

export interface CacheOptions {
  maxEntries: number;
  maxBytes: number;
  /** TTL clamps in seconds, applied to each record of a positive answer. */
  minTtl: number;
  maxTtl: number;
  /** Cap on the RFC 2308 negative TTL (NXDOMAIN and NODATA). */
  negativeMaxTtl: number;
  /** How long an upstream SERVFAIL (or no answer at all) is remembered; 0 disables. */
  servfailTtl: number;
  /** RFC 8767: answer from an expired entry when the upstream fails or is slower than the client timer. */
  serveStale: boolean;
  /** TTL on stale answers, and the wait after a failed refresh before trying again (RFC 8767 §4: 30 s). */
  staleTtl: number;
  /** How long past expiry an entry may still be served stale (RFC 8767 suggests 1-3 days). */
  staleMaxAge: number;
  /** RFC 8767 client response timer: answer stale if the refresh takes longer than this. */
  staleAnswerTimeoutMs: number;
  prefetch: PrefetchOptions;
}

/** dnsmasq `--address=/x.test/1.2.3.4`: x.test and names below it answered here; no IPs → NXDOMAIN. */
export interface AddressRule {
  domain: string;
  ips: string[];
}

export interface ForwardOptions {
  routes: UpstreamRoute[];
  defaultUpstreams: UpstreamAddress[];
  /** PEM file of extra CAs for TLS upstreams (--tls-ca); null: Node's default list only. */
  tlsCa: string | null;
  /** Read when defaultUpstreams is empty; null never reads one. */
  resolvConf: string | null;
  /** kdns's own listen addresses: never an upstream. */
  listen: ListenAddress[];
  addresses: AddressRule[];
  policy: ForwardPolicy;
  timeoutMs: number;
  /** Upstream tries per query in total, across servers. */
  attempts: number;
  maxInFlightPerUpstream: number;
  failuresBeforeDown: number;
  /** First wait between probes of a down upstream; each failed probe doubles it, up to probeMaxIntervalMs. */
  probeIntervalMs: number;
  probeMaxIntervalMs: number;
  /** Idle pipelined TCP connections to an upstream are closed after this. */
  tcpIdleTimeoutMs: number;
  /** TTL of --address answers (dnsmasq's local-ttl). */
  localTtl: number;
  cache: CacheOptions;
  allowNetworks: string[];
  filterAaaa: boolean;
}

export const DEFAULT_ALLOW_NETWORKS: readonly string[] = [
  '127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7', 'fe80::/10', '::1/128',
];

export function defaultForwardOptions(): ForwardOptions {
  return {
    routes: [],
    defaultUpstreams: [],
    tlsCa: null,
    resolvConf: '/etc/resolv.conf',
    listen: [],
    addresses: [],
    policy: 'sequential',
    timeoutMs: 2000,
    // Two tries of 2 s stay under the 5 s a glibc stub waits before its own retry.
    attempts: 2,
    maxInFlightPerUpstream: 1000,
    failuresBeforeDown: 3,
    probeIntervalMs: 1000,
    probeMaxIntervalMs: 10_000,
    tcpIdleTimeoutMs: 10_000,
    localTtl: 0,
    cache: {
      maxEntries: 10_000,
      maxBytes: 16 * 1024 * 1024,
      minTtl: 0,
      maxTtl: 3600,
      negativeMaxTtl: 300,
      servfailTtl: 5,
      serveStale: true,
      staleTtl: 30,
      staleMaxAge: 86_400,
      staleAnswerTimeoutMs: 1800,
      prefetch: { minHits: 3, beforeExpiryPercent: 10 },
    },
    allowNetworks: [...DEFAULT_ALLOW_NETWORKS],
    filterAaaa: false,
  };
}

/** The options for a loaded kdns config: routes, upstreams and listen addresses from it, tunables from `tuning`. */
export function forwardOptionsFor(config: KdnsConfig, tuning: ForwardOptions = defaultForwardOptions()): ForwardOptions {
  return {
    ...tuning,
    routes: config.routes,
    defaultUpstreams: config.defaultUpstreams,
    tlsCa: config.tlsCa,
    resolvConf: config.resolvConf,
    listen: config.listen,
  };
}

// ---- the `forward:` section ----------------------------------------------------------------------------

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The `forward:` section of kdns.yaml (already parsed YAML, so no line numbers here) → options with
 * defaults filled in. Throws ConfigError naming `forward.<key>` and what was expected.
 */
export function parseForwardOptions(obj: unknown, file: string): ForwardOptions {
  const out = defaultForwardOptions();
  if (obj === undefined || obj === null) return out;
  const fail = (key: string, expected: string, got: unknown): never => {
    throw new ConfigError(file, null, `forward.${key}: expected ${expected}, got ${describe(got)}`);
  };
  if (!isObj(obj)) fail('', 'a map of settings', obj);
  const known = new Set(['policy', 'timeout', 'attempts', 'max-in-flight-per-upstream', 'failures-before-down',
    'probe-interval', 'probe-max-interval', 'tcp-idle-timeout', 'local-ttl', 'allow-networks', 'filter-aaaa', 'address', 'cache']);
  const section = obj as Obj;
  for (const k of Object.keys(section)) {
    if (!known.has(k)) fail(k, `one of ${[...known].join(', ')}`, 'an unknown setting');
  }
  const int = (o: Obj, key: string, path: string, min: number, max: number, dflt: number): number => {
    const v = o[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(path, `an integer ${min}-${max}`, v);
    return v as number;
  };
  const duration = (o: Obj, key: string, path: string, dflt: number): number => {
    const v = o[key];
    if (v === undefined) return dflt;
    const ms = typeof v === 'string' ? durationMs(v) : -1;
    if (ms < 1) fail(path, 'a duration like 2s or 500ms', v);
    return ms;
  };
  const bool = (o: Obj, key: string, path: string, dflt: boolean): boolean => {
    const v = o[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') fail(path, 'true or false', v);
    return v as boolean;
  };

  const policy = section['policy'];
  if (policy !== undefined) {
    if (typeof policy !== 'string' || !(POLICIES as readonly string[]).includes(policy)) {
      fail('policy', `one of ${POLICIES.join(', ')}`, policy);
    }
    out.policy = policy as ForwardPolicy;
  }
  out.timeoutMs = duration(section, 'timeout', 'timeout', out.timeoutMs);
  out.attempts = int(section, 'attempts', 'attempts', 1, 10, out.attempts);
  out.maxInFlightPerUpstream = int(section, 'max-in-flight-per-upstream', 'max-in-flight-per-upstream', 1, 65_535, out.maxInFlightPerUpstream);
  out.failuresBeforeDown = int(section, 'failures-before-down', 'failures-before-down', 1, 1000, out.failuresBeforeDown);
  out.probeIntervalMs = duration(section, 'probe-interval', 'probe-interval', out.probeIntervalMs);
  out.probeMaxIntervalMs = duration(section, 'probe-max-interval', 'probe-max-interval', Math.max(out.probeMaxIntervalMs, out.probeIntervalMs));
  if (out.probeMaxIntervalMs < out.probeIntervalMs) fail('probe-max-interval', `at least probe-interval (${out.probeIntervalMs}ms)`, section['probe-max-interval']);
  out.tcpIdleTimeoutMs = duration(section, 'tcp-idle-timeout', 'tcp-idle-timeout', out.tcpIdleTimeoutMs);
  out.localTtl = int(section, 'local-ttl', 'local-ttl', 0, 604_800, out.localTtl);
  out.filterAaaa = bool(section, 'filter-aaaa', 'filter-aaaa', out.filterAaaa);

  const allow = section['allow-networks'];
  if (allow !== undefined) {
    if (!Array.isArray(allow)) fail('allow-networks', 'a list of CIDRs', allow);
    out.allowNetworks = (allow as unknown[]).map((c, i) => {
      if (typeof c !== 'string' || parseCidr(c) === null) return fail(`allow-networks[${i}]`, 'a CIDR like 10.0.0.0/8', c);
      return c;
    });
  }

  const address = section['address'];
  if (address !== undefined) {
    if (!Array.isArray(address)) fail('address', 'a list of /DOMAIN/[IP...] rules', address);
    out.addresses = (address as unknown[]).flatMap((a, i) => {
      const rules = typeof a === 'string' ? parseAddressRule(a) : null;
      if (rules === null) return fail(`address[${i}]`, "a rule like '/x.test/1.2.3.4' or '/x.test/'", a);
      return rules;
    });
  }

  const cache = section['cache'];
  if (cache !== undefined) {
    if (!isObj(cache)) fail('cache', 'a map of settings', cache);
    const c = cache as Obj;
    const knownCache = new Set(['max-entries', 'max-bytes', 'min-ttl', 'max-ttl', 'negative-max-ttl', 'servfail-ttl',
      'serve-stale', 'stale-ttl', 'stale-max-age', 'stale-answer-timeout', 'prefetch']);
    for (const k of Object.keys(c)) {
      if (!knownCache.has(k)) fail(`cache.${k}`, `one of ${[...knownCache].join(', ')}`, 'an unknown setting');
    }
    const oc = out.cache;
    const week = 604_800;
    oc.maxEntries = int(c, 'max-entries', 'cache.max-entries', 1, 10_000_000, oc.maxEntries);
    oc.maxBytes = int(c, 'max-bytes', 'cache.max-bytes', 65_536, 2 ** 40, oc.maxBytes);
    oc.minTtl = int(c, 'min-ttl', 'cache.min-ttl', 0, week, oc.minTtl);
    oc.maxTtl = int(c, 'max-ttl', 'cache.max-ttl', 0, week, oc.maxTtl);
    if (oc.minTtl > oc.maxTtl) fail('cache.min-ttl', `at most cache.max-ttl (${oc.maxTtl})`, oc.minTtl);
    oc.negativeMaxTtl = int(c, 'negative-max-ttl', 'cache.negative-max-ttl', 0, week, oc.negativeMaxTtl);
    oc.servfailTtl = int(c, 'servfail-ttl', 'cache.servfail-ttl', 0, 300, oc.servfailTtl);
    oc.serveStale = bool(c, 'serve-stale', 'cache.serve-stale', oc.serveStale);
    oc.staleTtl = int(c, 'stale-ttl', 'cache.stale-ttl', 1, 3600, oc.staleTtl);
    oc.staleMaxAge = int(c, 'stale-max-age', 'cache.stale-max-age', 1, week, oc.staleMaxAge);
    oc.staleAnswerTimeoutMs = duration(c, 'stale-answer-timeout', 'cache.stale-answer-timeout', oc.staleAnswerTimeoutMs);
    const prefetch = c['prefetch'];
    if (prefetch !== undefined) {
      if (!isObj(prefetch)) fail('cache.prefetch', 'a map with min-hits and before-expiry-percent', prefetch);
      const p = prefetch as Obj;
      for (const k of Object.keys(p)) {
        if (k !== 'min-hits' && k !== 'before-expiry-percent') fail(`cache.prefetch.${k}`, 'min-hits or before-expiry-percent', 'an unknown setting');
      }
      oc.prefetch = {
        minHits: int(p, 'min-hits', 'cache.prefetch.min-hits', 0, 1_000_000, oc.prefetch.minHits),
        beforeExpiryPercent: int(p, 'before-expiry-percent', 'cache.prefetch.before-expiry-percent', 1, 99, oc.prefetch.beforeExpiryPercent),
      };
    }
  }
  return out;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return v === 'an unknown setting' ? v : `'${v}'`;
  if (v === null) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return String(v);
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `500ms`, `2s`, `1.5m` → ms; -1 when malformed (a unit is required: "10" could mean either). */
function durationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!m) return -1;
  const ms = Math.round(Number(m[1]) * UNITS[m[2]!]!);
  return ms >= 1 && ms <= 2_147_483_647 ? ms : -1;
}

/** dnsmasq `/a/b/IP...` (several IPs may follow, separated by '/'), `/a/` for NXDOMAIN; null when malformed. */
export function parseAddressRule(text: string): AddressRule[] | null {
  if (!text.startsWith('/')) return null;
  const parts = text.slice(1).split('/');
  if (parts.length < 2) return null;
  // The last '/' separates domains from addresses; dnsmasq takes one address, we allow a comma list.
  const ipPart = parts.pop()!;
  const ips = ipPart === '' ? [] : ipPart.split(',');
  if (ips.some((ip) => isIP(ip) === 0)) return null;
  const rules: AddressRule[] = [];
  for (const d of parts) {
    const key = domainKey(d);
    if (key === null) return null;
    rules.push({ domain: key, ips });
  }
  return rules.length > 0 ? rules : null;
}

/** A domain in presentation form, with or without the trailing dot → key; null when invalid. */
export function domainKey(text: string): string | null {
  if (text === '') return null;
  try {
    return nameToKey(text.endsWith('.') ? text : text + '.');
  } catch {
    return null;
  }
}

// ---- resolv.conf and self-addresses --------------------------------------------------------------------

/** `nameserver` lines of resolv.conf text, port 53. Later options (ndots, search) are the stub's business. */
export function parseResolvConf(text: string): ListenAddress[] {
  const out: ListenAddress[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const m = /^nameserver\s+(\S+)$/.exec(line);
    if (!m) continue;
    const host = m[1]!.replace(/%.*$/, ''); // a zone index (fe80::1%eth0) is not part of the address
    if (isIP(host) !== 0) out.push({ host, port: 53 });
  }
  return out;
}

function isLoopback(host: string): boolean {
  return host.startsWith('127.') || host === '::1' || host.startsWith('::ffff:127.');
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

let localAddressCache: Set<string> | null = null;
function localAddresses(): Set<string> {
  if (localAddressCache === null) {
    localAddressCache = new Set();
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) localAddressCache.add(a.address);
  }
  return localAddressCache;
}

/**
 * True when sending to `up` would reach kdns itself: the same address and port as a listen address, or a
 * local address on the port of a wildcard listener.
 */
export function isOwnAddress(up: ListenAddress, listen: readonly ListenAddress[]): boolean {
  for (const l of listen) {
    if (l.port !== up.port || l.port === 0) continue;
    if (l.host === up.host) return true;
    if (isWildcard(l.host) && (isLoopback(up.host) || localAddresses().has(up.host))) return true;
  }
  return false;
}

/**
 * The nameservers of a resolv.conf, minus loopback ones that are kdns's own listen addresses (kdns as the
 * node's resolver must not forward to itself). A missing file gives no upstreams, and a log line.
 */
export function readResolvConf(path: string, listen: readonly ListenAddress[] = [], log?: Logger): ListenAddress[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    log?.warn({ file: path, err }, 'cannot read resolv.conf: no default upstreams from it');
    return [];
  }
  const all = parseResolvConf(text);
  const kept: ListenAddress[] = [];
  for (const ns of all) {
    if (isLoopback(ns.host) && isOwnAddress(ns, listen)) {
      log?.warn({ file: path, upstream: `${ns.host}#${ns.port}` },
        'dropped resolv.conf nameserver: it is one of kdns\'s own listen addresses and would be a forwarding loop');
      continue;
    }
    kept.push(ns);
  }
  return kept;
}
