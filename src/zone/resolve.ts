// Resolving one name inside one zone (RFC 1034 §4.3.2 step 3, RFC 4592): is it delegated, does it exist,
// does a wildcard stand in for it? The CNAME chain, sections and rcodes are lookup.ts's business; this
// module only says what the zone holds for (name, type).

import { TYPE_ANY, TYPE_CNAME, TYPE_DS, TYPE_NS } from '../dns/constants.js';
import { parentOf, wildcardOf } from '../dns/name.js';
import type { RrSet } from '../dns/types.js';
import { findType } from './zone.js';
import type { ZoneReader } from './reader.js';

export const FOUND_DATA = 0; // rrset: the RRset of the asked type (or the one chosen for ANY)
export const FOUND_CNAME = 1; // rrset: the CNAME at the name; the caller follows it
export const FOUND_NODATA = 2; // the name exists, without that type
export const FOUND_NXDOMAIN = 3;
export const FOUND_REFERRAL = 4; // rrset: the NS RRset of the delegation the name is at or below

export interface Found {
  kind: number;
  /** Null for NODATA and NXDOMAIN. For data and CNAME the owner to answer with is the asked name. */
  rrset: RrSet | null;
}

const NODATA: Found = { kind: FOUND_NODATA, rrset: null };
const NXDOMAIN: Found = { kind: FOUND_NXDOMAIN, rrset: null };

/**
 * What `zone` holds for (name, qtype). `name` must be at or below the origin. Every owner name whose state
 * decided the outcome goes into `deps`: the name, its ancestors (delegation and closest-encloser checks)
 * and the wildcard probed, so a change at any of them can invalidate a cached answer.
 */
export function resolveName(zone: ZoneReader, name: string, qtype: number, deps?: Set<string>): Found {
  // Delegation first: data at or below a cut is glue, never answered with authority. The highest cut
  // wins (anything below it is occluded, nested NS included). DS at the cut itself belongs to the parent
  // side (RFC 4035 §3.1.4.1), so it is answered here like any other type.
  const cut = highestCut(zone, name, deps);
  if (cut !== null && !(cut === name && qtype === TYPE_DS)) {
    return { kind: FOUND_REFERRAL, rrset: zone.get(cut, TYPE_NS)! };
  }

  if (deps !== undefined) deps.add(name);
  const node = zone.node(name);
  if (node !== undefined) return pick(node.rrsets, qtype);

  const synth = zone.synthesizer;
  if (synth !== null) {
    const made = synth(name);
    if (made !== null) return pick(made, qtype);
  }

  if (name === zone.origin) return NXDOMAIN; // an empty zone; lookup refuses to answer from it anyway
  // RFC 4592 §3.3.1: the closest encloser is the nearest existing ancestor; only `*.<closest encloser>`
  // may synthesize. The origin always exists (it holds the SOA), so the walk ends there at the latest.
  let encloser = parentOf(name)!;
  while (!zone.nodeExists(encloser) && encloser !== zone.origin) encloser = parentOf(encloser)!;
  const wildcard = wildcardOf(encloser);
  if (deps !== undefined) deps.add(wildcard);
  const source = zone.node(wildcard);
  if (source === undefined) return NXDOMAIN;
  // A synthesized name between the query and the encloser would be the real closest encloser, and the
  // wildcard would not apply. Asked only when a wildcard is in play, so pods without wildcards cost nothing.
  if (synth !== null) {
    for (let n = parentOf(name)!; n !== encloser; n = parentOf(n)!) if (synth(n) !== null) return NXDOMAIN;
  }
  return pick(source.rrsets, qtype);
}

/** The outcome at an existing name holding `rrsets`. */
function pick(rrsets: readonly RrSet[], qtype: number): Found {
  if (qtype === TYPE_ANY) {
    // RFC 8482 §4.1: answer ANY with one RRset. We choose the lowest type number present, so the answer
    // is deterministic whatever order the RRsets arrived in.
    let best: RrSet | null = null;
    for (const r of rrsets) if (best === null || r.type < best.type) best = r;
    return best === null ? NODATA : { kind: FOUND_DATA, rrset: best };
  }
  const data = findType(rrsets, qtype);
  if (data !== undefined) return { kind: FOUND_DATA, rrset: data };
  const cname = findType(rrsets, TYPE_CNAME);
  if (cname !== undefined) return { kind: FOUND_CNAME, rrset: cname };
  return NODATA;
}

/**
 * The delegation point closest to the origin among `name` and its ancestors below the apex, or null.
 * The ancestors are recorded in `deps` even in a zone without cuts: an NS added at one would create one.
 */
export function highestCut(zone: ZoneReader, name: string, deps?: Set<string>): string | null {
  if (deps === undefined && !zone.hasCuts) return null; // deps first: an image zone reads hasCuts with a probe
  let cut: string | null = null;
  for (let n = name; n !== zone.origin; n = parentOf(n)!) {
    if (deps !== undefined) deps.add(n);
    if (zone.isCut(n)) cut = n;
  }
  return cut;
}
