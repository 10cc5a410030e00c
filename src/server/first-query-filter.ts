// Remembers which (name, qtype) questions were asked recently, so a name that does not exist is cached only
// when asked again: a flood of random names (one query each) then neither churns the answer table, which
// would evict the real names' answers, nor pays for inserts.

const SLOTS = 1 << 16; // power of two: 16,384 buckets of 4, 256 KiB

export class FirstQueryFilter {
  private readonly seen = new Uint32Array(SLOTS);
  private nextWay = 0;

  /**
   * Whether (name hash, qtype) was seen here recently, remembering it if not: fingerprints in 4-way buckets,
   * a new one going to an empty way or else to the next way in turn. (A direct-mapped table let two names
   * that share a slot evict each other forever, so neither was ever cached.) A collision only makes a
   * one-off name cached, and a forgotten one costs one more compile: nothing here can give a wrong answer.
   */
  askedBefore(hash: number, qtype: number): boolean {
    const print = ((hash ^ Math.imul(qtype, 0x9e3779b1)) | 1) >>> 0; // never 0, the empty mark
    const seen = this.seen;
    const base = ((print ^ (print >>> 15)) & (SLOTS / 4 - 1)) * 4;
    let empty = -1;
    for (let w = 0; w < 4; w++) {
      const v = seen[base + w];
      if (v === print) return true;
      if (v === 0 && empty < 0) empty = w;
    }
    seen[base + (empty >= 0 ? empty : this.nextWay++ & 3)] = print;
    return false;
  }
}
