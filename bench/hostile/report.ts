// The campaign's result: one JSON object (every number) and the markdown tables bench/README.md quotes.
import type { ControlStats } from './control.js';

export interface CategoryResult { name: string; sent: number; responses: number; bytesOut: number; bytesIn: number }

export interface RawgenResult {
  sent: number; seconds: number; sendRate: number; sendErrors: number; bytesSent: number; responses: number;
  bytesReceived: number; maxResponse: number; truncated: number; answeredQr1: number; badShort: number;
  badQr0: number; badRcode: number; sampled: number; unmatched: number; sources: number; rcodes: number[];
  categories: Array<{ sent: number; responses: number; bytesOut: number; bytesIn: number }>;
  badSamples: string[];
}

export interface CampaignResult {
  date: string;
  command: string;
  machine: string;
  options: Record<string, unknown>;
  server: {
    pid: number; exited: boolean; cpuSeconds: number; exitCode: number | null; signal: string | null; workerRestarts: number | null;
    logLevels: Record<string, number>; logSamples: string[];
  };
  udp: RawgenResult & { byCategory: CategoryResult[]; samplesChecked: number; samplesMalformed: number; malformedSamples: string[] };
  drops: { kernel: number; sockets: number; metric: number | null };
  memory: { rssStartKiB: number; rssPeakKiB: number; hwmKiB: number; rssEndKiB: number };
  control: Array<Omit<ControlStats, 'latenciesMs'> & { p50Ms: number; p99Ms: number; maxMs: number }>;
  tcp: Record<string, unknown> | null;
  metrics: Record<string, number>;
  findings: string[];
}

export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

const mib = (kib: number): string => (kib / 1024).toFixed(1);
const n = (x: number): string => x.toLocaleString('en-US');
const pct = (a: number, b: number): string => (b > 0 ? `${((100 * a) / b).toFixed(1)} %` : '—');

/** What a reader must know first: anything here is a defect found by the campaign. */
export function findings(r: Omit<CampaignResult, 'findings'>): string[] {
  const out: string[] = [];
  const s = r.server;
  if (s.exited) out.push(`server exited during the campaign (code ${s.exitCode}, signal ${s.signal})`);
  if ((s.workerRestarts ?? 0) > 0) out.push(`${s.workerRestarts} worker restart(s) (kdns_worker_restarts_total)`);
  for (const c of r.control) {
    if (c.wrong > 0) out.push(`${c.wrong} wrong control answer(s), ${c.label} over ${c.transport}: ${c.wrongSamples.join('; ')}`);
    if (c.timeouts > 0) out.push(`${c.timeouts} of ${c.asked} control queries timed out, ${c.label} over ${c.transport}`);
  }
  const u = r.udp;
  if (u.answeredQr1 > 0) out.push(`${u.answeredQr1} datagrams with QR=1 were answered`);
  const badHeader = u.badShort + u.badQr0 + u.badRcode;
  if (badHeader > 0) out.push(`${badHeader} responses with a bad header (short ${u.badShort}, QR=0 ${u.badQr0}, rcode>5 ${u.badRcode})`);
  if (u.samplesMalformed > 0) out.push(`${u.samplesMalformed} of ${u.samplesChecked} sampled responses do not parse strictly`);
  return r.tcp ? out.concat(tcpFindings(r.tcp as unknown as TcpSummary)) : out;
}

function controlTable(r: CampaignResult): string[] {
  const lines = ['| control query | asked | right | wrong | timeouts | p50 / p99 / max ms | timeouts at (s) |', '|---|---|---|---|---|---|---|'];
  for (const c of r.control) {
    const at = c.timeoutAt.length > 12 ? `${c.timeoutAt.slice(0, 12).join(', ')}, …` : c.timeoutAt.join(', ');
    lines.push(`| ${c.label} over ${c.transport.toUpperCase()} | ${c.asked} | ${c.right} | ${c.wrong} | ${c.timeouts} | ` +
      `${c.p50Ms.toFixed(1)} / ${c.p99Ms.toFixed(1)} / ${c.maxMs.toFixed(1)} | ${at || '—'} |`);
  }
  return lines;
}

function categoryTable(r: CampaignResult): string[] {
  // Amplification per answer: the mean answer size over the mean datagram size (drops do not change it).
  const lines = ['| category | sent | answered | answer bytes ÷ query bytes |', '|---|---|---|---|'];
  for (const c of r.udp.byCategory) {
    const amp = c.responses > 0 && c.bytesOut > 0 ? ((c.bytesIn / c.responses) / (c.bytesOut / c.sent)).toFixed(2) : '—';
    lines.push(`| ${c.name} | ${n(c.sent)} | ${pct(c.responses, c.sent)} | ${amp} |`);
  }
  return lines;
}

function tcpFindings(t: TcpSummary): string[] {
  const out: string[] = [];
  const kept = (h: Held, what: string): void => {
    const open = h.opened - h.closedByServer;
    if (open > 0 && t.seconds >= 30) out.push(`${open} of ${h.opened} ${what} were still open after ${t.seconds} s (never closed by the server)`);
  };
  kept(t.drip, 'one-byte-per-second drip connections');
  kept(t.hugePrefix, 'connections that sent a 65535 length prefix and stopped');
  const hc = t.halfClosed;
  const missing = (hc.clusterAsked - hc.clusterAnswered) + (hc.forwardedAsked - hc.forwardedAnswered);
  if (missing > 0) {
    out.push(`${missing} queries on half-closed TCP connections were not answered (cluster ${hc.clusterAsked - hc.clusterAnswered} of ` +
      `${hc.clusterAsked}, forwarded ${hc.forwardedAsked - hc.forwardedAnswered} of ${hc.forwardedAsked}): ${hc.closedEmpty} connections ` +
      `closed by the server without any answer, ${hc.closedShort} after some, ${hc.timedOut} not answered within 5 s`);
  }
  if (hc.wrong > 0) out.push(`${hc.wrong} wrong answers on half-closed TCP connections`);
  if (t.garbage.badResponses > 0) out.push(`${t.garbage.badResponses} malformed TCP responses to pipelined garbage`);
  return out;
}

type Held = { wanted: number; opened: number; connectErrors: number; closedByServer: number; answers: number; lifetimeSeconds: { min: number; max: number } | null };

interface TcpSummary {
  idle: Held; drip: Held; hugePrefix: Held; seconds: number; rounds: number;
  halfClosed: { asked: number; answered: number; clusterAsked: number; clusterAnswered: number; forwardedAsked: number; forwardedAnswered: number; wrong: number; connectErrors: number; closedEmpty: number; closedShort: number; timedOut: number };
  garbage: { connections: number; bytesSent: number; responses: number; badResponses: number; closedByServer: number; connectErrors: number };
  churn: { attempted: number; connected: number; connectErrors: number };
}

function tcpTable(tcp: Record<string, unknown>): string[] {
  const held = (label: string, h: Held): string => {
    const life = h.lifetimeSeconds ? `${h.lifetimeSeconds.min}–${h.lifetimeSeconds.max} s` : '—';
    return `| ${label} | ${n(h.wanted)} | ${n(h.opened)} | ${n(h.connectErrors)} | ${n(h.closedByServer)} | ${life} |`;
  };
  const t = tcp as unknown as TcpSummary;
  const hc = t.halfClosed;
  const g = t.garbage;
  return [
    `Held for ${t.seconds} s:`, '',
    '| held connections | wanted | opened | connect errors | closed by the server | closed after |', '|---|---|---|---|---|---|',
    held('idle (never send)', t.idle), held('one byte per second', t.drip), held('length prefix 65535, then silence', t.hugePrefix),
    '',
    `${t.rounds} rounds, every 5 s: half-closed connections with a cluster and a forwarded query pending answered ` +
      `${hc.clusterAnswered}/${hc.clusterAsked} cluster and ${hc.forwardedAnswered}/${hc.forwardedAsked} forwarded (${hc.wrong} wrong, ` +
      `${hc.connectErrors} connect errors; of the connections missing an answer, ${hc.closedEmpty} were closed by the server without ` +
      `any answer, ${hc.closedShort} after some, ${hc.timedOut} were still open after 5 s); pipelined garbage: ${g.connections} connections, ${n(g.bytesSent)} bytes, ` +
      `${g.responses} responses (${g.badResponses} malformed), ${g.closedByServer} closed by the server; connect-and-reset churn: ` +
      `${t.churn.connected}/${t.churn.attempted} connected (${t.churn.connectErrors} errors).`,
  ];
}

export function markdown(r: CampaignResult): string {
  const u = r.udp;
  const lines = [
    `#### Hostile-traffic campaign, ${r.date}`, '',
    `Command: \`${r.command}\`  `,
    `Machine: ${r.machine}  `,
    `Options: ${Object.entries(r.options).map(([k, v]) => `${k}=${v}`).join(', ')}`, '',
    r.findings.length === 0 ? '**Findings: none.**' : `**Findings (${r.findings.length}):**`, '',
    ...r.findings.map((f) => `- ${f}`), ...(r.findings.length ? [''] : []),
    '| what | result |', '|---|---|',
    `| server | ${r.server.exited ? `**exited** (code ${r.server.exitCode}, signal ${r.server.signal})` : 'still running at the end'}; CPU ${r.server.cpuSeconds} s during the attack; worker restarts ${r.server.workerRestarts ?? 'n/a'}; log lines warn ${r.server.logLevels.warn ?? 0}, error ${r.server.logLevels.error ?? 0}, fatal ${r.server.logLevels.fatal ?? 0} |`,
    `| UDP datagrams | ${n(u.sent)} sent in ${u.seconds.toFixed(0)} s (${n(Math.round(u.sendRate))}/s) from ${u.sources} source addresses in 127.0.0.0/8, ${n(u.sendErrors)} send errors |`,
    `| responses | ${n(u.responses)} (${pct(u.responses, u.sent)}; ${n(u.unmatched)} came back more than 2 s after their datagram and are not counted per category), TC ${n(u.truncated)}, largest ${u.maxResponse} bytes, mean answer ÷ mean datagram ${((u.bytesReceived / Math.max(1, u.responses)) / (u.bytesSent / Math.max(1, u.sent))).toFixed(2)} |`,
    `| bad responses | header: ${u.badShort + u.badQr0 + u.badRcode}; QR=1 answered: ${u.answeredQr1}; strict parse of ${n(u.samplesChecked)} sampled: ${u.samplesMalformed} malformed |`,
    `| kernel drops (server's UDP sockets) | ${n(r.drops.kernel)} (${pct(r.drops.kernel, u.sent)} of sent) on ${r.drops.sockets} sockets; kdns_udp_receive_drops_total ${r.drops.metric ?? 'not exported'} |`,
    `| memory (VmRSS) | start ${mib(r.memory.rssStartKiB)} MiB, peak ${mib(r.memory.rssPeakKiB)} MiB (VmHWM ${mib(r.memory.hwmKiB)}), end ${mib(r.memory.rssEndKiB)} MiB |`,
    '',
    ...controlTable(r), '',
    ...categoryTable(r), '',
    ...(r.tcp ? tcpTable(r.tcp) : ['TCP abuse: not run.']),
  ];
  return lines.join('\n') + '\n';
}
