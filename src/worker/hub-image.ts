// The hub's zone image (src/zone/image.ts): the one copy of every served name and RRset that all workers
// read. The hub changes its Zones and local stores first, then tells this class which names changed;
// their current content is written to the image. When the image is full, or its garbage passes the
// limit, a fresh one is built from the Zones (the truth) and `replaced` says so: the hub then posts the
// new buffers to the workers as an `image` delta.

import type { Rr, RrSet } from '../dns/types.js';
import type { LocalNames } from '../server/local-names.js';
import { ImageFullError, ZoneImageWriter, type NodeView, type Zone, type ZoneImage, type ZoneSet } from '../zone/index.js';
import { LOCAL_STORES, localStoreId } from './protocol.js';

/** Where a new image starts, and the least a rebuilt one gets. */
const MIN_HEAP = 1 << 20;
/** Room a rebuild leaves, as a multiple of the live data: when the image was full, and when compacting. */
const GROW = 2;
const COMPACT = 1.5;

export interface ImageStats {
  /** Bytes of the image's buffers (table + heap). */
  bytes: number;
  /** Heap bytes written so far, garbage included. */
  used: number;
  garbage: number;
  rebuilds: number;
}

export class HubImage {
  private writer = new ZoneImageWriter(MIN_HEAP, 1024);
  private readonly zones: ZoneSet;
  private readonly local: LocalNames[];
  private readonly ids = new Map<string, number>();
  /** Zones only one view serves (src/views), by image id: fixed at start, never changed or retired. */
  private readonly viewZones = new Map<number, Zone>();
  private nextId = LOCAL_STORES.length + 1;
  private rebuildCount = 0;
  private replacedSinceTaken = false;

  constructor(zones: ZoneSet, local: LocalNames[]) {
    this.zones = zones;
    this.local = local;
  }

  get image(): ZoneImage {
    return this.writer.image;
  }

  get stats(): ImageStats {
    return { bytes: this.writer.capacity, used: this.writer.heapUsed, garbage: this.writer.garbage, rebuilds: this.rebuildCount };
  }

  /** The image id of a served zone. */
  idOf(origin: string): number {
    const id = this.ids.get(origin);
    if (id === undefined) throw new RangeError(`zone image: no zone ${origin}`);
    return id;
  }

  /** Writes every name of `zone` under a fresh id. Retire the zone it replaces first (retireZone). */
  addZone(zone: Zone): number {
    const id = this.nextId++;
    this.ids.set(zone.origin, id);
    this.zoneChanged(zone, zone.names());
    return id;
  }

  /** Writes every name of a view's own zone (its origin may be served elsewhere too) under a fresh id. */
  addViewZone(zone: Zone): number {
    const id = this.nextId++;
    this.viewZones.set(id, zone);
    this.guarded((w) => w.writeZoneNames(id, zone, zone.names()));
    return id;
  }

  /**
   * The zone with this origin (still in the ZoneSet) is about to go or be replaced: its names become
   * garbage, readable until the next rebuild, so workers answer from it until its delta arrives.
   */
  retireZone(origin: string): void {
    const id = this.ids.get(origin);
    const zone = this.zones.get(origin);
    if (id === undefined) return;
    this.ids.delete(origin);
    if (zone !== undefined) for (const name of zone.names()) this.writer.retire(id, name);
    this.compactIfWorth();
  }

  /** Publishes the current content of `names` of `zone`. */
  zoneChanged(zone: Zone, names: Iterable<string>): void {
    const id = this.idOf(zone.origin);
    this.guarded((w) => w.writeZoneNames(id, zone, names));
  }

  /** Publishes the current records of `names` of local store `index`. */
  localChanged(index: number, names: Iterable<string>): void {
    const store = this.local[index]!;
    this.guarded((w) => {
      for (const name of names) w.write(localStoreId(index), name, localNode(store.records(name)));
    });
  }

  /** True once after the image was replaced by a fresh one (post it to the workers). */
  takeReplaced(): boolean {
    const replaced = this.replacedSinceTaken;
    this.replacedSinceTaken = false;
    return replaced;
  }

  /** Runs writes; a full image is rebuilt from the truth, which already holds what failed to go in. */
  private guarded(writes: (w: ZoneImageWriter) => void): void {
    try {
      writes(this.writer);
    } catch (err) {
      if (!(err instanceof ImageFullError)) throw err;
      this.rebuild(GROW);
      return;
    }
    this.compactIfWorth();
  }

  private compactIfWorth(): void {
    if (this.writer.needsCompaction()) this.rebuild(COMPACT);
  }

  /** A fresh image with everything served now, `room`× what is live (doubling until it fits). */
  private rebuild(room: number): void {
    const old = this.writer;
    let heap = Math.max(MIN_HEAP, Math.ceil((old.heapUsed - old.garbage) * room));
    // The table takes names up to half its slots (image.ts); dead names are counted, so this is generous.
    let slots = Math.max(1024, Math.ceil(old.names * 2 * room));
    for (;;) {
      const next = new ZoneImageWriter(heap, slots);
      try {
        this.fill(next);
      } catch (err) {
        if (!(err instanceof ImageFullError)) throw err;
        heap *= 2;
        slots *= 2;
        continue;
      }
      this.writer = next;
      this.rebuildCount++;
      this.replacedSinceTaken = true;
      return;
    }
  }

  private fill(w: ZoneImageWriter): void {
    this.local.forEach((store, i) => {
      for (const name of store.names()) w.write(localStoreId(i), name, localNode(store.records(name)));
    });
    for (const [origin, id] of this.ids) {
      const zone = this.zones.get(origin)!;
      w.writeZoneNames(id, zone, zone.names());
    }
    for (const [id, zone] of this.viewZones) w.writeZoneNames(id, zone, zone.names());
  }
}

/** A local name's records as image RRsets: consecutive records of one type, class and TTL make one. */
function localNode(records: readonly Rr[]): NodeView | undefined {
  if (records.length === 0) return undefined;
  const rrsets: RrSet[] = [];
  let last: RrSet | null = null;
  for (const r of records) {
    if (last === null || last.type !== r.type || last.class !== r.class || last.ttl !== r.ttl) {
      last = { name: r.name, type: r.type, class: r.class, ttl: r.ttl, rdatas: [] };
      rrsets.push(last);
    }
    last.rdatas.push(r.rdata);
  }
  return { rrsets, marked: false };
}
