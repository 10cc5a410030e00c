// The zones this server is authoritative for, keyed by origin. A query belongs to the closest enclosing
// zone (the longest origin that is a suffix of the name, label-wise), so a child zone served alongside its
// parent answers for itself rather than being reached through the parent's delegation.

import { parentOf } from '../dns/name.js';
import type { ZoneReader, ZoneSetReader } from './reader.js';
import type { Zone } from './zone.js';

/** Zones of one kind: mutable `Zone`s (the hub, zone files) or a worker's `ImageZone`s. */
export class ZoneSet<Z extends ZoneReader = Zone> implements ZoneSetReader<Z> {
  private readonly byOrigin = new Map<string, Z>();

  /** Adds a zone, replacing any zone with the same origin. */
  add(zone: Z): void {
    this.byOrigin.set(zone.origin, zone);
  }

  remove(origin: string): void {
    this.byOrigin.delete(origin);
  }

  get(origin: string): Z | undefined {
    return this.byOrigin.get(origin);
  }

  /** Closest enclosing zone: walk up one label at a time, O(labels) Map lookups. */
  findZone(qname: string): Z | undefined {
    if (this.byOrigin.size === 0) return undefined;
    let name: string | null = qname;
    while (name !== null) {
      const zone = this.byOrigin.get(name);
      if (zone !== undefined) return zone;
      name = parentOf(name);
    }
    return undefined;
  }

  zones(): Z[] {
    return [...this.byOrigin.values()];
  }
}
