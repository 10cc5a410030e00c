// Wiring for main.ts: each view's own zone files, loaded once at start (a bad line exits 2 like any zone
// file); the hub then carries them to every worker as zones of that view only (ZoneHub.addViewZone).

import type { Logger } from 'pino';
import { loadZoneFiles } from '../sources/zonefile/files.js';
import type { ZoneSet } from '../zone/index.js';
import type { ViewDefinition } from './rules.js';

/** View name → the zones only that view serves. */
export type ViewZones = Map<string, ZoneSet>;

export function loadViewZones(views: readonly ViewDefinition[], log: Logger): ViewZones {
  return new Map(views.map((v) => [v.name, loadZoneFiles(v.zoneFiles, log, v.name)]));
}
