// The additional section (RFC 1034 §3.7, §4.3.2 step 6): addresses of the names that NS, MX and SRV
// records point to, so the asker need not query for them. We match bind 9.18 with
// `minimal-responses no-auth`, which is stricter than the RFC requires in two ways:
// - a positive answer gets only authoritative addresses from the same zone: never glue (data below a
//   cut), never data from another zone we serve, wildcard matches included;
// - a referral gets only glue: addresses stored at or below a cut of this zone, not the authoritative
//   addresses of in-zone names (those the resolver can ask for with authority).

import { TYPE_A, TYPE_AAAA, TYPE_MX, TYPE_NS, TYPE_SRV } from '../dns/constants.js';
import { isAtOrBelow, wireToKey } from '../dns/name.js';
import type { Rr, RrSet } from '../dns/types.js';
import { FOUND_DATA, highestCut, resolveName } from './resolve.js';
import type { ZoneReader, ZoneSetReader } from './reader.js';

const ADDRESS_TYPES = [TYPE_A, TYPE_AAAA] as const;

/** Where the target name starts inside the RDATA of types that trigger additional processing, else -1. */
export function targetOffset(type: number): number {
  if (type === TYPE_NS) return 0;
  if (type === TYPE_MX) return 2;
  if (type === TYPE_SRV) return 6;
  return -1;
}

/** Key of the name an NS/MX/SRV record points to. */
export function targetOf(type: number, rdata: Buffer): string {
  return wireToKey(rdata, targetOffset(type)).key;
}

/** "owner/type", the identity used to keep an RRset out of the message twice. */
export function rrsetId(name: string, type: number): string {
  return name + '/' + type;
}

/** Appends the records of `rrset` under `owner` (a wildcard match answers with the asked name). */
export function pushRecords(out: Rr[], owner: string, rrset: RrSet): void {
  for (const rdata of rrset.rdatas) out.push({ name: owner, type: rrset.type, class: rrset.class, ttl: rrset.ttl, rdata });
}

/** Authoritative A/AAAA of the in-zone targets of an answer RRset. `seen` holds RRsets already sent. */
export function addAnswerAdditional(
  zones: ZoneSetReader, zone: ZoneReader, rrset: RrSet, additional: Rr[], seen: Set<string>, deps?: Set<string>,
): void {
  if (targetOffset(rrset.type) < 0) return;
  // Every A first, then every AAAA: when a small UDP answer has room for only part of the additional
  // section, the IPv4 addresses every resolver can use survive, as in bind.
  for (const type of ADDRESS_TYPES) for (const rdata of rrset.rdatas) {
    const target = targetOf(rrset.type, rdata);
    // bind looks additional data up only in the zone that answered (its "authdb"): a target in a child
    // zone we also serve, or in no zone of ours, gets nothing.
    if (!isAtOrBelow(target, zone.origin) || zones.findZone(target) !== zone) continue;
    {
      const id = rrsetId(target, type);
      if (seen.has(id)) continue;
      // resolveName reports a target at or below a cut as a referral, so glue is skipped here.
      const found = resolveName(zone, target, type, deps);
      if (found.kind !== FOUND_DATA) continue;
      seen.add(id);
      pushRecords(additional, target, found.rrset!);
    }
  }
}

/** Glue for a referral: A/AAAA stored at NS targets that lie at or below any cut of this zone. */
export function addGlue(zone: ZoneReader, ns: RrSet, additional: Rr[], seen: Set<string>, deps?: Set<string>): void {
  for (const type of ADDRESS_TYPES) for (const rdata of ns.rdatas) {
    const target = targetOf(TYPE_NS, rdata);
    if (!isAtOrBelow(target, zone.origin)) continue;
    if (highestCut(zone, target, deps) === null) continue; // authoritative in-zone name: not glue
    if (deps !== undefined) deps.add(target);
    const glue = zone.get(target, type);
    const id = rrsetId(target, type);
    if (glue === undefined || seen.has(id)) continue;
    seen.add(id);
    pushRecords(additional, target, glue);
  }
}
