// The configured zone files as one ZoneSet (the top-level `zone-file` list, or one view's `zone-files`).

import type { Logger } from 'pino';
import { SourceError } from '../../errors.js';
import { Zone, ZoneSet, rrsetFromRecords } from '../../zone/index.js';
import { loadZoneFile } from './parse.js';

/** Loads every file; a bad line, or two files of one origin, throws SourceError (the CLI exits 2 on it). */
export function loadZoneFiles(files: readonly { file: string; origin: string | null }[], log: Logger, view?: string): ZoneSet {
  const zones = new ZoneSet();
  for (const { file, origin } of files) {
    const parsed = loadZoneFile(file, origin ?? undefined);
    if (zones.get(parsed.origin) !== undefined) {
      throw new SourceError(file, null, `zone ${parsed.origin} is already loaded from another file${view === undefined ? '' : ` of view ${view}`}`);
    }
    const zone = new Zone(parsed.origin);
    zone.replaceAll(rrsetFromRecords(parsed.records));
    zones.add(zone);
    log.info({ component: 'zonefile', file, origin: parsed.origin, records: parsed.records.length, view }, 'zone loaded');
  }
  return zones;
}
