// The RRset store of one zone: owner name → node, updated one RRset at a time.
//
// Every name between a record's owner and the origin gets a node, so "does this name exist?" (RFC 1034
// §4.3.2, RFC 8020: an empty non-terminal exists) is one Map lookup, and the closest encloser of a missing
// name is found by walking up the keys. Nodes count their direct children, so adding or removing an RRset
// costs O(depth of the name), never a rebuild: sources stream changes at 100/s into 10^5-name zones.

import { TYPE_NS, TYPE_SOA } from '../dns/constants.js';
import { isAtOrBelow, parentOf } from '../dns/name.js';
import type { RrSet, RrSetChange } from '../dns/types.js';
import type { Synthesizer, ZoneReader } from './reader.js';

export type { Synthesizer };

/**
 * One owner name. RRsets live in a short array rather than a Map: a name holds one to three types, and
 * half a million nodes each carrying a Map would cost far more memory than the linear scan costs time.
 */
export interface ZoneNode {
  rrsets: RrSet[];
  /** The type-0 mark: the name exists without data (e.g. `<ns>.svc.<zone>` of an empty namespace). */
  marked: boolean;
  /** Nodes one label below this one. A node with children but no data is an empty non-terminal. */
  children: number;
}

export class Zone implements ZoneReader {
  readonly origin: string;
  /** While false the zone has not synced: lookup answers SERVFAIL rather than a false NXDOMAIN. */
  ready = true;
  /**
   * Names computed on demand (Kubernetes pod names, too many to store), consulted only for names the
   * store lacks. Non-null means the name exists with these RRsets; it must not return names that have
   * descendants in the store (those are empty non-terminals and answer from the store).
   */
  synthesizer: Synthesizer | null = null;
  /**
   * Every name the synthesizer may make lies strictly below this one (e.g. `pod.<zone>`), so an answer
   * elsewhere in the zone is the store's alone; null: anywhere (a copy of the negative answers then
   * synthesizes nothing in this zone).
   */
  synthesizedBelow: string | null = null;
  private readonly nodes = new Map<string, ZoneNode>();
  /** Names below the apex that own NS: delegation points. Checked on every lookup, so kept apart. */
  private readonly cutSet = new Set<string>();
  private rrsetCount = 0;
  private versionCounter = 0;
  /** The caller's change set while apply()/replaceAll() runs (see apply), else null. */
  private touched: Set<string> | null = null;

  constructor(origin: string) {
    this.origin = origin;
  }

  get version(): number {
    return this.versionCounter;
  }

  /** Number of RRsets stored (type-0 marks and empty non-terminals do not count). */
  get size(): number {
    return this.rrsetCount;
  }

  get soa(): RrSet | undefined {
    return this.get(this.origin, TYPE_SOA);
  }

  get(name: string, type: number): RrSet | undefined {
    const node = this.nodes.get(name);
    return node === undefined ? undefined : findType(node.rrsets, type);
  }

  /** The node at `name`, if the name exists in the store (data, mark or descendants). */
  node(name: string): ZoneNode | undefined {
    return this.nodes.get(name);
  }

  nodeExists(name: string): boolean {
    return this.nodes.has(name);
  }

  /** True when `name` owns NS and is not the apex: a delegation point. */
  isCut(name: string): boolean {
    return this.cutSet.has(name);
  }

  /** True when the zone has delegations at all (lets lookups skip the walk up the name). */
  get hasCuts(): boolean {
    return this.cutSet.size > 0;
  }

  /**
   * Applies one change. An upsert replaces the whole RRset; an upsert with no RDATA deletes it; type 0
   * with no RDATA sets the exists-without-data mark, and deleting type 0 clears it. Names outside the
   * zone are a bug in the caller and throw.
   *
   * `touched`, when given, receives each name whose node changed: its data, or its existence (empty
   * non-terminals created or removed above it by the change). A cache holding lookups' `deps`
   * invalidates exactly these names. One set can collect a whole batch of changes, over several zones.
   */
  apply(change: RrSetChange, touched?: Set<string>): void {
    this.touched = touched ?? null;
    try {
      this.applyOne(change);
    } finally {
      this.touched = null;
    }
    this.versionCounter++;
  }

  private applyOne(change: RrSetChange): void {
    if (change.op === 'upsert') {
      const { rrset } = change;
      this.checkName(rrset.name);
      if (rrset.type === 0) {
        if (rrset.rdatas.length !== 0) throw new RangeError(`zone ${this.origin}: type 0 cannot carry RDATA`);
        this.setMark(rrset.name);
      } else if (rrset.rdatas.length === 0) {
        this.remove(rrset.name, rrset.type);
      } else {
        this.put(rrset);
      }
    } else {
      this.checkName(change.name);
      if (change.type === 0) this.clearMark(change.name);
      else this.remove(change.name, change.type);
    }
  }

  /** Swaps the whole content (a zone file reload). Every old and new name goes into `touched`. */
  replaceAll(rrsets: RrSet[], touched?: Set<string>): void {
    for (const r of rrsets) this.checkName(r.name);
    const old = touched === undefined ? [] : [...this.nodes.keys()];
    this.nodes.clear();
    this.cutSet.clear();
    this.rrsetCount = 0;
    for (const r of rrsets) {
      if (r.type === 0) this.setMark(r.name);
      else if (r.rdatas.length > 0) this.put(r);
    }
    this.versionCounter++;
    if (touched !== undefined) {
      for (const name of old) touched.add(name);
      for (const name of this.nodes.keys()) touched.add(name);
    }
  }

  /** All names in the store, ENTs included (tests, snapshots). */
  names(): IterableIterator<string> {
    return this.nodes.keys();
  }

  private checkName(name: string): void {
    if (!isAtOrBelow(name, this.origin)) throw new RangeError(`zone ${this.origin}: name ${name} is out of zone`);
  }

  private put(rrset: RrSet): void {
    const node = this.ensureNode(rrset.name);
    const list = node.rrsets;
    const i = indexOfType(list, rrset.type);
    if (i < 0) {
      list.push(rrset);
      this.rrsetCount++;
    } else {
      list[i] = rrset;
    }
    if (rrset.type === TYPE_NS && rrset.name !== this.origin) this.cutSet.add(rrset.name);
    this.changed(rrset.name);
  }

  private remove(name: string, type: number): void {
    const node = this.nodes.get(name);
    if (node === undefined) return;
    const i = indexOfType(node.rrsets, type);
    if (i < 0) return;
    node.rrsets.splice(i, 1);
    this.rrsetCount--;
    if (type === TYPE_NS) this.cutSet.delete(name);
    this.changed(name);
    this.prune(name, node);
  }

  private setMark(name: string): void {
    const node = this.ensureNode(name);
    if (node.marked) return;
    node.marked = true;
    this.changed(name);
  }

  private clearMark(name: string): void {
    const node = this.nodes.get(name);
    if (node === undefined || !node.marked) return;
    node.marked = false;
    this.changed(name);
    this.prune(name, node);
  }

  /** The node for `name`, creating it and any missing empty non-terminals up to the origin. */
  private ensureNode(name: string): ZoneNode {
    const existing = this.nodes.get(name);
    if (existing !== undefined) return existing;
    const node: ZoneNode = { rrsets: [], marked: false, children: 0 };
    this.nodes.set(name, node);
    this.changed(name);
    let child = name;
    while (child !== this.origin) {
      const up = parentOf(child)!;
      const parent = this.nodes.get(up);
      if (parent !== undefined) {
        parent.children++;
        break;
      }
      this.nodes.set(up, { rrsets: [], marked: false, children: 1 });
      this.changed(up);
      child = up;
    }
    return node;
  }

  /** Removes `name` if it no longer exists, then any empty non-terminals this leaves childless. */
  private prune(name: string, node: ZoneNode): void {
    let n = name;
    let cur = node;
    while (cur.rrsets.length === 0 && !cur.marked && cur.children === 0) {
      this.nodes.delete(n);
      this.changed(n);
      if (n === this.origin) return;
      n = parentOf(n)!;
      cur = this.nodes.get(n)!;
      cur.children--;
    }
  }

  private changed(name: string): void {
    if (this.touched !== null) this.touched.add(name);
  }
}

export function findType(list: readonly RrSet[], type: number): RrSet | undefined {
  for (let i = 0; i < list.length; i++) if (list[i]!.type === type) return list[i];
  return undefined;
}

function indexOfType(list: RrSet[], type: number): number {
  for (let i = 0; i < list.length; i++) if (list[i]!.type === type) return i;
  return -1;
}
