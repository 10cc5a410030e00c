// The limiter's buckets, shared by every worker thread: SO_REUSEPORT spreads one client's queries over the
// workers by source port, so buckets kept per worker would give a client `workers × rate`. A fixed
// SharedArrayBuffer of max-table-size entries, 4-way set associative: a key lives in one set of four,
// and a new key takes the least recently used of them, so a spoofed-source flood cannot grow memory.
//
// No locks: workers may race on one entry. The token debit is atomic; what a race can still do is
// credit a bucket twice in the same second or make two entries for one new key, which lets a few more
// responses through, never a wrong answer or a crash (typed arrays are bounds-checked).

/** Words of a key: kind|qclass|qtype, four address words (masked to the client block), name hash. */
export const KEY_WORDS = 6;
const WAYS = 4;
// Per entry: the key, then balance, stamp (seconds since STAMP_EPOCH, or a mark), slip counter, limiting flag.
const BALANCE = KEY_WORDS;
const STAMP = KEY_WORDS + 1;
const SLIP = KEY_WORDS + 2;
const LIMITING = KEY_WORDS + 3;
const STRIDE = KEY_WORDS + 4;
/** Stamps are seconds since this (2023-11-14), so they fit an int32 for another 60 years. */
const STAMP_EPOCH = 1_700_000_000;
/** Stamp marks, below every real stamp: a free entry, and one taken but not yet debited. */
const EMPTY = -0x80000000;
const TAKEN = EMPTY + 1;

export class BucketTable {
  private readonly e: Int32Array;
  private readonly sets: number;
  /** The key being looked up; fill it, then call find(). */
  readonly probe = new Uint32Array(KEY_WORDS);

  /** A table for `capacity` entries (rounded up to whole sets of four), shared between threads. */
  static bufferFor(capacity: number): SharedArrayBuffer {
    const entries = Math.ceil(capacity / WAYS) * WAYS;
    const buffer = new SharedArrayBuffer(entries * STRIDE * 4);
    const e = new Int32Array(buffer);
    for (let i = 0; i < entries; i++) e[i * STRIDE + STAMP] = EMPTY;
    return buffer;
  }

  constructor(buffer: SharedArrayBuffer) {
    this.e = new Int32Array(buffer);
    this.sets = Math.max(1, Math.floor(this.e.length / STRIDE / WAYS));
  }

  get capacity(): number {
    return this.sets * WAYS;
  }

  /** Entries in use (counts the whole table: for tests and diagnostics only). */
  get size(): number {
    let n = 0;
    for (let i = 0; i < this.capacity; i++) if (this.e[i * STRIDE + STAMP] !== EMPTY) n++;
    return n;
  }

  /** The entry for `probe`: an existing one, or the least recently used of its set, made new (age Infinity). */
  find(): number {
    const p = this.probe;
    let h = 0x9e3779b1;
    for (let w = 0; w < KEY_WORDS; w++) h = Math.imul(h ^ p[w]!, 0x85ebca6b) ^ (h >>> 13);
    const first = ((h >>> 0) % this.sets) * WAYS;
    const e = this.e;
    let victim = first;
    let oldest = Infinity;
    for (let i = first; i < first + WAYS; i++) {
      const b = i * STRIDE;
      const stamp = e[b + STAMP]!;
      if (stamp !== EMPTY && e[b] === (p[0]! | 0) && e[b + 1] === (p[1]! | 0) && e[b + 2] === (p[2]! | 0)
        && e[b + 3] === (p[3]! | 0) && e[b + 4] === (p[4]! | 0) && e[b + 5] === (p[5]! | 0)) {
        return i;
      }
      if (stamp < oldest) { oldest = stamp; victim = i; } // a free one is the oldest of all
    }
    const b = victim * STRIDE;
    for (let w = 0; w < KEY_WORDS; w++) e[b + w] = p[w]! | 0;
    e[b + BALANCE] = 0;
    e[b + SLIP] = 0;
    e[b + LIMITING] = 0;
    e[b + STAMP] = TAKEN; // age() is Infinity until the first stamp()
    return victim;
  }

  /** Seconds since this entry's last debit (Infinity for a new one; 0 when the clock went back). */
  age(i: number, now: number): number {
    const stamp = this.e[i * STRIDE + STAMP]!;
    return stamp === TAKEN || stamp === EMPTY ? Infinity : Math.max(0, now - STAMP_EPOCH - stamp);
  }

  stamp(i: number, now: number): void {
    this.e[i * STRIDE + STAMP] = now - STAMP_EPOCH;
  }

  balance(i: number): number {
    return this.e[i * STRIDE + BALANCE]!;
  }

  setBalance(i: number, value: number): void {
    this.e[i * STRIDE + BALANCE] = value;
  }

  /** Takes one token; returns the balance after (atomic: workers may debit one bucket at once). */
  debit(i: number): number {
    return Atomics.sub(this.e, i * STRIDE + BALANCE, 1) - 1;
  }

  slipCount(i: number): number {
    return this.e[i * STRIDE + SLIP]!;
  }

  setSlipCount(i: number, value: number): void {
    this.e[i * STRIDE + SLIP] = value;
  }

  /** Whether the start of limiting was logged for this bucket (cleared when it answers again). */
  limiting(i: number): boolean {
    return this.e[i * STRIDE + LIMITING] === 1;
  }

  setLimiting(i: number, on: boolean): void {
    this.e[i * STRIDE + LIMITING] = on ? 1 : 0;
  }

  /** Word `w` (1-4: the client block) of entry `i`'s key, for log lines. */
  keyWord(i: number, w: number): number {
    return this.e[i * STRIDE + w]! >>> 0;
  }
}
