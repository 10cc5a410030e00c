// The zone browser: what kdns serves at one name, as master-file lines, read from the main thread's zone
// truth (the zones every worker replicates). Read-only and off the packet path.

import { nameToKey } from '../dns/name.js';
import { typeName } from '../dns/constants.js';
import { formatRdata } from '../zone/zone-text.js';
import type { ZoneSet } from '../zone/index.js';

export interface NameView {
  name: string;
  /** The zone the name falls in, or null (then it is forwarded or REFUSED). */
  zone: string | null;
  exists: boolean;
  records: Array<{ type: string; ttl: number; data: string[] }>;
}

/** The RRsets at `text` (any spelling; relative names are taken as absolute). Throws NameError on a bad name. */
export function lookupName(zones: ZoneSet, text: string): NameView {
  const name = nameToKey(text.endsWith('.') ? text : text + '.');
  const zone = zones.findZone(name);
  if (zone === undefined) return { name, zone: null, exists: false, records: [] };
  const node = zone.node(name);
  const records = (node?.rrsets ?? []).map((rrset) => ({
    type: typeName(rrset.type),
    ttl: rrset.ttl,
    data: rrset.rdatas.map((rdata) => formatRdata(rrset.type, rdata)),
  }));
  return { name, zone: zone.origin, exists: zone.nodeExists(name), records };
}
