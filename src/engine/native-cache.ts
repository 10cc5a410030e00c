// The native engine's answer cache: a C copy of the responder's compiled answers (native/answer_cache.c),
// so table hits over UDP are answered inside the addon's batch loop without a JavaScript call. The responder
// keeps it in step through the AnswerMirror calls; the engine hands it to udpStart.

import type { AnswerMirror, Responder } from '../server/responder.js';
import type { CacheHandle, NativeBinding } from './native-binding.js';
import type { QueryObserver } from './types.js';

export class NativeAnswerCache implements AnswerMirror {
  readonly handle: CacheHandle;
  private readonly binding: NativeBinding;

  private constructor(binding: NativeBinding, handle: CacheHandle) {
    this.binding = binding;
    this.handle = handle;
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
    const cache = new NativeAnswerCache(binding, binding.cacheCreate(responder.recursionAvailable, responder.maxUdpPayload));
    if (counters !== null) binding.cacheSetCounters(cache.handle, counters.values, counters.plan);
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

  get stats(): { entries: number; bytes: number } {
    return this.binding.cacheStats(this.handle);
  }
}
