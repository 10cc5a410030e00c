// How a control-plane writer (dynamic zones today) changes a served zone: through the ZoneHub, which
// applies it to the main thread's zone and ships ordered deltas to every worker.

import type { RrSetChange } from '../dns/types.js';
import type { Zone } from '../zone/index.js';
import type { ZoneHub } from './hub.js';

export interface ZoneWriter {
  /** Starts serving `zone` with what it holds now; change it only through `apply` from then on. */
  add(zone: Zone): void;
  /** Applies changes to a zone added here, all of them or (on a bad change) none. */
  apply(zone: Zone, changes: RrSetChange[]): void;
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
