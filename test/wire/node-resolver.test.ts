// Node's own resolver (c-ares) against kdns: every record kind of the fixture zone, PTR from the
// hosts file, and the two negative answers (NXDOMAIN → ENOTFOUND, NODATA → ENODATA).
import t from 'tap';
import { promises as dnsp } from 'node:dns';
import { startKdns, wireArgs } from '../helpers/kdns-process.js';

const kdns = await startKdns(wireArgs(), { t });
const r = new dnsp.Resolver({ timeout: 2000, tries: 1 });
r.setServers([`127.0.0.1:${kdns.port}`]);

const sorted = <T>(xs: T[]): T[] => [...xs].sort();

t.test('resolve4 / resolve6', async (t) => {
  t.same(await r.resolve4('www.example.test'), ['192.0.2.20']);
  t.same(await r.resolve6('www.example.test'), ['2001:db8::20']);
  t.same(sorted(await r.resolve4('example.test')), ['192.0.2.10']);
  // Mixed case is the same name.
  t.same(await r.resolve4('WWW.Example.Test'), ['192.0.2.20']);
});

t.test('CNAME chain is followed inside the zone', async (t) => {
  t.same(await r.resolve4('alias.example.test'), ['192.0.2.20']);
  t.same(await r.resolveCname('alias.example.test'), ['alias2.example.test']);
  t.same(await r.resolveCname('alias2.example.test'), ['www.example.test']);
});

t.test('MX, TXT, SRV, CAA', async (t) => {
  const mx = (await r.resolveMx('example.test')).sort((a, b) => a.priority - b.priority);
  t.same(mx, [{ exchange: 'mail.example.test', priority: 10 }, { exchange: 'mail2.example.test', priority: 20 }]);
  t.same(await r.resolveTxt('txt.example.test'), [['hello world', 'second string']]);
  t.same(await r.resolveTxt('example.test'), [['v=spf1 -all']]);
  const srv = (await r.resolveSrv('_sip._tcp.example.test')).sort((a, b) => a.priority - b.priority);
  t.same(srv, [
    { name: 'sip.example.test', port: 5060, priority: 10, weight: 60 },
    { name: 'sip2.example.test', port: 5061, priority: 20, weight: 0 },
  ]);
  const caa = await r.resolveCaa('example.test');
  t.same(
    sorted(caa.map((c) => JSON.stringify(c))),
    sorted([JSON.stringify({ critical: 0, issue: 'letsencrypt.org' }), JSON.stringify({ critical: 128, tbs: 'critical' })]),
  );
});

t.test('wildcard synthesis', async (t) => {
  t.same(await r.resolve4('anything.wild.example.test'), ['192.0.2.40']);
  t.same(await r.resolve4('a.b.c.wild.example.test'), ['192.0.2.40']);
  t.same(await r.resolveTxt('x.wild.example.test'), [['wildcard']]);
});

t.test('NS and SOA at the apex', async (t) => {
  t.same(sorted(await r.resolveNs('example.test')), ['ns1.example.test', 'ns2.example.test']);
  const soa = await r.resolveSoa('example.test');
  t.match(soa, {
    nsname: 'ns1.example.test', hostmaster: 'hostmaster.example.test', serial: 2024010101,
    refresh: 3600, retry: 600, expire: 86400, minttl: 60,
  });
});

t.test('hosts file: forward and reverse', async (t) => {
  t.same(await r.resolve4('db.hosts.test'), ['10.1.2.3']);
  t.same(await r.resolve6('db.hosts.test'), ['fd00::1234']);
  t.same(await r.resolve4('cache.hosts.test'), ['10.1.2.4']);
  const names = await r.reverse('10.1.2.3');
  t.ok(names.includes('db.hosts.test'), `reverse 10.1.2.3 → ${JSON.stringify(names)} includes db.hosts.test`);
  const names6 = await r.reverse('fd00::1234');
  t.ok(names6.includes('db.hosts.test'), `reverse fd00::1234 → ${JSON.stringify(names6)} includes db.hosts.test`);
  t.same(await r.reverse('10.1.2.4'), ['cache.hosts.test']);
});

t.test('negative answers', async (t) => {
  await t.rejects(r.resolve4('nope.example.test'), { code: 'ENOTFOUND' }, 'NXDOMAIN → ENOTFOUND');
  await t.rejects(r.resolve4('deep.nope.example.test'), { code: 'ENOTFOUND' });
  await t.rejects(r.resolveMx('www.example.test'), { code: 'ENODATA' }, 'NODATA → ENODATA');
  await t.rejects(r.resolve6('mail.example.test'), { code: 'ENODATA' });
  // An empty non-terminal (_tcp exists only as a parent of _sip._tcp) is NODATA, not NXDOMAIN.
  await t.rejects(r.resolve4('_tcp.example.test'), { code: 'ENODATA' }, 'empty non-terminal → ENODATA');
});

t.test('server still alive', async (t) => {
  t.ok(kdns.alive());
  t.type(kdns.httpPort, 'number', 'the serving line reports the HTTP port');
  const health = await fetch(`http://127.0.0.1:${kdns.httpPort}/health`);
  t.equal(health.status, 200, '/health answers 200');
  t.equal(await kdns.stop(), 0, 'SIGTERM → exit 0');
});
