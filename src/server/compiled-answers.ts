// The responder's compiled class-IN answers: the table the hot path copies from, the index of which owner
// names each answer depended on (so a zone change drops only the answers it can change), and the mirrors
// (the native engine's C answer cache) kept equal to the table.

import { CLASS_IN } from '../dns/constants.js';
import type { QuerySlot } from '../dns/query-reader.js';
import { AnswerTable, hashName } from '../dns/answer-table.js';
import { keyToWire } from '../dns/name.js';
import type { ZoneSetReader } from '../zone/index.js';
import type { ForwardedMirror } from './forward-handoff.js';
import type { LocalReader } from './local-names.js';
import { NegativeFeed, type NegativeMirror } from './negative-feed.js';

// Compiled answers are kept until the zone changes. A flood of random names must not grow the table
// without bound, so past this many entries it starts over (misses are still answered correctly).
/** The compiled-answer table is emptied when it reaches this many answers (its mirrors are bounded by it too). */
export const MAX_TABLE_ENTRIES = 200_000;

/**
 * A copy of the responder's compiled UDP answers kept elsewhere (the native engine's answer cache), told of
 * every change to the table so it never answers what the responder would no longer say.
 */
export interface AnswerMirror extends Partial<NegativeMirror>, ForwardedMirror {
  set(name: Buffer, nameLength: number, qtype: number, answer: Buffer): void;
  delete(name: Buffer, nameLength: number, qtype: number): void;
  clear(): void;
}

export class CompiledAnswers {
  /**
   * Compiled answers by (lower-case wire name, qtype, class IN). Read-only outside this class; respond()
   * probes it directly, since a wrapper's call cost V8 the inlining budget to inline the probe itself.
   */
  readonly table = new AnswerTable<Buffer>();
  /** Owner name → table entries whose answer depended on it (see invalidateNames). */
  // One entry is kept as the string itself (most names are depended on by one answer, and a flood of random
  // names makes one per query); a second turns it into a Set.
  private readonly dependents = new Map<string, string | Set<string>>();
  /** Every mirror, also given to the forward hand-off for the forwarded answers it mirrors. */
  readonly mirrors: AnswerMirror[] = [];
  /** What mirrors that synthesize NXDOMAIN and NODATA themselves need to know (see negative-feed.ts). */
  private readonly negatives: NegativeFeed;
  private readonly zones: ZoneSetReader;
  /** Called whenever a forwarding verdict may have changed (every clear, and names outside every zone). */
  private readonly forgetForwarded: () => void;

  /** `local` is the responder's list of local stores, read as it is when a change is reported. */
  constructor(zones: ZoneSetReader, local: LocalReader[], forgetForwarded: () => void) {
    this.zones = zones;
    this.negatives = new NegativeFeed(zones, local);
    this.forgetForwarded = forgetForwarded;
  }

  /**
   * Keeps the class-IN answer to the slot's question (`qname` its key) for the next identical question, in
   * the table and every mirror, remembering that it depends on the owner names in `deps` and on `qname`.
   */
  store(slot: QuerySlot, qname: string, compiled: Buffer, deps: Set<string>): void {
    if (this.table.size >= MAX_TABLE_ENTRIES) this.clear();
    this.table.set(slot.lowerName, slot.nameLength, slot.hash, slot.qtype, slot.qclass, compiled);
    for (const m of this.mirrors) m.set(slot.lowerName, slot.nameLength, slot.qtype, compiled);
    // "qtype qname": a string, not an object holding a copy of the name bytes, since every miss makes one
    // (a flood of random names makes hundreds of thousands) and invalidation is rare by comparison.
    const key = slot.qtype + ' ' + qname;
    deps.add(qname); // local data and refusals depend on the name itself
    for (const dep of deps) {
      const known = this.dependents.get(dep);
      if (known === undefined) this.dependents.set(dep, key);
      else if (typeof known === 'string') {
        if (known !== key) this.dependents.set(dep, new Set([known, key]));
      } else known.add(key);
    }
  }

  /**
   * Keeps `mirror` equal to the table of compiled class-IN answers from now on (it starts with a copy).
   * The mirror must answer exactly as the responder would for an answer that needs no truncation.
   */
  addMirror(mirror: AnswerMirror): void {
    mirror.clear();
    this.table.forEach((name, qtype, qclass, answer) => {
      if (qclass === CLASS_IN) mirror.set(name, name.length, qtype, answer);
    });
    mirror.negativeReset?.(this.negatives.full());
    this.mirrors.push(mirror);
  }

  removeMirror(mirror: AnswerMirror): void {
    const i = this.mirrors.indexOf(mirror);
    if (i >= 0) this.mirrors.splice(i, 1);
  }

  /** Forget every compiled answer and resend the negative mirrors their name sets (the zones changed). */
  invalidate(): void {
    this.clear();
    if (!this.mirrors.some((m) => m.negativeReset !== undefined)) return;
    const batch = this.negatives.full();
    for (const m of this.mirrors) m.negativeReset?.(batch);
  }

  /** Forget every compiled answer; the zones did not change (the name sets of negative mirrors stay). */
  clear(): void {
    this.table.clear();
    this.dependents.clear();
    this.forgetForwarded();
    for (const m of this.mirrors) m.clear();
  }

  /**
   * Forget the compiled answers whose lookup consulted any of `names` (keys). The zone reports every name
   * whose data or existence changed (Zone.apply's change set); an answer can only change when one of the names it
   * depended on did, so one EndpointSlice update drops a handful of entries, not the table.
   */
  invalidateNames(changed: Iterable<string>): void {
    const names = Array.isArray(changed) ? changed as string[] : [...changed];
    // Whether a name is forwarded depends on the zones' origins (a change there calls invalidate()) and on
    // the local stores, whose names lie outside every zone (cluster PTRs, hosts entries). So only a changed
    // name outside every zone can turn a forwarded name local; a busy cluster zone keeps the memos.
    let outsideZones = false;
    for (const name of names) {
      if (!outsideZones && this.zones.findZone(name) === undefined) outsideZones = true;
      const entries = this.dependents.get(name);
      if (entries === undefined) continue;
      this.dependents.delete(name);
      if (typeof entries === 'string') this.dropEntry(entries);
      else for (const entry of entries) this.dropEntry(entry);
    }
    if (outsideZones) this.forgetForwarded();
    if (names.length === 0 || !this.mirrors.some((m) => m.negativeUpdate !== undefined)) return;
    const batch = this.negatives.changed(names);
    for (const m of this.mirrors) m.negativeUpdate?.(batch);
  }

  /** Drops one compiled answer, remembered as "qtype qname" (see store), from the table and mirrors. */
  private dropEntry(entry: string): void {
    // The wire name is rebuilt here, off the hot path.
    const space = entry.indexOf(' ');
    const qtype = Number(entry.slice(0, space));
    const wire = keyToWire(entry.slice(space + 1));
    this.table.delete(wire, wire.length, hashName(wire, 0, wire.length), qtype, CLASS_IN);
    for (const m of this.mirrors) m.delete(wire, wire.length, qtype);
  }
}
