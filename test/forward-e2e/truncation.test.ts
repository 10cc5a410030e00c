// Large upstream answers through the kdns process. named holds an A RRset of ~700 bytes (over 512, inside
// 1232) and a TXT RRset of ~2.3 kB (over 1232). The first reaches kdns whole over UDP and goes to an EDNS
// client whole over UDP, to a client without EDNS as TC and then whole over TCP. The second comes back
// truncated from named over UDP, kdns retries it over TCP (named logs that query with its T flag) and
// caches it; an EDNS 4096 client over UDP gets TC (kdns's UDP cap is 1232), then the whole RRset over TCP
// from the cache.
import t from 'tap';
import { startKdns } from '../helpers/kdns-process.js';
import { ask, sleep, startLoggedNamed, workDir } from './setup.js';

t.test('truncated and large upstream answers', async (t) => {
  const w = workDir(t);
  const named = await startLoggedNamed(t, w.exampleZone, 'example.test');
  const kdns = await startKdns([
    '--listen', '127.0.0.1:0', '--workers', '1', '--http', 'none', `--server=127.0.0.1#${named.port}`,
  ], { t });

  await t.test('~700 bytes: whole over UDP with EDNS, TC then TCP without', async (t) => {
    const edns = await ask(kdns.port, 'mid.example.test', 'A', { edns: 4096 });
    t.notOk(edns.tc, 'EDNS 4096 client: no TC');
    t.equal(edns.answers.length, 40, 'all 40 records over UDP');
    t.ok(edns.raw.length > 512 && edns.raw.length <= 1232, `${edns.raw.length} bytes`);
    const plain = await ask(kdns.port, 'mid.example.test', 'A', { edns: 0 });
    t.ok(plain.tc, 'no EDNS: TC');
    t.ok(plain.raw.length <= 512, 'within 512 bytes');
    t.equal(plain.rcode, 0);
    const tcp = await ask(kdns.port, 'mid.example.test', 'A', { edns: 0, tcp: true });
    t.notOk(tcp.tc);
    t.equal(tcp.answers.length, 40, 'all 40 over TCP');
    await sleep(100);
    t.equal(named.queriesFor('mid.example.test', 'A'), 1, 'one upstream query (UDP) for all three');
    t.equal(named.queriesFor('mid.example.test', 'A', true), 0, 'no TCP needed upstream');
  });

  await t.test('~2.3 kB: kdns retries over TCP upstream; the client gets TC, then the whole answer over TCP', async (t) => {
    const udp = await ask(kdns.port, 'big.example.test', 'TXT', { edns: 4096 });
    t.equal(udp.rcode, 0);
    t.ok(udp.tc, 'TC: more than kdns sends over UDP');
    t.ok(udp.raw.length <= 1232, `${udp.raw.length} bytes`);
    const tcp = await ask(kdns.port, 'big.example.test', 'TXT', { edns: 4096, tcp: true });
    t.notOk(tcp.tc);
    t.equal(tcp.answers.length, 20, 'all 20 TXT records over TCP');
    t.ok(tcp.raw.length > 2000, `${tcp.raw.length} bytes`);
    t.same(tcp.answers.map((a) => String((a.data as Buffer[])[0]).slice(0, 2)).sort(),
      Array.from({ length: 20 }, (_, i) => String(i).padStart(2, '0')), 'every record intact');
    await sleep(100);
    t.equal(named.queriesFor('big.example.test', 'TXT', true), 1, 'kdns retried over TCP upstream once');
    t.equal(named.queriesFor('big.example.test', 'TXT'), 2, 'UDP (truncated) + TCP; the client\'s TCP query came from the cache');
  });
});
