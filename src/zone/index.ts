// The zone component: RRset store, zone set and authoritative lookup. See README.md.
export { Zone, type ZoneNode, type Synthesizer } from './zone.js';
export { ZoneSet } from './zone-set.js';
export { lookup, MAX_CNAME_CHAIN, pushNegativeSoa } from './lookup.js';
export { rrsetFromRecords } from './rrset.js';
