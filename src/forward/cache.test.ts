import t from 'tap';
import dnsPacket from 'dns-packet';
import { cacheKey, ForwardCache, KIND_NEGATIVE, KIND_POSITIVE, KIND_SERVFAIL, STATE_FRESH, STATE_STALE } from './cache.js';
import { indexResponse, questionEndOf } from './message.js';
import { defaultForwardOptions, type CacheOptions } from './options.js';

function indexed(rcode: number, answers: dnsPacket.Answer[], authorities: dnsPacket.Answer[] = [], tc = false) {
  const buf = dnsPacket.encode({
    type: 'response', id: 1, flags: rcode | (tc ? dnsPacket.TRUNCATED_RESPONSE : 0), questions: [{ type: 'A', name: 'a.example' }],
    answers, authorities,
  });
  return indexResponse(buf, questionEndOf(buf))!;
}
const A = (ttl: number) => ({ type: 'A', name: 'a.example', ttl, data: '10.0.0.1' } as dnsPacket.Answer);
const SOA = (ttl: number, minimum: number) => ({ type: 'SOA', name: 'example', ttl, data: {
  mname: 'ns.example', rname: 'h.example', serial: 1, refresh: 1, retry: 1, expire: 1, minimum } } as dnsPacket.Answer);

function make(over: Partial<CacheOptions> = {}) {
  const clock = { now: 0 };
  const cache = new ForwardCache({ ...defaultForwardOptions().cache, ...over }, () => clock.now);
  return { cache, clock };
}

t.test('what gets cached, for how long', async (t) => {
  const { cache } = make({ minTtl: 10, maxTtl: 100, negativeMaxTtl: 50 });
  const pos = cache.entryFor(indexed(0, [A(5), A(500)]))!;
  t.equal(pos.kind, KIND_POSITIVE);
  t.same(pos.ttls, [10, 100], 'clamped per record');
  t.equal(pos.lifetime, 10);
  const nx = cache.entryFor(indexed(3, [], [SOA(300, 30)]))!;
  t.equal(nx.kind, KIND_NEGATIVE);
  t.equal(nx.lifetime, 30, 'min(SOA TTL, MINIMUM)');
  t.equal(cache.entryFor(indexed(3, [], [SOA(300, 3000)]))!.lifetime, 50, 'capped');
  t.equal(cache.entryFor(indexed(0, [], [SOA(20, 30)]))!.lifetime, 20, 'NODATA');
  t.equal(cache.entryFor(indexed(3, [])), null, 'no SOA');
  t.equal(cache.entryFor(indexed(2, []))!.kind, KIND_SERVFAIL);
  t.equal(cache.entryFor(indexed(5, [])), null, 'REFUSED');
  t.equal(cache.entryFor(indexed(0, [A(60)], [], true)), null, 'truncated');
  t.equal(make().cache.entryFor(indexed(0, [A(0)])), null, 'TTL 0');
  t.equal(make({ servfailTtl: 0 }).cache.entryFor(indexed(2, [])), null, 'servfail caching off');
});

t.test('ageing: TTLs go down, stale after expiry, gone after stale-max-age', async (t) => {
  const { cache, clock } = make({ staleMaxAge: 100, staleTtl: 30 });
  cache.set('k', cache.entryFor(indexed(0, [A(60), A(90)]))!);
  clock.now = 15_999;
  let e = cache.get('k')!;
  t.equal(cache.state(e), STATE_FRESH);
  t.same(cache.currentTtls(e), [45, 75]);
  clock.now = 60_000;
  e = cache.get('k')!;
  t.equal(cache.state(e), STATE_STALE);
  t.same(cache.currentTtls(e), [30, 30]);
  clock.now = 160_000;
  t.equal(cache.get('k'), undefined);
  t.equal(cache.size().entries, 1, 'left in its slot, first to be replaced (readers never write)');
  cache.set('k2', cache.entryFor(indexed(0, [A(60)]))!);
  t.ok(cache.get('k2'), 'a new entry is stored beside it');
});

t.test('no serve-stale: expired entries are dropped; SERVFAIL entries never served stale', async (t) => {
  const { cache, clock } = make({ serveStale: false });
  cache.set('k', cache.entryFor(indexed(0, [A(60)]))!);
  clock.now = 60_000;
  t.equal(cache.get('k'), undefined);
  const s = make({ servfailTtl: 5 });
  s.cache.set('f', s.cache.servfailEntry()!);
  s.clock.now = 5000;
  t.equal(s.cache.get('f'), undefined);
});

t.test('bounded by bytes', async (t) => {
  const { cache } = make({ maxBytes: 65_536, maxEntries: 1_000_000 });
  for (let i = 0; i < 2000; i++) cache.set('k' + i, cache.entryFor(indexed(0, [A(60)]))!);
  t.ok(cache.size().bytes <= 65_536);
  t.ok(cache.evictions > 0);
  t.ok(cache.size().entries < 2000);
});

t.test('cache keys', async (t) => {
  t.not(cacheKey('a.', 1, 1, true, false), cacheKey('a.', 1, 1, false, false), 'DO');
  t.not(cacheKey('a.', 1, 1, false, true), cacheKey('a.', 1, 1, false, false), 'CD');
  t.not(cacheKey('a.', 28, 1, false, false), cacheKey('a.', 1, 1, false, false), 'type');
});
