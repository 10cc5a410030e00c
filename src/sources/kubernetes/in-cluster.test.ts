// inClusterProblem: what is missing for the pod's service account, checked against a fake root.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ConfigError } from '../../errors.js';
import { inClusterProblem, loadInClusterConfig, SERVICE_ACCOUNT_DIR } from './in-cluster.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'kdns-sa-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const dir = path.join(root, SERVICE_ACCOUNT_DIR);
mkdirSync(dir, { recursive: true });
const POD = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

t.match(inClusterProblem({}, root), /KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set/, 'no variables');
t.match(inClusterProblem({ KUBERNETES_SERVICE_HOST: '10.96.0.1' }, root), /not set/, 'only the host');
t.match(inClusterProblem(POD, root), `service-account token ${dir}/token (ENOENT)`, 'no token');
writeFileSync(path.join(dir, 'token'), 'x');
t.match(inClusterProblem(POD, root), `service-account CA certificate ${dir}/ca.crt (ENOENT)`, 'token but no CA, HTTPS');
t.equal(inClusterProblem({ ...POD, KUBERNETES_SERVICE_PORT: '8080' }, root), null, 'plain HTTP needs no CA');
writeFileSync(path.join(dir, 'ca.crt'), 'x');
t.equal(inClusterProblem(POD, root), null, 'token and CA: fine');
t.throws(() => loadInClusterConfig({}, root), ConfigError, 'loadInClusterConfig throws a ConfigError (exit 2)');
