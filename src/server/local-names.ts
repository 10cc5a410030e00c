// Names from hosts files: exact-match local data answered before the zones, like dnsmasq's /etc/hosts.
// A hosts name is not a zone (it has no SOA and no children), so it gets its own tiny lookup: the name
// exists with the types it has; other types are NODATA without an SOA (nothing to cache negatively).

import type { LookupResult, Rr, RrSetChange } from '../dns/types.js';
import { RCODE_NOERROR } from '../dns/constants.js';
import { isAtOrBelow } from '../dns/name.js';

/** What answering reads from a local store: LocalNames here, ImageLocalNames over the zone image in workers. */
export interface LocalReader {
  /** Subtrees not loaded yet (LocalNames.unsyncedBelow). */
  readonly unsyncedBelow: readonly string[];
  has(name: string): boolean;
  names(): Iterable<string>;
  /** The answer for an exact name, or null when the name is not local data. */
  lookup(qname: string, qtype: number): LookupResult | null;
  /** True while `name` lies strictly below a subtree the store has not loaded yet. */
  awaitsSync(name: string): boolean;
}

/** True when `name` lies strictly below one of `roots`. */
export function awaitsSyncBelow(roots: readonly string[], name: string): boolean {
  for (const root of roots) if (name !== root && isAtOrBelow(name, root)) return true;
  return false;
}

/** The answer from the records of an existing local name: its records of `qtype`, else NODATA without SOA. */
export function localAnswer(records: readonly Rr[], qtype: number): LookupResult {
  return { rcode: RCODE_NOERROR, aa: true, answer: records.filter((rr) => rr.type === qtype), authority: [], additional: [] };
}

export class LocalNames implements LocalReader {
  private readonly byName = new Map<string, Rr[]>();
  /**
   * Subtrees whose names this store holds once its source has synced (the cluster's reverse names under
   * in-addr.arpa. and ip6.arpa.); empty once it has. Until then no answer for a name in them can be
   * trusted, neither "no such name" nor the forwarder's: the responder answers SERVFAIL, as a zone that
   * is not ready does. Data like the records: it travels with the hub's deltas and snapshots.
   */
  unsyncedBelow: readonly string[] = [];

  get size(): number {
    return this.byName.size;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  names(): IterableIterator<string> {
    return this.byName.keys();
  }

  /** Every record of an exact name (empty when it is not local data). */
  records(name: string): readonly Rr[] {
    return this.byName.get(name) ?? [];
  }

  /** Every record held (a hub snapshot sends these). */
  allRecords(): Rr[] {
    return [...this.byName.values()].flat();
  }

  replaceAll(records: Rr[]): void {
    this.byName.clear();
    for (const rr of records) {
      const list = this.byName.get(rr.name);
      if (list === undefined) this.byName.set(rr.name, [rr]);
      else if (!list.some((o) => o.type === rr.type && o.rdata.equals(rr.rdata))) list.push(rr);
    }
  }

  /**
   * Incremental form used by the Kubernetes source for reverse (PTR) names: an upsert replaces the
   * records of (name, type), a delete removes them. Returns the changed name so caches can drop it.
   */
  apply(change: RrSetChange): string {
    const name = change.op === 'upsert' ? change.rrset.name : change.name;
    const type = change.op === 'upsert' ? change.rrset.type : change.type;
    const kept = (this.byName.get(name) ?? []).filter((rr) => rr.type !== type);
    if (change.op === 'upsert') {
      const { rrset } = change;
      for (const rdata of rrset.rdatas) kept.push({ name, type, class: rrset.class, ttl: rrset.ttl, rdata });
    }
    if (kept.length === 0) this.byName.delete(name);
    else this.byName.set(name, kept);
    return name;
  }

  /** True while `name` lies strictly below a subtree this store has not loaded yet (unsyncedBelow). */
  awaitsSync(name: string): boolean {
    return awaitsSyncBelow(this.unsyncedBelow, name);
  }

  /** The answer for an exact name, or null when the name is not local data. */
  lookup(qname: string, qtype: number): LookupResult | null {
    const records = this.byName.get(qname);
    return records === undefined ? null : localAnswer(records, qtype);
  }
}
