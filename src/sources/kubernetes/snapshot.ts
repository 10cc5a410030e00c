// The last-known cluster zone across restarts (--state-dir). Once the source has synced, the zone is
// saved (a trailing SAVE_DELAY_MS after the first unsaved change, so a busy cluster writes at most every
// few seconds). A kdns that starts while the API server is unreachable serves the saved view at once,
// says so (/ready's body, kdns_kubernetes_snapshot_age_seconds), and when the source syncs, the live
// view replaces it: live changes land on top of it as they arrive, and at sync whatever only the
// snapshot had is deleted. A snapshot that does not read back is ignored with one log line.

import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { RrSet, RrSetChange } from '../../dns/types.js';
import type { LocalNames } from '../../server/local-names.js';
import type { Zone } from '../../zone/index.js';
import type { ClusterSink } from './cluster-zone.js';
import { readClusterSnapshot, SnapshotProblem, writeClusterSnapshot, type ClusterSnapshot } from './snapshot-file.js';

export const SAVE_DELAY_MS = 2000;

export class SnapshotKeeper {
  private readonly file: string;
  private readonly origin: string;
  private readonly log: Logger;
  private zone: Zone | null = null;
  private reverse: LocalNames | null = null;
  private inner: ClusterSink | null = null;
  /** When the snapshot being served was saved; null once live data replaced it (or there was none). */
  private restoredAt: number | null = null;
  /** While a snapshot is served: "type name" of every RRset the live source has set (what is not stale). */
  private live: Set<string> | null = null;
  private synced = false;
  private saveTimer: NodeJS.Timeout | null = null;

  constructor(opts: { file: string; origin: string; log: Logger; registry?: Registry }) {
    this.file = opts.file;
    this.origin = opts.origin;
    this.log = opts.log;
    if (opts.registry !== undefined) this.registerMetrics(opts.registry);
  }

  /** Seconds since the snapshot being served was saved; null when the zone is live. */
  get snapshotAge(): number | null {
    return this.restoredAt === null ? null : Math.max(0, (Date.now() - this.restoredAt) / 1000);
  }

  /** `inner`, with the live source's changes tracked while a snapshot is served and saved once synced. */
  wrap(inner: ClusterSink): ClusterSink {
    this.inner = inner;
    return {
      reverse: inner.reverse,
      adopt: (zone, reverse) => {
        this.zone = zone;
        this.reverse = reverse;
        inner.adopt(zone, reverse);
      },
      apply: (zone, reverse, inZone, reverseChanges) => {
        if (this.live !== null) {
          track(this.live, inZone);
          track(this.live, reverseChanges);
        }
        inner.apply(zone, reverse, inZone, reverseChanges);
        if (this.synced) this.scheduleSave();
      },
      ready: (zone) => inner.ready(zone),
    };
  }

  /**
   * Loads the saved view into the zone (through the wrapped sink, after adopt, before the source's first
   * change, so everything the source sets from then on counts as live); true when the zone holds it. The
   * caller then marks the zone ready.
   */
  restore(): boolean {
    let snapshot: ClusterSnapshot | null;
    try {
      snapshot = readClusterSnapshot(this.file, this.origin);
    } catch (e) {
      if (!(e instanceof SnapshotProblem)) throw e;
      this.log.warn({ file: this.file, reason: e.message }, 'cluster zone snapshot ignored: it does not read back');
      return false;
    }
    if (snapshot === null) return false;
    this.live = new Set();
    this.inner!.apply(this.zone!, this.reverse!, snapshot.rrsets.map(upsert), snapshot.reverse.map(upsert));
    this.restoredAt = snapshot.savedAt;
    this.log.info({ file: this.file, savedAt: new Date(snapshot.savedAt).toISOString(), ageSeconds: Math.round(this.snapshotAge!),
      rrsets: snapshot.rrsets.length, reverse: snapshot.reverse.length }, 'serving the cluster zone from a snapshot until the source syncs');
    return true;
  }

  /** The source has synced: drop what only the snapshot had, and save the live view from now on. */
  sourceSynced(): void {
    const live = this.live;
    if (live !== null) {
      const zoneStale: RrSetChange[] = [];
      for (const name of this.zone!.names()) {
        const node = this.zone!.node(name)!;
        if (node.marked && !live.has('0 ' + name)) zoneStale.push({ op: 'delete', name, type: 0 });
        for (const set of node.rrsets) if (!live.has(set.type + ' ' + name)) zoneStale.push({ op: 'delete', name, type: set.type });
      }
      const reverseStale: RrSetChange[] = [];
      for (const name of this.reverse!.names()) {
        for (const type of new Set(this.reverse!.records(name).map((r) => r.type))) {
          if (!live.has(type + ' ' + name)) reverseStale.push({ op: 'delete', name, type });
        }
      }
      this.live = null;
      if (zoneStale.length + reverseStale.length > 0) this.inner!.apply(this.zone!, this.reverse!, zoneStale, reverseStale);
      this.log.info({ removed: zoneStale.length + reverseStale.length }, 'cluster zone live: the snapshot is replaced');
    }
    this.restoredAt = null;
    this.synced = true;
    this.save();
  }

  close(): void {
    if (this.saveTimer !== null) clearTimeout(this.saveTimer);
    this.saveTimer = null;
  }

  private scheduleSave(): void {
    if (this.saveTimer !== null) return;
    this.saveTimer = setTimeout(() => this.save(), SAVE_DELAY_MS);
    this.saveTimer.unref();
  }

  private save(): void {
    if (this.saveTimer !== null) clearTimeout(this.saveTimer);
    this.saveTimer = null;
    const zone = this.zone!;
    const rrsets: RrSet[] = [];
    for (const name of zone.names()) {
      const node = zone.node(name)!;
      if (node.marked) rrsets.push({ name, type: 0, class: 1, ttl: 0, rdatas: [] });
      rrsets.push(...node.rrsets);
    }
    const reverse: RrSet[] = [];
    for (const name of this.reverse!.names()) reverse.push(...rrsetsOf(this.reverse!, name));
    try {
      writeClusterSnapshot(this.file, this.origin, { savedAt: Date.now(), rrsets, reverse });
    } catch (e) {
      this.log.warn({ file: this.file, err: e }, 'cluster zone snapshot not saved');
    }
  }

  private registerMetrics(registry: Registry): void {
    const age = (): number | null => this.snapshotAge;
    new Gauge({
      name: 'kdns_kubernetes_snapshot_age_seconds',
      help: 'While the cluster zone is served from a --state-dir snapshot (the source has not synced): how old it is; 0 once live.',
      registers: [registry],
      collect() {
        this.set(age() ?? 0);
      },
    });
    new Gauge({
      name: 'kdns_kubernetes_snapshot_serving',
      help: '1 while the cluster zone is served from a --state-dir snapshot, else 0.',
      registers: [registry],
      collect() {
        this.set(age() === null ? 0 : 1);
      },
    });
  }
}

function track(live: Set<string>, changes: readonly RrSetChange[]): void {
  for (const c of changes) {
    // An upsert without RDATA deletes (type 0 without RDATA is the mark, which is data).
    if (c.op === 'upsert' && (c.rrset.type === 0 || c.rrset.rdatas.length > 0)) live.add(c.rrset.type + ' ' + c.rrset.name);
    else if (c.op === 'upsert') live.delete(c.rrset.type + ' ' + c.rrset.name);
    else live.delete(c.type + ' ' + c.name);
  }
}

function upsert(rrset: RrSet): RrSetChange {
  return { op: 'upsert', rrset };
}

/** A local store's records of one name, grouped by type. */
function rrsetsOf(store: LocalNames, name: string): RrSet[] {
  const byType = new Map<number, RrSet>();
  for (const rr of store.records(name)) {
    let set = byType.get(rr.type);
    if (set === undefined) byType.set(rr.type, set = { name, type: rr.type, class: rr.class, ttl: rr.ttl, rdatas: [] });
    set.rdatas.push(rr.rdata);
  }
  return [...byType.values()];
}
