// The one step every engine and transport shares: run the responder on a query and feed the observer.
// A module-level function, not a method or closure, so the hot path allocates nothing.

import { performance } from 'node:perf_hooks';
import { DROP_MALFORMED, DROP_OTHER } from '../metrics/dns-counters.js';
import { RESPOND_FORWARD, type Responder } from '../server/responder.js';
import type { ClientTap, EngineOptions, QueryObserver } from './types.js';

/** The responder for a client given by its address text: its view's, or the one responder without views. */
export function responderFor(opts: Pick<EngineOptions, 'responder' | 'views'>, address: string): Responder {
  const views = opts.views ?? null;
  return views === null ? opts.responder : views.forText(address);
}

/** Answers `query[0..len)` into `out` and reports it, timing this one query; returns the response length (0: send nothing). */
export function answerQuery(
  responder: Responder, observer: QueryObserver | null, query: Buffer, len: number, proto: number, family: number, out: Buffer,
): number {
  if (observer === null) return responder.respond(query, len, proto, out);
  const started = performance.now();
  const n = responder.respond(query, len, proto, out);
  return report(responder, observer, n, proto, family, Math.round((performance.now() - started) * 1000));
}

/**
 * The same without a clock per query, for batch engines: `micros` is the batch's measured cost per query,
 * a whole number of microseconds. Reading the clock and passing doubles around allocate (boxed numbers),
 * and at hundreds of thousands of queries a second that garbage is what the batch path exists to avoid.
 */
export function answerQueryTimed(
  responder: Responder, observer: QueryObserver | null, query: Buffer, len: number, proto: number, family: number, out: Buffer,
  micros: number,
): number {
  const n = responder.respond(query, len, proto, out);
  return observer === null ? n : report(responder, observer, n, proto, family, micros);
}

function report(responder: Responder, observer: QueryObserver, n: number, proto: number, family: number, micros: number): number {
  if (n === 0) {
    observer.dropped(DROP_MALFORMED);
    return 0;
  }
  observer.request(proto, family, responder.lastQtype);
  if (n === RESPOND_FORWARD) return n; // counted as answered when the forwarder replies
  observer.responseMicros(responder.lastRcode, micros);
  return n;
}

/**
 * For a query answerQuery handed to the forwarder: the answer written into `out` when the forwarder has
 * it at once (cache hit, local rule; reported like any answer), else RESPOND_FORWARD and the caller goes
 * on with forwardQuery.
 */
export function forwardNow(
  responder: Responder, observer: QueryObserver | null, query: Buffer, len: number, address: string, family: number,
  proto: number, out: Buffer,
): number {
  const n = responder.forwardNow(query, len, address, family, proto, out);
  if (n !== RESPOND_FORWARD && observer !== null) observer.responseMicros(responder.lastRcode, 0);
  return n;
}

/**
 * The slow path for a query the responder handed to the forwarder (answerQuery returned RESPOND_FORWARD):
 * copy it, resolve it asynchronously, report the outcome and hand the response to `send`. Must be called
 * right after that answerQuery, before the responder sees another query. The promise settles (never
 * rejects) once the response was handed to `send` or dropped: engines count it to drain on shutdown.
 * `send` is called once per message: a zone transfer over TCP has several.
 */
export function forwardQuery(
  responder: Responder, observer: QueryObserver | null, query: Buffer, len: number, address: string, family: number,
  proto: number, send: (response: Buffer) => void,
): Promise<void> {
  const started = performance.now();
  const copy = Buffer.from(query.subarray(0, len));
  return responder.forwardPending(copy, address, family, proto).then((response) => {
    if (response === null || (Array.isArray(response) && response.length === 0)) {
      observer?.dropped(DROP_OTHER);
      return;
    }
    // A zone transfer is several messages (TCP: each framed and written in order).
    const first = Array.isArray(response) ? response[0]! : response;
    observer?.response(first[3]! & 0x0f, (performance.now() - started) / 1000);
    if (Array.isArray(response)) for (const message of response) send(message);
    else send(response);
  }).catch(() => observer?.dropped(DROP_OTHER));
}

/** Logs a response that comes after its query's batch (a forwarded one): the client is named again first. */
export function tapLater(tap: ClientTap, address: string, port: number, proto: number, response: Buffer): void {
  tap.clientText(address, port);
  tap.response(proto, response, response.length);
}
