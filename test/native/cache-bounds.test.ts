// Every C answer table has a hard bound (issue 10): entries and bytes, evicting from the sweep cursor, and
// an insert frees expired entries ahead of it, so a name never asked again does not stay for ever. Over the
// wire: 5,000 forwarded names each asked twice (the second answer is the reusable one handed to C) through
// kdns with a real dnsmasq upstream and a forward cache of 1,000 entries leave at most 1,000 in the C copy,
// as kdns_native_cache_entries says in /metrics.
import t from 'tap';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { NativeBinding } from '../../src/engine/native-binding.js';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { startKdns } from '../helpers/kdns-process.js';
import { A, Client, nativeOrFail, query, question } from './setup.js';

const nameOf = (i: number): Buffer => question(`n${i}.bound.test`, A).subarray(0, -4);
const answerFor = (n: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0]), n, Buffer.from([0, 1, 0, 1])]);

function fill(b: NativeBinding, cache: ReturnType<NativeBinding['cacheCreate']>, from: number, to: number, validMs: number): void {
  for (let i = from; i < to; i++) {
    const n = nameOf(i);
    b.cacheSet(cache, n, n.length, A, answerFor(n), 0, validMs);
  }
}

function metricsText(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('end', () => resolve(body));
    }).on('error', reject);
  });
}

function sample(text: string, series: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

const binding = nativeOrFail(t);
if (binding !== null) defineTests(binding);

function defineTests(b: NativeBinding): void {
  t.test('the entry bound holds whatever is inserted; the byte bound too', async (t) => {
    const byEntries = b.cacheCreate(true, 1232, 1000);
    fill(b, byEntries, 0, 5000, 60_000);
    t.equal(b.cacheStats(byEntries).entries, 1000, '5,000 inserts, 1,000 kept');
    const last = nameOf(4999);
    t.ok(b.cacheDelete(byEntries, last, last.length, A), 'the newest answer is among them');
    const entryBytes = last.length + answerFor(last).length;
    const byBytes = b.cacheCreate(true, 1232, 100_000, 300 * entryBytes);
    fill(b, byBytes, 0, 5000, 0);
    const s = b.cacheStats(byBytes);
    t.ok(s.entries <= 300 && s.entries >= 290, `bytes bound: ${s.entries} entries of ~${entryBytes} bytes`);
    const huge = b.cacheCreate(true, 1232, 10, 20);
    fill(b, huge, 0, 1, 0);
    t.equal(b.cacheStats(huge).entries, 0, 'an answer larger than the whole bound is not stored');
  });

  t.test('expired entries go as new ones arrive, without their names being asked again', async (t) => {
    const cache = b.cacheCreate(true, 1232, 100_000);
    fill(b, cache, 0, 5000, 200);
    t.ok(b.cacheStats(cache).entries > 0, 'held until their deadline');
    // Wait (bounded) past the 200 ms deadline; what is asserted is the count, not a duration.
    const until = Date.now() + 250;
    while (Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    // 8 sweep steps per insert, a step being a slot passed or an expired entry freed: 3,000 inserts make
    // 24,000 steps, more than the 16,384 slots plus the 5,000 removals.
    fill(b, cache, 10_000, 13_000, 0);
    t.equal(b.cacheStats(cache).entries, 3000, 'only the live answers are left');
  });

  t.test('over the wire: 5,000 forwarded names asked twice keep at most 1,000 in C, and /metrics says so', async (t) => {
    const upstream = await startDnsmasq(['--address=/bound.test/10.1.2.3', '--local-ttl=300'], 'probe.bound.test');
    t.teardown(() => upstream.stop());
    const dir = mkdtempSync(path.join(tmpdir(), 'kdns-bound-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const config = path.join(dir, 'kdns.yaml');
    writeFileSync(config, 'forward:\n  cache:\n    max-entries: 1000\n');
    const kdns = await startKdns(['-c', config, '--engine', 'native', '--workers', '1', '--listen', '127.0.0.1:0',
      '--http', '127.0.0.1:0', `--server=/bound.test/127.0.0.1#${upstream.port}`], { t });
    const client = new Client();
    await client.bind();
    t.teardown(() => client.close());
    let answered = 0;
    for (let from = 0; from < 5000; from += 100) {
      const batch = (id: number): Buffer[] => Array.from({ length: 100 }, (_, k) => query(id + k, `n${from + k}.bound.test`, A));
      for (const round of [0, 1]) answered += (await client.exchange(kdns.port, batch(round * 0x8000 + (from % 0x8000)), 5000)).filter((r) => r !== null).length;
    }
    t.ok(answered >= 9900, `${answered} of 10,000 answered`);
    const text = await metricsText(kdns.httpPort!);
    const entries = sample(text, 'kdns_native_cache_entries{table="forwarded"}');
    const bytes = sample(text, 'kdns_native_cache_bytes{table="forwarded"}');
    t.ok(entries !== null && entries > 0 && entries <= 1000, `forwarded answers held in C: ${entries} (bound 1,000)`);
    t.ok(bytes !== null && bytes > 0 && bytes <= 1000 * 2048 + 2048 * 8, `their bytes: ${bytes}`);
    // The one forward cache of the process (JavaScript, shared by the workers) is bounded by the same setting.
    const forwardEntries = sample(text, 'kdns_cache_entries');
    const forwardBytes = sample(text, 'kdns_cache_size_bytes');
    t.ok(forwardEntries !== null && forwardEntries > 0 && forwardEntries <= 1000, `forward cache entries: ${forwardEntries} (bound 1,000)`);
    t.ok(forwardBytes !== null && forwardBytes > 0 && forwardBytes <= 16 * 1024 * 1024, `forward cache bytes: ${forwardBytes} (bound max-bytes)`);
    t.ok(sample(text, 'kdns_native_cache_entries{table="answers"}') !== null, 'the compiled-answer table is reported too');
    t.ok(sample(text, 'kdns_native_cache_bytes{table="negative"}') !== null, 'and the zones\' names for negative answers');
  });
}
