// Client addresses as four 32-bit words (most significant first; IPv4 in the first word), masks for
// the client block, and the exempt-clients list matched on those words. Text is parsed only on the node
// engine and at start-up; the native engine hands over the address bytes of its batch slot.

import { isIP } from 'node:net';
import { parseCidr } from '../forward/acl.js';
import { ipv6Bytes, rdataA } from '../dns/rdata.js';

/** A prefix length as four word masks. */
export function prefixMask(prefix: number, out: Uint32Array = new Uint32Array(4)): Uint32Array {
  for (let w = 0; w < 4; w++) {
    const bits = Math.max(0, Math.min(32, prefix - 32 * w));
    out[w] = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  }
  return out;
}

/** Fills `out` with the words of an address in text form; returns 4, 6 or 0 (not an address). */
export function wordsFromText(text: string, out: Uint32Array): number {
  let addr = text;
  const pct = addr.indexOf('%');
  if (pct >= 0) addr = addr.slice(0, pct);
  if (addr.startsWith('::ffff:') && addr.includes('.')) addr = addr.slice(7); // IPv4-mapped: an IPv4 client
  const version = isIP(addr);
  if (version === 0) return 0;
  const bytes = version === 4 ? rdataA(addr) : ipv6Bytes(addr);
  wordsFromBytes(bytes, 0, version === 4 ? 4 : 16, out);
  return version;
}

/** Fills `out` from `length` (4 or 16) network-order bytes at `offset`. */
export function wordsFromBytes(bytes: Uint8Array, offset: number, length: number, out: Uint32Array): void {
  for (let w = 0; w < 4; w++) {
    const i = offset + w * 4;
    out[w] = w * 4 < length ? ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0 : 0;
  }
}

/** Whether the 16 bytes at `offset` are an IPv4-mapped IPv6 address (::ffff:a.b.c.d). */
export function isV4Mapped(bytes: Uint8Array, offset: number): boolean {
  for (let i = 0; i < 10; i++) if (bytes[offset + i] !== 0) return false;
  return bytes[offset + 10] === 0xff && bytes[offset + 11] === 0xff;
}

/** The networks that are never limited, matched on address words. */
export class ExemptList {
  private readonly family: number[] = [];
  private readonly words: Uint32Array;
  private readonly masks: Uint32Array;

  /** Throws on a malformed CIDR: config parsing checked them, so that is a programming error. */
  constructor(cidrs: readonly string[]) {
    this.words = new Uint32Array(cidrs.length * 4);
    this.masks = new Uint32Array(cidrs.length * 4);
    const scratch = new Uint32Array(4);
    cidrs.forEach((text, i) => {
      const c = parseCidr(text);
      if (c === null) throw new Error(`bad CIDR '${text}'`);
      const v4 = c.family === 'ipv4';
      this.family.push(v4 ? 4 : 6);
      wordsFromBytes(v4 ? rdataA(c.address) : ipv6Bytes(c.address), 0, v4 ? 4 : 16, scratch);
      const mask = prefixMask(c.prefix, new Uint32Array(4));
      for (let w = 0; w < 4; w++) {
        this.masks[i * 4 + w] = mask[w]!;
        this.words[i * 4 + w] = (scratch[w]! & mask[w]!) >>> 0;
      }
    });
  }

  get empty(): boolean {
    return this.family.length === 0;
  }

  includes(family: number, addr: Uint32Array): boolean {
    for (let i = 0; i < this.family.length; i++) {
      if (this.family[i] !== family) continue;
      const b = i * 4;
      if (((addr[0]! & this.masks[b]!) >>> 0) === this.words[b] && ((addr[1]! & this.masks[b + 1]!) >>> 0) === this.words[b + 1]
        && ((addr[2]! & this.masks[b + 2]!) >>> 0) === this.words[b + 2] && ((addr[3]! & this.masks[b + 3]!) >>> 0) === this.words[b + 3]) {
        return true;
      }
    }
    return false;
  }
}

/** Text of a client block for log lines: `192.0.2.0/24`, `2001:db8::/56`. */
export function blockText(family: number, w: ArrayLike<number>, prefix: number): string {
  if (family === 4) return `${w[0]! >>> 24}.${(w[0]! >>> 16) & 255}.${(w[0]! >>> 8) & 255}.${w[0]! & 255}/${prefix}`;
  const groups: string[] = [];
  for (let i = 0; i < 4; i++) groups.push((w[i]! >>> 16).toString(16), (w[i]! & 0xffff).toString(16));
  return `${groups.join(':')}/${prefix}`;
}
