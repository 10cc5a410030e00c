// Whole-zone checks after parsing, the ones named-checkzone refuses a zone for: one SOA at the apex, NS at
// the apex with addresses for in-zone name servers, no CNAME beside other data, nothing outside the zone. Serving a zone that fails them would
// give answers resolvers cannot trust, so a bad file stops start-up instead.

import { SourceError } from '../../errors.js';
import { TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_NS, TYPE_NSEC, TYPE_RRSIG, TYPE_SOA, typeName } from '../../dns/constants.js';
import { isAtOrBelow, wireToKey } from '../../dns/name.js';
import type { Rr } from '../../dns/types.js';

/** A parsed record and where it came from ($INCLUDE means records of one zone span files). */
export interface LocatedRr {
  rr: Rr;
  file: string;
  line: number;
}

// RFC 2181 §10.1 and RFC 4035 §2.5: only DNSSEC records may share a name with a CNAME.
const BESIDE_CNAME = new Set([TYPE_CNAME, TYPE_RRSIG, TYPE_NSEC]);

/**
 * Checks the zone and returns its records in file order, with exact duplicates dropped and each RRset's
 * TTL set to its first record's (RFC 2181 §5.2; BIND does the same with a warning).
 */
export function checkZone(origin: string, file: string, located: LocatedRr[]): Rr[] {
  const out: Rr[] = [];
  const seen = new Set<string>(); // name, type, rdata of every record kept
  const rrsetTtl = new Map<string, number>(); // "name type" → TTL of the first record
  const typesAt = new Map<string, Map<number, LocatedRr>>(); // name → type → first record
  let soa: LocatedRr | null = null;

  for (const item of located) {
    const { rr } = item;
    if (!isAtOrBelow(rr.name, origin)) {
      throw new SourceError(item.file, item.line, `expected a name at or below the origin ${origin}, got ${rr.name}`);
    }
    const exact = `${rr.name} ${rr.type} ${rr.rdata.toString('hex')}`;
    if (seen.has(exact)) continue;
    seen.add(exact);

    if (rr.type === TYPE_SOA) {
      if (rr.name !== origin) {
        throw new SourceError(item.file, item.line, `expected the SOA record at the origin ${origin}, got it at ${rr.name}`);
      }
      if (soa !== null) {
        throw new SourceError(item.file, item.line, `expected one SOA record, got another (the first is at ${soa.file}:${soa.line})`);
      }
      soa = item;
    }

    let types = typesAt.get(rr.name);
    if (types === undefined) typesAt.set(rr.name, (types = new Map()));
    if (rr.type === TYPE_CNAME && types.has(TYPE_CNAME)) {
      throw new SourceError(item.file, item.line, `expected one CNAME record at ${rr.name}, got another`);
    }
    const cname = types.get(TYPE_CNAME);
    const other = [...types.values()].find((o) => !BESIDE_CNAME.has(o.rr.type));
    if (rr.type === TYPE_CNAME && other !== undefined) {
      throw new SourceError(item.file, item.line,
        `expected no other data beside a CNAME, but ${rr.name} already has ${typeName(other.rr.type)}`);
    }
    if (cname !== undefined && !BESIDE_CNAME.has(rr.type)) {
      throw new SourceError(item.file, item.line,
        `expected no other data beside a CNAME, but ${rr.name} has a CNAME (${cname.file}:${cname.line})`);
    }
    if (!types.has(rr.type)) types.set(rr.type, item);

    const setKey = `${rr.name} ${rr.type}`;
    const ttl = rrsetTtl.get(setKey);
    if (ttl === undefined) rrsetTtl.set(setKey, rr.ttl);
    out.push(ttl === undefined || ttl === rr.ttl ? rr : { ...rr, ttl });
  }

  if (soa === null) throw new SourceError(file, null, `expected an SOA record at the origin ${origin}`);
  if (!typesAt.get(origin)?.has(TYPE_NS)) {
    throw new SourceError(file, null, `expected NS records at the origin ${origin}`);
  }
  // An apex name server inside the zone with no address makes the zone unreachable by its own NS set.
  for (const item of located) {
    if (item.rr.type !== TYPE_NS || item.rr.name !== origin) continue;
    const target = wireToKey(item.rr.rdata, 0).key;
    const types = typesAt.get(target);
    if (isAtOrBelow(target, origin) && !types?.has(TYPE_A) && !types?.has(TYPE_AAAA)) {
      throw new SourceError(item.file, item.line, `expected an A or AAAA record for the name server ${target}, which is inside the zone`);
    }
  }
  return out;
}
