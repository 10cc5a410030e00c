// Wire work for forwarding, on byte offsets: read the client's question and EDNS, build the query we send
// upstream, check and index an upstream response (where every TTL sits, the rcode, the negative-caching
// TTL from the SOA), and write the response a client gets. This is the cold path (a cache miss costs an
// upstream round trip), but a cache hit also runs `writeClientResponse`, so it copies once and patches.

import {
  CLASS_IN, EDNS_ADVERTISED_UDP, EDNS_DO, FLAG_AD, FLAG_CD, FLAG_QR, FLAG_RA, FLAG_RD, FLAG_TC, HEADER_SIZE,
  MAX_LABEL, MAX_NAME_WIRE, OPCODE_MASK, RCODE_MASK, TYPE_A, TYPE_AAAA, TYPE_OPT, TYPE_SOA,
} from '../dns/constants.js';
import type { QuerySlot } from '../dns/query-reader.js';

/** Size of an OPT record with no options. */
export const OPT_SIZE = 11;
const MAX_POINTER_HOPS = 127;

/** What the forwarder needs from a client's query. */
export interface ClientQuestion {
  id: number;
  flags: number;
  /** Offset just past QCLASS; the question is query[12..questionEnd). */
  questionEnd: number;
  nameLength: number;
  qtype: number;
  qclass: number;
  hasOpt: boolean;
  /** The DO bit (RFC 3225) of the client's OPT. */
  dnssecOk: boolean;
}

/**
 * Offset just past the name at buf[off], following no pointers but accepting one at the end; -1 when the
 * name is malformed or runs past `end`.
 */
export function skipName(buf: Uint8Array, off: number, end: number): number {
  let p = off;
  let wire = 1;
  // Bounded: every turn moves p forward.
  for (;;) {
    if (p >= end) return -1;
    const len = buf[p]!;
    if (len === 0) return p + 1;
    if ((len & 0xc0) === 0xc0) return p + 2 <= end ? p + 2 : -1;
    if (len > MAX_LABEL) return -1;
    wire += len + 1;
    if (wire > MAX_NAME_WIRE) return -1;
    p += len + 1;
  }
}

/** Checks that every pointer of the name at buf[off] leads backwards to a well-formed name. */
function nameValid(buf: Uint8Array, off: number, end: number): boolean {
  let p = off;
  let hops = 0;
  let wire = 1;
  for (;;) {
    if (p >= end) return false;
    const len = buf[p]!;
    if (len === 0) return true;
    if ((len & 0xc0) === 0xc0) {
      if (p + 1 >= end || ++hops > MAX_POINTER_HOPS) return false;
      const target = ((len & 0x3f) << 8) | buf[p + 1]!;
      if (target >= p) return false;
      p = target;
      continue;
    }
    if (len > MAX_LABEL) return false;
    wire += len + 1;
    if (wire > MAX_NAME_WIRE) return false;
    p += len + 1;
  }
}

/** The parts of a query the forwarder needs, from what readQuery already found (one parse per query). */
export function clientQuestionOf(slot: QuerySlot): ClientQuestion {
  return {
    id: slot.id,
    flags: slot.flags,
    questionEnd: slot.questionEnd,
    nameLength: slot.nameLength,
    qtype: slot.qtype,
    qclass: slot.qclass,
    hasOpt: slot.hasOpt,
    dnssecOk: slot.hasOpt && (slot.ednsFlags & EDNS_DO) !== 0,
  };
}

/**
 * The query we send upstream: a fresh ID, RD set, the client's CD, the name lower-cased (cache keys are
 * lower case, and a response must echo exactly this), and our own OPT advertising 1232 with the client's DO.
 */
export function buildUpstreamQuery(
  id: number, nameWire: Buffer, qtype: number, qclass: number, dnssecOk: boolean, checkingDisabled: boolean,
): Buffer {
  const out = Buffer.alloc(HEADER_SIZE + nameWire.length + 4 + OPT_SIZE);
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(FLAG_RD | (checkingDisabled ? FLAG_CD : 0), 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(1, 10);
  let p = HEADER_SIZE + foldCopy(nameWire, out, HEADER_SIZE);
  p = out.writeUInt16BE(qtype, p);
  p = out.writeUInt16BE(qclass, p);
  writeOpt(out, p, 0, dnssecOk);
  return out;
}

/** Copies wire-name bytes lower-casing ASCII letters; returns the length copied. */
function foldCopy(src: Uint8Array, dst: Buffer, at: number): number {
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    dst[at + i] = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
  }
  return src.length;
}

/** Writes an OPT with our UDP size at `p`; returns the offset after it. */
function writeOpt(out: Buffer, p: number, extRcodeHi: number, dnssecOk: boolean): number {
  out[p] = 0;
  out.writeUInt16BE(TYPE_OPT, p + 1);
  out.writeUInt16BE(EDNS_ADVERTISED_UDP, p + 3);
  out[p + 5] = extRcodeHi;
  out[p + 6] = 0; // EDNS version 0
  out.writeUInt16BE(dnssecOk ? EDNS_DO : 0, p + 7);
  out.writeUInt16BE(0, p + 9);
  return p + OPT_SIZE;
}

/** An upstream response, checked and indexed, with its OPT (and anything after it) cut off. */
export interface IndexedResponse {
  /** Header, question, answer, authority, additional up to the OPT; ARCOUNT adjusted. */
  msg: Buffer;
  rcode: number;
  /** Upper 8 bits of the extended rcode from the upstream OPT (RFC 6891). */
  extRcodeHi: number;
  truncated: boolean;
  ancount: number;
  /** Offset of each record's TTL, and its TTL as received. */
  ttlOffsets: number[];
  ttls: number[];
  /** Index into ttlOffsets of the first SOA in authority, or -1. */
  soaIndex: number;
  /** RFC 2308 §5: min(SOA TTL, SOA MINIMUM), or -1 without an SOA in authority. */
  negativeTtl: number;
}

/** Compares the wire question at a[12..] with our query's, letters case-insensitively. */
function sameQuestion(resp: Buffer, sent: Buffer, sentEnd: number): boolean {
  if (resp.length < sentEnd) return false;
  for (let i = HEADER_SIZE; i < sentEnd; i++) {
    let a = resp[i]!;
    let b = sent[i]!;
    if (a >= 0x41 && a <= 0x5a) a += 0x20;
    if (b >= 0x41 && b <= 0x5a) b += 0x20;
    if (a !== b) return false;
  }
  return true;
}

/** Offset just past the question of a query we built (no pointers in it). */
export function questionEndOf(sent: Buffer): number {
  return skipName(sent, HEADER_SIZE, sent.length) + 4;
}

/**
 * True when `resp` answers `sent`: same ID, QR set, opcode QUERY, one question equal to ours. Anything
 * else is not our answer and is ignored (a spoofing attempt, or a late answer to an earlier query).
 */
export function matchesQuery(resp: Buffer, sent: Buffer, sentQuestionEnd: number): boolean {
  if (resp.length < HEADER_SIZE) return false;
  if (resp.readUInt16BE(0) !== sent.readUInt16BE(0)) return false;
  const flags = resp.readUInt16BE(2);
  if ((flags & FLAG_QR) === 0 || (flags & OPCODE_MASK) !== 0) return false;
  if (resp.readUInt16BE(4) !== 1) return false;
  return sameQuestion(resp, sent, sentQuestionEnd);
}

/** Walks every record; null when the message is malformed. Call after matchesQuery. */
export function indexResponse(resp: Buffer, questionEnd: number): IndexedResponse | null {
  const an = resp.readUInt16BE(6);
  const ns = resp.readUInt16BE(8);
  const ar = resp.readUInt16BE(10);
  const truncated = (resp.readUInt16BE(2) & FLAG_TC) !== 0;
  const ttlOffsets: number[] = [];
  const ttls: number[] = [];
  let soaIndex = -1;
  let negativeTtl = -1;
  let extRcodeHi = 0;
  let cut = -1; // where the OPT starts: everything from there on is dropped
  let kept = 0; // additional records kept (before the OPT)
  let p = questionEnd;
  const total = an + ns + ar;
  for (let i = 0; i < total; i++) {
    const nameEnd = skipName(resp, p, resp.length);
    if (nameEnd < 0 || nameEnd + 10 > resp.length || !nameValid(resp, p, resp.length)) {
      // A truncated answer may stop mid-record; what came before is still usable for the TC retry.
      if (truncated) break;
      return null;
    }
    const type = resp.readUInt16BE(nameEnd);
    const rdlen = resp.readUInt16BE(nameEnd + 8);
    const end = nameEnd + 10 + rdlen;
    if (end > resp.length) {
      if (truncated) break;
      return null;
    }
    if (type === TYPE_OPT) {
      if (i < an + ns || cut >= 0) return null; // OPT only in additional, once (RFC 6891 §6.1.1)
      extRcodeHi = resp[nameEnd + 4]!;
      cut = p;
    } else if (cut < 0) {
      const ttl = resp.readUInt32BE(nameEnd + 4);
      // RFC 2181 §8: a TTL with the top bit set is treated as zero.
      ttls.push(ttl > 0x7fffffff ? 0 : ttl);
      ttlOffsets.push(nameEnd + 4);
      if (i >= an) {
        if (i >= an + ns) kept++;
        else if (type === TYPE_SOA && soaIndex < 0 && rdlen >= 22) {
          soaIndex = ttls.length - 1;
          const minimum = resp.readUInt32BE(end - 4);
          negativeTtl = Math.min(ttls[soaIndex]!, minimum > 0x7fffffff ? 0 : minimum);
        }
      }
    }
    p = end;
  }
  const msgEnd = cut >= 0 ? cut : p;
  const msg = Buffer.from(resp.subarray(0, msgEnd));
  if (cut >= 0 || truncated) msg.writeUInt16BE(kept, 10);
  if (truncated && ttls.length < an + ns) {
    // Cut mid-section: keep only whole records; counts no longer matter, the message is never cached.
    msg.writeUInt16BE(0, 6);
    msg.writeUInt16BE(0, 8);
    msg.writeUInt16BE(0, 10);
  }
  return {
    msg, rcode: resp[3]! & RCODE_MASK, extRcodeHi, truncated, ancount: an, ttlOffsets, ttls, soaIndex, negativeTtl,
  };
}

/**
 * The client's response from an upstream message (header + question + records, no OPT): the client's ID,
 * RD, CD and spelling of the name; RA set, AA clear; AD only when the client asked for DNSSEC data
 * (RFC 6840 §5.8); TTLs from `ttls`; our OPT when the client sent one; minimal TC when the UDP limit is
 * exceeded. `extRcodeHi` needs an OPT: without one the client gets SERVFAIL.
 */
export function writeClientResponse(
  upstreamMsg: Buffer, ttlOffsets: readonly number[], ttls: readonly number[], extRcodeHi: number,
  query: Buffer, q: ClientQuestion, udpLimit: number,
): Buffer {
  const optLen = q.hasOpt ? OPT_SIZE : 0;
  const out = Buffer.allocUnsafe(upstreamMsg.length + optLen);
  upstreamMsg.copy(out, 0);
  out.writeUInt16BE(q.id, 0);
  const up = upstreamMsg.readUInt16BE(2);
  const wantsAd = q.dnssecOk || (q.flags & FLAG_AD) !== 0;
  let rcode = up & RCODE_MASK;
  if (extRcodeHi !== 0 && !q.hasOpt) rcode = 2; // SERVFAIL: the extended rcode cannot be expressed
  out.writeUInt16BE(
    FLAG_QR | FLAG_RA | (q.flags & (FLAG_RD | FLAG_CD)) | (wantsAd ? up & FLAG_AD : 0) | (up & FLAG_TC) | rcode, 2);
  // Same name length as ours, so every compression pointer in the records stays valid.
  query.copy(out, HEADER_SIZE, HEADER_SIZE, HEADER_SIZE + q.nameLength);
  for (let i = 0; i < ttlOffsets.length; i++) out.writeUInt32BE(ttls[i]!, ttlOffsets[i]!);
  let n = upstreamMsg.length;
  if (q.hasOpt) {
    n = writeOpt(out, n, extRcodeHi, q.dnssecOk);
    out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  }
  if (n > udpLimit) return truncatedResponse(out, q);
  return out;
}

/** Header + question (+ OPT) with TC set and no records, so the client retries over TCP (RFC 7766). */
function truncatedResponse(full: Buffer, q: ClientQuestion): Buffer {
  const qEnd = HEADER_SIZE + q.nameLength + 4;
  const out = Buffer.allocUnsafe(qEnd + (q.hasOpt ? OPT_SIZE : 0));
  full.copy(out, 0, 0, qEnd);
  out.writeUInt16BE(full.readUInt16BE(2) | FLAG_TC, 2);
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(q.hasOpt ? 1 : 0, 10);
  if (q.hasOpt) writeOpt(out, qEnd, 0, q.dnssecOk);
  return out;
}

/** One locally made answer record: the owner is the question name (a pointer to offset 12). */
export interface LocalRecord {
  type: number;
  ttl: number;
  rdata: Buffer;
}

/**
 * A response made here (REFUSED, SERVFAIL, NXDOMAIN, NODATA, --address answers): the client's header bits,
 * its question, `records` in the answer section, our OPT when the client sent one.
 */
export function localResponse(query: Buffer, q: ClientQuestion, rcode: number, records: readonly LocalRecord[] = []): Buffer {
  let size = HEADER_SIZE + q.nameLength + 4 + (q.hasOpt ? OPT_SIZE : 0);
  for (const r of records) size += 12 + r.rdata.length;
  const out = Buffer.alloc(size);
  out.writeUInt16BE(q.id, 0);
  out.writeUInt16BE(FLAG_QR | FLAG_RA | (q.flags & (FLAG_RD | FLAG_CD)) | rcode, 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(records.length, 6);
  out.writeUInt16BE(q.hasOpt ? 1 : 0, 10);
  let p = HEADER_SIZE + query.copy(out, HEADER_SIZE, HEADER_SIZE, HEADER_SIZE + q.nameLength + 4);
  for (const r of records) {
    p = out.writeUInt16BE(0xc000 | HEADER_SIZE, p);
    p = out.writeUInt16BE(r.type, p);
    p = out.writeUInt16BE(CLASS_IN, p);
    p = out.writeUInt32BE(r.ttl, p);
    p = out.writeUInt16BE(r.rdata.length, p);
    p += r.rdata.copy(out, p);
  }
  if (q.hasOpt) writeOpt(out, p, 0, q.dnssecOk);
  return out;
}

/** True for the address types a `--address` rule answers. */
export function isAddressType(qtype: number): boolean {
  return qtype === TYPE_A || qtype === TYPE_AAAA;
}
