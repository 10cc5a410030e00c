// The query → response step shared by every engine and transport. The hot path: read the query by byte
// offsets into a reused slot, find the precompiled answer by the hash of the lower-cased name bytes, copy
// it into the engine's output buffer and patch ID, flags, the client's spelling of the name and the OPT.
// Everything else (misses, errors, CHAOS) takes the slower path and, where the answer is reusable, stores
// its compiled bytes so the next identical question is a copy.

import {
  CLASS_CH, CLASS_IN, FLAG_CD, FLAG_RA, FLAG_RD, FLAG_TC, HEADER_SIZE, MIN_UDP_PAYLOAD, OPCODE_MASK, OPCODE_UPDATE,
  RCODE_BADVERS, RCODE_FORMERR, RCODE_NOERROR, RCODE_NOTIMP, RCODE_NXDOMAIN, RCODE_REFUSED, RCODE_SERVFAIL, TYPE_ANY, TYPE_AXFR, TYPE_IXFR,
  TYPE_OPT, TYPE_TXT, EDNS_DO,
} from '../dns/constants.js';
import { QuerySlot, readQuery, READ_BADVERS, READ_DROP, READ_NOTIMP, READ_OK } from '../dns/query-reader.js';
import { AnswerTable, hashName } from '../dns/answer-table.js';
import { compileResponse, writeEmptyResponse } from '../dns/compile.js';
import { keyToWire, wireToKey } from '../dns/name.js';
import { rdataTxt } from '../dns/rdata.js';
import type { LookupResult } from '../dns/types.js';
import { danglingCnameTarget } from './cname-chase.js';
import {
  ForwardHandoff, PROTO_UDP, RESPOND_FORWARD, type ForwardingPort, type ForwardedMirror, type TransferPort, type UpdatePort,
} from './forward-handoff.js';
import type { ForwardReuseSetup } from '../forward/outcome.js';
import { BoundedMemo } from '../util/bounded-memo.js';
import { lookup, type ZoneSetReader } from '../zone/index.js';
import type { LocalReader } from './local-names.js';
import { NegativeFeed, type NegativeMirror } from './negative-feed.js';
import type { AnswerOrder } from '../policy/answer-order.js';

// The hand-off's names, for the engines that import them from here.
export { PROTO_TCP, PROTO_UDP, RESPOND_FORWARD, forwardVariant } from './forward-handoff.js';
export type { ForwardingPort, TransferPort, UpdatePort } from './forward-handoff.js';
export type { ForwardReuseSetup } from '../forward/outcome.js';

/** Largest DNS message (TCP) plus room for the OPT we append. */
export const RESPONSE_BUFFER_SIZE = 65535 + 64;

const OPT_SIZE = 11;
// Compiled answers are kept until the zone changes. A flood of random names must not grow the table
// without bound, so past this many entries it starts over (misses are still answered correctly).
/** The compiled-answer table is emptied when it reaches this many answers (its mirrors are bounded by it too). */
export const MAX_TABLE_ENTRIES = 200_000;
/** Names whose forwarding verdict is remembered (both memos below), before they start over. */
const FORWARDED_MEMO_LIMIT = 10_000;
const NX_SEEN_SLOTS = 1 << 16; // power of two: 16,384 buckets of 4, 256 KiB

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

/**
 * A copy of the responder's compiled UDP answers kept elsewhere (the native engine's answer cache), told of
 * every change to the table so it never answers what the responder would no longer say.
 */
export interface AnswerMirror extends Partial<NegativeMirror>, ForwardedMirror {
  set(name: Buffer, nameLength: number, qtype: number, answer: Buffer): void;
  delete(name: Buffer, nameLength: number, qtype: number): void;
  clear(): void;
}

export class Responder {
  private readonly slot = new QuerySlot();
  private readonly table = new AnswerTable<Buffer>();
  /** qname → whether it is forwarded (see isForwarded). */
  private readonly forwardedMemo = new BoundedMemo<string, boolean>(FORWARDED_MEMO_LIMIT, (qname) => this.decideForwarded(qname));
  /**
   * Lower-case wire qname → its key, for names respond() handed to the forwarder: the next query for the
   * name skips the key conversion and the verdict (cleared with forwardedMemo; class IN only).
   */
  private readonly forwardedKeys = new AnswerTable<string>();
  /** Owner name → table entries whose answer depended on it (see invalidateNames). */
  // One entry is kept as the string itself (most names are depended on by one answer, and a flood of random
  // names makes one per query); a second turns it into a Set.
  private readonly dependents = new Map<string, string | Set<string>>();
  private readonly opts: ResponderOptions;
  private readonly forwarder: ForwardingPort | null;
  /** RA in every answer: kdns forwards, so it is the client's recursive resolver. */
  readonly recursionAvailable: boolean;
  private readonly mirrors: AnswerMirror[] = [];
  /** What mirrors that synthesize NXDOMAIN and NODATA themselves need to know (see negative-feed.ts). */
  private readonly negatives: NegativeFeed;
  private readonly nxSeen = new Uint32Array(NX_SEEN_SLOTS);
  private nxNextWay = 0;
  /** Queries respond() does not answer itself go here: to the forwarder, a CNAME chase, UPDATE or transfers. */
  readonly handoff: ForwardHandoff;
  /** rcode of the last response written, for metrics. */
  lastRcode = 0;
  lastQtype = 0;

  constructor(opts: ResponderOptions) {
    this.opts = opts;
    this.forwarder = opts.forwarder ?? null;
    this.negatives = new NegativeFeed(opts.zones, opts.local);
    // With a forwarder kdns is the client's recursive resolver: say so (RA), as dnsmasq does.
    this.recursionAvailable = this.forwarder !== null;
    this.handoff = new ForwardHandoff(this.slot, {
      forwarder: this.forwarder, updates: opts.updates ?? null, transfers: opts.transfers ?? null, maxUdpPayload: opts.maxUdpPayload,
    }, this.mirrors);
  }

  /** What a mirror of reusable forwarded answers needs; null without a forwarder that offers reuse. */
  forwardReuseSetup(): ForwardReuseSetup | null {
    return this.handoff.reuseSetup();
  }

  /**
   * Whether (name hash, qtype) was seen here recently, remembering it if not: fingerprints in 4-way buckets,
   * a new one going to an empty way or else to the next way in turn. (A direct-mapped table let two names
   * that share a slot evict each other forever, so neither was ever cached.) A collision only makes a
   * one-off name cached, and a forgotten one costs one more compile: nothing here can give a wrong answer.
   */
  private askedBefore(hash: number, qtype: number): boolean {
    const print = ((hash ^ Math.imul(qtype, 0x9e3779b1)) | 1) >>> 0; // never 0, the empty mark
    const seen = this.nxSeen;
    const base = ((print ^ (print >>> 15)) & (NX_SEEN_SLOTS / 4 - 1)) * 4;
    let empty = -1;
    for (let w = 0; w < 4; w++) {
      const v = seen[base + w];
      if (v === print) return true;
      if (v === 0 && empty < 0) empty = w;
    }
    seen[base + (empty >= 0 ? empty : this.nxNextWay++ & 3)] = print;
    return false;
  }

  /** Our EDNS UDP payload size, advertised in every OPT we send. */
  get maxUdpPayload(): number {
    return this.opts.maxUdpPayload;
  }

  /**
   * Keeps `mirror` equal to the table of compiled class-IN answers from now on (it starts with a copy).
   * The mirror must answer exactly as finish() would for an answer that needs no truncation.
   */
  addMirror(mirror: AnswerMirror): void {
    mirror.clear();
    this.table.forEach((name, qtype, qclass, answer) => {
      if (qclass === CLASS_IN) mirror.set(name, name.length, qtype, answer);
    });
    mirror.negativeReset?.(this.negatives.full());
    this.mirrors.push(mirror);
  }

  removeMirror(mirror: AnswerMirror): void {
    const i = this.mirrors.indexOf(mirror);
    if (i >= 0) this.mirrors.splice(i, 1);
  }

  /** Adds an exact-match store consulted after the existing ones (e.g. cluster reverse names). */
  addLocal(local: LocalReader): void {
    this.opts.local.push(local);
    this.invalidate();
  }

  /** Forget every compiled answer (a zone was added or removed, readiness flipped, local data changed). */
  invalidate(): void {
    this.clearAnswers();
    if (!this.mirrors.some((m) => m.negativeReset !== undefined)) return;
    const batch = this.negatives.full();
    for (const m of this.mirrors) m.negativeReset?.(batch);
  }

  /** Forget every compiled answer; the zones did not change (the name sets of negative mirrors stay). */
  private clearAnswers(): void {
    this.table.clear();
    this.dependents.clear();
    this.forgetForwarded();
    for (const m of this.mirrors) m.clear();
  }

  /**
   * Forget the compiled answers whose lookup consulted any of `names` (keys). The zone reports every name
   * whose data or existence changed (Zone.apply's change set); an answer can only change when one of the names it
   * depended on did, so one EndpointSlice update drops a handful of entries, not the table.
   */
  invalidateNames(changed: Iterable<string>): void {
    const names = Array.isArray(changed) ? changed as string[] : [...changed];
    // Whether a name is forwarded depends on the zones' origins (a change there calls invalidate()) and on
    // the local stores, whose names lie outside every zone (cluster PTRs, hosts entries). So only a changed
    // name outside every zone can turn a forwarded name local; a busy cluster zone keeps the memos.
    let outsideZones = false;
    for (const name of names) {
      if (!outsideZones && this.opts.zones.findZone(name) === undefined) outsideZones = true;
      const entries = this.dependents.get(name);
      if (entries === undefined) continue;
      this.dependents.delete(name);
      if (typeof entries === 'string') this.dropEntry(entries);
      else for (const entry of entries) this.dropEntry(entry);
    }
    if (outsideZones) this.forgetForwarded();
    if (names.length === 0 || !this.mirrors.some((m) => m.negativeUpdate !== undefined)) return;
    const batch = this.negatives.changed(names);
    for (const m of this.mirrors) m.negativeUpdate?.(batch);
  }

  /** Drops one compiled answer, remembered as "qtype qname" (see compileMiss), from the table and mirrors. */
  private dropEntry(entry: string): void {
    // The wire name is rebuilt here, off the hot path.
    const space = entry.indexOf(' ');
    const qtype = Number(entry.slice(0, space));
    const wire = keyToWire(entry.slice(space + 1));
    this.table.delete(wire, wire.length, hashName(wire, 0, wire.length), qtype, CLASS_IN);
    for (const m of this.mirrors) m.delete(wire, wire.length, qtype);
  }

  private forgetForwarded(): void {
    this.forwardedMemo.clear();
    if (this.forwardedKeys.size > 0) this.forwardedKeys.clear();
    this.handoff.clearForwardedMirrors();
  }

  /**
   * Answers `query[0..len)` into `out`; returns the response length, or 0 to send nothing.
   * `maxSize` is the transport's hard limit (65535 for TCP); UDP limits come from the query's EDNS.
   */
  respond(query: Buffer, len: number, proto: number, out: Buffer): number {
    const slot = this.slot;
    const status = readQuery(query, len, slot);
    this.lastQtype = slot.qtype;
    if (status !== READ_OK) return this.respondError(query, status, out);

    const compiled = slot.qclass === CLASS_IN
      ? this.table.get(slot.lowerName, slot.nameLength, slot.hash, slot.qtype, slot.qclass)
      : undefined;
    if (compiled === undefined) {
      // Transfers are never compiled into the table: each depends on who asks and on the zone's history.
      if ((slot.qtype === TYPE_AXFR || slot.qtype === TYPE_IXFR) && this.opts.transfers != null) {
        return this.handoff.toTransfers();
      }
      const forwarding = this.forwarder !== null && slot.qclass === CLASS_IN;
      if (forwarding) {
        const known = this.forwardedKeys.get(slot.lowerName, slot.nameLength, slot.hash, 0, 0);
        if (known !== undefined) return this.prepareForward(query, len, known, out);
      }
      const qname = wireToKey(slot.lowerName.subarray(0, slot.nameLength), 0).key;
      if (forwarding && !this.awaitsSync(qname) && this.isForwarded(qname)) {
        if (this.forwardedKeys.size >= FORWARDED_MEMO_LIMIT) this.forwardedKeys.clear();
        this.forwardedKeys.set(slot.lowerName, slot.nameLength, slot.hash, 0, 0, qname);
        return this.prepareForward(query, len, qname, out);
      }
      const fresh = this.compileMiss(slot, qname);
      if (fresh === null) return RESPOND_FORWARD; // a CNAME chase was handed off
      return this.finish(query, fresh, proto, out);
    }
    return this.finish(query, compiled, proto, out);
  }

  /** The client's UDP size limit: its EDNS size clamped to [512, our maximum]; 512 without EDNS. */
  private udpLimit(): number {
    const slot = this.slot;
    return slot.hasOpt ? Math.min(Math.max(slot.udpSize, MIN_UDP_PAYLOAD), this.opts.maxUdpPayload) : MIN_UDP_PAYLOAD;
  }

  /**
   * A name a local store has not loaded yet (LocalNames.unsyncedBelow: the cluster's reverse names before
   * its first sync): neither "no such name" nor the forwarder's answer can be trusted, so SERVFAIL, as for
   * names in a zone that is not ready. The store's sync clears every cached answer.
   */
  private awaitsSync(qname: string): boolean {
    for (const local of this.opts.local) if (local.unsyncedBelow.length > 0 && local.awaitsSync(qname)) return true;
    return false;
  }

  /**
   * Forwarded when no zone and no local store holds the name and a route or default upstream exists.
   * Asked for every forwarded query (cache hits included), so the verdict is remembered per name until
   * any zone or local data changes (every invalidation clears it; bounded like the answer table).
   */
  private isForwarded(qname: string): boolean {
    return this.forwardedMemo.get(qname);
  }

  private decideForwarded(qname: string): boolean {
    for (const local of this.opts.local) if (local.lookup(qname, 0) !== null) return false;
    if (this.opts.zones.findZone(qname) !== undefined) return false;
    return this.forwarder!.routes(qname) || this.forwarder!.isLoopProbe(qname);
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

  /** Copies a compiled answer, patches it for this client, truncates for UDP. */
  private finish(query: Buffer, compiled: Buffer, proto: number, out: Buffer): number {
    const slot = this.slot;
    // TypedArray#set, not Buffer#copy: copy() runs three JS frames of argument checks per call.
    out.set(compiled, 0);
    let n = compiled.length;
    out.writeUInt16BE(slot.id, 0);
    out[2] = out[2]! | ((slot.flags & FLAG_RD) >> 8); // RD is the client's
    out[3] = out[3]! | (slot.flags & FLAG_CD) | (this.recursionAvailable ? FLAG_RA : 0);
    // The client's spelling of the name, so its case comes back (names equal to the qname are pointers here).
    // A byte loop, not Buffer.copy: copy() with offsets creates a Uint8Array view per call (garbage per query).
    for (let i = HEADER_SIZE, end = HEADER_SIZE + slot.nameLength; i < end; i++) out[i] = query[i]!;
    this.lastRcode = out[3]! & 0x0f;
    if (proto === PROTO_UDP) {
      const room = this.udpLimit() - (slot.hasOpt ? OPT_SIZE : 0);
      if (n > room) n = this.fit(out, n, room);
    }
    if (slot.hasOpt) n = this.appendOpt(out, n, 0);
    return n;
  }

  /**
   * Makes the message in `out[0..n)` fit in `room` bytes (RFC 2181 §9): additional records are optional,
   * so drop them from the end first, without TC, as bind9 does; if the answer and authority alone do not
   * fit, send header + question with TC=1 and let the client retry over TCP (RFC 7766 §3).
   */
  private fit(out: Buffer, n: number, room: number): number {
    const slot = this.slot;
    let pos = HEADER_SIZE + slot.nameLength + 4;
    const required = out.readUInt16BE(6) + out.readUInt16BE(8);
    for (let i = 0; i < required; i++) pos = skipRecord(out, pos);
    if (pos > room) {
      out[2] = out[2]! | (FLAG_TC >> 8);
      out.writeUInt16BE(0, 6);
      out.writeUInt16BE(0, 8);
      out.writeUInt16BE(0, 10);
      return HEADER_SIZE + slot.nameLength + 4;
    }
    const additional = out.readUInt16BE(10);
    let kept = 0;
    while (kept < additional) {
      const next = skipRecord(out, pos);
      if (next > room) break;
      pos = next;
      kept++;
    }
    out.writeUInt16BE(kept, 10);
    return pos;
  }

  /** Appends our OPT record at `n` and counts it in ARCOUNT. */
  private appendOpt(out: Buffer, n: number, extendedRcodeHigh: number): number {
    out[n] = 0; // root owner
    out.writeUInt16BE(TYPE_OPT, n + 1);
    out.writeUInt16BE(this.opts.maxUdpPayload, n + 3);
    out[n + 5] = extendedRcodeHigh;
    out[n + 6] = 0; // version 0
    out.writeUInt16BE(this.slot.ednsFlags & EDNS_DO, n + 7); // echo DO (RFC 3225), clear the rest
    out.writeUInt16BE(0, n + 9);
    out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
    return n + OPT_SIZE;
  }

  /** The slow path: authoritative lookup, compile, and keep the bytes when they are reusable. */
  private compileMiss(slot: QuerySlot, qname: string): Buffer | null {
    const qnameLower = slot.lowerName.subarray(0, slot.nameLength);
    const deps = new Set<string>();
    const result = this.resolve(qname, slot.qtype, slot.qclass, deps);
    const turned = this.opts.answerOrder?.active === true && this.opts.answerOrder.apply(result);
    if (this.forwarder !== null && slot.qclass === CLASS_IN) {
      const target = danglingCnameTarget(result, slot.qtype);
      if (target !== null && this.isForwarded(target)) {
        this.handoff.toChase(result.answer, target);
        return null;
      }
    }
    const compiled = compileResponse(qnameLower, slot.qtype, slot.qclass, result);
    // A name that does not exist is cached only when asked again: a flood of random names (one query each)
    // then neither churns the table, which would evict the real names' answers, nor pays for inserts.
    if (result.rcode === RCODE_NXDOMAIN && !this.askedBefore(slot.hash, slot.qtype)) return compiled;
    if (turned) return compiled; // the next query gets another order
    if (slot.qclass === CLASS_IN) {
      if (this.table.size >= MAX_TABLE_ENTRIES) this.clearAnswers();
      this.table.set(slot.lowerName, slot.nameLength, slot.hash, slot.qtype, slot.qclass, compiled);
      for (const m of this.mirrors) m.set(slot.lowerName, slot.nameLength, slot.qtype, compiled);
      // "qtype qname": a string, not an object holding a copy of the name bytes, since every miss makes one
      // (a flood of random names makes hundreds of thousands) and invalidation is rare by comparison.
      const key = slot.qtype + ' ' + qname;
      deps.add(qname); // local data and refusals depend on the name itself
      for (const dep of deps) {
        const known = this.dependents.get(dep);
        if (known === undefined) this.dependents.set(dep, key);
        else if (typeof known === 'string') {
          if (known !== key) this.dependents.set(dep, new Set([known, key]));
        } else known.add(key);
      }
    }
    return compiled;
  }

  private resolve(qname: string, qtype: number, qclass: number, deps: Set<string>): LookupResult {
    if (qclass === CLASS_CH) return this.chaos(qname, qtype);
    if (qclass !== CLASS_IN) return refused();
    if (qtype === TYPE_AXFR || qtype === TYPE_IXFR) return refused(); // zone transfers are not offered
    if (qtype === TYPE_OPT) return { ...refused(), rcode: RCODE_FORMERR };
    if (qtype >= 128 && qtype < 255) return { ...refused(), rcode: RCODE_NOTIMP }; // MAILA/MAILB, TKEY...
    if (this.awaitsSync(qname)) return { ...refused(), rcode: RCODE_SERVFAIL };
    for (const local of this.opts.local) {
      const answer = local.lookup(qname, qtype);
      if (answer !== null) return answer;
    }
    return lookup(this.opts.zones, qname, qtype, deps);
  }

  /** CHAOS-class identity queries (version.bind, id.server), answered or refused by config. */
  private chaos(qname: string, qtype: number): LookupResult {
    const { versionBind, idServer } = this.opts.chaos;
    let text: string | null = null;
    if (qname === 'version.bind.' || qname === 'version.server.') text = versionBind;
    else if (qname === 'id.server.' || qname === 'hostname.bind.') text = idServer;
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

  /** FORMERR, NOTIMP, BADVERS or silence for a query the reader did not accept. */
  private respondError(query: Buffer, status: number, out: Buffer): number {
    const slot = this.slot;
    if (status === READ_DROP) return 0;
    if (status === READ_NOTIMP && slot.opcode === OPCODE_UPDATE && this.opts.updates != null) {
      return this.handoff.toUpdates();
    }
    let rcode = RCODE_FORMERR;
    if (status === READ_NOTIMP) rcode = RCODE_NOTIMP;
    else if (status === READ_BADVERS) rcode = RCODE_BADVERS;
    // The client's opcode, and RD and CD for a QUERY; AA off; low 4 bits of the rcode here, the rest in the
    // OPT. RD and CD are QUERY's bits: an answer to an opcode we do not implement echoes neither (as BIND;
    // ISC's genreport fails "opcodeflg" otherwise).
    const echoLength = slot.nameLength > 0 && slot.questionEnd > 0 ? slot.nameLength : 0;
    const echoed = status === READ_NOTIMP ? OPCODE_MASK : OPCODE_MASK | FLAG_RD | FLAG_CD;
    let n = writeEmptyResponse(out, query, HEADER_SIZE, echoLength, slot.qtype, slot.qclass, rcode, slot.flags & echoed);
    out.writeUInt16BE(slot.id, 0);
    // An OPT goes back when the query's OPT was understood (BADVERS must carry one, RFC 6891 §7).
    if (slot.hasOpt && (status === READ_BADVERS || status === READ_NOTIMP)) n = this.appendOpt(out, n, rcode >> 4);
    this.lastRcode = rcode;
    return n;
  }
}

/** Offset after the resource record at `pos` in a message we compiled ourselves (well-formed by construction). */
function skipRecord(buf: Buffer, pos: number): number {
  for (;;) {
    const len = buf[pos]!;
    if (len === 0) { pos += 1; break; }
    if ((len & 0xc0) === 0xc0) { pos += 2; break; }
    pos += 1 + len;
  }
  return pos + 10 + buf.readUInt16BE(pos + 8);
}

function refused(): LookupResult {
  return { rcode: RCODE_REFUSED, aa: false, answer: [], authority: [], additional: [] };
}
