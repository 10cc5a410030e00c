// The zone image: every served name and RRset once per process, in two SharedArrayBuffers that the main
// thread (the hub) writes and every worker thread reads without a copy (image-reader.ts).
//
// Layout (all offsets in bytes, every record 4-byte aligned, numbers little-endian int32):
//   table  open addressing, SLOT_INTS ints a slot: nameRef, zone id, hash, stateRef. nameRef 0 = empty.
//   heap   append-only records; offset 0..HEAP_START is unused, so 0 is never a record:
//          name   [byte length][latin1 bytes of the name key]
//          state  [flags][rrset count n][n × rrset ref]                       (one node's current content)
//                 flags: STATE_MARKED (exists without data); STATE_CUTS on a zone's apex only (the zone
//                 has a delegation below the apex: ImageZone.hasCuts), kept true by writeZoneNames()
//          rrset  [type][class][ttl][rdata count k][k × rdata length][RDATA bytes]
//
// Publication, so a reader never sees a half-written entry: records are written once and never changed;
// a slot becomes visible by one Atomics.store of its nameRef (after its zone id and hash), and a name's
// content changes by appending a new state record and one Atomics.store of the slot's stateRef (0: the
// name no longer exists). Atomics are sequentially consistent, so a reader whose Atomics.load sees a ref
// also sees every byte written before it. A reader thus sees each name either before or after a change,
// never between; a batch of changes to several names is not atomic (the worker drops the compiled
// answers of every changed name when the batch's delta arrives).
//
// Space: replaced states and RRsets, and the names of removed nodes, are garbage. The writer counts it;
// the hub builds a fresh image from its zones when garbage passes GARBAGE_LIMIT (or the image is full)
// and posts the new buffers to the workers (shared, not copied). The image grows with the data, never
// with traffic: queries only read it.

import type { RrSet } from '../dns/types.js';
import type { NodeView, ZoneReader } from './reader.js';

/** The buffers of one image: what crosses to workers (postMessage shares SharedArrayBuffers). */
export interface ZoneImage {
  table: SharedArrayBuffer;
  heap: SharedArrayBuffer;
}

export const SLOT_INTS = 4;
export const SLOT_NAME = 0;
export const SLOT_ZONE = 1;
export const SLOT_HASH = 2;
export const SLOT_STATE = 3;
export const HEAP_START = 16;
export const STATE_MARKED = 1;
export const STATE_CUTS = 2;
/** Table load above which a new name does not go in (the image is rebuilt with a larger table). */
const MAX_LOAD = 0.5;
/** Garbage bytes that may pile up before a rebuild, at least (and at least as much as the live data). */
export const GARBAGE_LIMIT = 4 << 20;

export class ImageFullError extends Error {
  constructor(what: string) {
    super(`zone image full: ${what}`);
    this.name = 'ImageFullError';
  }
}

/** FNV-1a over the name's bytes, mixed with the zone id; never 0 (so a hash can be told from nothing). */
export function hashName(zoneId: number, bytes: Uint8Array, length: number): number {
  let h = (0x811c9dc5 ^ zoneId) >>> 0;
  for (let i = 0; i < length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
  return h === 0 ? 1 : h;
}

/** Writes `name` (a key: ASCII, escapes for other bytes) as latin1 into `out`; its length, or -1 when too long. */
export function encodeName(name: string, out: Uint8Array): number {
  const n = name.length;
  if (n > out.length) return -1;
  for (let i = 0; i < n; i++) out[i] = name.charCodeAt(i);
  return n;
}

/** True when the name record at `nameRef` holds the `length` bytes of `name`. */
export function nameAt(i32: Int32Array, u8: Uint8Array, nameRef: number, name: Uint8Array, length: number): boolean {
  if (i32[nameRef >> 2] !== length) return false;
  const at = nameRef + 4;
  for (let i = 0; i < length; i++) if (u8[at + i] !== name[i]) return false;
  return true;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Bytes an RRset record takes. */
function rrsetSize(rrset: RrSet): number {
  let bytes = 0;
  for (const r of rrset.rdatas) bytes += r.length;
  return 16 + 4 * rrset.rdatas.length + align4(bytes);
}

/** A key is at most 255 wire bytes, but escapes (`\DDD`) make the text up to 4× longer. */
export const MAX_KEY = 1024;

/** The one writer of an image (the hub, main thread). */
export class ZoneImageWriter {
  readonly image: ZoneImage;
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readonly scratch = new Uint8Array(MAX_KEY);
  private top = HEAP_START;
  private usedSlots = 0;
  private garbageBytes = 0;

  /** `slotCount` is rounded up to a power of two. */
  constructor(heapBytes: number, slotCount: number) {
    let slots = 1024;
    while (slots < slotCount) slots *= 2;
    this.image = {
      table: new SharedArrayBuffer(slots * SLOT_INTS * 4),
      heap: new SharedArrayBuffer(align4(Math.max(heapBytes, 4096))),
    };
    this.slots = new Int32Array(this.image.table);
    this.mask = slots - 1;
    this.i32 = new Int32Array(this.image.heap);
    this.u8 = new Uint8Array(this.image.heap);
  }

  /** Heap bytes in use (live and garbage). */
  get heapUsed(): number {
    return this.top;
  }

  get garbage(): number {
    return this.garbageBytes;
  }

  /** Bytes of both buffers (what the process holds for the image, whether touched yet or not). */
  get capacity(): number {
    return this.image.table.byteLength + this.image.heap.byteLength;
  }

  get names(): number {
    return this.usedSlots;
  }

  /** True when a rebuild would reclaim enough to be worth it. */
  needsCompaction(): boolean {
    return this.garbageBytes > GARBAGE_LIMIT && this.garbageBytes > this.top - this.garbageBytes;
  }

  /**
   * Publishes `names` of `zone` (its current content) under `zoneId`, and keeps the apex's STATE_CUTS equal
   * to `zone.hasCuts`. When that changes, the apex is written before the names if cuts appear and after
   * them if the last one goes: a reader that sees a delegation sees the flag too (true is always safe).
   */
  writeZoneNames(zoneId: number, zone: ZoneReader, names: Iterable<string>): void {
    const apex = zone.origin;
    const cuts = zone.hasCuts;
    const flips = this.apexCuts(zoneId, apex) !== cuts;
    if (flips && cuts) this.write(zoneId, apex, zone.node(apex), true);
    for (const name of names) {
      if (name === apex && flips) continue; // written just above or just below
      this.write(zoneId, name, zone.node(name), name === apex && cuts);
    }
    if (flips && !cuts) this.write(zoneId, apex, zone.node(apex), false);
  }

  /**
   * Publishes the content of `name` in zone `zoneId`: `node` as it is now, or undefined when the name no
   * longer exists; `apexOfCuts` sets STATE_CUTS (zones go through writeZoneNames, which sets it). Throws
   * ImageFullError before publishing anything when the heap or table is full.
   */
  write(zoneId: number, name: string, node: NodeView | undefined, apexOfCuts = false): void {
    const length = encodeName(name, this.scratch);
    if (length < 0) throw new RangeError(`zone image: name longer than ${MAX_KEY} characters`);
    const hash = hashName(zoneId, this.scratch, length);
    const slot = this.findSlot(zoneId, hash, length);
    const found = this.slots[slot * SLOT_INTS + SLOT_NAME] !== 0;
    const oldState = found ? this.slots[slot * SLOT_INTS + SLOT_STATE]! : 0;
    if (node === undefined) {
      if (oldState === 0) return;
      this.garbageBytes += this.stateSize(oldState, null) + this.nameSize(slot);
      Atomics.store(this.slots, slot * SLOT_INTS + SLOT_STATE, 0);
      return;
    }
    // Room first, so a full image fails before any record of this write exists.
    let need = 8 + 4 * node.rrsets.length + (found ? 0 : 4 + align4(length));
    for (const r of node.rrsets) need += rrsetSize(r);
    if (this.top + need > this.u8.length) throw new ImageFullError(`heap of ${this.u8.length} bytes`);
    if (!found && this.usedSlots + 1 > (this.mask + 1) * MAX_LOAD) throw new ImageFullError(`table of ${this.mask + 1} slots`);

    const refs = node.rrsets.map((r) => this.reuseRrset(oldState, r) || this.appendRrset(r));
    const state = this.top;
    this.i32[state >> 2] = (node.marked ? STATE_MARKED : 0) | (apexOfCuts ? STATE_CUTS : 0);
    this.i32[(state >> 2) + 1] = refs.length;
    for (let i = 0; i < refs.length; i++) this.i32[(state >> 2) + 2 + i] = refs[i]!;
    this.top += 8 + 4 * refs.length;
    if (oldState !== 0) this.garbageBytes += this.stateSize(oldState, refs);
    else if (found) this.garbageBytes -= this.nameSize(slot); // a removed name back: its name is live again

    const base = slot * SLOT_INTS;
    if (found) {
      Atomics.store(this.slots, base + SLOT_STATE, state);
      return;
    }
    const nameRef = this.top;
    this.i32[nameRef >> 2] = length;
    this.u8.set(this.scratch.subarray(0, length), nameRef + 4);
    this.top += 4 + align4(length);
    this.slots[base + SLOT_ZONE] = zoneId;
    this.slots[base + SLOT_HASH] = hash;
    this.slots[base + SLOT_STATE] = state;
    Atomics.store(this.slots, base + SLOT_NAME, nameRef); // the slot exists from here on
    this.usedSlots++;
  }

  /**
   * Counts `name` of a zone no longer served (removed, or replaced under a new id) as garbage, but leaves
   * it readable: a worker answers from the old zone until the delta that drops it arrives. The id is
   * never written again, and the next rebuild leaves the name out.
   */
  retire(zoneId: number, name: string): void {
    const length = encodeName(name, this.scratch);
    if (length < 0) return;
    const slot = this.findSlot(zoneId, hashName(zoneId, this.scratch, length), length);
    const state = this.slots[slot * SLOT_INTS + SLOT_STATE]!;
    if (this.slots[slot * SLOT_INTS + SLOT_NAME] === 0 || state === 0) return;
    this.garbageBytes += this.stateSize(state, null) + this.nameSize(slot);
  }

  /** Whether the apex of zone `zoneId` carries STATE_CUTS now. */
  private apexCuts(zoneId: number, apex: string): boolean {
    const length = encodeName(apex, this.scratch);
    if (length < 0) return false;
    const slot = this.findSlot(zoneId, hashName(zoneId, this.scratch, length), length);
    const state = this.slots[slot * SLOT_INTS + SLOT_STATE]!;
    return this.slots[slot * SLOT_INTS + SLOT_NAME] !== 0 && state !== 0 && (this.i32[state >> 2]! & STATE_CUTS) !== 0;
  }

  /** The slot holding (zoneId, name in scratch), or the empty slot where it would go. */
  private findSlot(zoneId: number, hash: number, length: number): number {
    for (let i = hash & this.mask; ; i = (i + 1) & this.mask) {
      const base = i * SLOT_INTS;
      const nameRef = this.slots[base + SLOT_NAME]!;
      if (nameRef === 0) return i;
      if (this.slots[base + SLOT_HASH] === (hash | 0) && this.slots[base + SLOT_ZONE] === zoneId && this.sameName(nameRef, length)) return i;
    }
  }

  private sameName(nameRef: number, length: number): boolean {
    return nameAt(this.i32, this.u8, nameRef, this.scratch, length);
  }

  private nameSize(slot: number): number {
    return 4 + align4(this.i32[this.slots[slot * SLOT_INTS + SLOT_NAME]! >> 2]!);
  }

  /** Bytes of an old state that become garbage: the state and every RRset of it not in `kept`. */
  private stateSize(state: number, kept: number[] | null): number {
    const count = this.i32[(state >> 2) + 1]!;
    let bytes = 8 + 4 * count;
    for (let i = 0; i < count; i++) {
      const ref = this.i32[(state >> 2) + 2 + i]!;
      if (kept === null || !kept.includes(ref)) bytes += this.rrsetBytesAt(ref);
    }
    return bytes;
  }

  private rrsetBytesAt(ref: number): number {
    const k = this.i32[(ref >> 2) + 3]!;
    let bytes = 0;
    for (let i = 0; i < k; i++) bytes += this.i32[(ref >> 2) + 4 + i]!;
    return 16 + 4 * k + align4(bytes);
  }

  /** The ref of an RRset of the old state equal to `rrset` (an unchanged RRset is not written again), or 0. */
  private reuseRrset(oldState: number, rrset: RrSet): number {
    if (oldState === 0) return 0;
    const count = this.i32[(oldState >> 2) + 1]!;
    for (let i = 0; i < count; i++) {
      const ref = this.i32[(oldState >> 2) + 2 + i]!;
      if (this.rrsetEquals(ref, rrset)) return ref;
    }
    return 0;
  }

  private rrsetEquals(ref: number, rrset: RrSet): boolean {
    const h = ref >> 2;
    const k = rrset.rdatas.length;
    if (this.i32[h] !== rrset.type || this.i32[h + 1] !== rrset.class || this.i32[h + 2] !== (rrset.ttl | 0) || this.i32[h + 3] !== k) return false;
    let at = ref + 16 + 4 * k;
    for (let i = 0; i < k; i++) {
      const rdata = rrset.rdatas[i]!;
      if (this.i32[h + 4 + i] !== rdata.length) return false;
      for (let j = 0; j < rdata.length; j++) if (this.u8[at + j] !== rdata[j]) return false;
      at += rdata.length;
    }
    return true;
  }

  private appendRrset(rrset: RrSet): number {
    const ref = this.top;
    const h = ref >> 2;
    const k = rrset.rdatas.length;
    this.i32[h] = rrset.type;
    this.i32[h + 1] = rrset.class;
    this.i32[h + 2] = rrset.ttl | 0;
    this.i32[h + 3] = k;
    let at = ref + 16 + 4 * k;
    for (let i = 0; i < k; i++) {
      const rdata = rrset.rdatas[i]!;
      this.i32[h + 4 + i] = rdata.length;
      this.u8.set(rdata, at);
      at += rdata.length;
    }
    this.top = ref + rrsetSize(rrset);
    return ref;
  }
}
