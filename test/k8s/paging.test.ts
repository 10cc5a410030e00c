// Large lists come in pages (limit=500 + continue), as client-go's reflector asks for them: every object
// of a 1,200-Service cluster must be served, from the first page to the last.

import t from 'tap';
import { apiServerWith, Asker, httpGet, startLive, until } from './harness.js';

t.test('a list larger than one page is read completely', async (t) => {
  const server = await apiServerWith([]);
  t.teardown(() => server.close());
  server.create('Namespace', { metadata: { name: 'big' } });
  const count = 1200;
  for (let i = 0; i < count; i++) {
    server.create('Service', {
      metadata: { name: `svc-${i}`, namespace: 'big' },
      spec: { clusterIP: `10.97.${i >> 8}.${i & 255}`, ports: [{ name: 'http', port: 80 }] },
    });
  }
  const kdns = await startLive(server, t, ['--kubernetes-pods', 'disabled']);
  const asker = new Asker(kdns.port);
  t.teardown(() => asker.close());
  const ready = await until(() => httpGet(kdns.httpPort!, '/ready'), (r) => r.status === 200, 15_000);
  t.ok(ready.ok, 'synced');
  for (const i of [0, 499, 500, 999, 1000, count - 1]) {
    const a = await asker.ask(`svc-${i}.big.svc.cluster.local`, 'A', 'udp');
    t.equal(a.rcode, 'NOERROR', `svc-${i} served`);
    t.match(a.answer.join('\n'), `10.97.${i >> 8}.${i & 255}`);
  }
  const lists = server.requests.filter((r) => r.path === '/api/v1/services' && r.query.watch !== 'true' && r.query.watch !== '1');
  t.ok(lists.some((r) => r.query.limit === '500'), 'lists ask for pages of 500');
  t.ok(lists.some((r) => (r.query.continue ?? '') !== ''), 'and follow the continue token');
  t.equal(await kdns.stop(), 0);
});
