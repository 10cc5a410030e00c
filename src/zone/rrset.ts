// Grouping parsed records into RRsets, the unit the zone stores (RFC 2181 §5).

import type { Rr, RrSet } from '../dns/types.js';

/**
 * Groups records by (owner, type, class), keeping first-appearance order of RRsets and of records inside
 * each. An RRset has one TTL (RFC 2181 §5.2): the first record's wins, as bind does after warning.
 * Identical records collapse to one (RFC 2181 §5: an RRset is a set).
 */
export function rrsetFromRecords(records: Rr[]): RrSet[] {
  const out: RrSet[] = [];
  const byKey = new Map<string, { rrset: RrSet; rdatas: Set<string> }>();
  for (const r of records) {
    const key = r.name + '/' + r.type + '/' + r.class;
    let group = byKey.get(key);
    if (group === undefined) {
      const rrset: RrSet = { name: r.name, type: r.type, class: r.class, ttl: r.ttl, rdatas: [] };
      group = { rrset, rdatas: new Set() };
      byKey.set(key, group);
      out.push(rrset);
    }
    // latin1 maps each byte to one char: a cheap exact key for byte equality.
    const id = r.rdata.toString('latin1');
    if (group.rdatas.has(id)) continue;
    group.rdatas.add(id);
    group.rrset.rdatas.push(r.rdata);
  }
  return out;
}
