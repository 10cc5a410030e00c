// Which names go to the forwarder: forwarded when no zone and no local store holds the name and a route or
// default upstream exists. Asked for every forwarded query (cache hits included), so the verdict is
// remembered per name, and the names already handed over are known by their wire bytes, until any zone or
// local data changes (the compiled answers' invalidation calls clear(); both memos are bounded). Only a
// name seen before is remembered (a doorkeeper bit per name hash): a random-name flood, every name new,
// would otherwise fill and empty the memos without one of its entries ever being used.

import type { QuerySlot } from '../dns/query-reader.js';
import { AnswerTable } from '../dns/answer-table.js';
import { BoundedMemo } from '../util/bounded-memo.js';
import type { ZoneSetReader } from '../zone/index.js';
import type { ForwardingPort } from './forward-handoff.js';
import type { LocalReader } from './local-names.js';

/** Names whose forwarding verdict is remembered (both memos below), before they start over. */
const FORWARDED_MEMO_LIMIT = 10_000;
/** Doorkeeper bits (a power of two), and how many are set before they are all cleared (about 1 in 8). */
const SEEN_BITS = 1 << 16;
const SEEN_CLEAR_AFTER = SEEN_BITS >> 3;

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
  /** Names seen since the doorkeeper was last cleared, one bit per name hash (false positives are harmless). */
  private readonly seen = new Uint8Array(SEEN_BITS >> 3);
  private seenSet = 0;

  /** `local` is the responder's list of local stores, read as it is at each decision. */
  constructor(zones: ZoneSetReader, local: readonly LocalReader[], forwarder: ForwardingPort | null) {
    this.zones = zones;
    this.local = local;
    this.forwarder = forwarder;
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
    if (this.firstSight(slot.hash)) return this.decide(qname);
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

  /** True the first time a name hash comes by (since the bits were last cleared); marks it seen. */
  private firstSight(hash: number): boolean {
    const bit = hash & (SEEN_BITS - 1);
    const mask = 1 << (bit & 7);
    const byte = this.seen[bit >>> 3]!;
    if ((byte & mask) !== 0) return false;
    if (++this.seenSet > SEEN_CLEAR_AFTER) {
      this.seen.fill(0);
      this.seenSet = 1;
    }
    this.seen[bit >>> 3] = (this.seen[bit >>> 3]! | mask);
    return true;
  }

  private decide(qname: string): boolean {
    for (const local of this.local) if (local.lookup(qname, 0) !== null) return false;
    if (this.zones.findZone(qname) !== undefined) return false;
    return this.forwarder!.routes(qname) || this.forwarder!.isLoopProbe(qname);
  }
}
