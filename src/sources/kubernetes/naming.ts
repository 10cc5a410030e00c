// The Kubernetes DNS-Based Service Discovery rules (schema 1.1.0, see
// /work/shared/reference/k8s-dns-spec.md) as pure functions from slim objects to RRsets. Used by the
// live API source and the manifests source alike, so offline and live mode answer identically.
// Every RRset comes out with its RDATA deduplicated and sorted, so two renderings of the same state
// compare equal byte for byte and the incremental diff in cluster-state.ts emits nothing for them.

import { CLASS_IN, TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_NS, TYPE_PTR, TYPE_SOA, TYPE_SRV, TYPE_TXT } from '../../dns/constants.js';
import { nameToKey } from '../../dns/name.js';
import { rdataA, rdataAAAA, rdataName, rdataSoa, rdataSrv, rdataTxt } from '../../dns/rdata.js';
import { reverseName } from '../../dns/reverse.js';
import type { RrSet } from '../../dns/types.js';
import { dashedIp, undashIp } from './ip.js';
import type { EndpointGroup, SlimService } from './objects.js';

/** kube-dns and the Kubernetes addon Corefile (`ttl 30`) use 30 s; the spec prescribes none. */
export const DEFAULT_TTL = 30;
/** CoreDNS hard-codes 28800 s for the schema version record whatever the configured TTL. */
export const DNS_VERSION_TTL = 28800;
export const SCHEMA_VERSION = '1.1.0';
/** Type 0 with no RDATA: the zone store's "name exists, no data of any type" mark (NODATA). */
export const TYPE_EXISTS = 0;
// RFC 2782 leaves these to us; 0/100 is the spec's worked example and keeps every target equal.
export const SRV_PRIORITY = 0;
export const SRV_WEIGHT = 100;
// SOA timers (CoreDNS values); the serial is fixed per process because no secondary ever transfers
// this zone (AXFR is refused), and a moving serial would rewrite every negative answer on each change.
const SOA_REFRESH = 7200;
const SOA_RETRY = 1800;
const SOA_EXPIRE = 86400;

export type PodMode = 'disabled' | 'insecure' | 'verified';

export interface NamingOptions {
  zone: string; // key form: "cluster.local."
  ttl: number;
  serial: number;
}

/** Everything one Service contributes: RRsets under its own name, and PTRs to merge across services. */
export interface ServiceRecords {
  rrsets: RrSet[];
  ptrs: Array<{ ip: string; target: string }>;
}

export function zoneKeyOf(zone: string): string {
  return nameToKey(zone.endsWith('.') ? zone : zone + '.');
}

export function serviceName(zone: string, ns: string, name: string): string {
  return `${name}.${ns}.svc.${zone}`;
}

export function namespaceName(zone: string, ns: string): string {
  return `${ns}.svc.${zone}`;
}

export function podNamespaceName(zone: string, ns: string): string {
  return `${ns}.pod.${zone}`;
}

/** Builds an RRset with duplicate RDATA removed and the rest in byte order. */
export function makeRrSet(name: string, type: number, ttl: number, rdatas: Buffer[]): RrSet {
  // Sorted, equal neighbours are duplicates: no key string per RDATA (most RRsets hold one record).
  const sorted = rdatas.length > 1 ? [...rdatas].sort(Buffer.compare) : [...rdatas];
  let kept = Math.min(sorted.length, 1);
  for (let i = 1; i < sorted.length; i++) if (!sorted[i]!.equals(sorted[kept - 1]!)) sorted[kept++] = sorted[i]!;
  sorted.length = kept;
  return { name, type, class: CLASS_IN, ttl, rdatas: sorted };
}

export function existsMark(name: string): RrSet {
  return { name, type: TYPE_EXISTS, class: CLASS_IN, ttl: 0, rdatas: [] };
}

function addressRdata(ip: string): { type: number; rdata: Buffer } {
  return ip.includes(':') ? { type: TYPE_AAAA, rdata: rdataAAAA(ip) } : { type: TYPE_A, rdata: rdataA(ip) };
}

/**
 * Collects A/AAAA per owner name, then turns them into RRsets. Addresses are listed as they come, repeats
 * included: makeRrSet drops repeated RDATA, and a Set per name (one per endpoint) was most of a
 * rendering's garbage.
 */
class AddressSets {
  private readonly byName = new Map<string, string[]>();
  add(name: string, ip: string): void {
    const list = this.byName.get(name);
    if (list === undefined) this.byName.set(name, [ip]);
    else list.push(ip);
  }
  rrsets(ttl: number): RrSet[] {
    const out: RrSet[] = [];
    // One RDATA buffer per address: a headless Service's A RRset and its endpoints' A RRsets share them.
    const rdataOf = new Map<string, { type: number; rdata: Buffer }>();
    for (const [name, ips] of this.byName) {
      const v4: Buffer[] = [];
      const v6: Buffer[] = [];
      for (const ip of ips) {
        let address = rdataOf.get(ip);
        if (address === undefined) rdataOf.set(ip, (address = addressRdata(ip)));
        (address.type === TYPE_A ? v4 : v6).push(address.rdata);
      }
      if (v4.length > 0) out.push(makeRrSet(name, TYPE_A, ttl, v4));
      if (v6.length > 0) out.push(makeRrSet(name, TYPE_AAAA, ttl, v6));
    }
    return out;
  }
}

/** The apex NS target (and SOA MNAME), as CoreDNS names it. */
export function nameServerName(o: NamingOptions): string {
  return `ns.dns.${o.zone}`;
}

/** The records at and around the apex that exist whatever the cluster holds. */
export function apexRrsets(o: NamingOptions): RrSet[] {
  const ns = nameServerName(o);
  const out: RrSet[] = [
    makeRrSet(o.zone, TYPE_SOA, o.ttl, [rdataSoa({
      mname: ns, rname: `hostmaster.${o.zone}`, serial: o.serial,
      refresh: SOA_REFRESH, retry: SOA_RETRY, expire: SOA_EXPIRE, minimum: o.ttl,
    })]),
    makeRrSet(o.zone, TYPE_NS, o.ttl, [rdataName(ns)]),
    makeRrSet(`dns-version.${o.zone}`, TYPE_TXT, DNS_VERSION_TTL, [rdataTxt([SCHEMA_VERSION])]),
    existsMark(`svc.${o.zone}`),
    existsMark(`pod.${o.zone}`),
  ];
  return out;
}

/**
 * The addresses `ns.dns.<zone>` answers with, as CoreDNS's kubernetes plugin (ns.go) finds them: the
 * Services that have one of the server's own addresses as a ready endpoint (normally kube-dns
 * selecting this pod) give their cluster IPs, or for a headless Service the ready addresses of the
 * endpoint groups holding ours; when no Service selects us, our own addresses themselves.
 */
export function nameServerAddresses(own: ReadonlySet<string>, services: Iterable<{ svc: SlimService; groups: readonly EndpointGroup[] }>): string[] {
  const out = new Set<string>();
  let selected = false;
  for (const { svc, groups } of services) {
    for (const ready of readyAddressesHolding(own, svc, groups)) {
      selected = true;
      for (const ip of svc.headless ? ready : svc.clusterIPs) out.add(ip);
    }
  }
  return selected ? [...out] : [...own];
}

/** True when one of `own` is a ready endpoint address of `svc`. */
export function selectsAddress(own: ReadonlySet<string>, svc: SlimService, groups: readonly EndpointGroup[]): boolean {
  return readyAddressesHolding(own, svc, groups).length > 0;
}

/** The ready addresses of each endpoint group of `svc` that holds one of `own`. */
function readyAddressesHolding(own: ReadonlySet<string>, svc: SlimService, groups: readonly EndpointGroup[]): string[][] {
  const out: string[][] = [];
  for (const group of groups) {
    const ready = group.endpoints.filter((ep) => ep.ready || svc.publishNotReadyAddresses).flatMap((ep) => ep.addresses);
    if (ready.some((ip) => own.has(ip))) out.push(ready);
  }
  return out;
}

/** A/AAAA RRsets of `ns.dns.<zone>` for these addresses. */
export function nameServerRrsets(o: NamingOptions, ips: Iterable<string>): RrSet[] {
  const addrs = new AddressSets();
  for (const ip of ips) addrs.add(nameServerName(o), ip);
  return addrs.rrsets(o.ttl);
}

/** `<ns>.svc.<zone>` (and `<ns>.pod.<zone>` when pod records are on) exist for every known namespace. */
export function namespaceRrsets(o: NamingOptions, ns: string, podMode: PodMode): RrSet[] {
  const out = [existsMark(namespaceName(o.zone, ns))];
  if (podMode !== 'disabled') out.push(existsMark(podNamespaceName(o.zone, ns)));
  return out;
}

/**
 * The records of one Service given all its endpoint groups (EndpointSlices or v1 Endpoints subsets).
 * ClusterIP: A/AAAA for every cluster IP (with or without endpoints), SRV per named service port to
 * the service name. Headless: A/AAAA for every ready endpoint IP (nothing at all when none, so the
 * name is NXDOMAIN), SRV per named endpoint port × endpoint name. Both: one name per ready endpoint
 * (hostname, else dashed IP) and PTRs for cluster IPs and endpoint IPs. ExternalName: one CNAME.
 */
export function serviceRecords(o: NamingOptions, svc: SlimService, groups: readonly EndpointGroup[]): ServiceRecords {
  const owner = serviceName(o.zone, svc.ns, svc.name);
  if (svc.type === 'ExternalName') {
    return { rrsets: [makeRrSet(owner, TYPE_CNAME, o.ttl, [rdataName(svc.externalName)])], ptrs: [] };
  }
  const addrs = new AddressSets();
  const srv = new Map<string, Buffer[]>();
  const ptrs: ServiceRecords['ptrs'] = [];
  const addSrv = (port: { name: string; protocol: string; port: number }, target: string): void => {
    if (port.name === '') return; // unnamed ports have no SRV
    const name = `_${port.name}._${port.protocol}.${owner}`;
    let list = srv.get(name);
    if (!list) srv.set(name, (list = []));
    list.push(rdataSrv(SRV_PRIORITY, SRV_WEIGHT, port.port, target));
  };

  if (!svc.headless) {
    for (const ip of svc.clusterIPs) {
      addrs.add(owner, ip);
      ptrs.push({ ip, target: owner });
    }
    for (const port of svc.ports) addSrv(port, owner);
  }
  for (const group of groups) {
    for (const ep of group.endpoints) {
      if (!ep.ready && !svc.publishNotReadyAddresses) continue;
      for (const ip of ep.addresses) {
        const target = `${ep.hostname === '' ? dashedIp(ip) : ep.hostname}.${owner}`;
        addrs.add(target, ip);
        ptrs.push({ ip, target });
        if (svc.headless) {
          addrs.add(owner, ip);
          for (const port of group.ports) addSrv(port, target);
        }
      }
    }
  }

  const rrsets = addrs.rrsets(o.ttl);
  for (const [name, rdatas] of srv) rrsets.push(makeRrSet(name, TYPE_SRV, o.ttl, rdatas));
  // A ClusterIP service whose IP is not allocated (typical in offline manifests) still exists.
  if (!svc.headless && svc.clusterIPs.length === 0) rrsets.push(existsMark(owner));
  return { rrsets, ptrs };
}

/** The PTR RRset at the reverse name of `ip` pointing at every name that owns it. */
export function ptrRrset(o: NamingOptions, ip: string, targets: Iterable<string>): RrSet {
  return makeRrSet(reverseName(ip), TYPE_PTR, o.ttl, [...targets].map(rdataName));
}

/** The owner name of a pod record: `<dashed-ip>.<ns>.pod.<zone>` (`ip` canonical). */
export function podRecordName(o: NamingOptions, ns: string, ip: string): string {
  return `${dashedIp(ip)}.${podNamespaceName(o.zone, ns)}`;
}

/**
 * A `verified` pod record (not in the spec; kube-dns/CoreDNS convention): the A or AAAA RRset of an IP a
 * pod in a known namespace holds. Stored in the zone like any record (cluster-state.ts), so it comes and
 * goes with the pod and every copy of the zone sees it. Only the canonical spelling of the IP is a name
 * (CoreDNS compares the undashed label with the pod's IP as text, so it answers no other spelling either).
 */
export function podAddressRrset(o: NamingOptions, ns: string, ip: string): RrSet {
  const { type, rdata } = addressRdata(ip);
  return makeRrSet(podRecordName(o, ns, ip), type, o.ttl, [rdata]);
}

/**
 * An `insecure` pod record `<dashed-ip>.<ns>.pod.<zone>`: any IP in a known namespace is echoed. Such names
 * are infinite in number, so they are a rule applied per query (pod-records.ts), not data. Returns the A
 * or AAAA RRset, or null when the name is not a pod record.
 */
export function podRecord(o: NamingOptions, qname: string, namespaceKnown: (ns: string) => boolean): RrSet[] | null {
  const suffix = `.pod.${o.zone}`;
  if (!qname.endsWith(suffix)) return null;
  const labels = qname.slice(0, -suffix.length).split('.');
  if (labels.length !== 2) return null;
  const [dashed, ns] = labels as [string, string];
  if (!namespaceKnown(ns)) return null;
  const ip = undashIp(dashed);
  if (!ip) return null;
  const { type, rdata } = addressRdata(ip.ip);
  return [makeRrSet(qname, type, o.ttl, [rdata])];
}
