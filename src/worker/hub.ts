// The control plane's zone truth. Sources change zones only through the hub; each change is applied to
// the main thread's ZoneSet (read by /ready, transfers and tests), written to the zone image every worker
// reads (hub-image.ts), and announced as one versioned Delta naming what changed, so every worker that
// applies deltas 1, 2, 3... in order has dropped every compiled answer the changes made stale.

import { isAtOrBelow } from '../dns/name.js';
import type { Rr, RrSet, RrSetChange } from '../dns/types.js';
import { LocalNames } from '../server/local-names.js';
import { Zone, ZoneSet } from '../zone/index.js';
import { viewSet } from '../views/zones.js';
import { HubImage, type ImageStats } from './hub-image.js';
import { LOCAL_STORES, type DistributiveOmit, type LocalStore, nowMs, type Delta, type Snapshot, type ZoneSnapshot } from './protocol.js';

export { LOCAL_STORES, type LocalStore };
export type DeltaListener = (delta: Delta) => void;

export class ZoneHub {
  readonly zones: ZoneSet;
  /** One LocalNames per LOCAL_STORES entry, in that order (what the Responder's `local` takes). */
  readonly local: LocalNames[] = LOCAL_STORES.map(() => new LocalNames());
  /** Zones only one view serves (its zone files, src/views), by view name: fixed at start. */
  readonly viewZones = new Map<string, ZoneSet>();
  /** The same zones with their image ids, in the order they were added. */
  private readonly viewZoneIds: { view: string; zone: Zone; id: number }[] = [];
  private versionCounter = 0;
  private readonly listeners = new Set<DeltaListener>();
  private readonly image: HubImage;

  /** `zones` lets main.ts hand over zones it already built; the hub owns them from then on. */
  constructor(zones: ZoneSet = new ZoneSet()) {
    this.zones = zones;
    this.image = new HubImage(zones, this.local);
    for (const zone of zones.zones()) this.image.addZone(zone);
  }

  /** The zone image's size and garbage (kdns_zone_image_* metrics). */
  get imageStats(): ImageStats {
    return this.image.stats;
  }

  get version(): number {
    return this.versionCounter;
  }

  /** Adds (or replaces) a zone with these RRsets. `ready` false answers SERVFAIL until setReady(true). */
  addZone(origin: string, rrsets: RrSet[], ready: boolean): void {
    const zone = new Zone(origin);
    zone.replaceAll(rrsets); // throws on an out-of-zone name before anything is published
    zone.ready = ready;
    this.adoptZone(zone);
  }

  /** Adds a zone only view `view` serves (a view's zone file, src/views); the same origin may be in other views. */
  addViewZone(view: string, zone: Zone): void {
    viewSet(this.viewZones, view).add(zone);
    const id = this.image.addViewZone(zone);
    this.viewZoneIds.push({ view, zone, id });
    this.emit({ kind: 'add-zone', origin: zone.origin, id, ready: zone.ready, view });
  }

  /**
   * Adds a zone object built elsewhere (the cluster zone, dynamic zones). Its content is published; from
   * now on change it only through the hub. Only data crosses threads: rules that are code (the insecure
   * pod rule) are rebuilt by each worker (README.md, Known gaps).
   */
  adoptZone(zone: Zone): void {
    this.image.retireZone(zone.origin);
    this.zones.add(zone);
    const id = this.image.addZone(zone);
    this.emit({ kind: 'add-zone', origin: zone.origin, id, ready: zone.ready });
  }

  removeZone(origin: string): void {
    if (this.zones.get(origin) === undefined) return;
    this.image.retireZone(origin);
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
    const touched = new Set<string>();
    for (const c of changes) zone.apply(c, touched);
    this.image.zoneChanged(zone, touched);
    this.emit({ kind: 'changes', origin, names: [...touched] });
  }

  setReady(origin: string, ready: boolean): void {
    const zone = this.requireZone(origin);
    if (zone.ready === ready) return;
    zone.ready = ready;
    this.emit({ kind: 'ready', origin, ready });
  }

  /** Replaces all of one local store (hosts data by default). */
  replaceLocal(records: Rr[], store: LocalStore = 'hosts'): void {
    const index = storeIndex(store);
    const local = this.local[index]!;
    const names = new Set(local.names());
    local.replaceAll(records);
    for (const name of local.names()) names.add(name);
    this.image.localChanged(index, names);
    this.emit({ kind: 'local', store, replace: true, names: [] });
  }

  /** Changes some RRsets of one local store (the cluster's reverse names). */
  applyLocal(store: LocalStore, changes: RrSetChange[]): void {
    const index = storeIndex(store);
    const local = this.local[index]!;
    if (changes.length === 0) return;
    const names = new Set<string>();
    for (const c of changes) names.add(local.apply(c));
    this.image.localChanged(index, names);
    this.emit({ kind: 'local', store, replace: false, names: [...names] });
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

  /** Everything, at the current version: what a starting or recovering worker attaches to. */
  snapshot(): Snapshot {
    const zones: ZoneSnapshot[] = this.zones.zones().map((zone) => ({ origin: zone.origin, id: this.image.idOf(zone.origin), ready: zone.ready }));
    for (const { view, zone, id } of this.viewZoneIds) zones.push({ origin: zone.origin, id, view, ready: zone.ready });
    const localUnsynced = this.local.map((l) => [...l.unsyncedBelow]);
    return { version: this.versionCounter, image: this.image.image, zones, localUnsynced };
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
    // A rebuilt image goes out first: the change's names are in it, and workers flush everything on it.
    if (this.image.takeReplaced()) this.publish({ kind: 'image', image: this.image.image });
    this.publish(body);
  }

  private publish(body: DistributiveOmit<Delta, 'version' | 'at'>): void {
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
