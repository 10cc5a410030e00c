// Forwarding settings: the typed options, their defaults, the dnsmasq --address rule, and resolv.conf
// reading. The `forward:` section of kdns.yaml (and its `--forward-*` flags) is parsed by the config's one
// option table (src/config/forward-rows.ts); this file owns the types, defaults and loop guards.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import type { KdnsConfig, ListenAddress, UpstreamAddress, UpstreamRoute } from '../config/types.js';
import { nameToKey } from '../dns/name.js';

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
