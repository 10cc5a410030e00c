import t from 'tap';
import { CLASS_IN, TYPE_A } from '../dns/constants.js';
import { rdataA } from '../dns/rdata.js';
import type { RrSet, RrSetChange } from '../dns/types.js';
import { Zone } from '../zone/index.js';
import { ZoneJournal } from './journal.js';
import { nextSerial, serialBefore } from './serial.js';

const a = (name: string, ttl: number, ...ips: string[]): RrSet => ({ name, type: TYPE_A, class: CLASS_IN, ttl, rdatas: ips.map(rdataA) });
const text = (rrs: { name: string; ttl: number; rdata: Buffer }[]): string[] => rrs.map((r) => `${r.name} ${r.ttl} ${[...r.rdata].join('.')}`);

function change(zone: Zone, journal: ZoneJournal, changes: RrSetChange[]): void {
  journal.recordBefore(changes);
  for (const c of changes) zone.apply(c);
}

t.test('a step is the difference between the first and the last state, per RRset', async (t) => {
  const zone = new Zone('z.test.');
  zone.apply({ op: 'upsert', rrset: a('www.z.test.', 60, '10.0.0.1', '10.0.0.2') });
  const journal = new ZoneJournal(zone);
  t.notOk(journal.dirty);
  change(zone, journal, [{ op: 'upsert', rrset: a('www.z.test.', 60, '10.0.0.2', '10.0.0.3') }]);
  change(zone, journal, [{ op: 'upsert', rrset: a('new.z.test.', 60, '10.0.0.9') }, { op: 'delete', name: 'new.z.test.', type: TYPE_A }]);
  t.ok(journal.dirty);
  journal.commit(1, 2);
  t.notOk(journal.dirty);
  const [step] = journal.since(1)!;
  t.same(text(step!.removed), ['www.z.test. 60 10.0.0.1'], 'only the address that went');
  t.same(text(step!.added), ['www.z.test. 60 10.0.0.3'], 'only the one that came; a name added and deleted within the step is not there');

  change(zone, journal, [{ op: 'upsert', rrset: a('www.z.test.', 30, '10.0.0.2', '10.0.0.3') }]);
  journal.commit(2, 3);
  const ttlStep = journal.since(2)![0]!;
  t.equal(ttlStep.removed.length, 2, 'a new TTL removes the whole RRset...');
  t.equal(ttlStep.added.length, 2, '...and adds it back');
  t.equal(journal.since(1)!.length, 2, 'from serial 1: both steps');
  t.equal(journal.since(7), null, 'a serial it never had: null (full transfer)');
  journal.reset();
  t.equal(journal.since(1), null, 'reset forgets every step');
});

t.test('bounded in steps and records: the oldest go first', async (t) => {
  const zone = new Zone('z.test.');
  const journal = new ZoneJournal(zone, { steps: 3, records: 5 });
  for (let i = 1; i <= 5; i++) {
    change(zone, journal, [{ op: 'upsert', rrset: a(`h${i}.z.test.`, 60, '10.0.0.1') }]);
    journal.commit(i, i + 1);
  }
  t.equal(journal.since(1), null, 'step 1 is gone');
  t.equal(journal.since(3)!.length, 3, 'the last three steps remain');
  const many = journal.since(3)!;
  change(zone, journal, [{ op: 'upsert', rrset: a('big.z.test.', 60, '10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4') }]);
  journal.commit(6, 7);
  t.equal(many.length, 3);
  t.equal(journal.since(4), null, 'past the record bound, older steps go too');
  t.equal(journal.since(5)!.length, 2, 'down to what fits');
});

t.test('serial arithmetic (RFC 1982)', async (t) => {
  t.ok(serialBefore(1, 2));
  t.notOk(serialBefore(2, 2));
  t.ok(serialBefore(0xffffffff, 0), 'wraps');
  t.notOk(serialBefore(0, 0x80000000), 'half the space apart: undefined, not before');
  t.equal(nextSerial(100, 1_700_000_000), 1_700_000_000, 'the clock when it is ahead');
  t.equal(nextSerial(1_800_000_000, 1_700_000_000), 1_800_000_001, 'else one more');
  t.equal(nextSerial(0xffffffff, 5), 5, 'across the wrap, the clock is ahead');
});
