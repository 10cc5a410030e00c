import t from 'tap';
import { CLASS_IN, TYPE_A, TYPE_TXT } from '../dns/constants.js';
import { rdataA, rdataTxt } from '../dns/rdata.js';
import type { Rr } from '../dns/types.js';
import { rrsetFromRecords } from './rrset.js';

const rr = (name: string, type: number, ttl: number, rdata: Buffer): Rr => ({ name, type, class: CLASS_IN, ttl, rdata });

t.test('groups by owner and type, in first-appearance order', async (t) => {
  const sets = rrsetFromRecords([
    rr('b.z.', TYPE_A, 60, rdataA('192.0.2.1')),
    rr('a.z.', TYPE_TXT, 60, rdataTxt(['x'])),
    rr('b.z.', TYPE_A, 60, rdataA('192.0.2.2')),
    rr('a.z.', TYPE_A, 60, rdataA('192.0.2.3')),
  ]);
  t.same(sets.map((s) => [s.name, s.type, s.rdatas.length]), [['b.z.', TYPE_A, 2], ['a.z.', TYPE_TXT, 1], ['a.z.', TYPE_A, 1]]);
  t.same(sets[0]!.rdatas, [rdataA('192.0.2.1'), rdataA('192.0.2.2')], 'records keep their order');
});

t.test('the first TTL wins and duplicate records collapse', async (t) => {
  const [set, ...rest] = rrsetFromRecords([
    rr('a.z.', TYPE_A, 300, rdataA('192.0.2.1')),
    rr('a.z.', TYPE_A, 60, rdataA('192.0.2.2')),
    rr('a.z.', TYPE_A, 30, rdataA('192.0.2.1')),
  ]);
  t.equal(rest.length, 0);
  t.equal(set!.ttl, 300);
  t.same(set!.rdatas, [rdataA('192.0.2.1'), rdataA('192.0.2.2')]);
});

t.test('no records, no RRsets', async (t) => {
  t.same(rrsetFromRecords([]), []);
});
