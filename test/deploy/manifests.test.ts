// deploy/: every Kubernetes manifest checked against the API models (client-node), against each other
// (labels, selectors, ports, RBAC, ConfigMaps) and against kdns itself (its config loader and flag
// parser), plus the Dockerfile's shape. Nothing here needs a cluster or a Docker engine.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ObjectSerializer } from '@kubernetes/client-node/dist/serializer.js';
import { parseConfigFile } from '../../src/config/file.js';
import { parseFlags } from '../../src/config/flags.js';
import { defaultConfig, mergeConfig } from '../../src/config/load.js';
import type { KdnsConfig } from '../../src/config/types.js';
import { CLUSTER_SCOPED, KNOWN_KINDS, schemaProblems } from './k8s-schema.js';

// Manifests are untyped JSON; the model check below is what gives them a shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type K = any;

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MANIFEST_DIR = join(ROOT, 'deploy', 'kubernetes');
const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

interface Doc {
  file: string;
  obj: K;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(e.name) ? [p] : [];
  });
}

const files = yamlFiles(MANIFEST_DIR).sort();
const docs: Doc[] = [];
const parseErrors: string[] = [];
for (const file of files) {
  for (const d of parseAllDocuments(readFileSync(file, 'utf8'), { uniqueKeys: true })) {
    if (d.errors.length > 0) parseErrors.push(`${relative(ROOT, file)}: ${d.errors[0]!.message}`);
    const obj: unknown = d.toJS();
    if (obj !== null) docs.push({ file: relative(ROOT, file), obj });
  }
}

const of = (kind: string): K[] => docs.filter((d) => d.obj.kind === kind).map((d) => d.obj);
const one = (kind: string, name: string): K => docs.find((d) => d.obj.kind === kind && d.obj.metadata?.name === name)?.obj;
const where = (o: K): string => `${o.kind}/${o.metadata?.name}`;
const workloads = (): K[] => [...of('Deployment'), ...of('DaemonSet')];
const podSpec = (w: K): K => w.spec.template.spec;
const kdnsContainer = (w: K): K => podSpec(w).containers.find((c: K) => c.name === 'kdns');

/** labels ⊇ selector (matchLabels or a plain Service selector). */
function selects(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const PORT_NAME = /^(?=.{1,15}$)(?!.*--)(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$/; // IANA_SVC_NAME
const QUANTITY = /^(\d+(\.\d+)?)(m|k|Ki|Mi|Gi|Ti|M|G|T)?$/;

function bytes(q: string): number {
  const m = QUANTITY.exec(q);
  if (!m) return NaN;
  const mult: Record<string, number> = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
  return Number(m[1]) * mult[m[3] ?? '']!;
}

/** Made-up downward API addresses: a node and a pod of an IPv4 cluster, and of an IPv6-only one. */
interface NodeIps { hostIP: string; podIP: string }
const IPV4_NODE: NodeIps = { hostIP: '10.0.0.17', podIP: '10.244.1.9' };
const IPV6_NODE: NodeIps = { hostIP: 'fd00:10::17', podIP: 'fd00:10:244::9' };

/** What the kubelet does with $(VAR) in args: substitutes the container's env (downward API values made up). */
function expandArgs(c: K, ips: NodeIps = IPV4_NODE): { args: string[]; undefinedVars: string[] } {
  const env = new Map<string, string>();
  for (const e of c.env ?? []) {
    if (typeof e.value === 'string') env.set(e.name, e.value);
    else if (e.valueFrom?.fieldRef?.fieldPath === 'status.hostIP') env.set(e.name, ips.hostIP);
    else if (e.valueFrom?.fieldRef?.fieldPath === 'status.podIP') env.set(e.name, ips.podIP);
    else if (e.valueFrom?.fieldRef) env.set(e.name, 'value-of-' + e.valueFrom.fieldRef.fieldPath);
  }
  const undefinedVars: string[] = [];
  const args = (c.args ?? []).map((a: string) => a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_m, v: string) => {
    if (!env.has(v)) undefinedVars.push(v);
    return env.get(v) ?? '';
  }));
  return { args, undefinedVars };
}

/** The kdns config a workload's kdns container runs with: its ConfigMap's kdns.yaml, then its args. */
function effectiveConfig(w: K, ips: NodeIps = IPV4_NODE): { config: KdnsConfig; fileLayer: ReturnType<typeof parseConfigFile> } {
  const c = kdnsContainer(w);
  const mount = c.volumeMounts.find((m: K) => m.mountPath === '/etc/kdns');
  const volume = podSpec(w).volumes.find((v: K) => v.name === mount.name);
  const cm = one('ConfigMap', volume.configMap.name);
  const fileLayer = parseConfigFile(cm.data['kdns.yaml'], `/etc/kdns/kdns.yaml (ConfigMap ${cm.metadata.name})`);
  const { flags } = parseFlags(expandArgs(c, ips).args);
  return { config: mergeConfig(defaultConfig(), fileLayer, flags), fileLayer };
}

/** A probe's port as a number, through the container's named ports. */
function probePort(c: K, port: number | string): number | undefined {
  if (typeof port === 'number') return port;
  return c.ports?.find((p: K) => p.name === port && (p.protocol ?? 'TCP') === 'TCP')?.containerPort;
}

t.test('every manifest parses and is a kind kdns deploys', async (t) => {
  t.ok(files.length >= 3, `YAML files in deploy/kubernetes (${files.length})`);
  t.same(parseErrors, [], 'no YAML errors');
  for (const { file, obj } of docs) {
    const gvk = `${obj.apiVersion}/${obj.kind}`;
    t.ok(KNOWN_KINDS[gvk], `${file}: ${gvk} is a known apiVersion/kind`);
    t.match(obj.metadata?.name, DNS1123_SUBDOMAIN, `${file}: ${where(obj)} has a valid name`);
    if (CLUSTER_SCOPED.has(obj.kind)) t.equal(obj.metadata.namespace, undefined, `${where(obj)} is cluster-scoped`);
    else t.equal(obj.metadata.namespace, 'kube-system', `${where(obj)} is in kube-system`);
  }
  const ids = docs.map((d) => `${d.obj.kind}/${d.obj.metadata?.namespace ?? ''}/${d.obj.metadata?.name}`);
  t.same(ids.filter((id, i) => ids.indexOf(id) !== i), [], 'no object is defined twice');
  for (const kind of ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'DaemonSet', 'Service', 'PodDisruptionBudget']) {
    t.ok(of(kind).length > 0, `a ${kind} is deployed`);
  }
});

t.test('every object matches the client-node model: no unknown fields, right types', async (t) => {
  for (const { file, obj } of docs) {
    const model = KNOWN_KINDS[`${obj.apiVersion}/${obj.kind}`];
    if (!model) continue; // reported above
    t.same(schemaProblems(obj, model), [], `${file}: ${where(obj)} is a valid ${model}`);
    // client-node's own typed (de)serialization: what survives the round trip is what the API reads.
    const back = ObjectSerializer.serialize(ObjectSerializer.deserialize(structuredClone(obj), model), model) as unknown;
    t.same(back, obj, `${where(obj)} survives ${model} deserialization unchanged`);
  }
});

t.test('required fields are present', async (t) => {
  for (const w of workloads()) {
    t.ok(w.spec.selector?.matchLabels, `${where(w)} has spec.selector`);
    t.ok(w.spec.template?.metadata?.labels, `${where(w)} has template labels`);
    for (const c of [...podSpec(w).containers, ...(podSpec(w).initContainers ?? [])]) {
      t.match(c.name, DNS1123_LABEL, `${where(w)} container name ${c.name}`);
      t.match(c.image, /^[\w.\-/:]+:[\w.\-]+$/, `${where(w)}/${c.name} image has an explicit tag`);
      t.not(c.image.split(':').pop(), 'latest', `${where(w)}/${c.name} image is not :latest`);
    }
    for (const v of podSpec(w).volumes ?? []) t.ok(v.name && (v.configMap?.name ?? v.secret ?? v.emptyDir), `${where(w)} volume ${v.name} has a source`);
  }
  for (const s of of('Service')) for (const p of s.spec.ports) t.ok(Number.isInteger(p.port) && p.port > 0 && p.port < 65536, `${where(s)} port ${p.name}`);
  for (const r of of('ClusterRole')) for (const rule of r.rules) t.ok(rule.verbs?.length && rule.resources?.length && rule.apiGroups, `${where(r)} rule is complete`);
  for (const b of of('ClusterRoleBinding')) {
    t.ok(b.roleRef?.apiGroup && b.roleRef?.kind && b.roleRef?.name, `${where(b)} roleRef is complete`);
    for (const s of b.subjects) t.ok(s.kind && s.name && (s.kind !== 'ServiceAccount' || s.namespace), `${where(b)} subject ${s.name}`);
  }
  for (const p of of('PodDisruptionBudget')) {
    t.equal([p.spec.minAvailable, p.spec.maxUnavailable].filter((v) => v !== undefined).length, 1, `${where(p)} sets one of minAvailable and maxUnavailable`);
  }
  for (const cm of of('ConfigMap')) t.type(cm.data?.['kdns.yaml'], 'string', `${where(cm)} has kdns.yaml`);
});

t.test('containers: ports, probes, resources, security', async (t) => {
  for (const w of workloads()) {
    const spec = podSpec(w);
    for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
      const ports: K[] = c.ports ?? [];
      for (const p of ports) {
        t.ok(Number.isInteger(p.containerPort) && p.containerPort > 0 && p.containerPort < 65536, `${where(w)}/${c.name} containerPort ${p.containerPort}`);
        t.ok(['UDP', 'TCP', 'SCTP'].includes(p.protocol ?? 'TCP'), `${where(w)}/${c.name} protocol ${p.protocol}`);
        t.match(p.name, PORT_NAME, `${where(w)}/${c.name} port name ${p.name} is an IANA service name`);
        if (spec.hostNetwork && p.hostPort !== undefined) t.equal(p.hostPort, p.containerPort, 'hostNetwork: hostPort = containerPort');
      }
      const names = ports.map((p) => p.name);
      t.same(names.filter((n, i) => names.indexOf(n) !== i), [], `${where(w)}/${c.name} port names are unique`);
      const pp = ports.map((p) => `${p.containerPort}/${p.protocol ?? 'TCP'}`);
      t.same(pp.filter((n, i) => pp.indexOf(n) !== i), [], `${where(w)}/${c.name} port/protocol pairs are unique`);
      for (const [kind, q] of Object.entries({ ...c.resources?.requests, ...c.resources?.limits })) {
        t.match(q, QUANTITY, `${where(w)}/${c.name} ${kind} ${q} is a quantity`);
      }
      t.ok(c.resources?.requests?.cpu && c.resources?.requests?.memory && c.resources?.limits?.memory, `${where(w)}/${c.name} has cpu/memory requests and a memory limit`);
      t.ok(bytes(c.resources.requests.memory) <= bytes(c.resources.limits.memory), `${where(w)}/${c.name} memory request ≤ limit`);
      t.equal(c.securityContext?.allowPrivilegeEscalation, false, `${where(w)}/${c.name} no privilege escalation`);
      t.same(c.securityContext?.capabilities?.drop, ['ALL'], `${where(w)}/${c.name} drops every capability`);
      t.equal(c.securityContext?.readOnlyRootFilesystem, true, `${where(w)}/${c.name} read-only root`);
    }

    const c = kdnsContainer(w);
    t.ok(c, `${where(w)} has a kdns container`);
    const runAsNonRoot = c.securityContext?.runAsNonRoot ?? spec.securityContext?.runAsNonRoot;
    const runAsUser = c.securityContext?.runAsUser ?? spec.securityContext?.runAsUser;
    t.equal(runAsNonRoot, true, `${where(w)} kdns runs as non-root`);
    t.ok(Number.isInteger(runAsUser) && runAsUser > 0, `${where(w)} kdns has a non-zero runAsUser`);
    t.same(c.securityContext.capabilities.add, ['NET_BIND_SERVICE'], `${where(w)} kdns adds only NET_BIND_SERVICE (port 53)`);
    t.match(c.image, new RegExp(`^(.*/)?kdns:${PACKAGE.version.replace(/\./g, '\\.')}$`), `${where(w)} runs kdns ${PACKAGE.version}`);
    t.equal(spec.dnsPolicy, 'Default', `${where(w)} resolves upstreams through the node, not itself`);
    t.equal(spec.serviceAccountName, 'kdns', `${where(w)} uses the kdns service account`);
    t.match(spec.priorityClassName, /^system-(cluster|node)-critical$/, `${where(w)} is critical`);

    for (const [probe, path] of [['readinessProbe', '/ready'], ['livenessProbe', '/health']] as const) {
      const p = c[probe];
      t.ok(p, `${where(w)} has a ${probe}`);
      if (!p) continue;
      t.same(Object.keys(p).filter((k) => ['httpGet', 'tcpSocket', 'exec', 'grpc'].includes(k)), ['httpGet'], `${where(w)} ${probe} has exactly one handler, httpGet`);
      t.equal(p.httpGet.path, path, `${where(w)} ${probe} asks ${path}`);
      t.equal(p.httpGet.scheme ?? 'HTTP', 'HTTP', `${where(w)} ${probe} is plain HTTP`);
      t.ok(probePort(c, p.httpGet.port), `${where(w)} ${probe} port ${p.httpGet.port} is a TCP port of the container`);
      for (const f of ['periodSeconds', 'timeoutSeconds', 'failureThreshold']) t.ok(p[f] === undefined || p[f] >= 1, `${probe}.${f} ≥ 1`);
      t.ok((p.timeoutSeconds ?? 1) <= (p.periodSeconds ?? 10), `${where(w)} ${probe} timeout ≤ period`);
    }
    t.ok((c.livenessProbe.failureThreshold ?? 3) * (c.livenessProbe.periodSeconds ?? 10) >= 30,
      `${where(w)} liveness tolerates ≥ 30 s of trouble before a restart`);
  }
});

t.test('labels and selectors line up', async (t) => {
  for (const w of workloads()) {
    t.ok(selects(w.spec.selector.matchLabels, w.spec.template.metadata.labels), `${where(w)} selector matches its pods`);
    const terms = [
      ...(podSpec(w).affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((x: K) => x.podAffinityTerm),
      ...(podSpec(w).affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []),
    ];
    for (const term of terms) t.ok(selects(term.labelSelector.matchLabels, w.spec.template.metadata.labels), `${where(w)} anti-affinity selects its own pods`);
  }
  const deployment = one('Deployment', 'kdns');
  const daemonSet = one('DaemonSet', 'kdns-node-local');
  const service = one('Service', 'kube-dns');
  t.ok(deployment && daemonSet && service, 'kdns Deployment, kdns-node-local DaemonSet and kube-dns Service exist');
  t.same(service.spec.selector, { 'k8s-app': 'kube-dns' }, 'kube-dns Service selects k8s-app=kube-dns, as every cluster does');
  t.ok(selects(service.spec.selector, deployment.spec.template.metadata.labels), 'kube-dns Service selects the Deployment pods');
  t.notOk(selects(service.spec.selector, daemonSet.spec.template.metadata.labels), 'kube-dns Service does not select node-local pods');
  t.notOk(selects(deployment.spec.selector.matchLabels, daemonSet.spec.template.metadata.labels), 'the Deployment does not adopt DaemonSet pods');
  t.notOk(selects(daemonSet.spec.selector.matchLabels, deployment.spec.template.metadata.labels), 'the DaemonSet does not adopt Deployment pods');
  t.notOk(selects(deployment.spec.selector.matchLabels, { 'k8s-app': 'kube-dns' }), 'the Deployment selector is narrower than k8s-app=kube-dns (no fight with CoreDNS)');

  const c = kdnsContainer(deployment);
  for (const sp of service.spec.ports) {
    const target = sp.targetPort ?? sp.port;
    const match = c.ports.find((p: K) => (typeof target === 'number' ? p.containerPort === target : p.name === target) && (p.protocol ?? 'TCP') === (sp.protocol ?? 'TCP'));
    t.ok(match, `kube-dns port ${sp.name} (${target}/${sp.protocol}) reaches a container port`);
  }
  const svcPorts = service.spec.ports.map((p: K) => `${p.port}/${p.protocol ?? 'TCP'}`).sort();
  t.same(svcPorts, ['53/TCP', '53/UDP', '9153/TCP'], 'kube-dns serves DNS over UDP and TCP, and metrics');

  const pdbs = of('PodDisruptionBudget');
  t.ok(pdbs.some((p) => selects(p.spec.selector.matchLabels, deployment.spec.template.metadata.labels)), 'a PDB covers the Deployment');
  for (const p of pdbs) t.notOk(selects(p.spec.selector.matchLabels, daemonSet.spec.template.metadata.labels), `${where(p)} does not cover node-local pods`);
  t.ok(deployment.spec.replicas >= 2, 'at least two cluster DNS replicas');
  const anti = podSpec(deployment).affinity?.podAntiAffinity;
  t.ok(anti?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm?.topologyKey === 'kubernetes.io/hostname', 'replicas spread over nodes');
  t.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0, 'rollouts keep every ready replica until its successor is ready');
});

t.test('RBAC: list and watch on exactly what kdns watches', async (t) => {
  const roles = of('ClusterRole');
  t.equal(roles.length, 1, 'one ClusterRole');
  const granted: string[] = [];
  for (const rule of roles[0].rules) {
    t.same(rule.verbs, ['list', 'watch'], `rule on ${rule.resources} allows exactly list and watch`);
    t.notOk(rule.resourceNames, 'no resourceNames (kdns watches whole collections)');
    for (const g of rule.apiGroups) for (const r of rule.resources) granted.push(`${g}/${r}`);
  }
  t.same(granted.sort(), ['/namespaces', '/services', 'discovery.k8s.io/endpointslices'], 'namespaces, services, endpointslices, nothing else');
  const rbacText = readFileSync(join(MANIFEST_DIR, 'rbac.yaml'), 'utf8');
  t.match(rbacText, /#.*resources: \["pods"\]/, 'the optional pods rule for --kubernetes-pods verified is documented, commented out');
  const binding = of('ClusterRoleBinding')[0];
  t.same(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roles[0].metadata.name }, 'binding refers to the role');
  const sa = of('ServiceAccount')[0];
  t.same(binding.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }], 'binding grants it to the kdns service account');
  for (const w of workloads()) t.not(effectiveConfig(w).config.kubernetes.pods, 'verified', `${where(w)} does not need the Pod watch the role does not grant`);
});

t.test('ConfigMaps parse with kdns\'s config loader and args with its flag parser', async (t) => {
  for (const w of workloads()) {
    const c = kdnsContainer(w);
    const { args, undefinedVars } = expandArgs(c);
    t.same(undefinedVars, [], `${where(w)} args use only defined env vars`);
    t.same(args.slice(0, 2), ['-c', '/etc/kdns/kdns.yaml'], `${where(w)} reads the mounted config`);
    const mount = c.volumeMounts.find((m: K) => m.mountPath === '/etc/kdns');
    t.ok(mount?.readOnly, `${where(w)} mounts its config read-only at /etc/kdns`);
    const volume = podSpec(w).volumes.find((v: K) => v.name === mount?.name);
    t.ok(one('ConfigMap', volume?.configMap?.name), `${where(w)} mounts an existing ConfigMap`);
    t.same(volume.configMap.items, [{ key: 'kdns.yaml', path: 'kdns.yaml' }], 'the ConfigMap key lands at /etc/kdns/kdns.yaml');

    let result: ReturnType<typeof effectiveConfig> | undefined;
    t.doesNotThrow(() => (result = effectiveConfig(w)), `${where(w)}: kdns accepts its config and args`);
    if (!result) continue;
    const { config, fileLayer } = result;
    t.equal(config.inCluster, true, `${where(w)} watches the cluster it runs in`);
    t.equal(config.kubeconfig, null, 'no kubeconfig file');
    t.equal(config.clusterDomain, 'cluster.local', 'cluster.local');
    t.type(fileLayer.workers, 'number', `${where(w)} sets workers (the default is the node's CPU count)`);
    const dnsPorts = c.ports.filter((p: K) => p.containerPort === 53).map((p: K) => p.protocol).sort();
    t.same(dnsPorts, ['TCP', 'UDP'], `${where(w)} exposes 53 over UDP and TCP`);
    t.ok(config.listen.length > 0 && config.listen.every((l) => l.port === 53), `${where(w)} listens on port 53`);
    t.ok(config.http, `${where(w)} serves /ready`);
    t.equal(config.http?.port, probePort(c, c.readinessProbe.httpGet.port), `${where(w)} probes the port kdns serves HTTP on`);
    t.not(config.http?.host, '127.0.0.1', `${where(w)} HTTP is reachable by the kubelet`);
  }
});

t.test('node-local DaemonSet', async (t) => {
  const ds = one('DaemonSet', 'kdns-node-local');
  const spec = podSpec(ds);
  t.equal(spec.hostNetwork, true, 'host network');
  t.equal(ds.spec.updateStrategy.type, 'RollingUpdate', 'rolling update');
  t.ok(ds.spec.updateStrategy.rollingUpdate.maxUnavailable, 'maxUnavailable set');
  t.same(spec.tolerations, [{ operator: 'Exists' }], 'runs on every node');
  const { config } = effectiveConfig(ds);
  t.same(config.listen.map((l) => l.host), ['169.254.20.10'], 'listens on the link-local address only');
  const init = spec.initContainers.find((c: K) => c.name === 'link-local-ip');
  t.equal(init.env.find((e: K) => e.name === 'LINK_LOCAL_IP')?.value, config.listen[0]!.host, 'the init container creates the address kdns listens on');
  t.match(init.command.join(' '), /ip addr add "\$LINK_LOCAL_IP\/32" dev kdns-local/, 'on a dummy interface');
  t.same(init.securityContext.capabilities.add, ['NET_ADMIN'], 'init container holds only NET_ADMIN');
  t.equal(config.http?.host, '10.0.0.17', 'HTTP on the node IP (downward API), where the kubelet probes');
});

t.test('IPv6 nodes and pods: args parse and HTTP is where the kubelet probes', async (t) => {
  const ds = one('DaemonSet', 'kdns-node-local');
  let v6: KdnsConfig | undefined;
  t.doesNotThrow(() => (v6 = effectiveConfig(ds, IPV6_NODE).config), `node-local args parse with status.hostIP ${IPV6_NODE.hostIP}`);
  t.same(v6?.http, { host: IPV6_NODE.hostIP, port: 9253 }, 'node-local HTTP on the IPv6 node IP');
  t.throws(() => parseFlags(['--http', `${IPV6_NODE.hostIP}:9253`]), /expected an IPv6 address in brackets/,
    'the unbracketed form the DaemonSet used to pass is refused (it is ambiguous: fd00:10::17:9253 is an address)');

  // cluster-dns: probes go to the pod IP, IPv4 or IPv6; DNS must be served on both families.
  const { config } = effectiveConfig(one('Deployment', 'kdns'), IPV6_NODE);
  t.same(config.http, { host: '::', port: 9153 }, 'cluster DNS HTTP on [::] (dual-stack socket: probes on either family)');
  t.same(config.listen.map((l) => l.host).sort(), ['0.0.0.0', '::'], 'cluster DNS listens on 0.0.0.0 and [::] (its DNS sockets are IPv6-only)');
});

t.test('Dockerfile: multi-stage, non-root, ports, valid command', async (t) => {
  const text = readFileSync(join(ROOT, 'deploy', 'Dockerfile'), 'utf8');
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const froms = lines.map((l, i) => [l, i] as const).filter(([l]) => /^FROM\s/i.test(l));
  t.ok(froms.length >= 2, `multi-stage build (${froms.length} stages)`);
  t.ok(froms.slice(0, -1).every(([l]) => /\sAS\s+[a-z][\w-]*$/i.test(l)), 'every earlier stage is named');
  const nodeVersion = /^ARG NODE_VERSION=(\d+)$/m.exec(text)?.[1];
  t.ok(nodeVersion && Number(nodeVersion) % 2 === 0 && Number(nodeVersion) >= 20, `Node ${nodeVersion} is an LTS line`);
  t.ok(froms.every(([l]) => /^FROM node:\$\{NODE_VERSION\}-bookworm(-slim)?(\s|$)/.test(l)), 'every stage is the same official Node line');
  t.ok(lines.some((l) => /^RUN .*npm ci\b/.test(l)), 'npm ci');
  t.ok(lines.some((l) => /^RUN .*npm ci .*--omit=dev/.test(l)), 'production-only node_modules for the runtime');
  t.ok(lines.some((l) => /native\/build\.mjs/.test(l)), 'builds the native addon');

  const final = lines.slice(froms[froms.length - 1]![1]);
  const user = final.filter((l) => /^USER\s/.test(l)).pop()?.split(/\s+/)[1];
  t.match(user, /^\d+(:\d+)?$/, 'final USER is numeric (runAsNonRoot can verify it)');
  t.not(user?.split(':')[0], '0', 'final USER is not root');
  for (const w of workloads()) {
    const uid = kdnsContainer(w).securityContext?.runAsUser ?? podSpec(w).securityContext?.runAsUser;
    t.equal(String(uid), user?.split(':')[0], `${where(w)} runAsUser matches the image`);
  }
  t.ok(final.some((l) => /^COPY --from=build\b/.test(l)), 'runtime copies the build output');
  t.ok(final.some((l) => /setcap cap_net_bind_service=\+ep/.test(l)), 'port 53 without root: file capability');
  const exposed = final.filter((l) => /^EXPOSE\s/.test(l)).flatMap((l) => l.split(/\s+/).slice(1));
  t.same(exposed.sort(), ['53/tcp', '53/udp', '9153/tcp'], 'EXPOSE 53/udp 53/tcp 9153');
  const json = (instr: string): string[] => JSON.parse(final.find((l) => l.startsWith(instr + ' '))!.slice(instr.length + 1)) as string[];
  t.same(json('ENTRYPOINT'), ['node', 'dist/src/cli.js'], 'entrypoint is the kdns CLI');
  const cmd = json('CMD');
  t.doesNotThrow(() => mergeConfig(defaultConfig(), parseFlags(cmd).flags), 'the default CMD is valid kdns flags');
  t.same(mergeConfig(defaultConfig(), parseFlags(cmd).flags).listen, [{ host: '0.0.0.0', port: 53 }], 'the default CMD listens on 0.0.0.0:53');

  const ignore = join(ROOT, '.dockerignore');
  t.ok(existsSync(ignore), '.dockerignore exists');
  const ignored = readFileSync(ignore, 'utf8').split('\n').map((l) => l.trim());
  for (const p of ['node_modules', 'dist', 'native/build', '.git', 'test', 'bench']) t.ok(ignored.includes(p), `.dockerignore leaves out ${p}`);
});

t.test('Dockerfile: pulls no BuildKit frontend or other image, ships no tests', async (t) => {
  const text = readFileSync(join(ROOT, 'deploy', 'Dockerfile'), 'utf8');
  // A parser directive (`# syntax=...`) makes BuildKit pull a frontend image before building.
  t.notMatch(text, /^#\s*(syntax|check|escape)\s*=/im, 'no parser directive');
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const images = lines.filter((l) => /^FROM\s/i.test(l)).map((l) => l.split(/\s+/)[1]);
  t.ok(images.every((i) => /^node:\$\{NODE_VERSION\}-bookworm(-slim)?$/.test(i!)), `only the node base images are pulled (${images.join(', ')})`);
  t.notOk(lines.some((l) => /^ADD\s+https?:/i.test(l) || /--mount=type=(cache|secret)/.test(l)), 'no remote ADD, no BuildKit-only mounts');

  const compile = lines.find((l) => /^RUN .*\btsc\b/.test(l));
  t.match(compile, /tsc -p tsconfig\.build\.json/, 'the build stage compiles with tsconfig.build.json');
  t.match(compile, /find dist -name '\*\.test\.js'.*exit 1/, 'and fails the build if a compiled test is left in dist/');
  t.notOk(lines.some((l) => /npm run (prepare|build)\b|tsc -p \.(\s|$)/.test(l)), 'never the development build (which compiles the tests)');
  const copies = lines.filter((l) => /^COPY --from=build\b/.test(l)).map((l) => l.split(/\s+/)[2]);
  t.ok(copies.includes('/src/dist/src'), 'the runtime takes dist/src only (no dist/test, dist/bench)');

  // The compiler itself says what tsconfig.build.json compiles.
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const listed = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--listFilesOnly'], { encoding: 'utf8', timeout: 110_000 });
  t.equal(listed.status, 0, 'tsc accepts tsconfig.build.json', { stderr: listed.stderr });
  const ours = listed.stdout.split('\n').filter((f) => f.startsWith(ROOT) && !f.includes('/node_modules/')).map((f) => relative(ROOT, f));
  t.ok(ours.includes('src/cli.ts') && ours.includes('src/main.ts'), `the sources are compiled (${ours.length} files)`);
  t.same(ours.filter((f) => /\.test\.ts$/.test(f) || !f.startsWith('src/')), [], 'no test file and nothing outside src/');
});

t.test('the checks reject broken input', async (t) => {
  const base = structuredClone(one('Deployment', 'kdns'));
  base.spec.template.spec.containers[0].readinessprobe = base.spec.template.spec.containers[0].readinessProbe;
  base.spec.replicas = '2';
  const problems = schemaProblems(base, 'V1Deployment');
  t.ok(problems.some((p) => p.startsWith('spec.template.spec.containers[0].readinessprobe: unknown field')), 'a misspelt field is found');
  t.ok(problems.some((p) => p.startsWith('spec.replicas: expected a number')), 'a wrong type is found');
  const back = ObjectSerializer.serialize(ObjectSerializer.deserialize(structuredClone(base), 'V1Deployment'), 'V1Deployment') as K;
  t.equal(back.spec.template.spec.containers[0].readinessprobe, undefined, 'client-node drops unknown fields, so the round trip shows them');
  t.throws(() => parseConfigFile('lisen: [0.0.0.0:53]\n', 'x.yaml'), /unknown setting 'lisen'/, 'kdns rejects an unknown config key');
  t.throws(() => parseFlags(['--listen', '0.0.0.0:53', '--lisen']), /unknown flag --lisen/, 'kdns rejects an unknown flag');
  t.same(expandArgs({ args: ['--http', '$(NOPE):1'] }).undefinedVars, ['NOPE'], 'an undefined $(VAR) is found');
});
