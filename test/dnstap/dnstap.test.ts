// dnstap over the wire: kdns answers dig (authoritative and forwarded to a real dnsmasq), and the real
// dnstap-read (bind9-dnsutils) decodes what it wrote: to a file, and through the unix-socket handshake to
// a Frame Streams reader here. Then sampling, and drops counted when the collector stops reading.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { fixture, startKdns, type KdnsProcess } from '../helpers/kdns-process.js';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { query } from '../helpers/dns-client.js';
import { buildQuery } from '../wire/clients.js';
import { CONTROL_READY, CONTROL_START, CONTROL_STOP, DNSTAP_CONTENT_TYPE } from '../../src/dnstap/frame-streams.js';
import { startFstrmReceiver } from './fstrm-receiver.js';

const run = promisify(execFile);
const DNSTAP_READ = process.env.KDNS_DNSTAP_READ ?? '/usr/bin/dnstap-read';

const dir = mkdtempSync(path.join(tmpdir(), 'kdns-dnstap-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function zoneArgs(extra: string[]): string[] {
  return ['--listen', '127.0.0.1:0', '--zone-file', `${fixture('wire', 'example.zone')}@example.test`, '--http', '127.0.0.1:0', ...extra];
}

async function dig(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=2', ...args]);
  return stdout;
}

interface Logged {
  type: string;
  protocol: string;
  queryAddress?: string;
  queryPort?: number;
  responseAddress?: string;
  responsePort?: number;
  question: string;
  answers: string[];
}

/** `dnstap-read -y`: one YAML document per message. */
async function readDnstap(file: string): Promise<Logged[]> {
  const { stdout } = await run(DNSTAP_READ, ['-y', file], { maxBuffer: 64 * 1024 * 1024 });
  return YAML.parseAllDocuments(stdout, { version: '1.1' }).map((doc) => {
    const m = (doc.toJS() as { message: Record<string, unknown> }).message;
    const data = (m.query_message_data ?? m.response_message_data) as { QUESTION_SECTION?: string[]; ANSWER_SECTION?: string[] };
    return {
      type: String(m.type),
      protocol: String(m.socket_protocol),
      queryAddress: m.query_address as string | undefined,
      queryPort: m.query_port as number | undefined,
      responseAddress: m.response_address as string | undefined,
      responsePort: m.response_port as number | undefined,
      question: data.QUESTION_SECTION?.[0] ?? '',
      answers: data.ANSWER_SECTION ?? [],
    };
  });
}

async function metric(kdns: KdnsProcess, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${kdns.httpPort}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(pattern)) sum += Number(m[1]);
  return sum;
}
const WRITTEN = /^kdns_dnstap_frames_total\{result="written"\} (\d+)$/gm;
const DROPPED = /^kdns_dnstap_frames_total\{result="dropped"\} (\d+)$/gm;
const REQUESTS = /^kdns_dns_requests_total\{[^}]*\} (\d+)$/gm;

/** Polls /metrics until `done` holds (bounded), for counts the main thread folds in on its drain timer. */
async function metricsUntil(kdns: KdnsProcess, done: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('file: client queries and responses (UDP, TCP) and forwarder queries, read back by dnstap-read', async (t) => {
  const upstream = await startDnsmasq(['--host-record=fwd.upstream.test,192.0.2.77'], 'fwd.upstream.test');
  t.teardown(() => upstream.stop());
  const file = path.join(dir, 'file.dnstap');
  const kdns = await startKdns(zoneArgs(['--server', `127.0.0.1#${upstream.port}`, '--dnstap', file]), { t });
  t.match(await dig(kdns.port, 'www.example.test', 'A'), /192\.0\.2\.20/);
  t.match(await dig(kdns.port, '+tcp', 'www.example.test', 'AAAA'), /2001:db8::20/);
  t.match(await dig(kdns.port, 'fwd.upstream.test', 'A'), /192\.0\.2\.77/);
  // At least the six client messages and the forwarded pair have reached the file's writer.
  await metricsUntil(kdns, async () => await metric(kdns, WRITTEN) >= 8, 'frames written');
  t.equal(await metric(kdns, DROPPED), 0, 'nothing dropped');
  t.equal(await kdns.stop(), 0, 'kdns exits 0 (the file is ended with STOP)');

  const logged = await readDnstap(file);
  const one = (type: string, question: string, protocol = 'UDP'): Logged | undefined =>
    logged.find((m) => m.type === type && m.question === question && m.protocol === protocol);
  for (const [question, protocol, answer] of [
    ['www.example.test. IN A', 'UDP', 'www.example.test. 300 IN A 192.0.2.20'],
    ['www.example.test. IN AAAA', 'TCP', 'www.example.test. 300 IN AAAA 2001:db8::20'],
  ] as const) {
    const q = one('CLIENT_QUERY', question, protocol);
    const r = one('CLIENT_RESPONSE', question, protocol);
    t.ok(q, `CLIENT_QUERY ${question} over ${protocol}`);
    t.equal(q?.queryAddress, '127.0.0.1', 'client address');
    t.ok((q?.queryPort ?? 0) > 0, 'client port');
    t.strictSame(r?.answers, [answer], `CLIENT_RESPONSE ${question} carries the answer`);
    t.equal(r?.queryPort, q?.queryPort, 'the response names the same client port');
  }
  const fq = one('FORWARDER_QUERY', 'fwd.upstream.test. IN A');
  const fr = one('FORWARDER_RESPONSE', 'fwd.upstream.test. IN A');
  t.ok(fq, 'FORWARDER_QUERY to the upstream');
  t.equal(fq?.responseAddress, '127.0.0.1', 'upstream address');
  t.equal(fq?.responsePort, upstream.port, 'upstream port');
  t.match(fr?.answers ?? [], [/192\.0\.2\.77$/], 'FORWARDER_RESPONSE carries the upstream answer');
  t.match(one('CLIENT_RESPONSE', 'fwd.upstream.test. IN A')?.answers ?? [], [/192\.0\.2\.77$/], 'the forwarded answer to the client');
  t.ok(logged.length >= 8, `${logged.length} messages in the file`);
});

t.test('unix socket: READY/ACCEPT/START ... STOP/FINISH with a Frame Streams reader; its frames read by dnstap-read', async (t) => {
  const socketPath = path.join(dir, 'collector.sock');
  const receiver = await startFstrmReceiver(socketPath);
  t.teardown(() => receiver.close());
  const kdns = await startKdns(zoneArgs(['--no-forward', '--dnstap', `unix:${socketPath}`]), { t });
  await receiver.started;
  t.match(await dig(kdns.port, 'mail.example.test', 'A'), /status: NOERROR/);
  t.match(await dig(kdns.port, 'nope.example.test', 'A'), /status: NXDOMAIN/);
  await metricsUntil(kdns, async () => await metric(kdns, WRITTEN) >= 4, 'frames written');
  t.equal(await kdns.stop(), 0);
  await receiver.finished;
  t.strictSame(receiver.controls, [
    { type: CONTROL_READY, contentTypes: [DNSTAP_CONTENT_TYPE] },
    { type: CONTROL_START, contentTypes: [DNSTAP_CONTENT_TYPE] },
    { type: CONTROL_STOP, contentTypes: [] },
  ], 'the bidirectional handshake, in order');
  const file = path.join(dir, 'received.dnstap');
  receiver.writeFile(file);
  const logged = await readDnstap(file);
  t.strictSame(logged.map((m) => `${m.type} ${m.question}`), [
    'CLIENT_QUERY mail.example.test. IN A', 'CLIENT_RESPONSE mail.example.test. IN A',
    'CLIENT_QUERY nope.example.test. IN A', 'CLIENT_RESPONSE nope.example.test. IN A',
  ]);
});

t.test('--dnstap-sample 10 logs one exchange in ten, query and response together', async (t) => {
  const file = path.join(dir, 'sampled.dnstap');
  const kdns = await startKdns(zoneArgs(['--no-forward', '--workers', '1', '--dnstap', file, '--dnstap-sample', '10']), { t });
  for (let i = 0; i < 50; i++) await query(kdns.port, buildQuery(`s${i}.example.test`, 'A', { id: i + 1 }), { attempts: 1 });
  t.equal(await kdns.stop(), 0);
  const logged = await readDnstap(file);
  const queries = logged.filter((m) => m.type === 'CLIENT_QUERY').map((m) => m.question);
  t.strictSame(queries, [9, 19, 29, 39, 49].map((i) => `s${i}.example.test. IN A`), 'the 10th, 20th, ... query');
  t.strictSame(logged.filter((m) => m.type === 'CLIENT_RESPONSE').map((m) => m.question), queries, 'and their responses');
});

t.test('a collector that stops reading: frames are dropped and counted, every one accounted for', async (t) => {
  const socketPath = path.join(dir, 'stalled.sock');
  const receiver = await startFstrmReceiver(socketPath, { stall: true });
  t.teardown(() => receiver.close());
  const kdns = await startKdns(zoneArgs(['--no-forward', '--dnstap', `unix:${socketPath}`, '--dnstap-buffer', '4096']), { t });
  await receiver.started;
  // ~2,000 queries and answers of ~150 bytes each: far more than the socket buffers and the 4 KiB backlog hold.
  const N = 2000;
  for (let i = 0; i < N; i += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, j) =>
      query(kdns.port, buildQuery(`d${i + j}.example.test`, 'A', { id: i + j + 1 }), { attempts: 1 }).catch(() => null)));
  }
  // Every query kdns received is a CLIENT_QUERY and every answer a CLIENT_RESPONSE: written or dropped.
  let written = 0;
  let dropped = 0;
  await metricsUntil(kdns, async () => {
    const requests = await metric(kdns, REQUESTS);
    written = await metric(kdns, WRITTEN);
    dropped = await metric(kdns, DROPPED);
    return requests >= N && written + dropped === 2 * requests;
  }, 'every frame written or dropped');
  t.ok(dropped > 0, `dropped ${dropped} frames`);
  t.ok(written > 0, `wrote ${written} frames before the collector backed up`);
  t.ok(kdns.alive(), 'kdns kept answering');
  t.match(await dig(kdns.port, 'www.example.test', 'A'), /192\.0\.2\.20/, 'and still answers');
});

t.test('native engine: the C answer cache stays on, and the exchanges it answers are logged too', async (t) => {
  const file = path.join(dir, 'native.dnstap');
  const kdns = await startKdns(zoneArgs(['--no-forward', '--workers', '1', '--dnstap', file]), { t });
  // Repeats of one name (after the first, table hits the addon answers in C) and a missing name (NXDOMAIN from C).
  for (let i = 0; i < 6; i++) await query(kdns.port, buildQuery('www.example.test', 'A', { id: 100 + i }), { attempts: 1 });
  for (let i = 0; i < 3; i++) await query(kdns.port, buildQuery('absent.example.test', 'A', { id: 200 + i }), { attempts: 1 });
  const native = process.env.KDNS_ENGINE !== 'node';
  if (native) {
    t.ok(await metric(kdns, /^kdns_native_cache_entries\{table="answers"\} (\d+)$/gm) > 0, 'the C answer table is filled while dnstap is on');
  }
  t.equal(await kdns.stop(), 0);
  const logged = await readDnstap(file);
  const count = (type: string, question: string): number => logged.filter((m) => m.type === type && m.question === question).length;
  for (const [question, n] of [['www.example.test. IN A', 6], ['absent.example.test. IN A', 3]] as const) {
    t.equal(count('CLIENT_QUERY', question), n, `every ${question} query logged`);
    t.equal(count('CLIENT_RESPONSE', question), n, 'and every response');
  }
  t.ok(logged.filter((m) => m.type === 'CLIENT_RESPONSE' && m.question === 'www.example.test. IN A')
    .every((m) => m.answers.length === 1 && /192\.0\.2\.20$/.test(m.answers[0]!) && m.queryAddress === '127.0.0.1'), 'each response as sent, with its client');
});

t.test('--dnstap to a path that cannot be written: exit 2 naming it', async (t) => {
  const bad = path.join(dir, 'no-such-dir', 'x.dnstap');
  const kdns = startKdns(zoneArgs(['--no-forward', '--dnstap', bad]), { timeoutMs: 15_000 });
  await t.rejects(kdns, new RegExp(`exited with code 2[\\s\\S]*--dnstap: cannot write ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
});
