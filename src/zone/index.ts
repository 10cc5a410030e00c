// The zone component: RRset store, zone set, the shared zone image and authoritative lookup. See README.md.
export { Zone, type ZoneNode, type Synthesizer } from './zone.js';
export { ZoneSet } from './zone-set.js';
export type { NodeView, ZoneReader, ZoneSetReader } from './reader.js';
export { ImageFullError, ZoneImageWriter, type ZoneImage } from './image.js';
export { ImageZone, ZoneImageReader, type ImageSource } from './image-reader.js';
export { lookup, MAX_CNAME_CHAIN, pushNegativeSoa } from './lookup.js';
export { rrsetFromRecords } from './rrset.js';
