// Turns raw repetitions into medians and ranges, the markdown tables, the targets, and an SVG chart.
import type { LatencyResult, TcpResult, UdpResult } from './measure.js';

export interface PeerResult {
  id: string;
  label: string;
  status: 'ok' | 'not available' | 'failed' | 'n/a';
  reason?: string;
  udp: UdpResult[];
  /** The median of each field over latencyReps. */
  latency?: LatencyResult;
  latencyReps?: LatencyResult[];
  tcp: TcpResult[];
  /** The random-name flood: every query a new nonexistent name in the cluster zone. */
  flood?: UdpResult[];
  /** kdns with dnstap on: frames written and dropped over all its runs (bench/lib/dnstap.ts). */
  dnstapFrames?: { written: number; dropped: number };
}

/** kdns's resident memory around a long random-name flood. */
export interface FloodRss {
  queries: number;
  qps: number;
  beforeMiB: number;
  peakMiB: number;
  afterMiB: number;
}

export interface Results {
  date: string;
  command: string;
  machine: { cpus: number; kernel: string; node: string; load: number[] };
  options: Record<string, unknown>;
  oneWorker: PeerResult[];
  oneWorkerUnpinned: PeerResult[];
  twoWorkers: PeerResult[];
  floodRss?: FloodRss;
}

export interface Range { median: number; min: number; max: number; n: number }

export function range(xs: number[]): Range | undefined {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]!, n: v.length };
}

export const udpQps = (p: PeerResult | undefined): Range | undefined => (p && p.status === 'ok' ? range(p.udp.map((u) => u.qps)) : undefined);
const tcpQps = (p: PeerResult | undefined): Range | undefined => (p && p.status === 'ok' ? range(p.tcp.map((u) => u.qps)) : undefined);

function k(n: number): string {
  if (n >= 1e6) return (n / 1e6).toFixed(2) + 'M';
  if (n >= 1e3) return (n / 1e3).toFixed(1) + 'k';
  return n.toFixed(0);
}

export function fmtRange(r: Range | undefined): string {
  if (!r) return '—';
  return r.n > 1 ? `${k(r.median)} (${k(r.min)}–${k(r.max)})` : k(r.median);
}

export function ratio(a: Range | undefined, b: Range | undefined): string {
  return a && b && b.median > 0 ? (a.median / b.median).toFixed(2) + '×' : '—';
}

function statusText(p: PeerResult): string {
  return p.status === 'ok' ? '' : `${p.status}${p.reason ? ': ' + p.reason.slice(0, 120).replace(/\|/g, '/') : ''}`;
}

/** Each field's median over interleaved latency runs (p99 of the median run would hide nothing better). */
export function combineLatency(reps: LatencyResult[]): LatencyResult {
  const med = (f: (l: LatencyResult) => number): number => range(reps.map(f))?.median ?? NaN;
  return { qps: med((l) => l.qps), lost: med((l) => l.lost), p50: med((l) => l.p50), p99: med((l) => l.p99), p999: med((l) => l.p999) };
}

/** p50 / p99 / p999; flagged when the server did not keep up with the fixed rate (then it is queueing). */
function latencyText(l: LatencyResult, rate: number, reps: LatencyResult[] | undefined): string {
  const p99 = range((reps ?? []).map((x) => x.p99));
  const spread = p99 !== undefined && p99.n > 1 ? ` (p99 ${p99.min.toFixed(0)}–${p99.max.toFixed(0)})` : '';
  const text = `${l.p50.toFixed(0)} / ${l.p99.toFixed(0)} / ${l.p999.toFixed(0)}${spread}`;
  // dnsperf counts queries still in flight at its time limit as lost, so a few lost are not a failure.
  if (l.qps < 0.95 * rate) return `${text} (overloaded: ${k(l.qps)} qps, ${l.lost} lost)`;
  return l.lost > 0 ? `${text} (${l.lost} lost)` : text;
}

/** Share of rcodes and TC in all UDP answers: a peer answering REFUSED or SERVFAIL is not comparable. */
function answerMix(p: PeerResult): string {
  let total = 0, noerror = 0, nx = 0, tc = 0;
  for (const u of p.udp) {
    for (const v of Object.values(u.rcodes)) total += v;
    noerror += u.rcodes.noerror ?? 0;
    nx += u.rcodes.nxdomain ?? 0;
    tc += u.truncated;
  }
  if (total === 0) return '—';
  const f = (n: number): string => ((100 * n) / total).toFixed(0);
  return `${f(noerror)} / ${f(nx)} / ${f(total - noerror - nx)}, TC ${f(tc)}`;
}

export function find(list: PeerResult[], id: string): PeerResult | undefined {
  return list.find((p) => p.id === id);
}

export function oneWorkerTable(r: Results): string {
  const bind = udpQps(find(r.oneWorker, 'bind9'));
  const knot = udpQps(find(r.oneWorker, 'knot'));
  const ceil = udpQps(find(r.oneWorker, 'ceiling'));
  const lines = [
    `| server | UDP qps median (range) | server CPU µs/query (ceiling's ÷ this) | × bind9 | × Knot | % of C ceiling | latency p50 / p99 / p999 µs at ${k(Number(r.options.latencyRate))} qps | TCP pipelined qps | answers NOERROR / NXDOMAIN / other, TC (%) |`,
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const p of r.oneWorker) {
    if (p.status !== 'ok') { lines.push(`| ${p.label} | ${statusText(p)} | | | | | | | |`); continue; }
    const q = udpQps(p);
    const cpu = range(p.udp.map((u) => u.cpuUsPerQuery));
    const ceilCpu = range(find(r.oneWorker, 'ceiling')?.udp.map((u) => u.cpuUsPerQuery) ?? []);
    const cpuText = cpu ? cpu.median.toFixed(2) + (ceilCpu && p.id !== 'ceiling' ? ` (${((100 * ceilCpu.median) / cpu.median).toFixed(0)}%)` : '') : '—';
    const lat = p.latency ? latencyText(p.latency, Number(r.options.latencyRate), p.latencyReps) : '—';
    const pctCeil = q && ceil ? ((100 * q.median) / ceil.median).toFixed(0) + '%' : '—';
    lines.push(`| ${p.label} | ${fmtRange(q)} | ${cpuText} | ${ratio(q, bind)} | ${ratio(q, knot)} | ${pctCeil} | ${lat} | ${fmtRange(tcpQps(p))} | ${answerMix(p)} |`);
  }
  return lines.join('\n');
}

export function twoWorkerTable(r: Results): string {
  const lines = ['| server | UDP qps, 1 worker | UDP qps, 2 workers | 2 workers ÷ 1 |', '|---|---|---|---|'];
  for (const p of r.twoWorkers) {
    const one = find(r.oneWorkerUnpinned, p.id);
    const oneText = one ? (one.status === 'ok' ? fmtRange(udpQps(one)) : statusText(one)) : '—';
    if (p.status !== 'ok') { lines.push(`| ${p.label} | ${oneText} | ${statusText(p)} | |`); continue; }
    lines.push(`| ${p.label} | ${oneText} | ${fmtRange(udpQps(p))} | ${ratio(udpQps(p), udpQps(one))} |`);
  }
  return lines.join('\n');
}

export const floodQps = (p: PeerResult | undefined): Range | undefined =>
  (p && p.status === 'ok' && p.flood !== undefined ? range(p.flood.map((u) => u.qps)) : undefined);

/** The random-name flood, same pinning and peers as the table above. */
export function floodTable(r: Results): string {
  const knot = floodQps(find(r.oneWorker, 'knot'));
  const bind = floodQps(find(r.oneWorker, 'bind9'));
  const ceil = floodQps(find(r.oneWorker, 'ceiling'));
  const lines = [
    '| server | flood qps median (range) | server CPU µs/query | × bind9 | × Knot | % of C ceiling | answers NXDOMAIN (%) |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const p of r.oneWorker) {
    const q = floodQps(p);
    if (q === undefined) continue;
    const cpu = range(p.flood!.map((u) => u.cpuUsPerQuery));
    let total = 0, nx = 0;
    for (const u of p.flood!) {
      for (const v of Object.values(u.rcodes)) total += v;
      nx += u.rcodes.nxdomain ?? 0;
    }
    const nxText = total > 0 ? ((100 * nx) / total).toFixed(0) : '—';
    const pctCeil = ceil ? ((100 * q.median) / ceil.median).toFixed(0) + '%' : '—';
    lines.push(`| ${p.label} | ${fmtRange(q)} | ${cpu ? cpu.median.toFixed(2) : '—'} | ${ratio(q, bind)} | ${ratio(q, knot)} | ${pctCeil} | ${nxText} |`);
  }
  const m = r.floodRss;
  if (m !== undefined) {
    lines.push('', `kdns native RSS over a ${k(m.queries)}-query random-name flood (${k(m.qps)} qps): ` +
      `${m.beforeMiB.toFixed(1)} MiB before, ${m.peakMiB.toFixed(1)} MiB peak, ${m.afterMiB.toFixed(1)} MiB after ` +
      `(growth ${(m.peakMiB - m.beforeMiB).toFixed(1)} MiB).`);
  }
  return lines.join('\n');
}

interface Target { what: string; ratio: number | undefined; goal: number }

export function targets(r: Results): Target[] {
  const one = (id: string): Range | undefined => udpQps(find(r.oneWorker, id));
  const native = one('kdns-native');
  const kd = native ? 'kdns-native' : 'kdns-node';
  const kdName = native ? 'kdns native' : 'kdns node (native not available)';
  const div = (a: Range | undefined, b: Range | undefined): number | undefined => (a && b && b.median > 0 ? a.median / b.median : undefined);
  return [
    { what: 'kdns native UDP vs bind9', ratio: div(native, one('bind9')), goal: 2 },
    { what: 'kdns native UDP vs Knot', ratio: div(native, one('knot')), goal: 1 },
    { what: 'kdns native UDP vs C ceiling', ratio: div(native, one('ceiling')), goal: 0.6 },
    { what: 'kdns node engine UDP vs plain dgram', ratio: div(one('kdns-node'), one('dgram')), goal: 1.3 },
    { what: `${kdName} TCP pipelined vs bind9 TCP`, ratio: div(tcpQps(find(r.oneWorker, kd)), tcpQps(find(r.oneWorker, 'bind9'))), goal: 1 },
    { what: `${kdName} UDP vs CoreDNS`, ratio: div(one(kd), one('coredns')), goal: 5 },
    { what: `${kdName} UDP: 2 workers vs 1 (unpinned)`, ratio: div(udpQps(find(r.twoWorkers, kd)), udpQps(find(r.oneWorkerUnpinned, kd))), goal: 1.7 },
    { what: 'kdns native UDP, top talkers on vs off', ratio: div(one('kdns-native-top'), native), goal: 0.95 },
    { what: 'kdns native UDP, 3 views (client in the default view) vs none', ratio: div(one('kdns-native-views'), native), goal: 0.95 },
    {
      what: 'kdns native random-name flood, top talkers on vs off', goal: 0.95,
      ratio: div(floodQps(find(r.oneWorker, 'kdns-native-top')), floodQps(find(r.oneWorker, 'kdns-native'))),
    },
    { what: 'kdns native random-name flood vs Knot', ratio: div(floodQps(find(r.oneWorker, 'kdns-native')), floodQps(find(r.oneWorker, 'knot'))), goal: 1 },
    {
      what: '64 MiB ÷ kdns native RSS growth over the long flood', goal: 1,
      ratio: r.floodRss === undefined ? undefined : 64 / Math.max(r.floodRss.peakMiB - r.floodRss.beforeMiB, 0.1),
    },
  ];
}

export function targetTable(r: Results): string {
  const lines = ['| target | ratio | goal | result |', '|---|---|---|---|'];
  for (const t of targets(r)) {
    const got = t.ratio === undefined ? 'not measured' : t.ratio >= t.goal ? 'met' : 'missed';
    lines.push(`| ${t.what} | ${t.ratio === undefined ? '—' : t.ratio.toFixed(2) + '×'} | ≥ ${t.goal}× | ${got} |`);
  }
  return lines.join('\n');
}

export function markdown(r: Results): string {
  return [
    `### kdns benchmark, ${r.date}`,
    '',
    `Command: \`${r.command}\`  `,
    `Machine: ${r.machine.cpus} CPUs, Linux ${r.machine.kernel}, Node ${r.machine.node}, load average at start ${r.machine.load.map((x) => x.toFixed(2)).join(' ')}  `,
    `Options: ${Object.entries(r.options).map(([a, b]) => `${a}=${String(b)}`).join(', ')}`,
    '',
    'One worker, server pinned to core 0, load generator (udpgen, dnsperf) pinned to core 1:',
    '',
    oneWorkerTable(r),
    '',
    'One and two workers, nothing pinned (server and load generator share both cores):',
    '',
    twoWorkerTable(r),
    '',
    'Random-name flood (every query a new nonexistent name `r<12 hex>.default.svc.cluster.local A`), one worker, pinned as above:',
    '',
    floodTable(r),
    '',
    'Targets:',
    '',
    targetTable(r),
    '',
  ].join('\n');
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A horizontal bar chart: per server, median UDP qps with 1 worker (and 2), whiskers for the range. */
export function svg(r: Results): string {
  const rows = r.oneWorker.map((p) => ({ label: p.label, one: udpQps(p), two: udpQps(find(r.twoWorkers, p.id)) }));
  const max = Math.max(1, ...rows.flatMap((x) => [x.one?.max ?? 0, x.two?.max ?? 0]));
  const raw = max / 5; // about five grid lines, at 1, 2 or 5 × a power of ten
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((x) => x >= raw)!;
  const top = Math.ceil(max / step) * step;
  const W = 960, left = 210, right = 120, rowH = 44, head = 50;
  const H = head + rows.length * rowH + 40;
  const x = (v: number): number => left + ((W - left - right) * v) / top;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">UDP queries per second (median, whiskers: range) — ${esc(r.date)}</text>`,
    `<rect x="${left}" y="30" width="12" height="10" fill="#3b6fb6"/><text x="${left + 16}" y="39">1 worker, pinned</text>`,
    `<rect x="${left + 130}" y="30" width="12" height="10" fill="#e08a2c"/><text x="${left + 146}" y="39">2 workers, unpinned</text>`,
  ];
  for (let t = 0; t <= top; t += step) {
    out.push(`<line x1="${x(t)}" y1="${head}" x2="${x(t)}" y2="${H - 30}" stroke="#ddd"/>`);
    out.push(`<text x="${x(t)}" y="${H - 14}" text-anchor="middle" fill="#555">${k(t)}</text>`);
  }
  rows.forEach((row, i) => {
    const y = head + i * rowH + 6;
    out.push(`<text x="${left - 8}" y="${y + 18}" text-anchor="end">${esc(row.label)}</text>`);
    const bars: Array<[Range | undefined, string, number]> = [[row.one, '#3b6fb6', 0], [row.two, '#e08a2c', 16]];
    for (const [v, color, dy] of bars) {
      if (!v) continue;
      out.push(`<rect x="${left}" y="${y + dy}" width="${x(v.median) - left}" height="14" fill="${color}"/>`);
      if (v.n > 1) out.push(`<line x1="${x(v.min)}" y1="${y + dy + 7}" x2="${x(v.max)}" y2="${y + dy + 7}" stroke="#222"/>`);
      out.push(`<text x="${x(Math.max(v.median, v.max)) + 6}" y="${y + dy + 11}" fill="#333">${k(v.median)}</text>`);
    }
    if (!row.one && !row.two) out.push(`<text x="${left + 4}" y="${y + 18}" fill="#999">not available</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
