// A local store (hosts names, the cluster's reverse names) as a worker reads it from the shared zone
// image: the hub writes each local name's records there as RRsets (consecutive records of one type, class
// and TTL grouped), under the store's own zone id. Readiness (`unsyncedBelow`) is data from the deltas.

import type { Rr } from '../dns/types.js';
import type { ImageSource } from '../zone/index.js';
import { awaitsSyncBelow, localAnswer, type LocalReader } from './local-names.js';

export class ImageLocalNames implements LocalReader {
  readonly id: number;
  unsyncedBelow: readonly string[] = [];
  private readonly source: ImageSource;

  constructor(id: number, source: ImageSource) {
    this.id = id;
    this.source = source;
  }

  has(name: string): boolean {
    return this.source.reader.state(this.id, name) !== 0;
  }

  names(): Iterable<string> {
    return this.source.reader.names(this.id);
  }

  /** Every record of an exact name (empty when it is not local data). */
  records(name: string): Rr[] {
    const reader = this.source.reader;
    const state = reader.state(this.id, name);
    const out: Rr[] = [];
    if (state === 0) return out;
    for (const s of reader.rrsets(state, name)) {
      for (const rdata of s.rdatas) out.push({ name, type: s.type, class: s.class, ttl: s.ttl, rdata });
    }
    return out;
  }

  lookup(qname: string, qtype: number): ReturnType<LocalReader['lookup']> {
    const records = this.records(qname); // a local name exists only with records
    return records.length === 0 ? null : localAnswer(records, qtype);
  }

  awaitsSync(name: string): boolean {
    return awaitsSyncBelow(this.unsyncedBelow, name);
  }
}
