import t from 'tap';
import { diffRrSets, sameRecords } from './zone-diff.js';
import type { RrSet } from '../dns/types.js';

const a = (name: string, ip: string, ttl = 60): RrSet => ({ name, type: 1, class: 1, ttl, rdatas: [Buffer.from(ip.split('.').map(Number))] });
const mark = (name: string): RrSet => ({ name, type: 0, class: 1, ttl: 0, rdatas: [] });

t.test('only what differs: new, changed (rdata, ttl), gone; unchanged RRsets are not sent', async (t) => {
  const before = [a('www.x.', '10.0.0.1'), a('db.x.', '10.0.0.2'), a('old.x.', '10.0.0.3'), a('ttl.x.', '10.0.0.4'), mark('empty.x.')];
  const after = [a('www.x.', '10.0.0.1'), a('db.x.', '10.0.0.9'), a('new.x.', '10.0.0.5'), a('ttl.x.', '10.0.0.4', 300), mark('empty.x.')];
  const changes = diffRrSets(before, after);
  t.strictSame(changes.map((c) => (c.op === 'upsert' ? `+${c.rrset.name}` : `-${c.name}/${c.type}`)).sort(), ['+db.x.', '+new.x.', '+ttl.x.', '-old.x./1']);
});

t.test('identical zones give no changes; a mark that goes is deleted as type 0', async (t) => {
  t.strictSame(diffRrSets([a('w.x.', '1.2.3.4')], [a('w.x.', '1.2.3.4')]), []);
  t.strictSame(diffRrSets([mark('e.x.')], []), [{ op: 'delete', name: 'e.x.', type: 0 }]);
});

t.test('sameRecords compares hosts records field by field', async (t) => {
  const r = { name: 'h.lan.', type: 1, class: 1, ttl: 60, rdata: Buffer.from([1, 2, 3, 4]) };
  t.ok(sameRecords([r], [{ ...r, rdata: Buffer.from([1, 2, 3, 4]) }]));
  t.notOk(sameRecords([r], [{ ...r, ttl: 61 }]));
  t.notOk(sameRecords([r], [{ ...r, rdata: Buffer.from([1, 2, 3, 5]) }]));
  t.notOk(sameRecords([r], []));
});
