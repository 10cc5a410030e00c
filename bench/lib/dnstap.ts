// kdns with dnstap on, measured beside kdns without it in the same run: the frames it wrote and dropped
// (read from its /metrics before it stops) and its throughput as a share of plain kdns native's.
import type { Proc } from './proc.js';
import { find, fmtRange, ratio, udpQps, type PeerResult, type Results } from './report.js';

export const DNSTAP_PEER = 'kdns-dnstap';

/** kdns_dnstap_frames_total of a running dnstap peer (its serving line names the HTTP port). */
export async function dnstapFrames(proc: Proc): Promise<{ written: number; dropped: number } | undefined> {
  const serving = proc.output.find((l) => l.includes('"msg":"serving"'));
  const port = serving === undefined ? undefined : (JSON.parse(serving) as { http?: { port: number } | null }).http?.port;
  if (port === undefined) return undefined;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const count = (result: string): number => Number(new RegExp(`^kdns_dnstap_frames_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { written: count('written'), dropped: count('dropped') };
}

/** Reads the frame counts of every running dnstap peer into its result. */
export async function recordDnstapFrames(running: Array<{ peer: { id: string }; proc: Proc; result: PeerResult }>): Promise<void> {
  for (const r of running) {
    if (r.peer.id !== DNSTAP_PEER || r.proc.exited) continue;
    try {
      r.result.dnstapFrames = await dnstapFrames(r.proc);
    } catch { /* reported as unknown */ }
  }
}

function framesText(p: PeerResult | undefined): string {
  const f = p?.dnstapFrames;
  if (f === undefined) return '—';
  const total = f.written + f.dropped;
  return `${f.written} written, ${f.dropped} dropped (${total > 0 ? ((100 * f.dropped) / total).toFixed(1) : '0'}%)`;
}

/** One row per setting: kdns native and kdns with dnstap on, their ratio and the frames. */
export function dnstapTable(r: Results): string {
  const lines = ['| setting | kdns native UDP qps | with dnstap on | dnstap ÷ plain | dnstap frames (all runs, warm-ups included) |', '|---|---|---|---|---|'];
  const row = (what: string, list: PeerResult[]): void => {
    const plain = udpQps(find(list, 'kdns-native'));
    const tapped = find(list, DNSTAP_PEER);
    if (tapped === undefined) return;
    lines.push(`| ${what} | ${fmtRange(plain)} | ${fmtRange(udpQps(tapped))} | ${ratio(udpQps(tapped), plain)} | ${framesText(tapped)} |`);
  };
  row('1 worker, pinned', r.oneWorker);
  row('2 workers, unpinned', r.twoWorkers);
  return lines.join('\n');
}
