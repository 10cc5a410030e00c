// Checks a plain Kubernetes object against the OpenAPI models that @kubernetes/client-node generates
// (each model class lists its fields and their types in `attributeTypeMap`). client-node itself
// silently drops unknown fields when it deserializes, so a typo such as `readinessprobe` would pass
// unnoticed; this walker reports it, with the path, as `kubectl apply --validate=strict` would.

import * as k8s from '@kubernetes/client-node';

/** apiVersion + kind → the client-node model, for the kinds deploy/ may use. */
export const KNOWN_KINDS: Readonly<Record<string, string>> = {
  'v1/ServiceAccount': 'V1ServiceAccount',
  'v1/ConfigMap': 'V1ConfigMap',
  'v1/Service': 'V1Service',
  'apps/v1/Deployment': 'V1Deployment',
  'apps/v1/DaemonSet': 'V1DaemonSet',
  'policy/v1/PodDisruptionBudget': 'V1PodDisruptionBudget',
  'rbac.authorization.k8s.io/v1/ClusterRole': 'V1ClusterRole',
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': 'V1ClusterRoleBinding',
};

export const CLUSTER_SCOPED = new Set(['ClusterRole', 'ClusterRoleBinding', 'Namespace']);

interface Attribute {
  baseName: string;
  type: string;
  format: string;
}
type ModelClass = { getAttributeTypeMap(): Attribute[] };

const models = k8s as unknown as Record<string, ModelClass | undefined>;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every problem found in `value` read as `type` (a client-node type string), as "path: message". */
export function schemaProblems(value: unknown, type: string, path = ''): string[] {
  const out: string[] = [];
  walk(value, type, '', path, out);
  return out;
}

function walk(value: unknown, type: string, format: string, path: string, out: string[]): void {
  const at = path === '' ? '(root)' : path;
  if (value === null || value === undefined) {
    out.push(`${at}: null where ${type} was expected (delete the key instead)`);
    return;
  }
  switch (type) {
    case 'string':
      if (typeof value !== 'string') out.push(`${at}: expected a string, got ${typeof value} ${JSON.stringify(value)}`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') out.push(`${at}: expected true or false, got ${JSON.stringify(value)}`);
      return;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) out.push(`${at}: expected a number, got ${JSON.stringify(value)}`);
      else if ((format === 'int32' || format === 'int64') && !Number.isInteger(value)) out.push(`${at}: expected an integer, got ${value}`);
      return;
    case 'IntOrString':
      if (typeof value !== 'string' && !(typeof value === 'number' && Number.isInteger(value))) {
        out.push(`${at}: expected an integer or a string, got ${JSON.stringify(value)}`);
      }
      return;
    case 'Date':
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) out.push(`${at}: expected a timestamp`);
      return;
    case 'any':
    case 'object':
      return;
  }
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) {
      out.push(`${at}: expected a list of ${array[1]}`);
      return;
    }
    value.forEach((item, i) => walk(item, array[1]!, '', `${path}[${i}]`, out));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (!isPlainObject(value)) {
      out.push(`${at}: expected a map of ${map[1]}`);
      return;
    }
    for (const [k, v] of Object.entries(value)) walk(v, map[1]!, '', `${path}.${k}`, out);
    return;
  }
  const model = models[type];
  if (!model || typeof model.getAttributeTypeMap !== 'function') {
    out.push(`${at}: no client-node model named ${type}`);
    return;
  }
  if (!isPlainObject(value)) {
    out.push(`${at}: expected an object (${type}), got ${JSON.stringify(value)}`);
    return;
  }
  const attributes = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a]));
  for (const [k, v] of Object.entries(value)) {
    const a = attributes.get(k);
    const child = path === '' ? k : `${path}.${k}`;
    if (!a) {
      out.push(`${child}: unknown field in ${type}`);
      continue;
    }
    walk(v, a.type, a.format, child, out);
  }
}
