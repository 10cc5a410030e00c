// The upstream link (native/upstream.c) over real loopback sockets: each query leaves from a fresh connected
// socket (its own source port), its answer comes back in a batch slot with the query's token, and the socket
// is closed after the callback unless JavaScript keeps it (and after a throw too); a datagram from anyone but
// the upstream never arrives; a closed port is reported as -ECONNREFUSED, an oversize answer as -EMSGSIZE;
// upstreamClose checks the token; stop works inside the callback and leaves no fd; a terminated worker's
// link is released. Ready pools: after an upstream's first send, sockets connected to it wait (refilled
// after a batch, or after the loop turn when no answer comes); sends take them, each for one query with its
// own source port; a burst that finds the pool empty doubles it (up to 64); 16 upstreams have pools, a
// 17th opens inline; stop closes the ready sockets too. And udpSendMany: several answers in one call on the engine's
// socket, with every record checked against the buffer first.
import t, { type Test } from 'tap';
import dgram from 'node:dgram';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { constants } from 'node:os';
import { Worker } from 'node:worker_threads';
import {
  H_TX_PACKETS, MANY_STRIDE, M_ADDR, M_FAMILY, M_LENGTH, M_OFFSET, M_PORT, META_HEADER, META_STRIDE, UP_ABI, UP_COUNT,
  UP_HEADER, UP_OPEN, UP_OPENED_INLINE, UP_READY, UP_RECEIVED, UP_S_FD, UP_S_KEEP, UP_S_LEN, UP_S_TOKEN, UP_SENT, UP_STRIDE, UP_TRUNCATED,
  ABI_VERSION, type NativeBinding, type UpstreamHandle,
} from '../../src/engine/native-binding.js';
import { REPO_ROOT } from '../helpers/kdns-process.js';
import { fdCount, nativeOrFail, settleLive } from './setup.js';

const { ECONNREFUSED, EMSGSIZE, ENOENT, EBADF } = constants.errno;
const SLOT = 512;
const WAIT_MS = 5000;

interface Delivered {
  token: number;
  len: number;
  data: string;
  fd: number;
}

/** A link whose callback records every slot; `keep(d)` decides KEEP, `onBatch` runs after each batch. */
class Link {
  readonly inBuf: Buffer;
  readonly meta: Int32Array;
  readonly handle: UpstreamHandle;
  readonly got: Delivered[] = [];
  readonly batches: number[] = [];
  keep: (d: Delivered) => boolean = () => false;
  onBatch: () => void = () => undefined;
  private waiters: { until: () => boolean; resolve: () => void }[] = [];

  constructor(readonly b: NativeBinding, batch: number) {
    this.inBuf = Buffer.alloc(batch * SLOT);
    this.meta = new Int32Array(UP_HEADER + batch * UP_STRIDE);
    this.handle = b.upstreamCreate(this.inBuf, this.meta, batch, (n) => this.batch(n));
  }

  private batch(n: number): void {
    this.batches.push(n);
    for (let i = 0; i < n; i++) {
      const m = UP_HEADER + i * UP_STRIDE;
      const len = this.meta[m + UP_S_LEN]!;
      const d = {
        token: this.meta[m + UP_S_TOKEN]!, len, fd: this.meta[m + UP_S_FD]!,
        data: len > 0 ? this.inBuf.toString('latin1', i * SLOT, i * SLOT + len) : '',
      };
      this.got.push(d);
      if (this.keep(d)) this.meta[m + UP_S_KEEP] = 1;
    }
    this.onBatch();
    this.waiters = this.waiters.filter((w) => !(w.until() && (w.resolve(), true)));
  }

  /** Resolves once `until()` holds after a batch (or at once); fails after WAIT_MS. */
  wait(until: () => boolean): Promise<void> {
    if (until()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`waited ${WAIT_MS} ms; got ${JSON.stringify(this.got)}`)), WAIT_MS);
      // Resolve after the native call returned: the link closes the delivered sockets only then (microtasks
      // run at the end of the callback, before it).
      this.waiters.push({ until, resolve: () => { clearTimeout(timer); setImmediate(resolve); } });
    });
  }

  send(token: number, host: string, port: number, msg: string): number {
    const m = Buffer.from(msg);
    return this.b.upstreamSend(this.handle, token, host.includes(':') ? 6 : 4, port, addr16(host), m, m.length);
  }

  get open(): number {
    return this.meta[UP_OPEN]!;
  }

  get ready(): number {
    return this.meta[UP_READY]!;
  }

  get inline(): number {
    return this.meta[UP_OPENED_INLINE]!;
  }

  /** Sends `n` "burst:n:" queries (the upstream answers when all are in) and waits for every answer. */
  async burst(host: string, port: number, n: number): Promise<void> {
    const want = this.got.length + n;
    for (let i = 0; i < n; i++) this.send(i, host, port, `burst:${n}:${i}`);
    await this.wait(() => this.got.length === want);
  }
}

function addr16(host: string): Buffer {
  const a = Buffer.alloc(16);
  if (!host.includes(':')) host.split('.').forEach((x, i) => { a[i] = Number(x); });
  else if (host === '::1') a[15] = 1;
  else throw new Error(`addr16: ${host}`);
  return a;
}

interface Upstream {
  port: number;
  ports: number[];
  close: () => void;
}

/**
 * A loopback upstream: answers "echo:MSG"; "twice" twice; "big" with 600 bytes; "hold" never; "burst:N"
 * makes it hold every query until N have come, then answer them all at once. Records the source ports.
 */
async function upstream(host: string): Promise<Upstream> {
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const ports: number[] = [];
  let held: { msg: Buffer; port: number }[] = [];
  sock.on('message', (msg, r) => {
    ports.push(r.port);
    const text = msg.toString();
    const answer = (s: string | Buffer): void => void sock.send(s, r.port, r.address);
    if (text === 'hold') return;
    if (text === 'big') return answer(Buffer.alloc(600, 0x42));
    if (text === 'twice') {
      answer('first');
      return answer('second');
    }
    const burst = /^burst:(\d+):/.exec(text);
    if (burst !== null) {
      held.push({ msg, port: r.port });
      if (held.length < Number(burst[1])) return;
      for (const h of held) sock.send(Buffer.concat([Buffer.from('echo:'), h.msg]), h.port, r.address);
      held = [];
      return;
    }
    answer(`echo:${text}`);
  });
  sock.bind(0, host);
  await once(sock, 'listening');
  return { port: sock.address().port, ports, close: () => sock.close() };
}

/** A port nothing listens on (bound, then closed: the kernel answers ICMP port unreachable). */
async function closedPort(host: string): Promise<number> {
  const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  s.bind(0, host);
  await once(s, 'listening');
  const port = s.address().port;
  s.close();
  return port;
}

const binding = nativeOrFail(t);
if (binding !== null) defineTests(binding);

function defineTests(b: NativeBinding): void {
  /** An upstream on `host` and a link of `batch` slots, both closed when the test ends. */
  async function linkAndUpstream(t: Test, host: string, batch: number): Promise<{ up: Upstream; link: Link }> {
    const up = await upstream(host);
    t.teardown(up.close);
    const link = new Link(b, batch);
    t.teardown(() => b.upstreamStop(link.handle));
    return { up, link };
  }

  /** A link whose pool for `up` (on 127.0.0.1) its first exchange filled. */
  async function primedLink(t: Test, up: Upstream, batch: number): Promise<Link> {
    const link = new Link(b, batch);
    link.send(0, '127.0.0.1', up.port, 'first');
    await link.wait(() => link.got.length === 1);
    t.equal(link.ready, 4, 'a pool of 4 after the first answer');
    return link;
  }

  t.test('abi carries the link layout', async (t) => {
    t.equal(b.abi.upHeader, UP_HEADER);
    t.equal(b.abi.upStride, UP_STRIDE);
  });

  for (const host of ['127.0.0.1', '::1']) {
    t.test(`${host}: an answer comes back with its token and bytes; each query has its own source port`, async (t) => {
      const up = await upstream(host);
      t.teardown(up.close);
      const before = fdCount();
      const link = new Link(b, 8);
      t.equal(link.meta[UP_ABI], ABI_VERSION, 'ABI in the header');
      const fd1 = link.send(101, host, up.port, 'one');
      const fd2 = link.send(-7, host, up.port, 'two');
      t.ok(fd1 >= 0 && fd2 >= 0 && fd1 !== fd2, `two sockets (${fd1}, ${fd2})`);
      t.equal(link.open, 2, 'both open while waiting');
      await link.wait(() => link.got.length === 2);
      const byToken = new Map(link.got.map((d) => [d.token, d]));
      t.same(byToken.get(101), { token: 101, len: 8, data: 'echo:one', fd: fd1 });
      t.same(byToken.get(-7), { token: -7, len: 8, data: 'echo:two', fd: fd2 }, 'a negative token survives');
      t.equal(up.ports.length, 2);
      t.not(up.ports[0], up.ports[1], 'a fresh source port per query');
      t.equal(link.open, 0, 'both sockets closed after the callback');
      t.equal(link.meta[UP_SENT], 2);
      t.equal(link.meta[UP_RECEIVED], 2);
      b.upstreamStop(link.handle);
      b.upstreamStop(link.handle); // idempotent
      t.equal(fdCount(), before, 'no fd left (sockets and the epoll fd)');
    });
  }

  t.test('KEEP keeps the socket: the second datagram arrives for the same token, then it is closed', async (t) => {
    const { up, link } = await linkAndUpstream(t, '127.0.0.1', 4);
    link.keep = (d) => d.data === 'first';
    const fd = link.send(5, '127.0.0.1', up.port, 'twice');
    await link.wait(() => link.got.length === 2);
    t.same(link.got.map((d) => [d.token, d.data, d.fd]), [[5, 'first', fd], [5, 'second', fd]]);
    t.equal(link.open, 0, 'closed once not kept');
  });

  t.test('a datagram from anyone but the upstream never arrives (the socket is connected)', async (t) => {
    const { up, link } = await linkAndUpstream(t, '127.0.0.1', 4);
    link.send(1, '127.0.0.1', up.port, 'hold');
    for (let i = 0; i < 1000 && up.ports.length === 0; i++) await new Promise((r) => setImmediate(r)); // the query is in
    t.equal(up.ports.length, 1, 'the upstream has the query');
    const spoofer = dgram.createSocket('udp4');
    t.teardown(() => spoofer.close());
    spoofer.bind(0, '127.0.0.1');
    await once(spoofer, 'listening');
    // To the query's source port, from the wrong port, then the real answer (sentinel) from the upstream.
    await new Promise((r) => spoofer.send('spoofed', up.ports[0]!, '127.0.0.1', r));
    link.send(2, '127.0.0.1', up.port, 'sentinel');
    await link.wait(() => link.got.length === 1);
    t.same(link.got.map((d) => [d.token, d.data]), [[2, 'echo:sentinel']], 'only the upstream\'s answer');
    t.equal(link.open, 1, 'the first exchange still waits');
  });

  t.test('a callback that throws: uncaughtException, and the delivered socket is still closed', async (t) => {
    const addon = process.env.KDNS_NATIVE_ADDON ?? `${REPO_ROOT}/native/build/Release/kdns_native.node`;
    const script = `const b = require(${JSON.stringify(addon)});
      const s = require('node:dgram').createSocket('udp4');
      s.on('message', (m, r) => s.send(m, r.port, r.address));
      s.bind(0, '127.0.0.1', () => {
        const meta = new Int32Array(${UP_HEADER + UP_STRIDE});
        let calls = 0;
        const link = b.upstreamCreate(Buffer.alloc(512), meta, 1, () => { calls++; throw new Error('boom'); });
        process.on('uncaughtException', (e) => setImmediate(() => {
          console.log(e.message, calls, meta[${UP_OPEN}]);
          b.upstreamStop(link);
          s.close();
        }));
        b.upstreamSend(link, 1, 4, s.address().port, Buffer.from([127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('x'), 1);
      });`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    t.same({ stdout: r.stdout.trim(), status: r.status, signal: r.signal }, { stdout: 'boom 1 0', status: 0, signal: null });
  });

  t.test('a closed port is -ECONNREFUSED; an answer longer than a slot is -EMSGSIZE', async (t) => {
    const { up, link } = await linkAndUpstream(t, '127.0.0.1', 4);
    link.send(1, '127.0.0.1', await closedPort('127.0.0.1'), 'anyone?');
    link.send(2, '::1', await closedPort('::1'), 'anyone?');
    link.send(3, '127.0.0.1', up.port, 'big');
    await link.wait(() => link.got.length === 3);
    const len = new Map(link.got.map((d) => [d.token, d.len]));
    t.equal(len.get(1), -ECONNREFUSED, 'IPv4: ICMP port unreachable');
    t.equal(len.get(2), -ECONNREFUSED, 'IPv6: ICMP port unreachable');
    t.equal(len.get(3), -EMSGSIZE, 'oversize');
    t.equal(link.meta[UP_TRUNCATED], 1);
    t.equal(link.open, 0);
  });

  t.test('upstreamClose needs the right token; after it the socket is gone', async (t) => {
    const { up, link } = await linkAndUpstream(t, '127.0.0.1', 2);
    const before = fdCount();
    const fd = link.send(42, '127.0.0.1', up.port, 'hold');
    t.equal(fdCount(), before + 1);
    t.equal(b.upstreamClose(link.handle, fd, 43), -ENOENT, 'wrong token');
    t.equal(b.upstreamClose(link.handle, fd + 1000, 42), -ENOENT, 'not our fd');
    t.equal(link.open, 1);
    t.equal(b.upstreamClose(link.handle, fd, 42), 0, 'right token');
    t.equal(b.upstreamClose(link.handle, fd, 42), -ENOENT, 'only once');
    t.equal(link.open, 0);
    t.equal(fdCount(), before, 'the socket is closed');
  });

  t.test('upstreamStop inside the callback: nothing more is delivered, every socket closed', async (t) => {
    const up = await upstream('127.0.0.1');
    t.teardown(up.close);
    const before = fdCount();
    const link = new Link(b, 1); // one slot: the three answers need three batches
    link.onBatch = () => b.upstreamStop(link.handle);
    for (let i = 0; i < 3; i++) link.send(i, '127.0.0.1', up.port, 'burst:3:');
    link.send(9, '127.0.0.1', up.port, 'hold');
    await link.wait(() => link.got.length > 0);
    // A sentinel through a second link: when its answer is in, the three answers long were too.
    const sentinel = new Link(b, 1);
    sentinel.send(1, '127.0.0.1', up.port, 'sentinel');
    await sentinel.wait(() => sentinel.got.length === 1);
    b.upstreamStop(sentinel.handle);
    t.same(link.batches, [1], 'one batch, then none');
    t.equal(link.open, 0, 'the gauge says every socket is closed');
    t.equal(fdCount(), before, 'and so does /proc (the epoll fd too)');
    const m = Buffer.from('x');
    t.equal(b.upstreamSend(link.handle, 1, 4, up.port, addr16('127.0.0.1'), m, 1), -EBADF, 'send after stop');
    t.equal(b.upstreamClose(link.handle, 3, 1), -ENOENT, 'close after stop');
  });

  t.test('300 in flight: all delivered with their own bytes, in batches, every socket closed', async (t) => {
    const { up, link } = await linkAndUpstream(t, '127.0.0.1', 16);
    const N = 300;
    let refused = 0;
    // 25 at a time, so the upstream's one receive buffer never overflows; it answers all 300 at once.
    for (let i = 0; i < N; i++) {
      if (link.send(i, '127.0.0.1', up.port, `burst:${N}:${i}`) < 0) refused++;
      if (i % 25 === 24) await new Promise((r) => setImmediate(r));
    }
    t.equal(refused, 0, 'every send accepted');
    t.equal(link.meta[UP_SENT], N);
    await link.wait(() => link.got.length === N);
    t.equal(link.got.filter((d) => d.data === `echo:burst:${N}:${d.token}`).length, N, 'each token with its own answer');
    t.equal(new Set(link.got.map((d) => d.token)).size, N, 'each once');
    t.ok(link.batches.every((n) => n >= 1 && n <= 16), 'no batch larger than batchSize');
    t.ok(link.batches.length < N, `fewer callbacks (${link.batches.length}) than answers`);
    t.equal(link.meta[UP_COUNT], link.batches.at(-1));
    t.equal(link.open, 0);
  });

  t.test('ready pool: filled after the first answer; sends take from it, each socket for one query', async (t) => {
    const up = await upstream('127.0.0.1');
    t.teardown(up.close);
    const before = fdCount();
    const link = new Link(b, 64);
    link.send(0, '127.0.0.1', up.port, 'first');
    t.same([link.inline, link.ready], [1, 0], 'the first send opens its socket inline; nothing is made on its path');
    await link.wait(() => link.got.length === 1);
    t.equal(link.ready, 4, 'after the batch: 4 sockets ready');
    t.equal(fdCount(), before + 1 + 4, 'the epoll fd and the 4 ready sockets, the used one closed');
    // 52 sends in rounds of 4 in flight together (the upstream answers a round when all 4 are in), each
    // round refilled after its batch: every send takes a ready socket, and the 4 of a round (open at once)
    // leave from 4 distinct source ports.
    for (let round = 0; round < 13; round++) {
      const from = up.ports.length;
      await link.burst('127.0.0.1', up.port, 4);
      t.equal(new Set(up.ports.slice(from)).size, 4, `round ${round}: 4 queries, 4 source ports`);
      t.equal(link.ready, 4, `round ${round}: refilled`);
    }
    t.equal(link.inline, 1, 'all 52 from the pool');
    t.equal(link.meta[UP_SENT], 53);
    t.equal(link.open, 0, 'every used socket closed');
    b.upstreamStop(link.handle);
    t.equal(link.ready, 0, 'the gauge after stop');
    t.equal(fdCount(), before, 'stop closes the ready sockets too');
  });

  t.test('ready pool: refilled after the loop turn when no answer comes', async (t) => {
    const { up, link } = await linkAndUpstream(t, '::1', 4);
    link.send(1, '::1', up.port, 'hold');
    t.equal(link.ready, 0, 'not on the send\'s path');
    // A sentinel round trip through a second link: loop turns have passed since the send.
    const sentinel = new Link(b, 1);
    t.teardown(() => b.upstreamStop(sentinel.handle));
    sentinel.send(1, '::1', up.port, 'sentinel');
    await sentinel.wait(() => sentinel.got.length === 1);
    t.equal(link.ready, 4, 'the pool filled without an answer on its link');
    t.same(link.got, [], 'and nothing was delivered');
  });

  t.test('ready pool: a burst that finds it empty doubles it, up to 64; all in flight have distinct ports', async (t) => {
    const up = await upstream('127.0.0.1');
    t.teardown(up.close);
    const before = fdCount();
    const link = await primedLink(t, up, 64);
    const sizes: number[] = [];
    for (let i = 0; i < 6; i++) {
      const from = up.ports.length;
      await link.burst('127.0.0.1', up.port, 100);
      t.equal(new Set(up.ports.slice(from)).size, 100, `burst ${i}: 100 queries in flight, 100 source ports`);
      sizes.push(link.ready);
    }
    t.same(sizes, [8, 16, 32, 64, 64, 64], 'doubled once per burst, capped at 64');
    t.equal(link.inline, 1 + 6 * 100 - (4 + 8 + 16 + 32 + 64 + 64), 'each burst took every ready socket first');
    t.equal(link.open, 0);
    b.upstreamStop(link.handle);
    t.equal(fdCount(), before, 'no fd left');
  });

  t.test('ready pool: 16 upstreams have one, a 17th opens inline every time', async (t) => {
    const ups = await Promise.all(Array.from({ length: 17 }, () => upstream('127.0.0.1')));
    t.teardown(() => ups.forEach((u) => u.close()));
    const before = fdCount();
    const link = new Link(b, 64);
    for (const [i, u] of ups.entries()) link.send(i, '127.0.0.1', u.port, 'one');
    await link.wait(() => link.got.length === 17);
    t.equal(link.ready, 16 * 4, '4 ready for each of the first 16');
    t.equal(link.inline, 17);
    link.send(99, '127.0.0.1', ups[16]!.port, 'again');
    link.send(98, '127.0.0.1', ups[0]!.port, 'again');
    t.equal(link.inline, 18, 'the 17th again inline; the first from its pool');
    await link.wait(() => link.got.length === 19);
    t.equal(link.ready, 16 * 4);
    b.upstreamStop(link.handle);
    t.equal(fdCount(), before, 'no fd left');
  });

  t.test('ready pool: a ready socket whose upstream has gone reports -ECONNREFUSED', async (t) => {
    const up = await upstream('127.0.0.1');
    const link = await primedLink(t, up, 4);
    t.teardown(() => b.upstreamStop(link.handle));
    up.close();
    link.send(2, '127.0.0.1', up.port, 'anyone?');
    t.equal(link.inline, 1, 'from the pool');
    await link.wait(() => link.got.length === 2);
    t.same([link.got[1]!.token, link.got[1]!.len], [2, -ECONNREFUSED]);
  });

  t.test('bad arguments and handles of another kind throw TypeError KDNS_NATIVE_ARGUMENT', async (t) => {
    const link = new Link(b, 1);
    t.teardown(() => b.upstreamStop(link.handle));
    const code = { name: 'TypeError', code: 'KDNS_NATIVE_ARGUMENT' };
    const a = addr16('127.0.0.1');
    const m = Buffer.from('x');
    const cache = b.cacheCreate(false, 1232);
    t.teardown(() => b.cacheClose(cache));
    const calls: [string, () => unknown][] = [
      ['slot < 512', () => b.upstreamCreate(Buffer.alloc(511), new Int32Array(UP_HEADER + UP_STRIDE), 1, () => undefined)],
      ['meta short', () => b.upstreamCreate(Buffer.alloc(1024), new Int32Array(UP_HEADER + UP_STRIDE), 2, () => undefined)],
      ['batch 0', () => b.upstreamCreate(Buffer.alloc(1024), new Int32Array(64), 0, () => undefined)],
      ['no callback', () => b.upstreamCreate(Buffer.alloc(1024), new Int32Array(64), 1, null as never)],
      ['family 5', () => b.upstreamSend(link.handle, 1, 5, 53, a, m, 1)],
      ['port 0', () => b.upstreamSend(link.handle, 1, 4, 0, a, m, 1)],
      ['length > msg', () => b.upstreamSend(link.handle, 1, 4, 53, a, m, 2)],
      ['addr short', () => b.upstreamSend(link.handle, 1, 4, 53, Buffer.alloc(4), m, 1)],
      ['a cache as link', () => b.upstreamStop(cache as never)],
      ['a plain object', () => b.upstreamClose({} as never, 3, 1)],
    ];
    for (const [what, call] of calls) t.throws(call, code, what);
    t.throws(() => b.udpStop(link.handle as never), code, 'a link as a UDP engine');
    t.equal(link.open, 0, 'nothing opened by a refused call');
  });

  t.test('a worker that exits without upstreamStop: its link is released, its sockets closed', async (t) => {
    const up = await upstream('127.0.0.1');
    t.teardown(up.close);
    const settle = (target: number): Promise<number> => settleLive(() => b.liveUpstreams(), target);
    const baseline = await settle(0);
    const fds = fdCount();
    const worker = new Worker(new URL('./upstream-worker.js', import.meta.url), { workerData: { port: up.port } });
    const [msg] = (await once(worker, 'message')) as [{ fd: number }];
    t.ok(msg.fd >= 0, 'the worker sent a query');
    t.equal(b.liveUpstreams(), baseline + 1, 'its link is live');
    await worker.terminate();
    t.equal(await settle(baseline), baseline, 'released after the thread ended');
    t.equal(fdCount(), fds, 'its socket and epoll fd closed');
  });

  t.test('udpSendMany: three answers to two clients in one call; bounds checked; -EBADF after stop', async (t) => {
    const u = b.createUdpSocket('127.0.0.1', 0, false);
    const meta = new Int32Array(META_HEADER + META_STRIDE);
    const engine = b.udpStart(u.fd, 1, Buffer.alloc(SLOT), Buffer.alloc(SLOT), meta, () => undefined);
    const clients = [dgram.createSocket('udp4'), dgram.createSocket('udp4')];
    t.teardown(() => clients.forEach((c) => c.close()));
    const received: string[][] = [[], []];
    for (const [i, c] of clients.entries()) {
      c.bind(0, '127.0.0.1');
      await once(c, 'listening');
      c.on('message', (m) => received[i]!.push(m.toString()));
    }
    const buf = Buffer.from('alphabravocharlie');
    const many = new Int32Array(3 * MANY_STRIDE);
    const put = (i: number, offset: number, length: number, client: number): void => {
      const r = i * MANY_STRIDE;
      many[r + M_OFFSET] = offset;
      many[r + M_LENGTH] = length;
      many[r + M_FAMILY] = 4;
      many[r + M_PORT] = clients[client]!.address().port;
      many[r + M_ADDR] = 0x0100007f; // 127.0.0.1 in network order, read as a little-endian int32
    };
    put(0, 0, 5, 0);
    put(1, 5, 5, 1);
    put(2, 10, 7, 0);
    b.udpPause(engine); // works while paused, like udpSendTo (shutdown)
    t.equal(b.udpSendMany(engine, buf, many, 3), 3, 'all three accepted');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, WAIT_MS);
      const check = (): void => {
        if (received[0]!.length + received[1]!.length < 3) return;
        clearTimeout(timer);
        resolve();
      };
      for (const c of clients) c.on('message', () => setImmediate(check));
    });
    t.same(received[0]!.sort(), ['alpha', 'charlie']);
    t.same(received[1], ['bravo']);
    t.equal(meta[H_TX_PACKETS], 3);

    const code = { name: 'TypeError', code: 'KDNS_NATIVE_ARGUMENT' };
    const bad = (mutate: (m: Int32Array) => void): Int32Array => {
      const m = many.slice();
      mutate(m);
      return m;
    };
    t.throws(() => b.udpSendMany(engine, buf, bad((m) => { m[2 * MANY_STRIDE + M_LENGTH] = 8; }), 3), code, 'past the end of buf');
    t.throws(() => b.udpSendMany(engine, buf, bad((m) => { m[M_OFFSET] = -1; }), 3), code, 'negative offset');
    t.throws(() => b.udpSendMany(engine, buf, bad((m) => { m[MANY_STRIDE + M_FAMILY] = 5; }), 3), code, 'family 5');
    t.throws(() => b.udpSendMany(engine, buf, many, 4), code, 'count past meta');
    t.throws(() => b.udpSendMany(engine, buf, new Int32Array(1025 * MANY_STRIDE), 1025), code, 'count > 1024');
    t.equal(meta[H_TX_PACKETS], 3, 'nothing sent by a refused call');
    b.udpStop(engine);
    t.equal(b.udpSendMany(engine, buf, many, 3), -EBADF, 'after udpStop');
  });
}
