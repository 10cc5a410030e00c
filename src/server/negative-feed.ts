// What a copy of the negative answers elsewhere (the native engine's, native/negative.c) needs to answer
// NXDOMAIN and NODATA exactly as the responder would: per zone its negative answer templates, per name
// whether it exists, its types, and whether the answer at or below it is anything but plain data or
// absence (a delegation, a wildcard, names made by rule, local data). The responder sends all of it when a
// mirror is added and after every wholesale invalidation, and the state of each changed name (and its
// parent, whose wildcard child may have come or gone) after every zone change.

import { CLASS_IN, RCODE_NOERROR, RCODE_NXDOMAIN, TYPE_A, TYPE_SOA } from '../dns/constants.js';
import { compileResponse } from '../dns/compile.js';
import { isAtOrBelow, keyToWire, labelCount, labelsOf, parentOf, wildcardOf, wireToKey } from '../dns/name.js';
import type { LookupResult } from '../dns/types.js';
import { pushNegativeSoa, type ZoneReader as Zone, type ZoneSetReader as ZoneSet } from '../zone/index.js';
import type { LocalReader as LocalNames } from './local-names.js';

// Name flags (native/negative.h).
export const NEG_EXISTS = 1;
export const NEG_LOCAL = 2;
export const NEG_BARRIER = 4;
export const NEG_APEX = 8;
export const NEG_TYPES_UNKNOWN = 16;
/** Types sent per name at most; a name with more is sent without types (C then never says NODATA for it). */
const MAX_TYPES = 32;

/** One zone as the C table takes it (negativeZone). */
export interface NegativeZone {
  apex: Buffer;
  /** NXDOMAIN, NXDOMAIN for qtype SOA, NODATA: whole messages for the apex as qname; null: synthesize nothing. */
  templates: [Buffer, Buffer, Buffer] | null;
  /** Wire labels (length byte + bytes) just left of the apex in the SOA's MNAME and RNAME. */
  conflicts: Buffer;
}

/** A batch for a mirror: zones to (re)set, then name records (native/README.md, negativeNames). */
export interface NegativeBatch {
  zones: NegativeZone[];
  names: Buffer;
  count: number;
}

/** Receives negative-answer data (NativeAnswerCache implements it). */
export interface NegativeMirror {
  /** Replaces everything with `batch`. */
  negativeReset(batch: NegativeBatch): void;
  /** Applies `batch` on top of what the mirror has. */
  negativeUpdate(batch: NegativeBatch): void;
}

export class NegativeFeed {
  private readonly zones: ZoneSet;
  private readonly local: LocalNames[];

  constructor(zones: ZoneSet, local: LocalNames[]) {
    this.zones = zones;
    this.local = local;
  }

  /** Every zone and every name that matters. */
  full(): NegativeBatch {
    const out = new RecordWriter();
    const zones = this.zones.zones();
    const specs = zones.map((z) => this.zoneSpec(z));
    for (const zone of zones) {
      // A name of this zone below a child zone's apex is the child's to answer (and the child's to send).
      const children = zones.filter((z) => z !== zone && isAtOrBelow(z.origin, zone.origin));
      for (const name of zone.names()) {
        if (children.length === 0 || this.zones.findZone(name) === zone) this.writeName(out, name, zone);
      }
      if (zone.synthesizedBelow !== null) this.writeName(out, zone.synthesizedBelow, this.zones.findZone(zone.synthesizedBelow));
    }
    for (const local of this.local) for (const name of local.names()) this.writeName(out, name, this.zones.findZone(name));
    return out.batch(specs);
  }

  /** The state of each changed name and its parent, and any zone whose apex changed (its SOA may have). */
  changed(names: Iterable<string>): NegativeBatch {
    const out = new RecordWriter();
    const seen = new Set<string>();
    const specs = new Map<Zone, NegativeZone>();
    for (const name of names) {
      // The SOA lives at the apex, so only a changed apex (not a parent) can change the templates.
      const zone = this.zones.get(name);
      if (zone !== undefined && !specs.has(zone)) specs.set(zone, this.zoneSpec(zone));
      for (const n of [name, parentOf(name)]) {
        if (n === null || seen.has(n)) continue;
        seen.add(n);
        this.writeName(out, n, this.zones.findZone(n));
      }
    }
    return out.batch([...specs.values()]);
  }


  /** The record of `name` as `zone` (the zone that answers it) has it. */
  private writeName(out: RecordWriter, name: string, zone: Zone | undefined): void {
    if (zone === undefined) return; // never tracked: the C walk finds no apex above it
    let flags = 0;
    let types: number[] = [];
    const node = zone.node(name);
    if (node !== undefined) {
      flags |= NEG_EXISTS;
      types = node.rrsets.map((r) => r.type);
    }
    if (name === zone.origin) flags |= NEG_APEX;
    for (const l of this.local) if (l.has(name)) flags |= NEG_LOCAL;
    if (zone.isCut(name) || zone.nodeExists(wildcardOf(name)) || name === zone.synthesizedBelow) flags |= NEG_BARRIER;
    out.add(wireOf(name), flags, types);
  }

  /**
   * A zone that holds (or is above) names a local store has not synced: the responder answers SERVFAIL
   * for those (LocalNames.unsyncedBelow), so such a zone synthesizes nothing until the store has synced.
   */
  private overlapsUnsynced(origin: string): boolean {
    return this.local.some((l) => l.unsyncedBelow.some((r) => isAtOrBelow(origin, r) || isAtOrBelow(r, origin)));
  }

  /** The templates of `zone`, or none when its negative answers are not the plain SOA ones. */
  private zoneSpec(zone: Zone): NegativeZone {
    const apex = keyToWire(zone.origin);
    const soa = zone.soa;
    const usable = soa !== undefined && zone.ready && (zone.synthesizer === null || zone.synthesizedBelow !== null) &&
      !this.overlapsUnsynced(zone.origin);
    if (!usable) return { apex, templates: null, conflicts: Buffer.alloc(0) };
    const negative = (rcode: number, qtype: number): Buffer => {
      const result: LookupResult = { rcode, aa: true, answer: [], authority: [], additional: [] };
      pushNegativeSoa(result.authority, soa, rcode === RCODE_NXDOMAIN && qtype === TYPE_SOA);
      return compileResponse(apex, qtype, CLASS_IN, result);
    };
    const rdata = soa.rdatas[0]!;
    const mname = wireToKey(rdata, 0);
    const rname = wireToKey(rdata, mname.end).key;
    return {
      apex,
      templates: [negative(RCODE_NXDOMAIN, TYPE_A), negative(RCODE_NXDOMAIN, TYPE_SOA), negative(RCODE_NOERROR, TYPE_A)],
      conflicts: Buffer.concat([mname.key, rname].flatMap((n) => labelLeftOf(n, zone.origin))),
    };
  }
}


/** The wire label of `name` just left of `apex` (length byte + bytes), when name is strictly below apex. */
function labelLeftOf(name: string, apex: string): Buffer[] {
  if (name === apex || !isAtOrBelow(name, apex)) return [];
  const labels = labelsOf(name);
  const label = keyToWire(labels[labels.length - labelCount(apex) - 1]! + '.');
  return [label.subarray(0, label.length - 1)];
}

/**
 * keyToWire, without its parse for the common key (no escapes): a rebuild converts every name of every
 * zone, so this is most of its cost. Keys are valid by construction (src/dns/name.ts).
 */
export function wireOf(key: string): Buffer {
  if (key === '.' || key.includes('\\')) return keyToWire(key);
  const out = Buffer.allocUnsafe(key.length + 1);
  let lengthAt = 0;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === 0x2e) {
      out[lengthAt] = i - lengthAt; // the label's bytes sit at lengthAt + 1 .. i
      lengthAt = i + 1;
    } else {
      out[i + 1] = c;
    }
  }
  out[lengthAt] = 0; // the trailing dot leaves lengthAt on the last byte: the root label
  return out;
}

/** Packs name records into one growing buffer: [length][wire name][flags][n][n × 16-bit qtype]. */
class RecordWriter {
  private buf = Buffer.allocUnsafe(4096);
  private used = 0;
  private count = 0;

  add(wire: Buffer, flags: number, types: number[]): void {
    const n = types.length > MAX_TYPES ? 0 : types.length;
    if (n < types.length) flags |= NEG_TYPES_UNKNOWN;
    const size = wire.length + 3 + 2 * n;
    if (this.used + size > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + size));
      this.buf.copy(bigger, 0, 0, this.used);
      this.buf = bigger;
    }
    const b = this.buf;
    let o = this.used;
    b[o++] = wire.length;
    b.set(wire, o);
    o += wire.length;
    b[o++] = flags;
    b[o++] = n;
    for (let i = 0; i < n; i++, o += 2) b.writeUInt16BE(types[i]!, o);
    this.used = o;
    this.count++;
  }

  batch(zones: NegativeZone[]): NegativeBatch {
    return { zones, names: this.buf.subarray(0, this.used), count: this.count };
  }
}
