// The few REST calls the real-control-plane suite makes, over https with the control plane's CA: create
// (optionally as a server-side dry run with strict field validation), delete, status patch, TokenRequest.
import https from 'node:https';
import { readFileSync } from 'node:fs';

export interface KObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

/** Collection paths of the kinds the suite sends (its fixtures and deploy/). */
const COLLECTIONS: Record<string, { prefix: string; plural: string; namespaced: boolean }> = {
  Namespace: { prefix: '/api/v1', plural: 'namespaces', namespaced: false },
  Node: { prefix: '/api/v1', plural: 'nodes', namespaced: false },
  Service: { prefix: '/api/v1', plural: 'services', namespaced: true },
  Pod: { prefix: '/api/v1', plural: 'pods', namespaced: true },
  ServiceAccount: { prefix: '/api/v1', plural: 'serviceaccounts', namespaced: true },
  ConfigMap: { prefix: '/api/v1', plural: 'configmaps', namespaced: true },
  Endpoints: { prefix: '/api/v1', plural: 'endpoints', namespaced: true },
  EndpointSlice: { prefix: '/apis/discovery.k8s.io/v1', plural: 'endpointslices', namespaced: true },
  ClusterRole: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'clusterroles', namespaced: false },
  ClusterRoleBinding: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'clusterrolebindings', namespaced: false },
  Deployment: { prefix: '/apis/apps/v1', plural: 'deployments', namespaced: true },
  DaemonSet: { prefix: '/apis/apps/v1', plural: 'daemonsets', namespaced: true },
  StatefulSet: { prefix: '/apis/apps/v1', plural: 'statefulsets', namespaced: true },
  ReplicaSet: { prefix: '/apis/apps/v1', plural: 'replicasets', namespaced: true },
  PodDisruptionBudget: { prefix: '/apis/policy/v1', plural: 'poddisruptionbudgets', namespaced: true },
};

export class Rest {
  private readonly ca: string;

  constructor(private readonly url: string, private readonly bearer: string, caFile: string) {
    this.ca = readFileSync(caFile, 'utf8');
  }

  static collection(obj: KObject): string {
    const c = COLLECTIONS[obj.kind ?? ''];
    if (c === undefined) throw new Error(`real-k8s: no REST path known for kind ${obj.kind}`);
    const ns = obj.metadata.namespace ?? 'default';
    return c.namespaced ? `${c.prefix}/namespaces/${ns}/${c.plural}` : `${c.prefix}/${c.plural}`;
  }

  request(method: string, pathname: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: any }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(this.url + pathname, {
        method, ca: this.ca,
        headers: { authorization: `Bearer ${this.bearer}`, accept: 'application/json', ...(payload ? { 'content-type': contentType } : {}) },
      }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => { text += d.toString(); });
        res.on('end', () => {
          let parsed: unknown = text;
          try { parsed = JSON.parse(text); } catch { /* not JSON */ }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  /** Creates `obj`; with `dryRun` the server validates it strictly (unknown fields are errors) and stores nothing. */
  async create(obj: KObject, dryRun = false): Promise<{ status: number; message: string }> {
    const query = dryRun ? '?dryRun=All&fieldValidation=Strict' : '?fieldValidation=Strict';
    const r = await this.request('POST', Rest.collection(obj) + query, obj);
    return { status: r.status, message: typeof r.body === 'object' && r.body !== null ? String(r.body.message ?? '') : String(r.body) };
  }

  async mustCreate(obj: KObject): Promise<void> {
    const r = await this.create(obj);
    if (r.status !== 201 && r.status !== 200) throw new Error(`real-k8s: creating ${obj.kind} ${obj.metadata.namespace ?? ''}/${obj.metadata.name}: ${r.status} ${r.message}`);
  }

  async remove(obj: KObject): Promise<number> {
    const r = await this.request('DELETE', `${Rest.collection(obj)}/${obj.metadata.name}?gracePeriodSeconds=0`);
    return r.status;
  }

  /** Merge-patches a Pod's status (no kubelet runs: the suite plays its part). */
  async patchPodStatus(ns: string, name: string, status: unknown): Promise<void> {
    const r = await this.request('PATCH', `/api/v1/namespaces/${ns}/pods/${name}/status`, { status }, 'application/merge-patch+json');
    if (r.status !== 200) throw new Error(`real-k8s: pod ${ns}/${name} status: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  }

  /** A bound token for a service account (TokenRequest), as a pod would get projected. */
  async token(ns: string, serviceAccount: string): Promise<string> {
    const r = await this.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts/${serviceAccount}/token`, {
      apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 },
    });
    if (r.status !== 201) throw new Error(`real-k8s: TokenRequest for ${ns}/${serviceAccount}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    return String(r.body.status.token);
  }
}
