// One dynamic zone on disk: `<state-dir>/dynamic/<zone>.json`, written atomically (a temporary file in
// the same directory, fsync, rename, fsync of the directory), so a crash leaves the old file or the new
// one, never half of either. Reading checks every record with the API's own rules: a file that does not
// parse is an error naming it, never a silently empty zone.

import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic-file.js';
import { join } from 'node:path';
import { SourceError } from '../errors.js';
import type { RrSet } from '../dns/types.js';
import { formatRecord, parseRecordInput, recordName, recordType, RecordProblem, type RecordJson } from './records.js';

const FORMAT_VERSION = 1;

export interface ZoneState {
  serial: number;
  rrsets: RrSet[];
}

interface StateJson {
  version: number;
  zone: string;
  serial: number;
  records: RecordJson[];
}

export function stateFilePath(stateDir: string, origin: string): string {
  const base = origin === '.' ? 'root' : origin.slice(0, -1);
  return join(stateDir, 'dynamic', `${base}.json`);
}

/** The zone's saved state, or null when it has never been saved. Throws SourceError on a bad file. */
export function readZoneState(file: string, origin: string): ZoneState | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new SourceError(file, null, `cannot read the dynamic zone's state: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SourceError(file, null, `expected the JSON state of dynamic zone ${origin}: ${(e as Error).message}`);
  }
  const state = json as Partial<StateJson>;
  if (typeof json !== 'object' || json === null || state.version !== FORMAT_VERSION) {
    throw new SourceError(file, null, `expected {"version": ${FORMAT_VERSION}, ...}, the state of dynamic zone ${origin}`);
  }
  if (state.zone !== origin) {
    throw new SourceError(file, null, `expected the state of zone ${origin}, found zone ${String(state.zone)}`);
  }
  if (typeof state.serial !== 'number' || !Number.isInteger(state.serial) || state.serial < 0 || state.serial > 0xffffffff) {
    throw new SourceError(file, null, 'expected "serial", an unsigned 32-bit integer');
  }
  if (!Array.isArray(state.records)) throw new SourceError(file, null, 'expected "records", an array');
  const rrsets = state.records.map((record, i) => {
    try {
      const r = record as Partial<RecordJson>;
      const name = recordName(String(r.name ?? ''), origin);
      return parseRecordInput(origin, name, recordType(String(r.type ?? '')), { ttl: r.ttl, values: r.values });
    } catch (e) {
      if (e instanceof RecordProblem) throw new SourceError(file, null, `records[${i}]: ${e.message}`);
      throw e;
    }
  });
  return { serial: state.serial, rrsets };
}

/** Replaces the file with this state, atomically and durably. */
export function writeZoneState(file: string, origin: string, state: ZoneState): void {
  const body: StateJson = { version: FORMAT_VERSION, zone: origin, serial: state.serial, records: state.rrsets.map(formatRecord) };
  writeFileAtomic(file, JSON.stringify(body, null, 1) + '\n');
}
