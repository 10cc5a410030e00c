// How a control-plane writer (dynamic zones today) changes a served zone without knowing the topology:
// in-process serving applies to the zone the responder reads and drops the answers that depended on the
// changed names; threaded serving goes through the ZoneHub, which ships ordered deltas to every worker.

import type { RrSetChange } from '../dns/types.js';
import type { Zone, ZoneSet } from '../zone/index.js';
import type { ZoneHub } from './hub.js';

export interface ZoneWriter {
  /** Starts serving `zone` with what it holds now; change it only through `apply` from then on. */
  add(zone: Zone): void;
  /** Applies changes to a zone added here, all of them or (on a bad change) none. */
  apply(zone: Zone, changes: RrSetChange[]): void;
}

export function directWriter(zones: ZoneSet, changed: (names: string[]) => void): ZoneWriter {
  return {
    add(zone) {
      zones.add(zone);
    },
    apply(zone, changes) {
      changed(applyCollectingNames(zone, changes));
    },
  };
}

/** Applies changes to a zone the responder reads directly; returns every name whose node changed. */
export function applyCollectingNames(zone: Zone, changes: RrSetChange[]): string[] {
  const names: string[] = [];
  zone.onChange = (name) => names.push(name);
  try {
    for (const change of changes) zone.apply(change);
  } finally {
    zone.onChange = null;
  }
  return names;
}

export function hubWriter(hub: ZoneHub): ZoneWriter {
  return {
    add(zone) {
      hub.adoptZone(zone);
    },
    apply(zone, changes) {
      hub.apply(zone.origin, changes);
    },
  };
}
