// API objects cut down to what DNS needs, as they arrive. The converters accept both the
// @kubernetes/client-node model classes and plain JSON/YAML objects (the models use the same field
// names), validate, and return a slim object or an error string: a bad object is logged and skipped
// by the caller, it never reaches the naming rules, so it can never break the zone.

import { nameToKey } from '../../dns/name.js';
import { canonicalIp, type IpFamily } from './ip.js';

export interface SlimPort {
  name: string; // '' when unnamed (no SRV)
  port: number;
  protocol: 'tcp' | 'udp' | 'sctp'; // lower case: the SRV label form
}

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';

export interface SlimService {
  ns: string;
  name: string;
  type: ServiceType;
  headless: boolean; // clusterIP "None"
  clusterIPs: string[]; // canonical, empty when headless (or not yet allocated)
  externalName: string; // key form ("www.example.com."), '' unless type ExternalName
  ports: SlimPort[];
  publishNotReadyAddresses: boolean; // also set by the legacy tolerate-unready annotation
}

export interface SlimEndpoint {
  addresses: string[]; // canonical IPs
  ready: boolean;
  hostname: string; // '' when absent: the dashed IP names it
}

/** Endpoints that share one port list (an EndpointSlice, or one subset of a v1 Endpoints). */
export interface EndpointGroup {
  endpoints: SlimEndpoint[];
  ports: SlimPort[];
}

export interface SlimEndpointSlice {
  ns: string;
  name: string;
  service: string; // label kubernetes.io/service-name
  addressType: 'IPv4' | 'IPv6';
  group: EndpointGroup;
}

/** Legacy core/v1 Endpoints; its name is the service name. */
export interface SlimEndpoints {
  ns: string;
  name: string;
  groups: EndpointGroup[];
}

export interface SlimNamespace {
  name: string;
}

export interface SlimPod {
  ns: string;
  name: string;
  podIPs: string[]; // canonical
  phase: string;
}

export type Converted<T> = T | string;

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const TOLERATE_UNREADY = 'service.alpha.kubernetes.io/tolerate-unready-endpoints';

// DNS-1123 label: what namespace, service, hostname and (lower-case) port names must be so that they
// can sit in a DNS name unescaped.
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
// DNS-1123 subdomain: the name rule of kinds whose names never appear in DNS (EndpointSlice, Pod).
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const PROTOCOLS: Record<string, SlimPort['protocol']> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };

type Obj = Record<string, unknown>;

function asObj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/**
 * `list` in an array of exactly its length. An array grown by push keeps spare room (17 slots after the
 * first push, ~130 bytes): slim objects are kept for the life of the object, ~10^5 of these arrays.
 */
export function exact<T>(list: T[]): T[] {
  return list.slice();
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** metadata.namespace and metadata.name, validated; `namespaced` false for cluster-scoped kinds. */
function meta(obj: unknown, kind: string, namespaced: boolean, rule = LABEL): { ns: string; name: string; m: Obj } | string {
  const o = asObj(obj);
  if (!o) return `${kind}: not an object`;
  const m = asObj(o.metadata);
  if (!m) return `${kind}: missing metadata`;
  const name = str(m.name);
  if (!rule.test(name) || name.length > 253) return `${kind}: metadata.name '${name}' is not a valid name`;
  if (!namespaced) return { ns: '', name, m };
  const ns = m.namespace === undefined || m.namespace === null || m.namespace === '' ? 'default' : str(m.namespace);
  if (!LABEL.test(ns)) return `${kind} ${name}: metadata.namespace '${ns}' is not a DNS-1123 label`;
  return { ns, name, m };
}

function convertPorts(list: unknown, where: string): SlimPort[] | string {
  const out: SlimPort[] = [];
  for (const [i, raw] of asArray(list).entries()) {
    const p = asObj(raw);
    if (!p) return `${where}: ports[${i}] is not an object`;
    const port = p.port;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      return `${where}: ports[${i}].port must be 1-65535`;
    }
    const protocol = PROTOCOLS[p.protocol === undefined || p.protocol === null ? 'TCP' : str(p.protocol)];
    if (!protocol) return `${where}: ports[${i}].protocol '${String(p.protocol)}' is not TCP, UDP or SCTP`;
    const name = p.name === undefined || p.name === null ? '' : str(p.name);
    if (name !== '' && !LABEL.test(name)) return `${where}: ports[${i}].name '${name}' is not a DNS-1123 label`;
    out.push({ name, port, protocol });
  }
  return exact(out);
}

export function toService(obj: unknown): Converted<SlimService> {
  const md = meta(obj, 'Service', true);
  if (typeof md === 'string') return md;
  const where = `Service ${md.ns}/${md.name}`;
  const spec = asObj((obj as Obj).spec) ?? {};
  const rawType = spec.type === undefined || spec.type === null ? 'ClusterIP' : str(spec.type);
  if (!['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'].includes(rawType)) {
    return `${where}: spec.type '${rawType}' is unknown`;
  }
  const type = rawType as ServiceType;
  const ports = convertPorts(spec.ports, where);
  if (typeof ports === 'string') return ports;
  const annotations = asObj(md.m.annotations) ?? {};
  const publishNotReadyAddresses = spec.publishNotReadyAddresses === true || annotations[TOLERATE_UNREADY] === 'true';
  const base = { ns: md.ns, name: md.name, type, ports, publishNotReadyAddresses };

  if (type === 'ExternalName') {
    const target = str(spec.externalName).replace(/\.$/, '');
    if (target === '') return `${where}: spec.externalName is required for type ExternalName`;
    let externalName: string;
    try {
      externalName = nameToKey(target + '.');
    } catch (err) {
      return `${where}: spec.externalName '${target}': ${(err as Error).message}`;
    }
    return { ...base, headless: false, clusterIPs: [], externalName };
  }

  // clusterIPs supersedes clusterIP (dual stack); the first entry always equals clusterIP.
  const rawIps = Array.isArray(spec.clusterIPs) && spec.clusterIPs.length > 0 ? spec.clusterIPs
    : spec.clusterIP === undefined || spec.clusterIP === null || spec.clusterIP === '' ? [] : [spec.clusterIP];
  if (rawIps[0] === 'None') return { ...base, headless: true, clusterIPs: [], externalName: '' };
  const clusterIPs: string[] = [];
  for (const raw of rawIps) {
    const ip = canonicalIp(raw);
    if (!ip) return `${where}: clusterIP '${String(raw)}' is not an IP address`;
    if (!clusterIPs.includes(ip.ip)) clusterIPs.push(ip.ip);
  }
  return { ...base, headless: false, clusterIPs: exact(clusterIPs), externalName: '' };
}

/** One endpoint's addresses, all of `family` when given (an EndpointSlice's addressType). */
function convertAddresses(list: unknown, where: string, family?: IpFamily): string[] | string {
  const out: string[] = [];
  for (const raw of asArray(list)) {
    const ip = canonicalIp(raw);
    if (!ip) return `${where}: '${String(raw)}' is not an IP address`;
    if (family !== undefined && ip.family !== family) return `${where}: '${String(raw)}' is not IPv${family}`;
    out.push(ip.ip);
  }
  return exact(out);
}

/** An endpoint hostname that is not a valid label is dropped: the dashed IP then names the endpoint. */
function hostnameOf(v: unknown): string {
  const h = str(v);
  return LABEL.test(h) ? h : '';
}

/** Returns null for an EndpointSlice of addressType FQDN (deprecated, no DNS meaning here). */
export function toEndpointSlice(obj: unknown): Converted<SlimEndpointSlice> | null {
  const md = meta(obj, 'EndpointSlice', true, SUBDOMAIN);
  if (typeof md === 'string') return md;
  const where = `EndpointSlice ${md.ns}/${md.name}`;
  const o = obj as Obj;
  const addressType = str(o.addressType);
  if (addressType === 'FQDN') return null;
  if (addressType !== 'IPv4' && addressType !== 'IPv6') return `${where}: addressType '${addressType}' is unknown`;
  const service = str((asObj(md.m.labels) ?? {})[SERVICE_NAME_LABEL]);
  if (!LABEL.test(service)) return `${where}: label ${SERVICE_NAME_LABEL} is missing or not a DNS-1123 label`;
  const ports = convertPorts(o.ports, where);
  if (typeof ports === 'string') return ports;
  const endpoints: SlimEndpoint[] = [];
  for (const [i, raw] of asArray(o.endpoints).entries()) {
    const e = asObj(raw);
    if (!e) return `${where}: endpoints[${i}] is not an object`;
    const addresses = convertAddresses(e.addresses, `${where}: endpoints[${i}]`, addressType === 'IPv4' ? 4 : 6);
    if (typeof addresses === 'string') return addresses;
    // An unknown (nil) ready condition means ready (EndpointSlice API contract).
    const ready = (asObj(e.conditions) ?? {}).ready !== false;
    endpoints.push({ addresses, ready, hostname: hostnameOf(e.hostname) });
  }
  return { ns: md.ns, name: md.name, service, addressType, group: { endpoints: exact(endpoints), ports } };
}

export function toEndpoints(obj: unknown): Converted<SlimEndpoints> {
  const md = meta(obj, 'Endpoints', true);
  if (typeof md === 'string') return md;
  const where = `Endpoints ${md.ns}/${md.name}`;
  const groups: EndpointGroup[] = [];
  for (const [i, raw] of asArray((obj as Obj).subsets).entries()) {
    const s = asObj(raw);
    if (!s) return `${where}: subsets[${i}] is not an object`;
    const ports = convertPorts(s.ports, `${where}: subsets[${i}]`);
    if (typeof ports === 'string') return ports;
    const endpoints: SlimEndpoint[] = [];
    for (const [field, ready] of [['addresses', true], ['notReadyAddresses', false]] as const) {
      for (const [j, rawAddr] of asArray(s[field]).entries()) {
        const a = asObj(rawAddr);
        if (!a) return `${where}: subsets[${i}].${field}[${j}] is not an object`;
        const addresses = convertAddresses([a.ip], `${where}: subsets[${i}].${field}[${j}].ip`);
        if (typeof addresses === 'string') return addresses;
        endpoints.push({ addresses, ready, hostname: hostnameOf(a.hostname) });
      }
    }
    groups.push({ endpoints: exact(endpoints), ports });
  }
  return { ns: md.ns, name: md.name, groups: exact(groups) };
}

export function toNamespace(obj: unknown): Converted<SlimNamespace> {
  const md = meta(obj, 'Namespace', false);
  if (typeof md === 'string') return md;
  return { name: md.name };
}

export function toPod(obj: unknown): Converted<SlimPod> {
  const md = meta(obj, 'Pod', true, SUBDOMAIN);
  if (typeof md === 'string') return md;
  const where = `Pod ${md.ns}/${md.name}`;
  const status = asObj((obj as Obj).status) ?? {};
  const raw: unknown[] = asArray(status.podIPs).map((p) => asObj(p)?.ip);
  if (raw.length === 0 && status.podIP) raw.push(status.podIP);
  const podIPs = convertAddresses(raw, `${where}: status.podIPs`);
  if (typeof podIPs === 'string') return podIPs;
  return { ns: md.ns, name: md.name, podIPs: [...new Set(podIPs)], phase: str(status.phase) };
}
