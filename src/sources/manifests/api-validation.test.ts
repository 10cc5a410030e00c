// apiServerProblems: objects a real API server accepts give [], each refusal names its field.
import t from 'tap';
import { apiServerProblems } from './api-validation.js';

const meta = (name: string, ns = 'default'): object => ({ name, namespace: ns });
const svc = (spec: object, name = 'web'): object => ({ metadata: meta(name), spec });
const port = (p: object): object => ({ port: 80, ...p });
const slice = (fields: object, name = 'web-1'): object => ({
  metadata: { ...meta(name), labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', ...fields,
});

const accepted: Array<[string, string, object]> = [
  ['ClusterIP, one unnamed port', 'Service', svc({ clusterIP: '10.96.0.1', ports: [port({})] })],
  ['two named ports, same number other protocol', 'Service', svc({ ports: [port({ name: 'dns', protocol: 'UDP' }), port({ name: 'dns-tcp', protocol: 'TCP' })] })],
  ['headless without ports', 'Service', svc({ clusterIP: 'None' })],
  ['dual stack', 'Service', svc({ clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1', 'fd00::1'], ports: [port({})] })],
  ['ExternalName', 'Service', svc({ type: 'ExternalName', externalName: 'www.example.com.' })],
  ['targetPort by name', 'Service', svc({ ports: [port({ targetPort: 'http' })] })],
  ['slice', 'EndpointSlice', slice({ endpoints: [{ addresses: ['10.1.0.1'], hostname: 'db-0' }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] })],
  ['FQDN slice', 'EndpointSlice', slice({ addressType: 'FQDN', endpoints: [{ addresses: ['a.example.com'] }] })],
  ['slice port without a number', 'EndpointSlice', slice({ ports: [{ name: '' }] })],
  ['Endpoints', 'Endpoints', { metadata: meta('web'), subsets: [{ addresses: [{ ip: '10.1.0.1' }], ports: [{ port: 80 }] }] }],
  ['Namespace', 'Namespace', { metadata: { name: 'kube-system' } }],
  ['an unknown kind', 'Deployment', { metadata: {} }],
];
for (const [name, kind, obj] of accepted) t.same(apiServerProblems(kind, obj), [], `accepted: ${name}`);

const refused: Array<[string, string, object, RegExp]> = [
  ['unnamed port among several', 'Service', svc({ ports: [port({ name: 'http' }), port({ port: 443, name: 'https' }), port({ port: 9000, protocol: 'UDP' })] }),
    /^spec\.ports\[2\]\.name: Required value/],
  ['duplicate port names', 'Service', svc({ ports: [port({ name: 'http' }), port({ port: 81, name: 'http' })] }), /^spec\.ports\[1\]\.name: Duplicate value: "http"/],
  ['duplicate port and protocol', 'Service', svc({ ports: [port({ name: 'a' }), port({ name: 'b' })] }), /^spec\.ports\[1\]: Duplicate value: \{"port":80,"protocol":"TCP"\}/],
  ['port name not a label', 'Service', svc({ ports: [port({ name: 'Web_Port' })] }), /^spec\.ports\[0\]\.name: Invalid value: "Web_Port"/],
  ['port 0', 'Service', svc({ ports: [port({ port: 0 })] }), /^spec\.ports\[0\]\.port: Invalid value: 0: must be between 1 and 65535/],
  ['port 70000', 'Service', svc({ ports: [port({ port: 70000 })] }), /^spec\.ports\[0\]\.port: Invalid value: 70000/],
  ['port as text', 'Service', svc({ ports: [port({ port: '80' })] }), /^spec\.ports\[0\]\.port: Invalid value: "80"/],
  ['protocol', 'Service', svc({ ports: [port({ protocol: 'HTTP' })] }), /^spec\.ports\[0\]\.protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"/],
  ['lower-case protocol', 'Service', svc({ ports: [port({ protocol: 'tcp' })] }), /^spec\.ports\[0\]\.protocol: Unsupported value: "tcp"/],
  ['no ports on a ClusterIP Service', 'Service', svc({ clusterIP: '10.96.0.1' }), /^spec\.ports: Required value/],
  ['name starts with a digit (DNS-1035)', 'Service', svc({ ports: [port({})] }, '1web'), /^metadata\.name: Invalid value: "1web": a DNS-1035 label/],
  ['name too long', 'Service', svc({ ports: [port({})] }, 'a'.repeat(64)), /^metadata\.name: Invalid value/],
  ['no name', 'Service', { metadata: { namespace: 'default' }, spec: { ports: [port({})] } }, /^metadata\.name: Required value/],
  ['bad namespace', 'Service', { metadata: meta('web', 'Prod'), spec: { ports: [port({})] } }, /^metadata\.namespace: Invalid value: "Prod"/],
  ['clusterIP not an IP', 'Service', svc({ clusterIP: '10.96.0.300', ports: [port({})] }), /^spec\.clusterIP: Invalid value: "10\.96\.0\.300": must be a valid IP address/],
  ['clusterIP "none"', 'Service', svc({ clusterIP: 'none', ports: [port({})] }), /^spec\.clusterIP: Invalid value: "none"/],
  ['clusterIPs[0] differs', 'Service', svc({ clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.2'], ports: [port({})] }), /^spec\.clusterIPs\[0\]: Invalid value: "10\.96\.0\.2": must be same as clusterIP/],
  ['two IPv4 clusterIPs', 'Service', svc({ clusterIPs: ['10.96.0.1', '10.96.0.2'], ports: [port({})] }), /^spec\.clusterIPs\[1\]: Invalid value: "10\.96\.0\.2": must be of a different IP family/],
  ['headless NodePort', 'Service', svc({ type: 'NodePort', clusterIP: 'None', ports: [port({})] }), /^spec\.clusterIP: Invalid value: "None": may not be set to 'None' for NodePort services/],
  ['unknown type', 'Service', svc({ type: 'Headless', ports: [port({})] }), /^spec\.type: Unsupported value: "Headless"/],
  ['ExternalName without a name', 'Service', svc({ type: 'ExternalName' }), /^spec\.externalName: Required value/],
  ['ExternalName with a cluster IP', 'Service', svc({ type: 'ExternalName', externalName: 'x.example', clusterIP: '10.96.0.1' }), /^spec\.clusterIPs: Forbidden: may not be set for ExternalName services/],
  ['ExternalName not a DNS name', 'Service', svc({ type: 'ExternalName', externalName: 'www example' }), /^spec\.externalName: Invalid value: "www example"/],
  ['label value', 'Service', { metadata: { ...meta('web'), labels: { app: 'a b' } }, spec: { ports: [port({})] } }, /^metadata\.labels\[app\]: Invalid value: "a b"/],
  ['slice without addressType', 'EndpointSlice', slice({ addressType: undefined }), /^addressType: Required value/],
  ['slice addressType', 'EndpointSlice', slice({ addressType: 'IP' }), /^addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"/],
  ['slice IPv6 address in an IPv4 slice', 'EndpointSlice', slice({ endpoints: [{ addresses: ['fd00::1'] }] }), /^endpoints\[0\]\.addresses\[0\]: Invalid value: "fd00::1": must be a valid IPv4 address/],
  ['slice address', 'EndpointSlice', slice({ endpoints: [{ addresses: ['10.1.0'] }] }), /^endpoints\[0\]\.addresses\[0\]: Invalid value: "10\.1\.0": must be a valid IP address/],
  ['endpoint without addresses', 'EndpointSlice', slice({ endpoints: [{ addresses: [] }] }), /^endpoints\[0\]\.addresses: Required value: must contain at least 1 address/],
  ['endpoint hostname', 'EndpointSlice', slice({ endpoints: [{ addresses: ['10.1.0.1'], hostname: 'db.0' }] }), /^endpoints\[0\]\.hostname: Invalid value: "db\.0"/],
  ['slice port protocol', 'EndpointSlice', slice({ ports: [{ name: 'x', port: 80, protocol: 'ICMP' }] }), /^ports\[0\]\.protocol: Unsupported value: "ICMP"/],
  ['slice duplicate port names', 'EndpointSlice', slice({ ports: [{ name: 'x', port: 80 }, { name: 'x', port: 81 }] }), /^ports\[1\]\.name: Duplicate value: "x"/],
  ['too many endpoints', 'EndpointSlice', slice({ endpoints: Array.from({ length: 1001 }, (_, i) => ({ addresses: [`10.1.${i >> 8}.${i & 255}`] })) }), /^endpoints: Too many: 1001: must have at most 1000 items/],
  ['Endpoints address', 'Endpoints', { metadata: meta('web'), subsets: [{ notReadyAddresses: [{ ip: 'x' }] }] }, /^subsets\[0\]\.notReadyAddresses\[0\]\.ip: Invalid value: "x"/],
  ['Endpoints unnamed port among two', 'Endpoints', { metadata: meta('web'), subsets: [{ ports: [{ port: 80, name: 'a' }, { port: 81 }] }] }, /^subsets\[0\]\.ports\[1\]\.name: Required value/],
  ['Namespace name', 'Namespace', { metadata: { name: 'my.ns' } }, /^metadata\.name: Invalid value: "my\.ns": a lowercase RFC 1123 label/],
];
for (const [name, kind, obj, want] of refused) {
  const problems = apiServerProblems(kind, obj);
  t.equal(problems.length, 1, `refused: ${name}: exactly one problem (${problems.join(' | ')})`);
  t.match(problems[0], want, `refused: ${name}`);
}
