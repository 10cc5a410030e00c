// The native engine's answer cache: a C copy of the responder's compiled answers (native/answer_cache.c),
// so table hits over UDP are answered inside the addon's batch loop without a JavaScript call. The responder
// keeps it in step through the AnswerMirror calls; the engine hands it to udpStart.

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

  private constructor(binding: NativeBinding, handle: CacheHandle, forwardedHandle: CacheHandle | null) {
    this.binding = binding;
    this.handle = handle;
    this.forwardedHandle = forwardedHandle;
  }

  /**
   * A cache mirroring `responder`, counting into the observer's counters; null when the observer cannot
   * be written from C (it must then see every query, so nothing may be answered without it).
   */
  static attach(binding: NativeBinding, responder: Responder, observer: QueryObserver | null): NativeAnswerCache | null {
    let counters = null;
    if (observer !== null) {
      if (observer.nativeCounters === undefined) return null;
      counters = observer.nativeCounters();
    }
    const reuse = responder.forwardReuseSetup();
    let forwarded: CacheHandle | null = null;
    if (reuse !== null) {
      forwarded = binding.cacheCreate(true, responder.maxUdpPayload, reuse.maxEntries, reuse.maxEntries * FORWARDED_BYTES_PER_ENTRY);
      binding.cacheMakeForwarded(forwarded, reuse.advertisedUdp, reuse.acl, reuse.hits);
    }
    const cache = new NativeAnswerCache(binding, binding.cacheCreate(responder.recursionAvailable, responder.maxUdpPayload, MAX_TABLE_ENTRIES, MAX_ANSWER_BYTES), forwarded);
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

  negativeReset(batch: NegativeBatch): void {
    this.binding.negativeClear(this.handle);
    this.negativeUpdate(batch);
  }

  negativeUpdate(batch: NegativeBatch): void {
    for (const z of batch.zones) {
      const [nx, nxSoa, nodata] = z.templates ?? [null, null, null];
      this.binding.negativeZone(this.handle, z.apex, nx, nxSoa, nodata, z.conflicts);
    }
    if (batch.count > 0) this.binding.negativeNames(this.handle, batch.names);
  }

  get stats(): NativeCacheStats {
    const s = this.binding.cacheStats(this.handle);
    const f = this.forwardedHandle === null ? { entries: 0, bytes: 0 } : this.binding.cacheStats(this.forwardedHandle);
    const n = this.binding.negativeStats(this.handle);
    return { ...s, forwarded: f.entries, forwardedBytes: f.bytes, negativeNames: n.names, negativeBytes: n.bytes };
  }
}

/**
 * Entries and bytes (slot arrays included) of the compiled-answer table and of the forwarded one, and the
 * names and bytes of the zones' name sets for negative answers (native/negative.c).
 */
export interface NativeCacheStats {
  entries: number;
  bytes: number;
  forwarded: number;
  forwardedBytes: number;
  negativeNames: number;
  negativeBytes: number;
}
