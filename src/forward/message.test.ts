import t from 'tap';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import {
  buildUpstreamQuery, clientQuestionOf, indexResponse, localResponse, matchesQuery, questionEndOf, writeClientResponse,
  type ClientQuestion,
} from './message.js';
import { keyToWire } from '../dns/name.js';
import { QuerySlot, readQuery, READ_OK } from '../dns/query-reader.js';

/** The client's question as the forwarder gets it: from readQuery's slot (null when the reader refuses it). */
function readClientQuestion(query: Buffer): ClientQuestion | null {
  const slot = new QuerySlot();
  return readQuery(query, query.length, slot) === READ_OK ? clientQuestionOf(slot) : null;
}

const opt = (flags = 0) => ({ type: 'OPT', name: '.', udpPayloadSize: 4096, flags } as dnsPacket.Answer);

function response(id: number, name: string, extra: Partial<dnsPacket.Packet> = {}): Buffer {
  return dnsPacket.encode({
    type: 'response', id, flags: dnsPacket.RECURSION_AVAILABLE | dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }], ...extra,
  });
}

t.test('clientQuestionOf: from the reader\'s slot', async (t) => {
  const q = readClientQuestion(dnsPacket.encode({
    type: 'query', id: 77, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED,
    questions: [{ type: 'AAAA', name: 'Foo.Example' }], additionals: [opt(0x8000)],
  }))!;
  t.equal(q.id, 77);
  t.equal(q.nameLength, 13);
  t.equal(q.qtype, 28);
  t.equal(q.qclass, 1);
  t.equal(q.hasOpt, true);
  t.equal(q.dnssecOk, true);
  t.equal(readClientQuestion(dnsPacket.encode({ type: 'query', id: 1, questions: [] })), null, 'no question');
  t.equal(readClientQuestion(Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, 0x61])), null, 'cut name');
});

t.test('buildUpstreamQuery: lower case, RD, CD, OPT 1232 with the DO bit', async (t) => {
  const msg = buildUpstreamQuery(0x1234, Buffer.from(keyToWire('www.example.').map((b) => (b >= 0x61 && b <= 0x7a ? b - 32 : b))), 1, 1, true, true);
  const p = dnsPacket.decode(msg);
  t.equal(p.id, 0x1234);
  t.equal(p.questions![0]!.name, 'www.example');
  t.ok(p.flags! & dnsPacket.RECURSION_DESIRED);
  t.ok(p.flags! & dnsPacket.CHECKING_DISABLED);
  const o = p.additionals![0] as unknown as { udpPayloadSize: number; flags: number };
  t.equal(o.udpPayloadSize, 1232);
  t.equal(o.flags & 0x8000, 0x8000);
});

t.test('matchesQuery is strict', async (t) => {
  const sent = buildUpstreamQuery(500, keyToWire('a.example.'), 1, 1, false, false);
  const qEnd = questionEndOf(sent);
  t.equal(matchesQuery(response(500, 'a.example'), sent, qEnd), true);
  t.equal(matchesQuery(response(500, 'A.EXAMPLE'), sent, qEnd), true, 'case-insensitive');
  t.equal(matchesQuery(response(501, 'a.example'), sent, qEnd), false, 'ID');
  t.equal(matchesQuery(response(500, 'b.example'), sent, qEnd), false, 'name');
  const wrongType = dnsPacket.encode({ type: 'response', id: 500, questions: [{ type: 'AAAA', name: 'a.example' }] });
  t.equal(matchesQuery(wrongType, sent, qEnd), false, 'type');
  t.equal(matchesQuery(sent, sent, qEnd), false, 'a query is not a response');
  t.equal(matchesQuery(Buffer.alloc(5), sent, qEnd), false, 'short');
});

t.test('indexResponse: TTL offsets, OPT cut, negative TTL', async (t) => {
  const resp = response(9, 'nx.example', {
    flags: 3,
    answers: [],
    authorities: [{ type: 'SOA', name: 'example', ttl: 900, data: {
      mname: 'ns.example', rname: 'h.example', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 120 } } as dnsPacket.Answer],
    additionals: [opt()],
  });
  const idx = indexResponse(resp, questionEndOf(resp))!;
  t.equal(idx.rcode, 3);
  t.equal(idx.ttls.length, 1);
  t.equal(idx.soaIndex, 0);
  t.equal(idx.negativeTtl, 120);
  t.equal(idx.msg.readUInt16BE(10), 0, 'OPT removed from ARCOUNT');
  t.equal(idx.msg.length, resp.length - 11, 'OPT bytes removed');
  t.equal(idx.msg.readUInt32BE(idx.ttlOffsets[0]!), 900);
  const bad = Buffer.from(resp);
  bad.writeUInt16BE(2, 8); // claims two authority records
  t.equal(indexResponse(bad.subarray(0, resp.length - 11), questionEndOf(resp)), null, 'runs out of bytes');
  const optInAnswer = response(9, 'x.example', { answers: [opt()] });
  t.equal(indexResponse(optInAnswer, questionEndOf(optInAnswer)), null, 'OPT outside additional');
});

t.test('indexResponse never throws on garbage', async (t) => {
  const sent = buildUpstreamQuery(1, keyToWire('a.example.'), 1, 1, false, false);
  const qEnd = questionEndOf(sent);
  fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (bytes) => {
    const buf = Buffer.concat([sent.subarray(0, qEnd), Buffer.from(bytes)]);
    buf[2] = 0x81;
    const r = indexResponse(buf, qEnd);
    return r === null || r.msg.length <= buf.length;
  }), { numRuns: 2000 });
  t.pass('no throw in 2000 runs');
});

t.test('writeClientResponse: client header, AD only with DO/AD, TC beyond the limit, ext rcode', async (t) => {
  const query = dnsPacket.encode({ type: 'query', id: 42, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'Big.Example' }], additionals: [opt()] });
  const q = readClientQuestion(query)!;
  const up = dnsPacket.encode({
    type: 'response', id: 9, flags: dnsPacket.RECURSION_AVAILABLE | dnsPacket.AUTHENTIC_DATA | dnsPacket.AUTHORITATIVE_ANSWER,
    questions: [{ type: 'A', name: 'big.example' }],
    answers: Array.from({ length: 40 }, (_, i) => ({ type: 'A', name: 'big.example', ttl: 60, data: `10.0.0.${i}` } as dnsPacket.Answer)),
  });
  const idx = indexResponse(up, questionEndOf(up))!;
  const full = writeClientResponse(idx.msg, idx.ttlOffsets, idx.ttls.map(() => 7), 0, query, q, 65535);
  const p = dnsPacket.decode(full);
  t.equal(p.id, 42);
  t.equal(p.questions![0]!.name, 'Big.Example');
  t.equal(p.answers!.length, 40);
  t.ok(p.answers!.every((a) => (a as { ttl: number }).ttl === 7));
  t.equal(full[2]! & 0x04, 0, 'AA cleared');
  t.equal(p.flags! & dnsPacket.AUTHENTIC_DATA, 0, 'AD cleared: client asked neither DO nor AD');
  const tc = writeClientResponse(idx.msg, idx.ttlOffsets, idx.ttls, 0, query, q, 512);
  t.ok(tc.length <= 512);
  const tp = dnsPacket.decode(tc);
  t.ok(tp.flags! & dnsPacket.TRUNCATED_RESPONSE);
  t.equal(tp.answers!.length, 0);
  t.equal(tp.additionals!.length, 1, 'OPT kept');
  const noOpt = dnsPacket.encode({ type: 'query', id: 1, flags: 0, questions: [{ type: 'A', name: 'big.example' }] });
  const ext = writeClientResponse(idx.msg, idx.ttlOffsets, idx.ttls, 1, noOpt, readClientQuestion(noOpt)!, 65535);
  t.equal(ext[3]! & 0x0f, 2, 'extended rcode without OPT → SERVFAIL');
});

t.test('localResponse', async (t) => {
  const query = dnsPacket.encode({ type: 'query', id: 8, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'x.test' }] });
  const r = dnsPacket.decode(localResponse(query, readClientQuestion(query)!, 0, [{ type: 1, ttl: 5, rdata: Buffer.from([1, 2, 3, 4]) }]));
  t.equal(r.id, 8);
  t.same(r.answers!.map((a) => [(a as { data: string }).data, (a as { ttl: number }).ttl]), [['1.2.3.4', 5]]);
  t.ok(r.flags! & dnsPacket.RECURSION_AVAILABLE);
});
