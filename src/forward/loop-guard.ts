// Forwarding-loop detection. kdns is often the node's resolver and its default upstreams come from
// resolv.conf, so a misconfiguration (resolv.conf pointing at a local stub that forwards back to kdns)
// makes every forwarded query circle until something times out. At start the forwarder sends a query for
// a random name under a reserved label through each default upstream. kdns never forwards such names:
// the responder asks `isLoopProbe` and answers them itself with a marker TXT record. If the probe comes
// back to us (the marker arrives in the upstream's answer, or this very forwarder sees its own name), that
// upstream loops and is disabled. A normal resolver answers NXDOMAIN: the label is not a real TLD.

import { randomBytes } from 'node:crypto';
import { RCODE_NOERROR, TYPE_TXT } from '../dns/constants.js';
import { isAtOrBelow } from '../dns/name.js';
import { rdataTxt } from '../dns/rdata.js';
import { localResponse, type ClientQuestion } from './message.js';

export const LOOP_PROBE_DOMAIN = 'kdns-loop-probe.';
// Differs from the probe label, so the question of a probe never looks like the marker.
const MARKER_TEXT = 'kdns forwarding loop marker';
const MARKER = Buffer.from(MARKER_TEXT);

/** A fresh probe name: 16 random hex characters under the reserved label. */
export function newLoopProbeName(): string {
  return randomBytes(8).toString('hex') + '.' + LOOP_PROBE_DOMAIN;
}

export function isLoopProbeName(qnameKey: string): boolean {
  return isAtOrBelow(qnameKey, LOOP_PROBE_DOMAIN);
}

/** kdns's answer to a loop probe it receives: NOERROR with one TXT record carrying the marker. */
export function loopProbeAnswer(query: Buffer, q: ClientQuestion): Buffer {
  return localResponse(query, q, RCODE_NOERROR, [{ type: TYPE_TXT, ttl: 0, rdata: rdataTxt([MARKER_TEXT]) }]);
}

/** True when an upstream's answer to our probe carries the marker past the question: it went through kdns. */
export function carriesLoopMarker(resp: Buffer, questionEnd: number): boolean {
  return resp.length > questionEnd && resp.readUInt16BE(6) > 0 && resp.indexOf(MARKER, questionEnd) >= 0;
}
