// Which names go to the forwarder: forwarded when no zone and no local store holds the name and a route or
// default upstream exists. Asked for every forwarded query (cache hits included), so the verdict is
// remembered per name, and the names already handed over are known by their wire bytes, until any zone or
// local data changes (the compiled answers' invalidation calls clear(); both memos are bounded). Only a
// name seen before is remembered (the responder's FirstQueryFilter, asked with qtype 0, which no query
// carries): a random-name flood, every name new, would otherwise fill and empty the memos without one of
// its entries ever being used.

import type { QuerySlot } from '../dns/query-reader.js';
import { AnswerTable } from '../dns/answer-table.js';
import { BoundedMemo } from '../util/bounded-memo.js';
import type { ZoneSetReader } from '../zone/index.js';
import type { FirstQueryFilter } from './first-query-filter.js';
import type { ForwardingPort } from './forward-handoff.js';
import type { LocalReader } from './local-names.js';

/** Names whose forwarding verdict is remembered (both memos below), before they start over. */
const FORWARDED_MEMO_LIMIT = 10_000;
/** The qtype under which names are entered in the FirstQueryFilter: 0 is reserved, so no query shares it. */
const ANY_QUESTION_OF_NAME = 0;

export class ForwardedNames {
  /** qname → whether it is forwarded. */
  private readonly verdicts = new BoundedMemo<string, boolean>(FORWARDED_MEMO_LIMIT, (qname) => this.decide(qname));
  /**
   * Lower-case wire qname → its key, for names the responder handed to the forwarder: the next query for
   * the name skips the key conversion and the verdict (class IN only).
   */
  private readonly handedKeys = new AnswerTable<string>();
  private readonly zones: ZoneSetReader;
  private readonly local: readonly LocalReader[];
  private readonly forwarder: ForwardingPort | null;
  /** Names seen before (false positives are harmless: a one-off name remembered). */
  private readonly seen: FirstQueryFilter;

  /** `local` is the responder's list of local stores, read as it is at each decision; `seen` its filter. */
  constructor(zones: ZoneSetReader, local: readonly LocalReader[], forwarder: ForwardingPort | null, seen: FirstQueryFilter) {
    this.zones = zones;
    this.local = local;
    this.forwarder = forwarder;
    this.seen = seen;
  }

  /** The key of the slot's name when it was handed to the forwarder before (since the last clear). */
  handedBefore(slot: QuerySlot): string | undefined {
    return this.handedKeys.get(slot.lowerName, slot.nameLength, slot.hash, 0, 0);
  }

  /** Remembers that the slot's name (`qname` its key) is handed to the forwarder. */
  private rememberHanded(slot: QuerySlot, qname: string): void {
    if (this.handedKeys.size >= FORWARDED_MEMO_LIMIT) this.handedKeys.clear();
    this.handedKeys.set(slot.lowerName, slot.nameLength, slot.hash, 0, 0, qname);
  }

  /**
   * Whether the slot's name (`qname` its key) goes to the forwarder; a name seen before is remembered, with
   * its key when forwarded (handedBefore finds it). Only asked when there is a forwarder.
   */
  handOver(slot: QuerySlot, qname: string): boolean {
    if (!this.seen.askedBefore(slot.hash, ANY_QUESTION_OF_NAME)) return this.decide(qname);
    const forwarded = this.verdicts.get(qname);
    if (forwarded) this.rememberHanded(slot, qname);
    return forwarded;
  }

  /** Whether `qname` (a key) goes to the forwarder; only asked when there is one. */
  isForwarded(qname: string): boolean {
    return this.verdicts.get(qname);
  }

  clear(): void {
    this.verdicts.clear();
    if (this.handedKeys.size > 0) this.handedKeys.clear();
  }

  private decide(qname: string): boolean {
    for (const local of this.local) if (local.has(qname)) return false;
    if (this.zones.findZone(qname) !== undefined) return false;
    return this.forwarder!.routes(qname) || this.forwarder!.isLoopProbe(qname);
  }
}
