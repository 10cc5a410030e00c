// The shapes every layer agrees on. Names travel as *keys*: the lower-cased presentation form of an
// absolute name with its trailing dot ("www.example.com.", root is "."), using RFC 1035 escapes
// (\. and \DDD) for bytes that are not plain letters, digits, '-', '_' or '*'. One key per name, so
// a Map lookup is a name comparison. Wire-form names appear only on the packet path.

/** One resource record, RDATA already in uncompressed wire form. */
export interface Rr {
  name: string; // key form, lower case, absolute
  type: number;
  class: number;
  ttl: number;
  rdata: Buffer;
}

/** All records of one (name, type, class). TTL is per RRset (RFC 2181 §5.2). */
export interface RrSet {
  name: string;
  type: number;
  class: number;
  ttl: number;
  rdatas: Buffer[];
}

/** What a source emits. Sources know nothing about sockets or answers. */
export type RrSetChange =
  | { op: 'upsert'; rrset: RrSet }
  | { op: 'delete'; name: string; type: number };

/** The outcome of an authoritative lookup, before it becomes wire bytes. */
export interface LookupResult {
  rcode: number;
  aa: boolean;
  answer: Rr[];
  authority: Rr[];
  additional: Rr[];
}
