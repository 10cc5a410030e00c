// The hand-off of a query the responder does not answer itself: to the forwarder (a name outside our zones,
// or the target of one of our CNAMEs that leaves them), to the UPDATE port or to the transfer port. The
// responder's respond() fills its QuerySlot, decides where the query goes and tells this (toForwarder,
// toChase, toUpdates, toTransfers). The engine then calls answerNow, which hands the slot to the forwarder
// once (access list, route, cache: Forwarder.answerNow) and gets back an answer to send in the same batch,
// or a ticket for the miss that `later` sends on with the engine's callback. Nothing is parsed twice and
// nothing is read back from the forwarder afterwards: the outcome carries the answer's reuse time too.

import { CLASS_IN, EDNS_DO, FLAG_AD, FLAG_CD, FLAG_RD, MIN_UDP_PAYLOAD } from '../dns/constants.js';
import type { QuerySlot } from '../dns/query-reader.js';
import type { Rr } from '../dns/types.js';
import type { ForwardClient } from '../forward/forwarder.js';
import { ForwardOutcome, type ForwardReuseSetup, type MissTicket } from '../forward/outcome.js';
import { chaseCname, type ChaseQuery } from './cname-chase.js';

/** respond() result: the query was handed off (forwardNow, then forwardLater when that returns it again). */
export const RESPOND_FORWARD = -1;
export const PROTO_UDP = 0;
export const PROTO_TCP = 1;

const OPT_SIZE = 11;
const HANDOFF_NONE = 0;
const HANDOFF_FORWARD = 1;
const HANDOFF_CHASE = 2;
const HANDOFF_UPDATE = 3;
const HANDOFF_TRANSFER = 4;

/** What the hand-off needs from the forwarder (src/forward/forwarder.ts implements it). */
export interface ForwardingPort {
  routes(qnameKey: string): boolean;
  isLoopProbe(qnameKey: string): boolean;
  loopProbeResponse(query: Buffer, slot: QuerySlot): Buffer;
  /** Access list, route and cache, once, from the parsed query: `out.answer` now, or `out.ticket` for continueMiss. */
  answerNow(query: Buffer, slot: QuerySlot, qnameKey: string, client: ForwardClient, out: ForwardOutcome): void;
  /** The network part of a miss; calls `ticket.onAnswer(response, ticket.replyTo)` once. */
  continueMiss(ticket: MissTicket): void;
  /** What a native copy of reusable answers needs (access list rules, OPT size, hit counters). */
  reuseSetup?(): ForwardReuseSetup;
  /** `listener` runs whenever reusable answers handed out must be forgotten. */
  onReuseInvalid?(listener: () => void): void;
}

/** Where AXFR/IXFR queries go: the whole query in, every response message out (null: silence). */
export interface TransferPort {
  handle(message: Buffer, client: string, tcp: boolean): Promise<Buffer[] | null>;
}

/** Where UPDATE messages go: the whole message in, the whole response (or null: silence) out. */
export interface UpdatePort {
  handle(message: Buffer, client: string): Promise<Buffer | null>;
}

/** Where reusable forwarded answers go (the native engine's answer cache; see AnswerMirror in responder.ts). */
export interface ForwardedMirror {
  setForwarded?(name: Buffer, nameLength: number, qtype: number, variant: number, answer: Buffer, validMs: number, kind: number): void;
  clearForwarded?(): void;
}

/** The flag variant a forwarded answer depends on: DO << 2 | CD << 1 | (DO or AD) (native/answer_cache.c). */
export function forwardVariant(dnssecOk: boolean, checkingDisabled: boolean, authenticData: boolean): number {
  return (dnssecOk ? 4 : 0) | (checkingDisabled ? 2 : 0) | (dnssecOk || authenticData ? 1 : 0);
}

/** Called once per handed-off query: its response(s), or null for none; `replyTo` as given to `later`. */
export type HandoffAnswer = (response: Buffer | Buffer[] | null, replyTo: unknown) => void;

export interface HandoffOptions {
  forwarder: ForwardingPort | null;
  updates: UpdatePort | null;
  transfers: TransferPort | null;
  maxUdpPayload: number;
}

export class ForwardHandoff {
  private kind = HANDOFF_NONE;
  private qnameKey = '';
  private chase: { cnames: Rr[]; target: string } | null = null;
  /** The forwarder's decision for the query handed off; its ticket is taken by `later`. */
  private readonly outcome = new ForwardOutcome();
  private readonly clientNow: ForwardClient = { address: '', family: 4, proto: 'udp', maxUdpSize: MIN_UDP_PAYLOAD };

  constructor(
    /** The responder's slot: as readQuery filled it for the query being handed off. */
    private readonly slot: QuerySlot,
    private readonly opts: HandoffOptions,
    private readonly mirrors: readonly ForwardedMirror[],
  ) {
    opts.forwarder?.onReuseInvalid?.(() => this.clearForwardedMirrors());
  }

  toForwarder(qnameKey: string): number {
    this.kind = HANDOFF_FORWARD;
    this.qnameKey = qnameKey;
    this.outcome.reset();
    return RESPOND_FORWARD;
  }

  /** Our CNAMEs end at `target`, outside our zones: answer them with the forwarder's answer for it. */
  toChase(cnames: Rr[], target: string): number {
    this.kind = HANDOFF_CHASE;
    this.chase = { cnames, target };
    return RESPOND_FORWARD;
  }

  toUpdates(): number {
    this.kind = HANDOFF_UPDATE;
    return RESPOND_FORWARD;
  }

  toTransfers(): number {
    this.kind = HANDOFF_TRANSFER;
    return RESPOND_FORWARD;
  }

  /**
   * For the query respond() just handed off (RESPOND_FORWARD), with the slot as it left it: the answer
   * written into `out` when the forwarder has it without the network (fresh cache hit, local rule,
   * refusal), its length returned; RESPOND_FORWARD when `later` must send it on.
   */
  answerNow(query: Buffer, len: number, address: string, family: number, proto: number, out: Buffer): number {
    if (this.kind !== HANDOFF_FORWARD) return RESPOND_FORWARD;
    const o = this.outcome;
    this.opts.forwarder!.answerNow(query.subarray(0, len), this.slot, this.qnameKey, this.client(address, family, proto), o);
    const response = o.answer;
    if (response === null) return RESPOND_FORWARD;
    this.kind = HANDOFF_NONE;
    out.set(response, 0); // TypedArray#set: Buffer#copy runs argument checks in JS on every hit
    if (proto === PROTO_UDP && o.reuseMs > 0 && this.mirrors.length > 0) this.mirrorForwarded(response, o.reuseMs, o.reuseKind);
    return response.length;
  }

  /**
   * Sends the query handed off on: the miss answerNow found to the network, a CNAME chase, an UPDATE or a
   * transfer. `onAnswer(response, replyTo)` is called once, later (never inside this call). `query` is read
   * now, not kept.
   */
  later(query: Buffer, len: number, address: string, family: number, proto: number, replyTo: unknown, onAnswer: HandoffAnswer): void {
    const kind = this.kind;
    this.kind = HANDOFF_NONE;
    const tcp = proto === PROTO_TCP;
    if (kind === HANDOFF_FORWARD) {
      let ticket = this.outcome.ticket;
      if (ticket === null) {
        // answerNow was not called (or answered): decide now.
        this.opts.forwarder!.answerNow(query.subarray(0, len), this.slot, this.qnameKey, this.client(address, family, proto), this.outcome);
        if (this.outcome.answer !== null) { process.nextTick(onAnswer, this.outcome.answer, replyTo); return; }
        ticket = this.outcome.ticket!;
      }
      this.outcome.ticket = null;
      ticket.replyTo = replyTo;
      ticket.onAnswer = onAnswer;
      this.opts.forwarder!.continueMiss(ticket);
      return;
    }
    if (kind === HANDOFF_CHASE) {
      const chase = this.chaseQuery(query, this.chase!);
      this.chase = null;
      const client = { ...this.client(address, family, proto), maxUdpPayload: this.opts.maxUdpPayload };
      // Never inside this call, even when the target is a cache hit: the engine (a TCP read loop) is mid-batch.
      chaseCname(this.opts.forwarder!, chase, client, (response) => process.nextTick(onAnswer, response, replyTo));
      return;
    }
    const copy = Buffer.from(query.subarray(0, len));
    const settle = (response: Buffer | Buffer[] | null): void => onAnswer(response, replyTo);
    const none = (): void => onAnswer(null, replyTo);
    if (kind === HANDOFF_TRANSFER) this.opts.transfers!.handle(copy, address, tcp).then(settle, none);
    else if (kind === HANDOFF_UPDATE) this.opts.updates!.handle(copy, address).then(settle, none);
    else process.nextTick(onAnswer, null, replyTo);
  }

  /** What a mirror of reusable forwarded answers needs; null without a forwarder that offers reuse. */
  reuseSetup(): ForwardReuseSetup | null {
    return this.opts.forwarder?.reuseSetup?.() ?? null;
  }

  clearForwardedMirrors(): void {
    for (const m of this.mirrors) m.clearForwarded?.();
  }

  /** The client as the forwarder takes it: one object, refilled per query (answerNow does not keep it). */
  private client(address: string, family: number, proto: number): ForwardClient {
    const c = this.clientNow;
    c.address = address;
    c.family = family === 1 ? 6 : 4;
    c.proto = proto === PROTO_TCP ? 'tcp' : 'udp';
    c.maxUdpSize = proto === PROTO_TCP ? 65535 : this.udpLimit();
    return c;
  }

  /** The client's UDP size limit: its EDNS size clamped to [512, our maximum]; 512 without EDNS. */
  private udpLimit(): number {
    const slot = this.slot;
    return slot.hasOpt ? Math.min(Math.max(slot.udpSize, MIN_UDP_PAYLOAD), this.opts.maxUdpPayload) : MIN_UDP_PAYLOAD;
  }

  private chaseQuery(query: Buffer, chase: { cnames: Rr[]; target: string }): ChaseQuery {
    const slot = this.slot;
    return {
      cnames: chase.cnames, target: chase.target, qtype: slot.qtype,
      query: Buffer.from(query.subarray(0, slot.questionEnd)),
      qnameLower: Buffer.from(slot.lowerName.subarray(0, slot.nameLength)),
      hasOpt: slot.hasOpt, dnssecOk: slot.hasOpt && (slot.ednsFlags & EDNS_DO) !== 0,
    };
  }

  /** Hands a reusable forwarded answer to the mirrors that take them (ID, RD, CD and OPT are patched per query). */
  private mirrorForwarded(response: Buffer, validMs: number, kind: number): void {
    const slot = this.slot;
    if (slot.qclass !== CLASS_IN) return;
    const template = Buffer.from(response.subarray(0, slot.hasOpt ? response.length - OPT_SIZE : response.length));
    template.writeUInt16BE(0, 0); // ID
    template[2] = template[2]! & ~(FLAG_RD >> 8); // RD and CD are the client's, patched in per query
    template[3] = template[3]! & ~FLAG_CD;
    if (slot.hasOpt) template.writeUInt16BE(template.readUInt16BE(10) - 1, 10); // our OPT, appended per query
    const dnssecOk = slot.hasOpt && (slot.ednsFlags & EDNS_DO) !== 0;
    const variant = forwardVariant(dnssecOk, (slot.flags & FLAG_CD) !== 0, (slot.flags & FLAG_AD) !== 0);
    for (const m of this.mirrors) m.setForwarded?.(slot.lowerName, slot.nameLength, slot.qtype, variant, template, validMs, kind);
  }
}
