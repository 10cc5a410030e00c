// The replica against the hub, in one thread: it reads the hub's zone image and answers as the hub's
// zones do; duplicates are skipped; a gap asks for a snapshot and nothing more is applied until it comes;
// the answer cache is told exactly which names changed, or to flush on zone add/remove, readiness, hosts
// reloads and a rebuilt image.
import t from 'tap';
import { ZoneHub } from './hub.js';
import { Replica, type AnswerCache } from './replica.js';
import type { Delta, Snapshot } from './protocol.js';
import { parseZone } from '../zone/zone-text.js';
import { lookup } from '../zone/index.js';
import { TYPE_A, TYPE_PTR, CLASS_IN } from '../dns/constants.js';
import { rdataA, rdataName } from '../dns/rdata.js';
import type { ZoneSetReader } from '../zone/index.js';

const ORIGIN = 'example.test.';
const ZONE = `
@ 300 SOA ns1 hostmaster 1 7200 3600 1209600 300
@ 300 NS ns1
ns1 300 A 192.0.2.1
www 300 A 192.0.2.10
empty TYPE0
`;

/** Structured clone, as postMessage does it (Buffers arrive as Uint8Arrays). */
function wire<T>(v: T): T {
  return structuredClone(v);
}

function answerOf(zones: ZoneSetReader, name: string, type = TYPE_A): string {
  const r = lookup(zones, name, type);
  return `${r.rcode} ${r.answer.map((rr) => [...rr.rdata].join('.')).join(',')}`;
}

class FakeCache implements AnswerCache {
  flushes = 0;
  names: string[][] = [];
  invalidate(): void {
    this.flushes++;
  }
  invalidateNames(keys: string[]): void {
    this.names.push([...keys].sort());
  }
}

function setup(): { hub: ZoneHub; deltas: Delta[]; replica: Replica; cache: FakeCache; asked: string[] } {
  const hub = new ZoneHub();
  const deltas: Delta[] = [];
  hub.subscribe((d) => deltas.push(wire(d)));
  const asked: string[] = [];
  const replica = new Replica({ needSnapshot: (v, reason) => asked.push(`${v}: ${reason}`) });
  const cache = new FakeCache();
  replica.attach(cache);
  return { hub, deltas, replica, cache, asked };
}

const upsertA = (name: string, ip: string) => ({ op: 'upsert' as const, rrset: { name, type: TYPE_A, class: CLASS_IN, ttl: 60, rdatas: [rdataA(ip)] } });

t.test('a snapshot carries zones, marks, readiness and local data', async (t) => {
  const { hub, replica, cache } = setup();
  hub.addZone(ORIGIN, parseZone(ORIGIN, ZONE), false);
  hub.replaceLocal([{ name: 'gw.lan.', type: TYPE_A, class: CLASS_IN, ttl: 60, rdata: rdataA('10.0.0.1') }]);
  hub.applyLocal('reverse', [{ op: 'upsert', rrset: { name: '1.0.0.10.in-addr.arpa.', type: TYPE_PTR, class: CLASS_IN, ttl: 30, rdatas: [rdataName('gw.lan.')] } }]);
  t.equal(replica.version, -1);
  replica.applySnapshot(wire(hub.snapshot()));
  t.equal(replica.version, 3);
  t.equal(cache.flushes, 1, 'a snapshot flushes the answer cache');
  const zone = replica.zones.get(ORIGIN)!;
  t.equal(zone.ready, false);
  t.same([...zone.names()].sort(), [...hub.zones.get(ORIGIN)!.names()].sort(), 'every name, empty non-terminals included');
  t.ok(zone.node('empty.example.test.')?.marked, 'type-0 mark survives');
  t.ok(Buffer.isBuffer(zone.get('www.example.test.', TYPE_A)!.rdatas[0]), 'RDATA comes back as Buffer');
  t.same(replica.local[0]!.lookup('gw.lan.', TYPE_A)!.answer.map((r) => [...r.rdata]), [[10, 0, 0, 1]]);
  t.equal(replica.local[1]!.lookup('1.0.0.10.in-addr.arpa.', TYPE_PTR)!.answer.length, 1);
});

t.test('deltas apply in order and reproduce the hub', async (t) => {
  const { hub, deltas, replica, cache } = setup();
  hub.addZone(ORIGIN, parseZone(ORIGIN, ZONE), true);
  replica.applySnapshot(wire(hub.snapshot()));
  deltas.length = 0;
  hub.apply(ORIGIN, [upsertA('new.a.example.test.', '192.0.2.20')]);
  hub.apply(ORIGIN, [{ op: 'delete', name: 'www.example.test.', type: TYPE_A }]);
  hub.setReady(ORIGIN, true); // no change: no delta
  t.equal(deltas.length, 2);
  t.same(deltas.map((d) => d.version), [2, 3]);

  const res = replica.applyDeltas(deltas);
  t.equal(res.applied, 2);
  t.ok(res.lagSeconds >= 0 && res.lagSeconds < 5, 'lag measured');
  t.equal(replica.version, hub.version);
  for (const name of ['new.a.example.test.', 'www.example.test.', 'a.example.test.', 'ns1.example.test.']) {
    t.equal(answerOf(replica.zones, name), answerOf(hub.zones, name), name);
  }
  t.equal(cache.flushes, 1, 'only the snapshot flushed');
  t.same(cache.names, [['a.example.test.', 'new.a.example.test.', 'www.example.test.']],
    'one invalidateNames per batch with exactly the changed names (ENT included)');

  t.equal(replica.applyDeltas(deltas).applied, 0, 'replayed deltas are skipped');
  t.equal(replica.version, 3);
});

t.test('zone add/remove, readiness flip and hosts reload flush everything', async (t) => {
  const { hub, deltas, replica, cache } = setup();
  replica.applySnapshot(wire(hub.snapshot()));
  hub.addZone(ORIGIN, parseZone(ORIGIN, ZONE), false);
  replica.applyDeltas(deltas.splice(0));
  t.equal(cache.flushes, 2);
  t.equal(answerOf(replica.zones, 'www.example.test.'), '2 ', 'not ready: SERVFAIL');
  hub.setReady(ORIGIN, true);
  replica.applyDeltas(deltas.splice(0));
  t.equal(cache.flushes, 3);
  t.equal(answerOf(replica.zones, 'www.example.test.'), '0 192.0.2.10');
  hub.replaceLocal([]);
  replica.applyDeltas(deltas.splice(0));
  t.equal(cache.flushes, 4);
  hub.removeZone(ORIGIN);
  replica.applyDeltas(deltas.splice(0));
  t.equal(cache.flushes, 5);
  t.equal(replica.zones.get(ORIGIN), undefined);
  t.same(cache.names, [], 'no per-name invalidation when everything was flushed');
});

t.test('a gap asks for one snapshot, ignores deltas until it comes, then continues', async (t) => {
  const { hub, deltas, replica, asked } = setup();
  hub.addZone(ORIGIN, parseZone(ORIGIN, ZONE), true);
  replica.applySnapshot(wire(hub.snapshot()));
  deltas.length = 0;
  hub.apply(ORIGIN, [upsertA('one.example.test.', '192.0.2.1')]); // v2: lost
  hub.apply(ORIGIN, [upsertA('two.example.test.', '192.0.2.2')]); // v3
  hub.apply(ORIGIN, [upsertA('three.example.test.', '192.0.2.3')]); // v4
  const [, v3, v4] = deltas;
  t.equal(replica.applyDeltas([v3!]).applied, 0);
  t.equal(asked.length, 1);
  t.match(asked[0], /version gap: have 1, got 3/);
  t.equal(replica.applyDeltas([v4!]).applied, 0, 'nothing applied while waiting');
  t.equal(asked.length, 1, 'asked once');
  t.equal(answerOf(replica.zones, 'two.example.test.'), '0 192.0.2.2', 'the data is the shared image: already there');

  const snap: Snapshot = wire(hub.snapshot());
  replica.applySnapshot(snap);
  t.equal(replica.version, 4);
  t.equal(answerOf(replica.zones, 'one.example.test.'), '0 192.0.2.1');
  t.equal(replica.applyDeltas([v3!, v4!]).applied, 0, 'deltas older than the snapshot are skipped');
  hub.apply(ORIGIN, [upsertA('four.example.test.', '192.0.2.4')]);
  t.equal(replica.applyDeltas([deltas.at(-1)!]).applied, 1);
  t.equal(replica.version, 5);
  t.equal(asked.length, 1);
});

t.test('deltas before the first snapshot are not applied', async (t) => {
  const { hub, deltas, replica, asked } = setup();
  hub.addZone(ORIGIN, parseZone(ORIGIN, ZONE), true);
  t.equal(replica.applyDeltas(deltas).applied, 0);
  t.equal(replica.version, -1);
  t.equal(asked.length, 0, 'the snapshot is already on its way');
});

t.test('a delta the replica cannot apply asks for a snapshot', async (t) => {
  const { hub, deltas, replica, asked } = setup();
  replica.applySnapshot(wire(hub.snapshot()));
  hub.addZone(ORIGIN, parseZone(ORIGIN, ZONE), true);
  hub.apply(ORIGIN, [upsertA('x.example.test.', '192.0.2.9')]);
  t.equal(replica.applyDeltas([deltas[1]!]).applied, 0, 'v2 after v0 is a gap');
  const other = setup();
  other.replica.applySnapshot(wire(hub.snapshot()));
  other.replica.zones.remove(ORIGIN); // out of step on purpose
  hub.apply(ORIGIN, [upsertA('y.example.test.', '192.0.2.9')]);
  t.equal(other.replica.applyDeltas([deltas.at(-1)!]).applied, 0);
  t.match(other.asked[0], /failed: no zone example.test./);
  t.equal(asked.length, 1);
});

t.test('without invalidateNames the replica flushes on any change', async (t) => {
  const hub = new ZoneHub();
  const deltas: Delta[] = [];
  hub.subscribe((d) => deltas.push(wire(d)));
  let flushes = 0;
  const replica = new Replica({ needSnapshot: () => {} });
  replica.attach({ invalidate: () => flushes++ });
  hub.addZone(ORIGIN, parseZone(ORIGIN, ZONE), true);
  replica.applySnapshot(wire(hub.snapshot()));
  hub.apply(ORIGIN, [upsertA('z.example.test.', '192.0.2.7')]);
  replica.applyDeltas(deltas.slice(-1));
  t.equal(flushes, 2);
});

t.test('a rebuilt image reaches the replica as an image delta that flushes everything', async (t) => {
  const { hub, deltas, replica, cache } = setup();
  hub.addZone(ORIGIN, parseZone(ORIGIN, ZONE), true);
  replica.applySnapshot(wire(hub.snapshot()));
  deltas.length = 0;
  const first = replica.image.heap;
  // Rewrite one name until the garbage forces a compaction (GARBAGE_LIMIT), then check the answers.
  let i = 0;
  while (hub.imageStats.rebuilds === 0 && i < 100_000) {
    hub.apply(ORIGIN, [{ op: 'upsert', rrset: { name: 'churn.example.test.', type: TYPE_A, class: CLASS_IN, ttl: 60, rdatas: new Array(64).fill(rdataA(`192.0.2.${i++ % 250}`)) } }]);
  }
  t.equal(hub.imageStats.rebuilds, 1, 'one compaction');
  t.ok(hub.imageStats.garbage < 1 << 20, 'the fresh image holds no garbage worth a rebuild');
  t.ok(deltas.some((d) => d.kind === 'image'), 'an image delta went out');
  const flushes = cache.flushes;
  t.equal(replica.applyDeltas(deltas.splice(0)).applied, i + 1);
  t.not(replica.image.heap, first, 'the replica reads the new image');
  t.equal(cache.flushes, flushes + 1, 'and dropped every compiled answer');
  for (const name of ['churn.example.test.', 'www.example.test.', 'empty.example.test.', 'nx.example.test.']) {
    t.equal(answerOf(replica.zones, name), answerOf(hub.zones, name), name);
  }
});
