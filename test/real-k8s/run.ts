// `npm run test:real-k8s` (opt-in, not part of `npm test` or .ci/run): kdns against a real control plane.
//  1. test/real-k8s/build.sh: etcd from Debian, kube-apiserver + kube-controller-manager built once and cached
//  2. the control plane on loopback (control-plane.ts): RBAC, a static admin token, SA signing keys
//  3. every object of deploy/kubernetes/*.yaml and deploy/demo/cluster/*.yaml sent as a server-side dry run
//     with strict field validation: the manifests we ship are valid for a real API server
//  4. deploy/kubernetes/rbac.yaml applied for real; kdns runs with a TokenRequest token of its service
//     account, so the RBAC we ship is exactly enough
//  5. the conformance fixture cluster created for real (Pods completed with a spec and given their status),
//     then test/k8s/conformance.test.ts's live half against it
//  6. the real controller at work: a Service with a selector, Pods made Ready → EndpointSlices the
//     endpointslice controller writes → answers; a Pod deleted → its address leaves; an API server restart
//     → kdns resumes its watches and sees a change made after it.
// Prints one line "N passed, N failed" like npm test; exit code non-zero on any failure.
import { spawnSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { startControlPlane } from './control-plane.js';
import { Rest, type KObject } from './rest.js';
import { REPO_ROOT, startKdns } from '../helpers/kdns-process.js';
import { Asker, fixtureObjects, kdnsArgs, until } from '../k8s/harness.js';
import type { ControlPlane } from './control-plane.js';

function yamlObjects(dir: string): Array<{ file: string; obj: KObject }> {
  const out: Array<{ file: string; obj: KObject }> = [];
  for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const doc of parseAllDocuments(readFileSync(path.join(dir, file), 'utf8'))) {
      const obj = doc.toJS() as KObject | null;
      if (obj) out.push({ file: path.join(path.relative(REPO_ROOT, dir), file), obj });
    }
  }
  return out;
}

let passed = 0;
let failed = 0;
function check(ok: boolean, what: string, detail = ''): void {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok' : 'not ok'} - ${what}${ok || detail === '' ? '' : `: ${detail}`}`);
}

/** Runs one compiled tap file with `env`; adds its counts. */
function runTap(file: string, env: Record<string, string>): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'node_modules/tap/dist/esm/run.mjs'), file], {
      cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env },
    });
    let tail = '';
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString()).slice(-4000);
    });
    child.on('close', (code) => {
      const m = /# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?/.exec(tail.slice(tail.lastIndexOf('# { total')));
      passed += m ? Number(m[2] ?? 0) : 0;
      const f = m ? Number(m[3] ?? 0) : 1;
      failed += code !== 0 && f === 0 ? 1 : f;
      resolve();
    });
  });
}

/** The fixture Pods have no spec (the test API server does not need one): give them one, on our Node. */
function asRealPod(pod: KObject): { pod: KObject; status: Record<string, unknown> } {
  const status = (pod.status ?? {}) as Record<string, unknown>;
  const ready = status.phase === 'Running';
  const { status: _dropped, ...rest } = pod;
  return {
    pod: { ...rest, spec: { nodeName: 'kdns-real-node', containers: [{ name: 'c', image: 'kdns.invalid/pause:1' }] } } as KObject,
    status: { ...status, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

/** Step 6: kdns follows what the real endpointslice controller writes, and survives an API server restart. */
async function controllerChecks(cp: ControlPlane, admin: Rest, kubeconfig: string): Promise<void> {
  const kdns = await startKdns(kdnsArgs(['--kubeconfig', kubeconfig], ['--kubernetes-ttl', '5']), { timeoutMs: 60_000 });
  const asker = new Asker(kdns.port);
  try {
    const name = 'ctl.default.svc.cluster.local.';
    const addresses = async (): Promise<string[]> => (await asker.ask(name, 'A', 'udp')).answer.map((l) => l.split(' ').pop()!).sort();
    await admin.mustCreate({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'ctl', namespace: 'default' },
      spec: { clusterIP: 'None', selector: { app: 'ctl' }, ports: [{ name: 'http', port: 80 }] } });
    for (const [pod, ip] of [['ctl-a', '10.244.50.1'], ['ctl-b', '10.244.50.2']] as const) {
      await admin.mustCreate({ apiVersion: 'v1', kind: 'Pod', metadata: { name: pod, namespace: 'default', labels: { app: 'ctl' } },
        spec: { nodeName: 'kdns-real-node', containers: [{ name: 'c', image: 'kdns.invalid/pause:1', ports: [{ containerPort: 80 }] }] } });
      await admin.patchPodStatus('default', pod, { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: 'True' }] });
    }
    const both = await until(addresses, (a) => a.join() === '10.244.50.1,10.244.50.2', 15_000);
    check(both.ok, `Pods made Ready → controller EndpointSlice → headless answer (${both.ms} ms)`, both.value.join());
    await admin.remove({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'ctl-b', namespace: 'default' } });
    const one = await until(addresses, (a) => a.join() === '10.244.50.1', 15_000);
    check(one.ok, `Pod deleted → its address leaves the answer (${one.ms} ms)`, one.value.join());

    await cp.restartApiServer();
    await admin.mustCreate({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'after-restart', namespace: 'default' },
      spec: { ports: [{ name: 'http', port: 80 }] } });
    const after = await until(async () => (await asker.ask('after-restart.default.svc.cluster.local.', 'A', 'udp')).rcode, (r) => r === 'NOERROR', 30_000);
    check(after.ok, `API server restarted → kdns watches again and serves a Service made after it (${after.ms} ms)`, after.value);
    check((await addresses()).join() === '10.244.50.1', 'the zone kept its data across the restart');
  } finally {
    asker.close();
    await kdns.stop();
  }
}

async function main(): Promise<void> {
  const build = spawnSync('bash', [path.join(REPO_ROOT, 'test/real-k8s/build.sh')], { stdio: 'inherit' });
  if (build.status !== 0) {
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kdns-real-k8s-'));
  const cp = await startControlPlane(dir);
  console.log(`# control plane at ${cp.url} (logs in ${dir})`);
  try {
    const admin = new Rest(cp.url, cp.adminToken, cp.caFile);
    const version = await admin.request('GET', '/version');
    check(version.status === 200, `kube-apiserver ${version.body?.gitVersion ?? '?'} answers`);

    // 3. The manifests we ship, as a server-side dry run with strict validation.
    const shipped = [...yamlObjects(path.join(REPO_ROOT, 'deploy/kubernetes')), ...yamlObjects(path.join(REPO_ROOT, 'deploy/demo/cluster'))];
    for (const ns of new Set(shipped.map(({ obj }) => obj.metadata.namespace).filter((n): n is string => n !== undefined && n !== 'default' && n !== 'kube-system'))) {
      await admin.mustCreate({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    }
    for (const { file, obj } of shipped) {
      const r = await admin.create(obj, true);
      // 409: the object exists already (the API server's own `default`, `kubernetes`; namespaces made above).
      const note = r.status === 409 ? ' (exists already)' : '';
      check(r.status === 201 || r.status === 200 || r.status === 409, `${file}: ${obj.kind} ${obj.metadata.name} valid (server-side dry run, strict)${note}`, `${r.status} ${r.message}`);
    }

    // 4. RBAC for real, and kdns's own token.
    for (const { obj } of yamlObjects(path.join(REPO_ROOT, 'deploy/kubernetes')).filter(({ file }) => file.endsWith('rbac.yaml'))) {
      await admin.mustCreate(obj);
    }
    const sa = yamlObjects(path.join(REPO_ROOT, 'deploy/kubernetes')).find(({ obj }) => obj.kind === 'ServiceAccount')!.obj;
    const saNs = sa.metadata.namespace ?? 'default';
    const kdnsKubeconfig = cp.kubeconfig(await admin.token(saNs, sa.metadata.name), path.join(dir, 'kubeconfig-kdns'));
    // Verified pod mode: the rule rbac.yaml ships commented out (Pods list/watch), for a second account.
    await admin.mustCreate({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'kdns-verified', namespace: saNs } });
    await admin.mustCreate({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'kdns-verified-pods' },
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] }] });
    for (const role of ['kdns', 'kdns-verified-pods']) {
      await admin.mustCreate({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: `kdns-verified-${role}` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
        subjects: [{ kind: 'ServiceAccount', name: 'kdns-verified', namespace: saNs }] });
    }
    const verifiedKubeconfig = cp.kubeconfig(await admin.token(saNs, 'kdns-verified'), path.join(dir, 'kubeconfig-kdns-verified'));

    // 5. The fixture cluster for real.
    await admin.mustCreate({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'kdns-real-node' } });
    const objects = fixtureObjects() as KObject[];
    for (const obj of objects.filter((o) => o.kind === 'Namespace' && o.metadata.name !== 'default')) await admin.mustCreate(obj);
    for (const obj of objects.filter((o) => o.kind !== 'Namespace' && o.kind !== 'Pod')) await admin.mustCreate(obj);
    for (const obj of objects.filter((o) => o.kind === 'Pod')) {
      const { pod, status } = asRealPod(obj);
      await admin.mustCreate(pod);
      await admin.patchPodStatus(pod.metadata.namespace ?? 'default', pod.metadata.name, status);
    }
    check(true, `fixture cluster created (${objects.length} objects)`);

    const env = { KDNS_REAL_K8S_KUBECONFIG: kdnsKubeconfig, KDNS_REAL_K8S_KUBECONFIG_VERIFIED: verifiedKubeconfig };
    await runTap(path.join(REPO_ROOT, 'dist/test/k8s/conformance.test.js'), env);
    await controllerChecks(cp, admin, kdnsKubeconfig);
  } finally {
    await cp.stop();
    if (failed === 0) rmSync(dir, { recursive: true, force: true });
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

await main();
