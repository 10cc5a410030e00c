// The cluster as DNS sees it, kept incrementally. Each object change re-renders only what that
// object touches (one Service's names, one namespace's marks, the PTRs of the IPs involved), diffs
// the result against what was published before, and emits just the RRsets that differ. Nothing here
// ever recomputes the whole zone: at 10k Services and 100 EndpointSlice changes a second, a full
// rebuild per change would cost far more than the change itself.

import { TYPE_PTR } from '../../dns/constants.js';
import { reverseName } from '../../dns/reverse.js';
import type { RrSet, RrSetChange } from '../../dns/types.js';
import { canonicalIp } from './ip.js';
import {
  apexRrsets, DEFAULT_TTL, nameServerAddresses, nameServerRrsets, namespaceRrsets, podAddressRrset, ptrRrset, selectsAddress,
  serviceRecords, zoneKeyOf,
  type NamingOptions, type PodMode,
} from './naming.js';
import type { KindName } from './kinds.js';
import type {
  EndpointGroup, SlimEndpoints, SlimEndpointSlice, SlimNamespace, SlimPod, SlimService,
} from './objects.js';

export interface ClusterStateOptions {
  zone: string;
  ttl?: number;
  podMode?: PodMode;
  /** The server's own addresses: what `ns.dns.<zone>` resolves through (see nameServerAddresses). */
  ownIps?: string[];
  serial?: number; // SOA serial; default: start time in Unix seconds
}

export type ChangeListener = (changes: RrSetChange[]) => void;

/** ClusterState's indexes, keyed `ns/name` (slices: by service `ns/name`, then slice name). */
export interface ClusterView {
  services: ReadonlyMap<string, SlimService>;
  slices: ReadonlyMap<string, ReadonlyMap<string, SlimEndpointSlice>>;
  endpoints: ReadonlyMap<string, SlimEndpoints>;
  pods: ReadonlyMap<string, SlimPod>;
}

/** What one Service published, so its next rendering can be diffed and its PTR references dropped. */
interface Published {
  keys: Set<string>; // rrset keys (see rrKey)
  ptrs: Set<string>; // "ip target"
}

const NOTHING: Published = { keys: new Set(), ptrs: new Set() };

function rrKey(name: string, type: number): string {
  return `${name}|${type}`;
}

function sameRrSet(a: RrSet, b: RrSet): boolean {
  if (a.ttl !== b.ttl || a.rdatas.length !== b.rdatas.length) return false;
  // makeRrSet sorts RDATA, so position-wise comparison is set comparison.
  return a.rdatas.every((r, i) => r.equals(b.rdatas[i]!));
}

function objKey(ns: string, name: string): string {
  return `${ns}/${name}`;
}

/** Pods that ended keep their IP in status, but the IP may already belong to another pod. */
function podHoldsIp(p: SlimPod): boolean {
  return p.phase !== 'Succeeded' && p.phase !== 'Failed';
}

export class ClusterState {
  readonly zone: string;
  readonly podMode: PodMode;
  private readonly o: NamingOptions;
  private readonly listeners: ChangeListener[] = [];
  private readonly current = new Map<string, RrSet>();
  private readonly services = new Map<string, SlimService>();
  private readonly published = new Map<string, Published>();
  private readonly slices = new Map<string, Map<string, SlimEndpointSlice>>(); // service → slice name → slice
  private readonly sliceService = new Map<string, string>(); // slice → service (the label can change)
  private readonly endpoints = new Map<string, SlimEndpoints>();
  private readonly ptrRefs = new Map<string, Map<string, number>>(); // ip → target → references
  private readonly namespaceObjects = new Set<string>();
  private readonly servicesPerNamespace = new Map<string, number>();
  private readonly namespaceKeys = new Map<string, Set<string>>();
  private readonly pods = new Map<string, SlimPod>();
  private readonly podIps = new Map<string, Map<string, number>>(); // ns → ip → pods holding it
  private readonly ownIps: ReadonlySet<string>;
  private readonly selectingUs = new Set<string>(); // services with one of ownIps as a ready endpoint
  private nameServerKeys = new Set<string>();

  constructor(opts: ClusterStateOptions) {
    this.zone = zoneKeyOf(opts.zone);
    this.podMode = opts.podMode ?? 'disabled';
    this.o = {
      zone: this.zone,
      ttl: opts.ttl ?? DEFAULT_TTL,
      serial: opts.serial ?? Math.floor(Date.now() / 1000),
    };
    this.ownIps = new Set((opts.ownIps ?? []).flatMap((ip) => canonicalIp(ip)?.ip ?? []));
    for (const rrset of apexRrsets(this.o)) this.current.set(rrKey(rrset.name, rrset.type), rrset);
    this.renderNameServer([]);
  }

  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  /** Every RRset currently published, as upserts: the snapshot a zone loads before applying changes. */
  initial(): RrSetChange[] {
    return [...this.current.values()].map((rrset) => ({ op: 'upsert', rrset }));
  }

  namespaceKnown(ns: string): boolean {
    return this.namespaceObjects.has(ns) || (this.servicesPerNamespace.get(ns) ?? 0) > 0;
  }

  stats(): { services: number; endpointSlices: number; endpoints: number; pods: number; rrsets: number } {
    return {
      services: this.services.size, endpointSlices: this.sliceService.size, endpoints: this.endpoints.size,
      pods: this.pods.size, rrsets: this.current.size,
    };
  }

  /** The objects held, read-only, for the inspection API (src/inspect): which object made a name. */
  view(): ClusterView {
    return { services: this.services, slices: this.slices, endpoints: this.endpoints, pods: this.pods };
  }

  /** Objects held, by API kind (metrics). */
  objectCounts(): Record<KindName, number> {
    return {
      Namespace: this.namespaceObjects.size, Service: this.services.size, EndpointSlice: this.sliceService.size,
      Endpoints: this.endpoints.size, Pod: this.pods.size,
    };
  }

  upsertService(s: SlimService): RrSetChange[] {
    const key = objKey(s.ns, s.name);
    const out: RrSetChange[] = [];
    if (!this.services.has(key)) this.countService(s.ns, 1, out);
    this.services.set(key, s);
    this.renderService(key, out);
    return this.emit(out);
  }

  deleteService(ns: string, name: string): RrSetChange[] {
    const key = objKey(ns, name);
    const out: RrSetChange[] = [];
    if (this.services.delete(key)) {
      this.renderService(key, out);
      this.countService(ns, -1, out);
    }
    return this.emit(out);
  }

  upsertEndpointSlice(e: SlimEndpointSlice): RrSetChange[] {
    const out: RrSetChange[] = [];
    const sliceKey = objKey(e.ns, e.name);
    const svcKey = objKey(e.ns, e.service);
    const before = this.sliceService.get(sliceKey);
    if (before !== undefined && before !== svcKey) this.dropSlice(sliceKey, before, out);
    let bySlice = this.slices.get(svcKey);
    if (!bySlice) this.slices.set(svcKey, (bySlice = new Map()));
    bySlice.set(e.name, e);
    this.sliceService.set(sliceKey, svcKey);
    this.renderService(svcKey, out);
    return this.emit(out);
  }

  deleteEndpointSlice(ns: string, name: string): RrSetChange[] {
    const out: RrSetChange[] = [];
    const sliceKey = objKey(ns, name);
    const svcKey = this.sliceService.get(sliceKey);
    if (svcKey !== undefined) this.dropSlice(sliceKey, svcKey, out);
    return this.emit(out);
  }

  upsertEndpoints(e: SlimEndpoints): RrSetChange[] {
    const key = objKey(e.ns, e.name);
    const out: RrSetChange[] = [];
    this.endpoints.set(key, e);
    this.renderService(key, out);
    return this.emit(out);
  }

  deleteEndpoints(ns: string, name: string): RrSetChange[] {
    const key = objKey(ns, name);
    const out: RrSetChange[] = [];
    if (this.endpoints.delete(key)) this.renderService(key, out);
    return this.emit(out);
  }

  upsertNamespace(n: SlimNamespace): RrSetChange[] {
    const out: RrSetChange[] = [];
    this.namespaceObjects.add(n.name);
    this.renderNamespace(n.name, out);
    return this.emit(out);
  }

  deleteNamespace(name: string): RrSetChange[] {
    const out: RrSetChange[] = [];
    if (this.namespaceObjects.delete(name)) this.renderNamespace(name, out);
    return this.emit(out);
  }

  /**
   * Pods make the `verified` pod records: `<dashed-ip>.<ns>.pod.<zone>` A/AAAA for each IP a live pod holds,
   * published as changes like any other record (a pod going Running, finishing or being deleted names the
   * records it touches). Other modes publish nothing for pods (insecure records are a rule: pod-records.ts).
   */
  upsertPod(p: SlimPod): RrSetChange[] {
    const key = objKey(p.ns, p.name);
    const old = this.pods.get(key);
    this.pods.set(key, p);
    if (old !== undefined && podHoldsIp(old)) this.countPodIps(old, -1);
    if (podHoldsIp(p)) this.countPodIps(p, 1);
    const out: RrSetChange[] = [];
    this.renderPodIps(p.ns, new Set([...(old?.podIPs ?? []), ...p.podIPs]), out);
    return this.emit(out);
  }

  deletePod(ns: string, name: string): RrSetChange[] {
    const key = objKey(ns, name);
    const old = this.pods.get(key);
    const out: RrSetChange[] = [];
    if (old) {
      this.pods.delete(key);
      if (podHoldsIp(old)) this.countPodIps(old, -1);
      this.renderPodIps(ns, old.podIPs, out);
    }
    return this.emit(out);
  }

  private emit(changes: RrSetChange[]): RrSetChange[] {
    if (changes.length > 0) for (const l of this.listeners) l(changes);
    return changes;
  }

  private dropSlice(sliceKey: string, svcKey: string, out: RrSetChange[]): void {
    const bySlice = this.slices.get(svcKey);
    bySlice?.delete(sliceKey.slice(sliceKey.indexOf('/') + 1));
    if (bySlice && bySlice.size === 0) this.slices.delete(svcKey);
    this.sliceService.delete(sliceKey);
    this.renderService(svcKey, out);
  }

  /** EndpointSlices win over v1 Endpoints: the Endpoints mirror is capped at 1000 addresses. */
  private groupsOf(svcKey: string): EndpointGroup[] {
    const bySlice = this.slices.get(svcKey);
    if (bySlice && bySlice.size > 0) return [...bySlice.values()].map((s) => s.group);
    return this.endpoints.get(svcKey)?.groups ?? [];
  }

  private renderService(svcKey: string, out: RrSetChange[]): void {
    const svc = this.services.get(svcKey);
    const fresh = svc ? serviceRecords(this.o, svc, this.groupsOf(svcKey)) : { rrsets: [], ptrs: [] };
    const before = this.published.get(svcKey) ?? NOTHING;
    const keys = this.replace(before.keys, fresh.rrsets, out);
    const ptrs = new Set(fresh.ptrs.map((p) => `${p.ip} ${p.target}`));
    this.updatePtrs(before.ptrs, ptrs, out);
    if (keys.size === 0 && ptrs.size === 0) this.published.delete(svcKey);
    else this.published.set(svcKey, { keys, ptrs });
    this.trackNameServer(svcKey, svc, out);
  }

  /** Re-renders `ns.dns.<zone>` when this service starts, stops or keeps selecting one of our addresses. */
  private trackNameServer(svcKey: string, svc: SlimService | undefined, out: RrSetChange[]): void {
    if (this.ownIps.size === 0) return;
    const selects = svc !== undefined && selectsAddress(this.ownIps, svc, this.groupsOf(svcKey));
    const before = this.selectingUs.has(svcKey);
    if (selects) this.selectingUs.add(svcKey);
    else this.selectingUs.delete(svcKey);
    if (selects || before) this.renderNameServer(out);
  }

  private renderNameServer(out: RrSetChange[]): void {
    const services = [...this.selectingUs].map((key) => ({ svc: this.services.get(key)!, groups: this.groupsOf(key) }));
    this.nameServerKeys = this.replace(this.nameServerKeys, nameServerRrsets(this.o, nameServerAddresses(this.ownIps, services)), out);
  }

  private countService(ns: string, delta: number, out: RrSetChange[]): void {
    const n = (this.servicesPerNamespace.get(ns) ?? 0) + delta;
    if (n > 0) this.servicesPerNamespace.set(ns, n);
    else this.servicesPerNamespace.delete(ns);
    if (n === 0 || (n === 1 && delta > 0)) this.renderNamespace(ns, out);
  }

  private renderNamespace(ns: string, out: RrSetChange[]): void {
    const fresh = this.namespaceKnown(ns) ? namespaceRrsets(this.o, ns, this.podMode) : [];
    const keys = this.replace(this.namespaceKeys.get(ns) ?? new Set(), fresh, out);
    if (keys.size > 0) this.namespaceKeys.set(ns, keys);
    else this.namespaceKeys.delete(ns);
    // Verified pod records need a known namespace (as CoreDNS's): they follow it.
    this.renderPodIps(ns, this.podIps.get(ns)?.keys() ?? [], out);
  }

  /** Publishes (or withdraws) the verified pod record of each of `ips` in `ns`, by what holds it now. */
  private renderPodIps(ns: string, ips: Iterable<string>, out: RrSetChange[]): void {
    if (this.podMode !== 'verified') return;
    const held = this.podIps.get(ns);
    const known = this.namespaceKnown(ns);
    for (const ip of ips) {
      const rrset = podAddressRrset(this.o, ns, ip);
      const fresh = known && (held?.get(ip) ?? 0) > 0 ? [rrset] : [];
      this.replace(new Set([rrKey(rrset.name, rrset.type)]), fresh, out);
    }
  }

  /** Publishes `fresh` in place of the RRsets named by `oldKeys`; returns the new key set. */
  private replace(oldKeys: Set<string>, fresh: RrSet[], out: RrSetChange[]): Set<string> {
    const keys = new Set<string>();
    for (const rrset of fresh) {
      const key = rrKey(rrset.name, rrset.type);
      keys.add(key);
      const prev = this.current.get(key);
      if (prev && sameRrSet(prev, rrset)) continue;
      this.current.set(key, rrset);
      out.push({ op: 'upsert', rrset });
    }
    for (const key of oldKeys) {
      if (keys.has(key)) continue;
      const prev = this.current.get(key);
      if (!prev) continue;
      this.current.delete(key);
      out.push({ op: 'delete', name: prev.name, type: prev.type });
    }
    return keys;
  }

  /** Moves one owner's PTR references from `before` to `after` and republishes the IPs that changed. */
  private updatePtrs(before: Set<string>, after: Set<string>, out: RrSetChange[]): void {
    const touched = new Set<string>();
    const adjust = (entry: string, delta: number): void => {
      const cut = entry.indexOf(' ');
      const ip = entry.slice(0, cut);
      const target = entry.slice(cut + 1);
      let targets = this.ptrRefs.get(ip);
      if (!targets) this.ptrRefs.set(ip, (targets = new Map()));
      const n = (targets.get(target) ?? 0) + delta;
      if (n > 0) targets.set(target, n);
      else targets.delete(target);
      if (targets.size === 0) this.ptrRefs.delete(ip);
      touched.add(ip);
    };
    for (const e of before) if (!after.has(e)) adjust(e, -1);
    for (const e of after) if (!before.has(e)) adjust(e, 1);
    for (const ip of touched) {
      const targets = this.ptrRefs.get(ip);
      const fresh = targets ? [ptrRrset(this.o, ip, targets.keys())] : [];
      this.replace(new Set([rrKey(reverseName(ip), TYPE_PTR)]), fresh, out);
    }
  }

  private countPodIps(p: SlimPod, delta: number): void {
    let ips = this.podIps.get(p.ns);
    if (!ips) this.podIps.set(p.ns, (ips = new Map()));
    for (const ip of p.podIPs) {
      const n = (ips.get(ip) ?? 0) + delta;
      if (n > 0) ips.set(ip, n);
      else ips.delete(ip);
    }
    if (ips.size === 0) this.podIps.delete(p.ns);
  }
}
