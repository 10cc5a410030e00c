// The one step every engine and transport shares: run the responder on a query and feed the observer.
// A module-level function, not a method or closure, so the hot path allocates nothing.

import { performance } from 'node:perf_hooks';
import { DROP_MALFORMED } from '../metrics/dns-counters.js';
import type { Responder } from '../server/responder.js';
import type { QueryObserver } from './types.js';

/** Answers `query[0..len)` into `out` and reports it; returns the response length (0: send nothing). */
export function answerQuery(
  responder: Responder, observer: QueryObserver | null, query: Buffer, len: number, proto: number, family: number, out: Buffer,
): number {
  if (observer === null) return responder.respond(query, len, proto, out);
  const started = performance.now();
  const n = responder.respond(query, len, proto, out);
  if (n === 0) {
    observer.dropped(DROP_MALFORMED);
    return 0;
  }
  observer.request(proto, family, responder.lastQtype);
  observer.response(responder.lastRcode, (performance.now() - started) / 1000);
  return n;
}
