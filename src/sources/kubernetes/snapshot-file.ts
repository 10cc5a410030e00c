// The cluster zone on disk: `<state-dir>/kubernetes/<domain>.json`, the last synced view (zone RRsets and
// reverse names) with the time it was saved. Written atomically; read back with every entry checked
// (names in their place, RDATA well formed for its type), since a bad snapshot must be ignored whole
// rather than served in part.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLASS_IN } from '../../dns/constants.js';
import { isAtOrBelow } from '../../dns/name.js';
import { formatKnown } from '../../dns/rdata-text.js';
import type { RrSet } from '../../dns/types.js';
import { writeFileAtomic } from '../../util/atomic-file.js';

const FORMAT_VERSION = 1;

export interface ClusterSnapshot {
  /** When it was saved (ms since 1970). */
  savedAt: number;
  /** The zone's RRsets; type 0 with no RDATA is the exists-without-data mark. */
  rrsets: RrSet[];
  /** Reverse (PTR) names, outside the zone. */
  reverse: RrSet[];
}

/** [name, type, ttl, base64 RDATAs]: class is always IN in the cluster zone. */
type Entry = [string, number, number, string[]];

interface SnapshotJson {
  version: number;
  zone: string;
  savedAt: string;
  rrsets: Entry[];
  reverse: Entry[];
}

export class SnapshotProblem extends Error {}

export function snapshotPath(stateDir: string, origin: string): string {
  return join(stateDir, 'kubernetes', `${origin.slice(0, -1)}.json`);
}

export function writeClusterSnapshot(file: string, origin: string, snapshot: ClusterSnapshot): void {
  const body: SnapshotJson = {
    version: FORMAT_VERSION, zone: origin, savedAt: new Date(snapshot.savedAt).toISOString(),
    rrsets: snapshot.rrsets.map(entryOf), reverse: snapshot.reverse.map(entryOf),
  };
  writeFileAtomic(file, JSON.stringify(body) + '\n');
}

/** The saved view, or null when there is none. Throws SnapshotProblem saying what is wrong with it. */
export function readClusterSnapshot(file: string, origin: string): ClusterSnapshot | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new SnapshotProblem(`cannot read it: ${(e as Error).message}`);
  }
  let json: Partial<SnapshotJson>;
  try {
    json = JSON.parse(text) as Partial<SnapshotJson>;
  } catch (e) {
    throw new SnapshotProblem(`not JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || json.version !== FORMAT_VERSION) {
    throw new SnapshotProblem(`expected {"version": ${FORMAT_VERSION}, ...}`);
  }
  if (json.zone !== origin) throw new SnapshotProblem(`it is the snapshot of zone ${String(json.zone)}, not ${origin}`);
  const savedAt = Date.parse(String(json.savedAt));
  if (!Number.isFinite(savedAt)) throw new SnapshotProblem('savedAt is not a time');
  if (!Array.isArray(json.rrsets) || !Array.isArray(json.reverse)) throw new SnapshotProblem('expected rrsets and reverse lists');
  return {
    savedAt,
    rrsets: json.rrsets.map((e, i) => rrsetOf(e, `rrsets[${i}]`, (name) => isAtOrBelow(name, origin))),
    reverse: json.reverse.map((e, i) => rrsetOf(e, `reverse[${i}]`, isReverseName)),
  };
}

function entryOf(set: RrSet): Entry {
  return [set.name, set.type, set.ttl, set.rdatas.map((r) => r.toString('base64'))];
}

function rrsetOf(entry: unknown, where: string, placed: (name: string) => boolean): RrSet {
  if (!Array.isArray(entry) || entry.length !== 4) throw new SnapshotProblem(`${where}: expected [name, type, ttl, rdatas]`);
  const [name, type, ttl, rdatas] = entry as unknown[];
  if (typeof name !== 'string' || !name.endsWith('.') || !placed(name)) throw new SnapshotProblem(`${where}: name ${String(name)} does not belong here`);
  if (!Number.isInteger(type) || (type as number) < 0 || (type as number) > 0xffff) throw new SnapshotProblem(`${where}: bad type`);
  if (!Number.isInteger(ttl) || (ttl as number) < 0 || (ttl as number) > 0x7fffffff) throw new SnapshotProblem(`${where}: bad TTL`);
  if (!Array.isArray(rdatas) || !rdatas.every((r) => typeof r === 'string')) throw new SnapshotProblem(`${where}: expected RDATA as base64 strings`);
  const bytes = (rdatas as string[]).map((r) => Buffer.from(r, 'base64'));
  if (type === 0 ? bytes.length !== 0 : bytes.length === 0) throw new SnapshotProblem(`${where}: ${type === 0 ? 'a mark has no RDATA' : 'no RDATA'}`);
  for (const rdata of bytes) {
    if (formatKnown(type as number, rdata) === null) throw new SnapshotProblem(`${where}: RDATA of ${name} is not a well-formed type ${String(type)}`);
  }
  return { name, type: type as number, class: CLASS_IN, ttl: ttl as number, rdatas: bytes };
}

function isReverseName(name: string): boolean {
  return name.endsWith('.in-addr.arpa.') || name.endsWith('.ip6.arpa.');
}
