// Structured RDATA encoders: typed values → uncompressed wire RDATA. Used by the zone-file parser, the
// Kubernetes naming rules and tests, so every source produces byte-identical records.

import { isIPv6 } from 'node:net';
import { RdataError } from '../errors.js';
import { keyToWire } from './name.js';

export { RdataError };

function u16(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new RdataError(`${what} must be 0-65535, got ${value}`);
  return value;
}

function u32(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RdataError(`${what} must be 0-4294967295, got ${value}`);
  return value;
}

export function rdataA(ip: string): Buffer {
  const out = Buffer.allocUnsafe(4);
  if (!parseIpv4(ip, out)) throw new RdataError(`expected an IPv4 address, got '${ip}'`);
  return out;
}

/**
 * Writes the dotted quad `ip` into `out` (4 bytes); false when it is not one. Accepts what node:net's
 * isIPv4 accepts (no leading zeros, 0-255) without its regular expression and without splitting the
 * text: a cluster sync renders ~10^5 addresses, and the split version was its largest single cost.
 */
function parseIpv4(ip: string, out: Buffer): boolean {
  let part = 0;
  let octet = 0;
  let digits = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || part === 3) return false;
      out[part++] = octet;
      octet = 0;
      digits = 0;
      continue;
    }
    if (c < 0x30 || c > 0x39 || (digits > 0 && octet === 0)) return false;
    octet = octet * 10 + (c - 0x30);
    if (octet > 255) return false;
    digits++;
  }
  if (part !== 3 || digits === 0) return false;
  out[3] = octet;
  return true;
}

/** Parses an IPv6 address (an embedded IPv4 tail allowed) into 16 bytes. */
export function ipv6Bytes(ip: string): Buffer {
  if (!isIPv6(ip) || ip.includes('%')) throw new RdataError(`expected an IPv6 address, got '${ip}'`);
  let text = ip;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    // Rewrite "::ffff:1.2.3.4" as "::ffff:102:304" so one parser handles both spellings.
    const v4 = rdataA(tail);
    text = text.slice(0, lastColon + 1) + v4.readUInt16BE(0).toString(16) + ':' + v4.readUInt16BE(2).toString(16);
  }
  const halves = text.split('::');
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((p) => parseInt(p, 16)));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const zeros = halves.length === 2 ? 8 - head.length - rest.length : 0;
  const groups = [...head, ...new Array<number>(zeros).fill(0), ...rest];
  if (groups.length !== 8) throw new RdataError(`expected an IPv6 address, got '${ip}'`);
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

export function rdataAAAA(ip: string): Buffer {
  return ipv6Bytes(ip);
}

/** NS, CNAME, PTR, DNAME: the RDATA is one name. */
export function rdataName(key: string): Buffer {
  return keyToWire(key);
}

export function rdataMx(preference: number, exchangeKey: string): Buffer {
  const name = keyToWire(exchangeKey);
  const out = Buffer.allocUnsafe(2 + name.length);
  out.writeUInt16BE(u16(preference, 'MX preference'), 0);
  name.copy(out, 2);
  return out;
}

export function rdataSrv(priority: number, weight: number, port: number, targetKey: string): Buffer {
  const name = keyToWire(targetKey);
  const out = Buffer.allocUnsafe(6 + name.length);
  out.writeUInt16BE(u16(priority, 'SRV priority'), 0);
  out.writeUInt16BE(u16(weight, 'SRV weight'), 2);
  out.writeUInt16BE(u16(port, 'SRV port'), 4);
  name.copy(out, 6);
  return out;
}

/** TXT: each string becomes one <character-string> (≤ 255 bytes). */
export function rdataTxt(strings: (string | Buffer)[]): Buffer {
  if (strings.length === 0) throw new RdataError('TXT needs at least one string');
  const parts: Buffer[] = [];
  for (const s of strings) {
    const bytes = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
    if (bytes.length > 255) throw new RdataError(`TXT string longer than 255 bytes (${bytes.length})`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  return Buffer.concat(parts);
}

export interface SoaFields {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

export function rdataSoa(s: SoaFields): Buffer {
  const m = keyToWire(s.mname);
  const r = keyToWire(s.rname);
  const out = Buffer.allocUnsafe(m.length + r.length + 20);
  m.copy(out, 0);
  r.copy(out, m.length);
  let o = m.length + r.length;
  for (const [v, what] of [[s.serial, 'SOA serial'], [s.refresh, 'SOA refresh'], [s.retry, 'SOA retry'],
    [s.expire, 'SOA expire'], [s.minimum, 'SOA minimum']] as const) {
    out.writeUInt32BE(u32(v, what), o);
    o += 4;
  }
  return out;
}

/** Reads the SOA MINIMUM field (the negative-caching TTL, RFC 2308) from SOA RDATA. */
export function soaMinimum(rdata: Buffer): number {
  return rdata.readUInt32BE(rdata.length - 4);
}

export function rdataCaa(flags: number, tag: string, value: string | Buffer): Buffer {
  if (!Number.isInteger(flags) || flags < 0 || flags > 255) throw new RdataError(`CAA flags must be 0-255, got ${flags}`);
  if (!/^[A-Za-z0-9]{1,255}$/.test(tag)) throw new RdataError(`CAA tag must be 1-255 letters or digits, got '${tag}'`);
  const tagBytes = Buffer.from(tag, 'ascii');
  const valueBytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([Buffer.from([flags, tagBytes.length]), tagBytes, valueBytes]);
}
