// What the forwarder decides for one query without the network, handed back to its caller once: an answer
// now (with how long it may be reused), or a ticket for a miss. The ticket carries what the decision found
// (cache key, route, cache entry, the client's question) so the network part goes on from there without
// asking the access list, the route table or the cache again, and without parsing the query again.

import type { Upstream } from './upstream.js';
import type { CacheEntry } from './cache.js';
import type { ClientQuestion } from './message.js';

/** One upstream question, shared by every query waiting for it. */
export interface Question {
  key: string;
  nameWire: Buffer;
  qtype: number;
  qclass: number;
  dnssecOk: boolean;
  checkingDisabled: boolean;
  upstreams: Upstream[];
  tcp: boolean;
}

/** Called once per ticket with the client's whole response; `replyTo` is the caller's, passed through. */
export type MissAnswer = (response: Buffer, replyTo: unknown) => void;

/** A miss held by the forwarder until its upstream answer (or the stale answer, or SERVFAIL) is known. */
export class MissTicket {
  /** Set when answered: a ticket gets one response, whatever races (a stale timer, the refresh). */
  answered = false;
  /** The RFC 8767 client response timer of a stale refresh. */
  staleTimer: NodeJS.Timeout | undefined = undefined;
  /** Who gets the answer: set by the caller before Forwarder.continueMiss; the forwarder only passes it on. */
  replyTo: unknown = null;
  onAnswer: MissAnswer | null = null;

  constructor(
    readonly question: Question,
    /** The stale (or failed-refresh) cache entry this miss refreshes; undefined: nothing cached. */
    readonly entry: CacheEntry | undefined,
    /** The client's header and question, copied (the receive buffer is reused). */
    readonly query: Buffer,
    readonly q: ClientQuestion,
    readonly udpLimit: number,
  ) {}
}

/** What a native copy of reusable forwarded answers needs (Forwarder.reuseSetup). */
export interface ForwardReuseSetup {
  /** The access list as 18-byte address rules. */
  acl: Buffer;
  /** The EDNS size our OPT advertises. */
  advertisedUdp: number;
  /** The pending kdns_cache_hits_total counts, by kind. */
  hits: Float64Array;
  /** The forward cache's entry limit: a copy of its answers holds no more. */
  maxEntries: number;
}

/** Forwarder.answerNow's result; one per caller, overwritten by each call. */
export class ForwardOutcome {
  /** The response, when no network is needed (cache hit, local rule, refusal). */
  answer: Buffer | null = null;
  /** For `answer`: how many ms it stays exactly right for the same question and flags (0: not reusable). */
  reuseMs = 0;
  /** For `answer`: the kdns_cache_hits_total kind (HIT_*) each reuse counts as. */
  reuseKind = 0;
  /** The miss, when `answer` is null: give it to Forwarder.continueMiss. */
  ticket: MissTicket | null = null;

  reset(): void {
    this.answer = null;
    this.reuseMs = 0;
    this.reuseKind = 0;
    this.ticket = null;
  }
}
