// The cluster zone following the API over the wire: a headless Service scaled 3 → 0 → 5 ready
// endpoints, Services added and deleted, endpoints turning ready, a cut watch with changes made while
// disconnected, a 410 relist with changes in between, and malformed objects skipped while the rest keeps
// serving. Each change must be answered within 1 s (2.5 s across a cut: the source waits 0.5 s before
// it reconnects). Then the kdns_kubernetes_* metrics on /metrics: every API write counted exactly once
// (so nothing was applied twice), restarts, rejected objects, objects, synced, programming latency.
import t, { type Test } from 'tap';
import type { KObject } from '../k8s-api/server.js';
import { apiServerWith, Asker, httpGet, metricValue, startLive, until, type Answer } from './harness.js';

const TTL = 5;
const Z = 'default.svc.cluster.local.';
const VISIBLE_MS = 1000;
const ACROSS_CUT_MS = 2500;

const service = (name: string, clusterIP: string, extra: Record<string, unknown> = {}): KObject => ({
  metadata: { name, namespace: 'default' },
  spec: { clusterIP, ports: [{ name: 'http', port: 80 }], ...extra },
});

const slice = (name: string, svc: string, endpoints: Array<{ ip: string; ready?: boolean; hostname?: string }>): KObject => ({
  metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': svc } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: endpoints.map((e) => ({
    addresses: [e.ip],
    ...(e.hostname ? { hostname: e.hostname } : {}),
    ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } }),
  })),
} as unknown as KObject);

const ips = (prefix: string, n: number, from = 1): Array<{ ip: string }> =>
  Array.from({ length: n }, (_, i) => ({ ip: `${prefix}.${from + i}` }));

const aOf = (r: Answer): string[] => r.answer.filter((l) => l.split(' ')[2] === 'A').map((l) => l.split(' ')[3]!).sort();

// Every write made through these, per "kind type", to compare with kdns_kubernetes_events_total.
const writes = new Map<string, number>();
const count = (kind: string, type: string): void => {
  writes.set(`${kind} ${type}`, (writes.get(`${kind} ${type}`) ?? 0) + 1);
};

const initial: Array<[string, KObject]> = [
  ['Namespace', { metadata: { name: 'default' } }],
  ['Service', service('scale', 'None')],
  ['EndpointSlice', slice('scale-1', 'scale', ips('10.244.9', 3))],
  ['Service', service('web', '10.96.7.1')],
  ['Service', service('old-a', '10.96.7.2')],
  ['Service', service('relist-gone', '10.96.7.3')],
  ['Service', service('phoenix', '10.96.7.4')],
  ['Service', service('flip', '10.96.7.5')],
];
const server = await apiServerWith([]);
t.teardown(() => server.close());
for (const [kind, o] of initial) {
  server.create(kind, o);
  count(kind, 'added');
}
const create = (kind: string, o: KObject): void => {
  server.create(kind, o);
  count(kind, 'added');
};
const update = (kind: string, o: KObject): void => {
  server.update(kind, o);
  count(kind, 'modified');
};
const remove = (kind: string, name: string): void => {
  server.delete(kind, { metadata: { name, namespace: 'default' } });
  count(kind, 'deleted');
};

const kdns = await startLive(server, t, ['--kubernetes-ttl', String(TTL), '--kubernetes-pods', 'disabled']);
const asker = new Asker(kdns.port);
t.teardown(() => asker.close());
const synced = await until(() => httpGet(kdns.httpPort!, '/ready'), (r) => r.status === 200, 10_000);
t.equal(synced.value.status, 200, 'synced');

/**
 * Polls over UDP until `ok`, then over TCP; asserts the change showed within `boundMs` on both. The TCP
 * connection may be served by another worker thread, which applies the same delta a few milliseconds
 * apart, so TCP is polled too (within the same bound), not asked once.
 */
async function soon(t: Test, what: string, qname: string, qtype: string, ok: (r: Answer) => boolean, boundMs = VISIBLE_MS): Promise<void> {
  const r = await until(() => asker.ask(qname, qtype, 'udp'), ok, boundMs + 1000);
  t.ok(r.ok && r.ms <= boundMs, `${what}: visible in ${r.ms} ms (bound ${boundMs})`, { last: r.value });
  const tcp = await until(() => asker.ask(qname, qtype, 'tcp'), ok, boundMs);
  t.ok(tcp.ok, `${what}: same over TCP (${tcp.ms} ms)`, { tcp: tcp.value });
}

const nx = (r: Answer): boolean => r.rcode === 'NXDOMAIN';
const hasA = (...want: string[]) => (r: Answer): boolean => r.rcode === 'NOERROR' && JSON.stringify(aOf(r)) === JSON.stringify([...want].sort());

t.test('a headless Service scaled 3 → 0 → 5 ready endpoints', async (t) => {
  await soon(t, '3 endpoints', `scale.${Z}`, 'A', hasA('10.244.9.1', '10.244.9.2', '10.244.9.3'));
  update('EndpointSlice', slice('scale-1', 'scale', []));
  await soon(t, '0 endpoints: NXDOMAIN', `scale.${Z}`, 'A', nx);
  await soon(t, '0 endpoints: endpoint name gone', `10-244-9-1.scale.${Z}`, 'A', nx);
  update('EndpointSlice', slice('scale-1', 'scale', ips('10.244.9', 5, 11)));
  const five = ['10.244.9.11', '10.244.9.12', '10.244.9.13', '10.244.9.14', '10.244.9.15'];
  await soon(t, '5 endpoints', `scale.${Z}`, 'A', hasA(...five));
  // Over UDP the additional section may be cut to fit 512 bytes (RFC 2181 §9); TCP carries it all.
  await soon(t, '5 SRV targets', `_http._tcp.scale.${Z}`, 'SRV', (r) => r.answer.length === 5 && r.additional.length > 0);
  const srv = await asker.ask(`_http._tcp.scale.${Z}`, 'SRV', 'tcp');
  t.same(srv.additional, five.map((ip) => `${ip.replaceAll('.', '-')}.scale.${Z} ${TTL} A ${ip}`), 'each target\'s A as additional over TCP');
  await soon(t, 'PTR of a new endpoint', '15.9.244.10.in-addr.arpa.', 'PTR',
    (r) => r.answer.length === 1 && r.answer[0]!.endsWith(`PTR 10-244-9-15.scale.${Z}`));
});

t.test('endpoints becoming ready', async (t) => {
  const base = ips('10.244.9', 5, 11);
  update('EndpointSlice', slice('scale-1', 'scale', [...base, { ip: '10.244.9.16', ready: false, hostname: 'late' }]));
  await new Promise((r) => setTimeout(r, 100));
  const before = await asker.ask(`scale.${Z}`, 'A', 'udp');
  t.equal(aOf(before).length, 5, 'a not-ready endpoint is not published');
  t.ok(nx(await asker.ask(`late.scale.${Z}`, 'A', 'udp')), 'nor its hostname');
  update('EndpointSlice', slice('scale-1', 'scale', [...base, { ip: '10.244.9.16', ready: true, hostname: 'late' }]));
  await soon(t, 'ready: in the service', `scale.${Z}`, 'A', (r) => aOf(r).length === 6 && aOf(r).includes('10.244.9.16'));
  await soon(t, 'ready: its hostname', `late.scale.${Z}`, 'A', hasA('10.244.9.16'));
});

t.test('Services added and deleted', async (t) => {
  create('Service', service('fresh', '10.96.7.10'));
  await soon(t, 'added', `fresh.${Z}`, 'A', hasA('10.96.7.10'));
  await soon(t, 'added: PTR', '10.7.96.10.in-addr.arpa.', 'PTR', (r) => r.answer.length === 1);
  await soon(t, 'added: SRV', `_http._tcp.fresh.${Z}`, 'SRV', (r) => r.answer.length === 1);
  update('Service', service('fresh', '10.96.7.11'));
  await soon(t, 'new cluster IP', `fresh.${Z}`, 'A', hasA('10.96.7.11'));
  await soon(t, 'old PTR gone', '10.7.96.10.in-addr.arpa.', 'PTR', (r) => r.rcode === 'REFUSED');
  remove('Service', 'fresh');
  await soon(t, 'deleted', `fresh.${Z}`, 'A', nx);
  await soon(t, 'deleted: SRV', `_http._tcp.fresh.${Z}`, 'SRV', nx);
  await soon(t, 'deleted: PTR', '11.7.96.10.in-addr.arpa.', 'PTR', (r) => r.rcode === 'REFUSED');
});

t.test('a cut watch: changes made while disconnected arrive after the reconnect', async (t) => {
  await server.waitForWatches(3);
  const n = server.dropWatches({ abrupt: true });
  t.ok(n >= 3, `cut ${n} watches`);
  // Same tick: nobody is watching while these happen; they must come from the watch's replay.
  create('Service', service('during-cut', '10.96.7.20'));
  remove('Service', 'old-a');
  update('EndpointSlice', slice('scale-1', 'scale', ips('10.244.9', 2, 21)));
  await soon(t, 'created while cut', `during-cut.${Z}`, 'A', hasA('10.96.7.20'), ACROSS_CUT_MS);
  await soon(t, 'deleted while cut', `old-a.${Z}`, 'A', nx, ACROSS_CUT_MS);
  await soon(t, 'rescaled while cut', `scale.${Z}`, 'A', hasA('10.244.9.21', '10.244.9.22'), ACROSS_CUT_MS);
});

t.test('a 410 relist: every change in between, nothing twice', async (t) => {
  await server.waitForWatches(3);
  server.dropWatches(); // clean end: the client re-watches from its resourceVersion...
  create('Service', service('relist-new', '10.96.7.30'));
  remove('Service', 'relist-gone');
  // Deleted and created again under the same name: a list cannot tell that from an update, so the
  // relist reports one "modified" for the two writes.
  server.delete('Service', { metadata: { name: 'phoenix', namespace: 'default' } });
  server.create('Service', service('phoenix', '10.96.7.40'));
  count('Service', 'modified');
  update('EndpointSlice', slice('scale-1', 'scale', ips('10.244.9', 1, 31)));
  server.compactHistory(); // ...which is now too old: 410 Expired, then a fresh list
  await soon(t, 'created before the relist', `relist-new.${Z}`, 'A', hasA('10.96.7.30'), ACROSS_CUT_MS);
  await soon(t, 'deleted before the relist', `relist-gone.${Z}`, 'A', nx, ACROSS_CUT_MS);
  await soon(t, 'recreated with a new IP', `phoenix.${Z}`, 'A', hasA('10.96.7.40'), ACROSS_CUT_MS);
  await soon(t, 'rescaled before the relist', `scale.${Z}`, 'A', hasA('10.244.9.31'), ACROSS_CUT_MS);
  await soon(t, 'old phoenix PTR gone', '4.7.96.10.in-addr.arpa.', 'PTR', (r) => r.rcode === 'REFUSED', ACROSS_CUT_MS);
  const relists = server.requests.filter((r) => r.path === '/api/v1/services' && r.query.watch === undefined);
  t.ok(relists.length >= 2, `Services listed again (${relists.length} lists)`);
  // Later, and after more traffic, the deleted stay deleted.
  create('Service', service('after-relist', '10.96.7.50'));
  await soon(t, 'watching again', `after-relist.${Z}`, 'A', hasA('10.96.7.50'));
  t.ok(nx(await asker.ask(`relist-gone.${Z}`, 'A', 'tcp')), 'relist-gone stays deleted');
  t.ok(nx(await asker.ask(`old-a.${Z}`, 'A', 'udp')), 'old-a stays deleted');
});

t.test('malformed objects are logged and skipped; the rest keeps serving', async (t) => {
  create('Service', service('bad', '10.96.999.1'));
  create('EndpointSlice', slice('scale-bad', 'scale', [{ ip: '10.244.9.300' }]));
  update('Service', service('flip', 'not-an-ip'));
  create('Service', service('good-after', '10.96.7.60'));
  await soon(t, 'a good object after the bad ones', `good-after.${Z}`, 'A', hasA('10.96.7.60'));
  t.ok(nx(await asker.ask(`bad.${Z}`, 'A', 'udp')), 'the bad Service is not served');
  await soon(t, 'a Service turned bad is withdrawn', `flip.${Z}`, 'A', nx);
  t.same(aOf(await asker.ask(`scale.${Z}`, 'A', 'udp')), ['10.244.9.31'], 'the bad slice added nothing');
  t.same(aOf(await asker.ask(`web.${Z}`, 'A', 'tcp')), ['10.96.7.1'], 'others unaffected');
  // The skips are logged as the objects arrive; a watch restarted in between (the API server closes
  // watches at random) delivers them on its relist, later than the good object we waited for above.
  const badService = /"kind":"Service","object":"default\/bad".*"msg":"object skipped"/;
  const badSlice = /"kind":"EndpointSlice","object":"default\/scale-bad".*10\.244\.9\.300.*"msg":"object skipped"/;
  const logged = await until(async () => kdns.stdout(), (log) => badService.test(log) && badSlice.test(log), 5000);
  t.match(logged.value, badService, 'bad Service logged');
  t.match(logged.value, badSlice, 'bad slice logged');
  t.same(aOf(await asker.ask(`scale.${Z}`, 'A', 'tcp')), ['10.244.9.31'], 'the bad slice, now handled, added nothing');
  update('Service', service('bad', '10.96.7.70'));
  await soon(t, 'fixed: served', `bad.${Z}`, 'A', hasA('10.96.7.70'));
  t.equal(kdns.alive(), true, 'still running');
});

t.test('kdns_kubernetes_* metrics', async (t) => {
  const res = await httpGet(kdns.httpPort!, '/metrics');
  t.equal(res.status, 200);
  t.match(res.body, /kdns_kubernetes_synced/, 'kdns_kubernetes_* registered (main.ts passes { registry } to startClusterZone)');
  const m = (name: string, labels: Record<string, string> = {}): number | undefined => metricValue(res.body, name, labels);
  t.equal(m('kdns_kubernetes_synced'), 1, 'synced 1');
  t.equal(m('kdns_kubernetes_objects', { kind: 'Namespace' }), 1, 'objects: 1 namespace');
  // web scale relist-new phoenix after-relist bad good-after during-cut (flip is invalid: withdrawn)
  t.equal(m('kdns_kubernetes_objects', { kind: 'Service' }), 8, 'objects: 8 services');
  t.equal(m('kdns_kubernetes_objects', { kind: 'EndpointSlice' }), 1, 'objects: 1 slice (the bad one skipped)');
  t.equal(m('kdns_kubernetes_rejected_objects_total', { kind: 'Service' }), 2, 'rejected: 2 Services');
  t.equal(m('kdns_kubernetes_rejected_objects_total', { kind: 'EndpointSlice' }), 1, 'rejected: 1 EndpointSlice');
  for (const kind of ['Namespace', 'Service', 'EndpointSlice']) {
    t.ok((m('kdns_kubernetes_watch_restarts_total', { kind }) ?? 0) >= 2, `${kind}: watch restarted after the cut and the relist`);
  }
  // Exactly one event per API write: the replay after the cut and the relist added none twice.
  let total = 0;
  for (const [key, n] of writes) {
    const [kind, type] = key.split(' ') as [string, string];
    t.equal(m('kdns_kubernetes_events_total', { kind, type }), n, `events ${kind} ${type}: ${n}`);
    total += n;
  }
  const observed = m('kdns_kubernetes_programming_latency_seconds_count');
  t.equal(observed, total, 'one latency observation per event');
  const sum = m('kdns_kubernetes_programming_latency_seconds_sum') ?? Infinity;
  t.ok(sum / total < 0.05, `mean programming latency ${(1000 * sum / total).toFixed(3)} ms`);
  t.equal(m('kdns_kubernetes_programming_latency_seconds_bucket', { le: '+Inf' }), total, '+Inf bucket holds every event');
});
