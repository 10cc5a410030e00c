// TCP that an idle or slow client cannot exhaust (RFC 7766 §6.2.3), over the wire against the default
// server (2 workers; KDNS_ENGINE=node runs one): 2,100 idle connections do not lock out a new query; the
// idle timeout frees slots even from clients that never close; a byte-by-byte drip is cut at the message
// deadline; a client that half-closes still gets every answer it is owed, a forwarded one included; a
// connection at tcp.max-queries-in-flight is not read further until an answer comes back.
import t from 'tap';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { startHoldingRelay } from '../helpers/holding-relay.js';
import { fixture, startKdns, wireArgs, type KdnsProcess } from '../helpers/kdns-process.js';
import { buildQuery, check, frame, TcpClient } from './clients.js';

const CONNECTIONS = 2100;
const CONNECT_WAVE = 100;

/** The value of one series of kdns's /metrics (0 when the series does not exist yet). */
async function metric(kdns: KdnsProcess, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${kdns.httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** Polls `read` until `ok(value)` (bounded); returns the last value read. */
async function until(read: () => Promise<number>, ok: (v: number) => boolean, ms = 20_000): Promise<number> {
  const deadline = Date.now() + ms;
  let v = await read();
  while (!ok(v) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    v = await read();
  }
  return v;
}

function workersOf(kdns: KdnsProcess): number {
  const line = kdns.stdout().split('\n').find((l) => l.includes('"msg":"serving"'))!;
  return (JSON.parse(line) as { workers: number }).workers;
}

/** A client socket that sends nothing and, like a hostile client, never closes on the server's FIN. */
function idleSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

const EVICTED = 'kdns_tcp_connections_closed_total{reason="evicted"}';
const IDLE = 'kdns_tcp_connections_closed_total{reason="idle"}';
const DEADLINE = 'kdns_tcp_connections_closed_total{reason="deadline"}';

t.test(`${CONNECTIONS} idle connections do not lock out a new TCP query`, async (t) => {
  const limit = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
  // This process holds every client socket and kdns (a child, same limit) up to its cap of them.
  if (limit < 2 * CONNECTIONS + 200) {
    t.comment(`skipped: ulimit -n is ${limit}; this test needs ${2 * CONNECTIONS + 200}`);
    t.pass("skipped");
    return;
  }
  const kdns = await startKdns(wireArgs(['--tcp-idle-timeout', '120s']), { t });
  const cap = 1000; // the default tcp.max-connections, per worker
  const workers = workersOf(kdns);
  const sockets: net.Socket[] = [];
  const closed = new Set<number>();
  t.teardown(() => { for (const s of sockets) s.destroy(); });
  for (let i = 0; i < CONNECTIONS; i += CONNECT_WAVE) {
    const wave = await Promise.all(Array.from({ length: Math.min(CONNECT_WAVE, CONNECTIONS - i) }, () => idleSocket(kdns.port)));
    wave.forEach((s, k) => {
      s.on('error', () => undefined);
      s.once('end', () => closed.add(i + k));
      sockets.push(s);
    });
  }
  // Each worker holds at most `cap`: at least this many of the oldest were closed to admit the rest.
  const mustEvict = CONNECTIONS - cap * workers;
  const evicted = await until(() => metric(kdns, EVICTED), (v) => v >= mustEvict);
  t.ok(evicted >= mustEvict, `${evicted} evicted at the cap (at least ${mustEvict} with ${workers} worker(s) of ${cap})`);

  const started = Date.now();
  const c = new TcpClient(kdns.port);
  const answer = await c.query(buildQuery('www.example.test', 'A', { id: 4242 }), 1000);
  const took = Date.now() - started;
  t.ok(answer !== null && check(answer).rcode === 0, `a new connection is answered within 1 s (${took} ms)`);
  c.destroy();

  // Longest idle first: the newest connections are kept, the closed ones are among the oldest.
  await until(async () => closed.size, (n) => n >= mustEvict);
  const newest = [...closed].filter((i) => i >= CONNECTIONS - 100);
  t.same(newest, [], 'none of the 100 newest idle connections was evicted');
  t.ok(closed.size >= mustEvict, `${closed.size} clients saw their connection closed`);
  t.equal(await kdns.stop(), 0, 'exit 0 with a thousand idle connections open');
});

t.test('the idle timeout frees slots, even of clients that never close', async (t) => {
  const cap = 20;
  const kdns = await startKdns(wireArgs(['--workers', '1', '--tcp-idle-timeout', '300ms', '--tcp-max-connections', String(cap)]), { t });
  const first = await Promise.all(Array.from({ length: cap }, () => idleSocket(kdns.port)));
  t.teardown(() => { for (const s of first) s.destroy(); });
  const idle = await until(() => metric(kdns, IDLE), (v) => v >= cap);
  t.equal(idle, cap, `all ${cap} closed by the idle timeout`);
  // Their slots are free: as many new connections fit without evicting anyone.
  const second = Array.from({ length: cap }, () => new TcpClient(kdns.port));
  const answers = await Promise.all(second.map((c, i) => c.query(buildQuery('www.example.test', 'A', { id: 100 + i }))));
  t.ok(answers.every((a) => a !== null && check(a).rcode === 0), `${cap} new connections answered`);
  t.equal(await metric(kdns, EVICTED), 0, 'no connection had to be evicted');
  for (const c of second) c.destroy();
  t.equal(await kdns.stop(), 0);
});

t.test('a query dripped byte by byte is cut at the message deadline', async (t) => {
  const deadlineMs = 1000;
  const kdns = await startKdns(wireArgs(['--workers', '1', '--tcp-message-timeout', `${deadlineMs}ms`]), { t });
  const c = new TcpClient(kdns.port);
  await c.connected;
  const stream = frame(buildQuery('www.example.test', 'A', { id: 7 }));
  const t0 = Date.now();
  let sent = 0;
  // One byte every 250 ms: each byte is traffic, so an idle timer alone would never fire.
  while (sent < stream.length && !c.closed) {
    await c.write(stream.subarray(sent, sent + 1)).catch(() => undefined);
    sent++;
    await Promise.race([c.closedAt, new Promise((r) => setTimeout(r, 250))]);
  }
  const closedAfter = Date.now() - t0;
  t.ok(c.closed, `closed after ${sent} of ${stream.length} bytes`);
  t.ok(sent < stream.length, 'before the message was complete');
  t.ok(closedAfter >= deadlineMs * 0.8, `not before the deadline (${closedAfter} ms)`);
  t.equal(c.messages.length, 0, 'nothing answered');
  t.equal(await until(() => metric(kdns, DEADLINE), (v) => v >= 1), 1, 'counted as closed by the deadline');
  // A whole query right after, on a new connection, is answered: the server is fine.
  const d = new TcpClient(kdns.port);
  t.equal(check((await d.query(buildQuery('www.example.test', 'A', { id: 8 }))) ?? Buffer.alloc(0)).rcode, 0, 'others are served');
  d.destroy();
  t.equal(await kdns.stop(), 0);
});

t.test('forwarded queries over TCP: half-close and the in-flight limit', async (t) => {
  const records = ['slow1', 'slow2', 'slow3', 'slow4', 'slow5'].map((n, i) => `--host-record=${n}.ops.cna,10.1.1.${i + 1}`);
  const dm = await startDnsmasq([...records, '--local=/ops.cna/'], 'slow1.ops.cna');
  t.teardown(() => dm.stop());
  const relay = await startHoldingRelay(dm.port, (name) => name.startsWith('slow'));
  t.teardown(() => relay.close());
  const kdns = await startKdns([
    ...wireArgs(['--workers', '1', '--tcp-max-queries-in-flight', '2']).filter((a) => a !== '--no-forward'),
    '-c', fixture('wire', 'slow-forward.yaml'), `--server=/ops.cna/127.0.0.1#${relay.port}`, `--server=127.0.0.1#${dm.port}`,
  ], { t });

  // Half-close: an authoritative query, a forwarded one, another authoritative one, then FIN.
  const c = new TcpClient(kdns.port);
  await c.connected;
  await c.write(Buffer.concat([
    frame(buildQuery('www.example.test', 'A', { id: 1 })),
    frame(buildQuery('slow1.ops.cna', 'A', { id: 2 })),
    frame(buildQuery('mail.example.test', 'A', { id: 3 })),
  ]));
  c.sock.end();
  await relay.waitHeld(1);
  const before = await c.waitFor(2);
  t.same(before.map((m) => check(m).id).sort(), [1, 3], 'the authoritative answers come at once');
  t.notOk(c.closed, 'the connection stays open for the forwarded answer');

  // In-flight limit 2 on a second connection: its third forwarded query is not read until one is answered.
  const d = new TcpClient(kdns.port);
  await d.connected;
  await d.write(Buffer.concat(['slow2', 'slow3', 'slow4'].map((n, i) => frame(buildQuery(`${n}.ops.cna`, 'A', { id: 20 + i })))));
  await relay.waitHeld(3);
  // Sentinel: a later query on a third connection reaches the relay, while slow4 still has not.
  const e = new TcpClient(kdns.port);
  await e.connected;
  await e.write(frame(buildQuery('slow5.ops.cna', 'A', { id: 30 })));
  await relay.waitHeld(4);
  t.same(relay.held(), ['slow1.ops.cna', 'slow2.ops.cna', 'slow3.ops.cna', 'slow5.ops.cna'], 'slow4 was not read: 2 already in flight');

  relay.release();
  const all = await c.waitFor(3, 10_000);
  const forwarded = all.map(check).find((r) => r.id === 2);
  t.equal((forwarded?.packet?.answers?.[0] as { data?: string } | undefined)?.data, '10.1.1.1', 'the forwarded answer arrives after the half-close');
  await Promise.race([c.closedAt, new Promise((r) => setTimeout(r, 5000))]);
  t.ok(c.closed, 'then kdns closes the connection');
  const dAnswers = (await d.waitFor(3, 10_000)).map(check);
  t.same(dAnswers.map((r) => r.id).sort(), [20, 21, 22], 'every query of the throttled connection is answered');
  t.equal((dAnswers.find((r) => r.id === 22)?.packet?.answers?.[0] as { data?: string } | undefined)?.data, '10.1.1.4', 'slow4 too');
  t.ok((await e.waitFor(1, 10_000)).length === 1, 'and the sentinel');
  d.destroy();
  e.destroy();
  t.equal(await kdns.stop(), 0);
});
