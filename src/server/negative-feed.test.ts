// NegativeFeed: what a negative mirror is told about each name and zone (flags, types, templates).
import t from 'tap';
import fc from 'fast-check';
import { keyToWire, wireToKey } from '../dns/name.js';
import { Zone, ZoneSet } from '../zone/index.js';
import { parseZone } from '../zone/zone-text.js';
import { LocalNames } from './local-names.js';
import { NEG_APEX, NEG_BARRIER, NEG_EXISTS, NEG_LOCAL, NegativeFeed, wireOf, type NegativeBatch } from './negative-feed.js';

const ZONE = `
@ 60 SOA ns.dns hostmaster 1 7200 1800 86400 5
@ 60 NS ns.dns
ns.dns A 10.0.0.1
www A 10.0.0.2
www AAAA ::2
*.wild A 10.0.0.3
deleg NS ns.other.
a.b.ent TXT "x"
`;

/** name key → [flags, types] from a batch's records. */
function records(batch: NegativeBatch): Map<string, [number, number[]]> {
  const out = new Map<string, [number, number[]]>();
  const b = batch.names;
  for (let p = 0; p < b.length;) {
    const len = b[p]!;
    const name = wireToKey(b, p + 1).key;
    const flags = b[p + 1 + len]!;
    const n = b[p + 2 + len]!;
    const types: number[] = [];
    for (let i = 0; i < n; i++) types.push(b.readUInt16BE(p + 3 + len + 2 * i));
    out.set(name, [flags, types]);
    p += 3 + len + 2 * n;
  }
  return out;
}

function setup(): { zone: Zone; feed: NegativeFeed; local: LocalNames } {
  const zone = new Zone('example.');
  zone.replaceAll(parseZone('example.', ZONE));
  zone.synthesizer = () => null;
  zone.synthesizedBelow = 'pod.example.';
  const zones = new ZoneSet();
  zones.add(zone);
  const local = new LocalNames();
  local.replaceAll([{ name: 'host.example.', type: 1, class: 1, ttl: 60, rdata: Buffer.from([10, 0, 0, 9]) }]);
  return { zone, feed: new NegativeFeed(zones, [local]), local };
}

t.test('flags and types per name', async (t) => {
  const { feed } = setup();
  const batch = feed.full();
  const r = records(batch);
  t.same(r.get('example.'), [NEG_EXISTS | NEG_APEX, [6, 2]], 'apex: SOA, NS');
  t.same(r.get('www.example.'), [NEG_EXISTS, [1, 28]]);
  t.same(r.get('wild.example.'), [NEG_EXISTS | NEG_BARRIER, []], 'a wildcard parent is a barrier');
  t.same(r.get('*.wild.example.'), [NEG_EXISTS, [1]]);
  t.same(r.get('deleg.example.'), [NEG_EXISTS | NEG_BARRIER, [2]], 'a delegation is a barrier');
  t.same(r.get('b.ent.example.'), [NEG_EXISTS, []], 'an empty non-terminal exists');
  t.same(r.get('pod.example.'), [NEG_BARRIER, []], 'where the synthesizer makes names');
  t.same(r.get('host.example.'), [NEG_LOCAL, []], 'local data inside the zone');
  t.equal(batch.zones.length, 1);
  t.ok(batch.zones[0]!.templates !== null, 'a synced zone with an SOA has templates');
  t.same(batch.zones[0]!.conflicts, Buffer.concat([Buffer.from([3]), Buffer.from('dns'), Buffer.from([10]), Buffer.from('hostmaster')]),
    'MNAME ns.dns and RNAME hostmaster: the labels left of the apex');
});

t.test('changes: the name and its parent, removals as flags 0, the zone when its apex changed', async (t) => {
  const { zone, feed } = setup();
  zone.apply({ op: 'upsert', rrset: { name: '*.www.example.', type: 1, class: 1, ttl: 5, rdatas: [Buffer.from([1, 2, 3, 4])] } });
  let r = records(feed.changed(['*.www.example.']));
  t.same(r.get('www.example.'), [NEG_EXISTS | NEG_BARRIER, [1, 28]], 'the parent of a new wildcard becomes a barrier');
  zone.apply({ op: 'delete', name: 'www.example.', type: 28 });
  zone.apply({ op: 'delete', name: 'www.example.', type: 1 });
  zone.apply({ op: 'delete', name: '*.www.example.', type: 1 });
  const batch = feed.changed(['www.example.', '*.www.example.']);
  r = records(batch);
  t.same(r.get('www.example.'), [0, []], 'gone: flags 0 removes it');
  t.same(batch.zones.length, 0, 'no apex among the changes: no zone sent');
  t.same(feed.changed(['example.']).zones.length, 1, 'the apex changed: its templates are sent again');
});

t.test('no templates where C must not answer negatively', async (t) => {
  const { zone, feed } = setup();
  zone.synthesizedBelow = null;
  t.equal(feed.full().zones[0]!.templates, null, 'a synthesizer that may make names anywhere');
  zone.synthesizedBelow = 'pod.example.';
  zone.ready = false;
  t.equal(feed.full().zones[0]!.templates, null, 'an unsynced zone');
});

t.test('wireOf is keyToWire', async (t) => {
  const label = fc.stringMatching(/^[a-z0-9_*-]{1,20}$/);
  fc.assert(fc.property(fc.array(label, { minLength: 0, maxLength: 6 }), (labels) => {
    const key = labels.length === 0 ? '.' : labels.join('.') + '.';
    return wireOf(key).equals(keyToWire(key));
  }), { numRuns: 500, seed: 3122026 });
  t.ok(wireOf('a\\.b.c.').equals(keyToWire('a\\.b.c.')), 'escaped keys take keyToWire itself');
});
