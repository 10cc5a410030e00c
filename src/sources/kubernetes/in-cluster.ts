// `--in-cluster`: the pod's service account, as client-go's rest.InClusterConfig() finds it, and an
// error (exit 2) when kdns is not in a pod. client-node's own loaders would instead fall back to
// ~/.kube/config or to http://localhost:8080 and retry for ever, which hides the mistake.

import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '../../errors.js';

/** Where the kubelet mounts the service account (token, ca.crt, namespace) in every pod. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Ports client-node talks plain HTTP to (no CA needed); every other port is HTTPS. */
const PLAIN_HTTP_PORTS = new Set(['80', '8080', '8001']);

/**
 * Why in-cluster configuration cannot work here, or null when it can: the API address from the
 * KUBERNETES_SERVICE_HOST/PORT variables the kubelet sets, and a readable token (and CA for HTTPS).
 */
export function inClusterProblem(env: NodeJS.ProcessEnv, root = ''): string | null {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const port = env.KUBERNETES_SERVICE_PORT ?? '';
  if (host === '' || port === '') {
    return '--in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set, so kdns is not running in a pod; '
      + 'outside a cluster use --kubeconfig FILE';
  }
  const needed = PLAIN_HTTP_PORTS.has(port) ? ['token'] : ['token', 'ca.crt'];
  for (const file of needed) {
    const path = join(root + SERVICE_ACCOUNT_DIR, file);
    try {
      accessSync(path, constants.R_OK);
    } catch (err) {
      return `--in-cluster: cannot read the service-account ${file === 'token' ? 'token' : 'CA certificate'} ${path} `
        + `(${(err as NodeJS.ErrnoException).code ?? String(err)}); is automountServiceAccountToken off for this pod?`;
    }
  }
  return null;
}

/**
 * The in-cluster KubeConfig; throws ConfigError (exit 2) when kdns is not in a pod. `root` prefixes
 * the service-account path (tests; client-node's loader takes the same prefix).
 */
export function loadInClusterConfig(env: NodeJS.ProcessEnv = process.env, root = ''): KubeConfig {
  const problem = inClusterProblem(env, root);
  if (problem !== null) throw new ConfigError(null, null, problem);
  const kc = new KubeConfig();
  kc.loadFromCluster(root);
  return kc;
}
