// Parsers for single option values, shared by flags.ts and file.ts so that `--listen X` and
// `listen: [X]` accept exactly the same text. They throw ValueProblem with only the "what was
// expected" part; the caller adds where the value came from (flag name, or file:line).

import { isIP } from 'node:net';
import type { EngineName, ListenAddress, LogFormat, LogLevel, PodMode, UpstreamAddress, UpstreamRoute } from './types.js';

export class ValueProblem extends Error {}

function fail(message: string): never {
  throw new ValueProblem(message);
}

function parsePort(text: string, what: string): number {
  if (!/^\d{1,5}$/.test(text)) fail(`expected ${what} port 0-65535, got '${text}'`);
  const port = Number(text);
  if (port > 65535) fail(`expected ${what} port 0-65535, got '${text}'`);
  return port;
}

/**
 * `ADDR:PORT` or `[ADDR]:PORT`. Addresses only: binding to a hostname hides which socket we get.
 * Brackets may hold IPv4 too (as Go's net.SplitHostPort allows), so `[$(HOST_IP)]:9253` in a
 * manifest is valid whichever family the node's address is.
 */
export function parseListen(text: string): ListenAddress {
  const bracketed = /^\[([^\]]+)\]:(\d*)$/.exec(text);
  if (bracketed) {
    if (isIP(bracketed[1]) === 0) fail(`expected an IP address inside [ ], got '${bracketed[1]}'`);
    return { host: bracketed[1], port: parsePort(bracketed[2], 'a') };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) fail(`expected ADDR:PORT (e.g. 127.0.0.1:5353 or [::1]:5353), got '${text}'`);
  const host = text.slice(0, colon);
  if (isIP(host) === 6) fail(`expected an IPv6 address in brackets, e.g. [${host}]:53, got '${text}'`);
  if (isIP(host) !== 4) fail(`expected ADDR:PORT with an IP address (e.g. 127.0.0.1:5353), got '${text}'`);
  return { host, port: parsePort(text.slice(colon + 1), 'a') };
}

/** `ADDR:PORT` or `none` (disabled). */
export function parseHttp(text: string): ListenAddress | null {
  return text === 'none' ? null : parseListen(text);
}

/**
 * dnsmasq upstream `IP[#PORT]`; `#` rather than `:` so IPv6 needs no brackets. DNS over TLS:
 * `tls://IP[#PORT][@NAME]`, port 853 by default, NAME the name its certificate must carry.
 */
function parseUpstream(text: string): UpstreamAddress {
  const tls = text.startsWith('tls://');
  let rest = tls ? text.slice('tls://'.length) : text;
  let serverName: string | null = null;
  const at = rest.indexOf('@');
  if (tls && at >= 0) {
    serverName = parseTlsName(rest.slice(at + 1), text);
    rest = rest.slice(0, at);
  }
  const hash = rest.indexOf('#');
  const host = hash < 0 ? rest : rest.slice(0, hash);
  if (isIP(host) === 0) {
    fail(`expected an upstream IP[#PORT] (e.g. 10.0.0.1#53) or tls://IP[#PORT][@NAME] (e.g. tls://9.9.9.9#853@dns.quad9.net), got '${text}'`);
  }
  const port = hash < 0 ? (tls ? 853 : 53) : parsePort(rest.slice(hash + 1), 'an upstream');
  if (port === 0) fail(`expected an upstream port 1-65535, got '${text}'`);
  return tls ? { host, port, tls: { serverName } } : { host, port };
}

/** The name a TLS upstream's certificate must carry: a host name, as in the certificate (no trailing dot). */
function parseTlsName(name: string, text: string): string {
  if (name === '') fail(`expected a server name after '@' (e.g. tls://9.9.9.9#853@dns.quad9.net), got '${text}'`);
  return parseDomain(name).slice(0, -1);
}

/** A NOTIFY target `IP[#PORT]` (dnsmasq's `#`, so IPv6 needs no brackets); port 53 unless given. */
export function parseNotifyTarget(text: string): ListenAddress {
  const hash = text.indexOf('#');
  const host = hash < 0 ? text : text.slice(0, hash);
  if (isIP(host) === 0) fail(`expected a secondary's IP[#PORT] (e.g. 10.0.0.2#53), got '${text}'`);
  const port = hash < 0 ? 53 : parsePort(text.slice(hash + 1), 'a secondary\'s');
  if (port === 0) fail(`expected a secondary's port 1-65535, got '${text}'`);
  return { host, port };
}

/**
 * A domain in key form: lower case, trailing dot. Hostname characters only (plus '_' for SRV-style
 * labels); config names are typed by people, so escapes are more likely a typo than intent.
 */
export function parseDomain(text: string): string {
  const bare = text.endsWith('.') ? text.slice(0, -1) : text;
  if (bare === '') fail(`expected a domain name, got '${text}'`);
  if (bare.length > 253) fail(`expected a domain name of at most 253 characters, got ${bare.length}`);
  for (const label of bare.split('.')) {
    if (label.length === 0 || label.length > 63 || !/^[A-Za-z0-9_-]+$/.test(label)) {
      fail(`expected a domain name (labels of 1-63 letters, digits, '-' or '_'), got '${text}'`);
    }
  }
  return bare.toLowerCase() + '.';
}

export type ServerSpec =
  | { kind: 'default'; upstream: UpstreamAddress }
  | { kind: 'route'; route: UpstreamRoute };

/**
 * dnsmasq `--server` forms:
 *   IP[#PORT]               default upstream
 *   /a/b/IP[#PORT]          send a, b and names below them to IP
 *   tls://IP[#PORT][@NAME]  instead of IP[#PORT] in either form: DNS over TLS, certificate checked for NAME
 *   /a/                     a is local only: never forward it
 *   /a/#                    a uses the default upstreams (exempt from a wider route)
 */
export function parseServer(text: string): ServerSpec {
  if (!text.startsWith('/')) return { kind: 'default', upstream: parseUpstream(text) };
  // The target after the last '/' of the domains; a tls:// target has slashes of its own.
  const tlsAt = text.indexOf('/tls://');
  const last = tlsAt >= 0 ? tlsAt : text.lastIndexOf('/');
  if (last === 0) fail(`expected /DOMAIN/[IP[#PORT]], got '${text}'`);
  const domains = text.slice(1, last).split('/').map(parseDomain);
  const target = text.slice(last + 1);
  if (target === '') return { kind: 'route', route: { domains, servers: [], localOnly: true } };
  if (target === '#') return { kind: 'route', route: { domains, servers: [], localOnly: false } };
  return { kind: 'route', route: { domains, servers: [parseUpstream(target)], localOnly: false } };
}

/** `FILE[@ORIGIN]`. The last '@' splits, so a path may contain '@' when an origin is given. */
export function parseZoneFile(text: string): { file: string; origin: string | null } {
  const at = text.lastIndexOf('@');
  if (at < 0) {
    if (text === '') fail('expected FILE[@ORIGIN], got an empty string');
    return { file: text, origin: null };
  }
  const file = text.slice(0, at);
  if (file === '') fail(`expected FILE[@ORIGIN], got '${text}'`);
  return { file, origin: parseDomain(text.slice(at + 1)) };
}

export function parseIntIn(text: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(text)) fail(`expected an integer ${min}-${max}, got '${text}'`);
  const n = Number(text);
  if (n < min || n > max) fail(`expected an integer ${min}-${max}, got ${text}`);
  return n;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `500ms`, `10s`, `1.5m`, `1h` → milliseconds. A unit is required: "10" could mean either. */
export function parseDurationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!m) fail(`expected a duration like 10s or 500ms, got '${text}'`);
  const ms = Math.round(Number(m[1]) * DURATION_UNITS[m[2]]);
  if (ms < 1 || ms > 2_147_483_647) fail(`expected a duration from 1ms to about 24 days, got '${text}'`);
  return ms;
}

export function parseBool(text: string): boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  return fail(`expected true or false, got '${text}'`);
}

const ENGINES: readonly EngineName[] = ['native', 'node', 'auto'];
export function parseEngine(text: string): EngineName {
  if ((ENGINES as readonly string[]).includes(text)) return text as EngineName;
  return fail(`expected one of ${ENGINES.join(', ')}, got '${text}'`);
}

const POD_MODES: readonly PodMode[] = ['disabled', 'insecure', 'verified'];
export function parsePodMode(text: string): PodMode {
  if ((POD_MODES as readonly string[]).includes(text)) return text as PodMode;
  return fail(`expected one of ${POD_MODES.join(', ')}, got '${text}'`);
}

const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
export function parseLogFormat(text: string): LogFormat {
  if (text === 'json' || text === 'text' || text === 'auto') return text;
  return fail(`expected json, text or auto, got '${text}'`);
}

export function parseLogLevel(text: string): LogLevel {
  if ((LEVELS as readonly string[]).includes(text)) return text as LogLevel;
  return fail(`expected one of ${LEVELS.join(', ')}, got '${text}'`);
}

/** CHAOS TXT text, or `none` to answer REFUSED. TXT strings are at most 255 bytes. */
export function parseChaosText(text: string): string | null {
  if (text === 'none') return null;
  if (Buffer.byteLength(text) > 255) fail('expected at most 255 bytes (one TXT string)');
  return text;
}

export function parseNonEmpty(text: string): string {
  if (text === '') fail('expected a non-empty value');
  return text;
}
