// The zone image: what the hub writes a worker reads back (every lookup case answers as the Zone does),
// whether a zone delegates (hasCuts), changes, removals and marks, full images refused before anything is
// published, garbage counted, and a reader thread that never sees a half-written entry while the main
// thread rewrites a name.
import t from 'tap';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { CLASS_IN, parseTypeName, TYPE_A, TYPE_NS, TYPE_SOA, TYPE_TXT } from '../dns/constants.js';
import { rdataA, rdataName, rdataTxt } from '../dns/rdata.js';
import type { RrSet } from '../dns/types.js';
import { CASE_ZONES, LOOKUP_CASES } from './lookup-cases.js';
import { ImageFullError, ZoneImageWriter } from './image.js';
import { ImageZone, ZoneImageReader } from './image-reader.js';
import { lookup } from './lookup.js';
import { Zone } from './zone.js';
import { ZoneSet } from './zone-set.js';
import { formatRr, parseZone } from './zone-text.js';

const ORIGIN = 'image.test.';
const a = (name: string, ...ips: string[]): RrSet => ({ name, type: TYPE_A, class: CLASS_IN, ttl: 60, rdatas: ips.map(rdataA) });

function imageOf(zones: Zone[], writer = new ZoneImageWriter(1 << 20, 4096)): ZoneSet<ImageZone> {
  const source = { reader: new ZoneImageReader(writer.image) };
  const out = new ZoneSet<ImageZone>();
  zones.forEach((zone, i) => {
    writer.writeZoneNames(i + 1, zone, zone.names());
    out.add(new ImageZone(zone.origin, i + 1, true, source));
  });
  return out;
}

t.test('every lookup case answers from the image as from the zones', async (t) => {
  const zones = new ZoneSet();
  for (const { origin, text } of CASE_ZONES) {
    const z = new Zone(origin);
    z.replaceAll(parseZone(origin, text));
    zones.add(z);
  }
  const image = imageOf(zones.zones());
  for (const [qname, qtype] of LOOKUP_CASES) {
    const want = lookup(zones, qname, parseTypeName(qtype), new Set());
    const deps = new Set<string>();
    const got = lookup(image, qname, parseTypeName(qtype), deps);
    const text = (r: typeof got): unknown => [r.rcode, r.aa, ...[r.answer, r.authority, r.additional].map((s) => s.map(formatRr))];
    t.same(text(got), text(want), `${qname} ${qtype}`);
    const wantDeps = new Set<string>();
    lookup(zones, qname, parseTypeName(qtype), wantDeps);
    t.same([...deps].sort(), [...wantDeps].sort(), `${qname} ${qtype}: the same names decide it`);
    // Without deps a lookup trusts hasCuts to skip the walk up the name: the image's must be true when it counts.
    t.same(text(lookup(image, qname, parseTypeName(qtype))), text(want), `${qname} ${qtype}, no deps`);
  }
});

t.test('hasCuts: the image records whether a zone delegates, and follows changes', async (t) => {
  const soa = '@ 300 SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ 300 NS ns1\nns1 300 A 192.0.2.1\n';
  const flat = new Zone(ORIGIN);
  flat.replaceAll(parseZone(ORIGIN, soa));
  const delegating = new Zone('parent.test.');
  delegating.replaceAll(parseZone('parent.test.', `${soa}child 300 NS ns.child\nns.child 300 A 192.0.2.2\n`));
  const writer = new ZoneImageWriter(1 << 16, 64);
  const image = imageOf([flat, delegating], writer);
  t.equal(image.get(ORIGIN)!.hasCuts, false, 'NS only at the apex: no cut');
  t.equal(image.get('parent.test.')!.hasCuts, true, 'NS below the apex: a cut');

  const change = (op: 'upsert' | 'delete'): void => {
    const touched = new Set<string>();
    const name = 'sub.x.image.test.';
    if (op === 'upsert') {
      flat.apply({ op, rrset: { name, type: TYPE_NS, class: CLASS_IN, ttl: 60, rdatas: [rdataName('ns.sub.x.image.test.')] } }, touched);
    } else {
      flat.apply({ op, name, type: TYPE_NS }, touched);
    }
    t.notOk(touched.has(ORIGIN), 'the apex itself did not change: the writer must rewrite it');
    writer.writeZoneNames(1, flat, touched);
  };
  change('upsert');
  t.equal(image.get(ORIGIN)!.hasCuts, true, 'an NS added below the apex makes a cut');
  t.equal(image.get(ORIGIN)!.get(ORIGIN, TYPE_SOA)!.ttl, 300, 'the apex keeps its data when its flag is rewritten');
  change('delete');
  t.equal(image.get(ORIGIN)!.hasCuts, false, 'the last cut gone');
  t.ok(image.get(ORIGIN)!.nodeExists(ORIGIN));
});

t.test('changes, removals, marks and RRsets kept across rewrites', async (t) => {
  const zone = new Zone(ORIGIN);
  zone.replaceAll(parseZone(ORIGIN, '@ 300 SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ 300 NS ns1\nns1 300 A 192.0.2.1\n'));
  const writer = new ZoneImageWriter(1 << 16, 64);
  const image = imageOf([zone], writer).get(ORIGIN)!;
  const sync = (touched: Set<string>): void => {
    for (const name of touched) writer.write(1, name, zone.node(name));
  };
  const touched = new Set<string>();
  zone.apply({ op: 'upsert', rrset: a('x.y.image.test.', '192.0.2.7', '192.0.2.8') }, touched);
  zone.apply({ op: 'upsert', rrset: { name: 'm.image.test.', type: 0, class: CLASS_IN, ttl: 0, rdatas: [] } }, touched);
  sync(touched);
  t.same(image.get('x.y.image.test.', TYPE_A)!.rdatas.map((r) => [...r].join('.')), ['192.0.2.7', '192.0.2.8']);
  t.same(image.node('y.image.test.'), { rrsets: [], marked: false }, 'an empty non-terminal exists');
  t.ok(image.node('m.image.test.')!.marked, 'the mark');
  t.notOk(image.nodeExists('nx.image.test.'));

  const garbage = writer.garbage;
  touched.clear();
  zone.apply({ op: 'upsert', rrset: { name: 'x.y.image.test.', type: TYPE_TXT, class: CLASS_IN, ttl: 5, rdatas: [rdataTxt(['t'])] } }, touched);
  sync(touched);
  t.equal(writer.garbage - garbage, 8 + 4, 'adding a TXT leaves the A RRset where it is: only the old state is garbage');
  t.equal(image.get('x.y.image.test.', TYPE_TXT)!.ttl, 5);

  touched.clear();
  zone.apply({ op: 'delete', name: 'x.y.image.test.', type: TYPE_A }, touched);
  zone.apply({ op: 'delete', name: 'x.y.image.test.', type: TYPE_TXT }, touched);
  sync(touched);
  t.notOk(image.nodeExists('x.y.image.test.'), 'removed');
  t.notOk(image.nodeExists('y.image.test.'), 'its empty non-terminal too');
  t.same([...image.names()].sort(), [...zone.names()].sort());
  touched.clear();
  zone.apply({ op: 'upsert', rrset: a('x.y.image.test.', '192.0.2.9') }, touched);
  sync(touched);
  t.equal(image.get('x.y.image.test.', TYPE_A)!.rdatas.length, 1, 'a removed name comes back in its old slot');
  t.ok(image.isCut('ns1.image.test.') === false && image.isCut(ORIGIN) === false);
});

t.test('a full image refuses a write before publishing any of it', async (t) => {
  const writer = new ZoneImageWriter(4096, 1024);
  const image = imageOf([], writer);
  t.equal(image.zones().length, 0);
  const reader = new ZoneImageReader(writer.image);
  const big = a('big.image.test.', ...Array.from({ length: 2000 }, (_, i) => `10.0.${i >> 8}.${i & 255}`));
  t.throws(() => writer.write(1, big.name, { rrsets: [big], marked: false }), ImageFullError);
  t.equal(reader.state(1, big.name), 0, 'nothing published');
  const roomy = new ZoneImageWriter(1 << 20, 1024);
  const roomyReader = new ZoneImageReader(roomy.image);
  let names = 0;
  t.throws(() => {
    for (;; names++) roomy.write(1, `n${names}.image.test.`, { rrsets: [], marked: true });
  }, ImageFullError);
  t.equal(names, 512, 'the table takes names up to half its slots');
  t.ok(roomyReader.state(1, 'n511.image.test.') !== 0 && roomyReader.state(1, 'n512.image.test.') === 0);
});

t.test('a reader thread never sees a half-written name while the main thread rewrites it', async (t) => {
  const writer = new ZoneImageWriter(64 << 20, 4096);
  const name = 'torn.image.test.';
  const last = 250;
  const generation = (g: number): { rrsets: RrSet[]; marked: boolean } => ({
    rrsets: [
      { name, type: TYPE_A, class: CLASS_IN, ttl: 60, rdatas: Array.from({ length: 8 }, () => Buffer.from([g, g, g, g])) },
      { name, type: TYPE_TXT, class: CLASS_IN, ttl: 60, rdatas: [Buffer.from([1, g])] },
    ],
    marked: false,
  });
  writer.write(1, name, generation(0));
  const started = new SharedArrayBuffer(8);
  const thread = new URL('../../test/helpers/image-reader-thread.js', import.meta.url);
  const worker = new Worker(thread, {
    workerData: { image: writer.image, zoneId: 1, origin: ORIGIN, name, last, maxReads: 50_000_000, started },
  });
  const done = once(worker, 'message');
  // Write only once the reader reads, so the writes overlap its reads.
  while (Atomics.wait(new Int32Array(started), 0, 0, 50) === 'timed-out') { /* the thread is starting */ }
  // Rewrite the name `last` times, with other names inserted between (the table and heap move under the
  // reader), and let the reader read at least once between generations so the two interleave.
  const progress = new Int32Array(started);
  for (let g = 1; g <= last; g++) {
    const reads = Atomics.load(progress, 1);
    writer.write(1, name, generation(g));
    for (let k = 0; k < 4; k++) writer.write(1, `other${g}-${k}.image.test.`, generation(g));
    while (Atomics.load(progress, 1) === reads) Atomics.wait(progress, 1, reads, 5);
  }
  const [report] = await done as [{ reads: number; torn: number; absent: number; generations: number; last: number }];
  t.equal(report.torn, 0, `no torn read in ${report.reads} reads`);
  t.equal(report.absent, 0, 'the name never disappears while it is rewritten');
  t.equal(report.last, last, 'the reader saw the last generation');
  t.ok(report.generations >= 2, `it saw the name change (${report.generations} generations)`);
  await once(worker, 'exit');
});
