// bind9 as a real secondary of kdns's cluster zone: named transfers the zone from kdns (fed by the test
// Kubernetes API server) and answers from its copy; a Service created or deleted in the API server
// moves kdns's serial, kdns sends NOTIFY, named follows with an IXFR, and named's answers change. A
// client outside --transfer-to is refused.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { apiServerWith, Asker, httpGet, metricValue, startLive, until } from '../k8s/harness.js';
import { freePort, startNamed } from '../helpers/named.js';

const ZONE = 'cluster.local';
const service = (name: string, ip: string) => ({
  kind: 'Service', metadata: { name, namespace: 'default' }, spec: { clusterIP: ip, ports: [{ name: 'http', port: 80 }] },
});

const server = await apiServerWith([{ kind: 'Namespace', metadata: { name: 'default' } }, service('web', '10.96.9.1')]);
t.teardown(() => server.close());
const namedPort = await freePort();
const kdns = await startLive(server, t, [
  '--kubernetes-pods', 'disabled', '--transfer-to', '127.0.0.1/32', '--notify', `127.0.0.1#${namedPort}`,
]);
const synced = await until(() => httpGet(kdns.httpPort!, '/ready'), (r) => r.status === 200, 10_000);
const dir = mkdtempSync(path.join(os.tmpdir(), 'kdns-secondary-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
// startNamed returns once named answers the zone's SOA: after its first transfer from kdns.
const named = await startNamed([{ origin: ZONE, file: path.join(dir, 'cluster.local.db'), primary: { host: '127.0.0.1', port: kdns.port } }], { port: namedPort });
t.teardown(() => named.stop());
const atNamed = new Asker(named.port);
const atKdns = new Asker(kdns.port);
t.teardown(() => {
  atNamed.close();
  atKdns.close();
});

const transfers = async (type: string, result: string): Promise<number> =>
  metricValue((await httpGet(kdns.httpPort!, '/metrics')).body, 'kdns_transfer_requests_total', { type, result }) ?? 0;

t.test('named serves the cluster zone it transferred from kdns', async (t) => {
  t.ok(synced.ok, 'kdns synced');
  const fromNamed = await atNamed.ask('web.default.svc.cluster.local.', 'A', 'udp');
  t.same(fromNamed.answer, ['web.default.svc.cluster.local. 30 A 10.96.9.1'], 'named answers a Service from its copy');
  t.ok(fromNamed.aa, 'authoritatively');
  t.same((await atNamed.ask('cluster.local.', 'SOA', 'udp')).serials, (await atKdns.ask('cluster.local.', 'SOA', 'udp')).serials, 'at kdns\'s serial');
  t.ok(await transfers('axfr', 'full') + await transfers('ixfr', 'full') >= 1, 'kdns counted a full transfer');
});

t.test('a Service change in the API server reaches named by NOTIFY and IXFR', async (t) => {
  const before = await transfers('ixfr', 'incremental');
  server.create('Service', service('api', '10.96.9.2'));
  const added = await until(() => atNamed.ask('api.default.svc.cluster.local.', 'A', 'udp'), (r) => r.answer.length === 1, 15_000);
  t.same(added.value.answer, ['api.default.svc.cluster.local. 30 A 10.96.9.2'], `named answers the new Service (${added.ms} ms)`);
  t.ok(await transfers('ixfr', 'incremental') > before, 'by an incremental transfer');

  server.delete('Service', { metadata: { name: 'web', namespace: 'default' } });
  const removed = await until(() => atNamed.ask('web.default.svc.cluster.local.', 'A', 'udp'), (r) => r.rcode === 'NXDOMAIN', 15_000);
  t.equal(removed.value.rcode, 'NXDOMAIN', `named forgets the deleted Service (${removed.ms} ms)`);
  if (!removed.ok) t.comment(named.log().slice(-3000) + kdns.stdout().split('\n').filter((l) => l.includes('transfer')).join('\n'));
  t.same((await atNamed.ask('cluster.local.', 'SOA', 'udp')).serials, (await atKdns.ask('cluster.local.', 'SOA', 'udp')).serials, 'and is at kdns\'s serial again');
  // named writes a journal only when it applies an incremental transfer (an AXFR replaces the file).
  t.ok(existsSync(path.join(dir, 'cluster.local.db.jnl')), 'named applied the changes as IXFR (it keeps a journal of them)');
  t.ok((metricValue((await httpGet(kdns.httpPort!, '/metrics')).body, 'kdns_transfer_notifies_total', { result: 'acknowledged' }) ?? 0) >= 2,
    'named acknowledged the NOTIFYs');
});

t.test('a client outside --transfer-to is refused', async (t) => {
  const refusedBefore = await transfers('axfr', 'refused');
  const kdig = spawnSync('kdig', ['-b', '127.0.0.2', '@127.0.0.1', '-p', String(kdns.port), ZONE, 'AXFR'], { encoding: 'utf8', timeout: 10_000 });
  t.match(kdig.stdout + kdig.stderr, /REFUSED/, 'kdig AXFR from 127.0.0.2: REFUSED');
  const dig = spawnSync('dig', ['-b', '127.0.0.2', '@127.0.0.1', '-p', String(kdns.port), ZONE, 'AXFR'], { encoding: 'utf8', timeout: 10_000 });
  t.match(dig.stdout, /Transfer failed/, 'dig AXFR from 127.0.0.2 fails');
  t.notMatch(dig.stdout, /\bSOA\b/, 'with no record of the zone');
  t.equal(await transfers('axfr', 'refused'), refusedBefore + 2, 'both counted as refused');
});
