// The last step of every answer the responder writes itself: make a compiled answer (patched for the
// client by Responder.finish) fit the client's UDP limit and append our OPT; and the empty
// FORMERR/NOTIMP/BADVERS answers to queries the reader did not accept. Reads the query from the QuerySlot.

import {
  EDNS_DO, FLAG_CD, FLAG_RD, FLAG_TC, HEADER_SIZE, MIN_UDP_PAYLOAD, OPCODE_MASK, RCODE_BADVERS, RCODE_FORMERR,
  RCODE_NOTIMP, TYPE_OPT,
} from '../dns/constants.js';
import { writeEmptyResponse } from '../dns/compile.js';
import { READ_BADVERS, READ_NOTIMP, type QuerySlot } from '../dns/query-reader.js';

const OPT_SIZE = 11;

/** The rcode for a query the reader refused with `status` (READ_NOTIMP, READ_BADVERS, else FORMERR). */
export function errorRcode(status: number): number {
  if (status === READ_NOTIMP) return RCODE_NOTIMP;
  if (status === READ_BADVERS) return RCODE_BADVERS;
  return RCODE_FORMERR;
}

export class ResponseFinisher {
  private readonly slot: QuerySlot;
  private readonly maxUdpPayload: number;

  constructor(slot: QuerySlot, maxUdpPayload: number) {
    this.slot = slot;
    this.maxUdpPayload = maxUdpPayload;
  }

  /**
   * Makes the answer in `out[0..n)`, already patched for this client, fit the client's UDP limit, leaving
   * room for our OPT when the query had one; returns the new length.
   */
  fitUdp(out: Buffer, n: number): number {
    const room = this.udpLimit() - (this.slot.hasOpt ? OPT_SIZE : 0);
    return n > room ? this.fit(out, n, room) : n;
  }

  /**
   * The empty answer with `rcode` (see errorRcode) to a query the reader refused with `status`; returns the
   * length. The client's opcode, and RD and CD for a QUERY; AA off; low 4 bits of the rcode here, the rest
   * in the OPT. RD and CD are QUERY's bits: an answer to an opcode we do not implement echoes neither (as
   * BIND; ISC's genreport fails "opcodeflg" otherwise).
   */
  error(query: Buffer, status: number, rcode: number, out: Buffer): number {
    const slot = this.slot;
    const echoLength = slot.nameLength > 0 && slot.questionEnd > 0 ? slot.nameLength : 0;
    const echoed = status === READ_NOTIMP ? OPCODE_MASK : OPCODE_MASK | FLAG_RD | FLAG_CD;
    let n = writeEmptyResponse(out, query, HEADER_SIZE, echoLength, slot.qtype, slot.qclass, rcode, slot.flags & echoed);
    out.writeUInt16BE(slot.id, 0);
    // An OPT goes back when the query's OPT was understood (BADVERS must carry one, RFC 6891 §7).
    if (slot.hasOpt && (status === READ_BADVERS || status === READ_NOTIMP)) n = this.appendOpt(out, n, rcode >> 4);
    return n;
  }

  /** The client's UDP size limit: its EDNS size clamped to [512, our maximum]; 512 without EDNS. */
  private udpLimit(): number {
    const slot = this.slot;
    return slot.hasOpt ? Math.min(Math.max(slot.udpSize, MIN_UDP_PAYLOAD), this.maxUdpPayload) : MIN_UDP_PAYLOAD;
  }

  /**
   * Makes the message in `out[0..n)` fit in `room` bytes (RFC 2181 §9): additional records are optional,
   * so drop them from the end first, without TC, as bind9 does; if the answer and authority alone do not
   * fit, send header + question with TC=1 and let the client retry over TCP (RFC 7766 §3).
   */
  private fit(out: Buffer, n: number, room: number): number {
    const slot = this.slot;
    let pos = HEADER_SIZE + slot.nameLength + 4;
    const required = out.readUInt16BE(6) + out.readUInt16BE(8);
    for (let i = 0; i < required; i++) pos = skipRecord(out, pos);
    if (pos > room) {
      out[2] = out[2]! | (FLAG_TC >> 8);
      out.writeUInt16BE(0, 6);
      out.writeUInt16BE(0, 8);
      out.writeUInt16BE(0, 10);
      return HEADER_SIZE + slot.nameLength + 4;
    }
    const additional = out.readUInt16BE(10);
    let kept = 0;
    while (kept < additional) {
      const next = skipRecord(out, pos);
      if (next > room) break;
      pos = next;
      kept++;
    }
    out.writeUInt16BE(kept, 10);
    return pos;
  }

  /** Appends our OPT record at `n` and counts it in ARCOUNT. */
  appendOpt(out: Buffer, n: number, extendedRcodeHigh: number): number {
    out[n] = 0; // root owner
    out.writeUInt16BE(TYPE_OPT, n + 1);
    out.writeUInt16BE(this.maxUdpPayload, n + 3);
    out[n + 5] = extendedRcodeHigh;
    out[n + 6] = 0; // version 0
    out.writeUInt16BE(this.slot.ednsFlags & EDNS_DO, n + 7); // echo DO (RFC 3225), clear the rest
    out.writeUInt16BE(0, n + 9);
    out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
    return n + OPT_SIZE;
  }
}

/** Offset after the resource record at `pos` in a message we compiled ourselves (well-formed by construction). */
function skipRecord(buf: Buffer, pos: number): number {
  for (;;) {
    const len = buf[pos]!;
    if (len === 0) { pos += 1; break; }
    if ((len & 0xc0) === 0xc0) { pos += 2; break; }
    pos += 1 + len;
  }
  return pos + 10 + buf.readUInt16BE(pos + 8);
}
