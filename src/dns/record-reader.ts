// Reads the records of a response into Rr values (owner as a key, RDATA uncompressed), for the few slow
// paths that must rebuild a message from another one's records (the CNAME chase). Names inside RDATA are
// decompressed for the types RFC 3597 §4 allows to be compressed (RFC 1035's); other RDATA is copied.

import { TYPE_CNAME, TYPE_MX, TYPE_NS, TYPE_PTR, TYPE_SOA } from './constants.js';
import { keyToWire, NameError, wireToKey } from './name.js';
import type { Rr } from './types.js';

/** Offset just past the question section of a message with `qdcount` questions. */
export function skipQuestions(msg: Buffer, qdcount: number): number {
  let p = 12;
  for (let i = 0; i < qdcount; i++) p = wireToKey(msg, p).end + 4;
  if (p > msg.length) throw new NameError('question runs past the end of the message');
  return p;
}

/** `count` records from `pos`; `end` is the offset after them. Throws NameError on a malformed message. */
export function readRecords(msg: Buffer, pos: number, count: number): { records: Rr[]; end: number } {
  const records: Rr[] = [];
  let p = pos;
  for (let i = 0; i < count; i++) {
    const owner = wireToKey(msg, p);
    p = owner.end;
    if (p + 10 > msg.length) throw new NameError('record runs past the end of the message');
    const type = msg.readUInt16BE(p);
    const rdStart = p + 10;
    const rdEnd = rdStart + msg.readUInt16BE(p + 8);
    if (rdEnd > msg.length) throw new NameError('RDATA runs past the end of the message');
    records.push({ name: owner.key, type, class: msg.readUInt16BE(p + 2), ttl: msg.readUInt32BE(p + 4), rdata: rdataOf(msg, type, rdStart, rdEnd) });
    p = rdEnd;
  }
  return { records, end: p };
}

function rdataOf(msg: Buffer, type: number, start: number, end: number): Buffer {
  switch (type) {
    case TYPE_NS: case TYPE_CNAME: case TYPE_PTR:
      return keyToWire(wireToKey(msg, start).key);
    case TYPE_MX: {
      const exchange = keyToWire(wireToKey(msg, start + 2).key);
      return Buffer.concat([msg.subarray(start, start + 2), exchange]);
    }
    case TYPE_SOA: {
      const mname = wireToKey(msg, start);
      const rname = wireToKey(msg, mname.end);
      if (rname.end + 20 > end) throw new NameError('SOA RDATA too short');
      return Buffer.concat([keyToWire(mname.key), keyToWire(rname.key), msg.subarray(rname.end, rname.end + 20)]);
    }
    default:
      return Buffer.from(msg.subarray(start, end));
  }
}
