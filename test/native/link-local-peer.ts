// A child process for link-local.test.ts, run inside a network namespace (`ip netns exec`):
//   server: a UDP batch engine on [::]:0 that answers every datagram LATE, with udpSendTo and the family,
//           port, address and scope id copied from meta (as the native engine does for forwarded queries);
//           prints its port, then serves until killed.
//   client LOCAL%IF REMOTE PORT: sends one datagram from LOCAL on interface IF to REMOTE (on the same link)
//           and prints "answer" or "timeout" (3 s).
import dgram from 'node:dgram';
import { loadNative, META_HEADER, META_STRIDE, S_ADDR, S_FAMILY, S_IN_LEN, S_PORT, S_SCOPE, nativeUnavailableReason } from '../../src/engine/native-binding.js';

const [mode, local, remote, port] = process.argv.slice(2);

if (mode === 'server') {
  const b = loadNative();
  if (b === null) throw new Error(nativeUnavailableReason());
  const batch = 4;
  const inBuf = Buffer.alloc(batch * 512);
  const meta = new Int32Array(META_HEADER + batch * META_STRIDE);
  const sock = b.createUdpSocket('::', 0, false);
  const handle = b.udpStart(sock.fd, batch, inBuf, Buffer.alloc(batch * 512), meta, (count) => {
    for (let i = 0; i < count; i++) {
      const base = META_HEADER + i * META_STRIDE;
      const len = meta[base + S_IN_LEN]!;
      const family = meta[base + S_FAMILY]!;
      const peerPort = meta[base + S_PORT]!;
      const scope = meta[base + S_SCOPE]! >>> 0;
      const addr = Buffer.from(Buffer.from(meta.buffer, (base + S_ADDR) * 4, 16));
      const body = Buffer.from(inBuf.subarray(i * 512, i * 512 + len));
      setImmediate(() => b.udpSendTo(handle, body, body.length, family, peerPort, addr, scope));
    }
  });
  process.stdout.write(`port ${sock.port}\n`);
} else if (mode === 'client') {
  const iface = local!.split('%')[1];
  const sock = dgram.createSocket('udp6');
  const timer = setTimeout(() => { process.stdout.write('timeout\n'); process.exit(0); }, 3000);
  sock.on('message', () => { clearTimeout(timer); process.stdout.write('answer\n'); process.exit(0); });
  sock.bind(0, local, () => sock.send(Buffer.from('link-local query'), Number(port), `${remote}%${iface}`));
} else {
  throw new Error('usage: link-local-peer.js server | client LOCAL%IF REMOTE PORT');
}
