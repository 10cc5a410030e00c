// Names from hosts files: exact-match local data answered before the zones, like dnsmasq's /etc/hosts.
// A hosts name is not a zone (it has no SOA and no children), so it gets its own tiny lookup: the name
// exists with the types it has; other types are NODATA without an SOA (nothing to cache negatively).

import type { LookupResult, Rr } from '../dns/types.js';
import { RCODE_NOERROR } from '../dns/constants.js';

export class LocalNames {
  private readonly byName = new Map<string, Rr[]>();

  get size(): number {
    return this.byName.size;
  }

  replaceAll(records: Rr[]): void {
    this.byName.clear();
    for (const rr of records) {
      const list = this.byName.get(rr.name);
      if (list === undefined) this.byName.set(rr.name, [rr]);
      else if (!list.some((o) => o.type === rr.type && o.rdata.equals(rr.rdata))) list.push(rr);
    }
  }

  /** The answer for an exact name, or null when the name is not local data. */
  lookup(qname: string, qtype: number): LookupResult | null {
    const records = this.byName.get(qname);
    if (records === undefined) return null;
    return {
      rcode: RCODE_NOERROR,
      aa: true,
      answer: records.filter((rr) => rr.type === qtype),
      authority: [],
      additional: [],
    };
  }
}
