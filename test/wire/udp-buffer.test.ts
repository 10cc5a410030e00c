// UDP receive buffers (--udp-buffer) and the kernel drops they prevent, counted in /metrics. kdns runs with
// a tiny buffer and is stopped (SIGSTOP) while a bounded burst arrives on loopback, so its socket's queue
// overflows for real; after SIGCONT a sentinel query is answered (so every datagram of the burst has been
// received or dropped by then) and kdns_udp_receive_drops_total must count the drops. Both engines (KDNS_ENGINE),
// one data-plane thread and two.
import t from 'tap';
import dgram from 'node:dgram';
import { engineArgs, startKdns, wireArgs } from '../helpers/kdns-process.js';
import { query } from '../helpers/dns-client.js';

const BURST = 2000;

function aQuery(id: number, name: string): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const header = Buffer.from([id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

async function metric(httpPort: number, name: string): Promise<number | null> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line === undefined ? null : Number(line.slice(name.length + 1));
}

for (const workers of ['1', '2']) {
  t.test(`${workers} worker(s): a burst into a full 4 KiB buffer is dropped by the kernel and counted`, async (t) => {
    const kdns = await startKdns([...wireArgs(), '--workers', workers, '--udp-buffer', '4096'], { t });
    t.match(kdns.stdout(), /"requested":4096/, 'the obtained buffer is logged');
    t.equal(await metric(kdns.httpPort!, 'kdns_udp_receive_drops_total'), 0, 'no drops yet');

    const sender = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => sender.bind(0, '127.0.0.1', resolve));
    t.teardown(() => sender.close());
    process.kill(kdns.pid, 'SIGSTOP');
    try {
      // Bounded: BURST small datagrams to loopback, each send awaited (the sender never drops, the receiver does).
      for (let i = 0; i < BURST; i++) {
        await new Promise<void>((resolve, reject) => sender.send(aQuery(i, 'www.example.test'), kdns.port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
      }
    } finally {
      process.kill(kdns.pid, 'SIGCONT');
    }
    const sentinel = await query(kdns.port, aQuery(0xfeed, 'www.example.test'), { attempts: 5 });
    t.equal(sentinel.readUInt16BE(0), 0xfeed, 'the sentinel is answered after the burst');
    const drops = await metric(kdns.httpPort!, 'kdns_udp_receive_drops_total');
    t.ok(drops !== null && drops >= BURST / 2 && drops <= BURST, `kernel drops counted: ${drops} of ${BURST}`);
  });
}

t.test('the default buffer is asked for and logged', async (t) => {
  const kdns = await startKdns([...engineArgs(), '--listen', '127.0.0.1:0', '--no-forward', '--http', 'none', '--workers', '1'], { t });
  t.match(kdns.stdout(), /"requested":33554432/, 'asks for 32 MiB (root gets it; otherwise a warning says what it got)');
});
