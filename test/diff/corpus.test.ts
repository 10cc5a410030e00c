// The corpus generator: size, determinism, coverage of the cases the differential test promises.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import dnsPacket from 'dns-packet';
import { encodeQuery, generateCorpus, parseZoneArg, queryText, readZone, NAMED_CHECKZONE_BIN } from './corpus.js';
import { fixtureZones } from './zones.js';

const zones = fixtureZones();
const data = zones.map((z) => readZone(z.file, z.origin));

t.test('every fixture zone passes named-checkzone', async (t) => {
  for (const z of zones) {
    const res = spawnSync(NAMED_CHECKZONE_BIN, ['-q', '-i', 'local', z.origin, z.file], { encoding: 'utf8', timeout: 20000 });
    t.equal(res.status, 0, `${z.file}: ${res.stdout}${res.stderr}`);
  }
});

t.test('corpus size, determinism and exclusions', async (t) => {
  const a = generateCorpus(data, { seed: 7 });
  const b = generateCorpus(data, { seed: 7 });
  const c = generateCorpus(data, { seed: 8 });
  t.ok(a.length >= 300, `${a.length} queries`);
  t.same(a, b, 'same seed, same corpus');
  t.notSame(a.map(queryText), c.map(queryText), 'another seed varies the corpus');
  t.notOk(a.some((q) => q.type === 255 || q.type === 252 || q.type === 251), 'no ANY, AXFR or IXFR');
  const sample = generateCorpus(data, { seed: 7, count: 300 });
  t.equal(sample.length, 300, '--count keeps that many');
  t.same(sample, generateCorpus(data, { seed: 7, count: 300 }), 'sampling is seeded');
});

t.test('corpus covers the promised variants', async (t) => {
  const corpus = generateCorpus(data, { seed: 1 });
  const texts = corpus.map(queryText);
  const has = (pred: (q: (typeof corpus)[number]) => boolean, what: string): void => {
    t.ok(corpus.some(pred), what);
  };
  has((q) => q.edns === null, 'queries without EDNS');
  for (const size of [512, 1232, 4096]) has((q) => q.edns?.udp === size, `EDNS ${size}`);
  has((q) => q.edns?.do === true, 'DO bit');
  has((q) => q.rd, 'RD on');
  has((q) => !q.rd, 'RD off');
  has((q) => q.tcp, 'TCP');
  has((q) => !q.tcp, 'UDP');
  has((q) => q.name !== q.name.toLowerCase(), 'mixed case');
  for (const type of [1, 28, 2, 6, 5, 15, 16, 33, 12, 257, 65280, 43, 65281]) has((q) => q.type === type, `type ${type}`);
  const names = new Set(corpus.map((q) => q.name.toLowerCase()));
  for (const n of [
    'c.ent.example.test.', // empty non-terminal
    '*.wild.test.', // wildcard owner asked directly
    'ghost.*.wild.test.', // below the wildcard owner
    'synth.wild.test.', // synthesized
    'y.blk.example.test.', // ENT that blocks a wildcard
    'ns1.deleg.example.test.', // glue below a cut
    'example.invalid.', // outside every zone
    'test.', // parent of the zones
  ]) t.ok(names.has(n), `asks ${n}`);
  // big RRsets are asked at every size, over UDP and TCP
  const big = corpus.filter((q) => q.name.toLowerCase() === 'big.example.test.' && q.type === 1);
  t.ok(big.some((q) => q.tcp) && big.some((q) => !q.tcp && q.edns === null), 'big A over TCP and over 512-byte UDP');
  t.ok(texts.every((s) => /\+(no)?tcp$/.test(s)), 'query text names the transport');
});

t.test('encodeQuery produces what dns-packet reads back', async (t) => {
  const q = { id: 4660, name: 'wWw.Example.test.', type: 65280, rd: true, edns: { udp: 1232, do: true }, tcp: false };
  const p = dnsPacket.decode(encodeQuery(q));
  t.equal(p.id, 4660);
  t.equal(p.questions?.[0].name, 'wWw.Example.test', 'case preserved');
  t.equal(((p.flags ?? 0) & 0x0100) !== 0, true, 'RD');
  const opt = (p.additionals ?? [])[0] as unknown as { type: string; udpPayloadSize: number; flag_do: boolean };
  t.equal(opt.type, 'OPT');
  t.equal(opt.udpPayloadSize, 1232);
  t.equal(opt.flag_do, true);
  const root = dnsPacket.decode(encodeQuery({ ...q, name: '.', edns: null }));
  t.equal(root.questions?.[0].name, '.', 'root name');
  t.equal((root.additionals ?? []).length, 0, 'no OPT without EDNS');
});

t.test('parseZoneArg', async (t) => {
  t.same(parseZoneArg('/x/y.zone@Example.Test'), { file: '/x/y.zone', origin: 'Example.Test.' });
  t.same(parseZoneArg('/x/other.test.zone'), { file: '/x/other.test.zone', origin: 'other.test.' });
});
