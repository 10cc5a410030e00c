// DNS over TCP per RFC 7766: many queries per connection, pipelining (one write, and split into
// single bytes), out-of-order answers matched by ID, the idle timeout, and hostile framing.
import t, { type Test } from 'tap';
import { startKdns, wireArgs } from '../helpers/kdns-process.js';
import { buildQuery, check, frame, TcpClient } from './clients.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const IDLE_MS = 500;

const kdns = await startKdns(wireArgs(['--tcp-idle-timeout', `${IDLE_MS}ms`]), { t });

const NAMES: Array<[string, string, string | null]> = [
  ['www.example.test', 'A', '192.0.2.20'],
  ['www.example.test', 'AAAA', '2001:db8::20'],
  ['mail.example.test', 'A', '192.0.2.25'],
  ['sip.example.test', 'A', '192.0.2.30'],
  ['x.wild.example.test', 'A', '192.0.2.40'],
  ['nope.example.test', 'A', null],
];

/** 20 queries with distinct IDs; expected[id] = [rcode, first answer datum]. */
function batch(base: number): { msgs: Buffer[]; expected: Map<number, [number, string | null]> } {
  const msgs: Buffer[] = [];
  const expected = new Map<number, [number, string | null]>();
  for (let i = 0; i < 20; i++) {
    const [name, type, want] = NAMES[i % NAMES.length]!;
    const id = base + i;
    msgs.push(buildQuery(name, type, { id, edns: i % 2 === 0 ? { size: 1232 } : false }));
    expected.set(id, [want === null ? 3 : 0, want]);
  }
  return { msgs, expected };
}

function verify(t: Test, got: Buffer[], expected: Map<number, [number, string | null]>): void {
  t.equal(got.length, expected.size, `${expected.size} answers`);
  const seen = new Set<number>();
  for (const msg of got) {
    const r = check(msg);
    t.ok(r.ok, r.why);
    const e = expected.get(r.id);
    t.ok(e, `answer id ${r.id} was asked`);
    t.notOk(seen.has(r.id), `id ${r.id} answered once`);
    seen.add(r.id);
    if (!e) continue;
    t.equal(r.rcode, e[0], `id ${r.id} rcode`);
    const first = (r.packet?.answers?.[0] as { data?: unknown } | undefined)?.data ?? null;
    t.equal(first, e[1], `id ${r.id} answer`);
  }
}

t.test('several queries on one connection, which stays open between them', async (t) => {
  const c = new TcpClient(kdns.port);
  await c.connected;
  for (let i = 0; i < 5; i++) {
    const res = await c.query(buildQuery('www.example.test', 'A', { id: 1000 + i }));
    const r = check(res ?? Buffer.alloc(0));
    t.equal(r.id, 1000 + i, `query ${i}: id`);
    t.equal(r.rcode, 0);
    await sleep(60);
    t.notOk(c.closed, `open after query ${i}`);
  }
  // Large answers are never truncated over TCP, whatever the EDNS size says.
  const big = check((await c.query(buildQuery('big.example.test', 'A', { id: 1100, edns: { size: 512 } }))) ?? Buffer.alloc(0));
  t.notOk(big.tc, 'no TC over TCP');
  t.equal(big.packet?.answers?.length, 100, 'whole RRset over TCP');
  c.destroy();
});

t.test('20 pipelined queries in one write', async (t) => {
  const c = new TcpClient(kdns.port);
  await c.connected;
  const { msgs, expected } = batch(2000);
  await c.write(Buffer.concat(msgs.map(frame)));
  verify(t, await c.waitFor(20, 5000), expected);
  t.notOk(c.closed, 'still open');
  c.destroy();
});

t.test('20 pipelined queries split into single bytes and odd chunks', async (t) => {
  const c = new TcpClient(kdns.port);
  await c.connected;
  const { msgs, expected } = batch(3000);
  const stream = Buffer.concat(msgs.map(frame));
  // The first three messages one byte per write (with pauses so they leave as separate segments),
  // the rest in chunks of 1..97 bytes that straddle message boundaries.
  const firstThree = msgs.slice(0, 3).reduce((n, m) => n + m.length + 2, 0);
  let off = 0;
  for (; off < firstThree; off++) {
    await c.write(stream.subarray(off, off + 1));
    if (off % 8 === 0) await sleep(1);
  }
  let step = 1;
  while (off < stream.length) {
    await c.write(stream.subarray(off, off + step));
    off += step;
    step = (step * 7 + 3) % 97 + 1;
    await sleep(1);
  }
  verify(t, await c.waitFor(20, 5000), expected);
  c.destroy();
});

t.test('two connections interleaved do not mix answers', async (t) => {
  const a = new TcpClient(kdns.port);
  const b = new TcpClient(kdns.port);
  await Promise.all([a.connected, b.connected]);
  const ba = batch(4000);
  const bb = batch(5000);
  await Promise.all([a.write(Buffer.concat(ba.msgs.map(frame))), b.write(Buffer.concat(bb.msgs.map(frame)))]);
  verify(t, await a.waitFor(20, 5000), ba.expected);
  verify(t, await b.waitFor(20, 5000), bb.expected);
  a.destroy();
  b.destroy();
});

t.test('idle connections are closed after the idle timeout', async (t) => {
  const c = new TcpClient(kdns.port);
  await c.connected;
  const r = check((await c.query(buildQuery('www.example.test', 'A', { id: 6000 }))) ?? Buffer.alloc(0));
  t.equal(r.rcode, 0, 'answered first');
  const answeredAt = Date.now();
  const closedAt = await Promise.race([c.closedAt, sleep(IDLE_MS * 8).then(() => -1)]);
  t.not(closedAt, -1, `closed within ${IDLE_MS * 8} ms of idleness`);
  if (closedAt > 0) t.ok(closedAt - answeredAt >= IDLE_MS * 0.8, `not before the timeout (${closedAt - answeredAt} ms)`);
  // A connection that never sends anything is closed too.
  const silent = new TcpClient(kdns.port);
  await silent.connected;
  const t0 = Date.now();
  const closed2 = await Promise.race([silent.closedAt, sleep(IDLE_MS * 8).then(() => -1)]);
  t.not(closed2, -1, 'silent connection closed');
  if (closed2 > 0) t.ok(closed2 - t0 >= IDLE_MS * 0.8, `silent: not before the timeout (${closed2 - t0} ms)`);
  c.destroy();
  silent.destroy();
});

t.test('activity keeps a connection open past the idle timeout', async (t) => {
  const c = new TcpClient(kdns.port);
  await c.connected;
  for (let i = 0; i < 4; i++) {
    const res = await c.query(buildQuery('www.example.test', 'A', { id: 6100 + i }));
    t.ok(res, `answer ${i}`);
    await sleep(IDLE_MS / 2);
  }
  t.notOk(c.closed, `open after ${IDLE_MS * 2} ms of queries every ${IDLE_MS / 2} ms`);
  c.destroy();
});

async function stillServes(t: Test, label: string): Promise<void> {
  const c = new TcpClient(kdns.port);
  await c.connected;
  const r = check((await c.query(buildQuery('www.example.test', 'A', { id: 7777 }))) ?? Buffer.alloc(0));
  t.equal(r.rcode, 0, `${label}: server still answers over TCP`);
  t.ok(kdns.alive(), `${label}: process alive`);
  c.destroy();
}

t.test('hostile framing does not crash the server', async (t) => {
  // A zero-length message: the server may drop it or close; it must not die.
  const z = new TcpClient(kdns.port);
  await z.connected;
  await z.write(Buffer.from([0, 0]));
  const after0 = await z.query(buildQuery('www.example.test', 'A', { id: 7001 }), 1500);
  if (after0) t.equal(check(after0).id, 7001, 'answered after a 0-length message');
  else t.ok(z.closed, 'or closed the connection');
  z.destroy();
  await stillServes(t, '0-length');

  // Shorter than a header.
  const s = new TcpClient(kdns.port);
  await s.connected;
  await s.write(frame(Buffer.from([1, 2, 3, 4, 5])));
  await sleep(100);
  s.destroy();
  await stillServes(t, '5-byte message');

  // The largest length prefix with a full 65535 bytes of junk.
  const o = new TcpClient(kdns.port);
  await o.connected;
  const junk = Buffer.alloc(65535, 0x41);
  junk.writeUInt16BE(7002, 0);
  await o.write(Buffer.concat([Buffer.from([0xff, 0xff]), junk])).catch(() => undefined);
  await o.waitFor(1, 1000);
  for (const m of o.messages) t.ok(check(m).ok, 'any answer to junk is well-formed');
  o.destroy();
  await stillServes(t, '65535-byte junk');

  // A length prefix promising more than is ever sent, then close.
  const h = new TcpClient(kdns.port);
  await h.connected;
  await h.write(Buffer.concat([Buffer.from([0x40, 0x00]), Buffer.alloc(100, 0x42)]));
  h.destroy();
  await stillServes(t, 'half message');

  // A valid query with 1000 bytes of trailing garbage inside its frame.
  const g = new TcpClient(kdns.port);
  await g.connected;
  const res = await g.query(Buffer.concat([buildQuery('www.example.test', 'A', { id: 7003 }), Buffer.alloc(1000, 0xcc)]), 1500);
  if (res) {
    const r = check(res);
    t.ok(r.ok, r.why);
    t.ok(r.rcode === 0 || r.rcode === 1, `trailing garbage → NOERROR or FORMERR (${r.rcode})`);
  } else {
    t.comment('trailing garbage: dropped');
  }
  g.destroy();
  await stillServes(t, 'trailing garbage');

  // Many connections opened and dropped at once.
  const many = Array.from({ length: 50 }, () => new TcpClient(kdns.port));
  await Promise.allSettled(many.map((c) => c.connected));
  for (const c of many) c.destroy();
  await stillServes(t, '50 dropped connections');
});

t.test('server still alive', async (t) => {
  t.ok(kdns.alive());
  t.equal(await kdns.stop(), 0);
});
