// The hub: one delta per change with consecutive versions, the main-thread ZoneSet kept current,
// all-or-nothing apply, and snapshots that hand over the zone image.
import t from 'tap';
import { ZoneHub } from './hub.js';
import { localStoreId, type Delta } from './protocol.js';
import { ImageZone, ZoneImageReader } from '../zone/index.js';
import { ImageLocalNames } from '../server/image-local-names.js';
import { parseZone } from '../zone/zone-text.js';
import { CLASS_IN, TYPE_A, TYPE_TXT } from '../dns/constants.js';
import { rdataA, rdataTxt } from '../dns/rdata.js';
import type { RrSetChange } from '../dns/types.js';

const ORIGIN = 'example.test.';
const ZONE = `
@ 300 SOA ns1 hostmaster 1 7200 3600 1209600 300
@ 300 NS ns1
ns1 300 A 192.0.2.1
`;

t.test('each operation bumps the version and emits one delta', async (t) => {
  const hub = new ZoneHub();
  const seen: Delta[] = [];
  const off = hub.subscribe((d) => seen.push(d));
  hub.addZone(ORIGIN, parseZone(ORIGIN, ZONE), false);
  hub.setReady(ORIGIN, true);
  hub.apply(ORIGIN, [{ op: 'upsert', rrset: { name: 'a.example.test.', type: TYPE_A, class: CLASS_IN, ttl: 5, rdatas: [rdataA('192.0.2.5')] } }]);
  hub.replaceLocal([]);
  hub.removeZone(ORIGIN);
  hub.removeZone(ORIGIN); // absent: nothing
  t.same(seen.map((d) => [d.version, d.kind]), [[1, 'add-zone'], [2, 'ready'], [3, 'changes'], [4, 'local'], [5, 'remove-zone']]);
  t.equal(hub.version, 5);
  t.ok(seen.every((d) => d.at > 0));
  off();
  hub.addZone(ORIGIN, [], true);
  t.equal(seen.length, 5, 'unsubscribed');
});

t.test('the main-thread ZoneSet follows, and a bad change is refused whole', async (t) => {
  const hub = new ZoneHub();
  const seen: Delta[] = [];
  hub.subscribe((d) => seen.push(d));
  hub.addZone(ORIGIN, parseZone(ORIGIN, ZONE), true);
  const good: RrSetChange = { op: 'upsert', rrset: { name: 'b.example.test.', type: TYPE_A, class: CLASS_IN, ttl: 5, rdatas: [rdataA('192.0.2.6')] } };
  const bad: RrSetChange = { op: 'delete', name: 'b.other.test.', type: TYPE_A };
  t.throws(() => hub.apply(ORIGIN, [good, bad]), RangeError);
  t.equal(hub.zones.get(ORIGIN)!.get('b.example.test.', TYPE_A), undefined, 'nothing applied');
  t.equal(seen.length, 1, 'nothing published');
  t.throws(() => hub.apply('nowhere.test.', [good]), /no zone/);
  hub.apply(ORIGIN, [good]);
  t.ok(hub.zones.get(ORIGIN)!.get('b.example.test.', TYPE_A));
  t.throws(() => hub.addZone('x.test.', parseZone(ORIGIN, ZONE), true), RangeError, 'out-of-zone RRsets');
  t.equal(hub.version, 2);
});

t.test('a snapshot is the image at the current version: every RRset and mark, local data too', async (t) => {
  const hub = new ZoneHub();
  hub.addZone(ORIGIN, parseZone(ORIGIN, ZONE + 'm TYPE0\n'), true);
  hub.replaceLocal([{ name: 'gw.lan.', type: TYPE_TXT, class: CLASS_IN, ttl: 7, rdata: rdataTxt(['x']) }]);
  const snap = structuredClone(hub.snapshot());
  t.equal(snap.version, 2);
  t.equal(snap.zones.length, 1);
  t.ok(snap.image.heap instanceof SharedArrayBuffer, 'the image is shared, not copied');
  const source = { reader: new ZoneImageReader(snap.image) };
  const zone = new ImageZone(ORIGIN, snap.zones[0]!.id, true, source);
  const rrsets = [...zone.names()].flatMap((n) => zone.node(n)!.rrsets.map((r) => `${r.name}/${r.type}`));
  t.same(rrsets.sort(), ['example.test./2', 'example.test./6', 'ns1.example.test./1']);
  t.ok(zone.node('m.example.test.')!.marked, 'the type-0 mark');
  t.same(new ImageLocalNames(localStoreId(0), source).lookup('gw.lan.', TYPE_TXT)!.answer.map((r) => r.rdata.toString('hex')), ['0178']);
});

t.test('an image too small for the data is rebuilt larger, and a delta says so', async (t) => {
  const hub = new ZoneHub();
  const seen: Delta[] = [];
  hub.subscribe((d) => seen.push(d));
  hub.addZone(ORIGIN, parseZone(ORIGIN, ZONE), true);
  const before = hub.snapshot().image;
  const many: RrSetChange[] = Array.from({ length: 20_000 }, (_, i) => ({
    op: 'upsert', rrset: { name: `host${i}.sub.example.test.`, type: TYPE_A, class: CLASS_IN, ttl: 5, rdatas: [rdataA(`10.1.${i >> 8}.${i & 255}`)] },
  }));
  hub.apply(ORIGIN, many);
  t.ok(hub.imageStats.rebuilds >= 1, `rebuilt ${hub.imageStats.rebuilds} times`);
  t.same(seen.map((d) => d.kind), ['add-zone', 'image', 'changes'], 'the new image goes out before the change that needed it');
  const snap = hub.snapshot();
  t.not(snap.image.heap, before.heap);
  const zone = new ImageZone(ORIGIN, snap.zones[0]!.id, true, { reader: new ZoneImageReader(snap.image) });
  for (const i of [0, 12_345, 19_999]) t.same([...zone.get(`host${i}.sub.example.test.`, TYPE_A)!.rdatas[0]!], [10, 1, i >> 8, i & 255]);
  t.ok(zone.nodeExists('sub.example.test.') && zone.nodeExists('ns1.example.test.'));
  t.ok(hub.imageStats.bytes >= hub.imageStats.used, 'the metrics add up');
});
