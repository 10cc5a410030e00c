// --manifests refuses what a real API server would refuse, object by object: each refusal is logged
// with its file, document and field, and everything else keeps serving. Asked with dig over UDP and TCP.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startKdns } from '../helpers/kdns-process.js';
import { rdataOf, runDig } from '../wire/clients.js';
import { kdnsArgs } from './harness.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'kdns-manifests-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  writeFileSync(path.join(dir, name), text);
  return path.join(dir, name);
};

/** An EndpointSlice of the headless Service shop/pods, as YAML. */
const podsSlice = (name: string, addressType: string, addresses: string[]): string => `
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}, namespace: shop, labels: {kubernetes.io/service-name: pods}}
addressType: ${addressType}
endpoints: [${addresses.map((a) => `{addresses: ["${a}"]}`).join(', ')}]
`;

const good = file('10-good.yaml', `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Service
metadata: {name: good, namespace: shop}
spec:
  clusterIP: 10.96.5.1
  ports: [{name: http, port: 80}, {name: metrics, port: 9000, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: pods, namespace: shop}
spec: {clusterIP: None}
---${podsSlice('pods-good', 'IPv4', ['10.244.5.5'])}`);
// Each object below is one a real API server refuses (the first is the demo's old mistake).
const badPorts = file('20-bad-ports.yaml', `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 10.96.5.2
  ports: [{name: http, port: 80}, {name: https, port: 443}, {port: 9000, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: twice, namespace: shop}
spec:
  clusterIP: 10.96.5.3
  ports: [{name: http, port: 80}, {name: http, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: udpish, namespace: shop}
spec:
  clusterIP: 10.96.5.4
  ports: [{name: dns, port: 53, protocol: udp}]
`);
const badAddresses = file('30-bad-addresses.yaml', `
apiVersion: v1
kind: Service
metadata: {name: 9lives, namespace: shop}
spec:
  clusterIP: 10.96.5.5
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: badip, namespace: shop}
spec:
  clusterIP: 10.96.5.300
  ports: [{port: 80}]
---${podsSlice('pods-v6-in-v4', 'IPv4', ['10.244.5.6', 'fd00::6'])}---${podsSlice('pods-typo', 'IP', ['10.244.5.7'])}`);

const kdns = await startKdns(kdnsArgs(['--manifests', dir]), { t });

t.test('every refusal is logged with its file, document and field', async (t) => {
  const skipped = kdns.stdout().split('\n').filter((l) => l.includes('"manifest object skipped"')).map((l) => JSON.parse(l) as { file: string; problem: string });
  const expected: Array<[string, RegExp]> = [
    [badPorts, /#0: Service shop\/web would be rejected by the API server: spec\.ports\[2\]\.name: Required value/],
    [badPorts, /#1: Service shop\/twice .*spec\.ports\[1\]\.name: Duplicate value: "http"/],
    [badPorts, /#2: Service shop\/udpish .*spec\.ports\[0\]\.protocol: Unsupported value: "udp"/],
    [badAddresses, /#0: Service shop\/9lives .*metadata\.name: Invalid value: "9lives": a DNS-1035 label/],
    [badAddresses, /#1: Service shop\/badip .*spec\.clusterIP: Invalid value: "10\.96\.5\.300": must be a valid IP address/],
    [badAddresses, /#2: EndpointSlice shop\/pods-v6-in-v4 .*endpoints\[1\]\.addresses\[0\]: Invalid value: "fd00::6": must be a valid IPv4 address/],
    [badAddresses, /#3: EndpointSlice shop\/pods-typo .*addressType: Unsupported value: "IP"/],
  ];
  t.equal(skipped.length, expected.length, `${expected.length} objects skipped`, { skipped });
  for (const [f, problem] of expected) {
    t.ok(skipped.some((s) => s.file === f && problem.test(s.problem) && s.problem.startsWith(f)), `${path.basename(f)} ${problem.source}`);
  }
  t.notOk(skipped.some((s) => s.file === good), 'nothing from the good file');
});

t.test('the rest serves (dig over UDP and TCP)', async (t) => {
  for (const transport of [[], ['+tcp']]) {
    const via = transport.length > 0 ? 'TCP' : 'UDP';
    const a = await runDig('dig', kdns.port, [...transport, 'good.shop.svc.cluster.local', 'A']);
    t.same([a.status, rdataOf(a.answer, 'A')], ['NOERROR', ['10.96.5.1']], `good Service over ${via}`);
    const srv = await runDig('dig', kdns.port, [...transport, '_metrics._udp.good.shop.svc.cluster.local', 'SRV']);
    t.same(rdataOf(srv.answer, 'SRV'), ['0 100 9000 good.shop.svc.cluster.local.'], `its named UDP port over ${via}`);
    const pods = await runDig('dig', kdns.port, [...transport, 'pods.shop.svc.cluster.local', 'A']);
    t.same(rdataOf(pods.answer, 'A'), ['10.244.5.5'], `headless: only the valid slice's endpoint over ${via}`);
    for (const refused of ['web', 'twice', 'udpish', 'badip']) {
      const r = await runDig('dig', kdns.port, [...transport, `${refused}.shop.svc.cluster.local`, 'A']);
      t.equal(r.status, 'NXDOMAIN', `${refused}: refused, so no such name, over ${via}`);
    }
  }
});
