// Sends a corpus to two servers with bounded concurrency and collects the differences. Also starts
// the pair of servers (named as the reference, kdns under test) on the same zone files.
import { query } from '../helpers/dns-client.js';
import { startNamed, type NamedHandle } from '../helpers/named.js';
import { startKdns, type KdnsProcess } from '../helpers/kdns-process.js';
import { encodeQuery, queryText, type CorpusQuery, type ZoneSpec } from './corpus.js';
import { diffQuery, type CompareOptions, type Outcome, type QueryDiff } from './compare.js';

export interface RunOptions extends CompareOptions {
  concurrency?: number;
  timeoutMs?: number;
  /** Stop sending after this many queries went unanswered by either side (default 25). */
  maxSilent?: number;
  /** Stop sending after this long, in ms (default: no deadline). */
  deadlineMs?: number;
}

export interface RunResult {
  passed: number;
  failed: number;
  diffs: QueryDiff[];
}

async function ask(port: number, q: CorpusQuery, packet: Buffer, timeoutMs: number): Promise<Outcome> {
  try {
    return await query(port, packet, { tcp: q.tcp, timeoutMs, attempts: 2 });
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** Runs every query against both ports; `a` is the reference. */
export async function runCorpus(corpus: CorpusQuery[], portA: number, portB: number, opts: RunOptions = {}): Promise<RunResult> {
  const concurrency = Math.max(1, Math.min(opts.concurrency ?? 16, 64));
  const timeoutMs = opts.timeoutMs ?? 1500;
  const maxSilent = opts.maxSilent ?? 25;
  const deadline = opts.deadlineMs === undefined ? Infinity : Date.now() + opts.deadlineMs;
  const diffs: (QueryDiff | null)[] = new Array(corpus.length).fill(null);
  let next = 0;
  let silent = 0;
  let stopReason = '';
  const worker = async (): Promise<void> => {
    while (next < corpus.length && !stopReason) {
      const i = next++;
      const q = corpus[i];
      const packet = encodeQuery(q);
      const [a, b] = await Promise.all([ask(portA, q, packet, timeoutMs), ask(portB, q, packet, timeoutMs)]);
      diffs[i] = diffQuery(q, a, b, opts);
      if (a instanceof Error || b instanceof Error) silent++;
      if (silent > maxSilent) stopReason = `stopped: more than ${maxSilent} queries went unanswered`;
      else if (Date.now() > deadline) stopReason = `stopped: the ${opts.deadlineMs} ms deadline passed`;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  // Queries never sent count as failures, so a run cut short can never pass.
  for (let i = next; i < corpus.length; i++) diffs[i] = { query: queryText(corpus[i]), problems: [`not run (${stopReason})`] };
  const found = diffs.filter((d): d is QueryDiff => d !== null);
  return { passed: corpus.length - found.length, failed: found.length, diffs: found };
}

export interface ServerPair {
  named: NamedHandle;
  kdns: KdnsProcess;
  stop(): Promise<void>;
}

/** The kdns command line for serving these zones only. */
export function kdnsArgs(zones: ZoneSpec[]): string[] {
  const args = ['--listen', '127.0.0.1:0'];
  for (const z of zones) args.push('--zone-file', `${z.file}@${z.origin}`);
  args.push('--no-forward', '--http', 'none', '--log-level', 'info');
  return args;
}

/** Starts named and kdns on the same zones; if either fails, the other is stopped. */
export async function startPair(zones: ZoneSpec[]): Promise<ServerPair> {
  const named = await startNamed(zones);
  let kdns: KdnsProcess;
  try {
    kdns = await startKdns(kdnsArgs(zones), { timeoutMs: 30000 });
  } catch (err) {
    await named.stop();
    throw err;
  }
  return {
    named,
    kdns,
    async stop() {
      await Promise.all([named.stop(), kdns.stop()]);
    },
  };
}
