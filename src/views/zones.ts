// What one view's responder answers from: the zones only it serves (its zone files) and those shared
// zones (the cluster zone, dynamic zones) it is configured to see. Read-only: the replica changes the
// sets underneath, and the responder reads them through this, as it reads a plain ZoneSet.

import { parentOf } from '../dns/name.js';
import { ZoneSet, type Zone, type ZoneReader, type ZoneSetReader } from '../zone/index.js';

/** The zone set of one view in `sets`, made on first use, so hub and replica keep the same object per view. */
export function viewSet<Z extends ZoneReader = Zone>(sets: Map<string, ZoneSet<Z>>, view: string): ZoneSet<Z> {
  let set = sets.get(view);
  if (set === undefined) sets.set(view, set = new ZoneSet<Z>());
  return set;
}

export class ViewZoneSet<Z extends ZoneReader = Zone> implements ZoneSetReader<Z> {
  /**
   * `own`: the view's zone files; `shared`: the zones of every view, of which the view sees `sharedOrigins`.
   * A zone of its own shadows a shared zone of the same origin.
   */
  constructor(
    private readonly own: ZoneSetReader<Z>, private readonly shared: ZoneSetReader<Z>, private readonly sharedOrigins: ReadonlySet<string>,
  ) {}

  get(origin: string): Z | undefined {
    return this.own.get(origin) ?? (this.sharedOrigins.has(origin) ? this.shared.get(origin) : undefined);
  }

  findZone(qname: string): Z | undefined {
    for (let name: string | null = qname; name !== null; name = parentOf(name)) {
      const zone = this.get(name);
      if (zone !== undefined) return zone;
    }
    return undefined;
  }

  zones(): Z[] {
    const own = this.own.zones();
    const shadowed = new Set(own.map((z) => z.origin));
    return [...own, ...this.shared.zones().filter((z) => this.sharedOrigins.has(z.origin) && !shadowed.has(z.origin))];
  }
}
