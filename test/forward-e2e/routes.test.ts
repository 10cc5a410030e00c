// Forwarding through the kdns process, over the wire: ops.cna goes to a real dnsmasq, everything else to a
// real named. Answers on both routes over UDP and TCP (RA set, AA clear, ID and the client's case echoed);
// the cache proven by the upstreams' own query logs (N client queries → 1 upstream query, NXDOMAIN asked
// once); TTLs going down on hits; local rules (--server=/corp.lan/, --address) answered with no upstream
// query. One worker, so one cache, so upstream counts are exact.
import t from 'tap';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { startKdns } from '../helpers/kdns-process.js';
import { ask, eventually, sleep, startLoggedNamed, workDir } from './setup.js';

t.test('kdns forwarding to dnsmasq (ops.cna) and named (default)', async (t) => {
  const w = workDir(t);
  const named = await startLoggedNamed(t, w.exampleZone, 'example.test');
  const dm = await startDnsmasq([
    '--host-record=db.ops.cna,10.1.1.5', '--host-record=cache.ops.cna,10.1.1.6', '--local=/ops.cna/', '--local-ttl=300',
  ], 'db.ops.cna');
  t.teardown(() => dm.stop());
  const kdns = await startKdns([
    '--listen', '127.0.0.1:0', '--workers', '1', '--http', 'none', '--log-level', 'info',
    '--zone-file', `${w.ownZone}@kdns.test`,
    `--server=/ops.cna/127.0.0.1#${dm.port}`, `--server=127.0.0.1#${named.port}`, '--server=/corp.lan/',
    '--address=/x.test/1.2.3.4',
  ], { t });

  await t.test('both routes, UDP and TCP: RA set, AA clear, ID and case echoed', async (t) => {
    for (const tcp of [false, true]) {
      const how = tcp ? 'TCP' : 'UDP';
      const db = await ask(kdns.port, 'Db.OPS.cna', 'A', { tcp, id: tcp ? 0x1234 : 0xbeef });
      t.equal(db.rcode, 0, `${how} ops.cna NOERROR`);
      t.same(db.answers.map((a) => a.data), ['10.1.1.5'], `${how} ops.cna answered by dnsmasq`);
      t.equal(db.id, tcp ? 0x1234 : 0xbeef, `${how} ID echoed`);
      t.equal(db.question, 'Db.OPS.cna', `${how} the client's spelling of the question`);
      t.ok(db.ra, `${how} RA`);
      t.notOk(db.aa, `${how} AA clear: not our data`);
      const www = await ask(kdns.port, 'WWW.Example.TEST', 'A', { tcp, id: 7 });
      t.same(www.answers.map((a) => a.data), ['192.0.2.10'], `${how} default route answered by named`);
      t.equal(www.question, 'WWW.Example.TEST', `${how} case echoed`);
      t.equal(www.id, 7);
      t.ok(www.ra);
      t.equal(www.answers[0]!.ttl <= 300 && www.answers[0]!.ttl >= 295, true, `${how} named's TTL 300, as cached`);
    }
    const aaaa = await ask(kdns.port, 'www.example.test', 'AAAA');
    t.same(aaaa.answers.map((a) => a.data), ['2001:db8::10'], 'AAAA forwarded (no --filter-aaaa here)');
    const own = await ask(kdns.port, 'self.kdns.test', 'A');
    t.ok(own.aa, 'own zone: authoritative');
    t.same(own.answers.map((a) => a.data), ['192.0.2.99']);
  });

  await t.test('cache: 20 identical client queries, one query in dnsmasq\'s log', async (t) => {
    t.equal(dm.queriesFor('cache.ops.cna', 'A'), 0, 'not asked before');
    for (let i = 0; i < 10; i++) t.equal((await ask(kdns.port, 'cache.ops.cna', 'A')).answers[0]?.data, '10.1.1.6');
    const burst = await Promise.all(Array.from({ length: 10 }, () => ask(kdns.port, 'cache.ops.cna', 'A')));
    t.ok(burst.every((r) => r.answers[0]?.data === '10.1.1.6'), '10 concurrent ones too');
    await eventually(() => dm.queriesFor('cache.ops.cna', 'A') > 0);
    await sleep(100); // a second upstream query, if there were one, would be logged by now
    t.equal(dm.queriesFor('cache.ops.cna', 'A'), 1, 'dnsmasq saw exactly one');
    const named0 = named.queriesFor('mixed.example.test', 'A');
    for (let i = 0; i < 5; i++) await ask(kdns.port, i % 2 ? 'MIXED.example.test' : 'mixed.example.test', 'A', { tcp: i === 4 });
    await eventually(() => named.queriesFor('mixed.example.test', 'A') > named0);
    await sleep(100);
    t.equal(named.queriesFor('mixed.example.test', 'A') - named0, 1, 'named saw one for 5 client queries (any case, UDP and TCP share the cache)');
  });

  await t.test('TTL goes down on cache hits', async (t) => {
    const first = await ask(kdns.port, 'ns.example.test', 'A');
    t.equal(first.answers.length, 1);
    await sleep(2100);
    const again = await ask(kdns.port, 'ns.example.test', 'A');
    t.ok(first.answers[0]!.ttl - again.answers[0]!.ttl >= 1, `TTL ${first.answers[0]!.ttl} → ${again.answers[0]!.ttl}`);
    t.ok(again.answers[0]!.ttl >= first.answers[0]!.ttl - 4, 'by about the time that passed');
    t.equal(named.queriesFor('ns.example.test', 'A'), 1, 'the second answer came from the cache');
  });

  await t.test('negative caching: NXDOMAIN and NODATA reach named once', async (t) => {
    const nx = await ask(kdns.port, 'nope.example.test', 'A');
    t.equal(nx.rcode, 3, 'NXDOMAIN');
    t.equal(nx.authorities[0]?.type, 'SOA', 'with the SOA');
    t.ok(nx.authorities[0]!.ttl <= 60, 'SOA TTL = min(TTL, MINIMUM) = 60');
    await sleep(1100);
    const nx2 = await ask(kdns.port, 'nope.example.test', 'A');
    t.equal(nx2.rcode, 3);
    t.ok(nx2.authorities[0]!.ttl < nx.authorities[0]!.ttl, 'negative TTL going down too');
    const nodata = await ask(kdns.port, 'www.example.test', 'MX');
    t.equal(nodata.rcode, 0);
    t.equal(nodata.answers.length, 0, 'NODATA');
    await ask(kdns.port, 'www.example.test', 'MX', { tcp: true });
    await sleep(100);
    t.equal(named.queriesFor('nope.example.test', 'A'), 1, 'NXDOMAIN asked upstream once');
    t.equal(named.queriesFor('www.example.test', 'MX'), 1, 'NODATA asked upstream once');
  });

  await t.test('--server=/corp.lan/: NXDOMAIN, never forwarded', async (t) => {
    const r = await ask(kdns.port, 'host.corp.lan', 'A');
    t.equal(r.rcode, 3);
    t.ok(r.ra);
    t.equal((await ask(kdns.port, 'corp.lan', 'A', { tcp: true })).rcode, 3, 'the domain itself, over TCP');
    await sleep(100);
    t.equal(named.queriesFor('host.corp.lan', 'A') + named.queriesFor('corp.lan', 'A'), 0, 'named never asked');
    t.equal(dm.queriesFor('host.corp.lan'), 0, 'dnsmasq never asked');
  });

  await t.test('--address=/x.test/1.2.3.4: A answered locally, NODATA for other types', async (t) => {
    const r = await ask(kdns.port, 'deep.X.test', 'A');
    t.equal(r.rcode, 0);
    t.same(r.answers.map((a) => [a.name, a.data]), [['deep.X.test', '1.2.3.4']]);
    const six = await ask(kdns.port, 'x.test', 'AAAA', { tcp: true });
    t.equal(six.rcode, 0);
    t.equal(six.answers.length, 0, 'no IPv6 address given: NODATA');
    await sleep(100);
    t.equal(named.queriesFor('deep.x.test', 'A') + named.queriesFor('x.test', 'AAAA'), 0, 'never forwarded');
  });

  t.ok(kdns.alive(), 'kdns still up');
});
