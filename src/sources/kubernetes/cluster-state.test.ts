// Incremental behaviour of ClusterState: each object change emits exactly the RRset changes needed.

import t from 'tap';
import type { RrSetChange } from '../../dns/types.js';
import { ClusterState } from './cluster-state.js';
import { toEndpoints, toEndpointSlice, toService, type SlimEndpointSlice, type SlimService } from './objects.js';
import { changesText, rrsetsText } from './rrset-text.js';

const S = 'default.svc.cluster.local.';

function svc(name: string, spec: Record<string, unknown>, ns = 'default'): SlimService {
  const s = toService({ metadata: { name, namespace: ns }, spec });
  if (typeof s === 'string') throw new Error(s);
  return s;
}

function slice(name: string, service: string, ips: string[], opts: { hostnames?: boolean; ns?: string } = {}): SlimEndpointSlice {
  const e = toEndpointSlice({
    metadata: { name, namespace: opts.ns ?? 'default', labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints: ips.map((ip, i) => ({ addresses: [ip], ...(opts.hostnames ? { hostname: `${service}-${i}` } : {}) })),
    ports: [{ name: 'pg', port: 5432 }],
  });
  if (typeof e === 'string' || e === null) throw new Error(String(e));
  return e;
}

/** Every published record as zone-file lines. */
function snapshot(s: ClusterState): string[] {
  return rrsetsText(s.initial().flatMap((c) => (c.op === 'upsert' ? [c.rrset] : [])));
}

function state(): ClusterState {
  return new ClusterState({ zone: 'cluster.local', serial: 1 });
}

t.test('scale a headless service 3 → 0 → 5: exactly the changed RRsets', async (t) => {
  const s = state();
  t.same(changesText(s.upsertService(svc('db', { clusterIP: 'None' }))), [`+ ${S} EXISTS`], 'only the namespace appears');
  const three = ['10.1.0.1', '10.1.0.2', '10.1.0.3'];
  t.same(changesText(s.upsertEndpointSlice(slice('db-a', 'db', three, { hostnames: true }))).sort(), [
    `+ 1.0.1.10.in-addr.arpa. 30 PTR db-0.db.${S}`,
    `+ 2.0.1.10.in-addr.arpa. 30 PTR db-1.db.${S}`,
    `+ 3.0.1.10.in-addr.arpa. 30 PTR db-2.db.${S}`,
    `+ _pg._tcp.db.${S} 30 SRV 0 100 5432 db-0.db.${S}`,
    `+ _pg._tcp.db.${S} 30 SRV 0 100 5432 db-1.db.${S}`,
    `+ _pg._tcp.db.${S} 30 SRV 0 100 5432 db-2.db.${S}`,
    `+ db-0.db.${S} 30 A 10.1.0.1`,
    `+ db-1.db.${S} 30 A 10.1.0.2`,
    `+ db-2.db.${S} 30 A 10.1.0.3`,
    `+ db.${S} 30 A 10.1.0.1`,
    `+ db.${S} 30 A 10.1.0.2`,
    `+ db.${S} 30 A 10.1.0.3`,
  ]);
  t.same(changesText(s.upsertEndpointSlice(slice('db-a', 'db', []))).sort(), [
    '- 1.0.1.10.in-addr.arpa. PTR',
    '- 2.0.1.10.in-addr.arpa. PTR',
    '- 3.0.1.10.in-addr.arpa. PTR',
    `- _pg._tcp.db.${S} SRV`,
    `- db-0.db.${S} A`,
    `- db-1.db.${S} A`,
    `- db-2.db.${S} A`,
    `- db.${S} A`,
  ]);
  const five = ['10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.4', '10.1.0.5'];
  const up = s.upsertEndpointSlice(slice('db-a', 'db', five, { hostnames: true }));
  t.equal(up.filter((c) => c.op === 'upsert').length, 5 + 5 + 1 + 1, '5 PTR, 5 host A, 1 SRV, 1 service A RRsets');
  t.same(changesText(up).filter((l) => l.startsWith(`+ db.${S}`)), five.map((ip) => `+ db.${S} 30 A ${ip}`));
  t.equal(changesText(up).filter((l) => l.includes('SRV')).length, 5, 'SRV RRset of five records');

  // Scaling 5 → 4 touches the removed host and the two aggregate RRsets only.
  t.same(changesText(s.upsertEndpointSlice(slice('db-a', 'db', five.slice(0, 4), { hostnames: true })))
    .filter((l) => l.startsWith('-')).sort(), ['- 5.0.1.10.in-addr.arpa. PTR', `- db-4.db.${S} A`]);
  t.same(s.upsertEndpointSlice(slice('db-a', 'db', five.slice(0, 4), { hostnames: true })), [], 'identical resync emits nothing');
});

t.test('a slice change touches only its own service', async (t) => {
  const s = state();
  s.upsertService(svc('a', { clusterIP: 'None' }));
  s.upsertService(svc('b', { clusterIP: 'None' }));
  s.upsertEndpointSlice(slice('a-1', 'a', ['10.0.0.1']));
  const seen: RrSetChange[][] = [];
  s.onChange((c) => seen.push(c));
  const changes = s.upsertEndpointSlice(slice('b-1', 'b', ['10.0.0.2']));
  t.ok(changes.every((c) => (c.op === 'upsert' ? c.rrset.name : c.name).match(/b\.default\.svc|in-addr/)), 'only b and its PTR');
  t.equal(seen.length, 1, 'listener saw one batch');
  t.equal(seen[0], changes);
  s.deleteEndpointSlice('default', 'unknown');
  t.equal(seen.length, 1, 'no-op delete emits nothing');
});

t.test('slices from several objects merge; relabelled slice moves; Endpoints only without slices', async (t) => {
  const s = state();
  s.upsertService(svc('db', { clusterIP: 'None' }));
  s.upsertEndpoints((() => {
    const e = toEndpoints({ metadata: { name: 'db', namespace: 'default' }, subsets: [{ addresses: [{ ip: '10.9.9.9' }] }] });
    if (typeof e === 'string') throw new Error(e);
    return e;
  })());
  t.ok(snapshot(s).includes(`db.${S} 30 A 10.9.9.9`), 'legacy Endpoints used');
  s.upsertEndpointSlice(slice('db-1', 'db', ['10.0.0.1']));
  const dup = s.upsertEndpointSlice(slice('db-2', 'db', ['10.0.0.1', '10.0.0.2']));
  const all = (): string[] => snapshot(s);
  t.same(all().filter((l) => l.startsWith(`db.${S}`)), [`db.${S} 30 A 10.0.0.1`, `db.${S} 30 A 10.0.0.2`], 'slices win, duplicates merged');
  t.notOk(changesText(dup).some((l) => l.includes('1.0.0.10.in-addr')), 'shared IP keeps one PTR, not re-emitted');
  s.deleteEndpointSlice('default', 'db-1');
  t.ok(all().includes(`db.${S} 30 A 10.0.0.1`), 'still held by db-2');
  s.upsertService(svc('other', { clusterIP: 'None' }));
  const moved = s.upsertEndpointSlice(slice('db-2', 'other', ['10.0.0.1', '10.0.0.2']));
  t.ok(changesText(moved).includes(`+ other.${S} 30 A 10.0.0.1`), 'relabelled slice feeds the new service');
  t.ok(all().includes(`db.${S} 30 A 10.9.9.9`), 'old service falls back to its Endpoints');
});

t.test('PTR reference counts across services', async (t) => {
  const s = state();
  s.upsertService(svc('a', { clusterIP: 'None' }));
  s.upsertService(svc('b', { clusterIP: 'None' }));
  s.upsertEndpointSlice(slice('a-1', 'a', ['10.0.0.1']));
  const both = s.upsertEndpointSlice(slice('b-1', 'b', ['10.0.0.1']));
  t.same(changesText(both).filter((l) => l.includes('in-addr')), [
    `+ 1.0.0.10.in-addr.arpa. 30 PTR 10-0-0-1.a.${S}`,
    `+ 1.0.0.10.in-addr.arpa. 30 PTR 10-0-0-1.b.${S}`,
  ], 'one RRset naming both owners');
  const gone = s.deleteService('default', 'a');
  t.same(changesText(gone).filter((l) => l.includes('in-addr')), [`+ 1.0.0.10.in-addr.arpa. 30 PTR 10-0-0-1.b.${S}`]);
  t.same(changesText(s.deleteService('default', 'b')).filter((l) => l.includes('in-addr')), ['- 1.0.0.10.in-addr.arpa. PTR']);
});

t.test('namespace exists while a Namespace object or any Service is in it', async (t) => {
  const s = state();
  t.same(changesText(s.upsertNamespace({ name: 'team' })), ['+ team.svc.cluster.local. EXISTS']);
  t.same(s.upsertService(svc('x', { clusterIP: '10.96.0.5' }, 'team')).length, 2, 'A and PTR; namespace already there');
  t.same(s.deleteNamespace('team'), [], 'the Service keeps it');
  t.same(changesText(s.deleteService('team', 'x')).sort(), ['- 5.0.96.10.in-addr.arpa. PTR', '- team.svc.cluster.local. EXISTS', '- x.team.svc.cluster.local. A']);
  t.notOk(s.namespaceKnown('team'));
});

t.test('ClusterIP change, ExternalName switch, and full delete', async (t) => {
  const s = state();
  s.upsertService(svc('web', { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80 }] }));
  t.same(changesText(s.upsertService(svc('web', { clusterIP: '10.96.0.21', ports: [{ name: 'http', port: 80 }] }))).sort(), [
    '+ 21.0.96.10.in-addr.arpa. 30 PTR web.default.svc.cluster.local.',
    '+ web.default.svc.cluster.local. 30 A 10.96.0.21',
    '- 20.0.96.10.in-addr.arpa. PTR',
  ], 'SRV unchanged, not re-emitted');
  t.same(changesText(s.upsertService(svc('web', { type: 'ExternalName', externalName: 'example.com' }))).sort(), [
    '+ web.default.svc.cluster.local. 30 CNAME example.com.',
    '- 21.0.96.10.in-addr.arpa. PTR',
    '- _http._tcp.web.default.svc.cluster.local. SRV',
    '- web.default.svc.cluster.local. A',
  ]);
  s.deleteService('default', 'web');
  t.same(snapshot(s).filter((l) => l.includes('svc.cluster.local')), ['svc.cluster.local. EXISTS'], 'back to the apex only');
});

t.test('verified pod mode: pod records are changes naming the records a pod touches', async (t) => {
  const s = new ClusterState({ zone: 'Cluster.Local.', podMode: 'verified' });
  const q = '10-244-0-7.default.pod.cluster.local.';
  t.same(changesText(s.upsertPod({ ns: 'default', name: 'p', podIPs: ['10.244.0.7'], phase: 'Running' })), [], 'unknown namespace: no record yet');
  t.same(changesText(s.upsertNamespace({ name: 'default' })).sort(),
    ['+ 10-244-0-7.default.pod.cluster.local. 30 A 10.244.0.7', '+ default.pod.cluster.local. EXISTS', '+ default.svc.cluster.local. EXISTS'],
    'the namespace appears: its pods\' records with it');
  t.same(changesText(s.upsertPod({ ns: 'default', name: 'p', podIPs: ['10.244.0.7'], phase: 'Running' })), [], 'same pod again: nothing');
  t.same(changesText(s.upsertPod({ ns: 'default', name: 'p', podIPs: ['10.244.0.7'], phase: 'Succeeded' })), [`- ${q} A`], 'finished pods do not hold their IP');
  t.same(changesText(s.upsertPod({ ns: 'default', name: 'pending', podIPs: [], phase: 'Pending' })), [], 'no IP yet: no record');
  t.same(changesText(s.upsertPod({ ns: 'default', name: 'pending', podIPs: ['10.244.0.7', 'fd00::7'], phase: 'Running' })).sort(),
    [`+ ${q} 30 A 10.244.0.7`, '+ fd00--7.default.pod.cluster.local. 30 AAAA fd00::7']);
  s.upsertPod({ ns: 'default', name: 'twin', podIPs: ['10.244.0.7'], phase: 'Running' });
  t.same(changesText(s.deletePod('default', 'pending')), ['- fd00--7.default.pod.cluster.local. AAAA'], 'another pod still holds the IPv4 address');
  t.same(changesText(s.deletePod('default', 'twin')), [`- ${q} A`]);
  s.deletePod('default', 'p');
  t.equal(s.stats().pods, 0);
  t.same(snapshot(s).filter((l) => l.includes('.pod.')), ['default.pod.cluster.local. EXISTS']);
});

t.test('insecure pod mode publishes nothing for pods (the rule is applied per query)', async (t) => {
  const s = new ClusterState({ zone: 'cluster.local', podMode: 'insecure' });
  s.upsertNamespace({ name: 'default' });
  t.same(s.upsertPod({ ns: 'default', name: 'p', podIPs: ['10.244.0.7'], phase: 'Running' }), []);
});

t.test('ns.dns.<zone> follows the Service that selects our address', async (t) => {
  const s = new ClusterState({ zone: 'cluster.local', serial: 1, ownIps: ['10.244.0.2'] });
  const glue = (): string[] => snapshot(s).filter((l) => l.startsWith('ns.dns.'));
  t.same(glue(), ['ns.dns.cluster.local. 30 A 10.244.0.2'], 'before any Service: our own address');
  s.upsertService(svc('kube-dns', { clusterIP: '10.96.0.10' }, 'kube-system'));
  t.same(glue(), ['ns.dns.cluster.local. 30 A 10.244.0.2'], 'a Service without our endpoint changes nothing');
  const changes = changesText(s.upsertEndpointSlice(slice('kube-dns-1', 'kube-dns', ['10.244.0.2', '10.244.0.3'], { ns: 'kube-system' })));
  t.ok(changes.includes('+ ns.dns.cluster.local. 30 A 10.96.0.10'), 'our pod becomes its endpoint: its cluster IP');
  t.same(glue(), ['ns.dns.cluster.local. 30 A 10.96.0.10']);
  s.upsertService(svc('kube-dns', { clusterIP: '10.96.0.11' }, 'kube-system'));
  t.same(glue(), ['ns.dns.cluster.local. 30 A 10.96.0.11'], 'a new cluster IP follows');
  s.upsertEndpointSlice(slice('kube-dns-1', 'kube-dns', ['10.244.0.3'], { ns: 'kube-system' }));
  t.same(glue(), ['ns.dns.cluster.local. 30 A 10.244.0.2'], 'no longer an endpoint: back to our own address');
  t.same(snapshot(new ClusterState({ zone: 'cluster.local', serial: 1 })).filter((l) => l.startsWith('ns.dns.')), [], 'no own address: no record');
});

t.test('batch: one listener call with every change of the batch, in order; each mutation still returns its own', async (t) => {
  const batched = state();
  const single = state();
  const calls: RrSetChange[][] = [];
  batched.onChange((c) => calls.push(c));
  const singleChanges: RrSetChange[] = [];
  single.onChange((c) => singleChanges.push(...c));
  const mutate = (s: ClusterState): RrSetChange[][] => [
    s.upsertService(svc('db', { clusterIP: 'None' })),
    s.upsertEndpointSlice(slice('db-1', 'db', ['10.1.0.1', '10.1.0.2'])),
    s.upsertEndpointSlice(slice('db-1', 'db', ['10.1.0.2'])),
    s.upsertService(svc('web', { clusterIP: '10.96.0.9', ports: [{ name: 'http', port: 80 }] })),
  ];
  const returned = batched.batch(() => batched.batch(() => mutate(batched)));
  const expected = mutate(single);
  t.equal(calls.length, 1, 'one call for the whole (nested) batch');
  t.same(changesText(calls[0]!), changesText(singleChanges), 'the same changes, in the same order, as one call per mutation');
  t.same(returned.map(changesText), expected.map(changesText), 'each mutation returns its own changes');
  t.same(snapshot(batched), snapshot(single), 'the same state');
  batched.batch(() => batched.upsertService(svc('web', { clusterIP: '10.96.0.9', ports: [{ name: 'http', port: 80 }] })));
  t.equal(calls.length, 1, 'a batch without changes calls nobody');
  t.throws(() => batched.batch(() => {
    batched.deleteService('default', 'web');
    throw new Error('page failed');
  }), /page failed/);
  t.equal(calls.length, 2, 'changes made before a throw are still handed on');
  t.match(changesText(calls[1]!).join('\n'), /- web\.default\.svc\.cluster\.local\. A/);
});
