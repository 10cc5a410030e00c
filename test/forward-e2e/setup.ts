// Shared set-up for the end-to-end forwarding tests: the kdns process (test/helpers/kdns-process.ts) in
// front of real upstreams on loopback — dnsmasq for the private domain ops.cna (its --log-queries log
// counts what reached it) and BIND named as the default upstream, run here with querylog on so its
// queries can be counted too. Every server is started by the test and stopped by PID in teardown.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dnsPacket from 'dns-packet';
import { query } from '../helpers/dns-client.js';
import { freePort, namedConf, NAMED_BIN } from '../helpers/named.js';
import { childStopper } from '../helpers/stop-child.js';

export interface Tap { teardown(fn: () => unknown): void }

/** The default upstream's zone: a real TTL (300), SOA MINIMUM 60 for negative answers, short and big RRsets. */
export function exampleZone(): string {
  const lines = [
    '$ORIGIN example.test.',
    '$TTL 300',
    '@      IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60',
    '@      IN NS  ns.example.test.',
    'ns     IN A   192.0.2.53',
    'www    IN A   192.0.2.10',
    'www    IN AAAA 2001:db8::10',
    'Mixed  IN A   192.0.2.11',
    'short 2 IN A  192.0.2.12',
  ];
  // 40 A records: about 700 bytes, over 512 but inside 1232.
  for (let i = 1; i <= 40; i++) lines.push(`mid    IN A   198.51.100.${i}`);
  // 20 TXT records of 100 bytes: about 2.3 kB, over 1232, so only TCP carries the whole answer.
  for (let i = 0; i < 20; i++) lines.push(`big    IN TXT "${String(i).padStart(2, '0')}${'x'.repeat(98)}"`);
  return lines.join('\n') + '\n';
}

/** kdns's own zone, to show it keeps answering what it is authoritative for. */
export const OWN_ZONE = `$ORIGIN kdns.test.
$TTL 60
@    IN SOA ns.kdns.test. hostmaster.kdns.test. 1 3600 600 86400 30
@    IN NS  ns.kdns.test.
ns   IN A   192.0.2.1
self IN A   192.0.2.99
`;

/** A temp dir removed in teardown, with the two zone files written into it. */
export function workDir(t: Tap): { dir: string; exampleZone: string; ownZone: string; write(name: string, text: string): string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'kdns-fwd-e2e-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string): string => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  return { dir, exampleZone: write('example.test.zone', exampleZone()), ownZone: write('kdns.test.zone', OWN_ZONE), write };
}

// ---- named with a query log --------------------------------------------------------------------------

export interface LoggedNamed {
  port: number;
  pid: number;
  /** Queries named logged for `name` (case-insensitive) and `type`; `tcp` restricts to TCP ('T' flag). */
  queriesFor(name: string, type: string, tcp?: boolean): number;
  stop(): Promise<void>;
}

/**
 * BIND named on a free loopback port with the test helper's configuration plus `querylog yes`; with -g
 * the query log goes to stderr, one line per query: `query: NAME IN TYPE FLAGS (127.0.0.1)`.
 */
export async function startLoggedNamed(t: Tap, zoneFile: string, origin: string): Promise<LoggedNamed> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kdns-named-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let lastErr: unknown;
  for (let attempt = 0; attempt < 2; attempt++) { // the free port may be taken before named binds it
    const port = await freePort();
    const conf = namedConf(dir, port, [{ file: zoneFile, origin }]).replace('options {\n', 'options {\n  querylog yes;\n');
    writeFileSync(path.join(dir, 'named.conf'), conf);
    const child = spawn(NAMED_BIN, ['-g', '-c', path.join(dir, 'named.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    const handle = await waitUp(child, port, origin);
    if (handle !== null) {
      t.teardown(() => handle.stop());
      return handle;
    }
    lastErr = new Error(`named did not answer on port ${port}`);
  }
  throw lastErr;
}

async function waitUp(child: ChildProcess, port: number, origin: string): Promise<LoggedNamed | null> {
  const lines: string[] = [];
  let partial = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    const parts = (partial + s).split('\n');
    partial = parts.pop() ?? '';
    for (const l of parts) if (lines.length < 100_000) lines.push(l);
  });
  const { exited, stop } = childStopper(child);
  const probe = dnsPacket.encode({ type: 'query', id: 4242, flags: 0, questions: [{ type: 'SOA', name: origin }] });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !exited()) {
    try {
      await query(port, probe, { timeoutMs: 300, attempts: 1 });
      return {
        port, pid: child.pid!, stop,
        queriesFor: (name, type, tcp) => lines.filter((l) => {
          const m = / query: (\S+) IN (\S+) (\S+)/.exec(l);
          return m !== null && m[1]!.toLowerCase() === name.toLowerCase() && m[2] === type && (!tcp || m[3]!.includes('T'));
        }).length,
      };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await stop();
  return null;
}

// ---- the client side -----------------------------------------------------------------------------------

export interface Answer {
  id: number;
  flags: number;
  rcode: number;
  tc: boolean;
  ra: boolean;
  aa: boolean;
  question: string;
  answers: { name: string; type: string; ttl: number; data: unknown }[];
  authorities: { name: string; type: string; ttl: number }[];
  raw: Buffer;
}

export interface AskOptions {
  tcp?: boolean;
  id?: number;
  /** EDNS UDP size; 0 sends no OPT. Default 1232. */
  edns?: number;
  timeoutMs?: number;
}

let nextId = 1000;

/** One query to kdns on 127.0.0.1:port; the answer decoded (the ID must match, or dns-client keeps waiting). */
export async function ask(port: number, name: string, type: string, o: AskOptions = {}): Promise<Answer> {
  const id = o.id ?? (nextId = (nextId + 1) & 0xffff);
  const edns = o.edns ?? 1232;
  const packet = dnsPacket.encode({
    type: 'query', id, flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: type as dnsPacket.RecordType, name }],
    additionals: edns > 0 ? [{ type: 'OPT', name: '.', udpPayloadSize: edns, flags: 0 } as dnsPacket.Answer] : [],
  });
  const raw = await query(port, packet, { tcp: o.tcp, timeoutMs: o.timeoutMs ?? 3000, attempts: 1 });
  return decode(raw);
}

export function decode(raw: Buffer): Answer {
  const p = dnsPacket.decode(raw);
  const flags = p.flags ?? 0;
  return {
    id: p.id ?? -1, flags, rcode: flags & 0x0f, tc: (flags & 0x200) !== 0, ra: (flags & 0x80) !== 0, aa: (flags & 0x400) !== 0,
    question: p.questions?.[0]?.name ?? '',
    answers: (p.answers ?? []) as unknown as Answer['answers'],
    authorities: (p.authorities ?? []) as unknown as Answer['authorities'],
    raw,
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` every 20 ms for up to `ms` (log lines arrive a little after the answer). */
export async function eventually(cond: () => boolean, ms = 1000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}

// ---- metrics -------------------------------------------------------------------------------------------

/** The /metrics text of a kdns started with `--http 127.0.0.1:0`. */
export async function scrape(httpPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
  return res.text();
}

/** The sum of `name`'s samples whose labels include every pair of `labels` (0 when there is none). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}
