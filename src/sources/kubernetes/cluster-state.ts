// The cluster as DNS sees it, kept incrementally. Each object change re-renders only what that
// object touches (one Service's names, one namespace's marks, the PTRs of the IPs involved), diffs
// the result against what was published before, and emits just the RRsets that differ. Nothing here
// ever recomputes the whole zone: at 10k Services and 100 EndpointSlice changes a second, a full
// rebuild per change would cost far more than the change itself.

import { TYPE_PTR } from '../../dns/constants.js';
import { reverseName } from '../../dns/reverse.js';
import type { RrSet, RrSetChange } from '../../dns/types.js';
import { flatKey } from '../../util/flat-string.js';
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
import { exact } from './objects.js';

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

/** One (owner name, type) an owner published. */
interface RrSetRef {
  name: string;
  type: number;
}

/** An IP whose PTR names `target`. */
interface PtrRef {
  ip: string;
  target: string;
}

/**
 * What one Service published, so its next rendering can be diffed and its PTR references dropped. Held as
 * references to the RRsets (the same objects as in `current` and the zone) and to strings the RRsets already
 * hold, not as key strings: at 10^5 names every per-name string or Set entry costs megabytes.
 */
interface Published {
  rrsets: RrSetRef[];
  ptrs: PtrRef[]; // no two alike
}

const NOTHING: Published = { rrsets: [], ptrs: [] };


/** One name's RRsets in `current`: the RRset itself when there is one (most names), else a list. */
type NameEntry = RrSet | RrSet[];
/** One IP's PTR targets with their reference counts: the target itself for the usual one reference. */
type PtrTargets = string | Map<string, number>;

function sameRrSet(a: RrSet, b: RrSet): boolean {
  if (a.ttl !== b.ttl || a.rdatas.length !== b.rdatas.length) return false;
  // makeRrSet sorts RDATA, so position-wise comparison is set comparison.
  return a.rdatas.every((r, i) => r.equals(b.rdatas[i]!));
}

/** `ns/name`, flat: these keys are kept in several maps for the life of each object. */
function objKey(ns: string, name: string): string {
  return flatKey(`${ns}/${name}`);
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
  /** Every RRset published, by owner name. */
  private readonly current = new Map<string, NameEntry>();
  private rrsetCount = 0;
  private readonly services = new Map<string, SlimService>();
  private readonly published = new Map<string, Published>();
  private readonly slices = new Map<string, Map<string, SlimEndpointSlice>>(); // service → slice name → slice
  private readonly sliceService = new Map<string, string>(); // slice → service (the label can change)
  private readonly endpoints = new Map<string, SlimEndpoints>();
  private readonly ptrRefs = new Map<string, PtrTargets>(); // ip → its PTR targets
  private readonly namespaceObjects = new Set<string>();
  private readonly servicesPerNamespace = new Map<string, number>();
  private readonly namespaceRrsets = new Map<string, RrSetRef[]>();
  private readonly pods = new Map<string, SlimPod>();
  private readonly podIps = new Map<string, Map<string, number>>(); // ns → ip → pods holding it
  private readonly ownIps: ReadonlySet<string>;
  private readonly selectingUs = new Set<string>(); // services with one of ownIps as a ready endpoint
  private nameServerRrsets: RrSetRef[] = [];
  /** Changes held back while batch() runs; null outside a batch. */
  private pending: RrSetChange[] | null = null;

  constructor(opts: ClusterStateOptions) {
    this.zone = zoneKeyOf(opts.zone);
    this.podMode = opts.podMode ?? 'disabled';
    this.o = {
      zone: this.zone,
      ttl: opts.ttl ?? DEFAULT_TTL,
      serial: opts.serial ?? Math.floor(Date.now() / 1000),
    };
    this.ownIps = new Set((opts.ownIps ?? []).flatMap((ip) => canonicalIp(ip)?.ip ?? []));
    for (const rrset of apexRrsets(this.o)) this.setCurrent(rrset);
    this.renderNameServer([]);
  }

  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  /**
   * Runs `run`, handing the listeners every change it made as one batch at the end instead of one batch
   * per mutation (a list page of 500 objects becomes one hub delta, one message per worker, instead of
   * 500). The changes are those of the mutations in order, so applying the batch equals applying each.
   * Each mutation still returns its own changes. Nested calls join the outer batch.
   */
  batch<T>(run: () => T): T {
    if (this.pending !== null) return run();
    const pending: RrSetChange[] = [];
    this.pending = pending;
    try {
      return run();
    } finally {
      this.pending = null;
      if (pending.length > 0) for (const l of this.listeners) l(pending);
    }
  }

  /** Every RRset currently published, as upserts: the snapshot a zone loads before applying changes. */
  initial(): RrSetChange[] {
    const out: RrSetChange[] = [];
    for (const entry of this.current.values()) {
      if (Array.isArray(entry)) for (const rrset of entry) out.push({ op: 'upsert', rrset });
      else out.push({ op: 'upsert', rrset: entry });
    }
    return out;
  }

  namespaceKnown(ns: string): boolean {
    return this.namespaceObjects.has(ns) || (this.servicesPerNamespace.get(ns) ?? 0) > 0;
  }

  stats(): { services: number; endpointSlices: number; endpoints: number; pods: number; rrsets: number } {
    return {
      services: this.services.size, endpointSlices: this.sliceService.size, endpoints: this.endpoints.size,
      pods: this.pods.size, rrsets: this.rrsetCount,
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
    if (changes.length === 0) return changes;
    if (this.pending !== null) for (const change of changes) this.pending.push(change);
    else for (const l of this.listeners) l(changes);
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
    const rrsets = this.replace(before.rrsets, fresh.rrsets, out);
    const ptrs = this.updatePtrs(before.ptrs, fresh.ptrs, out);
    if (rrsets.length === 0 && ptrs.length === 0) this.published.delete(svcKey);
    else this.published.set(svcKey, { rrsets, ptrs });
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
    this.nameServerRrsets = this.replace(this.nameServerRrsets, nameServerRrsets(this.o, nameServerAddresses(this.ownIps, services)), out);
  }

  private countService(ns: string, delta: number, out: RrSetChange[]): void {
    const n = (this.servicesPerNamespace.get(ns) ?? 0) + delta;
    if (n > 0) this.servicesPerNamespace.set(ns, n);
    else this.servicesPerNamespace.delete(ns);
    if (n === 0 || (n === 1 && delta > 0)) this.renderNamespace(ns, out);
  }

  private renderNamespace(ns: string, out: RrSetChange[]): void {
    const fresh = this.namespaceKnown(ns) ? namespaceRrsets(this.o, ns, this.podMode) : [];
    const rrsets = this.replace(this.namespaceRrsets.get(ns) ?? [], fresh, out);
    if (rrsets.length > 0) this.namespaceRrsets.set(ns, rrsets);
    else this.namespaceRrsets.delete(ns);
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
      this.replace([rrset], fresh, out);
    }
  }

  /**
   * Publishes `fresh` in place of the RRsets `old` names; returns what is published now (an unchanged
   * RRset as the object already published, so an equal copy is not kept alive).
   */
  private replace(old: readonly RrSetRef[], fresh: RrSet[], out: RrSetChange[]): RrSet[] {
    const now: RrSet[] = [];
    for (const rrset of fresh) {
      const prev = this.getCurrent(rrset.name, rrset.type);
      if (prev && sameRrSet(prev, rrset)) {
        now.push(prev);
        continue;
      }
      rrset.name = prev?.name ?? flatKey(rrset.name); // kept for as long as it is published
      this.setCurrent(rrset);
      now.push(rrset);
      out.push({ op: 'upsert', rrset });
    }
    if (old.length > 0) {
      // An old (name, type) still rendered is published now as one of `now`; anything else there goes.
      // (By object identity: no `name|type` key string per RRset, which cost more than the rest.)
      const published = new Set<RrSet>(now);
      for (const { name, type } of old) {
        const current = this.getCurrent(name, type);
        if (current === undefined || published.has(current)) continue;
        this.deleteCurrent(name, type);
        out.push({ op: 'delete', name, type });
      }
    }
    return exact(now);
  }

  /** `name` as stored: the owner string of its published RRsets when there are any (a PTR target names the A RRset of the same name), else a flat copy. */
  private storedName(name: string): string {
    const entry = this.current.get(name);
    if (entry === undefined) return flatKey(name);
    return Array.isArray(entry) ? entry[0]?.name ?? flatKey(name) : entry.name;
  }

  private getCurrent(name: string, type: number): RrSet | undefined {
    const entry = this.current.get(name);
    if (entry === undefined) return undefined;
    if (!Array.isArray(entry)) return entry.type === type ? entry : undefined;
    return entry.find((r) => r.type === type);
  }

  private setCurrent(rrset: RrSet): void {
    const entry = this.current.get(rrset.name);
    if (entry === undefined || (!Array.isArray(entry) && entry.type === rrset.type)) {
      if (entry === undefined) this.rrsetCount++;
      this.current.set(rrset.name, rrset);
      return;
    }
    const list = Array.isArray(entry) ? entry : [entry];
    const i = list.findIndex((r) => r.type === rrset.type);
    if (i >= 0) list[i] = rrset;
    else {
      list.push(rrset);
      this.rrsetCount++;
    }
    this.current.set(rrset.name, list);
  }

  /** Removes (name, type) from `current`; false when it was not there. */
  private deleteCurrent(name: string, type: number): boolean {
    const entry = this.current.get(name);
    if (entry === undefined) return false;
    if (!Array.isArray(entry)) {
      if (entry.type !== type) return false;
      this.current.delete(name);
    } else {
      const i = entry.findIndex((r) => r.type === type);
      if (i < 0) return false;
      entry.splice(i, 1);
      if (entry.length === 1) this.current.set(name, entry[0]!);
    }
    this.rrsetCount--;
    return true;
  }

  /**
   * Moves one owner's PTR references from `before` to `after` (duplicates counted once) and republishes
   * the IPs that changed; returns `after` without duplicates, to be passed as `before` next time.
   */
  private updatePtrs(before: readonly PtrRef[], after: readonly PtrRef[], out: RrSetChange[]): PtrRef[] {
    if (before.length === 0 && after.length === 0) return [];
    const key = (p: PtrRef): string => `${p.ip} ${p.target}`;
    const beforeRefs = new Map(before.map((p) => [key(p), p]));
    const afterKeys = new Set<string>();
    const unique: PtrRef[] = [];
    const touched = new Set<string>();
    for (const p of after) {
      const k = key(p);
      if (afterKeys.has(k)) continue;
      afterKeys.add(k);
      // A reference kept from before keeps its (flat) strings; a new one is stored flat.
      const kept = beforeRefs.get(k);
      if (kept !== undefined) {
        unique.push(kept);
        continue;
      }
      const ref = { ip: p.ip, target: this.storedName(p.target) };
      unique.push(ref);
      this.adjustPtr(ref, 1, touched);
    }
    for (const [k, p] of beforeRefs) if (!afterKeys.has(k)) this.adjustPtr(p, -1, touched);
    for (const ip of touched) {
      const targets = this.ptrRefs.get(ip);
      const fresh = targets === undefined ? [] : [ptrRrset(this.o, ip, typeof targets === 'string' ? [targets] : targets.keys())];
      this.replace([{ name: reverseName(ip), type: TYPE_PTR }], fresh, out);
    }
    return exact(unique);
  }

  private adjustPtr({ ip, target }: PtrRef, delta: 1 | -1, touched: Set<string>): void {
    touched.add(ip);
    const targets = this.ptrRefs.get(ip);
    if (targets === undefined) {
      if (delta > 0) this.ptrRefs.set(ip, target);
      return;
    }
    const counts = typeof targets === 'string' ? new Map([[targets, 1]]) : targets;
    const n = (counts.get(target) ?? 0) + delta;
    if (n > 0) counts.set(target, n);
    else counts.delete(target);
    const [only, onlyCount] = counts.size === 1 ? [...counts][0]! : ['', 0];
    if (counts.size === 0) this.ptrRefs.delete(ip);
    else if (onlyCount === 1) this.ptrRefs.set(ip, only);
    else this.ptrRefs.set(ip, counts);
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
