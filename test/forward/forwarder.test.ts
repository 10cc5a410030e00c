// The forwarder against small fake upstreams: answers, the cache (TTL going down, negative caching,
// SERVFAIL caching, bounds, flush), coalescing, prefetch, local rules, the ACL, AAAA filtering, metrics.
import t from 'tap';
import dnsPacket from 'dns-packet';
import { a, clientQuery, reply, sleep, soa, startFake, type FakeUpstream } from './fake-upstream.js';
import { decode, makeForwarder, rcodeOf, UDP_CLIENT } from './setup.js';
import { QuerySlot, readQuery, READ_OK } from '../../src/dns/query-reader.js';
import { ForwardOutcome } from '../../src/forward/outcome.js';
import { defaultForwardOptions } from '../../src/forward/options.js';

/** Answers every A query with 192.0.2.1 (TTL 300), NXDOMAIN+SOA for names starting with "nx", etc. */
async function standardUpstream(t: { teardown(fn: () => unknown): void }, delayMs = 0): Promise<FakeUpstream> {
  const fake = await startFake(async (q) => {
    if (delayMs > 0) await sleep(delayMs);
    const name = q.questions![0]!.name;
    if (name.startsWith('nx')) return reply(q, { rcode: 3, authorities: [soa('example.test', 600, 60)] });
    if (name.startsWith('nosoa')) return reply(q, { rcode: 3 });
    if (name.startsWith('sf')) return reply(q, { rcode: 2 });
    if (q.questions![0]!.type === 'AAAA') return reply(q, { authorities: [soa('example.test', 30, 120)] });
    return reply(q, { answers: [a(name, '192.0.2.1', 300)] });
  });
  t.teardown(() => fake.close());
  return fake;
}

t.test('forwards and answers with the client header, case and EDNS', async (t) => {
  const up = await standardUpstream(t);
  const { fwd, ask } = makeForwarder({}, [up.port]);
  t.teardown(() => fwd.close());
  const query = dnsPacket.encode({
    type: 'query', id: 0xbeef, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'WwW.Example.TEST' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: 0x8000 } as dnsPacket.Answer],
  });
  const res = await ask('www.example.test', 'A', {}, query);
  t.equal(res.id, 0xbeef);
  t.equal(res.questions![0]!.name, 'WwW.Example.TEST', 'client spelling echoed');
  t.ok((res.flags! & dnsPacket.RECURSION_AVAILABLE) !== 0, 'RA set');
  t.equal(res.raw[2]! & 0x80, 0x80, 'QR set');
  t.equal(res.raw[2]! & 0x04, 0, 'AA clear');
  t.same(res.answers!.map((x) => x.data), ['192.0.2.1']);
  const opt = res.additionals!.find((x) => x.type === 'OPT') as { udpPayloadSize: number; flags: number };
  t.ok(opt, 'OPT in the answer');
  t.equal(opt.udpPayloadSize, 1232);
  t.equal(opt.flags & 0x8000, 0x8000, 'DO echoed');
  t.equal(up.received[0]!.dnssecOk, true, 'DO passed upstream');
  t.equal(up.received[0]!.udpSize, 1232, 'we advertise 1232 upstream');
  t.equal(up.received[0]!.name, 'www.example.test', 'lower-cased upstream');
  t.not(up.received[0]!.id, 0xbeef, 'our own ID upstream');
});

t.test('no OPT in the answer when the client sent none', async (t) => {
  const up = await standardUpstream(t);
  const { fwd, ask } = makeForwarder({}, [up.port]);
  t.teardown(() => fwd.close());
  const res = await ask('x.example.test', 'A', {}, dnsPacket.encode({
    type: 'query', id: 5, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'x.example.test' }],
  }));
  t.equal((res.additionals ?? []).length, 0);
  t.equal(up.received[0]!.dnssecOk, false, 'upstream query still has our OPT, DO clear');
});

t.test('cache hits: no second upstream query, TTL goes down with time', async (t) => {
  const up = await standardUpstream(t);
  const { fwd, ask, clock } = makeForwarder({}, [up.port]);
  t.teardown(() => fwd.close());
  const first = await ask('ttl.example.test', 'A');
  t.equal(first.answers![0]!.ttl, 300);
  clock.now += 10_500;
  const second = await ask('ttl.example.test', 'A');
  t.equal(second.answers![0]!.ttl, 290, 'ten whole seconds later');
  clock.now += 100_000;
  const third = await ask('TTL.example.test', 'A');
  t.equal(third.answers![0]!.ttl, 190, 'case-insensitive key');
  t.equal(up.count('ttl.example.test'), 1, 'one upstream query');
  clock.now += 200_000;
  await ask('ttl.example.test', 'A');
  t.equal(up.count('ttl.example.test'), 2, 'expired: asked again');
});

t.test('TTL clamps: max-ttl and min-ttl', async (t) => {
  const up = await standardUpstream(t);
  const { fwd, ask } = makeForwarder({ cache: { maxTtl: 60 } }, [up.port]);
  t.teardown(() => fwd.close());
  t.equal((await ask('clamp.example.test', 'A')).answers![0]!.ttl, 60);
});

t.test('negative caching: NXDOMAIN and NODATA for min(SOA TTL, MINIMUM); no SOA → not cached', async (t) => {
  const up = await standardUpstream(t);
  const { fwd, ask, clock } = makeForwarder({}, [up.port]);
  t.teardown(() => fwd.close());
  const nx = await ask('nx1.example.test', 'A');
  t.equal(rcodeOf(nx), 3);
  t.equal(nx.authorities![0]!.ttl, 60, 'SOA TTL is the negative TTL min(600, 60)');
  clock.now += 30_000;
  const nx2 = await ask('nx1.example.test', 'A');
  t.equal(rcodeOf(nx2), 3);
  t.equal(nx2.authorities![0]!.ttl, 30);
  t.equal(up.count('nx1.example.test'), 1, 'NXDOMAIN cached');
  clock.now += 31_000;
  await ask('nx1.example.test', 'A');
  t.equal(up.count('nx1.example.test'), 2, 'after 60 s asked again');

  const nodata = await ask('host.example.test', 'AAAA');
  t.equal(rcodeOf(nodata), 0);
  t.equal(nodata.answers!.length, 0);
  t.equal(nodata.authorities![0]!.ttl, 30, 'min(30, 120)');
  await ask('host.example.test', 'AAAA');
  t.equal(up.count('host.example.test'), 1, 'NODATA cached');

  await ask('nosoa.example.test', 'A');
  await ask('nosoa.example.test', 'A');
  t.equal(up.count('nosoa.example.test'), 2, 'RFC 2308 §5: no SOA, no negative caching');
});

t.test('negative TTL capped by negative-max-ttl', async (t) => {
  const up = await standardUpstream(t);
  const { fwd, ask } = makeForwarder({ cache: { negativeMaxTtl: 5 } }, [up.port]);
  t.teardown(() => fwd.close());
  t.equal((await ask('nx2.example.test', 'A')).authorities![0]!.ttl, 5);
});

t.test('upstream SERVFAIL is passed on and cached briefly', async (t) => {
  const up = await standardUpstream(t);
  const { fwd, ask, clock } = makeForwarder({ cache: { servfailTtl: 5 } }, [up.port]);
  t.teardown(() => fwd.close());
  t.equal(rcodeOf(await ask('sf.example.test', 'A')), 2);
  t.equal(rcodeOf(await ask('sf.example.test', 'A')), 2);
  t.equal(up.count('sf.example.test'), 1, 'second SERVFAIL from the cache');
  clock.now += 6000;
  await ask('sf.example.test', 'A');
  t.equal(up.count('sf.example.test'), 2, 'after servfail-ttl asked again');
});

t.test('identical queries in flight are coalesced into one upstream query', async (t) => {
  const up = await standardUpstream(t, 150);
  const { fwd, ask } = makeForwarder({}, [up.port]);
  t.teardown(() => fwd.close());
  const answers = await Promise.all(Array.from({ length: 20 }, () => ask('burst.example.test', 'A')));
  t.equal(up.count('burst.example.test'), 1, 'one upstream query for 20 clients');
  t.ok(answers.every((r) => r.answers![0]!.data === '192.0.2.1'), 'all answered');
  t.equal((fwd.stats() as { coalesced: number }).coalesced, 19);
  // DO is part of the key: a DNSSEC query is its own upstream question.
  await Promise.all([ask('do.example.test', 'A'), ask('do.example.test', 'A', {}, dnsPacket.encode({
    type: 'query', id: 1, flags: 0, questions: [{ type: 'A', name: 'do.example.test' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0x8000 } as dnsPacket.Answer],
  }))]);
  t.equal(up.count('do.example.test'), 2);
});

t.test('prefetch refreshes a popular entry before it expires', async (t) => {
  const up = await standardUpstream(t);
  const { fwd, ask, clock } = makeForwarder({ cache: { prefetch: { minHits: 2, beforeExpiryPercent: 10 } } }, [up.port]);
  t.teardown(() => fwd.close());
  await ask('hot.example.test', 'A');
  await ask('hot.example.test', 'A');
  await ask('hot.example.test', 'A');
  t.equal(up.count('hot.example.test'), 1, 'plenty of TTL left: no prefetch');
  clock.now += 275_000; // 25 s of 300 left, under 10 %
  const r = await ask('hot.example.test', 'A');
  t.equal(r.answers![0]!.ttl, 25, 'client still answered from the cache');
  for (let i = 0; i < 50 && up.count('hot.example.test') < 2; i++) await sleep(10);
  await sleep(20);
  t.equal(up.count('hot.example.test'), 2, 'prefetched');
  t.equal((await ask('hot.example.test', 'A')).answers![0]!.ttl, 300, 'entry renewed');
  t.equal((fwd.stats() as { prefetches: number }).prefetches, 1);
});

t.test('cache bounded by entries; flushCache empties it', async (t) => {
  const up = await standardUpstream(t);
  const { fwd, ask } = makeForwarder({ cache: { maxEntries: 3 } }, [up.port]);
  t.teardown(() => fwd.close());
  for (let i = 0; i < 6; i++) await ask(`n${i}.example.test`, 'A');
  const s = fwd.stats() as { cache: { entries: number; evictions: number } };
  t.equal(s.cache.entries, 3);
  t.equal(s.cache.evictions, 3);
  t.equal(fwd.flushCache(), 3);
  await ask('n5.example.test', 'A');
  t.equal(up.count('n5.example.test'), 2, 'asked again after the flush');
});

t.test('routes: longest suffix, local-only, --address, routes()', async (t) => {
  const general = await standardUpstream(t);
  const special = await startFake((q) => reply(q, { answers: [a(q.questions![0]!.name, '10.7.7.7', 60)] }));
  t.teardown(() => special.close());
  const { fwd, ask } = makeForwarder({
    routes: [
      { domains: ['ops.cna.'], servers: [{ host: '127.0.0.1', port: general.port }], localOnly: false },
      { domains: ['deep.ops.cna.', 'other.cna.'], servers: [{ host: '127.0.0.1', port: special.port }], localOnly: false },
      { domains: ['private.cna.'], servers: [], localOnly: true },
    ],
    addresses: [{ domain: 'x.test.', ips: ['1.2.3.4', '2001:db8::4'] }, { domain: 'blocked.test.', ips: [] }],
  });
  t.teardown(() => fwd.close());
  t.equal((await ask('a.ops.cna', 'A')).answers![0]!.data, '192.0.2.1');
  t.equal((await ask('a.deep.ops.cna', 'A')).answers![0]!.data, '10.7.7.7', 'longer suffix wins');
  t.equal((await ask('other.cna', 'A')).answers![0]!.data, '10.7.7.7', 'second domain of a route');
  t.equal(rcodeOf(await ask('db.private.cna', 'A')), 3, 'local only → NXDOMAIN');
  t.equal((await ask('x.test', 'A')).answers![0]!.data, '1.2.3.4');
  t.equal((await ask('a.b.x.test', 'AAAA')).answers![0]!.data, '2001:db8::4', 'below x.test, by family');
  const mx = await ask('x.test', 'MX');
  t.equal(rcodeOf(mx), 0);
  t.equal(mx.answers!.length, 0, 'NODATA for other types');
  t.equal(rcodeOf(await ask('blocked.test', 'A')), 3, 'address without IPs → NXDOMAIN');
  t.equal(general.count() + special.count(), 3, 'local rules never reached an upstream');
  t.equal(fwd.routes('a.ops.cna.'), true);
  t.equal(fwd.routes('db.private.cna.'), true, 'answered by the forwarder (NXDOMAIN)');
  t.equal(fwd.routes('elsewhere.example.'), false, 'no default upstream');
});

t.test('ACL: REFUSED outside allow-networks, IPv4-mapped addresses understood', async (t) => {
  const up = await standardUpstream(t);
  const { fwd, ask } = makeForwarder({}, [up.port]);
  t.teardown(() => fwd.close());
  t.equal(rcodeOf(await ask('acl.example.test', 'A', { address: '203.0.113.9' })), 5);
  t.equal(rcodeOf(await ask('acl.example.test', 'A', { address: '2001:db8::1', family: 6 })), 5);
  t.equal(up.count(), 0, 'nothing forwarded for them');
  t.equal(rcodeOf(await ask('acl.example.test', 'A', { address: '::ffff:10.1.2.3', family: 6 })), 0);
  t.equal(rcodeOf(await ask('acl.example.test', 'A', { address: '192.168.4.4' })), 0);
  t.equal(rcodeOf(await ask('acl.example.test', 'A', { address: 'fd00::1', family: 6 })), 0);
});

t.test('filter-aaaa: NODATA for AAAA of forwarded names, A untouched', async (t) => {
  const up = await standardUpstream(t);
  const { fwd, ask } = makeForwarder({ filterAaaa: true }, [up.port]);
  t.teardown(() => fwd.close());
  const r = await ask('v6.example.test', 'AAAA');
  t.equal(rcodeOf(r), 0);
  t.equal(r.answers!.length, 0);
  t.equal(up.count('v6.example.test'), 0);
  t.equal((await ask('v6.example.test', 'A')).answers!.length, 1);
});

t.test('UDP answers larger than the client limit are truncated with TC', async (t) => {
  const big = await startFake((q) => reply(q, {
    answers: Array.from({ length: 60 }, (_, i) => a(q.questions![0]!.name, `10.0.${i >> 8}.${i & 255}`, 60)),
  }));
  t.teardown(() => big.close());
  const { fwd, ask } = makeForwarder({}, [big.port]);
  t.teardown(() => fwd.close());
  const small = await ask('big.example.test', 'A', { maxUdpSize: 512 });
  t.ok((small.flags! & dnsPacket.TRUNCATED_RESPONSE) !== 0, 'TC set');
  t.equal(small.answers!.length, 0);
  t.ok(small.raw.length <= 512);
  const tcp = await ask('big.example.test', 'A', { proto: 'tcp' });
  t.equal(tcp.answers!.length, 60, 'whole answer over TCP (from the cache)');
});

t.test('metrics are registered with the kdns_forward_ and kdns_cache_ prefixes', async (t) => {
  const up = await standardUpstream(t);
  const { fwd, ask, registry } = makeForwarder({}, [up.port]);
  t.teardown(() => fwd.close());
  await ask('m.example.test', 'A');
  await ask('m.example.test', 'A');
  const text = await registry.metrics();
  t.match(text, new RegExp(`kdns_forward_requests_total\\{to="127.0.0.1#${up.port}",proto="udp"\\} 1`));
  t.match(text, new RegExp(`kdns_forward_responses_total\\{to="127.0.0.1#${up.port}",rcode="NOERROR"\\} 1`));
  t.match(text, /kdns_cache_hits_total\{type="success"\} 1/);
  t.match(text, /kdns_cache_misses_total 1/);
  t.match(text, /kdns_cache_entries 1/);
  t.match(text, new RegExp(`kdns_forward_upstream_up\\{upstream="127.0.0.1#${up.port}"\\} 1`));
  t.match(text, /kdns_forward_upstream_rtt_seconds_bucket/);
});

t.test('reconfigure (SIGHUP): new routes and rules apply, a kept upstream stays once, a dropped one goes, the cache is flushed', async (t) => {
  const first = await standardUpstream(t);
  const second = await startFake(async (q) => reply(q, { answers: [a(q.questions![0]!.name, '192.0.2.2', 300)] }));
  t.teardown(() => second.close());
  const { fwd, ask } = makeForwarder({}, [first.port]);
  t.teardown(() => fwd.close());
  t.same((await ask('www.example.test', 'A')).answers!.map((x) => x.data), ['192.0.2.1'], 'before: the default upstream');
  const upstreamsBefore = (fwd.stats() as { upstreams: Array<{ name: string }> }).upstreams.map((u) => u.name);

  const base = defaultForwardOptions();
  fwd.reconfigure({
    ...base, resolvConf: null, timeoutMs: 300, probeIntervalMs: 100,
    defaultUpstreams: [{ host: '127.0.0.1', port: first.port }],
    routes: [{ domains: ['corp.test.'], servers: [{ host: '127.0.0.1', port: second.port }], localOnly: false }],
    addresses: [{ domain: 'blocked.test.', ips: [] }],
  });
  t.same((await ask('db.corp.test', 'A')).answers!.map((x) => x.data), ['192.0.2.2'], 'the new route goes to its upstream');
  t.equal(rcodeOf(await ask('ads.blocked.test', 'A')), 3, 'the new --address rule answers NXDOMAIN here');
  const asked = first.received.length;
  t.same((await ask('www.example.test', 'A')).answers!.map((x) => x.data), ['192.0.2.1']);
  t.equal(first.received.length, asked + 1, 'the cache was flushed: asked upstream again');
  const upstreamsAfter = (fwd.stats() as { upstreams: Array<{ name: string }> }).upstreams.map((u) => u.name);
  t.strictSame(upstreamsAfter.sort(), [...upstreamsBefore, `127.0.0.1#${second.port}`].sort(), 'the kept upstream is still there once');

  fwd.reconfigure({ ...base, resolvConf: null, timeoutMs: 300, defaultUpstreams: [{ host: '127.0.0.1', port: second.port }] });
  t.strictSame((fwd.stats() as { upstreams: Array<{ name: string }> }).upstreams.map((u) => u.name), [`127.0.0.1#${second.port}`], 'an upstream no longer configured is dropped');
  t.same((await ask('www.example.test', 'A')).answers!.map((x) => x.data), ['192.0.2.2'], 'default upstream replaced');
});

t.test('one hand-off per miss: answerNow decides once (a ticket), continueMiss answers it once with the caller\'s replyTo', async (t) => {
  const up = await standardUpstream(t);
  const { fwd } = makeForwarder({}, [up.port]);
  t.teardown(() => fwd.close());
  const query = clientQuery('Once.Example.Test', 'A', { id: 0x4242, edns: true });
  const slot = new QuerySlot();
  t.equal(readQuery(query, query.length, slot), READ_OK);
  const out = new ForwardOutcome();
  fwd.answerNow(query, slot, 'once.example.test.', UDP_CLIENT, out);
  t.equal(out.answer, null, 'a miss: no answer now');
  const ticket = out.ticket!;
  t.ok(ticket, 'a ticket');
  t.equal(up.received.length, 0, 'nothing sent before continueMiss');
  query.fill(0); // the receive buffer is reused by then: the ticket holds its own copy
  const answers: { response: Buffer; replyTo: unknown }[] = [];
  const replyTo = { client: 'this one' };
  ticket.replyTo = replyTo;
  const answered = new Promise<void>((resolve) => {
    ticket.onAnswer = (response, r) => { answers.push({ response, replyTo: r }); resolve(); };
  });
  fwd.continueMiss(ticket);
  await answered;
  const r = decode(answers[0]!.response);
  t.equal(r.id, 0x4242);
  t.equal(r.questions[0]!.name, 'Once.Example.Test', 'the client\'s spelling, from the ticket\'s copy');
  t.same(r.answers.map((x) => x.data), ['192.0.2.1']);
  t.equal(answers[0]!.replyTo, replyTo, 'replyTo passed through');
  t.equal(up.received.length, 1, 'one upstream query');
  const s = fwd.stats() as { queries: number; cacheMisses: number };
  t.equal(s.queries, 1, 'counted once');
  t.equal(s.cacheMisses, 1, 'the cache was asked once');
  // A sentinel query answered from the cache proves no late second answer is on its way for the first.
  const again = clientQuery('once.example.test', 'A', { edns: true });
  t.equal(readQuery(again, again.length, slot), READ_OK);
  fwd.answerNow(again, slot, 'once.example.test.', UDP_CLIENT, out);
  t.ok(out.answer !== null && out.reuseMs > 0, 'then a fresh hit, now, with a reuse time');
  t.equal(answers.length, 1, 'the ticket was answered exactly once');
});

t.test('an answer known inside continueMiss (every upstream at its cap) comes on the next tick, never inside the call', async (t) => {
  const up = await standardUpstream(t);
  const { fwd } = makeForwarder({ maxInFlightPerUpstream: 0 }, [up.port]);
  t.teardown(() => fwd.close());
  const query = clientQuery('capped.example.test', 'A', { edns: true });
  const slot = new QuerySlot();
  t.equal(readQuery(query, query.length, slot), READ_OK);
  const out = new ForwardOutcome();
  fwd.answerNow(query, slot, 'capped.example.test.', UDP_CLIENT, out);
  const ticket = out.ticket!;
  let inside = true;
  let calledInside = false;
  const answered = new Promise<Buffer>((resolve) => {
    ticket.onAnswer = (response) => { calledInside = inside; resolve(response); };
  });
  fwd.continueMiss(ticket);
  inside = false;
  const r = decode(await answered);
  t.equal(calledInside, false, 'not called from inside continueMiss');
  t.equal(rcodeOf(r), 2, 'SERVFAIL: nothing is queued');
  t.equal(up.received.length, 0, 'nothing sent');
});
