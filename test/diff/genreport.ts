// The probes of ISC's EDNS compliance checker (genreport, DNS-Compliance-Testing) in its `-f` grouping
// plus the two "common" ones, and its verdict rules, written from its documentation and source so the
// test needs no genreport binary (Debian does not ship one). Each probe is one query with particular
// header flags, EDNS version, flags and options; the verdict is the list of tags genreport would print
// (empty when it would print "ok"). Used by genreport.test.ts against kdns and BIND 9 side by side.

import { query } from '../helpers/dns-client.js';

export interface Probe {
  name: string;
  /** EDNS UDP size; 0 sends no OPT. */
  udp: number;
  /** EDNS flags word (DO = 0x8000). */
  ednsFlags: number;
  version: number;
  tcp: boolean;
  /** Take a truncated answer as it is (genreport's "ignore"): no TCP retry, must fit the UDP size. */
  ignoreTc: boolean;
  /** EDNS options (code, length, data...). */
  options: Buffer;
  header: { aa?: boolean; tc?: boolean; rd?: boolean; ra?: boolean; z?: boolean; ad?: boolean; cd?: boolean };
  opcode: number;
  qtype: number;
  /** The probe carries a client cookie, so BADCOOKIE is an acceptable answer. */
  cookie: boolean;
}

const SOA = 6, DNSKEY = 48;
const DO = 0x8000;
const opt = (code: number, data: number[] = []): number[] => [code >> 8, code & 0xff, data.length >> 8, data.length & 0xff, ...data];
const NSID = opt(3);
const ECS = opt(8, [0, 1, 0, 0]); // family IPv4, source prefix 0
const EXPIRE = opt(9);
const COOKIE = opt(10, [1, 2, 3, 4, 5, 6, 7, 8]);
const UNKNOWN_100 = opt(100);

function probe(name: string, p: Partial<Probe>): Probe {
  return {
    name, udp: 0, ednsFlags: 0, version: 0, tcp: false, ignoreTc: false, options: Buffer.alloc(0), header: {}, opcode: 0,
    qtype: SOA, cookie: false, ...p,
  };
}

/** An EDNS probe: version 0, size 4096 unless told otherwise. */
const edns = (name: string, p: Partial<Probe> & { opts?: number[] } = {}): Probe => {
  const { opts = [], ...rest } = p;
  return probe(name, { udp: 4096, ...rest, options: Buffer.from(opts) });
};

/** genreport's plain-DNS (FULL), EDNS and common probes: 32 in all. */
export const PROBES: readonly Probe[] = [
  probe('dns', {}),
  probe('aa', { header: { aa: true } }),
  probe('ad', { header: { ad: true } }),
  probe('cd', { header: { cd: true } }),
  probe('ra', { header: { ra: true } }),
  probe('rd', { header: { rd: true } }),
  probe('tc', { header: { tc: true } }),
  probe('zflag', { header: { z: true } }),
  probe('opcode', { opcode: 15, qtype: 0 }),
  probe('opcodeflg', { opcode: 15, qtype: 0, header: { tc: true, rd: true, ra: true, cd: true, ad: true, aa: true, z: true } }),
  probe('type666', { qtype: 666 }),
  probe('tcp', { tcp: true }),
  edns('edns'),
  edns('edns1', { version: 1 }),
  edns('edns@512', { udp: 512, ignoreTc: true, ednsFlags: DO, qtype: DNSKEY }),
  edns('ednsopt', { opts: UNKNOWN_100 }),
  edns('edns1opt', { version: 1, opts: UNKNOWN_100 }),
  edns('do', { ednsFlags: DO }),
  edns('edns1do', { version: 1, ednsFlags: DO }),
  edns('ednsflags', { ednsFlags: 0x0080 }),
  edns('optlist', { opts: [...NSID, ...ECS, ...EXPIRE, ...COOKIE], cookie: true }),
  edns('ednsnsid', { opts: NSID }),
  edns('ednscookie', { opts: COOKIE, cookie: true }),
  edns('ednsexpire', { opts: EXPIRE }),
  edns('ednssubnet', { opts: ECS }),
  edns('edns1nsid', { version: 1, opts: NSID }),
  edns('edns1cookie', { version: 1, opts: COOKIE, cookie: true }),
  edns('edns1expire', { version: 1, opts: EXPIRE }),
  edns('edns1subnet', { version: 1, opts: ECS }),
  edns('ednstcp', { udp: 512, ednsFlags: DO, tcp: true, qtype: DNSKEY }),
  edns('bind11', { ednsFlags: DO, opts: COOKIE, cookie: true }),
  edns('dig11', { opts: COOKIE, cookie: true, header: { rd: true, ad: true } }),
];

/** The probe's query for `zone` (an absolute name), with message ID `id`. */
export function probeQuery(p: Probe, zone: string, id: number): Buffer {
  const h = p.header;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header[2] = (p.opcode << 3) | (h.aa ? 4 : 0) | (h.tc ? 2 : 0) | (h.rd ? 1 : 0);
  header[3] = (h.ra ? 0x80 : 0) | (h.z ? 0x40 : 0) | (h.ad ? 0x20 : 0) | (h.cd ? 0x10 : 0);
  if (p.opcode !== 0) return header; // genreport sends other opcodes header-only
  header.writeUInt16BE(1, 4);
  const labels = zone.split('.').filter((l) => l !== '');
  const question = Buffer.concat([
    ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])),
    Buffer.from([0, p.qtype >> 8, p.qtype & 0xff, 0, 1]),
  ]);
  if (p.udp === 0) return Buffer.concat([header, question]);
  header.writeUInt16BE(1, 10);
  const rr = Buffer.alloc(11);
  rr.writeUInt16BE(41, 1);
  rr.writeUInt16BE(p.udp, 3);
  rr[6] = p.version;
  rr.writeUInt16BE(p.ednsFlags, 7);
  rr.writeUInt16BE(p.options.length, 9);
  return Buffer.concat([header, question, rr, p.options]);
}

/** Sends the probe as genreport does (UDP, then TCP when truncated unless told to ignore it). */
export async function runProbe(p: Probe, port: number, zone: string, id: number): Promise<Buffer> {
  const packet = probeQuery(p, zone, id);
  const first = await query(port, packet, { tcp: p.tcp, timeoutMs: 2000 });
  const truncated = (first[2]! & 0x02) !== 0;
  if (!p.tcp && truncated && !p.ignoreTc) return query(port, packet, { tcp: true, timeoutMs: 2000 });
  return first;
}

interface Parsed {
  opcode: number;
  rcode: number;
  flags: { aa: boolean; tc: boolean; rd: boolean; ra: boolean; z: boolean; ad: boolean; cd: boolean };
  counts: number[];
  /** OPT TTL field (extended rcode, version, flags), or null without an OPT. */
  optTtl: number | null;
  optionCodes: number[];
  sawApexSoa: boolean;
}

function skipName(b: Buffer, pos: number): { pos: number; name: string } {
  const labels: string[] = [];
  let end = -1;
  for (let hops = 0; hops < 128; hops++) {
    const len = b[pos]!;
    if (len === 0) return { pos: end >= 0 ? end : pos + 1, name: labels.join('.').toLowerCase() };
    if ((len & 0xc0) === 0xc0) {
      if (end < 0) end = pos + 2;
      pos = ((len & 0x3f) << 8) | b[pos + 1]!;
      continue;
    }
    labels.push(b.toString('latin1', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  throw new Error('name loop');
}

function parse(b: Buffer, zone: string): Parsed {
  const counts = [b.readUInt16BE(4), b.readUInt16BE(6), b.readUInt16BE(8), b.readUInt16BE(10)];
  let pos = 12;
  for (let i = 0; i < counts[0]!; i++) pos = skipName(b, pos).pos + 4;
  let optTtl: number | null = null;
  const optionCodes: number[] = [];
  let sawApexSoa = false;
  const apex = zone.replace(/\.$/, '').toLowerCase();
  for (let section = 1; section < 4; section++) {
    for (let i = 0; i < counts[section]!; i++) {
      const owner = skipName(b, pos);
      pos = owner.pos;
      const type = b.readUInt16BE(pos);
      const ttl = b.readUInt32BE(pos + 4);
      const rdlen = b.readUInt16BE(pos + 8);
      pos += 10;
      if (section === 1 && type === SOA && owner.name === apex) sawApexSoa = true;
      if (section === 3 && type === 41) {
        optTtl = ttl;
        for (let o = pos; o + 4 <= pos + rdlen; o += 4 + b.readUInt16BE(o + 2)) optionCodes.push(b.readUInt16BE(o));
      }
      pos += rdlen;
    }
  }
  if (pos !== b.length) throw new Error(`trailing or missing bytes (${pos} of ${b.length})`);
  return {
    opcode: (b[2]! >> 3) & 0xf,
    rcode: (b[3]! & 0xf) + (optTtl === null ? 0 : (optTtl >>> 24) << 4),
    flags: {
      aa: (b[2]! & 4) !== 0, tc: (b[2]! & 2) !== 0, rd: (b[2]! & 1) !== 0,
      ra: (b[3]! & 0x80) !== 0, z: (b[3]! & 0x40) !== 0, ad: (b[3]! & 0x20) !== 0, cd: (b[3]! & 0x10) !== 0,
    },
    counts,
    optTtl,
    optionCodes,
    sawApexSoa,
  };
}

const NOERROR = 0, NOTIMP = 4, BADVERS = 16, BADCOOKIE = 23;

/** The tags genreport would report for this answer to probe `p`; [] means "ok". */
export function verdict(p: Probe, answer: Buffer, zone: string): string[] {
  let r: Parsed;
  try {
    r = parse(answer, zone);
  } catch {
    return ['malformed'];
  }
  const tags: string[] = [];
  const other = p.opcode !== 0;
  if (other) {
    ['question', 'answer', 'authority', 'additional'].forEach((s, i) => {
      if (r.counts[i]! > 0) tags.push(`non-empty-${s}-section`);
    });
  }
  if (r.opcode !== p.opcode) tags.push(`opcode${r.opcode}`);
  if (p.version === 0) {
    const cookieOk = p.cookie && r.rcode === BADCOOKIE;
    if (!other && r.rcode !== NOERROR && !cookieOk) tags.push(`rcode${r.rcode}`);
    if (other && r.rcode !== NOTIMP) tags.push(`rcode${r.rcode}`);
  } else if (r.rcode !== BADVERS) {
    tags.push(`rcode${r.rcode}`);
  }
  if (r.optTtl !== null) {
    const version = (r.optTtl >>> 16) & 0xff;
    if (version !== 0) tags.push('version-not-zero');
    if ((version < p.version && r.rcode !== BADVERS) || (version >= p.version && r.rcode === BADVERS)) tags.push('badversion');
    if ((r.optTtl & 0x7fff) !== 0) tags.push('mbz');
    if ((p.ednsFlags & DO) !== 0 && (r.optTtl & DO) === 0) tags.push('nodo');
    if (r.optionCodes.includes(100)) tags.push('echoed');
  }
  if (r.optTtl === null && p.udp !== 0) tags.push('noopt');
  if (r.optTtl !== null && p.udp === 0) tags.push('opt');
  if (p.qtype === SOA && p.version === 0 && !p.ignoreTc && !r.sawApexSoa && r.rcode === NOERROR) tags.push('nosoa');
  if (p.qtype === SOA && r.sawApexSoa && (p.version !== 0 || r.rcode !== NOERROR)) tags.push('soa');
  const f = r.flags, h = p.header;
  // Every flag but TC belongs to QUERY: an answer to another opcode carries none of them.
  if (!f.aa && p.version === 0 && r.rcode === NOERROR && !other) tags.push('noaa');
  if (f.aa && other) tags.push('aa');
  if (f.ra && other) tags.push('ra');
  if (f.rd && (other || !h.rd)) tags.push('rd');
  if (!f.rd && h.rd && !other) tags.push('nord');
  if (f.ad && (other || (!h.ad && (p.ednsFlags & DO) === 0))) tags.push('ad');
  if (f.cd && (other || !h.cd)) tags.push('cd');
  if (f.z) tags.push('z');
  if (p.ignoreTc && answer.length > (p.udp || 512)) tags.push('toobig');
  return tags;
}
