// List pages read as plain JSON (src/sources/kubernetes/list-page.ts) against the test API server: the
// objects arrive as the server wrote them (no client-node model classes), the continue token is followed,
// and an expired token reads as client-node's 410 so the reflector relists.

import t from 'tap';
import { KubeConfig } from '@kubernetes/client-node';
import { jsonPages } from '../../src/sources/kubernetes/list-page.js';
import { TestApiServer } from '../k8s-api/server.js';

async function serverWithServices(n: number): Promise<{ server: TestApiServer; kc: KubeConfig }> {
  const server = await TestApiServer.start();
  for (let i = 0; i < n; i++) {
    server.create('Service', {
      metadata: { name: `svc-${i}`, namespace: 'ns', annotations: { note: 'kept as written' } },
      spec: { clusterIP: `10.96.0.${i + 1}`, ports: [{ name: 'http', port: 80 }] },
    });
  }
  const kc = new KubeConfig();
  kc.loadFromOptions(server.kubeconfig());
  return { server, kc };
}

t.test('pages are plain JSON and the continue token is followed', async (t) => {
  const { server, kc } = await serverWithServices(3);
  t.teardown(() => server.close());
  const page = jsonPages(kc, '/api/v1/services');
  const first = await page({ limit: 2 });
  t.equal(first.items.length, 2, 'a page of the limit');
  t.equal(Object.getPrototypeOf(first.items[0]), Object.prototype, 'a plain object, not a model class');
  t.same(first.items[0]!.metadata?.annotations, { note: 'kept as written' });
  t.equal(first.metadata?.resourceVersion, server.resourceVersion, 'the list resourceVersion, to watch from');
  t.type(first.metadata?.continue, 'string', 'more to come');
  const second = await page({ limit: 2, continue: first.metadata!.continue });
  t.same(second.items.map((o) => o.metadata?.name), ['svc-2'], 'the rest');
  t.notOk(second.metadata?.continue, 'no continue on the last page');
  const asked = server.requests.filter((r) => r.path === '/api/v1/services').map((r) => r.query);
  t.same(asked.map((q) => q.limit), ['2', '2'], 'limit on every page');
  t.equal(asked[1]!.continue, first.metadata!.continue, 'the token as given');
});

t.test('an expired continue token is a 410 the reflector recognises', async (t) => {
  const { server, kc } = await serverWithServices(3);
  t.teardown(() => server.close());
  const page = jsonPages(kc, '/api/v1/services');
  const first = await page({ limit: 1 });
  server.create('Namespace', { metadata: { name: 'moves-the-rv' } });
  server.compactHistory();
  await t.rejects(page({ limit: 1, continue: first.metadata!.continue }), { code: 410 });
});

t.test('an error answer carries its status; a body that is not a list is refused', async (t) => {
  const { server, kc } = await serverWithServices(1);
  t.teardown(() => server.close());
  await t.rejects(jsonPages(kc, '/api/v1/services')({ limit: 1, continue: 'not-a-token' }), { code: 400 });
  await t.rejects(jsonPages(kc, '/api/v1/namespaces/ns/services/svc-0')({ limit: 1 }), /not a list/);
});
