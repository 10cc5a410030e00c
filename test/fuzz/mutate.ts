// Packet material for fuzzing: valid queries built from a small spec, and mutations described as
// plain data (so fast-check can generate and shrink them, and the flood bench can draw them from a
// seeded PRNG). Shared by test/fuzz/packets.test.ts and bench/fuzz-flood.ts.

import { prng } from '../../src/util/prng.js';

export { prng };

export const NAMES = [
  'example.test', 'www.example.test', 'mail.example.test', 'alias.example.test', 'big.example.test',
  'txt.example.test', '_sip._tcp.example.test', 'x.wild.example.test', 'host.sub.example.test',
  'nope.example.test', 'db.hosts.test', '3.2.1.10.in-addr.arpa', 'version.bind', 'id.server',
  'www.example.org', '.',
];
export const TYPES = [1, 2, 5, 6, 12, 15, 16, 28, 33, 41, 43, 46, 64, 65, 251, 252, 255, 257, 0, 65535];
export const CLASSES = [1, 1, 1, 3, 4, 254, 255, 0];

export interface QuerySpec {
  id: number;
  name: number; // index into NAMES
  caseMask: number; // bit i upper-cases character i (mod 32)
  type: number; // index into TYPES
  cls: number; // index into CLASSES
  flags: number; // raw header flags word
  edns: null | { size: number; version: number; flags: number; options: Buffer };
}

/** The wire form of a name (no compression), with letters upper-cased where caseMask says. */
export function nameWire(name: string, caseMask = 0): Buffer {
  if (name === '.' || name === '') return Buffer.from([0]);
  const out: number[] = [];
  let ci = 0;
  for (const label of name.split('.')) {
    out.push(label.length);
    for (const ch of label) {
      let c = ch.charCodeAt(0);
      if (c >= 0x61 && c <= 0x7a && (caseMask >>> (ci % 32)) & 1) c -= 0x20;
      out.push(c);
      ci++;
    }
  }
  out.push(0);
  return Buffer.from(out);
}

export function buildQuery(s: QuerySpec): Buffer {
  const name = nameWire(NAMES[s.name % NAMES.length]!, s.caseMask);
  const len = 12 + name.length + 4 + (s.edns ? 11 + s.edns.options.length : 0);
  const b = Buffer.alloc(len);
  b.writeUInt16BE(s.id & 0xffff, 0);
  b.writeUInt16BE(s.flags & 0xffff, 2);
  b.writeUInt16BE(1, 4);
  b.writeUInt16BE(s.edns ? 1 : 0, 10);
  name.copy(b, 12);
  let o = 12 + name.length;
  b.writeUInt16BE(TYPES[s.type % TYPES.length]!, o);
  b.writeUInt16BE(CLASSES[s.cls % CLASSES.length]!, o + 2);
  o += 4;
  if (s.edns) {
    b[o] = 0;
    b.writeUInt16BE(41, o + 1);
    b.writeUInt16BE(s.edns.size & 0xffff, o + 3);
    b[o + 5] = 0;
    b[o + 6] = s.edns.version & 0xff;
    b.writeUInt16BE(s.edns.flags & 0xffff, o + 7);
    b.writeUInt16BE(s.edns.options.length, o + 9);
    s.edns.options.copy(b, o + 11);
  }
  return b;
}

/**
 * One mutation. `a` and `b` are raw numbers; each kind reads them modulo what it needs, so any
 * pair of integers is a valid mutation (which is what lets fast-check shrink freely).
 */
export type MutationKind =
  | 'flip' // flip bit b%8 of byte a
  | 'set' // byte a := b
  | 'truncate' // keep the first a bytes
  | 'insert' // insert byte b at a
  | 'delete' // delete byte a
  | 'count' // header count field a%4 := b
  | 'label' // the label length byte at the a-th label := b%256
  | 'pointer' // a compression pointer at the name start, to offset b (loops when it points at itself)
  | 'loop' // two pointers pointing at each other in the question
  | 'append' // append b%64+1 bytes of value a
  | 'opcode'; // opcode := a%16, QR := b&1

export const MUTATION_KINDS: readonly MutationKind[] = [
  'flip', 'set', 'truncate', 'insert', 'delete', 'count', 'label', 'pointer', 'loop', 'append', 'opcode',
];

export interface Mutation {
  kind: MutationKind;
  a: number;
  b: number;
}

/** Offsets of the label length bytes of the first question name (uncompressed), at most 64. */
function labelOffsets(p: Buffer): number[] {
  const out: number[] = [];
  let o = 12;
  while (o < p.length && out.length < 64) {
    const len = p[o]!;
    if (len === 0 || len > 63) break;
    out.push(o);
    o += len + 1;
  }
  return out;
}

/** Applies one mutation; never throws, never returns more than 65535 bytes. */
export function mutate(p: Buffer, m: Mutation): Buffer {
  const a = Math.abs(m.a | 0);
  const b = Math.abs(m.b | 0);
  const n = p.length;
  switch (m.kind) {
    case 'flip': {
      if (n === 0) return p;
      const q = Buffer.from(p);
      q[a % n]! ^= 1 << (b % 8);
      return q;
    }
    case 'set': {
      if (n === 0) return p;
      const q = Buffer.from(p);
      q[a % n] = b & 0xff;
      return q;
    }
    case 'truncate':
      return p.subarray(0, a % (n + 1));
    case 'insert': {
      const at = a % (n + 1);
      return Buffer.concat([p.subarray(0, at), Buffer.from([b & 0xff]), p.subarray(at)]);
    }
    case 'delete': {
      if (n === 0) return p;
      const at = a % n;
      return Buffer.concat([p.subarray(0, at), p.subarray(at + 1)]);
    }
    case 'count': {
      if (n < 12) return p;
      const q = Buffer.from(p);
      // Small values most of the time (off by one is the interesting case), sometimes huge.
      const v = b % 4 === 3 ? b & 0xffff : b % 4;
      q.writeUInt16BE(v, 4 + 2 * (a % 4));
      return q;
    }
    case 'label': {
      const offs = labelOffsets(p);
      if (offs.length === 0) return p;
      const q = Buffer.from(p);
      q[offs[a % offs.length]!] = b & 0xff;
      return q;
    }
    case 'pointer': {
      if (n < 14) return p;
      const q = Buffer.from(p);
      const target = b % 4 === 0 ? 12 : b & 0x3fff; // 12: points at itself
      q.writeUInt16BE(0xc000 | target, 12);
      return q;
    }
    case 'loop': {
      if (n < 12) return p;
      // Header, then name = label "a" + pointer to 16, at 16 a pointer back to 12, type, class.
      const q = Buffer.alloc(12 + 6 + 4);
      p.copy(q, 0, 0, 12);
      q.writeUInt16BE(1, 4);
      q.writeUInt16BE(0, 6);
      q.writeUInt16BE(0, 8);
      q.writeUInt16BE(0, 10);
      q[12] = 1;
      q[13] = 0x61;
      q.writeUInt16BE(0xc000 | (a % 2 === 0 ? 16 : 14), 14);
      q.writeUInt16BE(0xc000 | 12, 16);
      q.writeUInt16BE(1, 18);
      q.writeUInt16BE(1, 20);
      return q;
    }
    case 'append': {
      const extra = Buffer.alloc((b % 64) + 1, a & 0xff);
      return n + extra.length > 65535 ? p : Buffer.concat([p, extra]);
    }
    case 'opcode': {
      if (n < 4) return p;
      const q = Buffer.from(p);
      const w = q.readUInt16BE(2);
      q.writeUInt16BE((w & ~0xf800) | ((a % 16) << 11) | ((b & 1) << 15), 2);
      return q;
    }
  }
}

export function mutateAll(p: Buffer, ms: readonly Mutation[]): Buffer {
  let q = p;
  for (const m of ms) q = mutate(q, m);
  return q;
}


/** Draws a query spec from `rand` (same distribution the property test uses, roughly). */
export function randomSpec(rand: () => number, id: number): QuerySpec {
  const r = (k: number): number => Math.floor(rand() * k);
  const hasEdns = rand() < 0.6;
  return {
    id,
    name: r(NAMES.length),
    caseMask: r(0x100000000),
    type: r(TYPES.length),
    cls: r(CLASSES.length),
    flags: rand() < 0.8 ? 0x0100 : r(0x10000),
    edns: hasEdns
      ? {
          size: [0, 1, 511, 512, 1232, 4096, 65535][r(7)]!,
          version: rand() < 0.9 ? 0 : r(256),
          flags: rand() < 0.5 ? 0 : 0x8000,
          options: rand() < 0.8 ? Buffer.alloc(0) : randomOptions(rand),
        }
      : null,
  };
}

function randomOptions(rand: () => number): Buffer {
  const parts: Buffer[] = [];
  const count = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < count; i++) {
    const code = [3, 8, 10, 11, 12, 15, 65001][Math.floor(rand() * 7)]!; // NSID, ECS, COOKIE, keepalive, padding, EDE, private
    const len = Math.floor(rand() * 24);
    const o = Buffer.alloc(4 + len);
    o.writeUInt16BE(code, 0);
    o.writeUInt16BE(rand() < 0.9 ? len : Math.floor(rand() * 300), 2); // sometimes a lying length
    for (let j = 0; j < len; j++) o[4 + j] = Math.floor(rand() * 256);
    parts.push(o);
  }
  return Buffer.concat(parts);
}

export function randomMutation(rand: () => number): Mutation {
  return {
    kind: MUTATION_KINDS[Math.floor(rand() * MUTATION_KINDS.length)]!,
    a: Math.floor(rand() * 0x10000),
    b: Math.floor(rand() * 0x10000),
  };
}

/** One fuzz packet from `rand`: random bytes (20%) or a valid query with 0-4 mutations. */
export function randomPacket(rand: () => number, id: number): Buffer {
  if (rand() < 0.2) {
    const len = Math.floor(rand() * 601);
    const b = Buffer.alloc(len);
    for (let i = 0; i < len; i++) b[i] = Math.floor(rand() * 256);
    return b;
  }
  const base = buildQuery(randomSpec(rand, id));
  const k = Math.floor(rand() * 5);
  let p = base;
  for (let i = 0; i < k; i++) p = mutate(p, randomMutation(rand));
  return p;
}

/** The rcodes a server may send back to any query (BADVERS = 16 travels through the OPT). */
export const ALLOWED_RCODES = new Set([0, 1, 2, 3, 4, 5, 16]);
