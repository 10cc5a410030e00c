// Upstreams that fail, through the kdns process and its /metrics: an upstream whose port is closed gets
// at most one query in all (ICMP port unreachable marks it down at once) and its clients get SERVFAIL
// without waiting; a black hole is marked down after its timeouts and then gets no queries, only probes; a
// dead upstream beside a live one costs the live one's clients nothing; a real dnsmasq that stops is
// marked down, and once it is back on its port a probe marks it up and queries flow again.
import t from 'tap';
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { startKdns } from '../helpers/kdns-process.js';
import { freePort } from '../helpers/named.js';
import { ask, eventually, metricValue, scrape, workDir } from './setup.js';

const TIMEOUT_MS = 600;

t.test('dead, silent and restarted upstreams', async (t) => {
  const w = workDir(t);
  const live = await startDnsmasq(['--address=/two.test/192.0.2.77'], 'www.two.test');
  t.teardown(() => live.stop());
  let flappy = await startDnsmasq(['--address=/flap.test/192.0.2.88'], 'www.flap.test');
  t.teardown(() => flappy.stop());
  const dead = await freePort(); // nobody listens there: queries get ICMP port unreachable
  // A black hole this test owns: it reads queries and never answers; it counts them, probes apart.
  const hole = dgram.createSocket('udp4');
  const holeQueries: string[] = [];
  hole.on('message', (raw) => { holeQueries.push(dnsPacket.decode(raw).questions?.[0]?.name ?? '?'); });
  await new Promise<void>((resolve) => hole.bind(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => hole.close(() => resolve())));
  const clientQueriesAtHole = (): number => holeQueries.filter((n) => n !== '.').length;

  const config = w.write('kdns.yaml', [
    'forward:',
    `  timeout: ${TIMEOUT_MS}ms`,
    '  attempts: 2',
    '  failures-before-down: 2',
    '  probe-interval: 100ms',
    '  probe-max-interval: 400ms',
    '  cache: {servfail-ttl: 0}',
    '',
  ].join('\n'));
  const deadName = `127.0.0.1#${dead}`;
  const holeName = `127.0.0.1#${hole.address().port}`;
  const flappyName = `127.0.0.1#${flappy.port}`;
  const kdns = await startKdns([
    '-c', config, '--listen', '127.0.0.1:0', '--workers', '1', '--http', '127.0.0.1:0',
    `--server=/dead.test/${deadName}`, `--server=/hole.test/${holeName}`, `--server=/flap.test/${flappyName}`,
    // Sequential policy: the dead server is first in line for two.test.
    `--server=/two.test/${deadName}`, `--server=/two.test/127.0.0.1#${live.port}`,
  ], { t });
  const metrics = async (): Promise<string> => scrape(kdns.httpPort!);

  await t.test('closed port: one send in all, SERVFAIL at once, marked down', async (t) => {
    for (let i = 0; i < 20; i++) {
      const started = Date.now();
      const r = await ask(kdns.port, `n${i}.dead.test`, 'A');
      t.equal(r.rcode, 2, `n${i}: SERVFAIL`);
      t.ok(Date.now() - started < TIMEOUT_MS, `n${i}: without waiting for a timeout`);
    }
    // A burst of 50 at once, while it is down.
    const burst = await Promise.all(Array.from({ length: 50 }, (_, i) => ask(kdns.port, `b${i}.dead.test`, 'A')));
    t.ok(burst.every((r) => r.rcode === 2), 'the burst: SERVFAIL');
    const m = await metrics();
    t.equal(metricValue(m, 'kdns_forward_requests_total', { to: deadName }), 1, 'one query ever reached the closed port');
    t.equal(metricValue(m, 'kdns_forward_upstream_failures_total', { upstream: deadName, reason: 'refused' }), 1, 'counted as refused');
    t.equal(metricValue(m, 'kdns_forward_upstream_up', { upstream: deadName }), 0, 'down');
    t.equal(metricValue(m, 'kdns_forward_local_answers_total', { reason: 'upstreams_down' }), 69, 'the other 69 answered here');
  });

  await t.test('two upstreams, one dead: every answer from the live one, the dead one not asked', async (t) => {
    const before = live.queriesFor('q0.two.test');
    for (let i = 0; i < 30; i++) {
      const r = await ask(kdns.port, `q${i}.two.test`, 'A');
      t.same(r.answers.map((a) => a.data), ['192.0.2.77'], `q${i}`);
    }
    t.equal(live.queriesFor('q0.two.test') - before, 1, 'the live one answered');
    const m = await metrics();
    t.equal(metricValue(m, 'kdns_forward_requests_total', { to: deadName }), 1, 'still the one query of the first test');
    t.equal(metricValue(m, 'kdns_forward_requests_total', { to: `127.0.0.1#${live.port}` }), 30, 'all 30 went to the live one');
  });

  await t.test('black hole: two timeouts mark it down, then no more queries reach it', async (t) => {
    const first = await ask(kdns.port, 'a.hole.test', 'A', { timeoutMs: 5000 });
    t.equal(first.rcode, 2, 'SERVFAIL after the timeouts');
    t.equal(clientQueriesAtHole(), 2, 'two attempts for the first query');
    t.equal(metricValue(await metrics(), 'kdns_forward_upstream_up', { upstream: holeName }), 0, 'down after 2 timeouts');
    for (let i = 0; i < 10; i++) {
      const started = Date.now();
      t.equal((await ask(kdns.port, `b${i}.hole.test`, 'A')).rcode, 2);
      t.ok(Date.now() - started < TIMEOUT_MS, 'SERVFAIL without waiting');
    }
    t.equal(clientQueriesAtHole(), 2, 'no client query reached it while down');
    t.ok(await eventually(() => holeQueries.includes('.'), 3000), 'a `. NS` probe reached it');
  });

  await t.test('dnsmasq stops: down; back on its port: a probe marks it up and queries flow', async (t) => {
    t.same((await ask(kdns.port, 'a.flap.test', 'A')).answers.map((a) => a.data), ['192.0.2.88']);
    const port = flappy.port;
    await flappy.stop();
    t.equal((await ask(kdns.port, 'b.flap.test', 'A')).rcode, 2, 'SERVFAIL once it is gone');
    t.equal(metricValue(await metrics(), 'kdns_forward_upstream_up', { upstream: flappyName }), 0, 'down');
    const sentWhileDown = metricValue(await metrics(), 'kdns_forward_requests_total', { to: flappyName });
    t.equal((await ask(kdns.port, 'c.flap.test', 'A')).rcode, 2, 'still SERVFAIL');
    t.equal(metricValue(await metrics(), 'kdns_forward_requests_total', { to: flappyName }), sentWhileDown, 'and not sent');

    flappy = await startDnsmasq(['--address=/flap.test/192.0.2.88'], 'www.flap.test', { port });
    let up = false;
    for (let i = 0; i < 100 && !up; i++) { // bounded: 100 × 50 ms, far more than the 400 ms probe cap
      up = metricValue(await metrics(), 'kdns_forward_upstream_up', { upstream: flappyName }) === 1;
      if (!up) await new Promise((r) => setTimeout(r, 50));
    }
    t.ok(up, 'up again');
    t.ok(flappy.queriesFor('.', 'NS') >= 1, 'the probe that found it was `. NS`');
    t.same((await ask(kdns.port, 'd.flap.test', 'A')).answers.map((a) => a.data), ['192.0.2.88'], 'queries flow again');
    t.ok(kdns.alive());
  });
});
