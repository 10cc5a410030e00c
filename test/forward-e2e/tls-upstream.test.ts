// DNS over TLS upstreams (RFC 7858) against a real unbound serving TLS on loopback, with a CA and
// certificates this test makes: answers arrive over TLS for UDP and TCP clients; many concurrent queries
// share one connection (kdns's connection counter, unbound's established sockets and its TLS query count
// agree); an upstream whose certificate does not carry the configured name is refused: SERVFAIL, a log
// line naming the verification error, and the tls failure reason in the metrics; an unbound that stops is
// marked down and, once back, reconnected to by a probe; idle connections are closed; without the CA in
// the trusted list (--tls-ca or NODE_EXTRA_CA_CERTS) the server is refused.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startKdns } from '../helpers/kdns-process.js';
import { makeTestCa } from '../helpers/test-ca.js';
import { startUnboundTls } from '../helpers/unbound.js';
import { ask, eventually, metricValue, scrape } from './setup.js';

const SERVER_NAME = 'dot.kdns.test';
const CONCURRENT = 60;

t.test('forwarding over TLS to unbound', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kdns-dot-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ca = makeTestCa(dir);
  const cert = ca.issue(SERVER_NAME);
  const unboundOptions = {
    dir, keyFile: cert.keyFile, certFile: cert.certFile, caFile: ca.caFile, serverName: SERVER_NAME,
    // Every name under dot.test and wrong.test has one A record (redirect zones).
    zoneLines: [
      'local-zone: "dot.test." redirect', 'local-data: "dot.test. 300 IN A 192.0.2.53"',
      'local-zone: "wrong.test." redirect', 'local-data: "wrong.test. 300 IN A 192.0.2.54"',
    ],
    probeName: 'www.dot.test',
  };
  let unbound = await startUnboundTls(unboundOptions);
  t.teardown(() => unbound.stop());

  const config = path.join(dir, 'kdns.yaml');
  writeFileSync(config, 'forward:\n  probe-interval: 100ms\n  probe-max-interval: 400ms\n  cache: {servfail-ttl: 0}\n');
  const good = `tls://127.0.0.1#${unbound.port}@${SERVER_NAME}`;
  // The same server, but kdns is told to expect another name: its certificate does not match.
  const wrong = `tls://127.0.0.1#${unbound.port}@other.kdns.test`;
  const kdns = await startKdns([
    '--listen', '127.0.0.1:0', '--workers', '1', '--http', '127.0.0.1:0', '--tls-ca', ca.caFile, '-c', config,
    `--server=/dot.test/${good}`, `--server=/wrong.test/${wrong}`,
  ], { t });
  const tlsQueriesBefore = unbound.stats()['num.query.tls'] ?? 0;

  await t.test('UDP and TCP clients get answers carried over TLS', async (t) => {
    t.same((await ask(kdns.port, 'www.dot.test', 'A')).answers.map((a) => a.data), ['192.0.2.53'], 'UDP client');
    t.same((await ask(kdns.port, 'tcp.dot.test', 'A', { tcp: true })).answers.map((a) => a.data), ['192.0.2.53'], 'TCP client');
    t.equal((unbound.stats()['num.query.tls'] ?? 0) - tlsQueriesBefore, 2, 'unbound saw both over TLS');
  });

  await t.test(`${CONCURRENT} concurrent queries pipelined over one connection`, async (t) => {
    const rs = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => ask(kdns.port, `p${i}.dot.test`, 'A')));
    t.ok(rs.every((r) => r.rcode === 0 && r.answers[0]?.data === '192.0.2.53'), 'every one answered');
    t.equal((unbound.stats()['num.query.tls'] ?? 0) - tlsQueriesBefore, 2 + CONCURRENT, 'unbound saw each over TLS');
    const m = await scrape(kdns.httpPort!);
    t.equal(metricValue(m, 'kdns_forward_upstream_connections_total', { upstream: good, proto: 'tls' }), 1, 'kdns opened one connection');
    t.equal(metricValue(m, 'kdns_forward_requests_total', { to: good, proto: 'tls' }), 2 + CONCURRENT, 'and sent everything over it');
    t.equal(unbound.establishedConnections(), 1, 'unbound has one connection (the idle one kdns keeps)');
    t.equal(metricValue(m, 'kdns_forward_upstream_up', { upstream: good }), 1, 'up');
  });

  await t.test('a certificate without the configured name is refused', async (t) => {
    const r = await ask(kdns.port, 'www.wrong.test', 'A');
    t.equal(r.rcode, 2, 'SERVFAIL');
    t.same(r.answers, [], 'nothing from the unverified server');
    t.ok(await eventually(() => /TLS certificate verification failed/.test(kdns.stdout()) && /ERR_TLS_CERT_ALTNAME_INVALID/.test(kdns.stdout()), 2000),
      'a log line names the verification failure');
    const m = await scrape(kdns.httpPort!);
    t.equal(metricValue(m, 'kdns_forward_upstream_failures_total', { upstream: wrong, reason: 'tls' }), 1, 'failure reason tls');
    t.equal(metricValue(m, 'kdns_forward_upstream_up', { upstream: wrong }), 0, 'down at once');
    t.equal((unbound.stats()['num.query.tls'] ?? 0) - tlsQueriesBefore, 2 + CONCURRENT, 'no query reached unbound over it');
    t.equal((await ask(kdns.port, 'again.wrong.test', 'A')).rcode, 2, 'still SERVFAIL');
    t.equal(metricValue(await scrape(kdns.httpPort!), 'kdns_forward_requests_total', { to: wrong }), 1, 'without another attempt');
    t.same((await ask(kdns.port, 'after.dot.test', 'A')).answers.map((a) => a.data), ['192.0.2.53'], 'the good upstream is unaffected');
  });

  await t.test('unbound restarts: down while gone, reconnected by a probe, answers again', async (t) => {
    const port = unbound.port;
    await unbound.stop();
    t.equal((await ask(kdns.port, 'gone.dot.test', 'A')).rcode, 2, 'SERVFAIL while it is gone');
    t.equal(metricValue(await scrape(kdns.httpPort!), 'kdns_forward_upstream_up', { upstream: good }), 0, 'down');
    unbound = await startUnboundTls({ ...unboundOptions, port });
    let up = false;
    for (let i = 0; i < 100 && !up; i++) { // bounded: 100 × 50 ms, far more than the 400 ms probe cap
      up = metricValue(await scrape(kdns.httpPort!), 'kdns_forward_upstream_up', { upstream: good }) === 1;
      if (!up) await new Promise((r) => setTimeout(r, 50));
    }
    t.ok(up, 'up again after a probe over TLS');
    t.same((await ask(kdns.port, 'back.dot.test', 'A')).answers.map((a) => a.data), ['192.0.2.53'], 'answers again');
    t.ok(metricValue(await scrape(kdns.httpPort!), 'kdns_forward_upstream_connections_total', { upstream: good, proto: 'tls' }) >= 2,
      'over a new connection');
    t.equal(unbound.establishedConnections(), 1, 'one connection to the new unbound');
  });

  await t.test('trust: Node\'s default list takes NODE_EXTRA_CA_CERTS; without the CA the server is refused', async (t) => {
    await kdns.stop(); // its connection would be counted with the new ones
    const idleConfig = path.join(dir, 'idle.yaml');
    writeFileSync(idleConfig, 'forward:\n  tcp-idle-timeout: 200ms\n');
    const common = ['--listen', '127.0.0.1:0', '--workers', '1', '--http', '127.0.0.1:0', '-c', idleConfig, `--server=/dot.test/${good}`];
    const extra = await startKdns(common, { t, env: { ...process.env, NODE_EXTRA_CA_CERTS: ca.caFile } });
    t.same((await ask(extra.port, 'x.dot.test', 'A')).answers.map((a) => a.data), ['192.0.2.53'], 'trusted through NODE_EXTRA_CA_CERTS');
    // Idle close: kdns drops the connection after 200 ms without queries, and the next query opens another.
    t.ok(await eventually(() => unbound.establishedConnections() === 0, 5000), 'the idle connection is closed');
    t.same((await ask(extra.port, 'y.dot.test', 'A')).answers.map((a) => a.data), ['192.0.2.53'], 'answered after the idle close');
    t.equal(metricValue(await scrape(extra.httpPort!), 'kdns_forward_upstream_connections_total', { upstream: good }), 2, 'on a second connection');

    const untrusting = await startKdns(common, { t });
    t.equal((await ask(untrusting.port, 'z.dot.test', 'A')).rcode, 2, 'SERVFAIL: a private CA is not in the default list');
    t.ok(await eventually(() => /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/.test(untrusting.stdout()), 2000),
      'the log names the verification error');
    t.equal(metricValue(await scrape(untrusting.httpPort!), 'kdns_forward_upstream_failures_total', { upstream: good, reason: 'tls' }), 1);
  });
});
