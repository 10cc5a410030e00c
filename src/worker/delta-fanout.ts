// Delta fan-out: every delta the hub emits goes to every running worker, batched per event-loop turn
// (one message per worker per turn however many changes a source made in it). Snapshots for workers
// that start or resync are made once per hub version and shared by the workers that need that one.

import type { ZoneHub } from './hub.js';
import type { Delta, Snapshot, ToWorker } from './protocol.js';

export class DeltaFanout {
  private readonly hub: ZoneHub;
  private readonly post: (msg: ToWorker) => void;
  private pending: Delta[] = [];
  private flushScheduled = false;
  private unsubscribe: (() => void) | null;
  private cachedSnapshot: Snapshot | null = null;

  /** `post` sends one message to every worker that is running now. */
  constructor(hub: ZoneHub, post: (msg: ToWorker) => void) {
    this.hub = hub;
    this.post = post;
    this.unsubscribe = hub.subscribe((d) => this.onDelta(d));
  }

  /** The hub's content at its current version (shared by every worker that loads this version). */
  snapshot(): Snapshot {
    if (this.cachedSnapshot === null || this.cachedSnapshot.version !== this.hub.version) this.cachedSnapshot = this.hub.snapshot();
    return this.cachedSnapshot;
  }

  /**
   * No worker is starting: drop the shared snapshot (small now: the image it names is the hub's own,
   * but it would pin an image the hub has since replaced), and a later restart or resync makes a fresh one.
   */
  releaseSnapshot(): void {
    this.cachedSnapshot = null;
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  private onDelta(delta: Delta): void {
    this.pending.push(delta);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const deltas = this.pending;
    this.pending = [];
    if (deltas.length > 0) this.post({ type: 'delta', deltas });
  }
}
