// Where a reload's changes go: through the hub to the worker threads (main.ts). The whole change is
// applied in one synchronous call, so the deltas go out in one batch and no query is answered from half a
// reload.

import type { Logger } from 'pino';
import type { Rr, RrSetChange } from '../dns/types.js';
import type { ForwardOptions } from '../forward/options.js';
import type { ZoneHub } from '../worker/hub.js';
import type { DataPlane } from '../worker/supervisor.js';
import type { Zone } from '../zone/index.js';

/** One reload's data changes; empty parts are left alone. */
export interface DataEdit {
  /** Zones still configured: the RRset changes from the served content to the re-read one. */
  changed: Map<string, RrSetChange[]>;
  /** Zones newly configured (or whose file now has another origin). */
  added: Zone[];
  /** Origins no longer configured. */
  removed: string[];
  /** The hosts files' records, or null when they did not change. */
  hosts: Rr[] | null;
}

export function isEmptyEdit(edit: DataEdit): boolean {
  return edit.changed.size === 0 && edit.added.length === 0 && edit.removed.length === 0 && edit.hosts === null;
}

export interface ReloadTarget {
  /** The zone served now at `origin` (the main thread's copy). */
  zone(origin: string): Zone | undefined;
  apply(edit: DataEdit): void;
  reconfigureForward(options: ForwardOptions): Promise<void>;
  /** Resolves once every data-plane thread answers from what apply() gave it. */
  settled(): Promise<void>;
}

/** The hub turns the edit into versioned deltas, the path every zone change takes. */
export function hubTarget(hub: ZoneHub, dp: Pick<DataPlane, 'reconfigureForward' | 'synced'>, log: Logger): ReloadTarget {
  return {
    zone: (origin) => hub.zones.get(origin),
    apply(edit) {
      for (const origin of edit.removed) hub.removeZone(origin);
      for (const [origin, changes] of edit.changed) hub.apply(origin, changes);
      for (const zone of edit.added) hub.adoptZone(zone);
      if (edit.hosts !== null) hub.replaceLocal(edit.hosts);
    },
    reconfigureForward: (options) => dp.reconfigureForward(options),
    async settled() {
      if (!(await dp.synced(hub.version))) log.warn({ version: hub.version }, 'reload: not every worker confirmed the new data within 5 s');
    },
  };
}
