// Response-rate limiting over the wire, kdns against BIND 9 configured the same way: the same zone, the
// same `rate-limit` settings, the same bursts of 1,000 UDP queries from one source in well under a second.
// kdns's answered / slipped (TC=1) / dropped counts must be within 20 % of named's (the bar).
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { query as askOnce } from '../helpers/dns-client.js';
import { startNamed, type NamedHandle } from '../helpers/named.js';
import { startKdns, type KdnsProcess } from '../helpers/kdns-process.js';
import { burst, query, type BurstCounts } from './burst.js';

const BURST = 1000;
const ZONE = `$ORIGIN rrl.test.
$TTL 300
@       IN SOA ns1 hostmaster 1 3600 600 86400 60
@       IN NS  ns1
ns1     IN A   192.0.2.1
www     IN A   192.0.2.20
mail    IN A   192.0.2.25
probe   IN A   192.0.2.30
`;

const dir = mkdtempSync(path.join(tmpdir(), 'kdns-rrl-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const zoneFile = path.join(dir, 'rrl.test.zone');
writeFileSync(zoneFile, ZONE);

/** Both servers with one rate-limit configuration, given as bind9 statements and as kdns YAML. */
async function pair(t: Test, name: string, named: string[], yaml: string[]): Promise<{ named: NamedHandle; kdns: KdnsProcess }> {
  const config = path.join(dir, `${name}.yaml`);
  writeFileSync(config, ['rate-limit:', ...yaml.map((l) => `  ${l}`)].join('\n') + '\n');
  const n = await startNamed([{ file: zoneFile, origin: 'rrl.test' }], {
    threads: 1, options: [`rate-limit { ${named.join(' ')} };`],
  });
  t.teardown(() => n.stop());
  const k = await startKdns([
    '-c', config, '--listen', '127.0.0.1:0', '--workers', '2', '--zone-file', `${zoneFile}@rrl.test`,
    '--no-forward', '--http', '127.0.0.1:0',
  ], { t });
  return { named: n, kdns: k };
}

function within20(t: Test, kdns: BurstCounts, named: BurstCounts, what: string): void {
  for (const k of ['answered', 'slipped', 'dropped'] as const) {
    const slack = Math.max(2, 0.2 * named[k]); // 20 %, and a couple of queries for counts near zero
    t.ok(Math.abs(kdns[k] - named[k]) <= slack, `${what}: ${k} kdns ${kdns[k]} vs named ${named[k]}`);
  }
}

const www = (id: number): Buffer => query(id, 'www.rrl.test');
const sentinel = (n: number): Buffer => query(0, `probe.rrl.test`, n % 2 ? 'A' : 'AAAA');
let sentinels = 0;
const bothBurst = async (p: { named: NamedHandle; kdns: KdnsProcess }, make: (id: number) => Buffer, source: string) => ({
  named: await burst(p.named.port, BURST, make, sentinel(sentinels++), { source }),
  kdns: await burst(p.kdns.port, BURST, make, sentinel(sentinels++), { source }),
});

t.test('responses-per-second 10, slip 2, nxdomains 4, errors 3, exempt clients, TCP never limited', async (t) => {
  const p = await pair(t, 'main',
    ['responses-per-second 10;', 'nxdomains-per-second 4;', 'errors-per-second 3;', 'slip 2;', 'window 15;', 'exempt-clients { 127.0.2.0/24; };'],
    ['responses-per-second: 10', 'nxdomains-per-second: 4', 'errors-per-second: 3', 'slip: 2', 'window: 15', 'exempt-clients: [127.0.2.0/24]']);

  t.comment(`named on ${p.named.port}, kdns on ${p.kdns.port}`);
  const same = await bothBurst(p, www, '127.0.0.1');
  t.ok(same.named.answered < BURST / 2, `named limits: ${JSON.stringify(same.named)}`);
  within20(t, same.kdns, same.named, '1,000 identical queries');
  t.ok(same.kdns.slipped > 0 && same.kdns.dropped > 0, 'kdns both slips and drops');

  // The bucket of www A for 127.0.0.0/24 is deep in debt now; TCP answers regardless.
  for (const [server, port] of [['named', p.named.port], ['kdns', p.kdns.port]] as const) {
    const r = await askOnce(port, query(77, 'www.rrl.test'), { tcp: true, timeoutMs: 3000 });
    t.equal(r[2]! & 0x02, 0, `${server}: TCP answer not truncated`);
    t.equal(r.readUInt16BE(6), 1, `${server}: TCP answer has the record`);
  }

  const exempt = await bothBurst(p, www, '127.0.2.9');
  t.strictSame(exempt.named, { answered: BURST, slipped: 0, dropped: 0 }, 'named: exempt client answered in full');
  t.strictSame(exempt.kdns, { answered: BURST, slipped: 0, dropped: 0 }, 'kdns: exempt client answered in full');

  // Random names in one zone share the zone's NXDOMAIN bucket, limited at their own rate.
  const nx = await bothBurst(p, (id) => query(id, `n${id}.rrl.test`), '127.0.3.1');
  t.ok(nx.named.answered <= 10, `named limits NXDOMAIN at 4/s: ${JSON.stringify(nx.named)}`);
  within20(t, nx.kdns, nx.named, '1,000 random nonexistent names');

  // Out-of-zone names are REFUSED: errors are limited too, and never slipped.
  const errors = await bothBurst(p, (id) => query(id, 'www.elsewhere.example'), '127.0.4.1');
  t.equal(errors.named.slipped, 0, 'named never slips errors');
  within20(t, errors.kdns, errors.named, '1,000 REFUSED');

  const metrics = await (await fetch(`http://127.0.0.1:${p.kdns.httpPort}/metrics`)).text();
  const value = (action: string): number => Number(new RegExp(`^kdns_rate_limit_responses_total\\{action="${action}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
  const sum = (k: keyof BurstCounts): number => same.kdns[k] + nx.kdns[k] + errors.kdns[k];
  t.equal(value('slipped'), sum('slipped'), '/metrics counts every slip');
  t.equal(value('dropped'), sum('dropped'), '/metrics counts every drop');
  t.ok(value('answered') >= sum('answered') + BURST, '/metrics counts answers (exempt ones and sentinels too)');
});

t.test('log-only: everything answered, the would-be limits counted', async (t) => {
  const p = await pair(t, 'log-only', ['responses-per-second 10;', 'log-only yes;'], ['responses-per-second: 10', 'log-only: true']);
  const r = await bothBurst(p, www, '127.0.0.1');
  t.strictSame(r.named, { answered: BURST, slipped: 0, dropped: 0 }, 'named');
  t.strictSame(r.kdns, { answered: BURST, slipped: 0, dropped: 0 }, 'kdns');
  const metrics = await (await fetch(`http://127.0.0.1:${p.kdns.httpPort}/metrics`)).text();
  t.match(metrics, /^kdns_rate_limit_responses_total\{action="logged"\} 990$/m, 'all but the rate would have been limited');
  t.match(p.kdns.stdout(), /rate-limit: would limit responses to 127\.0\.0\.0\/24/, 'logged once for the block');
});

t.test('window: a bucket idle longer than the window starts afresh; within it, the debt remains', async (t) => {
  const short = await pair(t, 'window-1', ['responses-per-second 2;', 'slip 0;', 'window 1;'], ['responses-per-second: 2', 'slip: 0', 'window: 1']);
  const long = await pair(t, 'window-15', ['responses-per-second 2;', 'slip 0;', 'window 15;'], ['responses-per-second: 2', 'slip: 0', 'window: 15']);
  const servers = { 'named window 1': short.named.port, 'kdns window 1': short.kdns.port, 'named window 15': long.named.port, 'kdns window 15': long.kdns.port };
  for (const [name, port] of Object.entries(servers)) {
    const r = await burst(port, 100, www, sentinel(sentinels++));
    t.strictSame(r, { answered: 2, slipped: 0, dropped: 98 }, `${name}: burst limited`);
  }
  // Debt is window x rate: 2 tokens with window 1, 30 with window 15. After more than 2 s of silence the
  // first bucket is fresh; the second has earned at most (elapsed x 2) < 30 back as long as we wait < 15 s.
  await new Promise((r) => setTimeout(r, 2500));
  for (const [name, port] of Object.entries(servers)) {
    const r = await burst(port, 1, www, sentinel(sentinels++));
    const fresh = name.endsWith('window 1');
    t.strictSame(r, fresh ? { answered: 1, slipped: 0, dropped: 0 } : { answered: 0, slipped: 0, dropped: 1 }, `${name}: after 2.5 s`);
  }
});
