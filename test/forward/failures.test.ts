// The forwarder when upstreams misbehave: silent (black hole), gone (port closed), slow, truncating,
// spoofing, overloaded; health marking and probing; retries and policies; RFC 8767 serve-stale.
import t from 'tap';
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { a, reply, sleep, startFake } from './fake-upstream.js';
import { makeForwarder, rcodeOf } from './setup.js';

/** A UDP socket that receives and never answers; `seen` counts queries, `probes` the `. NS` health probes among them. */
async function blackHole(t: { teardown(fn: () => unknown): void }): Promise<{ port: number; seen: () => number; probes: () => number }> {
  const sock = dgram.createSocket('udp4');
  let seen = 0;
  let probes = 0;
  sock.on('message', (raw) => {
    seen++;
    if (dnsPacket.decode(raw).questions?.[0]?.name === '.') probes++;
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => sock.close(() => resolve())));
  return { port: sock.address().port, seen: () => seen, probes: () => probes };
}

/** A loopback UDP port with nobody on it (bound, then closed). */
async function deadPort(): Promise<number> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const port = sock.address().port;
  await new Promise<void>((resolve) => sock.close(() => resolve()));
  return port;
}

const good = (ip = '192.0.2.1') => startFake((q) => reply(q, { answers: [a(q.questions![0]!.name, ip, 300)] }));

t.test('black-hole upstream: SERVFAIL within attempts × timeout, not a hang', async (t) => {
  const hole = await blackHole(t);
  const { fwd, ask } = makeForwarder({ timeoutMs: 200, attempts: 2 }, [hole.port]);
  t.teardown(() => fwd.close());
  const started = Date.now();
  const r = await ask('void.example.test', 'A');
  const took = Date.now() - started;
  t.equal(rcodeOf(r), 2, 'SERVFAIL');
  // A lower bound only (timers never fire early); the upper bound is tap's own test timeout.
  t.ok(took >= 350, `after both timeouts (${took} ms)`);
  t.equal(hole.seen(), 2, 'two attempts');
  // Remembered briefly: the next client does not make the upstream wait again (no third query reaches it).
  t.equal(rcodeOf(await ask('void.example.test', 'A')), 2);
  t.equal(hole.seen(), 2, 'cached SERVFAIL: the upstream was not asked again');
});

t.test('dead upstream (port closed): SERVFAIL quickly from ICMP unreachable', async (t) => {
  const port = await deadPort();
  // A timeout far beyond tap's per-test limit: only the refusal itself can end this query in time.
  const { fwd, ask } = makeForwarder({ timeoutMs: 600_000, attempts: 2 }, [port]);
  t.teardown(() => fwd.close());
  t.equal(rcodeOf(await ask('dead.example.test', 'A')), 2, 'SERVFAIL without waiting for the timeout');
  const s = (fwd.stats() as { upstreams: { healthy: boolean }[] }).upstreams;
  t.equal(s[0]!.healthy, false, 'marked down at the first refusal');
});

t.test('retries the next server; passive health marks the silent one down; a probe brings it back', async (t) => {
  const hole = await blackHole(t);
  const ok = await good();
  t.teardown(() => ok.close());
  const { fwd, ask } = makeForwarder({ timeoutMs: 150, attempts: 2, failuresBeforeDown: 2, probeIntervalMs: 50 }, [hole.port, ok.port]);
  t.teardown(() => fwd.close());
  t.equal((await ask('r1.example.test', 'A')).answers[0]!.data, '192.0.2.1', 'second server answered');
  t.equal((await ask('r2.example.test', 'A')).answers[0]!.data, '192.0.2.1');
  const stats = () => (fwd.stats() as { upstreams: { name: string; healthy: boolean }[] }).upstreams;
  t.equal(stats().find((u) => u.name.endsWith('#' + hole.port))!.healthy, false, 'down after 2 failures');
  await ask('r3.example.test', 'A');
  t.equal(hole.seen() - hole.probes(), 2, 'no query reached it once down');
  // Probes (`. NS`) go to the down server; a server that answers is up again.
  for (let i = 0; i < 200 && hole.probes() === 0; i++) await sleep(25);
  t.ok(hole.probes() > 0, 'probed while down');
});

t.test('a down server comes back when its probe is answered', async (t) => {
  let answering = false;
  const flappy = await startFake((q) => (answering ? reply(q, { answers: [a(q.questions![0]!.name, '192.0.2.9', 60)] }) : null));
  t.teardown(() => flappy.close());
  const { fwd, ask } = makeForwarder({ timeoutMs: 100, attempts: 1, failuresBeforeDown: 1, probeIntervalMs: 50, cache: { servfailTtl: 0 } }, [flappy.port]);
  t.teardown(() => fwd.close());
  t.equal(rcodeOf(await ask('f.example.test', 'A')), 2);
  const up = () => (fwd.stats() as { upstreams: { healthy: boolean }[] }).upstreams[0]!.healthy;
  t.equal(up(), false);
  answering = true;
  for (let i = 0; i < 40 && !up(); i++) await sleep(25);
  t.equal(up(), true, 'healthy again');
  t.ok(flappy.received.some((r) => r.name === '.' && r.type === 'NS'), 'probe was `. NS`');
  t.equal((await ask('f.example.test', 'A')).answers[0]!.data, '192.0.2.9');
});

t.test('slow upstream: answered when within the timeout, SERVFAIL beyond', async (t) => {
  const slow = await startFake(async (q) => {
    await sleep(q.questions![0]!.name.startsWith('slower') ? 400 : 100);
    return reply(q, { answers: [a(q.questions![0]!.name, '192.0.2.5', 60)] });
  });
  t.teardown(() => slow.close());
  const { fwd, ask } = makeForwarder({ timeoutMs: 250, attempts: 1 }, [slow.port]);
  t.teardown(() => fwd.close());
  t.equal((await ask('slow.example.test', 'A')).answers[0]!.data, '192.0.2.5');
  t.equal(rcodeOf(await ask('slower.example.test', 'A')), 2);
});

t.test('SERVFAIL from one server: the next one is asked', async (t) => {
  const failing = await startFake((q) => reply(q, { rcode: 2 }));
  const ok = await good('192.0.2.77');
  t.teardown(() => failing.close());
  t.teardown(() => ok.close());
  const { fwd, ask } = makeForwarder({ attempts: 2 }, [failing.port, ok.port]);
  t.teardown(() => fwd.close());
  t.equal((await ask('sf.example.test', 'A')).answers[0]!.data, '192.0.2.77');
  t.equal(failing.count(), 1);
  const s = (fwd.stats() as { upstreams: { healthy: boolean }[] }).upstreams;
  t.ok(s.every((u) => u.healthy), 'SERVFAIL does not make a server unhealthy');
});

t.test('truncated UDP answer is retried over TCP', async (t) => {
  const tc = await startFake((q, _raw, proto) => (proto === 'udp'
    ? reply(q, { truncated: true })
    : reply(q, { answers: [a(q.questions![0]!.name, '192.0.2.8', 60)] })));
  t.teardown(() => tc.close());
  const { fwd, ask } = makeForwarder({}, [tc.port]);
  t.teardown(() => fwd.close());
  const r = await ask('tc.example.test', 'A');
  t.equal(r.answers[0]!.data, '192.0.2.8');
  t.equal(r.raw[2]! & 0x02, 0, 'no TC for the client');
  t.equal(tc.count('tc.example.test', 'udp'), 1);
  t.equal(tc.count('tc.example.test', 'tcp'), 1);
});

t.test('a plain upstream refusing TCP stays up for UDP (one failure, not down at once)', async (t) => {
  // UDP answers truncated; nothing listens on its TCP port, so the TCP retry is refused.
  const udpOnly = await startFake((q) => reply(q, { truncated: true }), { tcp: false });
  t.teardown(() => udpOnly.close());
  const { fwd, ask, registry } = makeForwarder({ failuresBeforeDown: 3, attempts: 1 }, [udpOnly.port]);
  t.teardown(() => fwd.close());
  const r = await ask('tconly.example.test', 'A');
  t.equal(r.raw[2]! & 0x02, 0x02, 'the client gets the truncated answer and can retry over TCP itself');
  t.match(await registry.metrics(), new RegExp(`kdns_forward_upstream_failures_total\\{upstream="127.0.0.1#${udpOnly.port}",reason="refused"\\} 1`));
  t.equal((fwd.stats() as { upstreams: { healthy: boolean }[] }).upstreams[0]!.healthy, true, 'still up');
  await ask('next.example.test', 'A');
  t.equal(udpOnly.count('next.example.test', 'udp'), 1, 'and still asked over UDP');
});

t.test('TCP clients are forwarded over TCP, pipelined on one connection', async (t) => {
  const fake = await startFake(async (q) => {
    await sleep(20);
    return reply(q, { answers: [a(q.questions![0]!.name, '192.0.2.6', 60)] });
  });
  t.teardown(() => fake.close());
  const { fwd, ask } = makeForwarder({}, [fake.port]);
  t.teardown(() => fwd.close());
  const rs = await Promise.all(Array.from({ length: 5 }, (_, i) => ask(`tcp${i}.example.test`, 'A', { proto: 'tcp' })));
  t.ok(rs.every((r) => r.answers[0]!.data === '192.0.2.6'));
  t.equal(fake.count(undefined, 'tcp'), 5);
  t.equal(fake.count(undefined, 'udp'), 0);
  const ids = new Set(fake.received.map((r) => r.id));
  t.equal(ids.size, 5, 'distinct IDs on the shared connection');
});

t.test('responses that do not match (wrong ID, wrong question) are ignored', async (t) => {
  // Two bogus answers first, then the real one, all from the upstream's own socket.
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => sock.close(() => resolve())));
  sock.on('message', (raw, rinfo) => {
    const q = dnsPacket.decode(raw);
    const send = (b: Buffer) => sock.send(b, rinfo.port, rinfo.address);
    send(reply(q, { id: ((q.id ?? 0) + 1) & 0xffff, answers: [a(q.questions![0]!.name, '6.6.6.6', 60)] }));
    send(reply(q, { name: 'evil.example.test', answers: [a('evil.example.test', '6.6.6.7', 60)] }));
    setTimeout(() => send(reply(q, { answers: [a(q.questions![0]!.name, '192.0.2.3', 60)] })), 30);
  });
  const { fwd, ask } = makeForwarder({}, [sock.address().port]);
  t.teardown(() => fwd.close());
  const r = await ask('match.example.test', 'A');
  t.same(r.answers.map((x) => x.data), ['192.0.2.3'], 'only the matching answer is taken');
});

t.test('in-flight cap per upstream: SERVFAIL beyond it, no queue', async (t) => {
  const slow = await startFake(async (q) => {
    await sleep(150);
    return reply(q, { answers: [a(q.questions![0]!.name, '192.0.2.4', 60)] });
  });
  t.teardown(() => slow.close());
  const { fwd, ask, registry } = makeForwarder({ maxInFlightPerUpstream: 2 }, [slow.port]);
  t.teardown(() => fwd.close());
  const rs = await Promise.all(Array.from({ length: 5 }, (_, i) => ask(`cap${i}.example.test`, 'A')));
  t.equal(rs.filter((r) => rcodeOf(r) === 0).length, 2);
  t.equal(rs.filter((r) => rcodeOf(r) === 2).length, 3);
  t.equal(slow.count(), 2, 'only two reached the upstream');
  t.match(await registry.metrics(), /kdns_forward_max_concurrent_rejects_total\{to="127.0.0.1#\d+"\} 3/);
});

t.test('round_robin spreads queries; sequential sticks to the first', async (t) => {
  const one = await good('192.0.2.11');
  const two = await good('192.0.2.12');
  t.teardown(() => one.close());
  t.teardown(() => two.close());
  const rr = makeForwarder({ policy: 'round_robin' }, [one.port, two.port]);
  t.teardown(() => rr.fwd.close());
  for (let i = 0; i < 4; i++) await rr.ask(`rr${i}.example.test`, 'A');
  t.equal(one.count(), 2);
  t.equal(two.count(), 2);
  const seq = makeForwarder({ policy: 'sequential' }, [one.port, two.port]);
  t.teardown(() => seq.fwd.close());
  for (let i = 0; i < 4; i++) await seq.ask(`seq${i}.example.test`, 'A');
  t.equal(one.count(), 6);
  t.equal(two.count(), 2);
});

t.test('serve-stale: upstream gone → expired answer with TTL 30; refresh first when it works', async (t) => {
  const up = await good('192.0.2.20');
  const { fwd, ask, clock } = makeForwarder({ timeoutMs: 200, attempts: 1 }, [up.port]);
  t.teardown(() => fwd.close());
  t.equal((await ask('stale.example.test', 'A')).answers[0]!.ttl, 300);
  clock.now += 301_000;
  t.equal((await ask('stale.example.test', 'A')).answers[0]!.ttl, 300, 'expired + upstream fine → refreshed, not stale');
  t.equal(up.count('stale.example.test'), 2);
  await up.close();
  clock.now += 301_000;
  const r = await ask('stale.example.test', 'A');
  t.equal(rcodeOf(r), 0);
  t.equal(r.answers[0]!.data, '192.0.2.20');
  t.equal(r.answers[0]!.ttl, 30, 'stale TTL');
  const s = fwd.stats() as { staleServed: number };
  t.equal(s.staleServed, 1);
  // RFC 8767 §4: within 30 s of a failed refresh, stale is served without asking again.
  const sent = (): number => (fwd.stats() as { upstreams: { requests: number }[] }).upstreams[0]!.requests;
  const before = sent();
  t.equal((await ask('stale.example.test', 'A')).answers[0]!.ttl, 30);
  t.equal(sent(), before, 'without asking the upstream again');
  t.equal((fwd.stats() as { staleServed: number }).staleServed, 2);
});

t.test('serve-stale: slower than the client response timer → stale now, cache refreshed later', async (t) => {
  // The upstream holds its refresh answer until the test releases it: a stale answer that arrives while it
  // is held can only come from the client response timer.
  let hold: Promise<void> | null = null;
  let release = (): void => {};
  const up = await startFake(async (q) => {
    const held = hold !== null;
    if (hold !== null) await hold;
    return reply(q, { answers: [a(q.questions![0]!.name, held ? '192.0.2.31' : '192.0.2.30', 100)] });
  });
  t.teardown(() => up.close());
  const { fwd, ask, clock } = makeForwarder({ timeoutMs: 10_000, attempts: 1, cache: { staleAnswerTimeoutMs: 100 } }, [up.port]);
  t.teardown(() => fwd.close());
  await ask('slowstale.example.test', 'A');
  clock.now += 101_000;
  hold = new Promise<void>((resolve) => { release = resolve; });
  const r = await ask('slowstale.example.test', 'A');
  t.equal(r.answers[0]!.data, '192.0.2.30', 'the stale answer, while the upstream still holds the refresh');
  t.equal(r.answers[0]!.ttl, 30);
  release();
  let fresh = r;
  for (let i = 0; i < 200 && fresh.answers[0]!.data !== '192.0.2.31'; i++) {
    await sleep(10);
    fresh = await ask('slowstale.example.test', 'A');
  }
  t.equal(fresh.answers[0]!.data, '192.0.2.31', 'refresh landed in the cache');
  t.equal(fresh.answers[0]!.ttl, 100);
});

t.test('without serve-stale an expired entry is a plain miss', async (t) => {
  const up = await good();
  const { fwd, ask, clock } = makeForwarder({ timeoutMs: 200, attempts: 1, cache: { serveStale: false } }, [up.port]);
  t.teardown(() => fwd.close());
  await ask('nostale.example.test', 'A');
  await up.close();
  clock.now += 301_000;
  t.equal(rcodeOf(await ask('nostale.example.test', 'A')), 2);
});
