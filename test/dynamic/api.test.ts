// Dynamic zones over the wire: records written through the REST API (fetch) are answered by dig on UDP
// and TCP from every worker, bad input gets 400/404/409 naming the field, writes need the bearer token,
// every change is audited, and a restart serves the saved zone again (a corrupt state file stops kdns).

import t, { type Test } from 'tap';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runKdns, startKdns, type KdnsProcess } from '../helpers/kdns-process.js';
import { rdataOf, runDig, type DigResult } from '../wire/clients.js';

const TOKEN = 'test-token-0123456789abcdef';
const ZONE = 'dyn.test';

interface Reply {
  status: number;
  json: Record<string, unknown> | null;
  headers: Headers;
}

async function api(kdns: KdnsProcess, method: string, path: string, body?: unknown, token: string | null = TOKEN): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`http://127.0.0.1:${kdns.httpPort!}${path}`, {
    method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? null : JSON.parse(text) as Record<string, unknown>, headers: res.headers };
}

const put = (kdns: KdnsProcess, name: string, type: string, body: unknown, token?: string | null): Promise<Reply> =>
  api(kdns, 'PUT', `/api/v1/zones/${ZONE}/records/${name}/${type}`, body, token);

/** dig over UDP and TCP until both show `want` (2 workers apply a change a few ms apart), bounded. */
async function digUntil(t: Test, kdns: KdnsProcess, args: string[], want: (r: DigResult) => boolean, what: string): Promise<DigResult> {
  let last: DigResult | null = null;
  for (const transport of ['+notcp', '+tcp']) {
    const deadline = Date.now() + 5000;
    do {
      last = await runDig('dig', kdns.port, [...args, transport]);
      if (want(last)) break;
    } while (Date.now() < deadline);
    t.ok(want(last), `${what} (${transport})`);
  }
  return last!;
}

function errorField(r: Reply): unknown {
  return (r.json?.error as { field?: unknown } | undefined)?.field;
}

t.test('records through the API, served by dig, saved across a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kdns-dyn-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
  const args = ['--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--workers', '2', '--no-forward',
    '--dynamic-zone', ZONE, '--state-dir', join(dir, 'state'), '--api-token-file', join(dir, 'token')];
  let kdns = await startKdns(args, { t });

  await t.test('write, read back, answer', async (t) => {
    const first = await api(kdns, 'GET', `/api/v1/zones/${ZONE}/records`);
    t.equal(first.status, 200);
    const serial0 = first.json!.serial as number;
    t.same((first.json!.records as { type: string }[]).map((r) => r.type), ['SOA'], 'a new zone holds its SOA only');

    const r = await put(kdns, 'www', 'A', { ttl: 120, values: ['10.1.2.3', '10.1.2.4'] });
    t.equal(r.status, 200, JSON.stringify(r.json));
    t.match(r.json, { zone: 'dyn.test.', name: 'www.dyn.test.', type: 'A', ttl: 120, values: ['10.1.2.3', '10.1.2.4'] });
    t.ok((r.json!.serial as number) > serial0, 'the serial moved');
    const answer = await digUntil(t, kdns, ['www.dyn.test', 'A'], (d) => d.answer.length === 2, 'both addresses answered');
    t.same(rdataOf(answer.answer).sort(), ['10.1.2.3', '10.1.2.4']);
    t.equal(answer.answer[0]![1], '120', 'with the TTL given');
    t.ok(answer.flags.includes('aa'), 'authoritatively');

    const types: [string, string, unknown, string, string][] = [
      ['v6', 'AAAA', ['2001:db8::1'], 'v6.dyn.test', '2001:db8::1'],
      ['alias', 'CNAME', ['www'], 'alias.dyn.test', 'www.dyn.test.'],
      ['_http._tcp', 'SRV', ['0 100 80 www'], '_http._tcp.dyn.test', '0 100 80 www.dyn.test.'],
      ['@', 'MX', ['10 mail.example.net.'], 'dyn.test', '10 mail.example.net.'],
      ['@', 'NS', ['ns1.example.net.'], 'dyn.test', 'ns1.example.net.'],
      ['txt', 'TXT', ['"hello world" "second"'], 'txt.dyn.test', '"hello world" "second"'],
      ['4.3.2.10.in-addr', 'PTR', ['www.dyn.test.'], '4.3.2.10.in-addr.dyn.test', 'www.dyn.test.'],
    ];
    for (const [name, type, values, qname, want] of types) {
      t.equal((await put(kdns, name, type, { values })).status, 200, `PUT ${type}`);
      await digUntil(t, kdns, [qname, type], (d) => rdataOf(d.answer, type).includes(want), `${type} answered as ${want}`);
    }
    const listed = await api(kdns, 'GET', `/api/v1/zones/${ZONE}/records?name=www`);
    t.same(listed.json!.records, [{ name: 'www.dyn.test.', type: 'A', ttl: 120, values: ['10.1.2.3', '10.1.2.4'] }], '?name= filters');
    t.match(kdns.stdout(), /"audit":true,"action":"put","zone":"dyn.test.","name":"www.dyn.test.","type":"A"/, 'audit line');
  });

  await t.test('refusals name the field', async (t) => {
    const cases: [string, string, unknown, number, unknown][] = [
      ['www', 'A', { ttl: -1, values: ['10.0.0.1'] }, 400, 'ttl'],
      ['www', 'A', { values: ['300.1.1.1'] }, 400, 'values[0]'],
      ['www', 'A', { values: [] }, 400, 'values'],
      ['www', 'A', { values: ['10.0.0.1'], color: 'red' }, 400, 'color'],
      ['www', 'HINFO', { values: ['a b'] }, 400, 'type'],
      ['www.other.test.', 'A', { values: ['10.0.0.1'] }, 400, 'name'],
      ['www', 'CNAME', { values: ['elsewhere.example.'] }, 409, 'type'],
      ['alias', 'A', { values: ['10.0.0.1'] }, 409, 'type'],
      ['@', 'CNAME', { values: ['elsewhere.example.'] }, 409, 'type'],
    ];
    for (const [name, type, body, status, field] of cases) {
      const r = await put(kdns, name, type, body);
      t.equal(r.status, status, `${name} ${type} ${JSON.stringify(body)} → ${status}`);
      t.equal(errorField(r), field, `names ${String(field)}: ${JSON.stringify(r.json)}`);
    }
    t.equal((await put(kdns, 'www', 'A', '{not json')).status, 400, 'a body that is not JSON');
    t.equal((await api(kdns, 'GET', '/api/v1/zones/nope.test/records')).status, 404, 'unknown zone');
    t.equal((await api(kdns, 'PUT', '/api/v1/zones/nope.test/records/a/A', { values: ['10.0.0.1'] })).status, 404);
    const anonymous = await put(kdns, 'www', 'A', { values: ['10.9.9.9'] }, null);
    t.equal(anonymous.status, 401, 'no token: 401');
    t.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer/);
    t.equal((await put(kdns, 'www', 'A', { values: ['10.9.9.9'] }, 'wrong-token-0123456789')).status, 401, 'wrong token: 401');
    const still = await runDig('dig', kdns.port, ['www.dyn.test', 'A']);
    t.same(rdataOf(still.answer).sort(), ['10.1.2.3', '10.1.2.4'], 'nothing refused reached the zone');
  });

  await t.test('delete', async (t) => {
    t.equal((await api(kdns, 'DELETE', `/api/v1/zones/${ZONE}/records/v6/AAAA`)).status, 204);
    await digUntil(t, kdns, ['v6.dyn.test', 'AAAA'], (d) => d.status === 'NXDOMAIN', 'deleted name is NXDOMAIN');
    t.equal((await api(kdns, 'DELETE', `/api/v1/zones/${ZONE}/records/v6/AAAA`)).status, 404, 'deleting twice: 404');
    t.equal((await api(kdns, 'DELETE', `/api/v1/zones/${ZONE}/records/v6/AAAA`, undefined, null)).status, 401);
  });

  await t.test('a restart serves the saved zone; a corrupt state file stops kdns', async (t) => {
    const serial = (await api(kdns, 'GET', `/api/v1/zones/${ZONE}/records`)).json!.serial;
    t.equal(await kdns.stop(), 0);
    kdns = await startKdns(args, { t });
    const again = await runDig('dig', kdns.port, ['www.dyn.test', 'A']);
    t.same(rdataOf(again.answer).sort(), ['10.1.2.3', '10.1.2.4'], 'served after the restart');
    t.equal((await api(kdns, 'GET', `/api/v1/zones/${ZONE}/records`)).json!.serial, serial, 'same serial');
    t.equal((await runDig('dig', kdns.port, ['v6.dyn.test', 'AAAA'])).status, 'NXDOMAIN', 'the delete was saved too');
    t.equal(await kdns.stop(), 0);

    const file = join(dir, 'state', 'dynamic', 'dyn.test.json');
    const saved = readFileSync(file, 'utf8');
    writeFileSync(file, saved.slice(0, saved.length / 2));
    const broken = await runKdns(args);
    t.equal(broken.code, 2, 'exit 2');
    t.match(broken.stderr + broken.stdout, file, 'the message names the file');
    writeFileSync(file, saved.replace('10.1.2.3', '10.1.2.300'));
    const bad = await runKdns(args);
    t.equal(bad.code, 2);
    t.match(bad.stderr + bad.stdout, /records\[\d+\]: values\[0\]/, 'and the record and field that are wrong');
  });
});

t.test('without a token file writes are off and reads still work', async (t) => {
  const kdns = await startKdns(['--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--workers', '1', '--no-forward',
    '--dynamic-zone', ZONE], { t });
  const r = await put(kdns, 'www', 'A', { values: ['10.0.0.1'] });
  t.equal(r.status, 403, 'writes refused');
  t.match(String((r.json?.error as { message?: string }).message), /--api-token-file/);
  t.equal((await api(kdns, 'GET', `/api/v1/zones/${ZONE}/records`)).status, 200, 'reads allowed');
  t.match(kdns.stdout(), /kept in memory only/, 'says the zone is not saved');
  const doc = await api(kdns, 'GET', '/api/v1/openapi.json');
  t.equal(doc.status, 200);
  t.same(Object.keys(doc.json!.paths as object).sort(), [
    '/api/v1/openapi.json', '/api/v1/zones', '/api/v1/zones/{zone}/records', '/api/v1/zones/{zone}/records/{name}/{type}',
  ], 'the OpenAPI document describes every route');
  t.equal((await api(kdns, 'GET', '/api/v1/nothing')).status, 404);
});
