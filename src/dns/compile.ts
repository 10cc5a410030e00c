// The answer compiler: turns a LookupResult into the complete response bytes the hot path copies.
// Runs when the zone changes, not per query.
//
// The compiled message is a template. The responder copies it, patches ID, RD and CD, appends its own
// OPT, and copies the client's qname bytes over offset 12 so the client sees its own spelling (DNS
// 0x20 case randomisation relies on that echo). For the echo to reach every occurrence of the qname,
// the question is written first and uncompressed, so any later name equal to the qname (or ending in
// one of its suffixes) becomes a pointer into offset 12 instead of a copy.

import {
  FLAG_AA,
  FLAG_QR,
  FLAG_TC,
  HEADER_SIZE,
  RCODE_MASK,
} from './constants.js';
import type { LookupResult, Rr } from './types.js';
import { MessageWriter, wireNameEnd } from './writer.js';

// One writer per thread, reused: compiling is synchronous, so nobody else can be using it.
const writer = new MessageWriter();

/**
 * The full response for (qname, qtype, qclass) with ID 0 and no OPT. `qnameLower` holds the lower-case
 * wire qname at offset 0 (it may be longer than the name, e.g. a QuerySlot's lowerName).
 *
 * When the message would exceed 65535 bytes, additional records are dropped first (whole RRsets, from
 * the end), then the authority section; only an answer section that cannot fit sets TC.
 */
export function compileResponse(qnameLower: Buffer, qtype: number, qclass: number, result: LookupResult): Buffer {
  if (wireNameEnd(qnameLower, 0, qnameLower.length) < 0) throw new RangeError('compileResponse: qname is not a wire name');
  const w = writer;
  w.reset();
  w.writeQuestion(qnameLower, 0, qtype, qclass);

  let truncated = false;
  const ancount = writeSection(w, result.answer);
  if (ancount < result.answer.length) truncated = true;

  let nscount = 0;
  let arcount = 0;
  if (!truncated) {
    // The authority section goes in whole or not at all: half an NS set or a lone NSEC misleads.
    const m = w.mark();
    nscount = writeSection(w, result.authority);
    if (nscount < result.authority.length) {
      w.rollback(m);
      nscount = 0;
    } else {
      // Additional data is a courtesy (glue, SRV targets): keep what fits, whole RRsets only.
      arcount = writeSection(w, result.additional);
    }
  }

  let flags = FLAG_QR | (result.rcode & RCODE_MASK);
  if (result.aa) flags |= FLAG_AA;
  if (truncated) flags |= FLAG_TC;
  w.writeHeader(0, flags, 1, ancount, nscount, arcount);
  return w.toBuffer();
}

/**
 * Writes rrs in order until one does not fit; then takes back the partly written RRset (records that
 * share name, type and class with their neighbours) and returns how many records remain written.
 */
function writeSection(w: MessageWriter, rrs: Rr[]): number {
  let setStart = 0;
  let setMark = w.mark();
  for (let i = 0; i < rrs.length; i++) {
    const rr = rrs[i]!;
    if (i === 0 || !sameRrSet(rr, rrs[i - 1]!)) {
      setStart = i;
      setMark = w.mark();
    }
    if (!w.writeRr(rr)) {
      w.rollback(setMark);
      return setStart;
    }
  }
  return rrs.length;
}

function sameRrSet(a: Rr, b: Rr): boolean {
  return a.type === b.type && a.class === b.class && a.name === b.name;
}

/** Size of a header + question response for a qname of `qnameLength` wire bytes (0 = no question). */
export function emptyResponseSize(qnameLength: number): number {
  return qnameLength > 0 ? HEADER_SIZE + qnameLength + 4 : HEADER_SIZE;
}

/**
 * Writes a header + question response (errors, REFUSED, NOTIMP...) into `out` at offset 0 and returns
 * its length. Allocates nothing, so the responder may use it per query. With qnameLength 0 (the
 * question did not parse) QDCOUNT is 0 and only the header is written. Only the low 4 bits of `rcode`
 * fit the header; the rest (BADVERS) travels in the OPT the responder appends. `extraFlags` is OR-ed
 * into the flags word (AA, RD, CD...). The ID is 0.
 */
export function writeEmptyResponse(
  out: Buffer,
  qname: Buffer,
  qnameOffset: number,
  qnameLength: number,
  qtype: number,
  qclass: number,
  rcode: number,
  extraFlags: number,
): number {
  const size = emptyResponseSize(qnameLength);
  if (out.length < size) throw new RangeError('writeEmptyResponse: output buffer too small');
  out[0] = 0;
  out[1] = 0;
  const flags = FLAG_QR | (rcode & RCODE_MASK) | (extraFlags & ~RCODE_MASK & 0xffff);
  out[2] = (flags >>> 8) & 0xff;
  out[3] = flags & 0xff;
  out[4] = 0;
  out[5] = qnameLength > 0 ? 1 : 0;
  for (let i = 6; i < HEADER_SIZE; i++) out[i] = 0;
  if (qnameLength === 0) return size;
  qname.copy(out, HEADER_SIZE, qnameOffset, qnameOffset + qnameLength);
  let o = HEADER_SIZE + qnameLength;
  out[o++] = (qtype >>> 8) & 0xff;
  out[o++] = qtype & 0xff;
  out[o++] = (qclass >>> 8) & 0xff;
  out[o++] = qclass & 0xff;
  return size;
}

/** Allocating form of writeEmptyResponse, for precompiling (e.g. a REFUSED template kept per zone). */
export function compileEmptyResponse(
  qnameLower: Buffer,
  qnameLength: number,
  qtype: number,
  qclass: number,
  rcode: number,
  aa = false,
): Buffer {
  const out = Buffer.alloc(emptyResponseSize(qnameLength));
  writeEmptyResponse(out, qnameLower, 0, qnameLength, qtype, qclass, rcode, aa ? FLAG_AA : 0);
  return out;
}
