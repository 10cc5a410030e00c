// RFC 2136 UPDATE with TSIG, driven by the real `nsupdate` (bind9-dnsutils): signed updates change the
// dynamic zone on every worker before nsupdate hears "done" (nsupdate also checks our signed response),
// prerequisites hold or fail with the RFC's rcode, and a wrong, unknown or missing key changes nothing.

import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKdns, type KdnsProcess } from '../helpers/kdns-process.js';
import { rdataOf, runDig } from '../wire/clients.js';

const SECRET = Buffer.from('kdns test secret for nsupdate 0123').toString('base64');
const KEY = `hmac-sha256:ddns-key:${SECRET}`;
const SHA512_SECRET = Buffer.from('another secret, for hmac-sha512 keys').toString('base64');

interface Result {
  code: number;
  output: string;
}

/** Runs nsupdate with `lines` (server and zone lines are added); `key` null sends the update unsigned. */
function nsupdate(kdns: KdnsProcess, lines: string[], key: string | null, zone = 'dyn.test', tcp = false): Promise<Result> {
  const args = [...(key === null ? [] : ['-y', key]), ...(tcp ? ['-v'] : []), '-t', '3'];
  const script = [`server 127.0.0.1 ${kdns.port}`, `zone ${zone}`, ...lines, 'send', ''].join('\n');
  return new Promise((resolve) => {
    const child = execFile('nsupdate', args, { timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 99;
      resolve({ code, output: stdout + stderr });
    });
    child.stdin!.end(script);
  });
}

/** The A records of `name` as six fresh dig runs see them (different source ports: different workers). */
async function addressesEverywhere(kdns: KdnsProcess, name: string): Promise<string[][]> {
  const seen: string[][] = [];
  for (let i = 0; i < 6; i++) {
    const r = await runDig('dig', kdns.port, [name, 'A', i % 2 === 0 ? '+notcp' : '+tcp']);
    seen.push(rdataOf(r.answer, 'A').sort());
  }
  return seen;
}

t.test('nsupdate against dynamic zones', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kdns-nsupdate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kdns = await startKdns(['--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--workers', '2', '--no-forward',
    '--dynamic-zone', 'dyn.test', '--state-dir', dir, '--tsig-key', `ddns-key:hmac-sha256:${SECRET}`,
    '--tsig-key', `wide-key:hmac-sha512:${SHA512_SECRET}`], { t });

  await t.test('a signed add is answered by every worker when nsupdate returns', async (t) => {
    const r = await nsupdate(kdns, ['update add www.dyn.test. 120 A 10.0.0.1', 'update add www.dyn.test. 120 A 10.0.0.2',
      'update add mail.dyn.test. 60 MX 10 mx.example.net.'], KEY);
    t.equal(r.code, 0, r.output);
    t.same(await addressesEverywhere(kdns, 'www.dyn.test'), Array(6).fill(['10.0.0.1', '10.0.0.2']), 'at once, on UDP and TCP');
    const mx = await runDig('dig', kdns.port, ['mail.dyn.test', 'MX']);
    t.same(rdataOf(mx.answer, 'MX'), ['10 mx.example.net.']);
    t.match(kdns.stdout(), /"audit":true,"action":"put","zone":"dyn.test.","name":"www.dyn.test.","type":"A","ttl":120,"values":\["10.0.0.1","10.0.0.2"\],"serial":\d+,"via":"rfc2136","client":"127.0.0.1","key":"ddns-key."/);
    const api = await (await fetch(`http://127.0.0.1:${kdns.httpPort!}/api/v1/zones/dyn.test/records?name=www`)).json() as { records: unknown[] };
    t.same(api.records, [{ name: 'www.dyn.test.', type: 'A', ttl: 120, values: ['10.0.0.1', '10.0.0.2'] }], 'the REST API sees it');
  });

  await t.test('prerequisites', async (t) => {
    const yx = await nsupdate(kdns, ['prereq nxdomain www.dyn.test.', 'update add www.dyn.test. 60 A 10.9.9.9'], KEY);
    t.not(yx.code, 0);
    t.match(yx.output, /YXDOMAIN/, 'name in use: YXDOMAIN');
    const nx = await nsupdate(kdns, ['prereq yxrrset nothing.dyn.test. A', 'update add nothing.dyn.test. 60 A 10.9.9.9'], KEY);
    t.match(nx.output, /NXRRSET/, 'RRset missing: NXRRSET');
    const wrongValue = await nsupdate(kdns, ['prereq yxrrset www.dyn.test. A 10.0.0.1', 'update delete www.dyn.test. A'], KEY);
    t.match(wrongValue.output, /NXRRSET/, 'value-dependent prerequisite with a partial set fails');
    t.same(await addressesEverywhere(kdns, 'www.dyn.test'), Array(6).fill(['10.0.0.1', '10.0.0.2']), 'nothing changed');

    const swap = await nsupdate(kdns, [
      'prereq yxrrset www.dyn.test. A 10.0.0.1', 'prereq yxrrset www.dyn.test. A 10.0.0.2',
      'update delete www.dyn.test. A 10.0.0.1', 'update add www.dyn.test. 120 A 10.0.0.3',
    ], KEY, 'dyn.test', true);
    t.equal(swap.code, 0, `over TCP, all prerequisites met: ${swap.output}`);
    t.same(await addressesEverywhere(kdns, 'www.dyn.test'), Array(6).fill(['10.0.0.2', '10.0.0.3']), 'one record swapped');
    const cname = await nsupdate(kdns, ['update add www.dyn.test. 60 CNAME elsewhere.example.'], KEY);
    t.equal(cname.code, 0, 'a CNAME beside data is ignored, not an error (RFC 2136 §3.4.2.2)');
    t.equal((await runDig('dig', kdns.port, ['www.dyn.test', 'CNAME'])).answer.length, 0, 'and not added');
  });

  await t.test('a wrong, unknown or missing key changes nothing', async (t) => {
    const badSecret = Buffer.from('not the right secret at all!!').toString('base64');
    const cases: [string | null, RegExp][] = [
      [`hmac-sha256:ddns-key:${badSecret}`, /NOTAUTH|BADSIG|tsig/i],
      [`hmac-sha256:stranger:${SECRET}`, /NOTAUTH|BADKEY|tsig/i],
      [`hmac-sha512:ddns-key:${SECRET}`, /NOTAUTH|BADKEY|tsig/i],
      [null, /REFUSED/],
    ];
    for (const [key, want] of cases) {
      const r = await nsupdate(kdns, ['update delete www.dyn.test. A', 'update add evil.dyn.test. 60 A 10.6.6.6'], key);
      t.not(r.code, 0, `${key?.split(':').slice(0, 2).join(':') ?? 'unsigned'} refused`);
      t.match(r.output, want, r.output.trim());
    }
    t.same(await addressesEverywhere(kdns, 'www.dyn.test'), Array(6).fill(['10.0.0.2', '10.0.0.3']), 'www untouched');
    t.equal((await runDig('dig', kdns.port, ['evil.dyn.test', 'A'])).status, 'NXDOMAIN', 'evil never added');
    t.match(kdns.stdout(), /"tsigError":16/, 'BADSIG logged');
    t.match(kdns.stdout(), /"tsigError":17/, 'BADKEY logged');
  });

  await t.test('the second key (hmac-sha512) works; deletes; zones that are not dynamic', async (t) => {
    const r = await nsupdate(kdns, ['update delete www.dyn.test. A', 'update delete mail.dyn.test. ANY'], `hmac-sha512:wide-key:${SHA512_SECRET}`);
    t.equal(r.code, 0, r.output);
    t.equal((await runDig('dig', kdns.port, ['www.dyn.test', 'A'])).status, 'NXDOMAIN');
    t.equal((await runDig('dig', kdns.port, ['mail.dyn.test', 'MX'])).status, 'NXDOMAIN');
    const other = await nsupdate(kdns, ['update add a.other.test. 60 A 10.0.0.1'], KEY, 'other.test');
    t.match(other.output, /NOTAUTH/, 'a zone kdns does not serve: NOTAUTH');
  });
});
