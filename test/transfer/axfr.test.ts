// Zone transfers over the wire with dig and kdig: a zone file's AXFR is record for record what bind9
// (primary for the same file) transfers; a large zone spans several messages; a dynamic zone's changes
// come back as IXFR differences, the whole zone when the journal does not reach back, one SOA when the
// client is current; over UDP, IXFR is the SOA alone and AXFR is FORMERR.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dnsPacket from 'dns-packet';
import { fixture, startKdns } from '../helpers/kdns-process.js';
import { startNamed } from '../helpers/named.js';
import { buildQuery, UdpClient } from '../wire/clients.js';
import { httpGet, metricValue } from '../k8s/harness.js';

const TOKEN = 'transfer-token-0123456789abcdef';
const dir = mkdtempSync(path.join(os.tmpdir(), 'kdns-axfr-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(path.join(dir, 'token'), TOKEN + '\n');
// 3,000 names: more than one 16 KiB message.
const big = ['$ORIGIN big.test.', '$TTL 60', '@ IN SOA ns hostmaster 7 3600 600 86400 60', '@ IN NS ns', 'ns IN A 192.0.2.1'];
for (let i = 0; i < 3000; i++) big.push(`host-${i} IN A 10.${(i >> 8) & 255}.${i & 255}.1`);
writeFileSync(path.join(dir, 'big.zone'), big.join('\n') + '\n');

const kdns = await startKdns([
  '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--no-forward',
  '--zone-file', `${fixture('wire', 'example.zone')}@example.test`, '--zone-file', path.join(dir, 'big.zone'),
  '--dynamic-zone', 'dyn.test', '--api-token-file', path.join(dir, 'token'), '--transfer-to', '127.0.0.1/32',
], { t });

/** dig's output as sorted record lines (comments and blank lines dropped, whitespace normalised). */
function dig(server: number, args: string[]): { records: string[]; text: string } {
  const r = spawnSync('dig', ['@127.0.0.1', '-p', String(server), '+nocmd', '+nostats', '+nocomments', ...args], { encoding: 'utf8', timeout: 20_000 });
  const records = r.stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';')).map((l) => l.split(/\s+/).join(' '));
  return { records, text: r.stdout };
}

async function metric(type: string, result: string): Promise<number> {
  return metricValue((await httpGet(kdns.httpPort!, '/metrics')).body, 'kdns_transfer_requests_total', { type, result }) ?? 0;
}

async function putRecord(name: string, ip: string): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${kdns.httpPort!}/api/v1/zones/dyn.test/records/${name}/A`, {
    method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ttl: 60, values: [ip] }),
  });
  if (res.status !== 200) throw new Error(`PUT ${name}: ${res.status} ${await res.text()}`);
}

function serialOf(records: string[]): number {
  return Number(records.find((l) => l.includes(' SOA '))!.split(' ')[6]);
}

t.test('AXFR of a zone file: the same records as bind9 transfers for the same file', async (t) => {
  const named = await startNamed([{ file: fixture('wire', 'example.zone'), origin: 'example.test' }]);
  t.teardown(() => named.stop());
  const ours = dig(kdns.port, ['example.test', 'AXFR']).records;
  const theirs = dig(named.port, ['example.test', 'AXFR']).records;
  t.ok(ours.length > 20, `${ours.length} records`);
  t.equal(ours[0], ours[ours.length - 1], 'starts and ends with the SOA');
  t.match(ours[0], / SOA /);
  t.same([...ours].sort(), [...theirs].sort(), 'record for record what named sends');
});

t.test('a large zone goes out in several messages', async (t) => {
  const r = spawnSync('dig', ['@127.0.0.1', '-p', String(kdns.port), 'big.test', 'AXFR'], { encoding: 'utf8', timeout: 20_000 });
  const size = /XFR size: (\d+) records \(messages (\d+)/.exec(r.stdout);
  t.ok(size, 'dig reports the transfer size');
  t.equal(Number(size![1]), 3000 + 4, 'every record (3,000 hosts, NS, ns A, two SOAs)');
  t.ok(Number(size![2]) > 1, `over ${size![2]} messages`);
  const kdig = spawnSync('kdig', ['@127.0.0.1', '-p', String(kdns.port), 'big.test', 'AXFR'], { encoding: 'utf8', timeout: 20_000 });
  t.match(kdig.stdout, /Received \d+ B \((\d+) messages, 3004 records\)/, 'kdig reads the same stream');
});

t.test('IXFR of a dynamic zone: the differences, the whole zone, or the SOA', async (t) => {
  const start = serialOf(dig(kdns.port, ['dyn.test', 'SOA']).records);
  await putRecord('a', '10.1.0.1');
  await putRecord('b', '10.1.0.2');
  await putRecord('a', '10.1.0.3');
  const now = serialOf(dig(kdns.port, ['dyn.test', 'SOA']).records);
  t.equal(now, start + 3, 'three changes, three serials');

  const incrementalBefore = await metric('ixfr', 'incremental');
  const ixfr = dig(kdns.port, ['dyn.test', `IXFR=${start}`]).records;
  t.same(ixfr.filter((l) => !l.includes(' SOA ')), [
    'a.dyn.test. 60 IN A 10.1.0.1',
    'b.dyn.test. 60 IN A 10.1.0.2',
    'a.dyn.test. 60 IN A 10.1.0.1',
    'a.dyn.test. 60 IN A 10.1.0.3',
  ], 'per step what went and what came, in order');
  t.same(ixfr.filter((l) => l.includes(' SOA ')).map((l) => Number(l.split(' ')[6])),
    [now, start, start + 1, start + 1, start + 2, start + 2, now, now], 'framed by the SOAs of each step (RFC 1995 §4)');
  t.equal(await metric('ixfr', 'incremental'), incrementalBefore + 1, 'counted as incremental');

  const fromMiddle = dig(kdns.port, ['dyn.test', `IXFR=${start + 2}`]).records;
  t.same(fromMiddle.filter((l) => !l.includes(' SOA ')), ['a.dyn.test. 60 IN A 10.1.0.1', 'a.dyn.test. 60 IN A 10.1.0.3'], 'from a later serial: only the last step');

  const full = dig(kdns.port, ['dyn.test', `IXFR=${start - 100}`]).records;
  t.same(full.filter((l) => !l.includes(' SOA ')).sort(), ['a.dyn.test. 60 IN A 10.1.0.3', 'b.dyn.test. 60 IN A 10.1.0.2'],
    'a serial the journal does not reach: the whole zone (AXFR form)');
  t.same(dig(kdns.port, ['dyn.test', `IXFR=${now}`]).records.map((l) => l.split(' ')[3]), ['SOA'], 'a current client: one SOA');
  t.same(dig(kdns.port, ['example.test', 'IXFR=1']).records.length, dig(kdns.port, ['example.test', 'AXFR']).records.length,
    'a zone file has no journal: IXFR is the whole zone');
});

t.test('over UDP: IXFR answers the SOA alone, AXFR is FORMERR', async (t) => {
  const udpIxfr = dig(kdns.port, ['dyn.test', 'IXFR=1', '+notcp']);
  t.same(udpIxfr.records.map((l) => l.split(' ')[3]), ['SOA'], 'IXFR over UDP: the current SOA (RFC 1995 §2)');
  const client = new UdpClient(kdns.port);
  await client.bind();
  t.teardown(() => client.close());
  const reply = await client.query(buildQuery('example.test', 'AXFR', { id: 77 }), 2000);
  t.ok(reply, 'answered');
  const decoded = dnsPacket.decode(reply!);
  t.equal(decoded.id, 77);
  t.equal((decoded.flags ?? 0) & 0xf, 1, 'FORMERR: AXFR is a TCP exchange (RFC 5936 §4.2)');
  t.equal(decoded.answers?.length ?? 0, 0, 'with no records');
});

t.test('a zone kdns does not serve: NOTAUTH', async (t) => {
  const r = spawnSync('kdig', ['@127.0.0.1', '-p', String(kdns.port), 'other.test', 'AXFR'], { encoding: 'utf8', timeout: 10_000 });
  t.match(r.stdout + r.stderr, /NOTAUTH/);
});
