// The IXFR journal of one zone (RFC 1995): for each serial step, the records removed and the records
// added. Changes are recorded as they are applied (the RRset each touched name and type held before the
// first change of the step); when the serial moves, the step is the difference between those and what
// the zone holds now, so a name changed ten times between two serials costs one difference.
//
// Bounded: at most MAX_STEPS steps and MAX_RECORDS records in all; the oldest go first. A secondary
// whose serial is older than the oldest step gets the whole zone instead (RFC 1995 §4 allows it).

import { TYPE_SOA } from '../dns/constants.js';
import type { Rr, RrSet, RrSetChange } from '../dns/types.js';
import type { Zone } from '../zone/index.js';

export const MAX_STEPS = 256;
export const MAX_RECORDS = 100_000;

export interface JournalStep {
  from: number;
  to: number;
  removed: Rr[];
  added: Rr[];
}

export class ZoneJournal {
  private readonly zone: Zone;
  /** "type name" → the RRset before the first change since the last commit (null: there was none). */
  private readonly before = new Map<string, RrSet | null>();
  private steps: JournalStep[] = [];
  private records = 0;
  private readonly limits: { steps: number; records: number };

  constructor(zone: Zone, limits = { steps: MAX_STEPS, records: MAX_RECORDS }) {
    this.zone = zone;
    this.limits = limits;
  }

  /** Changes since the last commit that the serial does not cover yet. */
  get dirty(): boolean {
    return this.before.size > 0;
  }

  /** Call before `changes` are applied to the zone. The SOA and type-0 marks are not zone data here. */
  recordBefore(changes: readonly RrSetChange[]): void {
    for (const change of changes) {
      const name = change.op === 'upsert' ? change.rrset.name : change.name;
      const type = change.op === 'upsert' ? change.rrset.type : change.type;
      if (type === 0 || type === TYPE_SOA) continue;
      const key = type + ' ' + name;
      if (!this.before.has(key)) this.before.set(key, this.zone.get(name, type) ?? null);
    }
  }

  /** Closes the step from serial `from` to `to` (the zone now holds `to`'s data). */
  commit(from: number, to: number): void {
    const removed: Rr[] = [];
    const added: Rr[] = [];
    for (const [key, old] of this.before) {
      const space = key.indexOf(' ');
      const now = this.zone.get(key.slice(space + 1), Number(key.slice(0, space))) ?? null;
      difference(old, now, removed, added);
    }
    this.before.clear();
    this.steps.push({ from, to, removed, added });
    this.records += removed.length + added.length;
    while (this.steps.length > this.limits.steps || (this.records > this.limits.records && this.steps.length > 0)) {
      const dropped = this.steps.shift()!;
      this.records -= dropped.removed.length + dropped.added.length;
    }
  }

  /** Forgets every step (the zone was replaced whole): IXFR from any older serial is a full transfer. */
  reset(): void {
    this.before.clear();
    this.steps = [];
    this.records = 0;
  }

  /** The steps from `serial` to the newest, or null when the journal does not reach back to it. */
  since(serial: number): JournalStep[] | null {
    const start = this.steps.findIndex((s) => s.from === serial);
    return start < 0 ? null : this.steps.slice(start);
  }
}

/** What turns `old` into `now`: records to remove and to add (all of them when the TTL changed). */
function difference(old: RrSet | null, now: RrSet | null, removed: Rr[], added: Rr[]): void {
  const sameTtl = old !== null && now !== null && old.ttl === now.ttl;
  const oldKeys = new Set(sameTtl ? old.rdatas.map(latin1) : []);
  const nowKeys = new Set(sameTtl ? now.rdatas.map(latin1) : []);
  if (old !== null) for (const rdata of old.rdatas) if (!nowKeys.has(latin1(rdata))) removed.push(record(old, rdata));
  if (now !== null) for (const rdata of now.rdatas) if (!oldKeys.has(latin1(rdata))) added.push(record(now, rdata));
}

function latin1(rdata: Buffer): string {
  return rdata.toString('latin1');
}

function record(set: RrSet, rdata: Buffer): Rr {
  return { name: set.name, type: set.type, class: set.class, ttl: set.ttl, rdata };
}
