import t from 'tap';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { Counter, Registry } from 'prom-client';
import { createLogger } from '../log.js';
import { startHttp } from './server.js';

const log = createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('health, ready, metrics, 404 and 405 over real HTTP', async (t) => {
  const registry = new Registry();
  new Counter({ name: 'kdns_test_total', help: 'test', registers: [registry] }).inc(7);
  let ready = false;
  const server = await startHttp({ host: '127.0.0.1', port: 0 }, {
    registry, log, isReady: () => ready, notReady: () => (ready ? [] : ['kubernetes', 'zonefile']),
  });
  t.teardown(() => server.close());
  t.ok(server.port > 0);

  t.match(await get(server.port, '/health'), { status: 200, body: 'OK' });
  const notReady = await get(server.port, '/ready');
  t.equal(notReady.status, 503);
  t.equal(notReady.body, 'not ready: waiting for kubernetes, zonefile to sync\n');
  ready = true;
  t.match(await get(server.port, '/ready?verbose'), { status: 200, body: 'OK' });

  const metrics = await get(server.port, '/metrics');
  t.equal(metrics.status, 200);
  t.equal(metrics.headers['content-type'], registry.contentType);
  t.match(metrics.body, /^kdns_test_total 7$/m);

  t.equal((await get(server.port, '/nope')).status, 404);
  const post = await get(server.port, '/metrics', 'POST');
  t.equal(post.status, 405);
  t.equal(post.headers.allow, 'GET');
});

t.test('ready without details still says 503', async (t) => {
  const server = await startHttp({ host: '127.0.0.1', port: 0 }, { registry: new Registry(), log, isReady: () => false });
  t.teardown(() => server.close());
  t.match(await get(server.port, '/ready'), { status: 503, body: 'not ready\n' });
});

t.test('a failing registry gives 500, and the server keeps serving', async (t) => {
  const registry = new Registry();
  registry.metrics = async () => { throw new Error('boom'); };
  const server = await startHttp({ host: '127.0.0.1', port: 0 }, { registry, log, isReady: () => true });
  t.teardown(() => server.close());
  t.equal((await get(server.port, '/metrics')).status, 500);
  t.equal((await get(server.port, '/health')).status, 200);
});

t.test('a port in use rejects, and close frees the port', async (t) => {
  const a = await startHttp({ host: '127.0.0.1', port: 0 }, { registry: new Registry(), log, isReady: () => true });
  await t.rejects(startHttp({ host: '127.0.0.1', port: a.port }, { registry: new Registry(), log, isReady: () => true }),
    { code: 'EADDRINUSE' });
  await a.close();
  const b = await startHttp({ host: '127.0.0.1', port: a.port }, { registry: new Registry(), log, isReady: () => true });
  t.equal(b.port, a.port);
  await b.close();
});
