import t from 'tap';
import dnsPacket from 'dns-packet';
import { compileResponse } from '../dns/compile.js';
import { CLASS_IN, TYPE_A, TYPE_CNAME } from '../dns/constants.js';
import { keyToWire } from '../dns/name.js';
import { rdataA, rdataName } from '../dns/rdata.js';
import type { ForwardOutcome } from '../forward/outcome.js';
import { chaseCname, type ChaseQuery } from './cname-chase.js';
import type { ForwardingPort } from './forward-handoff.js';

/** A forwarder that answers every target at once with `count` A records (what a cache hit returns). */
function forwarder(count: number, asked: string[]): ForwardingPort {
  return {
    routes: () => true,
    isLoopProbe: () => false,
    loopProbeResponse: () => Buffer.alloc(0),
    answerNow: (query, slot, key, _client, out: ForwardOutcome) => {
      asked.push(`${key} ${slot.qtype} ${slot.flags & 0x0100 ? 'RD' : ''}`);
      const answer = Array.from({ length: count }, (_, i) => ({ name: key, type: TYPE_A, class: CLASS_IN, ttl: 30, rdata: rdataA(`192.0.2.${i}`) }));
      const r = compileResponse(keyToWire(key), slot.qtype, CLASS_IN, { rcode: 0, aa: false, answer, authority: [], additional: [] });
      r.writeUInt16BE(query.readUInt16BE(0), 0);
      out.reset();
      out.answer = r;
    },
    continueMiss: () => { throw new Error('not a miss'); },
  };
}

function chase(count: number, opt: boolean): ChaseQuery {
  const query = dnsPacket.encode({
    type: 'query', id: 0x7777, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'Ext.Shop.svc.cluster.local' }],
  });
  return {
    cnames: [{ name: 'ext.shop.svc.cluster.local.', type: TYPE_CNAME, class: CLASS_IN, ttl: 5, rdata: rdataName('www.example.com.') }],
    target: 'www.example.com.', qtype: TYPE_A, query,
    qnameLower: keyToWire('ext.shop.svc.cluster.local.'), hasOpt: opt, dnssecOk: opt,
  };
}

const run = (port: ForwardingPort, q: ChaseQuery, proto: 'udp' | 'tcp', maxUdpSize: number): Promise<Buffer | null> =>
  new Promise((resolve) => chaseCname(port, q, { address: '127.0.0.1', family: 4, proto, maxUdpSize, maxUdpPayload: 1232 }, resolve));

t.test('our CNAME, then the target\'s records; the client\'s ID, RD, spelling and OPT', async (t) => {
  const asked: string[] = [];
  const r = await run(forwarder(2, asked), chase(2, true), 'udp', 1232);
  t.same(asked, ['www.example.com. 1 RD'], 'the target asked once, through answerNow, with RD');
  const p = dnsPacket.decode(r!);
  t.equal(p.id, 0x7777);
  t.equal(p.questions![0]!.name, 'Ext.Shop.svc.cluster.local');
  t.ok(p.flags! & dnsPacket.RECURSION_DESIRED, 'RD echoed');
  t.ok(p.flags! & dnsPacket.RECURSION_AVAILABLE, 'RA');
  t.same(p.answers!.map((a) => `${a.name} ${a.type} ${String((a as { data: unknown }).data)}`), [
    'Ext.Shop.svc.cluster.local CNAME www.example.com', 'www.example.com A 192.0.2.0', 'www.example.com A 192.0.2.1',
  ]);
  const opt = p.additionals!.find((a) => a.type === 'OPT') as { udpPayloadSize: number; flags: number } | undefined;
  t.equal(opt?.udpPayloadSize, 1232, 'our OPT');
  t.equal((opt?.flags ?? 0) & dnsPacket.DNSSEC_OK, dnsPacket.DNSSEC_OK, 'the client\'s DO');
});

t.test('too big for the client\'s UDP size: header, question and OPT with TC; whole over TCP', async (t) => {
  const udp = await run(forwarder(60, []), chase(60, true), 'udp', 512);
  t.ok(udp!.length <= 512);
  const p = dnsPacket.decode(udp!);
  t.ok(p.flags! & dnsPacket.TRUNCATED_RESPONSE, 'TC');
  t.equal(p.answers!.length, 0);
  t.equal(p.additionals!.length, 1, 'OPT kept');
  const tcp = dnsPacket.decode((await run(forwarder(60, []), chase(60, false), 'tcp', 65535))!);
  t.equal(tcp.answers!.length, 61, 'the CNAME and 60 addresses');
  t.equal(tcp.flags! & dnsPacket.TRUNCATED_RESPONSE, 0);
  t.equal((tcp.additionals ?? []).length, 0, 'no OPT when the client sent none');
});
