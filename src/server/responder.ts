// The query → response step shared by every engine and transport. The hot path: read the query by byte
// offsets into a reused slot, find the precompiled answer by the hash of the lower-cased name bytes, copy
// it into the engine's output buffer and patch ID, flags, the client's spelling of the name and the OPT.
// Everything else (misses, errors, CHAOS) takes the slower path and, where the answer is reusable, stores
// its compiled bytes so the next identical question is a copy. This file wires the jobs together; each
// lives in its own module (see README.md).

import {
  CLASS_IN, FLAG_CD, FLAG_RA, FLAG_RD, HEADER_SIZE, OPCODE_UPDATE, RCODE_NXDOMAIN, TYPE_AXFR, TYPE_IXFR,
} from '../dns/constants.js';
import { QuerySlot, readQuery, READ_DROP, READ_NOTIMP, READ_OK } from '../dns/query-reader.js';
import { compileResponse } from '../dns/compile.js';
import { wireToKey } from '../dns/name.js';
import { danglingCnameTarget } from './cname-chase.js';
import { CompiledAnswers, type AnswerMirror } from './compiled-answers.js';
import { FirstQueryFilter } from './first-query-filter.js';
import { ForwardedNames } from './forwarded-names.js';
import {
  ForwardHandoff, PROTO_UDP, RESPOND_FORWARD, type ForwardingPort, type TransferPort, type UpdatePort,
} from './forward-handoff.js';
import type { ForwardReuseSetup } from '../forward/outcome.js';
import type { ZoneSetReader } from '../zone/index.js';
import type { LocalReader } from './local-names.js';
import { awaitsSync, resolve } from './resolve.js';
import { errorRcode, ResponseFinisher } from './response-finish.js';
import type { AnswerOrder } from '../policy/answer-order.js';

// The hand-off's and the table's names, for the engines that import them from here.
export { PROTO_TCP, PROTO_UDP, RESPOND_FORWARD, forwardVariant } from './forward-handoff.js';
export type { ForwardingPort, TransferPort, UpdatePort } from './forward-handoff.js';
export type { ForwardReuseSetup } from '../forward/outcome.js';
export { MAX_TABLE_ENTRIES, type AnswerMirror } from './compiled-answers.js';

/** Largest DNS message (TCP) plus room for the OPT we append. */
export const RESPONSE_BUFFER_SIZE = 65535 + 64;

export interface ResponderOptions {
  zones: ZoneSetReader;
  /** Exact-match local data consulted before the zones, in order: hosts files, cluster reverse names. */
  local: LocalReader[];
  maxUdpPayload: number;
  chaos: { versionBind: string | null; idServer: string | null };
  /** Answers names outside every zone and local store (src/forward); null = REFUSED for them. */
  forwarder?: ForwardingPort | null;
  /** Takes RFC 2136 UPDATE messages (src/dynamic, on the main thread); null = NOTIMP for them. */
  updates?: UpdatePort | null;
  /** Per-name answer order (src/policy); answers it turns are never cached, here or in a mirror. */
  answerOrder?: AnswerOrder | null;
  /** Takes AXFR/IXFR queries (src/transfer, on the main thread); null = REFUSED for them. */
  transfers?: TransferPort | null;
}

export class Responder {
  private readonly slot = new QuerySlot();
  /** The compiled class-IN answers, their dependency index and their mirrors. */
  private readonly answers: CompiledAnswers;
  /** Which names are forwarded, remembered until any zone or local data changes. */
  private readonly forwarded: ForwardedNames;
  /** NXDOMAIN answers are stored only from a name's second query. */
  private readonly firstQueries = new FirstQueryFilter();
  private readonly finisher: ResponseFinisher;
  private readonly opts: ResponderOptions;
  private readonly forwarder: ForwardingPort | null;
  /** RA in every answer: kdns forwards, so it is the client's recursive resolver. */
  readonly recursionAvailable: boolean;
  /** Queries respond() does not answer itself go here: to the forwarder, a CNAME chase, UPDATE or transfers. */
  readonly handoff: ForwardHandoff;
  /** rcode of the last response written, for metrics. */
  lastRcode = 0;
  lastQtype = 0;

  constructor(opts: ResponderOptions) {
    this.opts = opts;
    this.forwarder = opts.forwarder ?? null;
    this.answers = new CompiledAnswers(opts.zones, opts.local, () => this.forgetForwarded());
    this.forwarded = new ForwardedNames(opts.zones, opts.local, this.forwarder, this.firstQueries);
    // With a forwarder kdns is the client's recursive resolver: say so (RA), as dnsmasq does.
    this.recursionAvailable = this.forwarder !== null;
    this.finisher = new ResponseFinisher(this.slot, opts.maxUdpPayload);
    this.handoff = new ForwardHandoff(this.slot, {
      forwarder: this.forwarder, updates: opts.updates ?? null, transfers: opts.transfers ?? null, maxUdpPayload: opts.maxUdpPayload,
    }, this.answers.mirrors);
  }

  /** What a mirror of reusable forwarded answers needs; null without a forwarder that offers reuse. */
  forwardReuseSetup(): ForwardReuseSetup | null {
    return this.handoff.reuseSetup();
  }

  /** Our EDNS UDP payload size, advertised in every OPT we send. */
  get maxUdpPayload(): number {
    return this.opts.maxUdpPayload;
  }

  /**
   * Keeps `mirror` equal to the table of compiled class-IN answers from now on (it starts with a copy).
   * The mirror must answer exactly as respond() would for an answer that needs no truncation.
   */
  addMirror(mirror: AnswerMirror): void {
    this.answers.addMirror(mirror);
  }

  removeMirror(mirror: AnswerMirror): void {
    this.answers.removeMirror(mirror);
  }

  /** Adds an exact-match store consulted after the existing ones (e.g. cluster reverse names). */
  addLocal(local: LocalReader): void {
    this.opts.local.push(local);
    this.invalidate();
  }

  /** Forget every compiled answer (a zone was added or removed, readiness flipped, local data changed). */
  invalidate(): void {
    this.answers.invalidate();
  }

  /** Forget the compiled answers whose lookup consulted any of `changed` (keys; see CompiledAnswers). */
  invalidateNames(changed: Iterable<string>): void {
    this.answers.invalidateNames(changed);
  }

  private forgetForwarded(): void {
    this.forwarded.clear();
    this.handoff.clearForwardedMirrors();
  }

  /**
   * Answers `query[0..len)` into `out`; returns the response length, or 0 to send nothing.
   * `proto` is PROTO_UDP or PROTO_TCP; UDP limits come from the query's EDNS.
   */
  respond(query: Buffer, len: number, proto: number, out: Buffer): number {
    const slot = this.slot;
    const status = readQuery(query, len, slot);
    this.lastQtype = slot.qtype;
    if (status !== READ_OK) return this.respondError(query, status, out);

    const compiled = slot.qclass === CLASS_IN
      ? this.answers.table.get(slot.lowerName, slot.nameLength, slot.hash, slot.qtype, slot.qclass)
      : undefined;
    if (compiled === undefined) {
      // Transfers are never compiled into the table: each depends on who asks and on the zone's history.
      if ((slot.qtype === TYPE_AXFR || slot.qtype === TYPE_IXFR) && this.opts.transfers != null) {
        return this.handoff.toTransfers();
      }
      const forwarding = this.forwarder !== null && slot.qclass === CLASS_IN;
      if (forwarding) {
        const known = this.forwarded.handedBefore(slot);
        if (known !== undefined) return this.prepareForward(query, len, known, out);
      }
      const qname = wireToKey(slot.lowerName.subarray(0, slot.nameLength), 0).key;
      if (forwarding && !awaitsSync(this.opts.local, qname) && this.forwarded.handOver(slot, qname)) {
        return this.prepareForward(query, len, qname, out);
      }
      const fresh = this.compileMiss(slot, qname);
      if (fresh === null) return RESPOND_FORWARD; // a CNAME chase was handed off
      return this.finish(query, fresh, proto, out);
    }
    return this.finish(query, compiled, proto, out);
  }

  /** Copies a compiled answer, patches it for this client (here: every hit runs it), truncates for UDP. */
  private finish(query: Buffer, compiled: Buffer, proto: number, out: Buffer): number {
    const slot = this.slot;
    // TypedArray#set, not Buffer#copy: copy() runs three JS frames of argument checks per call.
    out.set(compiled, 0);
    out.writeUInt16BE(slot.id, 0);
    out[2] = out[2]! | ((slot.flags & FLAG_RD) >> 8); // RD is the client's
    out[3] = out[3]! | (slot.flags & FLAG_CD) | (this.recursionAvailable ? FLAG_RA : 0);
    // The client's spelling of the name, so its case comes back (names equal to the qname are pointers here).
    // A byte loop, not Buffer.copy: copy() with offsets creates a Uint8Array view per call (garbage per query).
    for (let i = HEADER_SIZE, end = HEADER_SIZE + slot.nameLength; i < end; i++) out[i] = query[i]!;
    this.lastRcode = out[3]! & 0x0f;
    let n = compiled.length;
    if (proto === PROTO_UDP) n = this.finisher.fitUdp(out, n);
    if (slot.hasOpt) n = this.finisher.appendOpt(out, n, 0);
    return n;
  }

  private prepareForward(query: Buffer, len: number, qname: string, out: Buffer): number {
    if (this.forwarder!.isLoopProbe(qname)) {
      // Our own loop probe came back through an upstream: answer with the marker the sender looks for.
      const marker = this.forwarder!.loopProbeResponse(query.subarray(0, len), this.slot);
      this.lastRcode = marker[3]! & 0x0f;
      return marker.copy(out, 0);
    }
    return this.handoff.toForwarder(qname);
  }

  /** The slow path: authoritative lookup, compile, and keep the bytes when they are reusable. */
  private compileMiss(slot: QuerySlot, qname: string): Buffer | null {
    const qnameLower = slot.lowerName.subarray(0, slot.nameLength);
    const deps = new Set<string>();
    const result = resolve(this.opts, qname, slot.qtype, slot.qclass, deps);
    const turned = this.opts.answerOrder?.active === true && this.opts.answerOrder.apply(result);
    if (this.forwarder !== null && slot.qclass === CLASS_IN) {
      const target = danglingCnameTarget(result, slot.qtype);
      if (target !== null && this.forwarded.isForwarded(target)) {
        this.handoff.toChase(result.answer, target);
        return null;
      }
    }
    const compiled = compileResponse(qnameLower, slot.qtype, slot.qclass, result);
    // A name that does not exist is cached only when asked again (see first-query-filter.ts).
    if (result.rcode === RCODE_NXDOMAIN && !this.firstQueries.askedBefore(slot.hash, slot.qtype)) return compiled;
    if (turned) return compiled; // the next query gets another order
    if (slot.qclass === CLASS_IN) this.answers.store(slot, qname, compiled, deps);
    return compiled;
  }

  /** FORMERR, NOTIMP, BADVERS or silence for a query the reader did not accept (UPDATE goes to its port). */
  private respondError(query: Buffer, status: number, out: Buffer): number {
    if (status === READ_DROP) return 0;
    if (status === READ_NOTIMP && this.slot.opcode === OPCODE_UPDATE && this.opts.updates != null) {
      return this.handoff.toUpdates();
    }
    const rcode = errorRcode(status);
    this.lastRcode = rcode;
    return this.finisher.error(query, status, rcode, out);
  }
}
