// What answering needs to read from a zone, whoever holds it: the mutable `Zone` (zone files, the hub on
// the main thread, tests) or the shared zone image a worker reads (image-reader.ts). lookup.ts,
// resolve.ts, additional.ts and the negative feed take these interfaces, never the classes.

import type { RrSet } from '../dns/types.js';

/** One existing owner name: its RRsets and whether it carries the exists-without-data mark. */
export interface NodeView {
  readonly rrsets: readonly RrSet[];
  readonly marked: boolean;
}

export type Synthesizer = (qname: string) => RrSet[] | null;

export interface ZoneReader {
  readonly origin: string;
  /** While false the zone has not synced: lookup answers SERVFAIL rather than a false NXDOMAIN. */
  readonly ready: boolean;
  /** Names computed on demand (Zone.synthesizer). */
  synthesizer: Synthesizer | null;
  /** Every synthesized name lies strictly below this one (Zone.synthesizedBelow). */
  synthesizedBelow: string | null;
  readonly soa: RrSet | undefined;
  get(name: string, type: number): RrSet | undefined;
  /** The node at `name`, if the name exists (data, mark or descendants: an empty non-terminal). */
  node(name: string): NodeView | undefined;
  nodeExists(name: string): boolean;
  /** True when `name` owns NS and is not the apex: a delegation point. */
  isCut(name: string): boolean;
  /** False only when the zone surely has no delegation (lets lookups skip the walk up the name). */
  readonly hasCuts: boolean;
  /** Every existing name, empty non-terminals included. */
  names(): Iterable<string>;
}

export interface ZoneSetReader<Z extends ZoneReader = ZoneReader> {
  get(origin: string): Z | undefined;
  /** The closest enclosing zone of `qname`. */
  findZone(qname: string): Z | undefined;
  zones(): Z[];
}
