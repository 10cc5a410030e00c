// Reads an RFC 2136 UPDATE message: header, zone section, prerequisites, updates and the additional
// section (where a TSIG must be last). Not the query hot path: it runs a few times a second at most, so
// it favours plain code over speed, but it owns its bytes like every reader of untrusted input here.
// RDATA of the types whose names may be compressed (RFC 3597 §4) is returned uncompressed.

import { HEADER_SIZE, TYPE_CNAME, TYPE_MX, TYPE_NS, TYPE_PTR, TYPE_SOA, TYPE_SRV, TYPE_TSIG } from '../dns/constants.js';
import { keyToWire, wireToKey } from '../dns/name.js';

export interface WireRr {
  /** Owner as a key (lower case, absolute). */
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** Uncompressed RDATA. */
  rdata: Buffer;
  /** RDATA length as sent (0 marks the "no RDATA" forms of class ANY/NONE). */
  rdlength: number;
  /** Where the record starts in the message (the TSIG is cut there for its MAC). */
  start: number;
}

export interface UpdateMessage {
  id: number;
  flags: number;
  zone: { name: string; type: number; class: number };
  prerequisites: WireRr[];
  updates: WireRr[];
  additional: WireRr[];
  /** The TSIG record, when the additional section ends with one. */
  tsig: WireRr | null;
}

/** A message that cannot be read: FORMERR. */
export class UpdateFormatError extends Error {}

export function readUpdate(msg: Buffer): UpdateMessage {
  if (msg.length < HEADER_SIZE) throw new UpdateFormatError('shorter than a header');
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  const [zocount, prcount, upcount, adcount] = [4, 6, 8, 10].map((o) => msg.readUInt16BE(o)) as [number, number, number, number];
  if (zocount !== 1) throw new UpdateFormatError(`expected one zone, got ${zocount}`);
  let pos = HEADER_SIZE;
  const zname = readName(msg, pos);
  pos = zname.end;
  if (pos + 4 > msg.length) throw new UpdateFormatError('zone section runs past the end');
  const zone = { name: zname.key, type: msg.readUInt16BE(pos), class: msg.readUInt16BE(pos + 2) };
  pos += 4;
  const sections: WireRr[][] = [[], [], []];
  [prcount, upcount, adcount].forEach((count, s) => {
    for (let i = 0; i < count; i++) {
      const rr = readRr(msg, pos);
      sections[s]!.push(rr.rr);
      pos = rr.end;
    }
  });
  if (pos !== msg.length) throw new UpdateFormatError('bytes after the last record');
  const additional = sections[2]!;
  const tsigAt = additional.findIndex((rr) => rr.type === TYPE_TSIG);
  if (tsigAt >= 0 && tsigAt !== additional.length - 1) throw new UpdateFormatError('a TSIG record must be the last one');
  const tsig = tsigAt >= 0 ? additional.pop()! : null;
  return { id, flags, zone, prerequisites: sections[0]!, updates: sections[1]!, additional, tsig };
}

function readName(msg: Buffer, pos: number): { key: string; end: number } {
  try {
    return wireToKey(msg, pos);
  } catch (e) {
    throw new UpdateFormatError((e as Error).message);
  }
}

function readRr(msg: Buffer, start: number): { rr: WireRr; end: number } {
  const owner = readName(msg, start);
  let pos = owner.end;
  if (pos + 10 > msg.length) throw new UpdateFormatError('record header runs past the end');
  const type = msg.readUInt16BE(pos);
  const cls = msg.readUInt16BE(pos + 2);
  const ttl = msg.readUInt32BE(pos + 4);
  const rdlength = msg.readUInt16BE(pos + 8);
  pos += 10;
  const end = pos + rdlength;
  if (end > msg.length) throw new UpdateFormatError('RDATA runs past the end');
  const rdata = rdlength === 0 ? Buffer.alloc(0) : uncompressedRdata(msg, type, pos, end);
  return { rr: { name: owner.key, type, class: cls, ttl, rdata, rdlength, start }, end };
}

/** RDATA with every (possibly compressed) embedded name written out in full. */
function uncompressedRdata(msg: Buffer, type: number, pos: number, end: number): Buffer {
  const parts: Buffer[] = [];
  const name = (): void => {
    const n = readName(msg, pos);
    if (n.end > end) throw new UpdateFormatError('a name runs past its RDATA');
    parts.push(keyToWire(n.key));
    pos = n.end;
  };
  const fixed = (size: number): void => {
    if (pos + size > end) throw new UpdateFormatError('RDATA too short');
    parts.push(msg.subarray(pos, pos + size));
    pos += size;
  };
  switch (type) {
    case TYPE_CNAME: case TYPE_NS: case TYPE_PTR: name(); break;
    case TYPE_MX: fixed(2); name(); break;
    case TYPE_SRV: fixed(6); name(); break;
    case TYPE_SOA: name(); name(); fixed(20); break;
    default: fixed(end - pos);
  }
  if (pos !== end) throw new UpdateFormatError('RDATA longer than its fields');
  return Buffer.concat(parts);
}
