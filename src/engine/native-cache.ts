// The native engine's answer cache: a C copy of the responders' compiled answers (native/answer_cache.c),
// so table hits over UDP are answered inside the addon's batch loop without a JavaScript call. The responder
// keeps it in step through the AnswerMirror calls; the engine hands it to udpStart. With a share key the C
// tables exist once per process and this is one worker's view of them: its answers (it deletes and clears
// only those), its counters, and, for one view per table, the feed of the negative answers.

import { MAX_TABLE_ENTRIES, type AnswerMirror, type Responder } from '../server/responder.js';
import type { NegativeBatch } from '../server/negative-feed.js';
import type { CacheHandle, NativeBinding } from './native-binding.js';
import type { QueryObserver } from './types.js';

/**
 * Byte bounds of the C tables. Compiled answers: the responder's table is bounded by entries only, so this
 * stops a zone of huge answers from growing the copy without end (past it the copy evicts and JavaScript
 * answers). Forwarded answers are UDP messages of at most the forwarder's advertised 1232 bytes.
 */
const MAX_ANSWER_BYTES = 256 * 1024 * 1024;
const FORWARDED_BYTES_PER_ENTRY = 2048;

export class NativeAnswerCache implements AnswerMirror {
  readonly handle: CacheHandle;
  /** Forwarded answers the forwarder said may be reused for a while (null without a forwarder). */
  readonly forwardedHandle: CacheHandle | null;
  private readonly binding: NativeBinding;
  /**
   * Set only on the view that feeds the table's negative answers (one per table: the responder then builds
   * the batches once per process, not once per worker).
   */
  negativeReset?: (batch: NegativeBatch) => void;
  negativeUpdate?: (batch: NegativeBatch) => void;

  private constructor(binding: NativeBinding, handle: CacheHandle, forwardedHandle: CacheHandle | null) {
    this.binding = binding;
    this.handle = handle;
    this.forwardedHandle = forwardedHandle;
    if (binding.cacheClaimNegative(handle)) {
      this.negativeReset = (batch) => this.writeNegative(batch, true);
      this.negativeUpdate = (batch) => this.writeNegative(batch, false);
    }
  }

  /**
   * A cache mirroring `responder`, counting into the observer's counters; null when the observer cannot
   * be written from C (it must then see every query, so nothing may be answered without it). `shareKey`
   * names the process-global tables (`KEY/answers`, `KEY/forwarded`) every worker of one server shares;
   * null gives this engine tables of its own.
   */
  static attach(binding: NativeBinding, responder: Responder, observer: QueryObserver | null, shareKey: string | null = null): NativeAnswerCache | null {
    let counters = null;
    if (observer !== null) {
      if (observer.nativeCounters === undefined) return null;
      counters = observer.nativeCounters();
    }
    const reuse = responder.forwardReuseSetup();
    let forwarded: CacheHandle | null = null;
    if (reuse !== null) {
      forwarded = binding.cacheCreate(
        true, responder.maxUdpPayload, reuse.maxEntries, reuse.maxEntries * FORWARDED_BYTES_PER_ENTRY, tableKey(shareKey, 'forwarded'),
      );
      binding.cacheMakeForwarded(forwarded, reuse.advertisedUdp, reuse.acl, reuse.hits);
    }
    const answers = binding.cacheCreate(
      responder.recursionAvailable, responder.maxUdpPayload, MAX_TABLE_ENTRIES, MAX_ANSWER_BYTES, tableKey(shareKey, 'answers'),
    );
    const cache = new NativeAnswerCache(binding, answers, forwarded);
    if (counters !== null) {
      binding.cacheSetCounters(cache.handle, counters.values, counters.plan);
      if (forwarded !== null) binding.cacheSetCounters(forwarded, counters.values, counters.plan);
    }
    responder.addMirror(cache);
    return cache;
  }

  set(name: Buffer, nameLength: number, qtype: number, answer: Buffer): void {
    this.binding.cacheSet(this.handle, name, nameLength, qtype, answer);
  }

  delete(name: Buffer, nameLength: number, qtype: number): void {
    this.binding.cacheDelete(this.handle, name, nameLength, qtype);
  }

  clear(): void {
    this.binding.cacheClear(this.handle);
  }

  setForwarded(name: Buffer, nameLength: number, qtype: number, variant: number, answer: Buffer, validMs: number, kind: number): void {
    if (this.forwardedHandle !== null) this.binding.cacheSet(this.forwardedHandle, name, nameLength, qtype, answer, variant, validMs, kind);
  }

  clearForwarded(): void {
    if (this.forwardedHandle !== null) this.binding.cacheClear(this.forwardedHandle);
  }

  /** One batch: other threads' batch loops see the table before it or after it, never in between. */
  private writeNegative(batch: NegativeBatch, reset: boolean): void {
    const b = this.binding;
    b.negativeBegin(this.handle);
    try {
      if (reset) b.negativeClear(this.handle);
      for (const z of batch.zones) {
        const [nx, nxSoa, nodata] = z.templates ?? [null, null, null];
        b.negativeZone(this.handle, z.apex, nx, nxSoa, nodata, z.conflicts);
      }
      if (batch.count > 0) b.negativeNames(this.handle, batch.names);
    } finally {
      b.negativeEnd(this.handle);
    }
  }

  /** Leaves the tables (the engine stopped): this view's answers go, and the negative feed if it was this one. */
  close(): void {
    this.binding.cacheClose(this.handle);
    if (this.forwardedHandle !== null) this.binding.cacheClose(this.forwardedHandle);
  }

  get stats(): NativeCacheStats {
    const s = this.binding.cacheStats(this.handle);
    const f = this.forwardedHandle === null ? null : this.binding.cacheStats(this.forwardedHandle);
    const n = this.binding.negativeStats(this.handle);
    return {
      entries: s.entries, bytes: s.bytes, forwarded: f?.entries ?? 0, forwardedBytes: f?.bytes ?? 0,
      negativeNames: n.names, negativeBytes: n.bytes, primary: s.primary, forwardedPrimary: f?.primary ?? false,
    };
  }
}

/** The process-global name of one table of a server (null: a table of this view's own). */
function tableKey(shareKey: string | null, table: string): string | undefined {
  return shareKey === null ? undefined : `${shareKey}/${table}`;
}

/**
 * Entries and bytes (slot arrays included) of the compiled-answer table and of the forwarded one, and the
 * names and bytes of the zones' name sets for negative answers (native/negative.c). The tables are shared
 * by the workers: `primary` (compiled answers and negative names) and `forwardedPrimary` say whether this
 * worker is the one that reports them, so a sum over workers counts each table once.
 */
export interface NativeCacheStats {
  entries: number;
  bytes: number;
  forwarded: number;
  forwardedBytes: number;
  negativeNames: number;
  negativeBytes: number;
  primary: boolean;
  forwardedPrimary: boolean;
}
