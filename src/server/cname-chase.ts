// CNAMEs that leave our zones (an ExternalName Service pointing at www.example.com, a zone-file CNAME to a
// name elsewhere) are chased through the forwarder when forwarding is on, so a client gets the CNAME and
// the target's addresses in one answer, as the Kubernetes DNS specification's ExternalName examples show.
// This is the slow path (one upstream round trip); it uses kdns's own reader and writer: the target's
// question goes through readQuery and the forwarder like any query, the answer's records are read back
// (record-reader.ts) and compiled behind our CNAMEs (compile.ts). The result is not cached here because
// the forwarder caches the target's part with its own TTLs.

import { randomId16 } from '../util/random-ids.js';
import {
  CLASS_IN, EDNS_DO, FLAG_QR, FLAG_RA, FLAG_RD, FLAG_TC, HEADER_SIZE, MIN_UDP_PAYLOAD, RCODE_MASK, RCODE_NOERROR, TYPE_CNAME, TYPE_OPT,
} from '../dns/constants.js';
import { compileResponse } from '../dns/compile.js';
import { keyToWire, wireToKey } from '../dns/name.js';
import { QuerySlot, readQuery, READ_OK } from '../dns/query-reader.js';
import { readRecords, skipQuestions } from '../dns/record-reader.js';
import type { LookupResult, Rr } from '../dns/types.js';
import { ForwardOutcome } from '../forward/outcome.js';
import type { ForwardingPort } from './forward-handoff.js';

/** The out-of-zone name a positive CNAME chain ends at, or null when the answer is complete as it is. */
export function danglingCnameTarget(result: LookupResult, qtype: number): string | null {
  if (qtype === TYPE_CNAME || result.rcode !== RCODE_NOERROR || result.answer.length === 0) return null;
  const last = result.answer[result.answer.length - 1]!;
  if (last.type !== TYPE_CNAME) return null;
  return wireToKey(last.rdata, 0).key;
}

/** What the chase keeps of the client's query (read by readQuery when it was handed off). */
export interface ChaseQuery {
  cnames: Rr[];
  target: string;
  qtype: number;
  /** The client's header and question (its ID, RD and spelling of the name). */
  query: Buffer;
  /** The lower-case wire qname. */
  qnameLower: Buffer;
  hasOpt: boolean;
  dnssecOk: boolean;
}

export interface ChaseClient {
  address: string;
  family: 4 | 6;
  proto: 'udp' | 'tcp';
  /** The client's UDP limit (65535 for TCP). */
  maxUdpSize: number;
  maxUdpPayload: number;
}

/** Asks the forwarder for the target and calls `done` with our CNAMEs followed by what came back (null: no answer). */
export function chaseCname(forwarder: ForwardingPort, chase: ChaseQuery, client: ChaseClient, done: (response: Buffer | null) => void): void {
  const sub = targetQuery(chase.target, chase.qtype);
  const slot = new QuerySlot();
  if (readQuery(sub, sub.length, slot) !== READ_OK) { done(null); return; }
  const out = new ForwardOutcome();
  forwarder.answerNow(sub, slot, chase.target, { ...client, proto: 'tcp', maxUdpSize: 65535 }, out);
  const joined = (upstream: Buffer): void => {
    let response: Buffer | null = null;
    try {
      response = join(chase, upstream, client);
    } catch { /* a malformed upstream answer: the client gets nothing, as for a lost one */ }
    done(response);
  };
  if (out.answer !== null) { joined(out.answer); return; }
  const ticket = out.ticket!;
  ticket.onAnswer = joined;
  forwarder.continueMiss(ticket);
}

/** `target qtype IN` with RD, no EDNS, a random ID. */
function targetQuery(target: string, qtype: number): Buffer {
  const name = keyToWire(target);
  const q = Buffer.alloc(HEADER_SIZE + name.length + 4);
  q.writeUInt16BE(randomId16(), 0);
  q.writeUInt16BE(FLAG_RD, 2);
  q.writeUInt16BE(1, 4);
  name.copy(q, HEADER_SIZE);
  q.writeUInt16BE(qtype, HEADER_SIZE + name.length);
  q.writeUInt16BE(CLASS_IN, HEADER_SIZE + name.length + 2);
  return q;
}

/** Our CNAMEs, then the target's answer and authority records; the client's ID, RD and name; TC when it does not fit. */
function join(chase: ChaseQuery, upstream: Buffer, client: ChaseClient): Buffer {
  const rcode = upstream[3]! & RCODE_MASK;
  let p = skipQuestions(upstream, upstream.readUInt16BE(4));
  const answers = readRecords(upstream, p, upstream.readUInt16BE(6));
  p = answers.end;
  const authority = readRecords(upstream, p, upstream.readUInt16BE(8)).records.filter((r) => r.type !== TYPE_OPT);
  const result: LookupResult = { rcode, aa: false, answer: [...chase.cnames, ...answers.records], authority, additional: [] };
  const full = finish(compileResponse(chase.qnameLower, chase.qtype, CLASS_IN, result), chase, client, false);
  const limit = client.proto === 'tcp' ? 65535 : Math.max(MIN_UDP_PAYLOAD, client.maxUdpSize);
  if (full.length <= limit) return full;
  return finish(compileResponse(chase.qnameLower, chase.qtype, CLASS_IN, { ...result, answer: [], authority: [] }), chase, client, true);
}

/** The client's ID, RD, spelling of the name; RA; our OPT (with the client's DO) when the client sent one. */
function finish(compiled: Buffer, chase: ChaseQuery, client: ChaseClient, truncated: boolean): Buffer {
  const out = Buffer.alloc(compiled.length + (chase.hasOpt ? 11 : 0));
  compiled.copy(out, 0);
  out.writeUInt16BE(chase.query.readUInt16BE(0), 0);
  const rd = chase.query.readUInt16BE(2) & FLAG_RD;
  out.writeUInt16BE(FLAG_QR | FLAG_RA | rd | (truncated ? FLAG_TC : 0) | (compiled[3]! & RCODE_MASK), 2);
  chase.query.copy(out, HEADER_SIZE, HEADER_SIZE, HEADER_SIZE + chase.qnameLower.length);
  if (chase.hasOpt) {
    let n = compiled.length;
    out[n++] = 0;
    n = out.writeUInt16BE(TYPE_OPT, n);
    n = out.writeUInt16BE(client.maxUdpPayload, n);
    n = out.writeUInt32BE(chase.dnssecOk ? EDNS_DO : 0, n); // extended rcode 0, version 0, DO
    out.writeUInt16BE(0, n);
    out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  }
  return out;
}
