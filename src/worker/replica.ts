// A worker's read-only copy of the hub: a ZoneSet and LocalNames that only snapshots and deltas change,
// strictly in version order. The responder reads the same objects; after each batch the replica tells
// it which compiled answers went stale (the names Zone.apply put in the batch's change set, or everything when a zone
// appears, disappears or flips readiness, or hosts data change).

import { LocalNames } from '../server/local-names.js';
import { Zone, ZoneSet } from '../zone/index.js';
import { viewSet } from '../views/zones.js';
import { LOCAL_STORES, nowMs, unpackChanges, unpackRecords, unpackRrSets, type Delta, type Snapshot } from './protocol.js';

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
  configureZone?(zone: Zone): void;
}

export interface BatchResult {
  /** Deltas applied from this batch. */
  applied: number;
  /** nowMs() − the oldest applied delta's emit time, in seconds; 0 when nothing was applied. */
  lagSeconds: number;
}

export class Replica {
  readonly zones: ZoneSet;
  /** One per LOCAL_STORES entry, in order: pass as the Responder's `local`. */
  readonly local: LocalNames[];
  /** Zones only one view serves, by view name (hub.viewZones); the sets stay, snapshots refill them. */
  readonly viewZones = new Map<string, ZoneSet>();
  private versionCounter = -1; // no snapshot yet
  private awaitingSnapshot = false;
  private cache: AnswerCache | null = null;
  private readonly events: ReplicaEvents;
  // Per batch: names changed in any zone, and whether everything must go.
  private readonly changed = new Set<string>();
  private flushAll = false;

  constructor(events: ReplicaEvents, zones: ZoneSet = new ZoneSet()) {
    this.events = events;
    this.zones = zones;
    this.local = LOCAL_STORES.map(() => new LocalNames());
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
    for (const set of [this.zones, ...this.viewZones.values()]) for (const zone of set.zones()) set.remove(zone.origin);
    for (const z of s.zones) this.zoneSetOf(z.view).add(this.buildZone(z.origin, z.rrsets, z.ready));
    for (let i = 0; i < this.local.length; i++) {
      const packed = s.local[i];
      this.local[i]!.replaceAll(packed === undefined ? [] : unpackRecords(packed));
      this.local[i]!.unsyncedBelow = s.localUnsynced[i] ?? [];
    }
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

  /** A replica zone: its content, readiness, change reporting and code-level rules (pod records). */
  private buildZone(origin: string, rrsets: Parameters<typeof unpackRrSets>[0], ready: boolean): Zone {
    const zone = new Zone(origin);
    zone.replaceAll(unpackRrSets(rrsets));
    zone.ready = ready;
    this.events.configureZone?.(zone);
    return zone;
  }

  private applyOne(d: Delta): void {
    switch (d.kind) {
      case 'add-zone': {
        this.zoneSetOf(d.view).add(this.buildZone(d.origin, d.rrsets, d.ready));
        this.flushAll = true;
        return;
      }
      case 'remove-zone':
        this.zones.remove(d.origin);
        this.flushAll = true;
        return;
      case 'changes': {
        const zone = this.zones.get(d.origin);
        if (zone === undefined) throw new RangeError(`no zone ${d.origin}`);
        for (const c of unpackChanges(d.changes)) zone.apply(c, this.changed);
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
        if (d.replace) {
          local.replaceAll(unpackRecords(d.changes));
          this.flushAll = true;
        } else {
          for (const c of unpackChanges(d.changes)) this.changed.add(local.apply(c));
        }
        return;
      }
      case 'local-unsynced': {
        const local = this.local[LOCAL_STORES.indexOf(d.store)];
        if (local === undefined) throw new RangeError(`no local store ${d.store}`);
        local.unsyncedBelow = d.below;
        this.flushAll = true; // SERVFAILs compiled for those names go, and the negative table is rebuilt
        return;
      }
    }
  }

  private zoneSetOf(view: string | undefined): ZoneSet {
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
