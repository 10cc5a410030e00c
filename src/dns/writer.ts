// A DNS message writer with RFC 1035 §4.1.4 name compression, for the cold path: it runs when the
// zone changes and an answer is compiled, never per query. One 64 KiB buffer is reused for every
// message; the result is copied out at the end.
//
// Compression targets are remembered by the lower-cased wire bytes of each name suffix (a latin1
// string, so any byte value is kept), mapped to the offset where that suffix was written. Every entry
// we add is also pushed on a touched list, so a record that does not fit can be taken back whole
// (rollback) without leaving pointers to bytes that are no longer in the message.

import { HEADER_SIZE, MAX_LABEL, MAX_NAME_WIRE, TYPE_CNAME, TYPE_MX, TYPE_NS, TYPE_PTR, TYPE_SOA } from './constants.js';
import { keyToWire } from './name.js';
import type { Rr } from './types.js';

/** The largest DNS message (the TCP length prefix is 16 bits). */
export const MAX_MESSAGE = 65535;

// A pointer holds 14 bits of offset.
const MAX_POINTER_TARGET = 0x3fff;

/**
 * Offset just past the uncompressed wire name at src[start..], or -1 when there is none within
 * src[start..limit) (a compression pointer, an extended label type, an overlong name or label).
 */
export function wireNameEnd(src: Uint8Array, start: number, limit: number): number {
  let p = start;
  // Bounded: each turn moves p forward by at least one byte.
  for (;;) {
    if (p >= limit) return -1;
    const n = src[p]!;
    if (n === 0) return p + 1 - start <= MAX_NAME_WIRE ? p + 1 : -1;
    if (n > MAX_LABEL) return -1;
    p += n + 1;
  }
}

/** Lower-cases ASCII letters only (DNS case folding; latin1's toLowerCase would also fold 0xC0-0xDE). */
function foldedSuffix(src: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) {
    const c = src[i]!;
    s += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c + 0x20 : c);
  }
  return s;
}

export class MessageWriter {
  readonly buf = Buffer.alloc(MAX_MESSAGE);
  offset = 0;
  private readonly targets = new Map<string, number>();
  private readonly touchedNames: string[] = [];
  private readonly touchedOffsets: number[] = [];

  /** Starts a new message: empty compression table, zeroed header, offset just past it. */
  reset(): void {
    this.targets.clear();
    this.touchedNames.length = 0;
    this.touchedOffsets.length = 0;
    this.buf.fill(0, 0, HEADER_SIZE);
    this.offset = HEADER_SIZE;
  }

  writeHeader(id: number, flags: number, qdcount: number, ancount: number, nscount: number, arcount: number): void {
    const b = this.buf;
    b.writeUInt16BE(id & 0xffff, 0);
    b.writeUInt16BE(flags & 0xffff, 2);
    b.writeUInt16BE(qdcount, 4);
    b.writeUInt16BE(ancount, 6);
    b.writeUInt16BE(nscount, 8);
    b.writeUInt16BE(arcount, 10);
  }

  /** Where to roll back to if what follows does not fit. */
  mark(): number {
    return this.offset;
  }

  /** Forgets everything written at or after `mark`, compression targets included. */
  rollback(mark: number): void {
    const names = this.touchedNames;
    const offsets = this.touchedOffsets;
    // Targets are added in increasing offset order, so the ones to forget are at the end.
    while (offsets.length > 0 && offsets[offsets.length - 1]! >= mark) {
      this.targets.delete(names.pop()!);
      offsets.pop();
    }
    this.offset = mark;
  }

  /** Writes QNAME (never compressed: it is the first name), QTYPE, QCLASS. False when it does not fit. */
  writeQuestion(name: Uint8Array, start: number, qtype: number, qclass: number): boolean {
    if (!this.writeName(name, start, true)) return false;
    return this.writeU16(qtype) && this.writeU16(qclass);
  }

  /**
   * Writes the uncompressed wire name at src[start..]. With `compress`, the longest suffix already in
   * the message becomes a pointer, and the labels written here become targets for later names.
   * Without it (names inside SRV, DNAME or unknown RDATA, RFC 3597 §4) the name is written whole and
   * is not offered as a target. False when the name is malformed or does not fit.
   */
  writeName(src: Uint8Array, start: number, compress: boolean): boolean {
    const end = wireNameEnd(src, start, src.length);
    if (end < 0) return false;
    let p = start;
    // The whole name folded once; each suffix key is a slice of it (bytes map 1:1 to latin1 characters),
    // not a new string built per suffix.
    const folded = compress ? foldedSuffix(src, start, end) : '';
    // Bounded by the labels of a name of at most 255 bytes.
    while (src[p] !== 0) {
      if (compress) {
        const key = p === start ? folded : folded.slice(p - start);
        const target = this.targets.get(key);
        if (target !== undefined) {
          if (this.offset + 2 > MAX_MESSAGE) return false;
          this.buf.writeUInt16BE(0xc000 | target, this.offset);
          this.offset += 2;
          return true;
        }
        if (this.offset <= MAX_POINTER_TARGET) {
          this.targets.set(key, this.offset);
          this.touchedNames.push(key);
          this.touchedOffsets.push(this.offset);
        }
      }
      const labelEnd = p + 1 + src[p]!;
      if (this.offset + (labelEnd - p) > MAX_MESSAGE) return false;
      this.buf.set(src.subarray(p, labelEnd), this.offset);
      this.offset += labelEnd - p;
      p = labelEnd;
    }
    if (this.offset + 1 > MAX_MESSAGE) return false;
    this.buf[this.offset++] = 0;
    return true;
  }

  /**
   * Writes one resource record, compressing the owner and the names inside NS, CNAME, PTR, SOA and MX
   * RDATA. On failure (no room) nothing of the record remains and false is returned.
   */
  writeRr(rr: Rr): boolean {
    const m = this.offset;
    if (this.writeRrUnchecked(rr)) return true;
    this.rollback(m);
    return false;
  }

  /** Copies the used bytes out; the writer's buffer is reused by the next message. */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.offset));
  }

  private writeRrUnchecked(rr: Rr): boolean {
    if (!this.writeName(keyToWire(rr.name), 0, true)) return false;
    if (this.offset + 10 > MAX_MESSAGE) return false;
    const b = this.buf;
    b.writeUInt16BE(rr.type, this.offset);
    b.writeUInt16BE(rr.class, this.offset + 2);
    b.writeUInt32BE(rr.ttl >>> 0, this.offset + 4);
    const lengthAt = this.offset + 8;
    this.offset += 10;
    const rdStart = this.offset;
    if (!this.writeRdata(rr.type, rr.rdata)) return false;
    b.writeUInt16BE(this.offset - rdStart, lengthAt);
    return true;
  }

  private writeRdata(type: number, rd: Buffer): boolean {
    const len = rd.length;
    switch (type) {
      case TYPE_NS:
      case TYPE_CNAME:
      case TYPE_PTR:
        if (wireNameEnd(rd, 0, len) === len) return this.writeName(rd, 0, true);
        break;
      case TYPE_MX:
        if (len > 2 && wireNameEnd(rd, 2, len) === len) return this.writeBytes(rd, 0, 2) && this.writeName(rd, 2, true);
        break;
      case TYPE_SOA: {
        const mEnd = wireNameEnd(rd, 0, len);
        const rEnd = mEnd < 0 ? -1 : wireNameEnd(rd, mEnd, len);
        if (rEnd >= 0 && rEnd + 20 === len) {
          return this.writeName(rd, 0, true) && this.writeName(rd, mEnd, true) && this.writeBytes(rd, rEnd, len);
        }
        break;
      }
    }
    // Every other type, and RDATA that does not have the shape its type promises: bytes as given.
    return this.writeBytes(rd, 0, len);
  }

  private writeBytes(src: Buffer, start: number, end: number): boolean {
    if (this.offset + (end - start) > MAX_MESSAGE) return false;
    src.copy(this.buf, this.offset, start, end);
    this.offset += end - start;
    return true;
  }

  private writeU16(value: number): boolean {
    if (this.offset + 2 > MAX_MESSAGE) return false;
    this.buf.writeUInt16BE(value & 0xffff, this.offset);
    this.offset += 2;
    return true;
  }
}
