// When upstreams fail, through the kdns process: a cached answer is served stale (RFC 8767) after its
// upstream is stopped, with the short stale TTL instead of SERVFAIL; a name never cached gets SERVFAIL
// from a stopped upstream and from a black hole, within timeout × attempts and not a hang.
import t from 'tap';
import dgram from 'node:dgram';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { startKdns } from '../helpers/kdns-process.js';
import { ask, sleep, startLoggedNamed, workDir } from './setup.js';

const TIMEOUT_MS = 400;
const ATTEMPTS = 2;
const STALE_TTL = 3;

t.test('serve-stale and bounded SERVFAIL with dead upstreams', async (t) => {
  const w = workDir(t);
  const named = await startLoggedNamed(t, w.exampleZone, 'example.test');
  // A short TTL (2 s) on the ops.cna answer, so it expires during the test.
  const dm = await startDnsmasq(['--host-record=short.ops.cna,10.1.1.7,2', '--local=/ops.cna/'], 'short.ops.cna');
  t.teardown(() => dm.stop());
  // A black hole: a socket this test owns that reads queries and never answers.
  const hole = dgram.createSocket('udp4');
  let holeQueries = 0;
  hole.on('message', () => { holeQueries++; });
  await new Promise<void>((resolve) => hole.bind(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => hole.close(() => resolve())));

  const config = w.write('kdns.yaml', [
    'forward:',
    `  timeout: ${TIMEOUT_MS}ms`,
    `  attempts: ${ATTEMPTS}`,
    '  cache:',
    '    serve-stale: true',
    `    stale-ttl: ${STALE_TTL}`,
    '    stale-answer-timeout: 300ms',
    '',
  ].join('\n'));
  const kdns = await startKdns([
    '-c', config, '--listen', '127.0.0.1:0', '--workers', '1', '--http', 'none',
    '--zone-file', `${w.ownZone}@kdns.test`,
    `--server=/ops.cna/127.0.0.1#${dm.port}`, `--server=/hole.test/127.0.0.1#${hole.address().port}`,
    `--server=127.0.0.1#${named.port}`,
  ], { t });

  await t.test('a cached answer is served stale once dnsmasq is gone', async (t) => {
    const fresh = await ask(kdns.port, 'short.ops.cna', 'A');
    t.same(fresh.answers.map((a) => a.data), ['10.1.1.7']);
    t.ok(fresh.answers[0]!.ttl <= 2, 'the record\'s own short TTL');
    await dm.stop();
    await sleep(2600); // past the TTL
    const started = Date.now();
    const stale = await ask(kdns.port, 'short.ops.cna', 'A');
    t.equal(stale.rcode, 0, 'NOERROR, not SERVFAIL');
    t.same(stale.answers.map((a) => a.data), ['10.1.1.7'], 'the last good answer');
    t.equal(stale.answers[0]!.ttl, STALE_TTL, 'with the stale TTL');
    t.ok(Date.now() - started < TIMEOUT_MS * ATTEMPTS + 1000, 'answered within the client timer');
    const overTcp = await ask(kdns.port, 'short.ops.cna', 'A', { tcp: true });
    t.same(overTcp.answers.map((a) => [a.data, a.ttl <= STALE_TTL]), [['10.1.1.7', true]], 'stale over TCP too');
  });

  await t.test('a name never cached: SERVFAIL from the stopped dnsmasq, at once', async (t) => {
    const started = Date.now();
    const r = await ask(kdns.port, 'never.ops.cna', 'A');
    const took = Date.now() - started;
    t.equal(r.rcode, 2, 'SERVFAIL');
    t.ok(r.ra);
    t.ok(took < TIMEOUT_MS * ATTEMPTS + 500, `not a hang (${took} ms)`);
  });

  await t.test('a black hole: SERVFAIL after timeout × attempts', async (t) => {
    const started = Date.now();
    const r = await ask(kdns.port, 'www.hole.test', 'A', { timeoutMs: 5000 });
    const took = Date.now() - started;
    t.equal(r.rcode, 2, 'SERVFAIL');
    t.ok(took >= TIMEOUT_MS * ATTEMPTS - 50, `it did wait for both attempts (${took} ms)`);
    t.ok(took < TIMEOUT_MS * ATTEMPTS + 800, `and no longer (${took} ms)`);
    t.equal(holeQueries, ATTEMPTS, 'one query per attempt');
    const tcpStarted = Date.now();
    const overTcp = await ask(kdns.port, 'other.hole.test', 'A', { tcp: true, timeoutMs: 5000 });
    t.equal(overTcp.rcode, 2, 'TCP client: SERVFAIL too (the hole accepts no TCP)');
    t.ok(Date.now() - tcpStarted < TIMEOUT_MS * ATTEMPTS + 800, 'bounded');
  });

  await t.test('the healthy route is unaffected', async (t) => {
    const r = await ask(kdns.port, 'www.example.test', 'A');
    t.same(r.answers.map((a) => a.data), ['192.0.2.10']);
    t.ok(kdns.alive());
  });
});
