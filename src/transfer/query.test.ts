import t from 'tap';
import dnsPacket from 'dns-packet';
import { parseTransferQuery } from './query.js';

const ixfr = (serial: number): Buffer => dnsPacket.encode({
  type: 'query', id: 9, flags: 0, questions: [{ name: 'Example.TEST', type: 'IXFR' as dnsPacket.RecordType, class: 'IN' }],
  authorities: [{ name: 'example.test', type: 'SOA', data: { mname: 'ns.example.test', rname: 'h.example.test', serial, refresh: 1, retry: 1, expire: 1, minimum: 1 } }],
});

t.test('AXFR and IXFR questions', async (t) => {
  const axfr = parseTransferQuery(dnsPacket.encode({ type: 'query', id: 5, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: 'a.test', type: 'AXFR', class: 'IN' }] }))!;
  t.match(axfr, { id: 5, rd: true, qname: 'a.test.', qtype: 252, qclass: 1, clientSerial: null });
  const q = parseTransferQuery(ixfr(4000000000))!;
  t.match(q, { id: 9, rd: false, qname: 'example.test.', qtype: 251, clientSerial: 4000000000 });
  t.equal(q.qnameWire.toString('latin1'), '\x07Example\x04TEST\x00', 'the client\'s spelling, for the echo');
});

t.test('malformed: null (FORMERR), never a throw', async (t) => {
  const good = ixfr(7);
  for (let cut = 0; cut < good.length; cut++) {
    const r = parseTransferQuery(good.subarray(0, cut));
    t.ok(r === null || r.clientSerial === null || r.clientSerial === 7, `cut at ${cut}`);
  }
  const twoQuestions = Buffer.from(good);
  twoQuestions.writeUInt16BE(2, 4);
  t.equal(parseTransferQuery(twoQuestions), null, 'QDCOUNT 2');
  const loop = Buffer.from(good);
  loop.writeUInt16BE(0xc000 | (loop.length - 2), loop.length - 2);
  t.doesNotThrow(() => parseTransferQuery(loop), 'a pointer where the SOA ends');
});
