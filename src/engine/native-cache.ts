// The native engine's answer cache: a C copy of the responder's compiled answers (native/answer_cache.c),
// so table hits over UDP are answered inside the addon's batch loop without a JavaScript call. The responder
// keeps it in step through the AnswerMirror calls; the engine hands it to udpStart.

import type { AnswerMirror, Responder } from '../server/responder.js';
import type { CacheHandle, NativeBinding } from './native-binding.js';
import type { QueryObserver } from './types.js';

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
      forwarded = binding.cacheCreate(true, responder.maxUdpPayload);
      binding.cacheMakeForwarded(forwarded, reuse.advertisedUdp, reuse.acl, reuse.hits);
    }
    const cache = new NativeAnswerCache(binding, binding.cacheCreate(responder.recursionAvailable, responder.maxUdpPayload), forwarded);
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

  get stats(): { entries: number; bytes: number; forwarded: number } {
    const s = this.binding.cacheStats(this.handle);
    const forwarded = this.forwardedHandle === null ? 0 : this.binding.cacheStats(this.forwardedHandle).entries;
    return { ...s, forwarded };
  }
}
