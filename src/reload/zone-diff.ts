// What a reload sends for a zone that is still configured: only the RRsets that differ between the
// zone as served and the zone as re-read, as the RRset changes every source emits. The hub ships them
// to the workers as one versioned delta, and each replica drops exactly the answers those names fed,
// so an unchanged zone file costs nothing and an edited one costs its edits.

import type { Rr, RrSet, RrSetChange } from '../dns/types.js';

/**
 * Upserts for RRsets that are new or differ (TTL, class, RDATA or its order), deletes for RRsets that
 * are gone. Type 0 (a name marked as existing without data, see Zone.replaceAll) is compared like any
 * other type.
 */
export function diffRrSets(before: readonly RrSet[], after: readonly RrSet[]): RrSetChange[] {
  const old = new Map<string, RrSet>();
  for (const rrset of before) old.set(rrsetKey(rrset.name, rrset.type), rrset);
  const changes: RrSetChange[] = [];
  for (const rrset of after) {
    const key = rrsetKey(rrset.name, rrset.type);
    const prev = old.get(key);
    old.delete(key);
    if (prev === undefined || !sameRrSet(prev, rrset)) changes.push({ op: 'upsert', rrset });
  }
  for (const gone of old.values()) changes.push({ op: 'delete', name: gone.name, type: gone.type });
  return changes;
}

/** Whether two record lists (hosts data) hold the same records in the same order. */
export function sameRecords(a: readonly Rr[], b: readonly Rr[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.name !== y.name || x.type !== y.type || x.class !== y.class || x.ttl !== y.ttl || !x.rdata.equals(y.rdata)) return false;
  }
  return true;
}

function rrsetKey(name: string, type: number): string {
  return type + ' ' + name;
}

function sameRrSet(a: RrSet, b: RrSet): boolean {
  if (a.ttl !== b.ttl || a.class !== b.class || a.rdatas.length !== b.rdatas.length) return false;
  for (let i = 0; i < a.rdatas.length; i++) if (!a.rdatas[i]!.equals(b.rdatas[i]!)) return false;
  return true;
}
