// The API server goes away for long enough that every watch has failed several times, then comes back
// on the same port over the same objects (an API server restarted over the same etcd). A change made
// the moment it is back must be answered over the wire within 1.5 s: kdns retries unanswered
// connections at most 1 s apart, where a single exponential backoff made it wait 3.4–4 s.
import t from 'tap';
import { apiServerWith, Asker, httpGet, startLive, until } from './harness.js';

const VISIBLE_AFTER_RESTART_MS = 1500;
const KINDS = 3; // Namespaces, Services, EndpointSlices

const server = await apiServerWith([
  { metadata: { name: 'default' }, kind: 'Namespace' },
  { kind: 'Service', metadata: { name: 'before', namespace: 'default' }, spec: { clusterIP: '10.96.8.1', ports: [{ name: 'http', port: 80 }] } },
]);
t.teardown(() => server.close());
const kdns = await startLive(server, t, ['--kubernetes-pods', 'disabled']);
const asker = new Asker(kdns.port);
t.teardown(() => asker.close());
t.equal((await until(() => httpGet(kdns.httpPort!, '/ready'), (r) => r.status === 200, 10_000)).value.status, 200, 'synced');

t.test('a change right after an API server restart is served within 1.5 s', async (t) => {
  await server.waitForWatches(KINDS);
  const failuresBefore = (): number => kdns.stdout().split('\n').filter((l) => l.includes('"watch failed, restarting"')).length;
  const base = failuresBefore();
  await server.stop();
  // Down until every kind has failed at least four times: a doubling backoff would be at 4 s by now.
  const down = await until(async () => failuresBefore() - base, (n) => n >= 4 * KINDS, 15_000);
  t.ok(down.ok, `watches failed ${down.value} times while the API server was down (${down.ms} ms)`);
  t.equal((await asker.ask('before.default.svc.cluster.local.', 'A', 'udp')).answer.length, 1, 'the last view keeps serving while the API is down');

  await server.restart();
  const restartedAt = Date.now();
  server.create('Service', { metadata: { name: 'after', namespace: 'default' }, spec: { clusterIP: '10.96.8.2', ports: [{ name: 'http', port: 80 }] } });
  const seen = await until(() => asker.ask('after.default.svc.cluster.local.', 'A', 'udp'), (r) => r.answer.length === 1, 5000);
  const ms = Date.now() - restartedAt;
  t.same(seen.value.answer, ['after.default.svc.cluster.local. 30 A 10.96.8.2'], 'the new Service is answered');
  t.ok(ms <= VISIBLE_AFTER_RESTART_MS, `visible ${ms} ms after the API server came back (bound ${VISIBLE_AFTER_RESTART_MS} ms)`);
  t.same((await asker.ask('after.default.svc.cluster.local.', 'A', 'tcp')).answer, seen.value.answer, 'and over TCP');
});
