// CNAMEs that leave our zones (an ExternalName Service pointing at www.example.com, a zone-file CNAME to a
// name elsewhere) are chased through the forwarder when forwarding is on, so a client gets the CNAME and
// the target's addresses in one answer, as the Kubernetes DNS specification's ExternalName examples show.
// This is the slow path (one upstream round trip, dns-packet on both ends); the answer is not cached here
// because the forwarder caches the target's part with its own TTLs.

import dnsPacket from 'dns-packet';
import { randomInt } from 'node:crypto';
import { MIN_UDP_PAYLOAD, RCODE_NOERROR, TYPE_CNAME } from '../dns/constants.js';
import { wireToKey } from '../dns/name.js';
import type { LookupResult, Rr } from '../dns/types.js';
import type { ForwardingPort } from './responder.js';

/** The out-of-zone name a positive CNAME chain ends at, or null when the answer is complete as it is. */
export function danglingCnameTarget(result: LookupResult, qtype: number): string | null {
  if (qtype === TYPE_CNAME || result.rcode !== RCODE_NOERROR || result.answer.length === 0) return null;
  const last = result.answer[result.answer.length - 1]!;
  if (last.type !== TYPE_CNAME) return null;
  return wireToKey(last.rdata, 0).key;
}

export interface ChaseClient {
  address: string;
  family: 4 | 6;
  proto: 'udp' | 'tcp';
  /** The client's UDP limit (65535 for TCP). */
  maxUdpSize: number;
  maxUdpPayload: number;
}

/** Asks the forwarder for `target` and answers the client with our CNAMEs followed by what came back. */
export async function chaseCname(
  forwarder: ForwardingPort, query: Buffer, cnames: Rr[], target: string, qtype: number, client: ChaseClient,
): Promise<Buffer | null> {
  const original = dnsPacket.decode(query);
  const sub = dnsPacket.encode({
    type: 'query', id: randomInt(0x10000), flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name: target === '.' ? '.' : target.slice(0, -1), type: dnsPacket.decode(query).questions![0]!.type, class: 'IN' }],
  });
  const upstream = await forwarder.resolve(sub, target, qtype, { ...client, proto: 'tcp', maxUdpSize: 65535 });
  if (upstream === null) return null;
  const answer = dnsPacket.decode(upstream);
  const clientOpt = (original.additionals ?? []).find((r) => r.type === 'OPT') as { flags?: number } | undefined;
  const ours = cnames.map((rr) => ({
    name: rr.name.slice(0, -1), type: 'CNAME' as const, class: 'IN' as const, ttl: rr.ttl, data: wireToKey(rr.rdata, 0).key.slice(0, -1),
  }));
  const rcode = (answer.flags ?? 0) & 0x0f;
  const flags = dnsPacket.RECURSION_AVAILABLE | ((original.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | rcode;
  const build = (truncated: boolean): Buffer => dnsPacket.encode({
    type: 'response', id: original.id, flags: flags | (truncated ? dnsPacket.TRUNCATED_RESPONSE : 0),
    questions: original.questions,
    answers: truncated ? [] : [...ours, ...(answer.answers ?? [])],
    authorities: truncated ? [] : (answer.authorities ?? []),
    additionals: clientOpt === undefined ? [] : [{
      name: '.', type: 'OPT', udpPayloadSize: client.maxUdpPayload, flags: (clientOpt.flags ?? 0) & dnsPacket.DNSSEC_OK,
    } as never],
  });
  const full = build(false);
  const limit = client.proto === 'tcp' ? 65535 : Math.max(MIN_UDP_PAYLOAD, client.maxUdpSize);
  return full.length <= limit ? full : build(true);
}
