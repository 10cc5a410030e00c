// The test API server against the real client (client-node's informer) and against the raw protocol.

import { CoreV1Api, KubeConfig, makeInformer, type V1Service } from '@kubernetes/client-node';
import t from 'tap';
import { TestApiServer, type KObject } from './server.js';

function svc(name: string, ip: string, ns = 'default'): KObject {
  return { metadata: { name, namespace: ns, labels: { app: name } }, spec: { clusterIP: ip, clusterIPs: [ip], ports: [{ name: 'http', port: 80 }] } };
}

/** Collects informer callbacks; `next` waits for the next one matching `verb`. */
class Events {
  private readonly seen: Array<{ verb: string; name: string }> = [];
  private waiter: (() => void) | undefined;
  push(verb: string, name: string): void {
    this.seen.push({ verb, name });
    this.waiter?.();
  }
  async next(verb: string, name: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.seen.findIndex((e) => e.verb === verb && e.name === name);
      if (i >= 0) {
        this.seen.splice(i, 1);
        return;
      }
      if (Date.now() > deadline) throw new Error(`no ${verb} ${name}; saw ${JSON.stringify(this.seen)}`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 50);
      });
    }
  }
}

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

/** Opens a watch stream; once this resolves the server has registered the watch. */
async function openWatch(url: string): Promise<{ take(count: number): Promise<Array<{ type: string; object: any }>> }> {
  const ac = new AbortController();
  const res = await fetch(url, { signal: ac.signal });
  const reader = res.body!.getReader();
  return {
    /** Reads until the stream ends or `count` events arrived, then closes it. */
    async take(count) {
      const out: Array<{ type: string; object: any }> = [];
      let buf = '';
      while (out.length < count) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += Buffer.from(value).toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          out.push(JSON.parse(buf.slice(0, nl)));
          buf = buf.slice(nl + 1);
        }
      }
      ac.abort();
      return out;
    },
  };
}

async function watchEvents(url: string, count: number): Promise<Array<{ type: string; object: any }>> {
  return (await openWatch(url)).take(count);
}

t.test('client-node informer: add, update, delete, dropped watch, 410 relist', async (t) => {
  t.setTimeout(20_000);
  const server = await TestApiServer.start();
  t.teardown(() => server.close());
  server.create('Service', svc('kubernetes', '10.96.0.1'));
  const kc = new KubeConfig();
  kc.loadFromOptions(server.kubeconfig());
  const api = kc.makeApiClient(CoreV1Api);
  const informer = makeInformer<V1Service>(kc, '/api/v1/services', () => api.listServiceForAllNamespaces());
  const ev = new Events();
  informer.on('add', (o) => ev.push('add', o.metadata!.name!));
  informer.on('update', (o) => ev.push('update', o.metadata!.name!));
  informer.on('delete', (o) => ev.push('delete', o.metadata!.name!));
  informer.on('error', (e) => ev.push('error', String((e as { statusCode?: number }).statusCode ?? e)));
  t.teardown(() => informer.stop());
  await informer.start();
  await ev.next('add', 'kubernetes');
  await server.waitForWatches(1, 'services');

  server.create('Service', svc('web', '10.96.0.20'));
  await ev.next('add', 'web');
  const updated = svc('web', '10.96.0.21');
  server.update('Service', updated);
  await ev.next('update', 'web');
  t.equal(informer.get('web', 'default')?.spec?.clusterIP, '10.96.0.21', 'cache holds the update');
  server.delete('Service', updated);
  await ev.next('delete', 'web');

  // A cleanly closed watch resumes from the last RV: no relist, and nothing is missed.
  const listsBefore = server.requests.filter((r) => r.path === '/api/v1/services' && !r.query.watch).length;
  t.equal(server.dropWatches(), 1, 'one watch dropped');
  server.create('Service', svc('during-drop', '10.96.0.30'));
  await ev.next('add', 'during-drop');
  const watches = server.requests.filter((r) => r.query.watch === 'true');
  t.equal(watches[watches.length - 1]!.query.resourceVersion, String(Number(server.resourceVersion) - 1), 're-watched from the last RV seen');
  t.equal(server.requests.filter((r) => r.path === '/api/v1/services' && !r.query.watch).length, listsBefore, 'no relist after a clean drop');

  // Changes made while the client is away, then history compacted: the resumed watch gets 410 and
  // the informer relists, reporting the add and the delete it would otherwise have missed.
  await server.waitForWatches(1, 'services');
  server.dropWatches();
  server.create('Service', svc('after-compact', '10.96.0.40'));
  server.delete('Service', { metadata: { name: 'during-drop', namespace: 'default' } });
  server.compactHistory();
  await ev.next('add', 'after-compact');
  await ev.next('delete', 'during-drop');
  t.ok(server.requests.filter((r) => r.path === '/api/v1/services' && !r.query.watch).length > listsBefore, 'relisted after 410');
  t.same(informer.list().map((s) => s.metadata!.name).sort(), ['after-compact', 'kubernetes'], 'cache matches the server');

  // An abrupt reset is an error for client-node's informer (it stops); a restart relists.
  await server.waitForWatches(1, 'services');
  server.dropWatches({ abrupt: true });
  await ev.next('error', 'Error: Premature close').catch(() => undefined);
  await informer.start();
  await server.waitForWatches(1, 'services');
  server.create('Service', svc('after-restart', '10.96.0.50'));
  await ev.next('add', 'after-restart');
});

t.test('list paging, consistent continue, expired continue', async (t) => {
  const server = await TestApiServer.start();
  t.teardown(() => server.close());
  for (let i = 0; i < 5; i++) server.create('services', svc(`s${i}`, `10.96.0.${i + 1}`));
  const first = await getJson(`${server.url}/api/v1/services?limit=2`);
  t.equal(first.status, 200);
  t.equal(first.body.kind, 'ServiceList');
  t.same(first.body.items.map((o: KObject) => o.metadata.name), ['s0', 's1']);
  t.equal(first.body.metadata.remainingItemCount, 3);
  const rv = first.body.metadata.resourceVersion;
  server.create('services', svc('s9', '10.96.0.9')); // not part of the paged snapshot
  server.delete('services', { metadata: { name: 's3' } }); // still part of it
  const second = await getJson(`${server.url}/api/v1/services?limit=10&continue=${first.body.metadata.continue}`);
  t.same(second.body.items.map((o: KObject) => o.metadata.name), ['s2', 's3', 's4'], 'continued pages show the snapshot');
  t.equal(second.body.metadata.resourceVersion, rv);
  t.notOk(second.body.metadata.continue, 'last page has no continue');
  server.compactHistory();
  const expired = await getJson(`${server.url}/api/v1/services?limit=2&continue=${first.body.metadata.continue}`);
  t.equal(expired.status, 410);
  t.same([expired.body.kind, expired.body.reason, expired.body.code], ['Status', 'Expired', 410]);
});

t.test('namespaces, selectors, single GET, discovery', async (t) => {
  const server = await TestApiServer.start();
  t.teardown(() => server.close());
  server.create('Namespace', { metadata: { name: 'kube-system' } });
  server.create('Service', svc('a', '10.96.0.1', 'default'));
  server.create('Service', svc('b', '10.96.0.2', 'kube-system'));
  server.create('EndpointSlice', {
    metadata: { name: 'b-x1', namespace: 'kube-system', labels: { 'kubernetes.io/service-name': 'b' } },
    addressType: 'IPv4', endpoints: [{ addresses: ['10.1.0.1'] }],
  });
  const perNs = await getJson(`${server.url}/api/v1/namespaces/kube-system/services`);
  t.same(perNs.body.items.map((o: KObject) => o.metadata.name), ['b']);
  const bySel = await getJson(`${server.url}/api/v1/services?labelSelector=app%3Da`);
  t.same(bySel.body.items.map((o: KObject) => o.metadata.name), ['a']);
  const byField = await getJson(`${server.url}/api/v1/services?fieldSelector=metadata.namespace!%3Ddefault`);
  t.same(byField.body.items.map((o: KObject) => o.metadata.name), ['b']);
  const badSel = await getJson(`${server.url}/api/v1/services?labelSelector=app+in+(a,b)`);
  t.equal(badSel.status, 400, 'set-based selectors are refused');
  const ns = await getJson(`${server.url}/api/v1/namespaces/kube-system`);
  t.equal(ns.body.kind, 'Namespace');
  const missing = await getJson(`${server.url}/api/v1/namespaces/default/services/nope`);
  t.same([missing.status, missing.body.reason], [404, 'NotFound']);
  const slices = await getJson(`${server.url}/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices`);
  t.same([slices.body.kind, slices.body.apiVersion, slices.body.items[0].metadata.name], ['EndpointSliceList', 'discovery.k8s.io/v1', 'b-x1']);
  const api = await getJson(`${server.url}/api`);
  t.same(api.body.versions, ['v1']);
  const core = await getJson(`${server.url}/api/v1`);
  t.ok(core.body.resources.some((r: { name: string; namespaced: boolean }) => r.name === 'namespaces' && !r.namespaced));
  const groups = await getJson(`${server.url}/apis`);
  t.equal(groups.body.groups[0].preferredVersion.groupVersion, 'discovery.k8s.io/v1');
  const disc = await getJson(`${server.url}/apis/discovery.k8s.io/v1`);
  t.same(disc.body.resources.map((r: { kind: string }) => r.kind), ['EndpointSlice']);
  const version = await getJson(`${server.url}/version`);
  t.equal(version.body.major, '1');
});

t.test('watch protocol: replay from RV, initial events, bookmarks, 410, timeout', async (t) => {
  t.setTimeout(10_000);
  const server = await TestApiServer.start();
  t.teardown(() => server.close());
  const a = server.create('Service', svc('a', '10.96.0.1'));
  server.create('Service', svc('b', '10.96.0.2'));
  server.update('Service', svc('a', '10.96.0.3'));
  const replay = await watchEvents(`${server.url}/api/v1/services?watch=1&resourceVersion=${a.metadata.resourceVersion}`, 2);
  t.same(replay.map((e) => `${e.type} ${e.object.metadata.name} ${e.object.spec.clusterIP}`), ['ADDED b 10.96.0.2', 'MODIFIED a 10.96.0.3']);

  const initial = await watchEvents(`${server.url}/api/v1/services?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan`, 3);
  t.same(initial.map((e) => e.type), ['ADDED', 'ADDED', 'BOOKMARK']);
  t.equal(initial[2]!.object.metadata.annotations['k8s.io/initial-events-end'], 'true');
  t.equal(initial[2]!.object.metadata.resourceVersion, server.resourceVersion);

  const live = (await openWatch(`${server.url}/api/v1/namespaces/default/services?watch=true&allowWatchBookmarks=true&resourceVersion=${server.resourceVersion}`)).take(3);
  server.delete('Service', { metadata: { name: 'b' } });
  server.sendBookmarks();
  server.create('Service', svc('c', '10.96.0.4', 'other')); // other namespace: filtered
  server.create('Service', svc('d', '10.96.0.5'));
  const got = await live;
  t.same(got.map((e) => `${e.type} ${e.object.metadata.name ?? ''}`), ['DELETED b', 'BOOKMARK ', 'ADDED d']);
  t.equal(got[0]!.object.metadata.resourceVersion, String(Number(got[2]!.object.metadata.resourceVersion) - 2), 'DELETED carries the deletion RV');

  server.compactHistory();
  const gone = await watchEvents(`${server.url}/api/v1/services?watch=true&resourceVersion=${a.metadata.resourceVersion}`, 5);
  t.equal(gone.length, 1, 'stream ends after the error');
  t.same([gone[0]!.type, gone[0]!.object.code, gone[0]!.object.reason], ['ERROR', 410, 'Expired']);

  const start = Date.now();
  const timedOut = await watchEvents(`${server.url}/api/v1/services?watch=true&timeoutSeconds=1&resourceVersion=${server.resourceVersion}`, 1);
  t.equal(timedOut.length, 0, 'no events, stream ended');
  t.ok(Date.now() - start >= 900, 'ended by timeoutSeconds');
  t.equal(server.watchCount(), 0, 'timed-out watch unregistered');
  t.equal(server.requests.filter((r) => r.query.watch).length, 5, 'every watch reached the server');
});

// What client-go ≥ 0.35 (CoreDNS 1.15) sends instead of a list: a watch that streams the state, ends it
// with an annotated BOOKMARK, then carries on live (KEP-3157); and what a real API server refuses.
t.test('watch-list protocol: initial events, end bookmark, NotOlderThan, refusals', async (t) => {
  const server = await TestApiServer.start();
  t.teardown(() => server.close());
  server.create('Service', svc('a', '10.96.0.1'));
  const old = server.create('Service', svc('b', '10.96.0.2'));
  server.update('Service', svc('a', '10.96.0.3'));
  const WATCH_LIST = 'watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=300';
  const line = (e: { type: string; object: any }): string => (e.type === 'BOOKMARK'
    ? `BOOKMARK end=${e.object.metadata.annotations?.['k8s.io/initial-events-end'] ?? 'unset'}`
    : `${e.type} ${e.object.metadata.name} ${e.object.spec.clusterIP}`);

  // Most recent state (RV unset), then live events on the same stream.
  const stream = await openWatch(`${server.url}/api/v1/services?${WATCH_LIST}`);
  const rvAtStart = server.resourceVersion;
  const firstFour = stream.take(4);
  server.delete('Service', { metadata: { name: 'b' } });
  const events = await firstFour;
  t.same(events.map(line), ['ADDED a 10.96.0.3', 'ADDED b 10.96.0.2', 'BOOKMARK end=true', 'DELETED b 10.96.0.2'], 'state, end bookmark, then live');
  t.equal(events[2]!.object.metadata.resourceVersion, rvAtStart, 'the bookmark carries the RV of the state sent');
  t.equal(events[2]!.object.kind, 'Service', 'the bookmark is an object of the watched kind');

  // NotOlderThan an RV long compacted is still satisfied by the current state (no 410, unlike a resume).
  server.compactHistory();
  const fromOld = await watchEvents(`${server.url}/api/v1/services?${WATCH_LIST}&resourceVersion=${old.metadata.resourceVersion}`, 2);
  t.same(fromOld.map(line), ['ADDED a 10.96.0.3', 'BOOKMARK end=true'], 'compacted RV: current state and bookmark');
  const resumed = await watchEvents(`${server.url}/api/v1/services?watch=true&resourceVersion=${old.metadata.resourceVersion}`, 1);
  t.same([resumed[0]!.type, resumed[0]!.object.code], ['ERROR', 410], 'the same RV as a plain resume is 410');

  // sendInitialEvents=false: no state, only what happens next. Without allowWatchBookmarks: no bookmark.
  const quiet = await openWatch(`${server.url}/api/v1/services?watch=true&sendInitialEvents=false&resourceVersionMatch=NotOlderThan`);
  const next = quiet.take(1);
  server.create('Service', svc('c', '10.96.0.4'));
  t.same((await next).map(line), ['ADDED c 10.96.0.4'], 'sendInitialEvents=false starts after the state');
  const noBookmark = await openWatch(`${server.url}/api/v1/services?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan`);
  const two = noBookmark.take(3);
  server.sendBookmarks();
  server.create('Service', svc('d', '10.96.0.5'));
  t.same((await two).map(line), ['ADDED a 10.96.0.3', 'ADDED c 10.96.0.4', 'ADDED d 10.96.0.5'], 'no bookmarks unless allowed');

  const tooNew = await getJson(`${server.url}/api/v1/services?${WATCH_LIST}&resourceVersion=${Number(server.resourceVersion) + 100}`);
  t.equal(tooNew.status, 504, 'an RV the server has not reached: 504');
  t.same([tooNew.body.reason, tooNew.body.details.causes[0].reason], ['Timeout', 'ResourceVersionTooLarge'], 'as "Too large resource version"');

  const refused: Array<[string, RegExp]> = [
    ['watch=true&sendInitialEvents=true&allowWatchBookmarks=true', /resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan/],
    ['watch=true&resourceVersionMatch=NotOlderThan', /resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided/],
    ['watch=true&sendInitialEvents=true&resourceVersionMatch=Exact', /Unsupported value: "Exact"/],
    ['sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=1', /sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list/],
    ['resourceVersionMatch=NotOlderThan', /resourceVersionMatch is forbidden unless resourceVersion is provided/],
  ];
  for (const [q, why] of refused) {
    const r = await getJson(`${server.url}/api/v1/services?${q}`);
    t.same([r.status, r.body.reason], [422, 'Invalid'], `${q}: 422 Invalid`);
    t.match(r.body.message, why, 'with the API server\'s reason');
  }
});
