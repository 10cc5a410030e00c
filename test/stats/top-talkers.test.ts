// Top talkers over the wire: real dig and kdig queries (UDP answered in C and in JavaScript, TCP) against
// kdns with worker threads, then GET /api/v1/stats/top for each list. At this rate every answer is
// sampled (one in one), so the counts are exact: the lists must name the right keys with the right counts,
// summed over the workers.

import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, startKdns } from '../helpers/kdns-process.js';

const DEMO = ['--zone-file', join(REPO_ROOT, 'deploy/zones/kdns.demo.zone') + '@kdns.demo',
  '--manifests', join(REPO_ROOT, 'deploy/demo/cluster'), '--no-forward'];

async function getJson(port: number, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.json() };
}

/** One dig process asks every line of `queries` (dig -f), so many queries cost one process. */
function digBatch(port: number, queries: string[], extra: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'kdns-top-'));
  try {
    writeFileSync(join(dir, 'batch'), queries.join('\n') + '\n');
    return execFileSync('dig', ['@127.0.0.1', '-p', String(port), '+tries=3', '+time=2', ...extra, '-f', join(dir, 'batch')], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test('top names, NXDOMAIN names, namespaces and clients, summed over the workers', async (t) => {
  const kdns = await startKdns(['--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--workers', '2', ...DEMO], { t });
  const http = kdns.httpPort!;
  const udp = digBatch(kdns.port, [
    ...Array(30).fill('www.kdns.demo A'), ...Array(10).fill('nope.kdns.demo A'),
    ...Array(5).fill('kubernetes.default.svc.cluster.local A'), ...Array(4).fill('no-such-svc.shop.svc.cluster.local A'),
  ]);
  t.equal((udp.match(/status: NOERROR/g) ?? []).length, 35, 'dig got its NOERROR answers');
  t.equal((udp.match(/status: NXDOMAIN/g) ?? []).length, 14, 'and its NXDOMAINs');
  const tcp = execFileSync('kdig', ['@127.0.0.1', '-p', String(kdns.port), '+tcp', 'WWW.kdns.demo', 'A'], { encoding: 'utf8' });
  t.match(tcp, /NOERROR/, 'kdig over TCP');

  const names = await getJson(http, '/api/v1/stats/top?by=name&n=3');
  t.equal(names.status, 200);
  t.same(names.body.top.map((e: { key: string; count: number }) => [e.key, e.count]), [
    ['www.kdns.demo.', 31], ['nope.kdns.demo.', 10], ['kubernetes.default.svc.cluster.local.', 5],
  ], 'names by count, the TCP query (upper case) counted with the UDP ones');
  t.equal(names.body.total, 50, 'every answer is in the total');
  t.equal(names.body.windowSeconds, 60);

  const nx = await getJson(http, '/api/v1/stats/top?by=nxdomain');
  t.same(nx.body.top.map((e: { key: string; count: number }) => [e.key, e.count]),
    [['nope.kdns.demo.', 10], ['no-such-svc.shop.svc.cluster.local.', 4]], 'only NXDOMAIN names');

  const ns = await getJson(http, '/api/v1/stats/top?by=namespace');
  t.same(ns.body.top.map((e: { key: string; count: number }) => [e.key, e.count]), [['default', 5], ['shop', 4]], 'namespaces of cluster names');

  const clients = await getJson(http, '/api/v1/stats/top?by=client&n=1');
  t.same(clients.body.top, [{ key: '127.0.0.1', count: 50, error: 0 }], 'one client, all its answers');

  // The same lists in /metrics, at most TOP_SERIES keys each.
  const metrics = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
  const series = [...metrics.matchAll(/^kdns_top_talkers\{by="(\w+)",key="([^"]*)"\} (\d+)$/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
  for (const line of ['name www.kdns.demo. 31', 'nxdomain nope.kdns.demo. 10', 'namespace shop 4', 'client 127.0.0.1 50']) {
    t.ok(series.includes(line), `kdns_top_talkers: ${line}`);
  }
  t.ok(series.filter((l) => l.startsWith('name ')).length <= 10, 'at most 10 series a list');

  // Bad requests are answered 400 with what was expected, never a crash.
  const bad = await getJson(http, '/api/v1/stats/top?by=zone');
  t.equal(bad.status, 400);
  t.match(bad.body.error, /^by: expected one of client, name, nxdomain, namespace/);
  t.equal((await getJson(http, '/api/v1/stats/top?by=name&n=0')).status, 400);
  t.equal((await getJson(http, '/api/v1/stats/top?by=name&n=x')).status, 400);
  t.equal((await fetch(`http://127.0.0.1:${http}/api/v1/stats/top`, { method: 'POST' })).status, 405);
});

t.test('--top-talkers false: the API says so, and DNS is unaffected', async (t) => {
  const kdns = await startKdns(['--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--top-talkers=false', ...DEMO], { t });
  t.match(digBatch(kdns.port, ['www.kdns.demo A']), /status: NOERROR/);
  const off = await getJson(kdns.httpPort!, '/api/v1/stats/top?by=name');
  t.equal(off.status, 404);
  t.match(off.body.error, /top talkers are off/);
  t.notMatch(await (await fetch(`http://127.0.0.1:${kdns.httpPort!}/metrics`)).text(), /^kdns_top_talkers\{/m, 'no top series');
});
