// The last-known cluster zone survives restarts (--state-dir): kdns saves the synced zone; a kdns started
// while the API server is down serves it at once and says so (/ready's body, metrics), then switches to
// live data when the API server is back (what was deleted meanwhile goes). A corrupt snapshot is
// ignored with a log line: the zone then waits for the source (SERVFAIL, /ready 503), as without one.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { apiServerWith, Asker, httpGet, kubeconfigFile, kdnsArgs, metricValue, until } from './harness.js';
import { startKdns } from '../helpers/kdns-process.js';

const service = (name: string, ip: string) => ({
  kind: 'Service', metadata: { name, namespace: 'default' }, spec: { clusterIP: ip, ports: [{ name: 'http', port: 80 }] },
});
const server = await apiServerWith([{ kind: 'Namespace', metadata: { name: 'default' } }, service('web', '10.96.7.1'), service('db', '10.96.7.2')]);
t.teardown(() => server.close());
const dir = mkdtempSync(path.join(os.tmpdir(), 'kdns-snapshot-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const stateDir = path.join(dir, 'state');
const snapshotFile = path.join(stateDir, 'kubernetes', 'cluster.local.json');
const kubeconfig = kubeconfigFile(server, t);
const start = () => startKdns(kdnsArgs(['--kubeconfig', kubeconfig], ['--kubernetes-pods', 'disabled', '--state-dir', stateDir]), { t });
const ready = (port: number) => httpGet(port, '/ready');
const metric = async (port: number, name: string) => metricValue((await httpGet(port, '/metrics')).body, name) ?? -1;

t.test('the synced zone is saved, and changes after it', async (t) => {
  const kdns = await start();
  const asker = new Asker(kdns.port);
  t.teardown(() => asker.close());
  t.equal((await until(() => ready(kdns.httpPort!), (r) => r.status === 200, 10_000)).value.body, 'OK', 'live: /ready says OK, nothing more');
  t.ok((await until(async () => existsSync(snapshotFile), (x) => x, 10_000)).ok, 'the snapshot is written once synced');
  server.create('Service', service('later', '10.96.7.3'));
  const saved = await until(async () => existsSync(snapshotFile) && readFileSync(snapshotFile, 'utf8').includes('later.default.svc'), (x) => x, 10_000);
  t.ok(saved.ok, `a change is saved too (${saved.ms} ms)`);
  t.equal(await metric(kdns.httpPort!, 'kdns_kubernetes_snapshot_serving'), 0, 'not serving a snapshot');
  t.equal(await kdns.stop(), 0);
});

t.test('started while the API server is down: serves the snapshot, then the live zone', async (t) => {
  await server.stop();
  const kdns = await start();
  const asker = new Asker(kdns.port);
  t.teardown(() => asker.close());
  for (const proto of ['udp', 'tcp'] as const) {
    t.same((await asker.ask('web.default.svc.cluster.local.', 'A', proto)).answer, ['web.default.svc.cluster.local. 30 A 10.96.7.1'], `answered from the snapshot at once (${proto})`);
  }
  t.same((await asker.ask('later.default.svc.cluster.local.', 'A', 'udp')).answer, ['later.default.svc.cluster.local. 30 A 10.96.7.3'], 'with the change saved last');
  t.same((await asker.ask('_http._tcp.db.default.svc.cluster.local.', 'SRV', 'udp')).rcode, 'NOERROR', 'every kind of record');
  const r = await ready(kdns.httpPort!);
  t.equal(r.status, 200, '/ready: ready (it answers)');
  t.match(r.body, /^OK: serving the cluster zone from a snapshot saved \d+ s ago; waiting for kubernetes to sync/, 'and says it serves a snapshot, how old');
  t.equal(await metric(kdns.httpPort!, 'kdns_kubernetes_snapshot_serving'), 1, 'kdns_kubernetes_snapshot_serving 1');
  t.ok(await metric(kdns.httpPort!, 'kdns_kubernetes_snapshot_age_seconds') >= 0, 'kdns_kubernetes_snapshot_age_seconds set');
  t.equal(await metric(kdns.httpPort!, 'kdns_kubernetes_synced'), 0, 'the source has not synced');
  t.match(kdns.stdout(), /serving the cluster zone from a snapshot until the source syncs/);

  // Meanwhile in the cluster: web is deleted, new appears. kdns must follow once the API server is back.
  server.delete('Service', { metadata: { name: 'web', namespace: 'default' } });
  server.create('Service', service('new', '10.96.7.4'));
  await server.restart();
  const live = await until(() => ready(kdns.httpPort!), (x) => x.body === 'OK', 15_000);
  t.equal(live.value.body, 'OK', `live again: /ready says OK (${live.ms} ms)`);
  t.equal((await asker.ask('web.default.svc.cluster.local.', 'A', 'udp')).rcode, 'NXDOMAIN', 'what only the snapshot had is gone');
  t.same((await asker.ask('new.default.svc.cluster.local.', 'A', 'tcp')).answer, ['new.default.svc.cluster.local. 30 A 10.96.7.4'], 'what is new is there');
  t.same((await asker.ask('later.default.svc.cluster.local.', 'A', 'udp')).answer, ['later.default.svc.cluster.local. 30 A 10.96.7.3'], 'what stayed stays');
  t.equal(await metric(kdns.httpPort!, 'kdns_kubernetes_snapshot_serving'), 0, 'kdns_kubernetes_snapshot_serving 0');
  t.equal(await kdns.stop(), 0);
});

t.test('a corrupt snapshot is ignored with a clear log line', async (t) => {
  await server.stop();
  t.teardown(() => server.restart());
  writeFileSync(snapshotFile, '{"version": 1, "zone": "cluster.local.", "savedAt": "2026-12-03T10:00:00Z", "rrsets": [["web.default.svc.cluster.local.", 1, 30, ["AAA="]]], "reverse": []}\n');
  const kdns = await start();
  const asker = new Asker(kdns.port);
  t.teardown(() => asker.close());
  const line = kdns.stdout().split('\n').find((l) => l.includes('cluster zone snapshot ignored'));
  t.ok(line, 'one log line says it is ignored');
  t.match(line ?? '', /cluster\.local\.json/, 'naming the file');
  t.match(line ?? '', /rrsets\[0\]: RDATA of web\.default\.svc\.cluster\.local\. is not a well-formed type 1/, 'and what is wrong');
  t.equal((await asker.ask('web.default.svc.cluster.local.', 'A', 'udp')).rcode, 'SERVFAIL', 'nothing served from it: SERVFAIL until the source syncs');
  t.equal((await ready(kdns.httpPort!)).status, 503, '/ready 503');
  t.equal(await kdns.stop(), 0);
});
