// The control plane's zone truth. Sources change zones only through the hub; each change is applied to
// the main thread's ZoneSet (read by /ready and tests) and published as one versioned Delta, so every
// data-plane replica that applies deltas 1, 2, 3... in order holds exactly what the hub holds.

import { isAtOrBelow } from '../dns/name.js';
import type { Rr, RrSet, RrSetChange } from '../dns/types.js';
import { LocalNames } from '../server/local-names.js';
import { Zone, ZoneSet } from '../zone/index.js';
import { viewSet } from '../views/zones.js';
import {
  LOCAL_STORES, type DistributiveOmit, type LocalStore, nowMs, packChanges, packRecords, packRrSets, type Delta, type Snapshot, type ZoneSnapshot,
} from './protocol.js';

export { LOCAL_STORES, type LocalStore };
export type DeltaListener = (delta: Delta) => void;

export class ZoneHub {
  readonly zones: ZoneSet;
  /** One LocalNames per LOCAL_STORES entry, in that order (what the Responder's `local` takes). */
  readonly local: LocalNames[] = LOCAL_STORES.map(() => new LocalNames());
  /** Zones only one view serves (its zone files, src/views), by view name: fixed at start. */
  readonly viewZones = new Map<string, ZoneSet>();
  private versionCounter = 0;
  private readonly listeners = new Set<DeltaListener>();

  /** `zones` lets main.ts hand over zones it already built; the hub owns them from then on. */
  constructor(zones: ZoneSet = new ZoneSet()) {
    this.zones = zones;
  }

  get version(): number {
    return this.versionCounter;
  }

  /** Adds (or replaces) a zone with these RRsets. `ready` false answers SERVFAIL until setReady(true). */
  addZone(origin: string, rrsets: RrSet[], ready: boolean): void {
    const zone = new Zone(origin);
    zone.replaceAll(rrsets); // throws on an out-of-zone name before anything is published
    zone.ready = ready;
    this.zones.add(zone);
    this.emit({ kind: 'add-zone', origin, ready, rrsets: packRrSets(rrsets) });
  }

  /** Adds a zone only view `view` serves (a view's zone file, src/views); the same origin may be in other views. */
  addViewZone(view: string, zone: Zone): void {
    viewSet(this.viewZones, view).add(zone);
    this.emit({ kind: 'add-zone', origin: zone.origin, ready: zone.ready, rrsets: packRrSets(zoneContent(zone)), view });
  }

  /**
   * Adds a zone object built elsewhere (the cluster zone, dynamic zones). Its content is published; from
   * now on change it only through the hub. Only data crosses threads: rules that are code (the insecure
   * pod rule) are rebuilt by each worker (README.md, Known gaps).
   */
  adoptZone(zone: Zone): void {
    this.zones.add(zone);
    this.emit({ kind: 'add-zone', origin: zone.origin, ready: zone.ready, rrsets: packRrSets(zoneContent(zone)) });
  }

  removeZone(origin: string): void {
    if (this.zones.get(origin) === undefined) return;
    this.zones.remove(origin);
    this.emit({ kind: 'remove-zone', origin });
  }

  /**
   * Applies changes to one zone, all or nothing: every change is checked first, because a change the
   * main thread refused half-way would leave the replicas (which get the whole delta) out of step.
   */
  apply(origin: string, changes: RrSetChange[]): void {
    const zone = this.requireZone(origin);
    for (const c of changes) checkChange(zone, c);
    if (changes.length === 0) return;
    for (const c of changes) zone.apply(c);
    this.emit({ kind: 'changes', origin, changes: packChanges(changes) });
  }

  setReady(origin: string, ready: boolean): void {
    const zone = this.requireZone(origin);
    if (zone.ready === ready) return;
    zone.ready = ready;
    this.emit({ kind: 'ready', origin, ready });
  }

  /** Replaces all of one local store (hosts data by default). */
  replaceLocal(records: Rr[], store: LocalStore = 'hosts'): void {
    this.local[storeIndex(store)]!.replaceAll(records);
    this.emit({ kind: 'local', store, replace: true, changes: packRecords(records) });
  }

  /** Changes some RRsets of one local store (the cluster's reverse names). */
  applyLocal(store: LocalStore, changes: RrSetChange[]): void {
    const local = this.local[storeIndex(store)]!;
    if (changes.length === 0) return;
    for (const c of changes) local.apply(c);
    this.emit({ kind: 'local', store, replace: false, changes: packChanges(changes) });
  }

  /**
   * Says which subtrees a local store has not loaded yet (the cluster's reverse names before its first
   * sync); [] once it has. Queries there are answered SERVFAIL meanwhile (LocalNames.unsyncedBelow).
   */
  setLocalUnsynced(store: LocalStore, below: string[]): void {
    const local = this.local[storeIndex(store)]!;
    if (local.unsyncedBelow.length === below.length && below.every((r, i) => local.unsyncedBelow[i] === r)) return;
    local.unsyncedBelow = [...below];
    this.emit({ kind: 'local-unsynced', store, below: [...below] });
  }

  /** Everything, at the current version: what a starting or recovering worker loads. */
  snapshot(): Snapshot {
    const zones: ZoneSnapshot[] = this.zones.zones().map((zone) => ({
      origin: zone.origin,
      ready: zone.ready,
      rrsets: packRrSets(zoneContent(zone)),
    }));
    for (const [view, set] of this.viewZones) {
      for (const zone of set.zones()) zones.push({ origin: zone.origin, view, ready: zone.ready, rrsets: packRrSets(zoneContent(zone)) });
    }
    const local = this.local.map((store) => packRecords(store.allRecords()));
    const localUnsynced = this.local.map((l) => [...l.unsyncedBelow]);
    return { version: this.versionCounter, zones, local, localUnsynced };
  }

  /** Calls `listener` with every delta from now on; returns the unsubscribe function. */
  subscribe(listener: DeltaListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private requireZone(origin: string): Zone {
    const zone = this.zones.get(origin);
    if (zone === undefined) throw new RangeError(`zone hub: no zone ${origin}`);
    return zone;
  }

  private emit(body: DistributiveOmit<Delta, 'version' | 'at'>): void {
    this.versionCounter++;
    const delta = { ...body, version: this.versionCounter, at: nowMs() } as Delta;
    for (const listener of this.listeners) listener(delta);
  }
}

function storeIndex(store: LocalStore): number {
  const i = LOCAL_STORES.indexOf(store);
  if (i < 0) throw new RangeError(`zone hub: no local store ${String(store)}`);
  return i;
}

/** The same checks Zone.apply makes, without changing anything. */
function checkChange(zone: Zone, c: RrSetChange): void {
  const name = c.op === 'upsert' ? c.rrset.name : c.name;
  if (!isAtOrBelow(name, zone.origin)) throw new RangeError(`zone ${zone.origin}: name ${name} is out of zone`);
  if (c.op === 'upsert' && c.rrset.type === 0 && c.rrset.rdatas.length !== 0) {
    throw new RangeError(`zone ${zone.origin}: type 0 cannot carry RDATA`);
  }
}

/** A zone's RRsets plus a type-0 entry for each marked name, as Zone.replaceAll takes them. */
export function zoneContent(zone: Zone): RrSet[] {
  const out: RrSet[] = [];
  for (const name of zone.names()) {
    const node = zone.node(name)!;
    if (node.marked) out.push({ name, type: 0, class: 1, ttl: 0, rdatas: [] });
    for (const rrset of node.rrsets) out.push(rrset);
  }
  return out;
}
