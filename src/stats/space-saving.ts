// Space-saving (Metwally, Agrawal, El Abbadi 2005): the heaviest keys of a stream in a fixed number of
// counters. A new key, when every counter is taken, replaces the smallest one and inherits its count as
// its possible over-estimate (`error`), so a key's true count lies in [count - error, count] and every key
// heavier than total/capacity is in the table. The counters form a min-heap, so finding the smallest is
// O(1) and an increment is O(log capacity): a random-name flood costs the same per sample as one name.

export interface Counted {
  key: string;
  /** Estimated weight: never below the true one. */
  count: number;
  /** How much of `count` may come from the key it replaced. */
  error: number;
}

export class SpaceSaving {
  private readonly keys: string[] = [];
  private readonly counts: number[] = [];
  private readonly errors: number[] = [];
  private readonly position = new Map<string, number>();
  /** Weight of every sample added, so shares can be given. */
  total = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.keys.length;
  }

  add(key: string, weight: number): void {
    this.total += weight;
    const at = this.position.get(key);
    if (at !== undefined) {
      this.counts[at] += weight;
      this.siftDown(at);
      return;
    }
    if (this.keys.length < this.capacity) {
      this.keys.push(key);
      this.counts.push(weight);
      this.errors.push(0);
      this.position.set(key, this.keys.length - 1);
      this.siftUp(this.keys.length - 1);
      return;
    }
    // Replace the minimum (the root): the newcomer may have been counted there all along.
    const min = this.counts[0]!;
    this.position.delete(this.keys[0]!);
    this.keys[0] = key;
    this.counts[0] = min + weight;
    this.errors[0] = min;
    this.position.set(key, 0);
    this.siftDown(0);
  }

  /** Every counter, in no order (for merging). */
  entries(): Counted[] {
    return this.keys.map((key, i) => ({ key, count: this.counts[i]!, error: this.errors[i]! }));
  }

  private swap(a: number, b: number): void {
    const k = this.keys[a]!, c = this.counts[a]!, e = this.errors[a]!;
    this.keys[a] = this.keys[b]!;
    this.counts[a] = this.counts[b]!;
    this.errors[a] = this.errors[b]!;
    this.keys[b] = k;
    this.counts[b] = c;
    this.errors[b] = e;
    this.position.set(this.keys[a]!, a);
    this.position.set(k, b);
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.counts[parent]! <= this.counts[i]!) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const n = this.keys.length;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let least = i;
      if (l < n && this.counts[l]! < this.counts[least]!) least = l;
      if (r < n && this.counts[r]! < this.counts[least]!) least = r;
      if (least === i) return;
      this.swap(i, least);
      i = least;
    }
  }
}

/** Sums summaries (of time buckets or of workers) key by key and keeps the `n` heaviest. */
export function mergeTop(lists: Iterable<Iterable<Counted>>, n: number): Counted[] {
  const sum = new Map<string, Counted>();
  for (const list of lists) {
    for (const c of list) {
      const have = sum.get(c.key);
      if (have === undefined) sum.set(c.key, { key: c.key, count: c.count, error: c.error });
      else {
        have.count += c.count;
        have.error += c.error;
      }
    }
  }
  return [...sum.values()].sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1)).slice(0, n);
}
