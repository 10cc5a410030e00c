// Reads an AXFR/IXFR query (RFC 5936 §2.1, RFC 1995 §3): the question, and for IXFR the serial the
// client holds, from the SOA in its authority section. Anything malformed is null (FORMERR).

import { HEADER_SIZE, TYPE_IXFR, TYPE_SOA } from '../dns/constants.js';
import { wireToKey } from '../dns/name.js';
import { wireNameEnd } from '../dns/writer.js';

export interface TransferQuery {
  id: number;
  /** The client's RD bit (echoed, as in any answer). */
  rd: boolean;
  /** The question's name as the client spelled it, uncompressed wire form. */
  qnameWire: Buffer;
  qname: string;
  qtype: number;
  qclass: number;
  /** IXFR: the serial the client holds; null for AXFR (or an IXFR without one, answered as AXFR). */
  clientSerial: number | null;
}

export function parseTransferQuery(msg: Buffer): TransferQuery | null {
  if (msg.length < HEADER_SIZE || msg.readUInt16BE(4) !== 1) return null;
  const nameEnd = wireNameEnd(msg, HEADER_SIZE, msg.length);
  if (nameEnd < 0 || nameEnd + 4 > msg.length) return null;
  let qname: string;
  try {
    qname = wireToKey(msg, HEADER_SIZE).key;
  } catch {
    return null;
  }
  const qtype = msg.readUInt16BE(nameEnd);
  const query: TransferQuery = {
    id: msg.readUInt16BE(0),
    rd: (msg[2]! & 0x01) !== 0,
    qnameWire: Buffer.from(msg.subarray(HEADER_SIZE, nameEnd)),
    qname,
    qtype,
    qclass: msg.readUInt16BE(nameEnd + 2),
    clientSerial: null,
  };
  if (qtype === TYPE_IXFR && msg.readUInt16BE(6) === 0 && msg.readUInt16BE(8) > 0) {
    const serial = authoritySerial(msg, nameEnd + 4);
    if (serial === undefined) return null;
    query.clientSerial = serial;
  }
  return query;
}

/** SERIAL of the SOA record at `pos` (the first authority record); undefined when it is not one. */
function authoritySerial(msg: Buffer, pos: number): number | undefined {
  try {
    const owner = wireToKey(msg, pos);
    const p = owner.end;
    if (p + 10 > msg.length || msg.readUInt16BE(p) !== TYPE_SOA) return undefined;
    const rdEnd = p + 10 + msg.readUInt16BE(p + 8);
    if (rdEnd > msg.length) return undefined;
    const mname = wireToKey(msg, p + 10);
    const rname = wireToKey(msg, mname.end);
    if (rname.end + 20 !== rdEnd) return undefined;
    return msg.readUInt32BE(rname.end);
  } catch {
    return undefined;
  }
}
