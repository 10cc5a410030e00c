// The authoritative answer for (qname, qtype, class IN): RFC 1034 §4.3.2 with RFC 2308 negative answers,
// RFC 4592 wildcards and RFC 8482 ANY, shaped to match bind 9.18 (`recursion no; minimal-responses
// no-auth;`), which our differential test compares against. Runs when answers are compiled or on a
// cache miss, not per packet, so clarity beats allocation here.

import {
  RCODE_NOERROR,
  RCODE_NXDOMAIN,
  RCODE_REFUSED,
  RCODE_SERVFAIL,
  TYPE_CNAME,
  TYPE_DS,
  TYPE_SOA,
} from '../dns/constants.js';
import { isAtOrBelow, parentOf, wireToKey } from '../dns/name.js';
import { soaMinimum } from '../dns/rdata.js';
import type { LookupResult, RrSet } from '../dns/types.js';
import { addAnswerAdditional, addGlue, pushRecords, rrsetId } from './additional.js';
import { FOUND_CNAME, FOUND_DATA, FOUND_NXDOMAIN, FOUND_REFERRAL, resolveName } from './resolve.js';
import type { ZoneReader, ZoneSetReader } from './reader.js';

/**
 * Most CNAMEs one answer follows. bind 9.18 restarts a query at most 11 times, so its answers carry at
 * most 12 CNAMEs; when the 12th still points on, it gives up with SERVFAIL (keeping the CNAMEs).
 */
export const MAX_CNAME_CHAIN = 12;

function empty(rcode: number, aa: boolean): LookupResult {
  return { rcode, aa, answer: [], authority: [], additional: [] };
}

/**
 * The zone that answers `name`: the closest enclosing one, except that DS at a zone's apex is the
 * parent's data (RFC 4035 §3.1.4.1), so a parent zone we also serve answers it, as bind does.
 */
function zoneFor(zones: ZoneSetReader, name: string, qtype: number): ZoneReader | undefined {
  const zone = zones.findZone(name);
  if (zone !== undefined && qtype === TYPE_DS && name === zone.origin && name !== '.') {
    const parent = zones.findZone(parentOf(name)!);
    if (parent !== undefined) return parent;
  }
  return zone;
}

export function lookup(zones: ZoneSetReader, qname: string, qtype: number, deps?: Set<string>): LookupResult {
  const zone = zoneFor(zones, qname, qtype);
  if (zone === undefined) return empty(RCODE_REFUSED, false);
  // An unsynced zone must not deny names it may yet load, and a zone without SOA cannot answer
  // negatively at all (bind refuses to load one).
  const soa = zone.soa;
  if (!zone.ready || soa === undefined) return empty(RCODE_SERVFAIL, false);

  const result = empty(RCODE_NOERROR, true);
  const seen = new Set<string>(); // RRsets already in the message, so additional data never repeats them
  const visited = new Set<string>(); // names looked up in the chain, to stop CNAME loops
  let name = qname;
  for (let hop = 0; ; hop++) {
    visited.add(name);
    const found = resolveName(zone, name, qtype, deps);
    const rrset = found.rrset;

    if (found.kind === FOUND_DATA) {
      pushRecords(result.answer, name, rrset!);
      seen.add(rrsetId(name, rrset!.type));
      addAnswerAdditional(zones, zone, rrset!, result.additional, seen, deps);
      return result;
    }

    if (found.kind === FOUND_REFERRAL) {
      // A referral ends the chain. bind keeps AA when CNAMEs from our own data precede it.
      if (hop === 0) result.aa = false;
      pushRecords(result.authority, rrset!.name, rrset!);
      seen.add(rrsetId(rrset!.name, rrset!.type));
      addGlue(zone, rrset!, result.additional, seen, deps);
      return result;
    }

    if (found.kind === FOUND_CNAME) {
      pushRecords(result.answer, name, rrset!);
      seen.add(rrsetId(name, TYPE_CNAME));
      const target = wireToKey(rrset!.rdatas[0]!, 0).key;
      // A chain too long or looping ends in SERVFAIL with the CNAMEs so far (bind reaches the same answer
      // by following a loop until its restart limit, never adding an RRset twice).
      if (hop + 1 >= MAX_CNAME_CHAIN || visited.has(target)) {
        result.rcode = RCODE_SERVFAIL;
        return result;
      }
      // bind follows a chain only inside the zone that answered the first name: a target elsewhere,
      // even in another zone we serve, ends the answer with NOERROR and the CNAMEs alone.
      if (!isAtOrBelow(target, zone.origin) || zoneFor(zones, target, qtype) !== zone) return result;
      name = target;
      continue;
    }

    // NODATA or NXDOMAIN: the rcode of the last name in the chain, the SOA in authority (RFC 2308 §2).
    // bind's `zero-no-soa-ttl` (on by default) sends TTL 0 when an SOA query meets NXDOMAIN, so the
    // negative answer's SOA is not cached as if it answered the question.
    const nx = found.kind === FOUND_NXDOMAIN;
    if (nx) result.rcode = RCODE_NXDOMAIN;
    if (deps !== undefined) deps.add(zone.origin);
    pushNegativeSoa(result.authority, soa, nx && qtype === TYPE_SOA);
    return result;
  }
}

/** RFC 2308 §3: the SOA's TTL in a negative answer is the lesser of its own TTL and its MINIMUM field. */
export function pushNegativeSoa(out: LookupResult['authority'], soa: RrSet, zeroTtl: boolean): void {
  const rdata = soa.rdatas[0]!;
  const ttl = zeroTtl ? 0 : Math.min(soa.ttl, soaMinimum(rdata));
  out.push({ name: soa.name, type: TYPE_SOA, class: soa.class, ttl, rdata });
}
