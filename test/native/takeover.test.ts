// The addon's takeover channel (native/takeover.c) on its own: nothing to receive before a send; a UDP
// socket and a TCP listener sent with a payload arrive as fds of the same sockets (same inode, the UDP one
// reads a datagram sent to the original's port); no fd leaks; bad arguments throw TypeErrors.
import t from 'tap';
import dgram from 'node:dgram';
import { fstatSync } from 'node:fs';
import type { NativeBinding } from '../../src/engine/native-binding.js';
import { fdCount, nativeOrFail } from './setup.js';

const binding = nativeOrFail(t);
if (binding !== null) defineTests(binding);

function defineTests(b: NativeBinding): void {
  t.test('sockets and a payload cross the channel; the received fds are the same sockets', async (t) => {
    const before = fdCount();
    const channel = `kdns/test-takeover/${process.pid}`;
    const listenFd = b.handoffListen(channel);
    t.equal(b.receiveFds(listenFd), null, 'nothing to receive before a send');
    const udp = b.createUdpSocket('127.0.0.1', 0, false);
    const tcp = b.createTcpListener('127.0.0.1', 0, false, 16);
    t.equal(b.sendFds(channel, [udp.fd, tcp.fd], Buffer.from('{"what":"test"}')), process.pid, 'the channel owner is this process');
    const got = b.receiveFds(listenFd);
    t.ok(got !== null, 'the message arrived');
    t.equal(got!.payload.toString(), '{"what":"test"}', 'with its payload');
    t.equal(got!.fds.length, 2, 'and both fds');
    t.equal(fstatSync(got!.fds[0]!).ino, fstatSync(udp.fd).ino, 'the UDP fd is the same socket');
    t.equal(fstatSync(got!.fds[1]!).ino, fstatSync(tcp.fd).ino, 'the TCP fd is the same socket');

    // The original closed, the received copy still holds the port: a datagram sent there is read from it.
    b.closeFd(udp.fd);
    const meta = new Int32Array(16 + 9);
    let received = 0;
    const handle = b.udpStart(got!.fds[0]!, 1, Buffer.alloc(512), Buffer.alloc(512), meta, (count) => { received += count; });
    const client = dgram.createSocket('udp4');
    for (let i = 0; i < 50 && received === 0; i++) {
      client.send(Buffer.from('ping-ping-ping'), udp.port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 20));
    }
    client.close();
    t.ok(received > 0, 'the received UDP socket reads datagrams sent to the port');
    b.udpStop(handle);
    b.closeFd(tcp.fd);
    b.closeFd(got!.fds[1]!);
    b.closeFd(listenFd);
    t.equal(fdCount(), before, 'no fd leaked');
  });

  t.test('a channel nobody listens on and bad arguments throw', async (t) => {
    t.throws(() => b.sendFds(`kdns/test-takeover/none-${process.pid}`, [0], Buffer.from('x')), { code: 'ECONNREFUSED' });
    t.throws(() => b.handoffListen(''), { code: 'KDNS_NATIVE_ARGUMENT' });
    t.throws(() => b.sendFds('kdns/x', [], Buffer.from('x')), { code: 'KDNS_NATIVE_ARGUMENT' });
    t.throws(() => b.sendFds('kdns/x', [0], Buffer.alloc(0)), { code: 'KDNS_NATIVE_ARGUMENT' });
    t.throws(() => b.receiveFds(-1), { code: 'KDNS_NATIVE_ARGUMENT' });
  });
}
