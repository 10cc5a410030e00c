// Converters: good objects (plain JSON and client-node models) become slim objects; bad ones become
// an error string that names the object and the field.

import { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import t from 'tap';
import { canonicalIp, dashedIp, undashIp } from './ip.js';
import { toEndpoints, toEndpointSlice, toNamespace, toPod, toService } from './objects.js';

t.test('Service: defaults, dual stack, headless, ExternalName, canonical IPs', async (t) => {
  t.same(toService({ metadata: { name: 'web' }, spec: { clusterIPs: ['10.96.0.1', 'FD00::0:1'], ports: [{ name: 'http', port: 80 }, { port: 53, protocol: 'UDP' }] } }), {
    ns: 'default', name: 'web', type: 'ClusterIP', ports: [{ name: 'http', port: 80, protocol: 'tcp' }, { name: '', port: 53, protocol: 'udp' }],
    publishNotReadyAddresses: false, headless: false, clusterIPs: ['10.96.0.1', 'fd00::1'], externalName: '',
  });
  const headless = toService({ metadata: { name: 'db', namespace: 'x' }, spec: { clusterIP: 'None', publishNotReadyAddresses: true } });
  t.match(headless, { headless: true, clusterIPs: [], publishNotReadyAddresses: true });
  t.match(toService({ metadata: { name: 'e' }, spec: { type: 'ExternalName', externalName: 'Example.COM.' } }), { externalName: 'example.com.' });
});

t.test('client-node model objects convert like plain JSON', async (t) => {
  const model = Object.assign(new V1Service(), { metadata: { name: 'web', namespace: 'ns1' }, spec: { clusterIP: '10.96.0.9', type: 'NodePort', ports: [{ name: 'h', port: 8080, protocol: 'TCP' }] } });
  t.match(toService(model), { ns: 'ns1', type: 'NodePort', clusterIPs: ['10.96.0.9'], ports: [{ name: 'h', port: 8080, protocol: 'tcp' }] });
  const es = Object.assign(new V1EndpointSlice(), {
    metadata: { name: 'web-abc', namespace: 'ns1', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4',
    endpoints: [{ addresses: ['10.1.0.1'], conditions: { ready: true }, hostname: 'h0' }, { addresses: ['10.1.0.2'], conditions: {} }, { addresses: ['10.1.0.3'], conditions: { ready: false } }],
  });
  t.same(toEndpointSlice(es), {
    ns: 'ns1', name: 'web-abc', service: 'web', addressType: 'IPv4',
    group: { ports: [], endpoints: [{ addresses: ['10.1.0.1'], ready: true, hostname: 'h0' }, { addresses: ['10.1.0.2'], ready: true, hostname: '' }, { addresses: ['10.1.0.3'], ready: false, hostname: '' }] },
  }, 'nil ready means ready');
});

t.test('malformed objects give an error naming the object and field', async (t) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['service: not an object', 'x', /not an object/],
    ['service: no metadata', { spec: {} }, /missing metadata/],
    ['service: bad name', { metadata: { name: 'Web_1' } }, /metadata.name 'Web_1'/],
    ['service: bad namespace', { metadata: { name: 'w', namespace: 'A B' } }, /namespace 'A B'/],
    ['service: bad type', { metadata: { name: 'w' }, spec: { type: 'Magic' } }, /Service default\/w: spec.type 'Magic'/],
    ['service: bad IP', { metadata: { name: 'w' }, spec: { clusterIP: '10.96.0.300' } }, /clusterIP '10.96.0.300'/],
    ['service: bad port', { metadata: { name: 'w' }, spec: { ports: [{ port: 70000 }] } }, /ports\[0\].port/],
    ['service: bad protocol', { metadata: { name: 'w' }, spec: { ports: [{ port: 1, protocol: 'ICMP' }] } }, /protocol 'ICMP'/],
    ['service: bad port name', { metadata: { name: 'w' }, spec: { ports: [{ port: 1, name: '_x' }] } }, /ports\[0\].name/],
    ['service: ExternalName without target', { metadata: { name: 'w' }, spec: { type: 'ExternalName' } }, /externalName is required/],
    ['service: ExternalName bad target', { metadata: { name: 'w' }, spec: { type: 'ExternalName', externalName: 'a..b' } }, /externalName 'a..b'/],
    ['slice: no service label', { metadata: { name: 's' }, addressType: 'IPv4', endpoints: [] }, /kubernetes.io\/service-name/],
    ['slice: bad addressType', { metadata: { name: 's', labels: { 'kubernetes.io/service-name': 'x' } }, addressType: 'IPv5' }, /addressType 'IPv5'/],
    ['slice: family mismatch', { metadata: { name: 's', labels: { 'kubernetes.io/service-name': 'x' } }, addressType: 'IPv4', endpoints: [{ addresses: ['fd00::1'] }] }, /endpoints\[0\]: 'fd00::1' is not IPv4/],
    ['slice: bad endpoint', { metadata: { name: 's', labels: { 'kubernetes.io/service-name': 'x' } }, addressType: 'IPv6', endpoints: [7] }, /endpoints\[0\] is not an object/],
  ];
  for (const [what, obj, re] of cases) {
    const got = what.startsWith('slice') ? toEndpointSlice(obj) : toService(obj);
    t.match(got, re, what);
  }
  t.match(toEndpoints({ metadata: { name: 'e' }, subsets: [{ addresses: [{ ip: 'nope' }] }] }), /subsets\[0\].addresses\[0\].ip: 'nope'/);
  t.match(toPod({ metadata: { name: 'p' }, status: { podIPs: [{ ip: '1.2.3' }] } }), /status.podIPs/);
  t.match(toNamespace({ metadata: { name: '' } }), /metadata.name/);
});

t.test('FQDN slices are ignored; bad hostnames fall back to the dashed IP; pods and namespaces', async (t) => {
  t.equal(toEndpointSlice({ metadata: { name: 's', labels: { 'kubernetes.io/service-name': 'x' } }, addressType: 'FQDN' }), null);
  t.match(toEndpointSlice({ metadata: { name: 's', labels: { 'kubernetes.io/service-name': 'x' } }, addressType: 'IPv4', endpoints: [{ addresses: ['1.2.3.4'], hostname: 'Not_Valid' }] }),
    { group: { endpoints: [{ hostname: '' }] } });
  t.same(toPod({ metadata: { name: 'p.q', namespace: 'n' }, status: { podIP: '10.0.0.1', phase: 'Running' } }), { ns: 'n', name: 'p.q', podIPs: ['10.0.0.1'], phase: 'Running' });
  t.same(toNamespace({ metadata: { name: 'kube-system' } }), { name: 'kube-system' });
});

t.test('IP spellings', async (t) => {
  t.same(canonicalIp('FD00:0:0:0:0:0:0:1'), { ip: 'fd00::1', family: 6 });
  t.equal(canonicalIp('fe80::1%eth0'), null, 'zone index refused');
  t.equal(canonicalIp(42), null);
  const table: Array<[string, string]> = [
    ['10.1.2.3', '10-1-2-3'], ['fd00::1', 'fd00--1'], ['fd00::', 'fd00--0'], ['::1', '0--1'],
    ['2001:db8:3333:4444:5555:6666::', '2001-db8-3333-4444-5555-6666--0'],
  ];
  for (const [ip, label] of table) {
    t.equal(dashedIp(ip), label, ip);
    t.equal(undashIp(label)?.ip, ip, `${label} round trip`);
  }
  t.equal(undashIp('10-1-2'), null);
  // As CoreDNS (Go's net.ParseIP): a leading-zero octet is not an address, never silently 10.x.
  for (const label of ['010-244-1-10', '10-244-1-010', '10-244-01-10', '00-1-2-3']) t.equal(undashIp(label), null, `${label} is no IPv4 address`);
  t.equal(undashIp('0-1-2-3')?.ip, '0.1.2.3', 'a single zero is fine');
  t.equal(undashIp('fd00-0010--1')?.ip, 'fd00:10::1', 'IPv6 groups may have leading zeros (up to four digits)');
  t.equal(undashIp('1-2-3-4-5'), null, 'five parts: neither family');
  t.equal(undashIp('a.b'), null);
});
