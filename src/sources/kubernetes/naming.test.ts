// Table tests for the naming rules: each case is objects in, zone-file lines out.

import t from 'tap';
import { apexRrsets, nameServerAddresses, nameServerRrsets, namespaceRrsets, podAddressRrset, podRecord, serviceRecords, type NamingOptions } from './naming.js';
import { toEndpoints, toEndpointSlice, toService, type EndpointGroup, type SlimService } from './objects.js';
import { rrsetsText } from './rrset-text.js';

const O: NamingOptions = { zone: 'cluster.local.', ttl: 30, serial: 1700000000 };

function service(spec: Record<string, unknown>, name = 'web', annotations?: Record<string, string>): SlimService {
  const s = toService({ metadata: { name, namespace: 'default', annotations }, spec });
  if (typeof s === 'string') throw new Error(s);
  return s;
}

function slice(service: string, addressType: string, endpoints: unknown[], ports: unknown[] = []): EndpointGroup {
  const e = toEndpointSlice({ metadata: { name: `${service}-${Math.random().toString(36).slice(2, 7)}`, namespace: 'default', labels: { 'kubernetes.io/service-name': service } }, addressType, endpoints, ports });
  if (typeof e === 'string' || e === null) throw new Error(String(e));
  return e.group;
}

function render(svc: SlimService, groups: EndpointGroup[]): { rr: string[]; ptr: string[] } {
  const r = serviceRecords(O, svc, groups);
  return { rr: rrsetsText(r.rrsets), ptr: r.ptrs.map((p) => `${p.ip} ${p.target}`).sort() };
}

const S = 'default.svc.cluster.local.';

t.test('apex: SOA, NS, dns-version, empty non-terminals', async (t) => {
  t.same(rrsetsText(apexRrsets(O)), [
    'cluster.local. 30 NS ns.dns.cluster.local.',
    'cluster.local. 30 SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 30',
    'dns-version.cluster.local. 28800 TXT "1.1.0"',
    'pod.cluster.local. EXISTS',
    'svc.cluster.local. EXISTS',
  ]);
  t.same(rrsetsText(namespaceRrsets(O, 'kube-system', 'disabled')), ['kube-system.svc.cluster.local. EXISTS']);
  t.same(rrsetsText(namespaceRrsets(O, 'a', 'insecure')), ['a.pod.cluster.local. EXISTS', 'a.svc.cluster.local. EXISTS']);
});

t.test('ClusterIP: A, SRV for named ports only, PTR, even without endpoints', async (t) => {
  const svc = service({ clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80 }, { port: 9000, protocol: 'UDP' }, { name: 'dns', port: 53, protocol: 'UDP' }] });
  t.same(render(svc, []), {
    rr: [
      `_dns._udp.web.${S} 30 SRV 0 100 53 web.${S}`,
      `_http._tcp.web.${S} 30 SRV 0 100 80 web.${S}`,
      `web.${S} 30 A 10.96.0.20`,
    ],
    ptr: [`10.96.0.20 web.${S}`],
  });
});

t.test('ClusterIP dual stack: A and AAAA, both PTRs; endpoints named by dashed IP', async (t) => {
  const svc = service({ clusterIP: '10.96.0.30', clusterIPs: ['10.96.0.30', 'FD00:0:0::1e'], ports: [{ name: 'http', port: 80 }] });
  const got = render(svc, [
    slice('web', 'IPv4', [{ addresses: ['10.1.0.5'] }, { addresses: ['10.1.0.6'], conditions: { ready: false } }], [{ name: 'http', port: 8080 }]),
    slice('web', 'IPv6', [{ addresses: ['fd00:1::5'], hostname: 'web-0' }], [{ name: 'http', port: 8080 }]),
  ]);
  t.same(got.rr, [
    `10-1-0-5.web.${S} 30 A 10.1.0.5`,
    `_http._tcp.web.${S} 30 SRV 0 100 80 web.${S}`,
    `web-0.web.${S} 30 AAAA fd00:1::5`,
    `web.${S} 30 A 10.96.0.30`,
    `web.${S} 30 AAAA fd00::1e`,
  ], 'the service name never lists endpoint IPs; SRV uses the service port');
  t.same(got.ptr, [`10.1.0.5 10-1-0-5.web.${S}`, `10.96.0.30 web.${S}`, `fd00:1::5 web-0.web.${S}`, `fd00::1e web.${S}`]);
});

t.test('ClusterIP without an allocated IP still exists (offline manifests)', async (t) => {
  t.same(render(service({ ports: [{ name: 'http', port: 80 }] }), []).rr, [
    `_http._tcp.web.${S} 30 SRV 0 100 80 web.${S}`,
    `web.${S} EXISTS`,
  ]);
});

t.test('headless: ready endpoints merged across slices, deduplicated, N×M SRV, hostnames', async (t) => {
  const svc = service({ clusterIP: 'None' }, 'db');
  const ports = [{ name: 'pg', port: 5432 }, { name: 'metrics', port: 9187 }, { port: 1 }];
  const got = render(svc, [
    slice('db', 'IPv4', [{ addresses: ['10.1.0.5'], hostname: 'db-0' }, { addresses: ['10.1.0.6'] }], ports),
    // Skew: the same endpoint in a second slice, plus a not-ready one and an IPv6 one.
    slice('db', 'IPv4', [{ addresses: ['10.1.0.5'], hostname: 'db-0' }, { addresses: ['10.1.0.7'], conditions: { ready: false } }], ports),
    slice('db', 'IPv6', [{ addresses: ['fd00::7'], hostname: 'db-0' }, { addresses: ['fd00::'] }], [{ name: 'pg', port: 5432 }]),
  ]);
  const D = `db.${S}`;
  t.same(got.rr, [
    `10-1-0-6.${D} 30 A 10.1.0.6`,
    `_metrics._tcp.${D} 30 SRV 0 100 9187 10-1-0-6.${D}`,
    `_metrics._tcp.${D} 30 SRV 0 100 9187 db-0.${D}`,
    `_pg._tcp.${D} 30 SRV 0 100 5432 10-1-0-6.${D}`,
    `_pg._tcp.${D} 30 SRV 0 100 5432 db-0.${D}`,
    `_pg._tcp.${D} 30 SRV 0 100 5432 fd00--0.${D}`,
    `db-0.${D} 30 A 10.1.0.5`,
    `db-0.${D} 30 AAAA fd00::7`,
    `${D} 30 A 10.1.0.5`,
    `${D} 30 A 10.1.0.6`,
    `${D} 30 AAAA fd00::`,
    `${D} 30 AAAA fd00::7`,
    `fd00--0.${D} 30 AAAA fd00::`,
  ]);
  t.same(got.ptr.filter((p) => p.startsWith('10.1.0.5 ')).length, 2, 'ptr pairs repeat per slice; the state deduplicates them');
});

t.test('headless: two endpoints sharing a hostname give a two-record RRset', async (t) => {
  const got = render(service({ clusterIP: 'None' }, 'h'), [slice('h', 'IPv4', [{ addresses: ['10.0.0.1'], hostname: 'x' }, { addresses: ['10.0.0.2'], hostname: 'x' }])]);
  t.same(got.rr.filter((l) => l.startsWith('x.')), [`x.h.${S} 30 A 10.0.0.1`, `x.h.${S} 30 A 10.0.0.2`]);
});

t.test('headless with no ready endpoints: no records at all (NXDOMAIN)', async (t) => {
  const svc = service({ clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }] }, 'db');
  t.same(render(svc, []), { rr: [], ptr: [] });
  t.same(render(svc, [slice('db', 'IPv4', [{ addresses: ['10.1.0.5'], conditions: { ready: false } }], [{ name: 'pg', port: 5432 }])]), { rr: [], ptr: [] });
});

t.test('publishNotReadyAddresses and the tolerate-unready annotation publish not-ready endpoints', async (t) => {
  const notReady = [slice('db', 'IPv4', [{ addresses: ['10.1.0.5'], conditions: { ready: false } }])];
  const byField = render(service({ clusterIP: 'None', publishNotReadyAddresses: true }, 'db'), notReady);
  t.ok(byField.rr.includes(`db.${S} 30 A 10.1.0.5`));
  const byAnnotation = render(service({ clusterIP: 'None' }, 'db', { 'service.alpha.kubernetes.io/tolerate-unready-endpoints': 'true' }), notReady);
  t.same(byAnnotation, byField);
});

t.test('legacy v1 Endpoints: addresses ready, notReadyAddresses not, hostnames kept', async (t) => {
  const e = toEndpoints({
    metadata: { name: 'db', namespace: 'default' },
    subsets: [{ addresses: [{ ip: '10.1.0.5', hostname: 'db-0' }], notReadyAddresses: [{ ip: '10.1.0.6', hostname: 'db-1' }], ports: [{ name: 'pg', port: 5432 }] }],
  });
  if (typeof e === 'string') throw new Error(e);
  t.same(render(service({ clusterIP: 'None' }, 'db'), e.groups).rr, [
    `_pg._tcp.db.${S} 30 SRV 0 100 5432 db-0.db.${S}`,
    `db-0.db.${S} 30 A 10.1.0.5`,
    `db.${S} 30 A 10.1.0.5`,
  ]);
});

t.test('ExternalName: one CNAME, no endpoint names or SRV, no PTR', async (t) => {
  const svc = service({ type: 'ExternalName', externalName: 'WWW.Example.com', ports: [{ name: 'http', port: 80 }] }, 'ext');
  t.same(render(svc, [slice('ext', 'IPv4', [{ addresses: ['10.1.0.9'] }])]), { rr: [`ext.${S} 30 CNAME www.example.com.`], ptr: [] });
});

t.test('insecure pod records: a rule over the name', async (t) => {
  const known = (ns: string): boolean => ns === 'default';
  const ask = (q: string): string[] | null => {
    const r = podRecord(O, q, known);
    return r === null ? null : rrsetsText(r);
  };
  t.same(ask('10-244-9-9.default.pod.cluster.local.'), ['10-244-9-9.default.pod.cluster.local. 30 A 10.244.9.9']);
  t.same(ask('fd00--1.default.pod.cluster.local.'), ['fd00--1.default.pod.cluster.local. 30 AAAA fd00::1']);
  t.equal(ask('10-244-9-9.nope.pod.cluster.local.'), null, 'unknown namespace');
  t.equal(ask('10-244-9.default.pod.cluster.local.'), null, 'not an IP');
  t.equal(ask('x.10-244-9-9.default.pod.cluster.local.'), null, 'too many labels');
});

t.test('verified pod records: data at the canonical dashed name', async (t) => {
  t.same(rrsetsText([podAddressRrset(O, 'default', '10.244.1.7')]), ['10-244-1-7.default.pod.cluster.local. 30 A 10.244.1.7']);
  t.same(rrsetsText([podAddressRrset(O, 'default', '::1')]), ['0--1.default.pod.cluster.local. 30 AAAA ::1']);
  t.same(podRecord(O, '0--1.default.pod.cluster.local.', () => true)?.[0]?.name, '0--1.default.pod.cluster.local.', 'the insecure rule reads the same name back');
});

t.test('ns.dns.<zone>: the Services selecting us, else our own addresses (CoreDNS ns.go)', async (t) => {
  const own = new Set(['10.244.0.2', 'fd00:244::2']);
  const kubeDns = service({ clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10', 'fd00:96::a'], ports: [{ name: 'dns', port: 53 }] }, 'kube-dns');
  const ours = slice('kube-dns', 'IPv4', [{ addresses: ['10.244.0.2'] }, { addresses: ['10.244.0.3'] }]);
  const notReady = slice('kube-dns', 'IPv4', [{ addresses: ['10.244.0.2'], conditions: { ready: false } }]);
  const headless = service({ clusterIP: 'None' }, 'dns-pods');
  const other = service({ clusterIP: '10.96.0.99' }, 'other');
  const cases: Array<[string, Array<{ svc: SlimService; groups: EndpointGroup[] }>, string[]]> = [
    ['nothing selects us: our own addresses', [{ svc: other, groups: [slice('other', 'IPv4', [{ addresses: ['10.244.9.9'] }])] }], ['10.244.0.2', 'fd00:244::2']],
    ['kube-dns selects us: its cluster IPs, both families', [{ svc: kubeDns, groups: [ours] }], ['10.96.0.10', 'fd00:96::a']],
    ['a not-ready endpoint does not count', [{ svc: kubeDns, groups: [notReady] }], ['10.244.0.2', 'fd00:244::2']],
    ['headless: the ready addresses of the group holding ours', [{ svc: headless, groups: [ours] }], ['10.244.0.2', '10.244.0.3']],
  ];
  for (const [name, services, want] of cases) t.same(nameServerAddresses(own, services).sort(), want, name);
  t.same(nameServerAddresses(new Set(), [{ svc: kubeDns, groups: [ours] }]), [], 'no own address: nothing');
  t.same(rrsetsText(nameServerRrsets(O, ['10.96.0.10', 'fd00:96::a'])), [
    'ns.dns.cluster.local. 30 A 10.96.0.10',
    'ns.dns.cluster.local. 30 AAAA fd00:96::a',
  ]);
});
