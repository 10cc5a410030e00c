// /api/v1/stats: the top lists (GET /api/v1/stats/top?by=client|name|nxdomain|namespace&n=20) and the
// dashboard's summary (GET /api/v1/stats/summary). Read-only, no token: the same trust as /metrics.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { mergeTop } from './space-saving.js';
import { summarize, type MetricsJson } from './summary.js';
import { TOP_BY, TOP_WINDOW_MS, type TopBy, type TopReport } from './top-talkers.js';

export interface StatsSource {
  /** Every answering thread's report of list `by`; null when top talkers are off. */
  top: ((by: TopBy, n: number) => Promise<TopReport[]>) | null;
  /** The metrics /metrics serves, as prom-client JSON. */
  metrics(): Promise<MetricsJson>;
  workers(): number;
}

const MAX_N = 1000;
/** Each thread reports more than asked, so a key that is 2nd everywhere but 1st nowhere still adds up. */
const OVERSAMPLE = 4;

export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body) + '\n');
}

export async function handleStats(req: IncomingMessage, res: ServerResponse, url: URL, source: StatsSource): Promise<boolean> {
  const path = url.pathname;
  if (path !== '/api/v1/stats/top' && path !== '/api/v1/stats/summary') return false;
  if (req.method !== 'GET') {
    res.writeHead(405, { allow: 'GET' }).end('method not allowed\n');
    return true;
  }
  if (path === '/api/v1/stats/summary') {
    json(res, 200, summarize(await source.metrics(), source.workers()));
    return true;
  }
  const by = url.searchParams.get('by') ?? 'name';
  const nText = url.searchParams.get('n') ?? '20';
  const n = Number(nText);
  if (!(TOP_BY as readonly string[]).includes(by)) {
    json(res, 400, { error: `by: expected one of ${TOP_BY.join(', ')}, got '${by}'` });
    return true;
  }
  if (!/^\d+$/.test(nText) || n < 1 || n > MAX_N) {
    json(res, 400, { error: `n: expected an integer 1-${MAX_N}, got '${nText}'` });
    return true;
  }
  if (source.top === null) {
    json(res, 404, { error: 'top talkers are off (--top-talkers false)' });
    return true;
  }
  json(res, 200, { by, n, windowSeconds: TOP_WINDOW_MS / 1000, ...await mergedTop(source.top, by as TopBy, n) });
  return true;
}

/** The `n` heaviest keys of list `by` summed over every answering thread, and the total weight. */
export async function mergedTop(top: NonNullable<StatsSource['top']>, by: TopBy, n: number): Promise<TopReport> {
  const reports = await top(by, Math.min(MAX_N, n * OVERSAMPLE));
  return { total: reports.reduce((sum, r) => sum + r.total, 0), top: mergeTop(reports.map((r) => r.top), n) };
}
