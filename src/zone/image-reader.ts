// Reading the zone image (image.ts) from any thread: one hash probe per name, RRsets decoded on demand
// as Buffer views into the shared heap (records never change once written, so a view stays valid). Used
// by workers on the slow path only: answers already compiled come from the answer table.

import { TYPE_NS, TYPE_SOA } from '../dns/constants.js';
import type { RrSet } from '../dns/types.js';
import {
  encodeName, hashName, MAX_KEY, nameAt, SLOT_HASH, SLOT_INTS, SLOT_NAME, SLOT_STATE, SLOT_ZONE, STATE_CUTS, STATE_MARKED,
  type ZoneImage,
} from './image.js';
import type { NodeView, Synthesizer, ZoneReader } from './reader.js';

export class ZoneImageReader {
  readonly image: ZoneImage;
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readonly heap: Buffer;
  private readonly scratch = new Uint8Array(MAX_KEY);

  constructor(image: ZoneImage) {
    this.image = image;
    this.slots = new Int32Array(image.table);
    this.mask = this.slots.length / SLOT_INTS - 1;
    this.i32 = new Int32Array(image.heap);
    this.u8 = new Uint8Array(image.heap);
    this.heap = Buffer.from(image.heap);
  }

  /** The current state record of `name` in zone `zoneId`; 0 when the name does not exist there. */
  state(zoneId: number, name: string): number {
    const length = encodeName(name, this.scratch);
    if (length < 0) return 0;
    const hash = hashName(zoneId, this.scratch, length) | 0;
    for (let i = hash & this.mask; ; i = (i + 1) & this.mask) {
      const base = i * SLOT_INTS;
      const nameRef = Atomics.load(this.slots, base + SLOT_NAME); // publishes zone id and hash with it
      if (nameRef === 0) return 0;
      if (this.slots[base + SLOT_HASH] === hash && this.slots[base + SLOT_ZONE] === zoneId && this.sameName(nameRef, length)) {
        return Atomics.load(this.slots, base + SLOT_STATE);
      }
    }
  }

  marked(state: number): boolean {
    return (this.i32[state >> 2]! & STATE_MARKED) !== 0;
  }

  /** On a zone apex's state: the zone has a delegation below the apex (image.ts, STATE_CUTS). */
  cuts(state: number): boolean {
    return (this.i32[state >> 2]! & STATE_CUTS) !== 0;
  }

  hasType(state: number, type: number): boolean {
    const count = this.i32[(state >> 2) + 1]!;
    for (let i = 0; i < count; i++) if (this.i32[this.i32[(state >> 2) + 2 + i]! >> 2] === type) return true;
    return false;
  }

  /** The RRsets of a state, owned by `owner`; `type` ≥ 0 decodes only that type. */
  rrsets(state: number, owner: string, type = -1): RrSet[] {
    const count = this.i32[(state >> 2) + 1]!;
    const out: RrSet[] = [];
    for (let i = 0; i < count; i++) {
      const ref = this.i32[(state >> 2) + 2 + i]!;
      if (type < 0 || this.i32[ref >> 2] === type) out.push(this.rrsetAt(ref, owner));
    }
    return out;
  }

  /**
   * Every existing name of zone `zoneId`, by a scan of the table (full rebuilds of negative mirrors only).
   * Lazily: a zone of 10^5 names as one array would be promoted to the old generation and linger in every
   * worker; one name at a time stays young garbage. Names published during the scan may or may not appear.
   */
  *names(zoneId: number): Generator<string> {
    for (let base = 0; base < this.slots.length; base += SLOT_INTS) {
      const nameRef = Atomics.load(this.slots, base + SLOT_NAME);
      if (nameRef === 0 || this.slots[base + SLOT_ZONE] !== zoneId || Atomics.load(this.slots, base + SLOT_STATE) === 0) continue;
      yield this.heap.toString('latin1', nameRef + 4, nameRef + 4 + this.i32[nameRef >> 2]!);
    }
  }

  private sameName(nameRef: number, length: number): boolean {
    return nameAt(this.i32, this.u8, nameRef, this.scratch, length);
  }

  private rrsetAt(ref: number, owner: string): RrSet {
    const h = ref >> 2;
    const k = this.i32[h + 3]!;
    const rdatas: Buffer[] = new Array(k);
    let at = ref + 16 + 4 * k;
    for (let i = 0; i < k; i++) {
      const len = this.i32[h + 4 + i]!;
      rdatas[i] = this.heap.subarray(at, at + len);
      at += len;
    }
    return { name: owner, type: this.i32[h]!, class: this.i32[h + 1]!, ttl: this.i32[h + 2]! >>> 0, rdatas };
  }
}

/**
 * Where a reader finds the image now. The hub replaces the image when it compacts it; every zone of a
 * worker holds this one object, so swapping `reader` moves them all at once.
 */
export interface ImageSource {
  reader: ZoneImageReader;
}

/** One zone of the image, as lookups read it (ZoneReader). Readiness is data the worker sets from deltas. */
export class ImageZone implements ZoneReader {
  readonly origin: string;
  readonly id: number;
  ready: boolean;
  synthesizer: Synthesizer | null = null;
  synthesizedBelow: string | null = null;
  private readonly source: ImageSource;

  constructor(origin: string, id: number, ready: boolean, source: ImageSource) {
    this.origin = origin;
    this.id = id;
    this.ready = ready;
    this.source = source;
  }

  get soa(): RrSet | undefined {
    return this.get(this.origin, TYPE_SOA);
  }

  /** Read from the apex, where the hub records it with every change (ZoneImageWriter.writeZoneNames). */
  get hasCuts(): boolean {
    const reader = this.source.reader;
    const state = reader.state(this.id, this.origin);
    return state !== 0 && reader.cuts(state);
  }

  get(name: string, type: number): RrSet | undefined {
    const reader = this.source.reader;
    const state = reader.state(this.id, name);
    return state === 0 ? undefined : reader.rrsets(state, name, type)[0];
  }

  node(name: string): NodeView | undefined {
    const reader = this.source.reader;
    const state = reader.state(this.id, name);
    return state === 0 ? undefined : { rrsets: reader.rrsets(state, name), marked: reader.marked(state) };
  }

  nodeExists(name: string): boolean {
    return this.source.reader.state(this.id, name) !== 0;
  }

  isCut(name: string): boolean {
    if (name === this.origin) return false;
    const reader = this.source.reader;
    const state = reader.state(this.id, name);
    return state !== 0 && reader.hasType(state, TYPE_NS);
  }

  names(): Iterable<string> {
    return this.source.reader.names(this.id);
  }
}
