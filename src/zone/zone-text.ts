// A tiny zone-text reader and record printer for the zone's tests, so cases read like master files.
// Not the RFC 1035 parser (that is sources/zonefile): one record per line, `owner [ttl] TYPE rdata`,
// a blank owner repeats the previous one, `;` starts a comment. `name TYPE0` is the exists-without-data
// mark of the zone-store contract.

import { parseTypeName, typeName, TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_DNAME, TYPE_MX, TYPE_NS, TYPE_PTR,
  TYPE_SOA, TYPE_SRV, TYPE_TXT, CLASS_IN } from '../dns/constants.js';
import { nameToKey, wireToKey } from '../dns/name.js';
import { rdataA, rdataAAAA, rdataMx, rdataName, rdataSoa, rdataSrv, rdataTxt } from '../dns/rdata.js';
import type { Rr, RrSet } from '../dns/types.js';
import { rrsetFromRecords } from './rrset.js';

/** Splits a line into fields, keeping "quoted strings" (with \" escapes) as one field. */
function fields(line: string): string[] {
  return line.match(/"(?:[^"\\]|\\.)*"|[^\s"]+/g) ?? [];
}

function unquote(s: string): string {
  return s.startsWith('"') ? s.slice(1, -1).replace(/\\(.)/g, '$1') : s;
}

function encode(type: number, args: string[], origin: string): Buffer {
  const n = (s: string): string => nameToKey(s, origin);
  switch (type) {
    case TYPE_A: return rdataA(args[0]!);
    case TYPE_AAAA: return rdataAAAA(args[0]!);
    case TYPE_NS: case TYPE_CNAME: case TYPE_PTR: case TYPE_DNAME: return rdataName(n(args[0]!));
    case TYPE_MX: return rdataMx(Number(args[0]), n(args[1]!));
    case TYPE_SRV: return rdataSrv(Number(args[0]), Number(args[1]), Number(args[2]), n(args[3]!));
    case TYPE_TXT: return rdataTxt(args.map(unquote));
    case TYPE_SOA: {
      const [serial, refresh, retry, expire, minimum] = args.slice(2).map(Number) as [number, number, number, number, number];
      return rdataSoa({ mname: n(args[0]!), rname: n(args[1]!), serial, refresh, retry, expire, minimum });
    }
    default: throw new Error(`zone-text: no encoder for ${typeName(type)}`);
  }
}

/** Parses zone text into records (type-0 marks come back as RRsets with no RDATA, separately). */
export function parseRecords(origin: string, text: string, defaultTtl = 3600): { records: Rr[]; marks: string[] } {
  const records: Rr[] = [];
  const marks: string[] = [];
  let owner = origin;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/;.*$/, '');
    if (line.trim() === '') continue;
    const f = fields(line);
    if (!/^\s/.test(line)) owner = nameToKey(f.shift()!, origin);
    let ttl = defaultTtl;
    if (/^\d+$/.test(f[0]!)) ttl = Number(f.shift());
    if (f[0] === 'IN') f.shift();
    const type = parseTypeName(f.shift()!);
    if (type < 0) throw new Error(`zone-text: bad type in '${raw}'`);
    if (type === 0) {
      marks.push(owner);
      continue;
    }
    records.push({ name: owner, type, class: CLASS_IN, ttl, rdata: encode(type, f, origin) });
  }
  return { records, marks };
}

/** Zone text → RRsets ready for Zone.replaceAll. */
export function parseZone(origin: string, text: string, defaultTtl = 3600): RrSet[] {
  const { records, marks } = parseRecords(origin, text, defaultTtl);
  const out = rrsetFromRecords(records);
  for (const name of marks) out.push({ name, type: 0, class: CLASS_IN, ttl: 0, rdatas: [] });
  return out;
}

function formatAAAA(b: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  // RFC 5952: the longest run (≥ 2) of zero groups becomes "::".
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return hex.slice(0, bestStart).join(':') + '::' + hex.slice(bestStart + bestLen).join(':');
}

function formatTxt(b: Buffer): string {
  const parts: string[] = [];
  for (let o = 0; o < b.length;) {
    const len = b[o]!;
    parts.push('"' + b.subarray(o + 1, o + 1 + len).toString('latin1').replace(/["\\]/g, '\\$&') + '"');
    o += 1 + len;
  }
  return parts.join(' ');
}

export function formatRdata(type: number, rdata: Buffer): string {
  switch (type) {
    case TYPE_A: return [...rdata].join('.');
    case TYPE_AAAA: return formatAAAA(rdata);
    case TYPE_NS: case TYPE_CNAME: case TYPE_PTR: case TYPE_DNAME: return wireToKey(rdata, 0).key;
    case TYPE_MX: return `${rdata.readUInt16BE(0)} ${wireToKey(rdata, 2).key}`;
    case TYPE_SRV:
      return `${rdata.readUInt16BE(0)} ${rdata.readUInt16BE(2)} ${rdata.readUInt16BE(4)} ${wireToKey(rdata, 6).key}`;
    case TYPE_TXT: return formatTxt(rdata);
    case TYPE_SOA: {
      const m = wireToKey(rdata, 0);
      const r = wireToKey(rdata, m.end);
      const nums = [0, 4, 8, 12, 16].map((o) => rdata.readUInt32BE(r.end + o));
      return `${m.key} ${r.key} ${nums.join(' ')}`;
    }
    default: return '\\# ' + rdata.length + ' ' + rdata.toString('hex');
  }
}

/** One record as master-file text: `owner ttl TYPE rdata` (class IN implied). */
export function formatRr(rr: Rr): string {
  return `${rr.name} ${rr.ttl} ${typeName(rr.type)} ${formatRdata(rr.type, rr.rdata)}`;
}
