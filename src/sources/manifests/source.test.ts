// The manifests source: the demo cluster loads into the expected records; edits on disk apply as
// incremental diffs; malformed files and objects are logged with file and document and skipped.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { RrSetChange } from '../../dns/types.js';
import { ClusterState } from '../kubernetes/cluster-state.js';
import { changesText, rrsetsText } from '../kubernetes/rrset-text.js';
import { parseManifest } from './parse.js';
import { startManifestsSource, type SourceLog } from './source.js';

// dist/src/sources/manifests → repository root
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

function recorder(): SourceLog & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: () => undefined,
    warn: (obj, msg) => lines.push(`${msg}: ${JSON.stringify(obj)}`),
  };
}

function snapshot(s: ClusterState): string[] {
  return rrsetsText(s.initial().flatMap((c) => (c.op === 'upsert' ? [c.rrset] : [])));
}

t.test('the demo cluster', async (t) => {
  // Serving as the pod 10.244.0.2, which kube-dns selects: ns.dns.<zone> is kube-dns's cluster IP.
  const state = new ClusterState({ zone: 'cluster.local', ownIps: ['10.244.0.2'] });
  const log = recorder();
  const src = await startManifestsSource(path.join(ROOT, 'deploy/demo/cluster'), state, log);
  t.teardown(() => src.close());
  t.ok(src.synced);
  t.same(log.lines, [], 'no warnings');
  const all = snapshot(state);
  const expect = [
    'kubernetes.default.svc.cluster.local. 30 A 10.96.0.1',
    '_https._tcp.kubernetes.default.svc.cluster.local. 30 SRV 0 100 443 kubernetes.default.svc.cluster.local.',
    '_dns._udp.kube-dns.kube-system.svc.cluster.local. 30 SRV 0 100 53 kube-dns.kube-system.svc.cluster.local.',
    '_dns-tcp._tcp.kube-dns.kube-system.svc.cluster.local. 30 SRV 0 100 53 kube-dns.kube-system.svc.cluster.local.',
    '10.0.96.10.in-addr.arpa. 30 PTR kube-dns.kube-system.svc.cluster.local.',
    'ns.dns.cluster.local. 30 A 10.96.0.10',
    '10-244-2-11.web.shop.svc.cluster.local. 30 A 10.244.2.11',
    'db.shop.svc.cluster.local. 30 A 10.244.3.22',
    'db-1.db.shop.svc.cluster.local. 30 A 10.244.2.21',
    '_pg._tcp.db.shop.svc.cluster.local. 30 SRV 0 100 5432 db-2.db.shop.svc.cluster.local.',
    '20.1.244.10.in-addr.arpa. 30 PTR db-0.db.shop.svc.cluster.local.',
    'search.shop.svc.cluster.local. 30 CNAME www.example.com.',
    'api.shop.svc.cluster.local. 30 AAAA fd00:10:96::30',
    'fd00-10-244-1--30.api.shop.svc.cluster.local. 30 AAAA fd00:10:244:1::30',
    'shop.svc.cluster.local. EXISTS',
    'kube-system.svc.cluster.local. EXISTS',
  ];
  for (const line of expect) t.ok(all.includes(line), line);
  t.notOk(all.some((l) => l.includes('10-244-3-12')), 'not-ready endpoint absent');
  t.ok(all.includes('_statsd._udp.web.shop.svc.cluster.local. 30 SRV 0 100 9000 web.shop.svc.cluster.local.'), 'the third port is named, as the API server requires');
});

t.test('edits apply incrementally; malformed files and objects are skipped', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kdns-manifests-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const svc = (name: string, ip: string): string =>
    `apiVersion: v1\nkind: Service\nmetadata: { name: ${name}, namespace: default }\nspec: { clusterIP: ${ip}, ports: [{ port: 80 }] }\n`;
  await writeFile(path.join(dir, 'a.yaml'), svc('a', '10.96.0.1') + '---\n' + svc('b', '10.96.0.2'));
  await writeFile(path.join(dir, 'bad.yml'), svc('ok', '10.96.0.3') + '---\n' + svc('Bad_Name', '10.96.0.4') + '---\n- 1\n');
  await writeFile(path.join(dir, 'notes.txt'), 'not a manifest');
  const state = new ClusterState({ zone: 'cluster.local' });
  const log = recorder();
  const batches: RrSetChange[][] = [];
  state.onChange((c) => batches.push(c));
  const src = await startManifestsSource(dir, state, log, { debounceMs: 20 });
  t.teardown(() => src.close());
  const names = (): string[] => snapshot(state).filter((l) => / A /.test(l) && l.includes('.svc.'));
  t.same(names(), [
    'a.default.svc.cluster.local. 30 A 10.96.0.1',
    'b.default.svc.cluster.local. 30 A 10.96.0.2',
    'ok.default.svc.cluster.local. 30 A 10.96.0.3',
  ]);
  t.equal(log.lines.length, 2, 'two bad objects logged');
  t.match(log.lines[0], /bad\.yml#1: Service default\/Bad_Name would be rejected by the API server: metadata.name: Invalid value: \\"Bad_Name\\": a DNS-1035 label/);
  t.match(log.lines[1], /bad\.yml#2: not an object/);

  // Change one service, drop another: only their records change.
  batches.length = 0;
  await writeFile(path.join(dir, 'a.yaml'), svc('a', '10.96.0.9'));
  await waitFor(() => batches.length >= 2, 'reload after edit');
  t.same(batches.flatMap((b) => changesText(b)).sort(), [
    '+ 9.0.96.10.in-addr.arpa. 30 PTR a.default.svc.cluster.local.',
    '+ a.default.svc.cluster.local. 30 A 10.96.0.9',
    '- 1.0.96.10.in-addr.arpa. PTR',
    '- 2.0.96.10.in-addr.arpa. PTR',
    '- b.default.svc.cluster.local. A',
  ]);

  // A file with broken YAML keeps its previous objects; deleting the file removes them.
  await writeFile(path.join(dir, 'a.yaml'), 'kind: Service\nmetadata: { name: [unclosed\n');
  await src.reload();
  t.ok(names().includes('a.default.svc.cluster.local. 30 A 10.96.0.9'), 'kept after a syntax error');
  t.ok(log.lines.some((l) => l.includes('keeping its previous objects') && l.includes('a.yaml#0')), 'syntax error logged with file and document');
  await rm(path.join(dir, 'a.yaml'));
  await src.reload();
  t.same(names(), ['ok.default.svc.cluster.local. 30 A 10.96.0.3']);
});

t.test('parseManifest: typed lists, ignored kinds, FQDN slices, empty documents', async (t) => {
  const p = parseManifest([
    'apiVersion: v1', 'kind: ServiceList', 'items:', '  - metadata: { name: x }', '    spec: { clusterIP: None }',
    '---', 'apiVersion: apps/v1', 'kind: Deployment', 'metadata: { name: d }',
    '---', 'apiVersion: discovery.k8s.io/v1', 'kind: EndpointSlice', 'metadata: { name: f, labels: { kubernetes.io/service-name: x } }', 'addressType: FQDN',
    '---', '{ metadata: { name: nokind } }', '---', '',
  ].join('\n'), 'f.yaml');
  t.same(p.objects.map((o) => `${o.key} ${o.where}`), ['Service/default/x f.yaml#0.items[0]']);
  t.equal(p.ignored, 2, 'Deployment and FQDN slice ignored');
  t.same(p.problems, ['f.yaml#3: no kind']);
  t.equal(p.syntaxError, null);
});

async function waitFor(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
