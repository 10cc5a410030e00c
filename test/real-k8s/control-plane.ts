// A real Kubernetes control plane on loopback for the opt-in suite (`npm run test:real-k8s`): etcd,
// kube-apiserver and kube-controller-manager built by test/real-k8s/build.sh, a CA and serving
// certificate made with openssl, a static admin token, service-account signing keys (so TokenRequest
// gives real bound tokens), RBAC on, dual-stack Service ranges. Every process is ours and is stopped by PID.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, openSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';

export const K8S_VERSION = process.env.K8S_VERSION ?? '1.37.2';
const CACHE = process.env.KDNS_REAL_K8S_CACHE ?? path.join(os.homedir(), '.cache', 'kdns-real-k8s');
export const BIN_DIR = path.join(CACHE, `v${K8S_VERSION}`, 'bin');
const ETCD = path.join(CACHE, 'etcd', 'usr', 'bin', 'etcd');

export interface ControlPlane {
  url: string;
  /** The system:masters token (static token file). */
  adminToken: string;
  caFile: string;
  /** A kubeconfig for `token` (the admin one by default). */
  kubeconfig(token?: string, file?: string): string;
  /** Restarts kube-apiserver only (etcd keeps the data), as an API server upgrade would. */
  restartApiServer(): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** CA, API server certificate (loopback, kubernetes.default, the first Service IP), SA keys, token file. */
function makeCredentials(dir: string): { caFile: string; caKey: string; cert: string; key: string; saKey: string; saPub: string; tokens: string; adminToken: string } {
  const f = (name: string): string => path.join(dir, name);
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=kdns-real-k8s-ca']);
  writeFileSync(f('api.ext'), [
    'subjectAltName=IP:127.0.0.1,IP:::1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc',
    'basicConstraints=CA:FALSE', 'extendedKeyUsage=serverAuth', '',
  ].join('\n'));
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('api.key'), '-out', f('api.csr'), '-subj', '/CN=kube-apiserver']);
  openssl(['x509', '-req', '-in', f('api.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-set_serial', '2', '-out', f('api.crt'), '-days', '2', '-extfile', f('api.ext')]);
  openssl(['genrsa', '-out', f('sa.key'), '2048']);
  openssl(['rsa', '-in', f('sa.key'), '-pubout', '-out', f('sa.pub')]);
  const adminToken = `admin-${process.pid}-${Date.now().toString(36)}`;
  writeFileSync(f('tokens.csv'), `${adminToken},kdns-admin,kdns-admin-uid,"system:masters"\n`);
  return { caFile: f('ca.crt'), caKey: f('ca.key'), cert: f('api.crt'), key: f('api.key'), saKey: f('sa.key'), saPub: f('sa.pub'), tokens: f('tokens.csv'), adminToken };
}

function launch(dir: string, name: string, bin: string, args: string[]): ChildProcess {
  const log = openSync(path.join(dir, `${name}.log`), 'a');
  const child = spawn(bin, args, { stdio: ['ignore', log, log] });
  child.on('error', (e) => process.stderr.write(`real-k8s: ${name}: ${e.message}\n`));
  return child;
}

async function stopChild(child: ChildProcess | null): Promise<void> {
  if (child === null || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** GET `pathname` with the admin token; resolves with the status (0 when the server is not up). */
function get(url: string, token: string, ca: string, pathname: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = https.get(url + pathname, { ca, headers: { authorization: `Bearer ${token}` }, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.on('timeout', () => req.destroy());
  });
}

/** Polls `check` until it holds; fails at once when `child` exits, else after `ms`, with its log's tail. */
async function waitFor(what: string, child: ChildProcess, check: () => Promise<boolean>, ms: number, logFile: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  let tail = '';
  try { tail = readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n'); } catch { /* no log yet */ }
  throw new Error(`real-k8s: ${what} not ready (exit ${child.exitCode ?? child.signalCode ?? 'none'}, waited up to ${ms / 1000} s); last lines of ${logFile}:\n${tail}`);
}

export async function startControlPlane(dir: string): Promise<ControlPlane> {
  mkdirSync(dir, { recursive: true });
  const cred = makeCredentials(dir);
  const ca = readFileSync(cred.caFile, 'utf8');
  const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
  const url = `https://127.0.0.1:${apiPort}`;

  const etcd = launch(dir, 'etcd', ETCD, [
    '--data-dir', path.join(dir, 'etcd-data'), '--name', 'kdns-real-k8s',
    '--listen-client-urls', `http://127.0.0.1:${etcdClient}`, '--advertise-client-urls', `http://127.0.0.1:${etcdClient}`,
    '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
    '--initial-cluster', `kdns-real-k8s=http://127.0.0.1:${etcdPeer}`,
  ]);
  const apiArgs = [
    '--etcd-servers', `http://127.0.0.1:${etcdClient}`,
    '--bind-address', '127.0.0.1', '--advertise-address', '127.0.0.1', '--secure-port', String(apiPort),
    '--tls-cert-file', cred.cert, '--tls-private-key-file', cred.key, '--client-ca-file', cred.caFile,
    '--authorization-mode', 'RBAC', '--token-auth-file', cred.tokens,
    '--service-account-issuer', 'https://kubernetes.default.svc', '--service-account-key-file', cred.saPub,
    '--service-account-signing-key-file', cred.saKey, '--api-audiences', 'https://kubernetes.default.svc',
    '--service-cluster-ip-range', '10.96.0.0/12,fd00:96::/112',
    // A loopback advertise address is not a valid endpoint for the `kubernetes` Service.
    '--endpoint-reconciler-type', 'none',
  ];
  let api: ChildProcess | null = launch(dir, 'kube-apiserver', path.join(BIN_DIR, 'kube-apiserver'), apiArgs);
  const apiReady = (): Promise<void> => waitFor('kube-apiserver', api!, async () => (await get(url, cred.adminToken, ca, '/readyz')).status === 200, 90_000, path.join(dir, 'kube-apiserver.log'));
  let kcm: ChildProcess | null = null;
  const kubeconfig = (token = cred.adminToken, file = path.join(dir, `kubeconfig-${token.slice(0, 8)}`)): string => {
    writeFileSync(file, [
      'apiVersion: v1', 'kind: Config', 'current-context: real',
      'clusters:', `- name: real`, `  cluster: {server: "${url}", certificate-authority: "${cred.caFile}"}`,
      'users:', `- name: real`, `  user: {token: "${token}"}`,
      'contexts:', '- name: real', '  context: {cluster: real, user: real}', '',
    ].join('\n'));
    return file;
  };
  const stop = async (): Promise<void> => {
    await stopChild(kcm);
    await stopChild(api);
    await stopChild(etcd);
  };
  try {
    await apiReady();
    kcm = launch(dir, 'kube-controller-manager', path.join(BIN_DIR, 'kube-controller-manager'), [
      '--kubeconfig', kubeconfig(), '--authentication-kubeconfig', kubeconfig(), '--authorization-kubeconfig', kubeconfig(),
      '--bind-address', '127.0.0.1', '--secure-port', String(await freePort()), '--leader-elect=false',
      '--controllers', ['namespace', 'endpointslice', 'endpointslice-mirroring', 'endpoints', 'serviceaccount', 'serviceaccount-token', 'garbage-collector']
        .map((c) => `${c}-controller`).join(','),
      '--service-account-private-key-file', cred.saKey, '--root-ca-file', cred.caFile, '--use-service-account-credentials=false',
    ]);
    // The service-account controller makes `default` in every namespace: the controller manager works.
    await waitFor('kube-controller-manager', kcm, async () => (await get(url, cred.adminToken, ca, '/api/v1/namespaces/default/serviceaccounts/default')).status === 200, 90_000, path.join(dir, 'kube-controller-manager.log'));
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url, adminToken: cred.adminToken, caFile: cred.caFile, kubeconfig,
    async restartApiServer() {
      await stopChild(api);
      api = launch(dir, 'kube-apiserver', path.join(BIN_DIR, 'kube-apiserver'), apiArgs);
      await apiReady();
    },
    stop,
  };
}
