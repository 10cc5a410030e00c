// The first thing a worker does with a packet: check it is a well-formed query and pull out what the
// hot path needs, by byte offsets over the receive buffer. Nothing here allocates, builds a string
// or creates a closure: the caller owns one QuerySlot per packet position and we overwrite it.
//
// We are strict, like a production authoritative server: anything malformed is FORMERR (or dropped
// when answering would be wrong), because a lenient parser is where cache-poisoning and amplification
// tricks hide, and because every byte of the message must be accounted for before we trust the OPT.

import {
  FLAG_QR,
  HEADER_SIZE,
  MAX_LABEL,
  MAX_NAME_WIRE,
  MIN_UDP_PAYLOAD,
  OPCODE_MASK,
  OPCODE_QUERY,
  OPCODE_SHIFT,
  TYPE_OPT,
} from './constants.js';
import { FNV32_OFFSET, FNV32_PRIME } from './answer-table.js';

/** What readQuery learnt about one packet. Every field is rewritten by each call. */
export class QuerySlot {
  id = 0;
  flags = 0;
  opcode = 0;
  qdcount = 0;
  ancount = 0;
  nscount = 0;
  arcount = 0;
  /** Wire length of the qname including the root byte (the qname starts at offset 12); 0 = no usable question. */
  nameLength = 0;
  /** Lower-cased copy of the qname wire bytes (ASCII A-Z only; other bytes are kept as they are). */
  readonly lowerName = Buffer.alloc(MAX_NAME_WIRE);
  /** 32-bit FNV-1a over lowerName[0..nameLength) as an int32, the same function as hashName() (why int32: there). */
  hash = 0;
  qtype = 0;
  qclass = 0;
  /** Offset just after QCLASS. */
  questionEnd = 0;
  hasOpt = false;
  /** The requestor's UDP payload size, raised to 512 when it advertises less (RFC 6891 §6.2.3). */
  udpSize = 0;
  ednsVersion = 0;
  /** Low 16 bits of the OPT TTL: the DO bit and the reserved Z bits. */
  ednsFlags = 0;
  /** High 8 bits of the OPT TTL (extended RCODE); a query should send 0. */
  extRcodeHi = 0;
}

/** Well-formed query: answer it. */
export const READ_OK = 0;
/** Not a query we may answer (too short for a header, or a response): send nothing. */
export const READ_DROP = 1;
/** Malformed: answer FORMERR. nameLength > 0 when the question itself parsed and may be echoed. */
export const READ_FORMERR = 2;
/** Opcode other than QUERY: answer NOTIMP, echoing the question when nameLength > 0. */
export const READ_NOTIMP = 3;
/** Well-formed, but the OPT asks for an EDNS version other than 0: answer BADVERS (RFC 6891 §6.1.3). */
export const READ_BADVERS = 4;

// A legitimate compressed name needs at most 127 pointers (every pointer is preceded by at least one
// label of 2 bytes in a 255-byte name); the strictly-backwards rule below already forbids loops, this
// is a second fence so no input can make us walk long.
const MAX_POINTER_HOPS = 127;

const RR_FIXED = 10; // TYPE, CLASS, TTL, RDLENGTH after the owner name

// Set by skipName: the uncompressed wire length of the name it just walked. A module variable rather
// than a returned object, so the hot path allocates nothing.
let skippedNameLength = 0;

/**
 * Reads header, question and the shape of every other record of `buf[0..len)` into `slot`.
 * Returns one of the READ_* codes; never throws on any input.
 */
export function readQuery(buf: Buffer, len: number, slot: QuerySlot): number {
  slot.id = 0;
  slot.flags = 0;
  slot.opcode = 0;
  slot.qdcount = 0;
  slot.ancount = 0;
  slot.nscount = 0;
  slot.arcount = 0;
  clearQuestion(slot);
  slot.hasOpt = false;
  slot.udpSize = MIN_UDP_PAYLOAD;
  slot.ednsVersion = 0;
  slot.ednsFlags = 0;
  slot.extRcodeHi = 0;

  if (len < HEADER_SIZE || len > buf.length) return READ_DROP;
  const flags = (buf[2] << 8) | buf[3];
  slot.id = (buf[0] << 8) | buf[1];
  slot.flags = flags;
  // Answering a response would let anyone bounce packets between two servers forever.
  if ((flags & FLAG_QR) !== 0) return READ_DROP;
  slot.opcode = (flags & OPCODE_MASK) >>> OPCODE_SHIFT;
  slot.qdcount = (buf[4] << 8) | buf[5];
  slot.ancount = (buf[6] << 8) | buf[7];
  slot.nscount = (buf[8] << 8) | buf[9];
  slot.arcount = (buf[10] << 8) | buf[11];

  if (slot.opcode !== OPCODE_QUERY) {
    // NOTIFY, UPDATE and friends have sections we do not interpret; echo the question if we can.
    if (slot.qdcount === 1) readQuestion(buf, len, slot);
    return READ_NOTIMP;
  }
  if (slot.qdcount !== 1) return READ_FORMERR;
  if (!readQuestion(buf, len, slot)) return READ_FORMERR;

  let pos = slot.questionEnd;
  const beforeAdditional = slot.ancount + slot.nscount;
  const total = beforeAdditional + slot.arcount;
  // Bounded: every record consumes at least 11 bytes, so we leave by an error or the count.
  for (let i = 0; i < total; i++) {
    pos = skipName(buf, len, pos);
    if (pos < 0 || pos + RR_FIXED > len) return READ_FORMERR;
    const type = (buf[pos] << 8) | buf[pos + 1];
    const rdStart = pos + RR_FIXED;
    const rdEnd = rdStart + ((buf[pos + 8] << 8) | buf[pos + 9]);
    if (rdEnd > len) return READ_FORMERR;
    if (type === TYPE_OPT) {
      // RFC 6891 §6.1.1: only in additional, owner is the root, at most one.
      if (i < beforeAdditional || slot.hasOpt || skippedNameLength !== 1) return READ_FORMERR;
      if (!optionsWellFormed(buf, rdStart, rdEnd)) return READ_FORMERR;
      const udp = (buf[pos + 2] << 8) | buf[pos + 3];
      slot.hasOpt = true;
      slot.udpSize = udp < MIN_UDP_PAYLOAD ? MIN_UDP_PAYLOAD : udp;
      slot.extRcodeHi = buf[pos + 4];
      slot.ednsVersion = buf[pos + 5];
      slot.ednsFlags = (buf[pos + 6] << 8) | buf[pos + 7];
    }
    pos = rdEnd;
  }
  if (pos !== len) return READ_FORMERR; // trailing bytes: the counts lie
  // Checked last: BADVERS promises the requestor that the rest of its message was fine.
  if (slot.hasOpt && slot.ednsVersion !== 0) return READ_BADVERS;
  return READ_OK;
}

function clearQuestion(slot: QuerySlot): void {
  slot.nameLength = 0;
  slot.hash = 0;
  slot.qtype = 0;
  slot.qclass = 0;
  slot.questionEnd = 0;
}

/**
 * Reads the qname at offset 12 (no compression allowed: there is nothing before it to point at),
 * lower-casing and hashing in the same pass, then QTYPE and QCLASS.
 */
function readQuestion(buf: Buffer, len: number, slot: QuerySlot): boolean {
  const lower = slot.lowerName;
  let pos = HEADER_SIZE;
  let out = 0;
  let hash = FNV32_OFFSET | 0;
  // Bounded: each turn consumes a length byte, and out is capped at MAX_NAME_WIRE.
  for (;;) {
    if (pos >= len) return failQuestion(slot);
    const labelLength = buf[pos];
    if (labelLength > MAX_LABEL) return failQuestion(slot); // pointer (0xC0) or extended label type
    if (out + labelLength + 1 > MAX_NAME_WIRE) return failQuestion(slot);
    const end = pos + 1 + labelLength;
    if (end > len) return failQuestion(slot);
    // A length byte is at most 63, below 'A', so it passes through the case fold unchanged.
    for (let p = pos; p < end; p++) {
      let c = buf[p];
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      lower[out++] = c;
      hash = Math.imul(hash ^ c, FNV32_PRIME);
    }
    pos = end;
    if (labelLength === 0) break;
  }
  if (pos + 4 > len) return failQuestion(slot);
  slot.nameLength = out;
  slot.hash = hash; // int32: Math.imul's result, and the root label alone makes one turn
  slot.qtype = (buf[pos] << 8) | buf[pos + 1];
  slot.qclass = (buf[pos + 2] << 8) | buf[pos + 3];
  slot.questionEnd = pos + 4;
  return true;
}

function failQuestion(slot: QuerySlot): boolean {
  clearQuestion(slot);
  return false;
}

/**
 * Walks a possibly compressed name starting at `pos`; returns the offset after it in place, or -1.
 * Every pointer must land strictly before the start of the run of labels it ends, so targets strictly
 * decrease and no loop is possible; pointers into the header are refused outright.
 */
function skipName(buf: Buffer, len: number, pos: number): number {
  let p = pos;
  let runStart = pos;
  let after = -1;
  let wireLength = 0;
  let hops = 0;
  for (;;) {
    if (p >= len) return -1;
    const b = buf[p];
    if (b === 0) {
      skippedNameLength = wireLength + 1;
      return after < 0 ? p + 1 : after;
    }
    const kind = b & 0xc0;
    if (kind === 0xc0) {
      if (p + 1 >= len) return -1;
      const target = ((b & 0x3f) << 8) | buf[p + 1];
      if (target < HEADER_SIZE || target >= runStart) return -1;
      if (++hops > MAX_POINTER_HOPS) return -1;
      if (after < 0) after = p + 2;
      runStart = target;
      p = target;
      continue;
    }
    if (kind !== 0) return -1; // 0x40 / 0x80: extended label types (RFC 6891 §5) are not in use
    wireLength += b + 1;
    if (wireLength + 1 > MAX_NAME_WIRE) return -1;
    p += b + 1;
  }
}

/** EDNS options are (code, length, data) triples that must fill the RDATA exactly. */
function optionsWellFormed(buf: Buffer, start: number, end: number): boolean {
  let p = start;
  while (p < end) {
    if (p + 4 > end) return false;
    p += 4 + ((buf[p + 2] << 8) | buf[p + 3]);
  }
  return p === end;
}
