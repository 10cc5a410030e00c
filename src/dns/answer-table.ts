// The per-worker table of compiled answers: (lower-case wire qname, qtype, qclass) → value.
//
// Looked up once per query, so get() allocates nothing and touches only typed arrays: keys live in
// parallel typed arrays and the name bytes in one arena Buffer, not in a Map of strings (a string
// key would cost a decode per query) nor in one Buffer per entry (half a million small objects would
// weigh on the GC and on memory per replica). Open addressing with linear probing; deletion shifts
// later entries back instead of leaving tombstones, so probe chains never rot under churn.

import { MAX_NAME_WIRE } from './constants.js';

export const FNV32_OFFSET = 0x811c9dc5;
export const FNV32_PRIME = 0x01000193;

/**
 * 32-bit FNV-1a over buf[offset..offset+length) as an int32 (the bits of the uint32, signed); the query
 * reader computes the same while reading. Int32, not uint32: half of all uint32 hashes are above 2^31,
 * where V8 keeps a number as a heap object, and passing one to a call V8 did not inline allocates it.
 * An int32 is a small integer everywhere, so no caller can box a hash by forgetting to convert it.
 */
export function hashName(buf: Buffer, offset: number, length: number): number {
  let hash = FNV32_OFFSET | 0;
  const end = offset + length;
  for (let i = offset; i < end; i++) hash = Math.imul(hash ^ buf[i], FNV32_PRIME);
  return hash;
}

// FNV-1a's low bits are weak for short, similar keys (service names differ in a byte or two), and we
// index by the low bits: a cheap finaliser (MurmurHash3 fmix32) spreads every input bit over them.
// Exported only so tests can aim entries at chosen slots. The same slot for an int32 and its uint32 bits.
export function slotOf(hash: number, mask: number): number {
  let h = hash ^ (hash >>> 16);
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & mask;
}

const INITIAL_CAPACITY = 16; // power of two
const MAX_LOAD = 0.7;
const INITIAL_ARENA = 4096;

/**
 * Every `hash` argument is the int32 of hashName() (QuerySlot.hash is one): the table stores and compares it
 * as such, so a hash passed as its uint32 bits would not be found.
 */
export class AnswerTable<V> {
  private capacity = INITIAL_CAPACITY;
  private mask = INITIAL_CAPACITY - 1;
  private count = 0;
  private growAt = Math.floor(INITIAL_CAPACITY * MAX_LOAD);
  // Parallel arrays indexed by slot. nameLengths[i] === 0 marks an empty slot (a name is ≥ 1 byte).
  private hashes = new Int32Array(INITIAL_CAPACITY); // hashName() values: int32, compared as stored
  private typeClass = new Uint32Array(INITIAL_CAPACITY); // qtype << 16 | qclass
  private nameOffsets = new Uint32Array(INITIAL_CAPACITY);
  private nameLengths = new Uint8Array(INITIAL_CAPACITY);
  private values: (V | undefined)[] = new Array<V | undefined>(INITIAL_CAPACITY).fill(undefined);
  // Name bytes, appended; deleted names leave garbage that compaction reclaims.
  private arena = Buffer.alloc(INITIAL_ARENA);
  private arenaUsed = 0;
  private liveNameBytes = 0;

  get size(): number {
    return this.count;
  }

  get(name: Buffer, nameLength: number, hash: number, qtype: number, qclass: number): V | undefined {
    const i = this.find(name, nameLength, hash, ((qtype << 16) | qclass) >>> 0);
    return i < 0 ? undefined : this.values[i];
  }

  /** Inserts or replaces. The name bytes are copied, so the caller may reuse `name`. */
  set(name: Buffer, nameLength: number, hash: number, qtype: number, qclass: number, value: V): void {
    if (nameLength < 1 || nameLength > MAX_NAME_WIRE) throw new RangeError(`bad name length ${nameLength}`);
    const tc = ((qtype << 16) | qclass) >>> 0;
    const found = this.find(name, nameLength, hash, tc);
    if (found >= 0) {
      this.values[found] = value;
      return;
    }
    if (this.count + 1 > this.growAt) this.rehash(this.capacity * 2);
    const nameOffset = this.storeName(name, nameLength);
    let i = slotOf(hash, this.mask);
    while (this.nameLengths[i] !== 0) i = (i + 1) & this.mask; // a free slot exists: load ≤ 0.7
    this.hashes[i] = hash;
    this.typeClass[i] = tc;
    this.nameOffsets[i] = nameOffset;
    this.nameLengths[i] = nameLength;
    this.values[i] = value;
    this.count++;
  }

  /** Deletes one (name, qtype, qclass); returns whether it was there. */
  delete(name: Buffer, nameLength: number, hash: number, qtype: number, qclass: number): boolean {
    const i = this.find(name, nameLength, hash, ((qtype << 16) | qclass) >>> 0);
    if (i < 0) return false;
    this.removeAt(i);
    return true;
  }

  /** Deletes every type and class of a name; returns how many entries went. */
  deleteName(name: Buffer, nameLength: number, hash: number): number {
    let removed = 0;
    let i = slotOf(hash, this.mask);
    // Every entry of this name sits in the run that starts at its home slot and ends at an empty
    // slot. removeAt() may shift a later entry into i, so we look at i again rather than move on.
    while (this.nameLengths[i] !== 0) {
      if (this.hashes[i] === hash && this.nameEquals(i, name, nameLength)) {
        this.removeAt(i);
        removed++;
      } else {
        i = (i + 1) & this.mask;
      }
    }
    return removed;
  }

  clear(): void {
    this.capacity = INITIAL_CAPACITY;
    this.mask = INITIAL_CAPACITY - 1;
    this.count = 0;
    this.growAt = Math.floor(INITIAL_CAPACITY * MAX_LOAD);
    this.hashes = new Int32Array(INITIAL_CAPACITY);
    this.typeClass = new Uint32Array(INITIAL_CAPACITY);
    this.nameOffsets = new Uint32Array(INITIAL_CAPACITY);
    this.nameLengths = new Uint8Array(INITIAL_CAPACITY);
    this.values = new Array<V | undefined>(INITIAL_CAPACITY).fill(undefined);
    this.arena = Buffer.alloc(INITIAL_ARENA);
    this.arenaUsed = 0;
    this.liveNameBytes = 0;
  }

  /** Calls fn for every entry, with a copy of its name bytes. Cold path (snapshots, tests). */
  forEach(fn: (name: Buffer, qtype: number, qclass: number, value: V) => void): void {
    for (let i = 0; i < this.capacity; i++) {
      const n = this.nameLengths[i];
      if (n === 0) continue;
      const off = this.nameOffsets[i];
      const tc = this.typeClass[i];
      fn(Buffer.from(this.arena.subarray(off, off + n)), tc >>> 16, tc & 0xffff, this.values[i] as V);
    }
  }

  /** Bytes held by the table's arrays and arena (values not counted): for memory-per-record metrics. */
  get byteSize(): number {
    return this.capacity * (4 + 4 + 4 + 1 + 8) + this.arena.length;
  }

  private find(name: Buffer, nameLength: number, hash: number, tc: number): number {
    let i = slotOf(hash, this.mask);
    // Bounded: the table always has an empty slot, and the run ends there.
    while (this.nameLengths[i] !== 0) {
      if (this.hashes[i] === hash && this.typeClass[i] === tc && this.nameEquals(i, name, nameLength)) return i;
      i = (i + 1) & this.mask;
    }
    return -1;
  }

  private nameEquals(i: number, name: Buffer, nameLength: number): boolean {
    if (this.nameLengths[i] !== nameLength) return false;
    const arena = this.arena;
    const off = this.nameOffsets[i];
    for (let k = 0; k < nameLength; k++) if (arena[off + k] !== name[k]) return false;
    return true;
  }

  /** Backward-shift deletion (Knuth 6.4 algorithm R): keeps every remaining entry reachable. */
  private removeAt(slot: number): void {
    this.liveNameBytes -= this.nameLengths[slot];
    const mask = this.mask;
    let hole = slot;
    let j = slot;
    for (;;) {
      j = (j + 1) & mask;
      if (this.nameLengths[j] === 0) break;
      const home = slotOf(this.hashes[j], mask);
      // Move j into the hole unless its home lies cyclically in (hole, j]: then it must stay.
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (stays) continue;
      this.hashes[hole] = this.hashes[j];
      this.typeClass[hole] = this.typeClass[j];
      this.nameOffsets[hole] = this.nameOffsets[j];
      this.nameLengths[hole] = this.nameLengths[j];
      this.values[hole] = this.values[j];
      hole = j;
    }
    this.nameLengths[hole] = 0;
    this.values[hole] = undefined; // let the value be collected
    this.count--;
  }

  private storeName(name: Buffer, nameLength: number): number {
    if (this.arenaUsed + nameLength > this.arena.length) {
      // Reclaim deleted names first; grow only if live names really need the room.
      const needed = this.liveNameBytes + nameLength;
      let size = this.arena.length;
      while (size < needed * 2) size *= 2;
      this.compact(size);
    }
    const off = this.arenaUsed;
    name.copy(this.arena, off, 0, nameLength);
    this.arenaUsed += nameLength;
    this.liveNameBytes += nameLength;
    return off;
  }

  /** Copies live names into a fresh arena; slots keep their positions, only offsets change. */
  private compact(size: number): void {
    const fresh = Buffer.alloc(size);
    let used = 0;
    for (let i = 0; i < this.capacity; i++) {
      const n = this.nameLengths[i];
      if (n === 0) continue;
      const off = this.nameOffsets[i];
      this.arena.copy(fresh, used, off, off + n);
      this.nameOffsets[i] = used;
      used += n;
    }
    this.arena = fresh;
    this.arenaUsed = used;
  }

  private rehash(capacity: number): void {
    const oldHashes = this.hashes;
    const oldTc = this.typeClass;
    const oldOffsets = this.nameOffsets;
    const oldLengths = this.nameLengths;
    const oldValues = this.values;
    const oldCapacity = this.capacity;
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.growAt = Math.floor(capacity * MAX_LOAD);
    this.hashes = new Int32Array(capacity);
    this.typeClass = new Uint32Array(capacity);
    this.nameOffsets = new Uint32Array(capacity);
    this.nameLengths = new Uint8Array(capacity);
    this.values = new Array<V | undefined>(capacity).fill(undefined);
    for (let k = 0; k < oldCapacity; k++) {
      if (oldLengths[k] === 0) continue;
      let i = slotOf(oldHashes[k], this.mask);
      while (this.nameLengths[i] !== 0) i = (i + 1) & this.mask;
      this.hashes[i] = oldHashes[k];
      this.typeClass[i] = oldTc[k];
      this.nameOffsets[i] = oldOffsets[k];
      this.nameLengths[i] = oldLengths[k];
      this.values[i] = oldValues[k];
    }
  }
}
