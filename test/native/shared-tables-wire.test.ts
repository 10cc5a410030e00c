// The process-global C tables seen over the wire with two workers (SO_REUSEPORT spreads the source ports
// over both): an answer one worker compiled and put in the shared table is dropped when its name changes,
// so no worker replays it; a name the shared negative table says is missing exists everywhere once added;
// a reusable forwarded answer one worker installed is the one entry every worker serves. Real clients: dig
// and kdig (each run a new source port), nsupdate for the changes (kdns says "done" only once every worker
// applied them), dnsmasq as the upstream. On KDNS_ENGINE=node the same answers must come from JavaScript.
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKdns, type KdnsProcess } from '../helpers/kdns-process.js';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { rdataOf, runDig } from '../wire/clients.js';
import { metricValue, scrape } from '../forward-e2e/setup.js';

const SECRET = Buffer.from('kdns shared tables test secret 0123').toString('base64');
const KEY = `hmac-sha256:ddns-key:${SECRET}`;
const QUERIES = 40;
const native = process.env.KDNS_ENGINE !== 'node';

function nsupdate(kdns: KdnsProcess, lines: string[]): Promise<string> {
  const script = [`server 127.0.0.1 ${kdns.port}`, 'zone dyn.test', ...lines, 'send', ''].join('\n');
  return new Promise((resolve, reject) => {
    const child = execFile('nsupdate', ['-y', KEY, '-t', '3'], { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`nsupdate failed: ${stdout}${stderr}`));
      else resolve(stdout + stderr);
    });
    child.stdin!.end(script);
  });
}

/** `QUERIES` runs of dig and kdig in turn, 8 at a time, each from its own socket: status and A records of each. */
async function everywhere(port: number, name: string): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < QUERIES; i += 8) {
    const runs = Array.from({ length: 8 }, (_, k) => runDig((i + k) % 2 === 0 ? 'dig' : 'kdig', port, [name, 'A', '+notcp']));
    for (const r of await Promise.all(runs)) seen.push(`${r.status} ${rdataOf(r.answer, 'A').sort().join(',')}`.trim());
  }
  return seen;
}

function same(t: Test, seen: string[], want: string, what: string): void {
  const wrong = seen.filter((s) => s !== want);
  t.same(wrong, [], `${what}: ${seen.length - wrong.length}/${seen.length} say "${want}"`);
}

t.test('two workers, one answer table: a change reaches every worker, none replays the old answer', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kdns-shared-tables-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kdns = await startKdns(['--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--workers', '2', '--no-forward',
    '--dynamic-zone', 'dyn.test', '--state-dir', dir, '--tsig-key', `ddns-key:hmac-sha256:${SECRET}`], { t });

  await nsupdate(kdns, ['update add www.dyn.test. 120 A 10.0.0.1']);
  same(t, await everywhere(kdns.port, 'www.dyn.test'), 'NOERROR 10.0.0.1', 'warm: the answer is compiled and shared');
  same(t, await everywhere(kdns.port, 'late.dyn.test'), 'NXDOMAIN', 'warm: a missing name, NXDOMAIN (the negative table)');
  if (native) {
    const text = await scrape(kdns.httpPort!);
    t.ok(metricValue(text, 'kdns_native_cache_entries', { table: 'answers' }) >= 1, 'the shared table holds the answer');
    t.ok(metricValue(text, 'kdns_native_cache_entries', { table: 'negative' }) >= 2, 'and the zone\'s names, once');
  }

  await nsupdate(kdns, ['update delete www.dyn.test. A', 'update add www.dyn.test. 120 A 10.0.0.9', 'update add late.dyn.test. 60 A 10.0.0.7']);
  same(t, await everywhere(kdns.port, 'www.dyn.test'), 'NOERROR 10.0.0.9', 'changed: no worker replays 10.0.0.1');
  same(t, await everywhere(kdns.port, 'late.dyn.test'), 'NOERROR 10.0.0.7', 'added: no worker says NXDOMAIN any more');

  await nsupdate(kdns, ['update delete www.dyn.test.']);
  same(t, await everywhere(kdns.port, 'www.dyn.test'), 'NXDOMAIN', 'deleted: NXDOMAIN everywhere');
  t.equal(await kdns.stop(), 0);
});

t.test('two workers, one table of reusable forwarded answers: one entry for the process, the upstream asked once', async (t) => {
  const dm = await startDnsmasq(['--address=/l-app01.ops.cna/10.1.2.3', '--local-ttl=60'], 'probe.ops.cna');
  t.teardown(() => dm.stop());
  const kdns = await startKdns(['--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--workers', '2',
    `--server=/ops.cna/127.0.0.1#${dm.port}`], { t });
  same(t, await everywhere(kdns.port, 'l-app01.ops.cna'), 'NOERROR 10.1.2.3', 'every query answered');
  t.equal(dm.queriesFor('l-app01.ops.cna'), 1, 'the upstream was asked once');
  if (native) {
    const text = await scrape(kdns.httpPort!);
    // Per-worker tables would hold one copy in each worker that saw a hit (both, with 40 source ports).
    t.equal(metricValue(text, 'kdns_native_cache_entries', { table: 'forwarded' }), 1, 'one forwarded entry in C for both workers');
    const bytes = metricValue(text, 'kdns_native_cache_bytes', { table: 'forwarded' });
    t.ok(bytes > 0 && bytes < 64 * 1024, `its bytes counted once (${bytes})`);
  }
  t.equal(await kdns.stop(), 0);
});
