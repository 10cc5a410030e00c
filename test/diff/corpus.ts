// The query corpus for the differential test: every owner name of the served zones (and the names
// around them: empty non-terminals, targets, names below wildcards, children and siblings that do
// not exist, names outside every zone) crossed with a set of types, with EDNS, RD, case and
// transport varied by a seeded PRNG so a run can be reproduced exactly from its seed.
//
// Zones are read through `named-checkzone -D`, which prints the zone in canonical form (absolute
// names, one record a line): the same parser that loads the zone into the reference server, and
// independent of the kdns parser under test.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { prng } from '../../src/util/prng.js';
export { prng };

export const NAMED_CHECKZONE_BIN = process.env.KDNS_NAMED_CHECKZONE ?? '/usr/bin/named-checkzone';

export interface ZoneSpec {
  file: string;
  origin: string; // absolute, with trailing dot
}

export interface ZoneRecord {
  name: string; // absolute presentation form, as named-checkzone prints it
  ttl: number;
  type: string; // mnemonic or TYPEnnn
  rdata: string;
}

export interface ZoneData {
  origin: string;
  records: ZoneRecord[];
}

export interface Edns {
  udp: number;
  do: boolean;
}

export interface CorpusQuery {
  id: number;
  name: string; // as sent (case preserved), absolute
  type: number;
  rd: boolean;
  edns: Edns | null;
  tcp: boolean;
}

/** Types asked at every name. ANY (RFC 8482 answers differ legitimately) and AXFR are left out. */
export const BASE_TYPES: ReadonlyArray<[string, number]> = [
  ['A', 1], ['AAAA', 28], ['NS', 2], ['SOA', 6], ['CNAME', 5], ['MX', 15], ['TXT', 16],
  ['SRV', 33], ['PTR', 12], ['CAA', 257], ['TYPE65280', 65280], ['DS', 43],
];

const TYPE_CODES: Record<string, number> = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, HINFO: 13, MX: 15, TXT: 16, RP: 17, AFSDB: 18, AAAA: 28,
  LOC: 29, SRV: 33, NAPTR: 35, DNAME: 39, DS: 43, SSHFP: 44, RRSIG: 46, NSEC: 47, DNSKEY: 48,
  NSEC3: 50, NSEC3PARAM: 51, TLSA: 52, CDS: 59, CDNSKEY: 60, SVCB: 64, HTTPS: 65, SPF: 99, URI: 256,
  CAA: 257,
};
const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(TYPE_CODES).map(([k, v]) => [v, k]));

export function typeCode(name: string): number {
  const upper = name.toUpperCase();
  if (TYPE_CODES[upper] !== undefined) return TYPE_CODES[upper];
  const m = /^TYPE(\d+)$/.exec(upper);
  return m ? Number(m[1]) : -1;
}

export function typeText(code: number): string {
  return TYPE_NAMES[code] ?? `TYPE${code}`;
}

export const EDNS_VARIANTS: ReadonlyArray<Edns | null> = [
  null,
  { udp: 512, do: false },
  { udp: 1232, do: false },
  { udp: 4096, do: false },
  { udp: 1232, do: true },
  { udp: 4096, do: true },
];

/** Reads a zone in canonical form via named-checkzone; throws with its message when it fails. */
export function readZone(file: string, origin: string): ZoneData {
  const abs = origin.endsWith('.') ? origin : origin + '.';
  const res = spawnSync(NAMED_CHECKZONE_BIN, ['-i', 'local', '-D', '-o', '-', abs, file], {
    encoding: 'utf8',
    timeout: 30000,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (res.status !== 0) {
    const why = res.error ? res.error.message : `${res.stdout}${res.stderr}`;
    throw new Error(`${NAMED_CHECKZONE_BIN} ${abs} ${file} failed:\n${why}`);
  }
  const records: ZoneRecord[] = [];
  const re = /^(\S+)\s+(\d+)\s+(?:IN|CLASS1)\s+(\S+)\s*(.*)$/;
  for (const line of res.stdout.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    records.push({ name: m[1], ttl: Number(m[2]), type: m[3].toUpperCase(), rdata: m[4].trim() });
  }
  return { origin: abs.toLowerCase(), records };
}

// --- names -----------------------------------------------------------------------------------

/** Splits a presentation name into labels, keeping escapes inside their label. */
export function splitLabels(name: string): string[] {
  if (name === '.' || name === '') return [];
  const labels: string[] = [];
  let cur = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (c === '\\') {
      cur += name.slice(i, i + (/^\d{3}$/.test(name.slice(i + 1, i + 4)) ? 4 : 2));
      i += /^\d{3}$/.test(name.slice(i + 1, i + 4)) ? 3 : 1;
    } else if (c === '.') {
      labels.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  if (cur !== '') labels.push(cur);
  return labels;
}

function joinLabels(labels: string[]): string {
  return labels.length === 0 ? '.' : labels.join('.') + '.';
}

function isSubdomain(name: string, zone: string): boolean {
  const n = name.toLowerCase();
  const z = zone.toLowerCase();
  return z === '.' || n === z || n.endsWith('.' + z);
}

/** The wire form of a presentation name (handles \. and \DDD escapes). */
export function nameToWire(name: string): Buffer {
  const parts: Buffer[] = [];
  for (const label of splitLabels(name)) {
    const bytes: number[] = [];
    for (let i = 0; i < label.length; i++) {
      if (label[i] === '\\') {
        const ddd = label.slice(i + 1, i + 4);
        if (/^\d{3}$/.test(ddd)) {
          bytes.push(Number(ddd));
          i += 3;
        } else {
          bytes.push(label.charCodeAt(i + 1));
          i += 1;
        }
      } else {
        bytes.push(label.charCodeAt(i) & 0xff);
      }
    }
    if (bytes.length === 0 || bytes.length > 63) throw new Error(`bad label in ${name}`);
    parts.push(Buffer.from([bytes.length, ...bytes]));
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

// --- PRNG ------------------------------------------------------------------------------------


function pick<T>(rand: () => number, items: ReadonlyArray<T>): T {
  return items[Math.floor(rand() * items.length)];
}

function mixCase(rand: () => number, name: string): string {
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (c === '\\') {
      // keep escapes intact
      const len = /^\d{3}$/.test(name.slice(i + 1, i + 4)) ? 4 : 2;
      out += name.slice(i, i + len);
      i += len - 1;
    } else {
      out += rand() < 0.5 ? c.toUpperCase() : c.toLowerCase();
    }
  }
  return out;
}

// --- the corpus --------------------------------------------------------------------------------

/** Targets named in RDATA that may themselves be worth asking about. */
function rdataTargets(r: ZoneRecord): string[] {
  const f = r.rdata.split(/\s+/);
  switch (r.type) {
    case 'NS': case 'CNAME': case 'PTR': case 'DNAME': return [f[0]];
    case 'MX': return [f[1]];
    case 'SRV': return [f[3]];
    default: return [];
  }
}

export interface CorpusOptions {
  seed?: number;
  /** Keep a seeded sample of this many queries (default: all). */
  count?: number;
}

interface Target {
  name: string;
  types: number[];
  /** True for RRsets big enough to be worth every EDNS size and TCP. */
  heavy: boolean;
}

/** Builds the corpus for these zones. Deterministic for a given seed and zone contents. */
export function generateCorpus(zones: ZoneData[], opts: CorpusOptions = {}): CorpusQuery[] {
  const seed = opts.seed ?? 1;
  const rand = prng(seed);
  const origins = zones.map((z) => z.origin);
  const inAnyZone = (n: string): boolean => origins.some((o) => isSubdomain(n, o));
  const baseCodes = BASE_TYPES.map(([, c]) => c);

  // name (lower-case) -> { display name, types present, estimated size per type, record count }
  const names = new Map<string, { name: string; types: Set<number> }>();
  const sizes = new Map<string, { bytes: number; count: number; type: string }>();
  const add = (name: string): void => {
    const key = name.toLowerCase();
    if (!names.has(key)) names.set(key, { name, types: new Set() });
  };

  for (const zone of zones) {
    const zoneLabels = splitLabels(zone.origin).length;
    for (const r of zone.records) {
      add(r.name);
      names.get(r.name.toLowerCase())!.types.add(typeCode(r.type));
      const sk = r.name.toLowerCase() + ' ' + r.type;
      const s = sizes.get(sk) ?? { bytes: 0, count: 0, type: r.type };
      s.bytes += 12 + r.rdata.length;
      s.count += 1;
      sizes.set(sk, s);
      // empty non-terminals and every ancestor up to the apex
      const labels = splitLabels(r.name);
      for (let i = 1; labels.length - i >= zoneLabels; i++) add(joinLabels(labels.slice(i)));
      for (const t of rdataTargets(r)) if (t && t !== '.' && inAnyZone(t)) add(t);
    }
  }

  const targets: Target[] = [];
  const extraNames: string[] = [];
  for (const { name, types } of names.values()) {
    const labels = splitLabels(name);
    const want = new Set<number>(baseCodes);
    for (const t of types) if (t !== 255 && t !== 252 && t !== 251) want.add(t);
    let heavy = false;
    for (const t of types) {
      const s = sizes.get(name.toLowerCase() + ' ' + typeText(t)) ?? sizes.get(name.toLowerCase() + ' ' + t);
      if (s && (s.bytes > 300 || (s.count >= 5 && ['NS', 'MX', 'SRV'].includes(s.type)))) heavy = true;
    }
    targets.push({ name, types: [...want], heavy });
    if (labels[0] === '*') {
      // names a wildcard may synthesize for, and names below the wildcard owner itself
      const parent = labels.slice(1);
      extraNames.push(joinLabels(['synth', ...parent]), joinLabels(['a', 'b', ...parent]));
      extraNames.push(joinLabels(['ghost', ...labels]));
    } else {
      // a child and a sibling that do not exist (or are caught by a wildcard)
      extraNames.push(joinLabels([`nx${Math.floor(rand() * 1000)}`, ...labels]));
      if (labels.length > 0) extraNames.push(joinLabels([labels[0] + '-nx', ...labels.slice(1)]));
    }
  }
  for (const origin of origins) {
    const labels = splitLabels(origin);
    if (labels.length > 0) {
      extraNames.push(joinLabels(labels.slice(1))); // the parent of the zone: not served
      extraNames.push(joinLabels(['notserved', ...labels.slice(1)]));
    }
  }
  extraNames.push('.', 'com.', 'example.invalid.', 'www.example.invalid.', 'localhost.');
  const mainTypes = [1, 28, 16, 6, 2, 15];
  for (const n of extraNames) {
    if (names.has(n.toLowerCase())) continue;
    names.set(n.toLowerCase(), { name: n, types: new Set() });
    // a few types are enough for names that do not exist
    targets.push({ name: n, types: [...mainTypes, pick(rand, baseCodes)], heavy: false });
  }

  const queries: CorpusQuery[] = [];
  const mk = (name: string, type: number, edns: Edns | null, tcp: boolean): CorpusQuery => ({
    id: Math.floor(rand() * 65536),
    name: rand() < 0.5 ? mixCase(rand, name) : name.toLowerCase(),
    type,
    rd: rand() < 0.5,
    edns,
    tcp,
  });
  for (const tgt of targets) {
    for (const type of tgt.types) {
      queries.push(mk(tgt.name, type, pick(rand, EDNS_VARIANTS), rand() < 0.15));
    }
    if (tgt.heavy) {
      // every size limit over UDP, plus TCP, for each type actually present here
      const present = names.get(tgt.name.toLowerCase())!.types;
      for (const type of present) {
        for (const edns of EDNS_VARIANTS) queries.push(mk(tgt.name, type, edns, false));
        queries.push(mk(tgt.name, type, pick(rand, EDNS_VARIANTS), true));
      }
    }
  }

  if (opts.count !== undefined && opts.count < queries.length) {
    // seeded Fisher-Yates, then keep the first `count` in their original order
    const idx = queries.map((_, i) => i);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    const keep = idx.slice(0, opts.count).sort((a, b) => a - b);
    return keep.map((i) => queries[i]);
  }
  return queries;
}

/** The query as wire bytes: one question, class IN, optional OPT (version 0, no options). */
export function encodeQuery(q: CorpusQuery): Buffer {
  const qname = nameToWire(q.name);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  header.writeUInt16BE(q.rd ? 0x0100 : 0, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(q.edns ? 1 : 0, 10);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(q.type, 0);
  tail.writeUInt16BE(1, 2);
  const parts = [header, qname, tail];
  if (q.edns) {
    const opt = Buffer.alloc(11);
    opt[0] = 0; // root owner
    opt.writeUInt16BE(41, 1);
    opt.writeUInt16BE(q.edns.udp, 3);
    opt.writeUInt32BE(q.edns.do ? 0x8000 : 0, 5); // ext rcode 0, version 0, DO flag
    opt.writeUInt16BE(0, 9);
    parts.push(opt);
  }
  return Buffer.concat(parts);
}

/** The query as dig arguments, so a difference can be replayed by hand. */
export function queryText(q: CorpusQuery): string {
  const parts = [q.name, typeText(q.type), q.rd ? '+rec' : '+norec'];
  if (q.edns) {
    parts.push(`+bufsize=${q.edns.udp}`);
    if (q.edns.do) parts.push('+dnssec');
  } else {
    parts.push('+noedns');
  }
  parts.push(q.tcp ? '+tcp' : '+notcp');
  return parts.join(' ');
}

/** Parses `FILE@ORIGIN` (ORIGIN defaults to the file's base name without `.zone`); FILE made absolute. */
export function parseZoneArg(arg: string): ZoneSpec {
  const at = arg.lastIndexOf('@');
  let file = arg;
  let origin: string;
  if (at > 0) {
    file = arg.slice(0, at);
    origin = arg.slice(at + 1);
  } else {
    origin = (file.split('/').pop() ?? file).replace(/\.zone$/, '');
  }
  if (!origin.endsWith('.')) origin += '.';
  // absolute: kdns runs with the repository as its working directory
  return { file: path.resolve(file), origin };
}
