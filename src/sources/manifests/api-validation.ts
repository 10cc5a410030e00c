// What a real API server refuses to store, for the kinds DNS reads, so that `--manifests` does not
// serve names a cluster could never hold (a demo manifest once had an unnamed third Service port,
// which kube-apiserver rejects with `spec.ports[2].name: Required value`). The rules follow
// kubernetes/pkg/apis/{core,discovery}/validation for the fields DNS depends on: names, ports,
// protocols, cluster IPs, address types and addresses. Problems read like the API server's field
// errors: "<field path>: <type>: <detail>". Pure: objects in, problems out.

import { isIP } from 'node:net';

type Obj = Record<string, unknown>;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const IANA_SVC_NAME = /^(?=.{1,15}$)(?!.*--)(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
const ADDRESS_TYPES = ['FQDN', 'IPv4', 'IPv6'];
const MAX_SLICE_ENDPOINTS = 1000;
const MAX_ENDPOINT_ADDRESSES = 100;

function asObj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function quoted(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

/** Collects field errors in the API server's wording. */
class FieldErrors {
  readonly problems: string[] = [];
  required(path: string, detail = ''): void {
    this.problems.push(`${path}: Required value${detail ? `: ${detail}` : ''}`);
  }
  invalid(path: string, value: unknown, detail: string): void {
    this.problems.push(`${path}: Invalid value: ${quoted(value)}: ${detail}`);
  }
  unsupported(path: string, value: unknown, supported: string[]): void {
    this.problems.push(`${path}: Unsupported value: ${quoted(value)}: supported values: ${supported.map((s) => `"${s}"`).join(', ')}`);
  }
  duplicate(path: string, value: unknown): void {
    this.problems.push(`${path}: Duplicate value: ${quoted(value)}`);
  }
  forbidden(path: string, detail: string): void {
    this.problems.push(`${path}: Forbidden: ${detail}`);
  }
  tooMany(path: string, n: number, max: number): void {
    this.problems.push(`${path}: Too many: ${n}: must have at most ${max} items`);
  }

  label(path: string, v: unknown): void {
    if (typeof v !== 'string' || v.length > 63 || !DNS1123_LABEL.test(v)) {
      this.invalid(path, v, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character");
    }
  }
  subdomain(path: string, v: unknown): void {
    if (typeof v !== 'string' || v.length > 253 || !DNS1123_SUBDOMAIN.test(v)) {
      this.invalid(path, v, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character");
    }
  }
  portNumber(path: string, v: unknown): void {
    if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 65535) this.invalid(path, v, 'must be between 1 and 65535, inclusive');
  }
  protocol(path: string, v: unknown): void {
    if (v !== undefined && v !== null && !PROTOCOLS.includes(v as string)) this.unsupported(path, v, PROTOCOLS);
  }
  ip(path: string, v: unknown, family?: 4 | 6): void {
    const got = typeof v === 'string' && !v.includes('%') ? isIP(v) : 0;
    if (got === 0) this.invalid(path, v, 'must be a valid IP address');
    else if (family !== undefined && got !== family) this.invalid(path, v, `must be a valid IPv${family} address`);
  }
}

/** metadata.name (required, `nameRule`), metadata.namespace and label syntax. */
function validateMeta(e: FieldErrors, obj: Obj, nameRule: 'label' | 'dns1035' | 'subdomain', namespaced: boolean): void {
  const m = asObj(obj.metadata) ?? {};
  const name = m.name;
  if (name === undefined || name === null || name === '') e.required('metadata.name', 'name or generateName is required');
  else if (nameRule === 'subdomain') e.subdomain('metadata.name', name);
  else if (nameRule === 'label') e.label('metadata.name', name);
  else if (typeof name !== 'string' || name.length > 63 || !DNS1035_LABEL.test(name)) {
    e.invalid('metadata.name', name, "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character");
  }
  if (namespaced && m.namespace !== undefined && m.namespace !== null && m.namespace !== '') e.label('metadata.namespace', m.namespace);
  for (const [key, value] of Object.entries(asObj(m.labels) ?? {})) {
    const slash = key.lastIndexOf('/');
    const prefix = slash < 0 ? '' : key.slice(0, slash);
    const local = key.slice(slash + 1);
    if ((prefix !== '' && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) || local.length > 63 || !LABEL_NAME.test(local)) {
      e.invalid('metadata.labels', key, 'name part must consist of alphanumeric characters, \'-\', \'_\' or \'.\', with an optional DNS subdomain prefix and \'/\'');
    }
    if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value)) {
      e.invalid(`metadata.labels[${key}]`, value, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', at most 63 characters");
    }
  }
}

/** Port names: required when there is more than one port, DNS-1123 labels, unique. */
function validatePortNames(e: FieldErrors, path: string, ports: unknown[], requireNames: boolean): void {
  const seen = new Set<string>();
  for (const [i, raw] of ports.entries()) {
    const name = asObj(raw)?.name;
    if (name === undefined || name === null || name === '') {
      if (requireNames) e.required(`${path}[${i}].name`, 'every port needs a name when there is more than one');
      continue;
    }
    e.label(`${path}[${i}].name`, name);
    if (seen.has(name as string)) e.duplicate(`${path}[${i}].name`, name);
    seen.add(name as string);
  }
}

function validateService(e: FieldErrors, obj: Obj): void {
  validateMeta(e, obj, 'dns1035', true);
  const spec = asObj(obj.spec) ?? {};
  const type = spec.type ?? 'ClusterIP';
  if (!SERVICE_TYPES.includes(type as string)) e.unsupported('spec.type', type, SERVICE_TYPES);
  const clusterIPs = list(spec.clusterIPs);
  const clusterIP = spec.clusterIP ?? '';
  const headless = clusterIP === 'None' || clusterIPs[0] === 'None';

  const ports = list(spec.ports);
  if (ports.length === 0 && !headless && type !== 'ExternalName') e.required('spec.ports');
  validatePortNames(e, 'spec.ports', ports, ports.length > 1);
  const pairs = new Set<string>();
  for (const [i, raw] of ports.entries()) {
    const p = asObj(raw);
    if (!p) {
      e.invalid(`spec.ports[${i}]`, raw, 'must be an object');
      continue;
    }
    e.portNumber(`spec.ports[${i}].port`, p.port);
    e.protocol(`spec.ports[${i}].protocol`, p.protocol);
    const target = p.targetPort;
    if (typeof target === 'number') e.portNumber(`spec.ports[${i}].targetPort`, target);
    else if (target !== undefined && target !== null && !(typeof target === 'string' && IANA_SVC_NAME.test(target))) {
      e.invalid(`spec.ports[${i}].targetPort`, target, 'must be a port number 1-65535 or an IANA service name');
    }
    const pair = `${String(p.port)}/${String(p.protocol ?? 'TCP')}`;
    if (pairs.has(pair)) e.duplicate(`spec.ports[${i}]`, { port: p.port, protocol: p.protocol ?? 'TCP' });
    pairs.add(pair);
  }

  if (type === 'ExternalName') {
    if (clusterIP !== '' || clusterIPs.length > 0) e.forbidden('spec.clusterIPs', 'may not be set for ExternalName services');
    const target = typeof spec.externalName === 'string' ? spec.externalName.replace(/\.$/, '') : '';
    if (target === '') e.required('spec.externalName');
    else e.subdomain('spec.externalName', target);
    return;
  }
  if (clusterIP !== '' && clusterIP !== 'None') e.ip('spec.clusterIP', clusterIP);
  if (clusterIPs.length > 2) e.tooMany('spec.clusterIPs', clusterIPs.length, 2);
  if (clusterIP !== '' && clusterIPs.length > 0 && clusterIPs[0] !== clusterIP) e.invalid('spec.clusterIPs[0]', clusterIPs[0], 'must be same as clusterIP');
  if (headless) {
    if (clusterIPs.length > 1) e.invalid('spec.clusterIPs[1]', clusterIPs[1], 'must not be set when clusterIPs[0] is None');
    if (type === 'NodePort' || type === 'LoadBalancer') e.invalid('spec.clusterIP', 'None', `may not be set to 'None' for ${type as string} services`);
    return;
  }
  for (const [i, ip] of clusterIPs.entries()) e.ip(`spec.clusterIPs[${i}]`, ip);
  if (clusterIPs.length === 2 && typeof clusterIPs[0] === 'string' && typeof clusterIPs[1] === 'string' && isIP(clusterIPs[0]) === isIP(clusterIPs[1])) {
    e.invalid('spec.clusterIPs[1]', clusterIPs[1], 'must be of a different IP family than clusterIPs[0]');
  }
}

function validateEndpointSlice(e: FieldErrors, obj: Obj): void {
  validateMeta(e, obj, 'subdomain', true);
  const addressType = obj.addressType;
  if (addressType === undefined || addressType === null || addressType === '') e.required('addressType');
  else if (!ADDRESS_TYPES.includes(addressType as string)) e.unsupported('addressType', addressType, ADDRESS_TYPES);
  const family = addressType === 'IPv4' ? 4 : addressType === 'IPv6' ? 6 : undefined;
  const endpoints = list(obj.endpoints);
  if (endpoints.length > MAX_SLICE_ENDPOINTS) e.tooMany('endpoints', endpoints.length, MAX_SLICE_ENDPOINTS);
  for (const [i, raw] of endpoints.entries()) {
    const ep = asObj(raw) ?? {};
    const addresses = list(ep.addresses);
    if (addresses.length === 0) e.required(`endpoints[${i}].addresses`, 'must contain at least 1 address');
    if (addresses.length > MAX_ENDPOINT_ADDRESSES) e.tooMany(`endpoints[${i}].addresses`, addresses.length, MAX_ENDPOINT_ADDRESSES);
    for (const [j, a] of addresses.entries()) {
      if (addressType === 'FQDN') e.subdomain(`endpoints[${i}].addresses[${j}]`, a);
      else if (family !== undefined) e.ip(`endpoints[${i}].addresses[${j}]`, a, family);
    }
    if (ep.hostname !== undefined && ep.hostname !== null) e.label(`endpoints[${i}].hostname`, ep.hostname);
  }
  const ports = list(obj.ports);
  validatePortNames(e, 'ports', ports, false);
  for (const [i, raw] of ports.entries()) {
    const p = asObj(raw) ?? {};
    if (p.port !== undefined && p.port !== null) e.portNumber(`ports[${i}].port`, p.port);
    e.protocol(`ports[${i}].protocol`, p.protocol);
  }
}

function validateEndpoints(e: FieldErrors, obj: Obj): void {
  validateMeta(e, obj, 'subdomain', true);
  for (const [i, rawSubset] of list(obj.subsets).entries()) {
    const subset = asObj(rawSubset) ?? {};
    const path = `subsets[${i}]`;
    for (const field of ['addresses', 'notReadyAddresses']) {
      for (const [j, rawAddr] of list(subset[field]).entries()) {
        const a = asObj(rawAddr) ?? {};
        e.ip(`${path}.${field}[${j}].ip`, a.ip);
        if (a.hostname !== undefined && a.hostname !== null && a.hostname !== '') e.label(`${path}.${field}[${j}].hostname`, a.hostname);
      }
    }
    const ports = list(subset.ports);
    validatePortNames(e, `${path}.ports`, ports, ports.length > 1);
    for (const [j, raw] of ports.entries()) {
      const p = asObj(raw) ?? {};
      e.portNumber(`${path}.ports[${j}].port`, p.port);
      e.protocol(`${path}.ports[${j}].protocol`, p.protocol);
    }
  }
}

const VALIDATORS: Record<string, (e: FieldErrors, obj: Obj) => void> = {
  Service: validateService,
  EndpointSlice: validateEndpointSlice,
  Endpoints: validateEndpoints,
  Namespace: (e, obj) => validateMeta(e, obj, 'label', false),
  Pod: (e, obj) => validateMeta(e, obj, 'subdomain', true),
};

/** Field errors a real API server would answer to creating `obj` as `kind`; [] when it would accept it. */
export function apiServerProblems(kind: string, obj: unknown): string[] {
  const o = asObj(obj);
  const validate = VALIDATORS[kind];
  if (!o || !validate) return [];
  const e = new FieldErrors();
  validate(e, o);
  return e.problems;
}
