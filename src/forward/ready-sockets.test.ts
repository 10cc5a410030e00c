import t from 'tap';
import dgram from 'node:dgram';
import { MAX_READY, ReadySockets } from './ready-sockets.js';
import { udpExchange } from './upstream.js';
import { buildUpstreamQuery } from './message.js';
import { keyToWire } from '../dns/name.js';

/** An upstream that answers every query by echoing it with QR set, and records the source ports. */
async function echoServer(): Promise<{ port: number; ports: number[]; close(): void }> {
  const sock = dgram.createSocket('udp4');
  const ports: number[] = [];
  sock.on('message', (msg, rinfo) => {
    ports.push(rinfo.port);
    const reply = Buffer.from(msg);
    reply[2] = reply[2]! | 0x80;
    sock.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  return { port: sock.address().port, ports, close: () => sock.close() };
}

const until = async (cond: () => boolean): Promise<boolean> => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  return cond();
};

t.test('the pool fills after the first take, hands out connected sockets once each, and closes', async (t) => {
  const server = await echoServer();
  t.teardown(() => server.close());
  const pool = new ReadySockets('127.0.0.1', server.port, 3);
  t.equal(pool.take(), null, 'empty at first: the caller opens its own');
  pool.refill(); // what the upstream does once that query's answer is out
  t.ok(await until(() => pool.size === 3), 'then 3 ready');
  const a = pool.take()!;
  const b = pool.take()!;
  t.equal(a.remoteAddress().port, server.port, 'connected to the upstream');
  t.not(a.address().port, b.address().port, 'each its own source port');
  t.equal(pool.size, 1, 'not refilled by a take');
  pool.refill();
  t.ok(await until(() => pool.size === 3), 'refilled');
  a.close();
  b.close();
  pool.close();
  t.equal(pool.size, 0, 'closed: nothing held');
  t.equal(pool.take(), null);
  await new Promise((r) => setTimeout(r, 20));
  t.equal(pool.size, 0, 'and not refilled after close');
});

t.test('every query through the pool leaves from a new source port (RFC 5452)', async (t) => {
  const server = await echoServer();
  t.teardown(() => server.close());
  const pool = new ReadySockets('127.0.0.1', server.port, 4);
  t.teardown(() => pool.close());
  for (let i = 0; i < 40; i++) {
    const msg = buildUpstreamQuery(1000 + i, keyToWire(`q${i}.example.`), 1, 1, false, false);
    const r = await new Promise((resolve) => udpExchange('127.0.0.1', server.port, msg, 1000, undefined, pool.take(), resolve));
    t.ok(Buffer.isBuffer(r), `answer ${i}`);
    pool.refill();
  }
  t.equal(server.ports.length, 40);
  // The kernel picks each port at random and may pick a closed one again: allow a rare repeat.
  t.ok(new Set(server.ports).size >= 37, `40 queries from ${new Set(server.ports).size} different source ports`);
});

t.test('a burst that finds the pool empty doubles it (up to MAX_READY), each socket still used once', async (t) => {
  const server = await echoServer();
  t.teardown(() => server.close());
  const pool = new ReadySockets('127.0.0.1', server.port, 4);
  t.teardown(() => pool.close());
  pool.refill();
  t.ok(await until(() => pool.size === 4), '4 ready');
  const taken = Array.from({ length: 6 }, () => pool.take());
  t.equal(taken.filter((s) => s !== null).length, 4, 'the burst took the 4 ready ones; 2 queries open their own');
  pool.refill();
  t.equal(pool.wanted, 8, 'the pool now keeps 8');
  t.ok(await until(() => pool.size === 8), 'and refills to 8');
  for (const s of taken) s?.close();
  for (let i = 0; i < 10; i++) {
    for (const s of Array.from({ length: 100 }, () => pool.take())) s?.close();
    pool.refill();
  }
  t.ok(pool.wanted <= MAX_READY, `never more than ${MAX_READY} (${pool.wanted})`);
});
