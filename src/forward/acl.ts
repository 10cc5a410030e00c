// Who may use kdns as a forwarder. An open resolver on the internet is an amplification weapon, so
// forwarding is for the networks listed (cluster and private ranges by default); everyone else gets
// REFUSED for names kdns is not authoritative for. Node's BlockList does the prefix matching.

import { BlockList, isIP } from 'node:net';
import { ipv6Bytes, rdataA } from '../dns/rdata.js';
import { BoundedMemo } from '../util/bounded-memo.js';

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** `10.0.0.0/8`, `fc00::/7`, or a bare address (a /32 or /128); null when malformed. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return null;
    prefix = Number(p);
    if (prefix > max) return null;
  }
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

export class Acl {
  private readonly list = new BlockList();
  private readonly cidrs: Cidr[] = [];
  readonly empty: boolean;

  /** Throws on a malformed CIDR: options were validated before, so that is a programming error. */
  constructor(cidrs: readonly string[]) {
    for (const text of cidrs) {
      const c = parseCidr(text);
      if (c === null) throw new Error(`bad CIDR '${text}'`);
      this.list.addSubnet(c.address, c.prefix, c.family);
      this.cidrs.push(c);
    }
    this.empty = cidrs.length === 0;
  }

  /**
   * The networks as 18-byte records (family 4|6, prefix length, 16 address bytes, IPv4 in the first 4),
   * for the native forwarded-answer cache, which checks peers by their address bytes.
   */
  wireRules(): Buffer {
    const out = Buffer.alloc(18 * this.cidrs.length);
    this.cidrs.forEach((c, i) => {
      out[18 * i] = c.family === 'ipv4' ? 4 : 6;
      out[18 * i + 1] = c.prefix;
      (c.family === 'ipv4' ? rdataA(c.address) : ipv6Bytes(c.address)).copy(out, 18 * i + 2);
    });
    return out;
  }

  /** True when `address` lies in one of the networks. IPv4-mapped IPv6 (::ffff:a.b.c.d) counts as IPv4. */
  /**
   * Checked on every forwarded query, cache hits included; a client set is small, so answers are
   * remembered per address text (bounded: past 4096 addresses the memo starts over).
   */
  allows(address: string): boolean {
    return this.memo.get(address);
  }

  private readonly memo = new BoundedMemo<string, boolean>(4096, (address) => this.check(address));

  private check(address: string): boolean {
    let addr = address;
    const pct = addr.indexOf('%');
    if (pct >= 0) addr = addr.slice(0, pct);
    if (addr.startsWith('::ffff:') && addr.includes('.')) addr = addr.slice(7);
    const version = isIP(addr);
    if (version === 0) return false;
    return this.list.check(addr, version === 4 ? 'ipv4' : 'ipv6');
  }
}
