// The one step every engine and transport shares: run the responder on a query and feed the observer.
// A module-level function, not a method or closure, so the hot path allocates nothing.

import { performance } from 'node:perf_hooks';
import { DROP_MALFORMED, DROP_OTHER } from '../metrics/dns-counters.js';
import { RESPOND_FORWARD, type Responder } from '../server/responder.js';
import type { EngineOptions, QueryObserver } from './types.js';

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
 * For a query answerQuery handed off (RESPOND_FORWARD): the answer written into `out` when the forwarder has
 * it at once (cache hit, local rule; reported like any answer), else RESPOND_FORWARD and the caller goes on
 * with forwardQuery, before the responder sees another query.
 */
export function forwardNow(
  responder: Responder, observer: QueryObserver | null, query: Buffer, len: number, address: string, family: number,
  proto: number, out: Buffer,
): number {
  const n = responder.handoff.answerNow(query, len, address, family, proto, out);
  if (n !== RESPOND_FORWARD) {
    responder.lastRcode = out[3]! & 0x0f;
    observer?.responseMicros(responder.lastRcode, 0);
  }
  return n;
}

/** What an engine does with the answers of the queries it hands off: one pair of functions per engine, not per query. */
export interface ForwardSink<R> {
  /** One response message for the client `replyTo` describes (a zone transfer over TCP has several). */
  send(message: Buffer, replyTo: R): void;
  /** The query is done: answered or dropped (engines count what they owe for a shutdown). */
  settled(replyTo: R): void;
}

/** One handed-off query on its way: what forwardDone needs to report and deliver its answer. */
interface Pending {
  observer: QueryObserver | null;
  started: number;
  sink: ForwardSink<unknown>;
  replyTo: unknown;
}

/**
 * The slow path for a query forwardNow returned RESPOND_FORWARD for: sent on by the responder's hand-off
 * (the forwarder's ticket, a CNAME chase, an UPDATE or a transfer); its answer is reported and given to
 * `sink.send`, then `sink.settled` runs, once, whatever happens. `query` is read now, not kept.
 */
export function forwardQuery<R>(
  responder: Responder, observer: QueryObserver | null, query: Buffer, len: number, address: string, family: number,
  proto: number, sink: ForwardSink<R>, replyTo: R,
): void {
  const pending: Pending = { observer, started: performance.now(), sink: sink as ForwardSink<unknown>, replyTo };
  responder.handoff.later(query, len, address, family, proto, pending, forwardDone);
}

function forwardDone(response: Buffer | Buffer[] | null, context: unknown): void {
  const p = context as Pending;
  try {
    if (response === null || (Array.isArray(response) && response.length === 0)) {
      p.observer?.dropped(DROP_OTHER);
      return;
    }
    const first = Array.isArray(response) ? response[0]! : response;
    p.observer?.response(first[3]! & 0x0f, (performance.now() - p.started) / 1000);
    if (Array.isArray(response)) for (const message of response) p.sink.send(message, p.replyTo);
    else p.sink.send(response, p.replyTo);
  } catch {
    p.observer?.dropped(DROP_OTHER); // the sink could not send it (a closed socket): as if lost
  } finally {
    p.sink.settled(p.replyTo);
  }
}
