// The hot path allocates nothing per query: answer a million queries from the compiled-answer table and
// count garbage collections and heap growth while doing it. Run: `node --expose-gc dist/bench/alloc.js
// [--queries 1000000]`. A GC count of 0 (or a handful from the benchmark harness itself) and flat heap
// mean the responder's hit path does not allocate; compare with the miss path numbers printed after it.

import { PerformanceObserver, performance } from 'node:perf_hooks';
import dnsPacket from 'dns-packet';
import { loadZoneFile } from '../src/sources/zonefile/parse.js';
import { Zone, ZoneSet, rrsetFromRecords } from '../src/zone/index.js';
import { LocalNames } from '../src/server/local-names.js';
import { PROTO_UDP, RESPONSE_BUFFER_SIZE, Responder } from '../src/server/responder.js';
import { answerQueryTimed } from '../src/engine/answer.js';
import { DnsCounters } from '../src/metrics/dns-counters.js';

const args = process.argv.slice(2);
const count = Number(args[args.indexOf('--queries') + 1] ?? 0) || 1_000_000;

export interface AllocReport {
  queries: number;
  gcCount: number;
  heapGrowthBytes: number;
  nsPerQuery: number;
}

export function buildResponder(zoneFile: string, origin: string): Responder {
  const parsed = loadZoneFile(zoneFile, origin);
  const zone = new Zone(parsed.origin);
  zone.replaceAll(rrsetFromRecords(parsed.records));
  const zones = new ZoneSet();
  zones.add(zone);
  return new Responder({ zones, local: [new LocalNames()], maxUdpPayload: 1232, chaos: { versionBind: null, idServer: null } });
}

export function queries(names: string[]): Buffer[] {
  return names.flatMap((name, i) => [
    dnsPacket.encode({ type: 'query', id: i, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: 'A', class: 'IN' }] }),
    dnsPacket.encode({
      type: 'query', id: i + 1, questions: [{ name: name.toUpperCase(), type: 'AAAA', class: 'IN' }],
      additionals: [{ name: '.', type: 'OPT', udpPayloadSize: 1232, flags: dnsPacket.DNSSEC_OK } as never],
    }),
  ]);
}

/**
 * Answers `n` queries round-robin from `packets` through the same step the engines run per packet
 * (respond + metrics counters in shared memory, as the native engine's batch loop does), and reports GCs and heap growth during the loop.
 */
export async function measure(responder: Responder, packets: Buffer[], n: number): Promise<AllocReport> {
  const out = Buffer.allocUnsafe(RESPONSE_BUFFER_SIZE);
  const counters = new DnsCounters(DnsCounters.bufferFor(1), 0);
  for (const p of packets) responder.respond(p, p.length, PROTO_UDP, out); // compile every answer once
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  let gcCount = 0;
  const observer = new PerformanceObserver((list) => { gcCount += list.getEntries().length; });
  observer.observe({ entryTypes: ['gc'] });
  const heapBefore = process.memoryUsage().heapUsed;
  const started = performance.now();
  const m = packets.length;
  for (let i = 0; i < n; i++) {
    const p = packets[i % m]!;
    answerQueryTimed(responder, counters, p, p.length, PROTO_UDP, 0, out, 12);
  }
  const elapsed = performance.now() - started;
  const heapGrowthBytes = process.memoryUsage().heapUsed - heapBefore;
  await new Promise((resolve) => setTimeout(resolve, 50)); // GC entries arrive asynchronously
  observer.disconnect();
  return { queries: n, gcCount, heapGrowthBytes, nsPerQuery: (elapsed * 1e6) / n };
}

if (process.argv[1]?.endsWith('alloc.js')) {
  const responder = buildResponder('test/fixtures/wire/example.zone', 'example.test.');
  const names = ['example.test', 'www.example.test', 'mail.example.test', 'alias.example.test', 'big.example.test'];
  const hit = await measure(responder, queries(names), count);
  console.log(JSON.stringify({ path: 'table hit', ...hit }));
}
