// The live Kubernetes source (src/sources/kubernetes/watch.ts) against the test API server: initial
// sync, live changes, an abrupt connection reset, and a relist after history compaction.

import { KubeConfig } from '@kubernetes/client-node';
import t from 'tap';
import { ClusterState } from '../../src/sources/kubernetes/cluster-state.js';
import { rrsetsText } from '../../src/sources/kubernetes/rrset-text.js';
import { startKubernetesSource } from '../../src/sources/kubernetes/watch.js';
import { TestApiServer } from './server.js';

function snapshot(s: ClusterState): string[] {
  return rrsetsText(s.initial().flatMap((c) => (c.op === 'upsert' ? [c.rrset] : [])));
}

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('live source: sync, changes, reset, 410 relist', async (t) => {
  t.setTimeout(20_000);
  const server = await TestApiServer.start();
  t.teardown(() => server.close());
  server.create('Namespace', { metadata: { name: 'default' } });
  server.create('Service', { metadata: { name: 'db', namespace: 'default' }, spec: { clusterIP: 'None' } });
  server.create('EndpointSlice', {
    metadata: { name: 'db-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'db' } },
    addressType: 'IPv4', endpoints: [{ addresses: ['10.1.0.1'], hostname: 'db-0' }],
  });
  server.create('Service', { metadata: { name: 'broken', namespace: 'default' }, spec: { clusterIP: '999.1.1.1' } });

  const state = new ClusterState({ zone: 'cluster.local', podMode: 'verified' });
  const warnings: string[] = [];
  const kc = new KubeConfig();
  kc.loadFromOptions(server.kubeconfig());
  const src = startKubernetesSource({ state, kubeConfig: kc, retryMs: 50, log: { info: () => undefined, warn: (o, m) => warnings.push(`${m} ${JSON.stringify(o)}`) } });
  t.teardown(() => src.close());
  t.notOk(src.synced, 'not synced before the lists return');
  await src.whenSynced;
  t.ok(src.synced);
  t.ok(snapshot(state).includes('db-0.db.default.svc.cluster.local. 30 A 10.1.0.1'), 'initial list applied');
  t.ok(warnings.some((w) => w.includes('default/broken') && w.includes('999.1.1.1')), 'bad object logged and skipped');

  server.update('EndpointSlice', {
    metadata: { name: 'db-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'db' } },
    addressType: 'IPv4', endpoints: [{ addresses: ['10.1.0.2'], hostname: 'db-0' }],
  });
  await until('slice update', () => snapshot(state).includes('db-0.db.default.svc.cluster.local. 30 A 10.1.0.2'));
  server.create('Pod', { metadata: { name: 'p', namespace: 'default' }, status: { podIP: '10.244.0.9', phase: 'Running' } });
  await until('pod', () => snapshot(state).includes('10-244-0-9.default.pod.cluster.local. 30 A 10.244.0.9'));

  // A reset connection stops client-node's informers; the source restarts them.
  await server.waitForWatches(4);
  server.dropWatches({ abrupt: true });
  await server.waitForWatches(4);
  server.create('Service', { metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: '10.96.0.20' } });
  await until('service after reset', () => snapshot(state).includes('web.default.svc.cluster.local. 30 A 10.96.0.20'));

  // Changes missed while disconnected, then compaction: the relist reconciles adds and deletes.
  await server.waitForWatches(4);
  server.dropWatches();
  server.delete('Service', { metadata: { name: 'web', namespace: 'default' } });
  server.delete('Pod', { metadata: { name: 'p', namespace: 'default' } });
  server.compactHistory();
  await until('delete seen through relist', () => !snapshot(state).some((l) => l.startsWith('web.')));
  await until('pod delete through relist', () => !snapshot(state).some((l) => l.startsWith('10-244-0-9.')));
  t.pass('relisted');
});
