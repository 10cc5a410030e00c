// The forwarder with real servers on loopback: dnsmasq as the upstream for a private domain (ops.cna) and
// BIND named as the default upstream. Proves routing, coalescing (counted in dnsmasq's query log), TTLs
// going down, negative caching with a real SOA, TCP, serve-stale by stopping dnsmasq, and SERVFAIL (not
// a hang) once it is gone with nothing cached.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { startNamed } from '../helpers/named.js';
import { makeForwarder, rcodeOf } from './setup.js';
import { sleep } from './fake-upstream.js';

const ZONE = `$ORIGIN example.test.
$TTL 300
@     IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60
@     IN NS  ns.example.test.
ns    IN A   192.0.2.53
www   IN A   192.0.2.10
`;

t.test('dnsmasq for ops.cna, named as default', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kdns-fwd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'example.test.zone'), ZONE);
  const named = await startNamed([{ file: path.join(dir, 'example.test.zone'), origin: 'example.test' }]);
  t.teardown(() => named.stop());
  const dm = await startDnsmasq([
    '--host-record=db.ops.cna,10.1.1.5', '--address=/x.ops.cna/10.9.9.9', '--local=/ops.cna/', '--local-ttl=300',
  ], 'db.ops.cna');
  t.teardown(() => dm.stop());

  const { fwd, ask, clock } = makeForwarder({
    timeoutMs: 300, attempts: 1,
    routes: [{ domains: ['ops.cna.'], servers: [{ host: '127.0.0.1', port: dm.port }], localOnly: false }],
  }, [named.port]);
  t.teardown(() => fwd.close());

  const db = await ask('db.ops.cna', 'A');
  t.same(db.answers.map((x) => x.data), ['10.1.1.5'], 'private domain via dnsmasq');
  t.equal(db.answers[0]!.ttl, 300);
  t.same((await ask('deep.x.ops.cna', 'A')).answers.map((x) => x.data), ['10.9.9.9'], 'dnsmasq --address below x.ops.cna');
  const www = await ask('www.example.test', 'A');
  t.same(www.answers.map((x) => x.data), ['192.0.2.10'], 'default upstream: named');

  await t.test('coalescing: 10 concurrent clients, one query in dnsmasq\'s log', async (t) => {
    const rs = await Promise.all(Array.from({ length: 10 }, () => ask('co.x.ops.cna', 'A')));
    t.ok(rs.every((r) => r.answers[0]?.data === '10.9.9.9'));
    await sleep(100); // let the log line arrive
    t.equal(dm.queriesFor('co.x.ops.cna', 'A'), 1);
  });

  await t.test('TTL goes down on cache hits, no new upstream query', async (t) => {
    clock.now += 42_000;
    const again = await ask('db.ops.cna', 'A');
    t.equal(again.answers[0]!.ttl, 258);
    await sleep(50);
    t.equal(dm.queriesFor('db.ops.cna', 'A'), 2, 'the probe at start-up and our first query only');
  });

  await t.test('negative caching with named\'s SOA', async (t) => {
    const nx = await ask('nope.example.test', 'A');
    t.equal(rcodeOf(nx), 3);
    t.equal(nx.authorities[0]!.type, 'SOA');
    t.equal(nx.authorities[0]!.ttl, 60, 'min(SOA TTL 300, MINIMUM 60)');
    const before = (fwd.stats() as { cacheHits: number }).cacheHits;
    clock.now += 20_000;
    const nx2 = await ask('nope.example.test', 'A');
    t.equal(nx2.authorities[0]!.ttl, 40);
    t.equal((fwd.stats() as { cacheHits: number }).cacheHits, before + 1, 'from the cache');
    const nodata = await ask('www.example.test', 'MX');
    t.equal(rcodeOf(nodata), 0);
    t.equal(nodata.answers.length, 0);
    t.equal(nodata.authorities[0]!.type, 'SOA');
  });

  await t.test('TCP client: forwarded over TCP to named', async (t) => {
    const r = await ask('ns.example.test', 'A', { proto: 'tcp' });
    t.same(r.answers.map((x) => x.data), ['192.0.2.53']);
  });

  await t.test('serve-stale after dnsmasq stops; SERVFAIL for what was never cached', async (t) => {
    await dm.stop();
    clock.now += 600_000; // db.ops.cna long expired
    const stale = await ask('db.ops.cna', 'A');
    t.equal(rcodeOf(stale), 0);
    t.same(stale.answers.map((x) => x.data), ['10.1.1.5']);
    t.equal(stale.answers[0]!.ttl, 30, 'RFC 8767 stale TTL');
    const started = Date.now();
    const never = await ask('new.ops.cna', 'A');
    t.equal(rcodeOf(never), 2, 'SERVFAIL');
    t.ok(Date.now() - started < 1500, 'bounded');
    t.equal(rcodeOf(await ask('www.example.test', 'A')), 0, 'the other route still works');
  });
});
