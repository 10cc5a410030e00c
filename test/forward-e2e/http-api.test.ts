// The forwarder's operator surface over HTTP with worker threads: /metrics aggregates every worker's
// forward and cache metrics, and POST /cache/flush empties every worker's cache (the next query goes
// upstream again) for a client that presents the API token, and for nobody without one.

import t from 'tap';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { startKdns } from '../helpers/kdns-process.js';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { query } from '../helpers/dns-client.js';

const TOKEN = 'flush-token-0123456789abcdef';

function request(port: number, method: string, path: string, token?: string): Promise<{ status: number; body: string }> {
  const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function metric(text: string, name: string): number {
  return text.split('\n').filter((l) => l.startsWith(name)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

t.test('metrics from every worker, and a cache flush through the HTTP API', async (t) => {
  const upstream = await startDnsmasq(['--host-record=db.ops.cna,10.1.1.2', '--local-ttl=300'], 'db.ops.cna');
  t.teardown(() => upstream.stop());
  const dir = mkdtempSync(join(tmpdir(), 'kdns-token-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'token'), TOKEN);
  const kdns = await startKdns(['--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--workers', '2',
    `--server=/ops.cna/127.0.0.1#${upstream.port}`, '--api-token-file', join(dir, 'token')]);
  const ask = async (id: number) => dnsPacket.decode(await query(kdns.port, dnsPacket.encode({
    type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: 'db.ops.cna', type: 'A', class: 'IN' }],
  })));
  const probes = upstream.queriesFor('db.ops.cna', 'A'); // the helper's own start-up probe
  for (let i = 1; i <= 10; i++) t.equal((await ask(i)).answers?.length, 1, `answer ${i}`);
  const before = upstream.queriesFor('db.ops.cna', 'A');
  t.ok(before - probes >= 1 && before - probes <= 2, `the upstream saw one query per worker at most (${before - probes})`);

  const metrics = await request(kdns.httpPort!, 'GET', '/metrics');
  t.equal(metrics.status, 200);
  t.ok(metric(metrics.body, 'kdns_forward_requests_total') >= 1, 'forward requests counted from the workers');
  t.ok(metric(metrics.body, 'kdns_cache_hits_total') >= 8, 'cache hits counted from the workers');
  t.ok(metric(metrics.body, 'kdns_dns_requests_total') >= 10, 'the main registry is still there');
  const heapUsed = /^kdns_data_plane_heap_bytes\{kind="used"\} (\d+)/m.exec(metrics.body);
  t.ok(heapUsed !== null && Number(heapUsed[1]) > 1_000_000, `the workers' JS heaps, summed: ${heapUsed?.[1]} bytes`);

  t.equal((await request(kdns.httpPort!, 'GET', '/cache/flush')).status, 405, 'flush needs POST');
  t.equal((await request(kdns.httpPort!, 'POST', '/cache/flush')).status, 401, 'flush needs the token');
  t.equal((await request(kdns.httpPort!, 'POST', '/cache/flush', 'not-the-token-at-all')).status, 401, 'the right token');
  const flush = await request(kdns.httpPort!, 'POST', '/cache/flush', TOKEN);
  t.equal(flush.status, 200);
  t.ok((JSON.parse(flush.body) as { flushed: number }).flushed >= 1, `entries flushed: ${flush.body.trim()}`);
  for (let i = 11; i <= 20; i++) await ask(i);
  t.ok(upstream.queriesFor('db.ops.cna', 'A') > before, 'after the flush the name is asked upstream again');
  t.equal(await kdns.stop(), 0);
});

t.test('no token file: nobody may flush', async (t) => {
  const kdns = await startKdns(['--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--workers', '1', '--server=127.0.0.1#9']);
  t.equal((await request(kdns.httpPort!, 'POST', '/cache/flush')).status, 403);
  t.equal(await kdns.stop(), 0);
});

t.test('no forwarding: no flush endpoint', async (t) => {
  const kdns = await startKdns(['--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--no-forward']);
  t.equal((await request(kdns.httpPort!, 'POST', '/cache/flush')).status, 404);
  t.equal(await kdns.stop(), 0);
});
