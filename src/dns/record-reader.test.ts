import t from 'tap';
import { compileResponse } from './compile.js';
import { TYPE_A, TYPE_CNAME, TYPE_MX, TYPE_NS, TYPE_SOA, TYPE_TXT, CLASS_IN } from './constants.js';
import { keyToWire } from './name.js';
import { rdataA, rdataMx, rdataName, rdataSoa, rdataTxt } from './rdata.js';
import { readRecords, skipQuestions } from './record-reader.js';
import type { Rr } from './types.js';

const rr = (name: string, type: number, rdata: Buffer, ttl = 60): Rr => ({ name, type, class: CLASS_IN, ttl, rdata });

t.test('records come back as they went in, compressed names (owners and RDATA) expanded', async (t) => {
  const answer = [
    rr('www.example.test.', TYPE_CNAME, rdataName('web.example.test.')),
    rr('web.example.test.', TYPE_A, rdataA('192.0.2.7'), 30),
    rr('web.example.test.', TYPE_MX, rdataMx(10, 'mail.example.test.')),
    rr('web.example.test.', TYPE_TXT, rdataTxt(['example.test'])),
  ];
  const authority = [
    rr('example.test.', TYPE_NS, rdataName('ns.example.test.')),
    rr('example.test.', TYPE_SOA, rdataSoa({
      mname: 'ns.example.test.', rname: 'hostmaster.example.test.', serial: 7, refresh: 1, retry: 2, expire: 3, minimum: 4,
    })),
  ];
  const msg = compileResponse(keyToWire('www.example.test.'), TYPE_A, CLASS_IN, { rcode: 0, aa: true, answer, authority, additional: [] });
  t.ok(msg.length < 12 + 18 + 4 + answer.length * 40, 'the writer compressed the names');
  const start = skipQuestions(msg, 1);
  const an = readRecords(msg, start, msg.readUInt16BE(6));
  t.same(an.records, answer);
  const ns = readRecords(msg, an.end, msg.readUInt16BE(8));
  t.same(ns.records, authority);
  t.equal(ns.end, msg.length);
});

t.test('a malformed message throws a NameError, never reads past the end', async (t) => {
  const msg = compileResponse(keyToWire('a.test.'), TYPE_A, CLASS_IN, {
    rcode: 0, aa: true, answer: [rr('a.test.', TYPE_CNAME, rdataName('b.test.'))], authority: [], additional: [],
  });
  const start = skipQuestions(msg, 1);
  for (let cut = start; cut < msg.length; cut++) {
    t.throws(() => readRecords(msg.subarray(0, cut), start, 1), { name: 'NameError' }, `cut at ${cut}`);
  }
});
