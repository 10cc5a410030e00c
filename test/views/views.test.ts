// Views over the wire: dig and kdig from different loopback source addresses (dig -b 127.0.0.2, ::1) get
// the answers of their view: different zone files for the same name, a dynamic zone only some views see,
// forwarding on in one view and off in another, the default view for everyone else. Asked again and
// again, so the answers come from the C tables (kdns_native_answers_total moves for every view), and one
// view's cached answer is never another's. Config mistakes stop kdns with file:line.

import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture, runKdns, startKdns, type KdnsProcess } from '../helpers/kdns-process.js';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { parseDig, rdataOf, type DigResult } from '../wire/clients.js';

const TOKEN = 'views-token-0123456789abcdef';
const native = (process.env.KDNS_ENGINE ?? 'auto') !== 'node';

function zone(ns: string, records: string): string {
  return `$ORIGIN split.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN A ${ns}\n${records}\n`;
}

/** dig (or kdig) from source address `from` to kdns's UDP port on `server` (the v4 or the v6 listener). */
function ask(bin: 'dig' | 'kdig', server: { host: string; port: number }, from: string, args: string[]): Promise<DigResult> {
  const retry = bin === 'kdig' ? '+retry=0' : '+tries=1';
  const full = [`@${server.host}`, '-p', String(server.port), '-b', from, retry, '+time=2', ...args];
  return new Promise((resolve) => {
    execFile(bin, full, { timeout: 8000 }, (err, stdout, stderr) => {
      resolve(parseDig(err ? 99 : 0, stdout + (stderr ? `\n;; STDERR: ${stderr}` : '')));
    });
  });
}

async function metric(kdns: KdnsProcess, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${kdns.httpPort!}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

/** The listener of each family, from the "serving" line (the v6 one has its own ephemeral port). */
function listeners(kdns: KdnsProcess): { v4: { host: string; port: number }; v6: { host: string; port: number } } {
  const serving = kdns.stdout().split('\n').map((l) => { try { return JSON.parse(l) as { msg?: string; listen?: { address: string; port: number }[] }; } catch { return {}; } })
    .find((l) => l.msg === 'serving');
  const listen = serving?.listen ?? [];
  const v4 = listen.find((l) => !l.address.includes(':'))!;
  const v6 = listen.find((l) => l.address.includes(':'))!;
  return { v4: { host: v4.address, port: v4.port }, v6: { host: v6.address, port: v6.port } };
}

t.test('views by source address', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kdns-views-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'outside.zone'), zone('192.0.2.53', 'www IN A 192.0.2.1\nonly-outside IN A 192.0.2.9'));
  writeFileSync(join(dir, 'inside.zone'), zone('10.0.0.53', 'www IN A 10.0.0.1\ndb IN A 10.0.0.5'));
  writeFileSync(join(dir, 'guests.zone'), zone('198.51.100.53', 'www IN A 198.51.100.1'));
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
  writeFileSync(join(dir, 'kdns.yaml'), [
    'zone-file: [outside.zone]',
    'dynamic-zones: [dyn.test]',
    'views:',
    '  - name: inside',
    '    match-clients: [127.0.0.2, "::1"]',
    '    zone-files: [inside.zone]',
    '    dynamic-zones: [dyn.test]',
    '  - name: guests',
    '    match-clients: ["!127.0.0.5", 127.0.0.4/30]',
    '    zone-files: [guests.zone]',
    '    forward: false',
    '',
  ].join('\n'));
  const upstream = await startDnsmasq(['--host-record=ext.upstream.test,203.0.113.7'], 'ext.upstream.test');
  t.teardown(() => upstream.stop());
  const kdns = await startKdns(['-c', join(dir, 'kdns.yaml'), '--listen', '127.0.0.1:0', '--listen', '[::1]:0', '--http', '127.0.0.1:0',
    '--workers', '2', '--server', `127.0.0.1#${upstream.port}`, '--api-token-file', join(dir, 'token')], { t });
  const { v4, v6 } = listeners(kdns);

  const www = async (t: Test, from: string, want: string, server = v4, bin: 'dig' | 'kdig' = 'dig', extra: string[] = []): Promise<void> => {
    const r = await ask(bin, server, from, ['www.split.test', 'A', ...extra]);
    t.same(rdataOf(r.answer, 'A'), [want], `${bin} from ${from}${extra.join(' ')}: www.split.test is ${want}`);
  };

  await t.test('each source sees its view, again and again (C tables hot), never another view\'s answer', async (t) => {
    for (let round = 0; round < 6; round++) {
      await www(t, '127.0.0.1', '192.0.2.1'); // no view matches: the default view
      await www(t, '127.0.0.2', '10.0.0.1'); // inside
      await www(t, '127.0.0.4', '198.51.100.1'); // guests
      await www(t, '127.0.0.5', '192.0.2.1'); // "!127.0.0.5" takes it out of guests: the default view
      await www(t, '::1', '10.0.0.1', v6); // inside, over IPv6
      await www(t, '::1', '10.0.0.1', v6, 'kdig');
    }
    await www(t, '127.0.0.2', '10.0.0.1', v4, 'kdig', ['+tcp']);
    await www(t, '127.0.0.4', '198.51.100.1', v4, 'dig', ['+tcp']);
    await www(t, '127.0.0.1', '192.0.2.1', v4, 'dig', ['+tcp']);
  });

  await t.test('negative answers are per view too (the C negative tables)', async (t) => {
    for (let round = 0; round < 4; round++) {
      const outside = await ask('dig', v4, '127.0.0.1', ['only-outside.split.test', 'A']);
      t.same(rdataOf(outside.answer, 'A'), ['192.0.2.9'], 'the default view has only-outside');
      const inside = await ask('dig', v4, '127.0.0.2', ['only-outside.split.test', 'A']);
      t.equal(inside.status, 'NXDOMAIN', 'inside does not');
      t.match(rdataOf(inside.authority, 'SOA')[0] ?? '', /^ns1\.split\.test\. /, 'with its own SOA');
      const db = await ask('dig', v4, '127.0.0.1', ['db.split.test', 'A']);
      t.equal(db.status, 'NXDOMAIN', 'the default view has no db');
      const dbInside = await ask('dig', v4, '127.0.0.2', ['db.split.test', 'A']);
      t.same(rdataOf(dbInside.answer, 'A'), ['10.0.0.5'], 'inside has db');
    }
  });

  await t.test('the C path answers for every view', { skip: native ? false : 'the node engine has no C tables' }, async (t) => {
    for (const [from, want, server] of [['127.0.0.2', '10.0.0.1', v4], ['127.0.0.1', '192.0.2.1', v4], ['127.0.0.4', '198.51.100.1', v4], ['::1', '10.0.0.1', v6]] as const) {
      const before = await metric(kdns, 'kdns_native_answers_total');
      for (let i = 0; i < 10; i++) await www(t, from, want, server);
      const after = await metric(kdns, 'kdns_native_answers_total');
      // Each worker compiles the answer once in JavaScript at most (above, it already did): C answers the rest.
      t.ok(after - before >= 8, `from ${from}: ${after - before} of 10 answered in C`);
    }
  });

  await t.test('a dynamic zone only the views that name it see', async (t) => {
    const res = await fetch(`http://127.0.0.1:${kdns.httpPort!}/api/v1/zones/dyn.test/records/app/A`, {
      method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ttl: 60, values: ['10.9.9.9'] }),
    });
    t.equal(res.status, 200, 'written (acknowledged once every worker applied it)');
    for (let round = 0; round < 4; round++) {
      for (const from of ['127.0.0.2', '127.0.0.1']) {
        const r = await ask('dig', v4, from, ['app.dyn.test', 'A']);
        t.same(rdataOf(r.answer, 'A'), ['10.9.9.9'], `${from} sees app.dyn.test`);
      }
      const guest = await ask('dig', v4, '127.0.0.4', ['app.dyn.test', 'A']);
      t.equal(guest.status, 'REFUSED', 'guests do not see dyn.test and do not forward');
    }
  });

  await t.test('forwarding per view: on for the default and inside, off for guests', async (t) => {
    for (let round = 0; round < 4; round++) {
      for (const from of ['127.0.0.1', '127.0.0.2']) {
        const r = await ask('dig', v4, from, ['ext.upstream.test', 'A']);
        t.same(rdataOf(r.answer, 'A'), ['203.0.113.7'], `${from}: forwarded`);
        t.ok(r.flags.includes('ra'), 'with RA');
      }
      const guest = await ask('dig', v4, '127.0.0.4', ['ext.upstream.test', 'A']);
      t.equal(guest.status, 'REFUSED', 'guests: REFUSED, never the forwarded answer cached for another view');
      t.notOk(guest.flags.includes('ra'), 'without RA');
    }
  });
});

t.test('the cluster zone and its reverse names only in the views that see it', async (t) => {
  const kdns = await startKdns(['--manifests', fixture('k8s', 'cluster'), '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--workers', '1',
    '--no-forward', '--view', 'name=outsiders,match-clients=127.0.0.2,cluster=false',
    '--view', 'name=insiders,match-clients=127.0.0.3'], { t });
  const server = { host: '127.0.0.1', port: kdns.port };
  for (let round = 0; round < 3; round++) {
    for (const from of ['127.0.0.1', '127.0.0.3']) {
      const svc = await ask('dig', server, from, ['web.default.svc.cluster.local', 'A']);
      t.same(rdataOf(svc.answer, 'A'), ['10.96.0.20'], `${from} sees the Service`);
      const ptr = await ask('dig', server, from, ['-x', '10.96.0.20']);
      t.same(rdataOf(ptr.answer, 'PTR'), ['web.default.svc.cluster.local.'], `${from} sees its PTR`);
    }
    const svc = await ask('dig', server, '127.0.0.2', ['web.default.svc.cluster.local', 'A']);
    t.equal(svc.status, 'REFUSED', 'cluster=false: not authoritative for cluster.local (and no forwarding)');
    const ptr = await ask('dig', server, '127.0.0.2', ['-x', '10.96.0.20']);
    t.equal(ptr.status, 'REFUSED', 'nor for the cluster\'s reverse names');
  }
});

t.test('config mistakes name file, line and what was expected', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kdns-views-bad-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cases: [string, string, RegExp][] = [
    ['views:\n  - name: a\n    match-clients: [10.0.0.0/33]\n', 'bad CIDR', /kdns\.yaml:2: views: view a: match-clients: expected an address or CIDR/],
    ['views:\n  - name: a\n    match-clients: [any]\n    colour: red\n', 'unknown key', /kdns\.yaml:2: views: expected KEY=VALUE items with keys name, match-clients/],
    ['views:\n  - name: a\n    match-clients: [any]\n    dynamic-zones: [nope.test]\n', 'undeclared dynamic zone',
      /kdns\.yaml:2: views: view a: expected dynamic-zones among the --dynamic-zone zones, got nope\.test\./],
    ['views:\n  - {name: a, match-clients: [any]}\n  - {name: a, match-clients: [any]}\n', 'a name twice', /kdns\.yaml:3: views: expected one view named a, got it twice/],
    ['views:\n  - name: default\n    match-clients: [any]\n', 'the default view\'s name', /kdns\.yaml:2: views: expected a view name other than 'default'/],
    ['\n\nviews:\n  - name: a\n', 'no match-clients', /kdns\.yaml:4: views: view a: expected at least one match-clients/],
    ['views:\n  - name: a\n    match-clients: [any]\n    forward: perhaps\n', 'a bad boolean', /kdns\.yaml:2: views: view a: forward: expected true or false/],
  ];
  for (const [yaml, what, want] of cases) {
    const file = join(dir, 'kdns.yaml');
    writeFileSync(file, yaml);
    const r = await runKdns(['-c', file, '--listen', '127.0.0.1:0', '--http', 'none', '--no-forward']);
    t.equal(r.code, 2, `${what}: exit 2`);
    t.match(r.stderr + r.stdout, want, `${what}: ${(r.stderr + r.stdout).split('\n').find((l) => l.includes('views')) ?? r.stderr}`);
  }
  const flag = await runKdns(['--view', 'name=a,match-clients=nonsense', '--listen', '127.0.0.1:0', '--http', 'none', '--no-forward']);
  t.equal(flag.code, 2, 'a bad --view: exit 2');
  t.match(flag.stderr + flag.stdout, /--view: view a: match-clients: expected an address or CIDR/, 'names the flag');
  const zoneFile = join(dir, 'broken.zone');
  writeFileSync(zoneFile, '$ORIGIN split.test.\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\nwww IN A not-an-address\n');
  const broken = await runKdns(['--view', `name=a,match-clients=any,zone-files=${zoneFile}`, '--listen', '127.0.0.1:0', '--http', 'none', '--no-forward']);
  t.equal(broken.code, 2, 'a view\'s broken zone file: exit 2');
  t.match(broken.stderr + broken.stdout, /broken\.zone:3/, 'names the zone file and line');
});
