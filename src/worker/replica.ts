// A worker's view of the hub: the zones and local stores as readers over the shared zone image (no copy
// of the data), plus what only messages carry: which zones are served under which image id, their
// readiness and the local stores' unsynced subtrees. Snapshots and deltas change it strictly in version
// order; after each batch the replica tells the responder which compiled answers went stale (the names
// the deltas carry, or everything when a zone appears, disappears or flips readiness, hosts data are
// replaced, or the image is rebuilt).

import { ImageLocalNames } from '../server/image-local-names.js';
import { ImageZone, ZoneImageReader, ZoneSet, type ImageSource, type ZoneImage } from '../zone/index.js';
import { viewSet } from '../views/zones.js';
import { LOCAL_STORES, localStoreId, nowMs, type Delta, type Snapshot } from './protocol.js';

/** What the replica needs from the responder (Responder satisfies it). */
export interface AnswerCache {
  invalidate(): void;
  /** Drops answers that depended on these names; without it the replica flushes everything. */
  invalidateNames?(keys: string[]): void;
}

export interface ReplicaEvents {
  /** The replica saw a gap (or failed to apply a delta): send a snapshot. Called once until one arrives. */
  needSnapshot(version: number, reason: string): void;
  /** Called for every zone the replica creates, before it answers: rules that are code, not data (pod records). */
  configureZone?(zone: ImageZone): void;
}

export interface BatchResult {
  /** Deltas applied from this batch. */
  applied: number;
  /** nowMs() − the oldest applied delta's emit time, in seconds; 0 when nothing was applied. */
  lagSeconds: number;
}

export class Replica {
  readonly zones = new ZoneSet<ImageZone>();
  /** One per LOCAL_STORES entry, in order: pass as the Responder's `local`. */
  readonly local: ImageLocalNames[];
  /** Zones only one view serves, by view name (hub.viewZones); the sets stay, snapshots refill them. */
  readonly viewZones = new Map<string, ZoneSet<ImageZone>>();
  /** The image every zone and store reads; replaced whole when the hub rebuilds it. */
  private readonly source: ImageSource;
  private versionCounter = -1; // no snapshot yet
  private awaitingSnapshot = false;
  private cache: AnswerCache | null = null;
  private readonly events: ReplicaEvents;
  // Per batch: names changed in any zone, and whether everything must go.
  private readonly changed = new Set<string>();
  private flushAll = false;

  constructor(events: ReplicaEvents) {
    this.events = events;
    // An empty image until the first snapshot (nothing is answered before it: the worker binds after).
    this.source = { reader: new ZoneImageReader({ table: new SharedArrayBuffer(1024 * 16), heap: new SharedArrayBuffer(16) }) };
    this.local = LOCAL_STORES.map((_, i) => new ImageLocalNames(localStoreId(i), this.source));
  }

  /** The image read now (tests, metrics). */
  get image(): ZoneImage {
    return this.source.reader.image;
  }

  /** The hub version this replica holds; -1 before the first snapshot. */
  get version(): number {
    return this.versionCounter;
  }

  get hasSnapshot(): boolean {
    return this.versionCounter >= 0;
  }

  /** The answer cache to invalidate (set once the responder exists: it needs the zones first). */
  attach(cache: AnswerCache): void {
    this.cache = cache;
  }

  /** Replaces everything with the snapshot's content. An older snapshot than what we hold is ignored. */
  applySnapshot(s: Snapshot): void {
    if (s.version < this.versionCounter && !this.awaitingSnapshot) return;
    this.attachImage(s.image);
    for (const set of [this.zones, ...this.viewZones.values()]) for (const zone of set.zones()) set.remove(zone.origin);
    for (const z of s.zones) this.zoneSetOf(z.view).add(this.buildZone(z.origin, z.id, z.ready));
    for (let i = 0; i < this.local.length; i++) this.local[i]!.unsyncedBelow = s.localUnsynced[i] ?? [];
    this.versionCounter = s.version;
    this.awaitingSnapshot = false;
    this.changed.clear();
    this.cache?.invalidate();
  }

  /**
   * Applies a batch in order. Versions at or below ours are duplicates (deltas queued before the
   * snapshot we loaded) and skipped; a version beyond ours + 1 means one was lost: stop, ask for a
   * snapshot and ignore deltas until it comes (it holds everything emitted before it was taken).
   */
  applyDeltas(deltas: readonly Delta[]): BatchResult {
    let applied = 0;
    let oldest = Infinity;
    try {
      for (const d of deltas) {
        if (this.awaitingSnapshot || !this.hasSnapshot) break;
        if (d.version <= this.versionCounter) continue;
        if (d.version !== this.versionCounter + 1) {
          this.requestSnapshot(`version gap: have ${this.versionCounter}, got ${d.version}`);
          break;
        }
        try {
          this.applyOne(d);
        } catch (err) {
          // The hub checked this change before publishing it, so this is a replica out of step.
          this.requestSnapshot(`delta ${d.version} failed: ${(err as Error).message}`);
          break;
        }
        this.versionCounter = d.version;
        applied++;
        if (d.at < oldest) oldest = d.at;
      }
    } finally {
      this.invalidateCollected();
    }
    return { applied, lagSeconds: applied === 0 ? 0 : Math.max(0, nowMs() - oldest) / 1000 };
  }

  /** A zone of the image: its id, readiness and code-level rules (pod records). */
  private buildZone(origin: string, id: number, ready: boolean): ImageZone {
    const zone = new ImageZone(origin, id, ready, this.source);
    this.events.configureZone?.(zone);
    return zone;
  }

  private attachImage(image: ZoneImage): void {
    if (this.source.reader.image.heap !== image.heap) this.source.reader = new ZoneImageReader(image);
  }

  private applyOne(d: Delta): void {
    switch (d.kind) {
      case 'add-zone': {
        this.zoneSetOf(d.view).add(this.buildZone(d.origin, d.id, d.ready));
        this.flushAll = true;
        return;
      }
      case 'remove-zone':
        this.zones.remove(d.origin);
        this.flushAll = true;
        return;
      case 'changes': {
        if (this.zones.get(d.origin) === undefined) throw new RangeError(`no zone ${d.origin}`);
        for (const name of d.names) this.changed.add(name);
        return;
      }
      case 'ready': {
        const zone = this.zones.get(d.origin);
        if (zone === undefined) throw new RangeError(`no zone ${d.origin}`);
        if (zone.ready !== d.ready) this.flushAll = true;
        zone.ready = d.ready;
        return;
      }
      case 'local': {
        const local = this.local[LOCAL_STORES.indexOf(d.store)];
        if (local === undefined) throw new RangeError(`no local store ${d.store}`);
        if (d.replace) this.flushAll = true;
        else for (const name of d.names) this.changed.add(name);
        return;
      }
      case 'local-unsynced': {
        const local = this.local[LOCAL_STORES.indexOf(d.store)];
        if (local === undefined) throw new RangeError(`no local store ${d.store}`);
        local.unsyncedBelow = d.below;
        this.flushAll = true; // SERVFAILs compiled for those names go, and the negative table is rebuilt
        return;
      }
      case 'image':
        this.attachImage(d.image);
        this.flushAll = true; // answers compiled from the old image may predate changes only the new one has
        return;
    }
  }

  private zoneSetOf(view: string | undefined): ZoneSet<ImageZone> {
    return view === undefined ? this.zones : viewSet(this.viewZones, view);
  }

  private requestSnapshot(reason: string): void {
    if (this.awaitingSnapshot) return;
    this.awaitingSnapshot = true;
    this.events.needSnapshot(this.versionCounter, reason);
  }

  private invalidateCollected(): void {
    const cache = this.cache;
    if (this.flushAll || (this.changed.size > 0 && cache?.invalidateNames === undefined)) {
      cache?.invalidate();
    } else if (this.changed.size > 0) {
      cache!.invalidateNames!([...this.changed]);
    }
    this.flushAll = false;
    this.changed.clear();
  }
}
