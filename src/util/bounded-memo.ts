// A memo of a pure function on a hot path: a Map that empties itself once it holds `limit` entries, so a
// flood of distinct keys (random names, spoofed addresses) costs recomputation, never unbounded memory.
// The function is given once, at construction, so a lookup allocates nothing (no closure per call).

export class BoundedMemo<K, V> {
  private readonly map = new Map<K, V>();
  private readonly limit: number;
  private readonly compute: (key: K) => V;

  constructor(limit: number, compute: (key: K) => V) {
    this.limit = limit;
    this.compute = compute;
  }

  get(key: K): V {
    const known = this.map.get(key);
    if (known !== undefined) return known;
    if (this.map.size >= this.limit) this.map.clear();
    const value = this.compute(key);
    this.map.set(key, value);
    return value;
  }

  /** The remembered value, or undefined (nothing is computed or stored). */
  peek(key: K): V | undefined {
    return this.map.get(key);
  }

  clear(): void {
    this.map.clear();
  }
}
