// Space-saving (Metwally, Agrawal, El Abbadi 2005): the heaviest keys of a stream in a fixed number of
// counters. A new key, when every counter is taken, replaces the smallest one and inherits its count as
// its possible over-estimate (`error`), so a key's true count lies in [count - error, count] and every key
// heavier than total/capacity is in the table. The counters form a min-heap, so finding the smallest is
// O(1) and an increment is O(log capacity): a random-name flood costs the same per sample as one name
// (two map operations to replace the smallest key, the heap steps on typed arrays).

export interface Counted {
  key: string;
  /** Estimated weight: never below the true one. */
  count: number;
  /** How much of `count` may come from the key it replaced. */
  error: number;
}

export class SpaceSaving {
  // Counters live in fixed slots; the min-heap orders slot numbers, so a heap step moves two integers in
  // typed arrays and the key map is touched only when a key arrives or is replaced, never per step.
  private readonly keys: string[] = [];
  private readonly counts: Float64Array;
  private readonly errors: Float64Array;
  /** Slot numbers in heap order (smallest count first). */
  private readonly heap: Int32Array;
  /** Where each slot sits in `heap`. */
  private readonly heapAt: Int32Array;
  private readonly slotOf = new Map<string, number>();
  /** Weight of every sample added, so shares can be given. */
  total = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.counts = new Float64Array(capacity);
    this.errors = new Float64Array(capacity);
    this.heap = new Int32Array(capacity);
    this.heapAt = new Int32Array(capacity);
  }

  get size(): number {
    return this.keys.length;
  }

  add(key: string, weight: number): void {
    this.total += weight;
    const slot = this.slotOf.get(key);
    if (slot !== undefined) {
      this.counts[slot] += weight;
      this.siftDown(this.heapAt[slot]!);
      return;
    }
    const n = this.keys.length;
    if (n < this.capacity) {
      this.keys.push(key);
      this.counts[n] = weight;
      this.errors[n] = 0;
      this.heap[n] = n;
      this.heapAt[n] = n;
      this.slotOf.set(key, n);
      this.siftUp(n);
      return;
    }
    // Replace the minimum (the root): the newcomer may have been counted there all along.
    const root = this.heap[0]!;
    const min = this.counts[root]!;
    this.slotOf.delete(this.keys[root]!);
    this.keys[root] = key;
    this.counts[root] = min + weight;
    this.errors[root] = min;
    this.slotOf.set(key, root);
    this.siftDown(0);
  }

  /** Every counter, in no order (for merging). */
  entries(): Counted[] {
    return this.keys.map((key, i) => ({ key, count: this.counts[i]!, error: this.errors[i]! }));
  }

  private countAt(i: number): number {
    return this.counts[this.heap[i]!]!;
  }

  private swap(a: number, b: number): void {
    const sa = this.heap[a]!, sb = this.heap[b]!;
    this.heap[a] = sb;
    this.heap[b] = sa;
    this.heapAt[sb] = a;
    this.heapAt[sa] = b;
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.countAt(parent) <= this.countAt(i)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const n = this.keys.length;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let least = i;
      if (l < n && this.countAt(l) < this.countAt(least)) least = l;
      if (r < n && this.countAt(r) < this.countAt(least)) least = r;
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
