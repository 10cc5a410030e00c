// The forward cache's one table per process: fixed-size slots in a SharedArrayBuffer that every data-plane
// thread maps (the supervisor makes it once and hands it to each worker; a restarted worker gets the same
// one). Lock-free for readers and writers:
//
// - A slot's first word is its version (a seqlock). A writer claims the slot by compare-and-swap from an
//   even version v to v + 1 (odd), writes, then stores v + 2. A reader loads the version, copies the slot
//   out, and loads it again: an odd or changed version means a writer was there, and the copy is dropped
//   (tried again a few times, then a miss). So a reader never blocks, never waits for a lock, and never
//   returns a half-written entry. The memory is never freed or moved while the process runs.
// - Writers never wait either: a writer that loses the compare-and-swap (another thread is writing that
//   slot) drops its insert; it is a cache. A thread killed mid-write leaves one slot odd for good (read as
//   empty, never written again): a slot lost, never a wrong answer.
// - Bounds: fixed at creation. Two classes of slots share max-entries and max-bytes: small ones (max-bytes
//   × 7/8 over the entries, at least 512 bytes: nearly every UDP answer) and a few large ones (16 KiB, an
//   eighth of the bytes: answers that came over TCP); an entry larger than a large slot is not stored. A key
//   lives in one of PROBE slots of its class from its hash; when all are taken the one whose freshness ends
//   first is replaced. A random-name flood replaces entries; it cannot add memory.
//
// JavaScript's memory model allows the plain (non-atomic) reads of the copy to see torn values while a
// writer runs; they are then discarded by the version check, which is a sequentially consistent Atomics
// load (V8 does not move memory accesses across Atomics operations).

/** Slot fields, byte offsets from the slot's start. */
const S_VERSION = 0;
const S_HITS = 4; // Atomics.add on each hit, outside the version (a heuristic for prefetch)
const S_CLAIM = 8; // prefetch claim: one thread wins the compare-and-swap per stored answer
const S_HASH = 12;
const S_STORED_AT = 16; // float64, clock ms
const S_FAILED_AT = 24; // float64, clock ms of the last failed refresh (RFC 8767 §4)
const S_LIFETIME = 32; // float64, seconds
const S_KEY_LEN = 40; // uint16; 0: empty slot
const S_MSG_LEN = 42; // uint16
const S_RECORDS = 44; // uint16
const S_KIND = 46; // uint8
const S_EXT_RCODE = 47; // uint8
const S_DATA = 48; // key (latin1), TTL offsets (uint16 each), TTLs (uint32 each), message

/** Header words (int32): a magic number and the shape, so a buffer from elsewhere is refused. */
const HEADER_BYTES = 64;
const H_MAGIC = 0;
const H_SMALL_SLOTS = 1;
const H_SMALL_BYTES = 2;
const H_LARGE_SLOTS = 3;
const H_LARGE_BYTES = 4;
/** Slots in use, per class (the word after the class's shape). */
const H_SMALL_USED = 5;
const H_LARGE_USED = 6;
const MAGIC = 0x6b46_5332; // "kFS2"

/** Slots a key may live in, from its hash on. */
export const PROBE = 8;
/** Tries of a slot whose version moved under the reader before it counts as a miss. */
const READ_TRIES = 8;
const MIN_SLOT_BYTES = 512;
/** Large slots: answers that came over TCP (a 20-record TXT of 2 kB, a DNSKEY set); bigger ones are not stored. */
export const LARGE_SLOT_BYTES = 16 * 1024;

/** One entry as stored or read: the message with the offset and TTL of each record, and its timing. */
export interface StoredEntry {
  kind: number;
  msg: Buffer;
  ttlOffsets: number[];
  ttls: number[];
  extRcodeHi: number;
  storedAt: number;
  lifetime: number;
  hits: number;
  refreshFailedAt: number;
  /** Where it was read from (slot and version), so hits and prefetch claims reach the same answer; -1 when not read from the store. */
  slot: number;
  version: number;
}

export interface StoreShape {
  smallSlots: number;
  smallBytes: number;
  largeSlots: number;
}

/**
 * The table's shape for the forward cache's bounds: at most `maxEntries` slots and `maxBytes` bytes in all.
 * An eighth of the bytes (and of the entries) goes to large slots, the rest to small ones sized to share it.
 */
export function storeShape(maxEntries: number, maxBytes: number): StoreShape {
  const room = maxBytes - HEADER_BYTES;
  const largeSlots = Math.min(Math.floor(room / 8 / LARGE_SLOT_BYTES), Math.floor(maxEntries / 8));
  const smallRoom = room - largeSlots * LARGE_SLOT_BYTES;
  const smallEntries = maxEntries - largeSlots;
  const smallBytes = Math.max(MIN_SLOT_BYTES, Math.min(LARGE_SLOT_BYTES, Math.floor(smallRoom / smallEntries / 8) * 8));
  const smallSlots = Math.max(1, Math.min(smallEntries, Math.floor(smallRoom / smallBytes)));
  return { smallSlots, smallBytes, largeSlots };
}

/** A new, empty table: allocated once, its size fixed for the life of the process. */
export function allocateStore(maxEntries: number, maxBytes: number): SharedArrayBuffer {
  const { smallSlots, smallBytes, largeSlots } = storeShape(maxEntries, maxBytes);
  const sab = new SharedArrayBuffer(HEADER_BYTES + smallSlots * smallBytes + largeSlots * LARGE_SLOT_BYTES);
  const words = new Int32Array(sab);
  words[H_SMALL_SLOTS] = smallSlots;
  words[H_SMALL_BYTES] = smallBytes;
  words[H_LARGE_SLOTS] = largeSlots;
  words[H_LARGE_BYTES] = LARGE_SLOT_BYTES;
  Atomics.store(words, H_MAGIC, MAGIC);
  return sab;
}

/** FNV-1a over the key's characters (keys are ASCII: names are escaped as RFC 1035 text). */
function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Slots are numbered across both classes: small ones first. */
interface SlotClass {
  first: number;
  count: number;
  slotBytes: number;
  /** Byte offset of its first slot. */
  start: number;
  probe: number;
}

export class SharedStore {
  /** Slots in all (the entry bound). */
  readonly slots: number;
  /** The largest entry stored (a large slot, or a small one when there are no large ones). */
  readonly maxEntryBytes: number;
  private readonly small: SlotClass;
  private readonly large: SlotClass;
  private readonly words: Int32Array;
  private readonly bytes: Buffer;
  /** The key being looked up, as latin1 bytes (one per thread; keys fit a slot or are not stored). */
  private readonly keyBytes: Buffer;
  /** The key keyBytes holds now, its length and hash: a miss looks its key up, then stores it (once each). */
  private loadedKey = '';
  private loadedLength = -1;
  private loadedHash = 0;

  constructor(sab: SharedArrayBuffer) {
    this.words = new Int32Array(sab);
    if (Atomics.load(this.words, H_MAGIC) !== MAGIC) throw new Error('not a forward cache store');
    const smallSlots = this.words[H_SMALL_SLOTS]!;
    const smallBytes = this.words[H_SMALL_BYTES]!;
    const largeSlots = this.words[H_LARGE_SLOTS]!;
    this.small = { first: 0, count: smallSlots, slotBytes: smallBytes, start: HEADER_BYTES, probe: Math.min(PROBE, smallSlots) };
    this.large = {
      first: smallSlots, count: largeSlots, slotBytes: this.words[H_LARGE_BYTES]!, start: HEADER_BYTES + smallSlots * smallBytes,
      probe: Math.min(PROBE, largeSlots),
    };
    this.slots = smallSlots + largeSlots;
    this.maxEntryBytes = largeSlots > 0 ? this.large.slotBytes : smallBytes;
    this.bytes = Buffer.from(sab);
    this.keyBytes = Buffer.alloc(this.maxEntryBytes);
  }

  /** Entries held now (slots in use, across every thread). */
  get entries(): number {
    return Atomics.load(this.words, H_SMALL_USED) + Atomics.load(this.words, H_LARGE_USED);
  }

  /** Bytes held: the header and every slot in use (an entry takes its whole slot). */
  get bytesHeld(): number {
    return HEADER_BYTES + Atomics.load(this.words, H_SMALL_USED) * this.small.slotBytes +
      Atomics.load(this.words, H_LARGE_USED) * this.large.slotBytes;
  }

  /** The fixed size of the table: what it can never grow past. */
  get capacityBytes(): number {
    return this.bytes.length;
  }

  /** The entry for `key`, copied out; undefined when absent (or a writer was in its slot throughout). */
  read(key: string): StoredEntry | undefined {
    const keyLength = this.loadKey(key);
    if (keyLength < 0) return undefined;
    const hash = this.loadedHash;
    return this.readIn(this.small, hash, keyLength) ?? this.readIn(this.large, hash, keyLength);
  }

  private readIn(c: SlotClass, hash: number, keyLength: number): StoredEntry | undefined {
    for (let p = 0; p < c.probe; p++) {
      const slot = c.first + (hash + p) % c.count;
      // A plain read of the hash first: most probes hold another key, and no seqlock is needed to see that.
      if (this.words[(this.base(slot) + S_HASH) >> 2] !== (hash | 0)) continue;
      const e = this.readSlot(slot, hash, keyLength);
      if (e !== null) return e;
    }
    return undefined;
  }

  /**
   * Stores `e` under `key`, replacing its previous entry. Returns 'evicted' when another key's entry made
   * room, 'stored', or 'skipped' (too large for a slot, or another writer held the slot: nothing changes,
   * except that a too-large answer removes the key's previous one).
   */
  write(key: string, e: StoredEntry): 'stored' | 'evicted' | 'skipped' {
    const keyLength = this.loadKey(key);
    const size = S_DATA + keyLength + 6 * e.ttls.length + e.msg.length;
    const c = size <= this.small.slotBytes ? this.small : this.large;
    if (keyLength <= 0 || size > c.slotBytes || c.count === 0 || e.msg.length > 0xffff) {
      this.delete(key);
      return 'skipped';
    }
    const hash = this.loadedHash;
    if (c === this.large) this.deleteIn(this.small, hash, keyLength); // an answer that grew: one copy only
    else this.deleteIn(this.large, hash, keyLength);
    let same = -1; // the first slot that already holds the key
    let empty = -1;
    let victim = -1;
    let victimEnd = Infinity;
    for (let p = 0; p < c.probe; p++) {
      const slot = c.first + (hash + p) % c.count;
      const base = this.base(slot);
      const length = this.bytes.readUInt16LE(base + S_KEY_LEN);
      if (length === 0) {
        if (empty < 0) empty = slot;
      } else if (this.holds(base, hash, keyLength)) {
        // Two threads that stored the same key at once may have left it twice: keep the first only.
        if (same < 0) same = slot;
        else this.clearSlot(slot);
      } else {
        const end = this.bytes.readDoubleLE(base + S_STORED_AT) + this.bytes.readDoubleLE(base + S_LIFETIME) * 1000;
        if (end < victimEnd) {
          victimEnd = end;
          victim = slot;
        }
      }
    }
    const target = same >= 0 ? same : empty >= 0 ? empty : victim;
    if (target < 0) return 'skipped';
    const outcome = this.writeSlot(target, hash, keyLength, e);
    if (outcome === 'skipped' || same >= 0 || empty >= 0) return outcome;
    return 'evicted';
  }

  /** Removes every entry stored under `key`. */
  delete(key: string): void {
    const keyLength = this.loadKey(key);
    if (keyLength <= 0) return;
    const hash = this.loadedHash;
    this.deleteIn(this.small, hash, keyLength);
    this.deleteIn(this.large, hash, keyLength);
  }

  private deleteIn(c: SlotClass, hash: number, keyLength: number): void {
    for (let p = 0; p < c.probe; p++) {
      const slot = c.first + (hash + p) % c.count;
      if (this.holds(this.base(slot), hash, keyLength)) this.clearSlot(slot);
    }
  }

  /** Empties the table; returns how many entries it removed (a slot being written at that moment stays). */
  clear(): number {
    let n = 0;
    for (let slot = 0; slot < this.slots; slot++) {
      if (this.bytes.readUInt16LE(this.base(slot) + S_KEY_LEN) !== 0 && this.clearSlot(slot)) n++;
    }
    return n;
  }

  /** Counts a hit on the answer `e` was read from; returns its hits so far (0 when the slot changed since). */
  hit(e: StoredEntry): number {
    if (e.slot < 0) return ++e.hits;
    const base = this.base(e.slot);
    const hits = Atomics.add(this.words, (base + S_HITS) >> 2, 1) + 1;
    return Atomics.load(this.words, (base + S_VERSION) >> 2) === e.version ? hits : 0;
  }

  /** True for exactly one caller per stored answer: that thread prefetches it, the others do not. */
  claimPrefetch(e: StoredEntry): boolean {
    if (e.slot < 0) return true;
    const base = this.base(e.slot);
    if (Atomics.load(this.words, (base + S_VERSION) >> 2) !== e.version) return false;
    return Atomics.compareExchange(this.words, (base + S_CLAIM) >> 2, 0, 1) === 0;
  }

  /** Notes a failed refresh on `key`'s entry (RFC 8767 §4), for every thread to see. */
  noteRefreshFailed(key: string, at: number): boolean {
    const e = this.read(key);
    if (e === undefined || !this.claim(e.slot, e.version)) return false;
    this.bytes.writeDoubleLE(at, this.base(e.slot) + S_FAILED_AT);
    Atomics.store(this.words, this.base(e.slot) >> 2, e.version + 2);
    return true;
  }

  private base(slot: number): number {
    const c = slot < this.large.first ? this.small : this.large;
    return c.start + (slot - c.first) * c.slotBytes;
  }

  private usedWord(slot: number): number {
    return slot < this.large.first ? H_SMALL_USED : H_LARGE_USED;
  }

  private slotBytesOf(slot: number): number {
    return slot < this.large.first ? this.small.slotBytes : this.large.slotBytes;
  }

  /** Writes `key` into keyBytes; its length, or -1 when it cannot fit a slot. */
  private loadKey(key: string): number {
    if (key === this.loadedKey) return this.loadedLength;
    if (key.length === 0 || key.length > this.maxEntryBytes - S_DATA) return -1;
    this.loadedLength = this.keyBytes.write(key, 0, 'latin1');
    this.loadedHash = hashKey(key);
    this.loadedKey = key;
    return this.loadedLength;
  }

  /** Whether the slot at `base` holds the key in keyBytes (a racy look: callers re-check under the version). */
  private holds(base: number, hash: number, keyLength: number): boolean {
    const b = this.bytes;
    return this.words[(base + S_HASH) >> 2] === (hash | 0) && b.readUInt16LE(base + S_KEY_LEN) === keyLength &&
      b.compare(this.keyBytes, 0, keyLength, base + S_DATA, base + S_DATA + keyLength) === 0;
  }

  /** The seqlock read: a copy of the slot taken between two equal, even versions; null when it holds another key. */
  private readSlot(slot: number, hash: number, keyLength: number): StoredEntry | null {
    const b = this.bytes;
    const base = this.base(slot);
    const versionIndex = base >> 2;
    for (let tries = 0; tries < READ_TRIES; tries++) {
      const version = Atomics.load(this.words, versionIndex);
      if ((version & 1) !== 0) continue; // a writer is in the slot
      if (!this.holds(base, hash, keyLength)) {
        if (Atomics.load(this.words, versionIndex) === version) return null;
        continue;
      }
      const records = b.readUInt16LE(base + S_RECORDS);
      const msgLength = b.readUInt16LE(base + S_MSG_LEN);
      let at = base + S_DATA + keyLength;
      if (at + 6 * records + msgLength > base + this.slotBytesOf(slot)) continue; // torn: lengths from two writes
      const ttlOffsets = new Array<number>(records);
      const ttls = new Array<number>(records);
      for (let i = 0; i < records; i++, at += 2) ttlOffsets[i] = b.readUInt16LE(at);
      for (let i = 0; i < records; i++, at += 4) ttls[i] = b.readUInt32LE(at);
      const msg = Buffer.allocUnsafe(msgLength);
      b.copy(msg, 0, at, at + msgLength);
      const e: StoredEntry = {
        kind: b[base + S_KIND]!, msg, ttlOffsets, ttls, extRcodeHi: b[base + S_EXT_RCODE]!,
        storedAt: b.readDoubleLE(base + S_STORED_AT), lifetime: b.readDoubleLE(base + S_LIFETIME),
        hits: Atomics.load(this.words, (base + S_HITS) >> 2), refreshFailedAt: b.readDoubleLE(base + S_FAILED_AT),
        slot, version,
      };
      if (Atomics.load(this.words, versionIndex) === version) return e;
    }
    return null;
  }

  /** Claims a slot for writing: its version from `version` (even) to odd. False when another writer has it. */
  private claim(slot: number, version: number): boolean {
    if ((version & 1) !== 0) return false;
    return Atomics.compareExchange(this.words, this.base(slot) >> 2, version, version + 1) === version;
  }

  private writeSlot(slot: number, hash: number, keyLength: number, e: StoredEntry): 'stored' | 'skipped' {
    const b = this.bytes;
    const base = this.base(slot);
    const version = Atomics.load(this.words, base >> 2);
    if (!this.claim(slot, version)) return 'skipped';
    if (b.readUInt16LE(base + S_KEY_LEN) === 0) Atomics.add(this.words, this.usedWord(slot), 1);
    b.writeUInt32LE(hash, base + S_HASH);
    b.writeDoubleLE(e.storedAt, base + S_STORED_AT);
    b.writeDoubleLE(e.refreshFailedAt, base + S_FAILED_AT);
    b.writeDoubleLE(e.lifetime, base + S_LIFETIME);
    b.writeUInt16LE(keyLength, base + S_KEY_LEN);
    b.writeUInt16LE(e.msg.length, base + S_MSG_LEN);
    b.writeUInt16LE(e.ttls.length, base + S_RECORDS);
    b[base + S_KIND] = e.kind;
    b[base + S_EXT_RCODE] = e.extRcodeHi;
    this.keyBytes.copy(b, base + S_DATA, 0, keyLength);
    let at = base + S_DATA + keyLength;
    for (const offset of e.ttlOffsets) at = b.writeUInt16LE(offset, at);
    for (const ttl of e.ttls) at = b.writeUInt32LE(ttl, at);
    e.msg.copy(b, at);
    Atomics.store(this.words, (base + S_HITS) >> 2, 0);
    Atomics.store(this.words, (base + S_CLAIM) >> 2, 0);
    Atomics.store(this.words, base >> 2, version + 2);
    return 'stored';
  }

  /** Empties one slot; false when another writer had it. */
  private clearSlot(slot: number): boolean {
    const base = this.base(slot);
    const version = Atomics.load(this.words, base >> 2);
    if (!this.claim(slot, version)) return false;
    const held = this.bytes.readUInt16LE(base + S_KEY_LEN) !== 0;
    if (held) Atomics.sub(this.words, this.usedWord(slot), 1);
    this.bytes.writeUInt16LE(0, base + S_KEY_LEN);
    Atomics.store(this.words, base >> 2, version + 2);
    return held;
  }
}
