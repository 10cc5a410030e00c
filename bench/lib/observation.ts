// What watching costs (issue 14): kdns native with the HTTP server on, with top talkers on and with dnstap
// on, each against plain kdns native measured in the same interleaved rounds: throughput and CPU per query
// on the query mix and on the random-name flood, and dnstap's frames written and dropped.
import { DNSTAP_PEER, framesText } from './dnstap.js';
import { find, floodQps, fmtRange, range, ratio, udpQps, type PeerResult, type Range, type Results } from './report.js';

const VARIANTS: Array<[id: string, what: string]> = [
  ['kdns-native-http', 'HTTP on, top talkers off'],
  ['kdns-native-top', 'top talkers on'],
  [DNSTAP_PEER, 'dnstap on (to a file), top talkers off'],
];

const ok = (p: PeerResult | undefined): p is PeerResult => p !== undefined && p.status === 'ok';
const mixCpu = (p: PeerResult | undefined): Range | undefined => (ok(p) ? range(p.udp.map((u) => u.cpuUsPerQuery)) : undefined);
const floodCpu = (p: PeerResult | undefined): Range | undefined => (ok(p) && p.flood ? range(p.flood.map((u) => u.cpuUsPerQuery)) : undefined);
const us = (r: Range | undefined): string => (r === undefined ? '—' : r.median.toFixed(2));

/** One row per variant that ran; empty when plain kdns native or every variant is missing. */
export function observationTable(r: Results): string {
  const plain = find(r.oneWorker, 'kdns-native');
  const rows = VARIANTS.map(([id, what]) => [find(r.oneWorker, id), what] as const).filter(([p]) => ok(p));
  if (!ok(plain) || rows.length === 0) return '';
  const lines = [
    '| kdns native, 1 worker pinned | mix qps | ÷ plain | CPU µs/query (÷ plain) | flood qps | ÷ plain | CPU µs/query (÷ plain) | dnstap frames (all runs) |',
    '|---|---|---|---|---|---|---|---|',
    `| plain (\`--http none\`) | ${fmtRange(udpQps(plain))} | 1.00× | ${us(mixCpu(plain))} | ${fmtRange(floodQps(plain))} | 1.00× | ${us(floodCpu(plain))} | — |`,
  ];
  for (const [p, what] of rows) {
    lines.push(`| ${what} | ${fmtRange(udpQps(p))} | ${ratio(udpQps(p), udpQps(plain))} | ${us(mixCpu(p))} (${ratio(mixCpu(p), mixCpu(plain))}) | ` +
      `${fmtRange(floodQps(p))} | ${ratio(floodQps(p), floodQps(plain))} | ${us(floodCpu(p))} (${ratio(floodCpu(p), floodCpu(plain))}) | ` +
      `${p!.id === DNSTAP_PEER ? framesText(p) : '—'} |`);
  }
  const http = find(r.oneWorker, 'kdns-native-http');
  const top = find(r.oneWorker, 'kdns-native-top');
  if (ok(http) && ok(top)) {
    // The two differ in top talkers alone (both run the HTTP server): the cleanest view of their cost.
    lines.push('', `Top talkers on ÷ HTTP on, top talkers off: mix ${ratio(udpQps(top), udpQps(http))} qps, ${ratio(mixCpu(top), mixCpu(http))} CPU/query; ` +
      `flood ${ratio(floodQps(top), floodQps(http))} qps, ${ratio(floodCpu(top), floodCpu(http))} CPU/query.`);
  }
  const two = find(r.twoWorkers, DNSTAP_PEER);
  if (ok(two)) {
    lines.push('', `2 workers, unpinned: dnstap on ${fmtRange(udpQps(two))} qps, ${ratio(udpQps(two), udpQps(find(r.twoWorkers, 'kdns-native')))} ` +
      `of kdns native; frames ${framesText(two)}.`);
  }
  return lines.join('\n');
}
