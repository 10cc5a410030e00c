// The hostile UDP corpus: datagrams of named categories drawn from a seeded PRNG, written in the format
// bench/loadgen/rawgen.c replays ("KHC1", u32 count, then per record u16 length, u16 nonce offset,
// u8 category, bytes; little-endian). Random-name records carry a nonce offset: rawgen writes 8 hex
// digits there on every send, so a corpus of 250,000 records still asks 10 million different names.
//
// The fuzz category is bench/fuzz-flood.ts's generator (test/fuzz/mutate.ts randomPacket); the others
// aim at one weakness each, against the names of the campaign's server (a cluster zone, a forwarded
// domain, a default upstream).
import { mutate, nameWire, randomPacket, type MutationKind } from '../../test/fuzz/mutate.js';

export interface CorpusNames {
  /** The cluster zone origin, e.g. cluster.local. */
  zone: string;
  /** Names that exist in the zone (NODATA and ANY targets). */
  existing: string[];
  /** Names with big answers (many A records: amplification targets). */
  big: string[];
  /** The conditionally forwarded domain, e.g. ops.cna, and one name it answers. */
  forwarded: string;
  forwardedName: string;
  /** A domain only the default upstream answers, e.g. example.org. */
  defaultDomain: string;
}

/** Category names, in the order rawgen numbers them (index = the category byte). */
export const CATEGORIES = [
  'fuzz', // randomPacket: random bytes (20 %) or a query with 0-4 mutations
  'short-header', // 0-11 bytes
  'bad-header', // qdcount 0 or 2+, random opcode, Z bit, rcode set in a query
  'truncated-name', // a query cut inside its name, or with a label length past the end
  'compression-loop', // pointers to themselves, to each other, forward and out of range
  'bad-opt', // lying option lengths, two OPTs, OPT not at the root, EDNS version 1, payload size 0/65535
  'huge-counts', // a header that promises 65535 records in a small packet
  'qr-set', // responses sent to the server: must never be answered
  'cluster-random', // <nonce>.<ns>.svc.<zone> A/AAAA: NXDOMAIN flood (water torture)
  'cluster-nodata', // existing names, types they do not have
  'forward-random', // <nonce>.<forwarded> A: each one a miss sent to the conditional upstream
  'default-random', // <nonce>.<defaultDomain> A: each one a miss sent to the default upstream (answered)
  'any', // ANY for zone and forwarded names
  'amplification', // EDNS 4096 + DO for the biggest answers
  'oversize', // a valid query followed by 1-4 KiB of junk
] as const;
export type Category = (typeof CATEGORIES)[number];

/** How often each category is drawn (relative weights). */
export const WEIGHTS: Record<Category, number> = {
  fuzz: 25, 'short-header': 3, 'bad-header': 5, 'truncated-name': 5, 'compression-loop': 5, 'bad-opt': 6,
  'huge-counts': 4, 'qr-set': 4, 'cluster-random': 14, 'cluster-nodata': 5, 'forward-random': 8,
  'default-random': 5, any: 4, amplification: 5, oversize: 2,
};

const NONCE = 'xxxxxxxx'; // 8 placeholder characters, replaced by rawgen
const RD = 0x0100;
const T = { A: 1, NS: 2, SOA: 6, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, HTTPS: 65, ANY: 255, CAA: 257 };

export interface Datagram { bytes: Buffer; nonce: number; category: number }

interface QueryOpts { flags?: number; cls?: number; opt?: Buffer | null; extra?: Buffer }

/** An OPT record: root owner, payload size, extended rcode/version, flags, options. */
export function optRecord(size: number, opts: { version?: number; flags?: number; options?: Buffer; owner?: Buffer } = {}): Buffer {
  const owner = opts.owner ?? Buffer.from([0]);
  const options = opts.options ?? Buffer.alloc(0);
  const b = Buffer.alloc(owner.length + 10 + options.length);
  owner.copy(b, 0);
  let o = owner.length;
  b.writeUInt16BE(T.OPT, o);
  b.writeUInt16BE(size & 0xffff, o + 2);
  b[o + 4] = 0;
  b[o + 5] = (opts.version ?? 0) & 0xff;
  b.writeUInt16BE((opts.flags ?? 0) & 0xffff, o + 6);
  b.writeUInt16BE(options.length, o + 8);
  o += 10;
  options.copy(b, o);
  return b;
}

/** One question (no compression), an optional OPT in the additional section, optional trailing bytes. */
export function query(name: string, type: number, o: QueryOpts = {}): Buffer {
  const qname = nameWire(name);
  const opt = o.opt ?? null;
  const extra = o.extra ?? Buffer.alloc(0);
  const b = Buffer.alloc(12 + qname.length + 4 + (opt?.length ?? 0) + extra.length);
  b.writeUInt16BE(o.flags ?? RD, 2);
  b.writeUInt16BE(1, 4);
  b.writeUInt16BE(opt ? 1 : 0, 10);
  qname.copy(b, 12);
  let off = 12 + qname.length;
  b.writeUInt16BE(type, off);
  b.writeUInt16BE(o.cls ?? 1, off + 2);
  off += 4;
  if (opt) off += opt.copy(b, off);
  extra.copy(b, off);
  return b;
}

/** The nonce's offset in a query built by query(): the first label's characters. */
function nonceOffset(b: Buffer): number {
  const at = b.indexOf(NONCE, 12, 'latin1');
  if (at < 0) throw new Error('no nonce placeholder in the query');
  return at;
}

export class CorpusBuilder {
  private readonly r: () => number;
  private readonly n: CorpusNames;
  private readonly table: number[] = []; // category index per weight unit

  constructor(rand: () => number, names: CorpusNames) {
    this.r = rand;
    this.n = names;
    CATEGORIES.forEach((c, i) => { for (let k = 0; k < WEIGHTS[c]; k++) this.table.push(i); });
  }

  private int(k: number): number { return Math.floor(this.r() * k); }
  private pick<X>(xs: readonly X[]): X { return xs[this.int(xs.length)]!; }
  private bytes(len: number): Buffer {
    const b = Buffer.alloc(len);
    for (let i = 0; i < len; i++) b[i] = this.int(256);
    return b;
  }
  private anyName(): string {
    return this.pick([this.pick(this.n.existing), this.n.forwardedName, `nx${this.int(1000)}.${this.n.zone}`, `www.${this.n.defaultDomain}`]);
  }
  private mutated(p: Buffer, kind: MutationKind): Buffer {
    return mutate(p, { kind, a: this.int(0x10000), b: this.int(0x10000) });
  }

  next(): Datagram {
    const category = this.table[this.int(this.table.length)]!;
    const bytes = this.build(CATEGORIES[category]!);
    const nonce = bytes.includes(NONCE, 12, 'latin1') ? nonceOffset(bytes) : 0xffff;
    return { bytes, nonce, category };
  }

  private build(c: Category): Buffer {
    const n = this.n;
    switch (c) {
      case 'fuzz':
        return randomPacket(this.r, 0);
      case 'short-header':
        return this.bytes(this.int(12));
      case 'bad-header': {
        const q = query(this.anyName(), T.A);
        const v = this.int(4);
        if (v === 0) q.writeUInt16BE(0, 4); // no question
        else if (v === 1) q.writeUInt16BE(2 + this.int(3), 4); // more questions than present
        else if (v === 2) q.writeUInt16BE(RD | (this.int(16) << 11) | 0x0040, 2); // any opcode, Z set
        else q.writeUInt16BE(RD | (1 + this.int(15)), 2); // an rcode in a query
        return q;
      }
      case 'truncated-name': {
        const q = query(`${n.forwardedName}`, T.A);
        return this.r() < 0.5 ? q.subarray(0, 13 + this.int(n.forwardedName.length)) : this.mutated(q, 'label');
      }
      case 'compression-loop': {
        const q = query(this.anyName(), T.A);
        return this.mutated(q, this.pick(['pointer', 'loop'] as const));
      }
      case 'bad-opt': {
        const name = this.anyName();
        const v = this.int(6);
        const lying = Buffer.from([0, 10, 0xff, 0xf0, 1, 2, 3, 4]); // COOKIE claiming 65520 bytes
        if (v === 0) return query(name, T.A, { opt: optRecord(1232, { options: lying }) });
        if (v === 1) { // two OPT records
          const q = query(name, T.A, { opt: optRecord(1232), extra: optRecord(4096) });
          q.writeUInt16BE(2, 10);
          return q;
        }
        if (v === 2) return query(name, T.A, { opt: optRecord(1232, { owner: nameWire('x.example') }) });
        if (v === 3) return query(name, T.A, { opt: optRecord(1232, { version: 1 + this.int(255) }) });
        if (v === 4) return query(name, T.A, { opt: optRecord(this.pick([0, 1, 511, 65535]), { flags: 0xffff }) });
        const q = query(name, T.A, { opt: optRecord(1232) }); // the OPT in the answer section
        q.writeUInt16BE(1, 6);
        q.writeUInt16BE(0, 10);
        return q;
      }
      case 'huge-counts': {
        const q = query(this.anyName(), T.A, { opt: this.r() < 0.5 ? optRecord(1232) : null });
        q.writeUInt16BE(0xffff, 4 + 2 * this.int(4));
        return q;
      }
      case 'qr-set': {
        const q = this.r() < 0.5 ? query(this.anyName(), this.pick([T.A, T.ANY, T.TXT])) : randomPacket(this.r, 0);
        if (q.length >= 3) q[2] = q[2]! | 0x80;
        return q;
      }
      case 'cluster-random': {
        const ns = this.pick(['default', 'kube-system', `ns${this.int(50)}`]);
        return query(`${NONCE}.${ns}.svc.${n.zone}`, this.r() < 0.7 ? T.A : T.AAAA, { opt: this.r() < 0.5 ? optRecord(1232) : null });
      }
      case 'cluster-nodata':
        return query(this.pick(n.existing), this.pick([T.MX, T.TXT, T.AAAA, T.CAA, T.HTTPS, 99, 65000]), { opt: this.r() < 0.5 ? optRecord(1232) : null });
      case 'forward-random':
        return query(`${NONCE}.${n.forwarded}`, this.r() < 0.8 ? T.A : T.AAAA, { opt: this.r() < 0.5 ? optRecord(1232) : null });
      case 'default-random':
        return query(`${NONCE}.${n.defaultDomain}`, T.A, { opt: this.r() < 0.5 ? optRecord(1232) : null });
      case 'any':
        return query(this.pick([this.pick(n.existing), n.zone, n.forwardedName, n.forwarded]), T.ANY, { opt: this.r() < 0.5 ? optRecord(4096) : null });
      case 'amplification':
        return query(this.pick([...n.big, n.zone]), this.pick([T.A, T.ANY, T.SRV, T.NS, T.SOA]), { opt: optRecord(4096, { flags: 0x8000 }) });
      case 'oversize':
        return query(this.anyName(), T.A, { extra: this.bytes(1024 + this.int(3072)) });
    }
  }
}

/** The corpus file rawgen reads. */
export function encodeCorpus(items: readonly Datagram[]): Buffer {
  let size = 8;
  for (const d of items) size += 5 + d.bytes.length;
  const out = Buffer.alloc(size);
  out.write('KHC1', 0, 'latin1');
  out.writeUInt32LE(items.length, 4);
  let o = 8;
  for (const d of items) {
    out.writeUInt16LE(d.bytes.length, o);
    out.writeUInt16LE(d.nonce, o + 2);
    out[o + 4] = d.category;
    o += 5;
    o += d.bytes.copy(out, o);
  }
  return out;
}

/** `count` datagrams from `seed`. */
export function buildCorpus(seed: number, count: number, names: CorpusNames, rand: (seed: number) => () => number): Datagram[] {
  const b = new CorpusBuilder(rand(seed), names);
  const out: Datagram[] = [];
  for (let i = 0; i < count; i++) out.push(b.next());
  return out;
}
