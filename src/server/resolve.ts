// The answer to a question from kdns's own data, before it is compiled: refusals for what is not served,
// CHAOS identity, SERVFAIL for names a local store has not loaded yet, then the local stores and the zones.

import {
  CLASS_CH, CLASS_IN, RCODE_FORMERR, RCODE_NOTIMP, RCODE_SERVFAIL, TYPE_AXFR, TYPE_IXFR, TYPE_OPT,
} from '../dns/constants.js';
import type { LookupResult } from '../dns/types.js';
import { lookup, type ZoneSetReader } from '../zone/index.js';
import { chaosAnswer, refused, type ChaosIdentity } from './chaos.js';
import type { LocalReader } from './local-names.js';

/** Where answers come from (the responder's options). */
export interface AnswerSources {
  zones: ZoneSetReader;
  /** Exact-match local data consulted before the zones, in order. */
  local: LocalReader[];
  chaos: ChaosIdentity;
}

/**
 * Looks up (`qname` key, qtype, qclass), adding to `deps` every owner name the zone lookup consulted (an
 * answer can only change when one of them does).
 */
export function resolve(sources: AnswerSources, qname: string, qtype: number, qclass: number, deps: Set<string>): LookupResult {
  if (qclass === CLASS_CH) return chaosAnswer(sources.chaos, qname, qtype);
  if (qclass !== CLASS_IN) return refused();
  if (qtype === TYPE_AXFR || qtype === TYPE_IXFR) return refused(); // zone transfers are not offered
  if (qtype === TYPE_OPT) return { ...refused(), rcode: RCODE_FORMERR };
  if (qtype >= 128 && qtype < 255) return { ...refused(), rcode: RCODE_NOTIMP }; // MAILA/MAILB, TKEY...
  if (awaitsSync(sources.local, qname)) return { ...refused(), rcode: RCODE_SERVFAIL };
  for (const local of sources.local) {
    const answer = local.lookup(qname, qtype);
    if (answer !== null) return answer;
  }
  return lookup(sources.zones, qname, qtype, deps);
}

/**
 * A name a local store has not loaded yet (LocalNames.unsyncedBelow: the cluster's reverse names before
 * its first sync): neither "no such name" nor the forwarder's answer can be trusted, so SERVFAIL, as for
 * names in a zone that is not ready. The store's sync clears every cached answer.
 */
export function awaitsSync(locals: readonly LocalReader[], qname: string): boolean {
  for (const local of locals) if (local.unsyncedBelow.length > 0 && local.awaitsSync(qname)) return true;
  return false;
}
