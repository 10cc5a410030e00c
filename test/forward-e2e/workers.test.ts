// Forwarding with two data-plane threads (KDNS_ENGINE=node runs one worker thread instead, and the
// test still holds). Client queries from many source ports spread over
// the threads; the threads share one cache and coalesce their own misses, so an upstream sees at most one
// query per thread for a name (two threads missing it at the same moment), however many clients ask.
import t from 'tap';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { startKdns } from '../helpers/kdns-process.js';
import { ask, sleep, startLoggedNamed, workDir } from './setup.js';

t.test('two workers forward both routes through one cache', async (t) => {
  const w = workDir(t);
  const named = await startLoggedNamed(t, w.exampleZone, 'example.test');
  const dm = await startDnsmasq(['--host-record=db.ops.cna,10.1.1.5', '--local=/ops.cna/', '--local-ttl=300'], 'db.ops.cna');
  t.teardown(() => dm.stop());
  const kdns = await startKdns([
    '--listen', '127.0.0.1:0', '--workers', '2', '--http', 'none', '--zone-file', `${w.ownZone}@kdns.test`,
    `--server=/ops.cna/127.0.0.1#${dm.port}`, `--server=127.0.0.1#${named.port}`,
  ], { t });
  const serving = JSON.parse(kdns.stdout().split('\n').find((l) => l.includes('"msg":"serving"'))!) as { workers: number; engine: string };
  const threads = serving.workers;
  t.equal(threads, process.env.KDNS_ENGINE === 'node' ? 1 : 2, `${threads} data-plane thread(s), ${serving.engine} engine`);

  const dm0 = dm.queriesFor('db.ops.cna', 'A'); // dnsmasq's start-up probe
  // 24 clients, each its own socket and source port, in three waves (later ones hit the caches).
  for (let wave = 0; wave < 3; wave++) {
    const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => ask(kdns.port, i % 2 ? 'DB.ops.cna' : 'www.Example.test', 'A', { id: wave * 8 + i })));
    t.same(rs.map((r) => r.answers[0]?.data), Array.from({ length: 8 }, (_, i) => (i % 2 ? '10.1.1.5' : '192.0.2.10')), `wave ${wave}: every answer right`);
    t.ok(rs.every((r, i) => r.id === wave * 8 + i && r.ra), 'IDs echoed, RA set');
  }
  // TCP to named: the dnsmasq helper runs --no-daemon, which serves one TCP connection at a time, and each
  // thread keeps its own pipelined connection open, so the second thread's would wait for the first's.
  const tcp = await Promise.all(Array.from({ length: 4 }, () => ask(kdns.port, 'www.example.test', 'A', { tcp: true })));
  t.ok(tcp.every((r) => r.answers[0]?.data === '192.0.2.10'), 'over TCP too');
  await sleep(200);
  const toDnsmasq = dm.queriesFor('db.ops.cna', 'A') - dm0;
  const toNamed = named.queriesFor('www.example.test', 'A');
  t.ok(toDnsmasq >= 1 && toDnsmasq <= threads, `dnsmasq asked ${toDnsmasq} time(s) for 12 clients (≤ one per thread)`);
  t.ok(toNamed >= 1 && toNamed <= threads, `named asked ${toNamed} time(s) for 12 UDP + 4 TCP clients (≤ one per thread)`);

  const nx = await ask(kdns.port, 'nope.example.test', 'A');
  t.equal(nx.rcode, 3, 'NXDOMAIN forwarded');
  const own = await ask(kdns.port, 'self.kdns.test', 'A');
  t.same(own.answers.map((a) => a.data), ['192.0.2.99'], 'own zone from the worker replicas');
});
