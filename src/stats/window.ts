// A sliding window of space-saving summaries: `buckets` summaries of `windowMs / buckets` each, the oldest
// dropped as time moves on, so the top list covers the last window (give or take one bucket) in bounded
// memory: buckets × capacity counters, whatever the traffic.

import { mergeTop, SpaceSaving, type Counted } from './space-saving.js';

export class WindowedTop {
  private readonly ring: SpaceSaving[] = [];
  private readonly bucketMs: number;
  /** Index of the bucket of time `now`: floor(now / bucketMs). */
  private current = -1;

  constructor(private readonly capacity: number, windowMs: number, private readonly buckets: number, private readonly now: () => number = Date.now) {
    this.bucketMs = Math.max(1, Math.floor(windowMs / buckets));
  }

  /** `now`: the caller's clock reading, so a sample added to several windows reads the clock once. */
  add(key: string, weight: number, now: number = this.now()): void {
    this.advance(now);
    this.ring[this.ring.length - 1]!.add(key, weight);
  }

  /** The `n` heaviest keys of the window, and the window's total weight. */
  top(n: number): { total: number; top: Counted[] } {
    this.advance(this.now());
    let total = 0;
    for (const s of this.ring) total += s.total;
    return { total, top: mergeTop(this.ring.map((s) => s.entries()), n) };
  }

  private advance(now: number): void {
    const bucket = Math.floor(now / this.bucketMs);
    if (bucket === this.current) return;
    // Buckets between the last one used and now were empty: drop as many of the oldest.
    const steps = this.current < 0 ? 1 : Math.min(bucket - this.current, this.buckets);
    for (let i = 0; i < steps; i++) {
      this.ring.push(new SpaceSaving(this.capacity));
      if (this.ring.length > this.buckets) this.ring.shift();
    }
    this.current = bucket;
  }
}
