// One forward cache per process (issue 10): every worker thread answers from the same cache, so what one
// worker learnt from the upstream every other worker serves, fresh and then stale (RFC 8767), and the
// upstream is asked once per name whatever the worker count. Real dnsmasq upstream, each query from its own
// socket (a new source port, so SO_REUSEPORT spreads them over the workers), unbound (2 threads) beside it
// for comparison. KDNS_ENGINE=node serves from one in-process thread: the same assertions hold.
import t, { type Test } from 'tap';
import { startDnsmasq, type DnsmasqHandle } from '../helpers/dnsmasq.js';
import { startKdns, type KdnsProcess } from '../helpers/kdns-process.js';
import { query } from '../helpers/dns-client.js';
import { startForwardingUnbound } from '../helpers/unbound.js';
import dnsPacket from 'dns-packet';
import { ask, eventually, metricValue, scrape, workDir, type Answer } from './setup.js';

const STALE_TTL = 30; // forward.cache.stale-ttl: the TTL of stale answers, unlike any fresh one here

async function kdnsForwarding(t: Test, workers: number, upstreamPort: number): Promise<KdnsProcess> {
  const w = workDir(t);
  const config = w.write('kdns.yaml', `forward:\n  cache:\n    stale-ttl: ${STALE_TTL}\n    max-entries: 1000\n    max-bytes: 2097152\n`);
  return startKdns(['-c', config, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--workers', String(workers),
    `--server=/ops.cna/127.0.0.1#${upstreamPort}`], { t });
}

function threadsOf(kdns: KdnsProcess): number {
  const serving = JSON.parse(kdns.stdout().split('\n').find((l) => l.includes('"msg":"serving"'))!) as { workers: number };
  return serving.workers;
}

/** Twenty queries at once, each from its own socket; the answers. */
function twenty(port: number, name: string): Promise<Answer[]> {
  return Promise.all(Array.from({ length: 20 }, () => ask(port, name, 'A', { timeoutMs: 4000 })));
}

for (const workers of [2, 4]) {
  t.test(`the issue's experiment, --workers ${workers}: 20/20 answered after the upstream stops, fresh then stale`, async (t) => {
    const dm = await startDnsmasq(['--address=/l-app01.ops.cna/10.1.2.3', '--local-ttl=2'], 'l-app01.ops.cna');
    t.teardown(() => dm.stop());
    const kdns = await kdnsForwarding(t, workers, dm.port);
    t.comment(`${threadsOf(kdns)} data-plane thread(s)`);
    const first = await ask(kdns.port, 'l-app01.ops.cna', 'A');
    t.same(first.answers.map((a) => a.data), ['10.1.2.3'], 'answered through the upstream once');
    await dm.stop();

    // While the TTL lasts: fresh from whichever worker the source port lands on (stale if the 2 s ran out
    // meanwhile on a slow machine; SERVFAIL would mean a worker without the answer).
    const fresh = await twenty(kdns.port, 'l-app01.ops.cna');
    t.equal(fresh.filter((r) => r.rcode === 0 && r.answers[0]?.data === '10.1.2.3').length, 20, '20/20 answered with the address');
    t.ok(fresh.every((r) => (r.answers[0]?.ttl ?? 99) <= 2 || r.answers[0]?.ttl === STALE_TTL), 'fresh TTLs (≤ 2), or stale ones');

    // Past the TTL: the answers turn stale (TTL stale-ttl). Polled, bounded: the TTL is 2 s.
    let sawStale = false;
    for (let i = 0; i < 100 && !sawStale; i++) {
      const r = await ask(kdns.port, 'l-app01.ops.cna', 'A', { timeoutMs: 4000 });
      sawStale = r.answers[0]?.ttl === STALE_TTL;
      if (!sawStale) await new Promise((res) => setTimeout(res, 100));
    }
    t.ok(sawStale, 'the entry went stale');
    const stale = await twenty(kdns.port, 'l-app01.ops.cna');
    t.equal(stale.filter((r) => r.rcode === 0 && r.answers[0]?.data === '10.1.2.3' && r.answers[0].ttl === STALE_TTL).length, 20,
      '20/20 answered stale (RFC 8767) with the upstream gone');
    const text = await scrape(kdns.httpPort!);
    t.ok(metricValue(text, 'kdns_cache_served_stale_total') >= 21, 'counted as served stale');
    t.equal(await kdns.stop(), 0);
  });
}

/** dnsmasq's logged queries for names ending in `suffix`, once a sentinel sent after them shows in its log. */
async function upstreamQueries(t: Test, dm: DnsmasqHandle, suffix: string, sentinel: string): Promise<number> {
  const probe = dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: sentinel }] });
  await query(dm.port, probe, { timeoutMs: 1000 });
  t.ok(await eventually(() => dm.queriesFor(sentinel) > 0, 5000), `sentinel ${sentinel} logged`);
  return dm.log().filter((l) => {
    const m = /query\[\w+\] (\S+) from/.exec(l);
    return m !== null && m[1]!.toLowerCase().endsWith(suffix);
  }).length;
}

/**
 * 1,000 queries for 100 names: ten rounds over the 100 names in a random order, 20 in flight at a time, each
 * from its own socket. A round starts when the one before has its answers, so a name's first query is
 * answered before its second is sent (concurrent misses on two workers could both go upstream: misses are
 * coalesced per worker, as unbound's threads do). Returns how many were answered with the address.
 */
async function thousand(port: number, suffix: string): Promise<number> {
  let answered = 0;
  for (let round = 0; round < 10; round++) {
    const names = Array.from({ length: 100 }, (_, i) => `n${i}.${suffix}`).sort(() => Math.random() - 0.5);
    for (let i = 0; i < names.length; i += 20) {
      const rs = await Promise.all(names.slice(i, i + 20).map((n) => ask(port, n, 'A', { timeoutMs: 4000 }).catch(() => null)));
      answered += rs.filter((r) => r !== null && r.answers[0]?.data === '10.9.9.9').length;
    }
  }
  return answered;
}

t.test('1,000 queries for 100 names reach the upstream at most 100 times, whatever the worker count; unbound beside', async (t) => {
  const dm = await startDnsmasq(['--address=/ops.cna/10.9.9.9', '--local-ttl=300'], 'probe.ops.cna');
  t.teardown(() => dm.stop());
  const w = workDir(t);
  const unbound = await startForwardingUnbound({ dir: w.dir, threads: 2, zone: 'ops.cna', upstreamPort: dm.port, probeName: 'probe.ops.cna' });
  t.teardown(() => unbound.stop());
  const unboundAnswered = await thousand(unbound.port, 'unbound.ops.cna');
  const unboundUp = await upstreamQueries(t, dm, '.unbound.ops.cna', 'sentinel-unbound.ops.cna');
  t.equal(unboundAnswered, 1000, 'unbound answered 1,000');
  t.comment(`unbound (2 threads): ${unboundUp} upstream queries for 1,000 client queries over 100 names`);

  for (const workers of [2, 4]) {
    const kdns = await kdnsForwarding(t, workers, dm.port);
    const threads = threadsOf(kdns);
    const suffix = `w${workers}.ops.cna`;
    const answered = await thousand(kdns.port, suffix);
    const up = await upstreamQueries(t, dm, '.' + suffix, `sentinel-${workers}.ops.cna`);
    t.equal(answered, 1000, `--workers ${workers} (${threads} thread(s)): 1,000 answered`);
    t.ok(up <= 100, `--workers ${workers}: ${up} upstream queries for 100 names (unbound: ${unboundUp})`);
    const text = await scrape(kdns.httpPort!);
    t.equal(metricValue(text, 'kdns_cache_entries'), 100, 'one cache: 100 entries, not one copy per worker');
    const bytes = metricValue(text, 'kdns_cache_size_bytes');
    t.ok(bytes > 0 && bytes <= 2097152, `its bytes are in /metrics (${bytes}) within max-bytes`);
    t.equal(await kdns.stop(), 0);
  }
});
