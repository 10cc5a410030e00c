// `--in-cluster` outside a pod: kdns exits 2 with a message saying what is missing, as client-go's
// in-cluster config fails, instead of falling back to ~/.kube/config or retrying localhost:8080 for
// ever. The CLI runs as a child with a HOME holding a valid kubeconfig it must not use.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { CLI_PATH, REPO_ROOT } from '../helpers/kdns-process.js';
import { TestApiServer } from '../k8s-api/server.js';
import { SERVICE_ACCOUNT_DIR } from '../../src/sources/kubernetes/in-cluster.js';

interface Run { code: number | null; stderr: string; stdout: string }

/** kdns with exactly `env` (plus PATH), killed after 90 s (a loaded machine is slow to start Node): a fallback that retries for ever fails the test. */
function run(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], { cwd: REPO_ROOT, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const ARGS = ['--in-cluster', '--listen', '127.0.0.1:0', '--http', 'none', '--no-forward'];

// A HOME whose ~/.kube/config points at a live API server: the old fallback would have synced from it.
const api = await TestApiServer.start();
t.teardown(() => api.close());
const home = mkdtempSync(path.join(os.tmpdir(), 'kdns-home-'));
t.teardown(() => rmSync(home, { recursive: true, force: true }));
mkdirSync(path.join(home, '.kube'));
writeFileSync(path.join(home, '.kube', 'config'), api.kubeconfigFile());

t.test('no KUBERNETES_SERVICE_HOST/PORT: exit 2, not ~/.kube/config', async (t) => {
  const r = await run(ARGS, { HOME: home });
  t.equal(r.code, 2, 'exit 2 (configuration error)');
  t.match(r.stderr, /--in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set/, 'says what is missing');
  t.match(r.stderr, /--kubeconfig FILE/, 'and what to use instead');
  t.equal(api.requests.length, 0, 'never asked the API server in ~/.kube/config');
});

t.test('service variables set but no service-account files: exit 2 naming the token', { skip: existsSync(SERVICE_ACCOUNT_DIR) && 'this machine is a pod' }, async (t) => {
  const r = await run(ARGS, { HOME: home, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) });
  t.equal(r.code, 2, 'exit 2');
  t.match(r.stderr, `--in-cluster: cannot read the service-account token ${SERVICE_ACCOUNT_DIR}/token (ENOENT)`, 'names the file and the errno');
  t.equal(api.requests.length, 0, 'no request without credentials');
});
