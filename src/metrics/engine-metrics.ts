// Packet-engine metrics read from the engine at scrape time: the kernel's receive drops on our UDP sockets,
// the size of the native addon's answer tables and the data-plane threads' JS heap. In the threaded server each worker registers these on
// its own registry and the main thread sums them (counters and gauges aggregate by sum); the C tables are
// shared by the workers, so one worker reports each.

import { getHeapStatistics } from 'node:v8';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { PacketEngine } from '../engine/types.js';
import type { NativeCacheStats } from '../engine/native-cache.js';

/** What is read; `engine()` may be null before the engine has bound its sockets. */
export interface EngineMetricsSource {
  engine(): (PacketEngine & { readonly answerCacheStats?: NativeCacheStats | null; readonly udpStats?: { nativeAnswers: number } }) | null;
}

export function registerEngineMetrics(registry: Registry, from: EngineMetricsSource): void {
  const registers = [registry];
  new Counter({
    name: 'kdns_udp_receive_drops_total',
    help: 'Datagrams the kernel dropped because a UDP socket\'s receive buffer was full (see udp-buffer).',
    registers,
    collect() {
      // The kernel keeps the count; a counter here only mirrors it (it restarts with the socket).
      this.reset();
      this.inc(from.engine()?.udpReceiveDrops ?? 0);
    },
  });
  new Counter({
    name: 'kdns_native_answers_total',
    help: 'UDP queries answered inside the native addon (compiled, negative and reusable forwarded answers) without JavaScript.',
    registers,
    collect() {
      // The engine keeps the running total (NativeEngine.udpStats); a counter here only mirrors it.
      this.reset();
      this.inc(from.engine()?.udpStats?.nativeAnswers ?? 0);
    },
  });
  // The C tables exist once per process, seen by every worker: only the worker whose view is a table's
  // primary reports it, so the main thread's sum over workers counts each table once.
  const tables = (pick: (s: NativeCacheStats) => [number, number, number]): ((this: Gauge) => void) => function (this: Gauge) {
    const s = from.engine()?.answerCacheStats ?? null;
    const [answers, forwarded, negative] = s === null ? [0, 0, 0] : pick(s);
    const own = s?.primary === true;
    this.set({ table: 'answers' }, own ? answers : 0);
    this.set({ table: 'forwarded' }, s?.forwardedPrimary === true ? forwarded : 0);
    this.set({ table: 'negative' }, own ? negative : 0);
  };
  new Gauge({
    name: 'kdns_native_cache_entries',
    help: 'Entries of the native addon\'s C tables (answers: compiled authoritative; forwarded: reusable forwarded; negative: zone names for NXDOMAIN/NODATA).',
    labelNames: ['table'],
    registers,
    collect: tables((s) => [s.entries, s.forwarded, s.negativeNames]),
  });
  new Gauge({
    name: 'kdns_data_plane_heap_bytes',
    help: 'JavaScript heap of the data-plane threads (summed over workers), used and reserved.',
    labelNames: ['kind'],
    registers,
    collect() {
      // Per isolate: a worker reports its own heap, so the sum over workers is what they hold together.
      const heap = getHeapStatistics();
      this.set({ kind: 'used' }, heap.used_heap_size);
      this.set({ kind: 'total' }, heap.total_heap_size);
    },
  });
  new Gauge({
    name: 'kdns_native_cache_bytes',
    help: 'Bytes of the native addon\'s C tables: names, answer templates and slot arrays.',
    labelNames: ['table'],
    registers,
    collect: tables((s) => [s.bytes, s.forwardedBytes, s.negativeBytes]),
  });
}
