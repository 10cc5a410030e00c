// The C addon on its own: it loads and speaks our ABI, sockets share a port only with SO_REUSEPORT (IPv4 and
// IPv6), a TCP listener fd serves net.Server, the batch loop echoes datagrams with fewer JS calls than
// packets, oversize datagrams are dropped and counted, udpSendTo works, and stop closes the fd at once.
import t from 'tap';
import dgram from 'node:dgram';
import net from 'node:net';
import {
  ABI_VERSION, H_ABI, H_BATCHES, H_RX_PACKETS, H_RX_TRUNCATED, H_TX_PACKETS, META_HEADER, META_STRIDE, S_ADDR,
  S_FAMILY, S_IN_LEN, S_OUT_LEN, S_PORT, type NativeBinding,
} from '../../src/engine/native-binding.js';
import { fdCount, nativeOrFail } from './setup.js';

const binding = nativeOrFail(t);
if (binding !== null) defineTests(binding);

function defineTests(b: NativeBinding): void {

  t.test('loads and reports the ABI the TypeScript side expects', async (t) => {
    t.equal(b.abi.version, ABI_VERSION);
    t.equal(b.abi.metaHeader, META_HEADER);
    t.equal(b.abi.metaStride, META_STRIDE);
    t.equal(b.abi.mmsg, 1, 'recvmmsg/sendmmsg on Linux');
  });

  for (const host of ['127.0.0.1', '::1']) {
    t.test(`${host}: two UDP and two TCP sockets share a port with reusePort; without it bind fails`, async (t) => {
      const before = fdCount();
      const u1 = b.createUdpSocket(host, 0, true);
      t.ok(u1.port > 0, 'ephemeral port');
      const u2 = b.createUdpSocket(host, u1.port, true);
      t.equal(u2.port, u1.port);
      t.throws(() => b.createUdpSocket(host, u1.port, false), { code: 'EADDRINUSE', syscall: 'bind' });
      // TCP on a port of its own: the UDP port's TCP twin may belong to another process running tests.
      const l1 = b.createTcpListener(host, 0, true, 16);
      const l2 = b.createTcpListener(host, l1.port, true, 16);
      t.ok(l1.port > 0, 'ephemeral TCP port');
      t.equal(l2.port, l1.port);
      t.throws(() => b.createTcpListener(host, l1.port, false, 16), { code: 'EADDRINUSE' });
      for (const fd of [u1.fd, u2.fd, l1.fd, l2.fd]) t.equal(b.closeFd(fd), 0);
      t.equal(fdCount(), before, 'every fd closed');
    });
  }

  t.test('bad arguments throw TypeErrors, not crashes', async (t) => {
    t.throws(() => b.createUdpSocket('localhost', 0, true), TypeError, 'addresses only');
    t.throws(() => b.createUdpSocket('127.0.0.1', 70000, true), TypeError);
    const meta = new Int32Array(META_HEADER + 4 * META_STRIDE);
    const buf = Buffer.alloc(4 * 512);
    t.throws(() => b.udpStart(-1, 4, buf, buf, meta, () => {}), TypeError);
    t.throws(() => b.udpStart(3, 0, buf, buf, meta, () => {}), TypeError, 'batch 0');
    t.throws(() => b.udpStart(3, 8, buf, buf, meta, () => {}), TypeError, 'slots under 512 bytes');
    t.throws(() => b.udpStart(3, 4, buf, buf, new Int32Array(8), () => {}), TypeError, 'meta too short');
    t.throws(() => b.udpStop({} as never), TypeError);
  });

  t.test('a TCP listener fd serves net.Server', async (t) => {
    const before = fdCount();
    const l = b.createTcpListener('127.0.0.1', 0, true, 16);
    const server = net.createServer((s) => s.end('hi'));
    await new Promise<void>((resolve) => server.listen({ fd: l.fd }, resolve));
    const got = await new Promise<string>((resolve, reject) => {
      const c = net.connect(l.port, '127.0.0.1');
      let data = '';
      c.on('data', (d) => { data += d.toString(); });
      c.on('end', () => resolve(data));
      c.on('error', reject);
    });
    t.equal(got, 'hi');
    await new Promise<void>((resolve) => server.close(() => resolve()));
    t.equal(fdCount(), before, 'net closed the fd');
  });

  t.test('the batch loop: echo, peers in meta, one JS call per batch, truncation, udpSendTo, stop', async (t) => {
    const before = fdCount();
    const batch = 16;
    const slot = 1024;
    const u = b.createUdpSocket('127.0.0.1', 0, false);
    const inBuf = Buffer.alloc(batch * slot);
    const outBuf = Buffer.alloc(batch * slot);
    const meta = new Int32Array(META_HEADER + batch * META_STRIDE);
    let calls = 0;
    let packets = 0;
    let badPeer = 0;
    const client = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
    const clientPort = client.address().port;
    const handle = b.udpStart(u.fd, batch, inBuf, outBuf, meta, (n) => {
      calls++;
      for (let i = 0; i < n; i++) {
        const m = META_HEADER + i * META_STRIDE;
        packets++;
        if (meta[m + S_FAMILY] !== 4 || meta[m + S_PORT] !== clientPort || meta[m + S_ADDR] !== 0x0100007f) badPeer++;
        const len = meta[m + S_IN_LEN]!;
        // Echo reversed into the output slot (proves the answer comes from outBuf, not inBuf).
        for (let k = 0; k < len; k++) outBuf[i * slot + k] = inBuf[i * slot + len - 1 - k]!;
        meta[m + S_OUT_LEN] = len;
      }
    });
    t.equal(meta[H_ABI], ABI_VERSION);
    const N = 200;
    const answers = new Set<string>();
    const done = new Promise<void>((resolve) => {
      client.on('message', (msg) => {
        answers.add(msg.toString());
        if (answers.size === N) resolve();
      });
    });
    for (let i = 0; i < N; i++) client.send(Buffer.from(`q${String(i).padStart(4, '0')}`), u.port, '127.0.0.1');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((r) => { timer = setTimeout(r, 3000); })]);
    clearTimeout(timer);
    t.equal(answers.size, N, 'every datagram echoed');
    t.ok(answers.has('2100q'), 'reversed by JS');
    t.equal(badPeer, 0, 'peer family, port and address in meta');
    t.equal(packets, N);
    t.ok(calls < N, `fewer JS calls (${calls}) than packets (${N})`);
    t.equal(meta[H_RX_PACKETS], N);
    t.equal(meta[H_TX_PACKETS], N);
    t.equal(meta[H_BATCHES], calls);

    // Larger than a slot: dropped and counted, the callback sees length 0, nothing is sent.
    const echoed = answers.size;
    client.send(Buffer.alloc(slot + 100, 0x41), u.port, '127.0.0.1');
    for (let i = 0; i < 100 && meta[H_RX_TRUNCATED] === 0; i++) await new Promise((r) => setTimeout(r, 10));
    t.equal(meta[H_RX_TRUNCATED], 1, 'oversize datagram counted');

    // udpSendTo: an answer outside the batch.
    const addr = Buffer.alloc(16);
    addr.writeUInt32BE(0x7f000001, 0);
    const late = new Promise<string>((resolve) => client.once('message', (m) => resolve(m.toString())));
    t.equal(b.udpSendTo(handle, Buffer.from('late answer'), 11, 4, clientPort, addr), 0);
    t.equal(await late, 'late answer');
    t.equal(answers.size, echoed + 1, 'nothing sent for the oversize datagram');

    b.udpStop(handle);
    b.udpStop(handle); // idempotent
    t.ok(b.udpSendTo(handle, Buffer.from('x'), 1, 4, clientPort, addr) < 0, 'sending after stop fails cleanly');
    client.close();
    await new Promise((r) => setImmediate(r));
    t.equal(fdCount(), before, 'udpStop closed the socket');
  });

  t.test('udpStop inside the batch callback stops at once', async (t) => {
    const before = fdCount();
    const u = b.createUdpSocket('127.0.0.1', 0, false);
    const meta = new Int32Array(META_HEADER + 4 * META_STRIDE);
    let calls = 0;
    const handle: ReturnType<NativeBinding['udpStart']> = b.udpStart(u.fd, 4, Buffer.alloc(4 * 512), Buffer.alloc(4 * 512), meta, () => {
      calls++;
      b.udpStop(handle);
    });
    const client = dgram.createSocket('udp4');
    for (let i = 0; i < 20; i++) client.send(Buffer.from('x'), u.port, '127.0.0.1');
    for (let i = 0; i < 100 && calls === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    t.equal(calls, 1, 'no batch after stop');
    t.equal(meta[H_TX_PACKETS], 0, 'nothing sent after stop');
    client.close();
    await new Promise((r) => setImmediate(r));
    t.equal(fdCount(), before);
  });
}
