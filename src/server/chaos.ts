// CHAOS-class identity queries (version.bind, id.server), answered or refused by config, and the refusal
// every question kdns does not serve gets.

import { CLASS_CH, RCODE_NOERROR, RCODE_REFUSED, TYPE_ANY, TYPE_TXT } from '../dns/constants.js';
import { rdataTxt } from '../dns/rdata.js';
import type { LookupResult } from '../dns/types.js';

/** What `version.bind` and `id.server` say; null refuses the question. */
export interface ChaosIdentity {
  versionBind: string | null;
  idServer: string | null;
}

/** The answer to a CHAOS-class question for `qname` (a key), refused unless config names the text. */
export function chaosAnswer(identity: ChaosIdentity, qname: string, qtype: number): LookupResult {
  let text: string | null = null;
  if (qname === 'version.bind.' || qname === 'version.server.') text = identity.versionBind;
  else if (qname === 'id.server.' || qname === 'hostname.bind.') text = identity.idServer;
  if (text === null) return refused();
  if (qtype !== TYPE_TXT && qtype !== TYPE_ANY) return { rcode: RCODE_NOERROR, aa: true, answer: [], authority: [], additional: [] };
  return {
    rcode: RCODE_NOERROR,
    aa: true,
    answer: [{ name: qname, type: TYPE_TXT, class: CLASS_CH, ttl: 0, rdata: rdataTxt([text.slice(0, 255)]) }],
    authority: [],
    additional: [],
  };
}

/** An empty, non-authoritative REFUSED (callers change the rcode for FORMERR, NOTIMP, SERVFAIL). */
export function refused(): LookupResult {
  return { rcode: RCODE_REFUSED, aa: false, answer: [], authority: [], additional: [] };
}
