// --endpoints-api endpoints: the live source watches legacy v1 Endpoints instead of EndpointSlices
// (clusters or proxies without discovery.k8s.io/v1). Ready and not-ready addresses, hostnames and updates
// must show in answers like they do from slices.

import t from 'tap';
import { apiServerWith, Asker, httpGet, startLive, until, type Answer } from './harness.js';

const meta = (name: string) => ({ name, namespace: 'default' });
const endpoints = (ready: string[], notReady: string[] = []) => ({
  metadata: meta('legacy'),
  subsets: [{
    addresses: ready.map((ip, i) => ({ ip, hostname: `legacy-${i}` })),
    notReadyAddresses: notReady.map((ip) => ({ ip })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  }],
});

t.test('legacy v1 Endpoints as the endpoint source', async (t) => {
  const server = await apiServerWith([]);
  t.teardown(() => server.close());
  server.create('Namespace', { metadata: { name: 'default' } });
  server.create('Service', { metadata: meta('legacy'), spec: { clusterIP: 'None', ports: [{ name: 'http', port: 8080 }] } });
  server.create('Endpoints', endpoints(['10.244.5.1', '10.244.5.2'], ['10.244.5.9']));
  // A slice that the Endpoints mode must ignore.
  server.create('EndpointSlice', {
    metadata: { ...meta('legacy-slice'), labels: { 'kubernetes.io/service-name': 'legacy' } },
    addressType: 'IPv4', endpoints: [{ addresses: ['10.244.6.6'], conditions: { ready: true } }], ports: [],
  });

  const kdns = await startLive(server, t, ['--endpoints-api', 'endpoints', '--kubernetes-pods', 'disabled']);
  const asker = new Asker(kdns.port);
  t.teardown(() => asker.close());
  const ready = await until(() => httpGet(kdns.httpPort!, '/ready'), (r) => r.status === 200, 10_000);
  t.ok(ready.ok, '/ready once Endpoints are listed');

  const a = (): Promise<Answer> => asker.ask('legacy.default.svc.cluster.local', 'A', 'udp');
  t.same((await a()).answer.map((l) => l.split(/\s+/).pop()).sort(), ['10.244.5.1', '10.244.5.2'],
    'ready addresses from Endpoints only (not-ready and the slice ignored)');
  const host = await asker.ask('legacy-1.legacy.default.svc.cluster.local', 'A', 'tcp');
  t.equal(host.rcode, 'NOERROR');
  t.match(host.answer.join('\n'), /10\.244\.5\.2/, 'endpoint hostname from the Endpoints subset');
  const srv = await asker.ask('_http._tcp.legacy.default.svc.cluster.local', 'SRV', 'tcp');
  t.equal(srv.answer.length, 2, 'one SRV per ready endpoint');

  server.update('Endpoints', endpoints(['10.244.5.3']));
  const changed = await until(a, (r) => r.answer.length === 1 && r.answer[0]!.endsWith('10.244.5.3'), 2000);
  t.ok(changed.ok, `an Endpoints update shows within 2 s (${changed.ms} ms)`);

  server.update('Endpoints', endpoints([]));
  const empty = await until(a, (r) => r.rcode === 'NXDOMAIN', 2000);
  t.ok(empty.ok, 'no ready address: NXDOMAIN for the headless name');
  t.equal(await kdns.stop(), 0);
});
