// kdns with dnstap on: the frames it wrote and dropped, read from its /metrics before it stops (the
// throughput comparison is in observation.ts).
import type { Proc } from './proc.js';
import type { PeerResult } from './report.js';

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

/** "N written, M dropped (x%)" for a dnstap peer's frames; — when they could not be read. */
export function framesText(p: PeerResult | undefined): string {
  const f = p?.dnstapFrames;
  if (f === undefined) return '—';
  const total = f.written + f.dropped;
  return `${f.written} written, ${f.dropped} dropped (${total > 0 ? ((100 * f.dropped) / total).toFixed(1) : '0'}%)`;
}
