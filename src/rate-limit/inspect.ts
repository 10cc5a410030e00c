// Reads what the limiter needs from a response we are about to send: its kind (bind9's response types),
// the name its bucket is keyed by, and where its OPT record lies (a slipped response keeps it). One
// bounds-checked pass over the message; results go to module-level fields, so nothing is allocated.

const HEADER = 12;
const TYPE_NS = 2;
const TYPE_SOA = 6;
const TYPE_OPT = 41;
const MAX_POINTERS = 32;

/** bind9's response types (rrl.c), the first word of a bucket key. */
export const KIND_QUERY = 1; // NOERROR with answer records
export const KIND_REFERRAL = 2; // NOERROR, no answer, NS in authority, not authoritative
export const KIND_NODATA = 3; // NOERROR, no answer
export const KIND_NXDOMAIN = 4;
export const KIND_ERROR = 5; // any other rcode (extended ones included)
export const KIND_QUERIES = 6; // the per-client query limit (not a response type)
export const KIND_NAMES: readonly string[] = ['', 'responses', 'referrals', 'NODATA', 'NXDOMAIN', 'errors', 'queries'];

/** The last inspect()'s findings (valid when it returned true). */
export const seen = {
  kind: 0,
  qtype: 0,
  qclass: 0,
  /** Hash of the name the bucket is keyed by: the qname, the zone (NXDOMAIN) or the delegation (referral). */
  nameHash: 0,
  /** Offset after the question. */
  questionEnd: 0,
  /** The OPT record's [start, end), or -1. */
  optStart: -1,
  optEnd: -1,
};

let cursorEnd = 0;

/** Classifies the response `buf[0..n)`; false when it is not a message we can read (the caller drops it). */
export function inspect(buf: Buffer, n: number): boolean {
  if (n < HEADER) return false;
  cursorEnd = n;
  const qdcount = (buf[4]! << 8) | buf[5]!;
  if (qdcount > 1) return false;
  const ancount = (buf[6]! << 8) | buf[7]!;
  const nscount = (buf[8]! << 8) | buf[9]!;
  const arcount = (buf[10]! << 8) | buf[11]!;
  let rcode = buf[3]! & 0x0f;
  const authoritative = (buf[2]! & 0x04) !== 0;
  let pos = HEADER;
  let qnameHash = 0;
  seen.qtype = 0;
  seen.qclass = 0;
  if (qdcount > 0) {
    qnameHash = hashName(buf, pos);
    pos = skipName(buf, pos);
    if (pos < 0 || pos + 4 > n) return false;
    seen.qtype = (buf[pos]! << 8) | buf[pos + 1]!;
    seen.qclass = (buf[pos + 2]! << 8) | buf[pos + 3]!;
    pos += 4;
  }
  seen.questionEnd = pos;
  seen.optStart = -1;
  seen.optEnd = -1;
  let authorityHash = 0;
  let authorityType = 0;
  const records = ancount + nscount + arcount;
  for (let i = 0; i < records; i++) {
    const start = pos;
    if (i === ancount && nscount > 0) authorityHash = hashName(buf, pos);
    pos = skipName(buf, pos);
    if (pos < 0 || pos + 10 > n) return false;
    const type = (buf[pos]! << 8) | buf[pos + 1]!;
    if (i === ancount && nscount > 0) authorityType = type;
    const end = pos + 10 + ((buf[pos + 8]! << 8) | buf[pos + 9]!);
    if (end > n) return false;
    if (type === TYPE_OPT && i >= ancount + nscount) {
      seen.optStart = start;
      seen.optEnd = end;
      rcode |= buf[pos + 4]! << 4; // extended rcode (BADVERS and up)
    }
    pos = end;
  }
  if (rcode === 3) {
    // bind9 keys NXDOMAIN by the zone, so a flood of random names under one zone shares one bucket.
    seen.kind = KIND_NXDOMAIN;
    seen.nameHash = authorityType === TYPE_SOA ? authorityHash : 0;
  } else if (rcode !== 0) {
    seen.kind = KIND_ERROR;
    seen.nameHash = 0;
  } else if (ancount > 0 || (buf[2]! & 0x02) !== 0) {
    // A truncated NOERROR had records that did not fit: an answer, as bind9 counts it before rendering.
    seen.kind = KIND_QUERY;
    seen.nameHash = qnameHash;
  } else if (authorityType === TYPE_NS && !authoritative) {
    seen.kind = KIND_REFERRAL;
    seen.nameHash = authorityHash;
  } else {
    seen.kind = KIND_NODATA;
    seen.nameHash = qnameHash;
  }
  return true;
}

/** Offset after the name at `pos` (uncompressed labels, then a root or a pointer), or -1. */
function skipName(buf: Buffer, pos: number): number {
  while (pos < cursorEnd) {
    const len = buf[pos]!;
    if (len === 0) return pos + 1;
    if ((len & 0xc0) === 0xc0) return pos + 2 <= cursorEnd ? pos + 2 : -1;
    if (len > 63) return -1;
    pos += 1 + len;
  }
  return -1;
}

/** FNV-1a of the name at `pos`, lower-cased, pointers followed; 0 for a name we cannot read. */
function hashName(buf: Buffer, pos: number): number {
  let h = 0x811c9dc5;
  let hops = 0;
  while (pos < cursorEnd) {
    const len = buf[pos]!;
    if (len === 0) return h >>> 0;
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= cursorEnd || ++hops > MAX_POINTERS) return 0;
      pos = ((len & 0x3f) << 8) | buf[pos + 1]!;
      continue;
    }
    if (len > 63 || pos + 1 + len > cursorEnd) return 0;
    h = Math.imul(h ^ len, 0x01000193);
    for (let i = pos + 1, end = pos + 1 + len; i < end; i++) {
      let c = buf[i]!;
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      h = Math.imul(h ^ c, 0x01000193);
    }
    pos += 1 + len;
  }
  return 0;
}

/**
 * Rewrites the inspected response in place as bind9's slip does: header and question with TC=1 and the
 * rcode kept (the client retries over TCP, which is never limited), plus the OPT when there was one.
 * Returns the new length.
 */
export function truncateInPlace(buf: Buffer): number {
  let n = seen.questionEnd;
  buf[2] = buf[2]! | 0x02;
  buf[6] = 0; buf[7] = 0; buf[8] = 0; buf[9] = 0; buf[10] = 0; buf[11] = 0;
  if (seen.optStart >= 0) {
    buf.copyWithin(n, seen.optStart, seen.optEnd);
    n += seen.optEnd - seen.optStart;
    buf[11] = 1;
  }
  return n;
}
