// Forwarded cache hits answered in C: the forwarder says how long an answer it built from a fresh cache
// entry stays exactly right (until its TTLs tick, it goes stale or its prefetch window opens), and the
// native engine's forwarded-answer cache reuses it for the same question and DO/CD/AD flags, for peers the
// access list allows. Two native engines forward to one fake upstream, one with the C copy and one without:
// the same queries must get the same bytes, the upstream the same traffic, the metrics the same hits.
import t, { type Test } from 'tap';
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { Registry } from 'prom-client';
import { NativeEngine } from '../../src/engine/native.js';
import type { NativeBinding } from '../../src/engine/native-binding.js';
import { Forwarder } from '../../src/forward/forwarder.js';
import { defaultForwardOptions, type ForwardOptions } from '../../src/forward/options.js';
import { DnsCounters } from '../../src/metrics/dns-counters.js';
import { LocalNames } from '../../src/server/local-names.js';
import { Responder } from '../../src/server/responder.js';
import { ZoneSet } from '../../src/zone/index.js';
import { reply, soa, a, startFake, sleep, type FakeUpstream } from '../forward/fake-upstream.js';
import { testLogger } from '../forward/setup.js';
import { A, AAAA, Client, DO, engineOptions, message, MX, nativeOrFail, opt, question, RD } from './setup.js';

const CD = 0x0010;
const AD = 0x0020;
const NAMES = ['www.fwd.test', 'api.fwd.test', 'Mixed.Case.fwd.test', 'nx.fwd.test'];

/** An upstream for fwd.test: A records (TTL 300), NXDOMAIN for nx.*, NODATA otherwise; AD set for DO queries. */
function upstream(): Promise<FakeUpstream> {
  return startFake((q) => {
    const name = q.questions![0]!.name;
    const type = q.questions![0]!.type;
    let out: Buffer;
    if (name.toLowerCase().startsWith('nx.')) out = reply(q, { rcode: 3, authorities: [soa('fwd.test', 300, 300)] });
    else if (type === 'A') out = reply(q, { answers: [a(name, '10.9.8.7', 300)] });
    else out = reply(q, { authorities: [soa('fwd.test', 300, 300)] });
    const dnssecOk = (q.additionals ?? []).some((x) => x.type === 'OPT' && ((x as { flags?: number }).flags ?? 0) & DO);
    if (dnssecOk) out[3] = out[3]! | AD;
    return out;
  });
}

interface Side {
  engine: NativeEngine;
  forwarder: Forwarder;
  registry: Registry;
  port: number;
}

async function side(t: Test, b: NativeBinding, up: FakeUpstream, answerCache: boolean, over: Partial<ForwardOptions> = {},
  clock: () => number = Date.now): Promise<Side> {
  const base = defaultForwardOptions();
  const opts: ForwardOptions = { ...base, resolvConf: null, timeoutMs: 500, defaultUpstreams: [{ host: '127.0.0.1', port: up.port }], ...over };
  const registry = new Registry();
  const forwarder = new Forwarder(opts, testLogger([]), registry, clock);
  const responder = new Responder({
    zones: new ZoneSet(), local: [new LocalNames()], maxUdpPayload: 1232, chaos: { versionBind: null, idServer: null }, forwarder,
  });
  const counters = new DnsCounters(DnsCounters.bufferFor(1), 0);
  const engine = new NativeEngine({ ...engineOptions('127.0.0.1', counters), responder, binding: b, answerCache });
  const [addr] = await engine.start();
  t.teardown(async () => {
    await engine.close();
    await forwarder.close();
  });
  return { engine, forwarder, registry, port: addr!.port };
}

async function hits(registry: Registry): Promise<Record<string, number>> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === 'kdns_cache_hits_total');
  const out: Record<string, number> = {};
  for (const v of (m?.values ?? []) as { labels: { type?: string }; value: number }[]) out[v.labels.type ?? ''] = v.value;
  return out;
}

function variants(id: number): Buffer[] {
  const out: Buffer[] = [];
  for (const name of NAMES) {
    for (const type of [A, AAAA, MX]) {
      const q = question(name, type);
      out.push(message(id++, RD, [1, 0, 0, 0], q));
      out.push(message(id++, 0, [1, 0, 0, 0], q));
      out.push(message(id++, RD | CD, [1, 0, 0, 0], q));
      out.push(message(id++, RD | AD, [1, 0, 0, 0], q));
      out.push(message(id++, RD, [1, 0, 0, 1], Buffer.concat([q, opt(1232)])));
      out.push(message(id++, RD, [1, 0, 0, 1], Buffer.concat([q, opt(4096, 0, DO)])));
      out.push(message(id++, RD | CD, [1, 0, 0, 1], Buffer.concat([q, opt(512, 0, DO)])));
    }
  }
  return out;
}

const binding = nativeOrFail(t);
if (binding !== null) defineTests(binding);

function defineTests(b: NativeBinding): void {
  t.test('reused forwarded answers are the bytes JavaScript builds, with the same upstream traffic and hits', async (t) => {
    const up = await upstream();
    t.teardown(() => up.close());
    const fixed = 5_000_000; // one clock for both forwarders: their TTLs cannot tick apart
    const cached = await side(t, b, up, true, {}, () => fixed);
    const plain = await side(t, b, up, false, {}, () => fixed);
    const client = new Client();
    await client.bind();
    t.teardown(() => client.close());
    const diffs: string[] = [];
    for (let round = 0; round < 3; round++) {
      for (const packet of variants(0x100 + round * 0x400)) {
        const x = await client.one(cached.port, packet);
        const y = await client.one(plain.port, packet);
        if (x === null || y === null || !x.equals(y)) diffs.push(`${packet.toString('hex')}: ${x?.toString('hex')} vs ${y?.toString('hex')}`);
      }
    }
    t.same(diffs, [], `${variants(0).length} queries × 3 rounds: the same bytes`);
    const native = cached.engine.udpStats.nativeAnswers;
    t.ok(native >= variants(0).length, `${native} forwarded answers reused in C`);
    t.equal(plain.engine.udpStats.nativeAnswers, 0);
    t.ok(cached.engine.answerCacheStats!.forwarded > 0, 'forwarded entries held');
    t.same(await hits(cached.registry), await hits(plain.registry), 'kdns_cache_hits_total alike, C reuses included');
    const decoded = dnsPacket.decode((await client.one(cached.port, message(7, RD, [1, 0, 0, 1], Buffer.concat([question('WWW.fwd.test', A), opt(1232, 0, DO)]))))!);
    t.equal(decoded.questions![0]!.name, 'WWW.fwd.test', 'the client spelling comes back');
    t.ok(((decoded.flags ?? 0) & AD) !== 0, 'AD from the upstream for a DO query');
  });

  t.test('a flush, or a peer outside the access list, is never answered from the C copy', async (t) => {
    const up = await upstream();
    t.teardown(() => up.close());
    const s = await side(t, b, up, true, { allowNetworks: ['127.0.0.1/32'] });
    const allowed = new Client('127.0.0.1');
    await allowed.bind();
    // Client sends to its own address; this one is bound to 127.0.0.2 and sends to the server on 127.0.0.1.
    const other = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => other.bind(0, '127.0.0.2', resolve));
    t.teardown(() => { allowed.close(); other.close(); });
    const fromOther = (packet: Buffer): Promise<Buffer | null> => new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), 2000);
      other.once('message', (m) => { clearTimeout(timer); resolve(m); });
      other.send(packet, s.port, '127.0.0.1');
    });
    const query = (id: number): Buffer => message(id, RD, [1, 0, 0, 0], question('www.fwd.test', A));
    const ask = async (c: Client, id: number): Promise<Buffer> => (await c.one(s.port, query(id)))!;
    await ask(allowed, 1); // from the upstream
    await ask(allowed, 2); // a cache hit in JavaScript, handed to C for reuse
    await ask(allowed, 3);
    t.ok(s.engine.udpStats.nativeAnswers >= 1, 'the third was reused in C');
    const refused = (await fromOther(query(5)))!;
    t.equal(refused[3]! & 0x0f, 5, 'REFUSED for 127.0.0.2, though the answer is held in C');
    const before = up.count();
    s.forwarder.flushCache();
    t.equal(s.engine.answerCacheStats!.forwarded, 0, 'the flush empties the C copy');
    const again = await ask(allowed, 6);
    t.equal(again[3]! & 0x0f, 0);
    t.equal(up.count(), before + 1, 'the next query went to the upstream');
  });

  t.test('a reused answer ends when its TTLs tick', async (t) => {
    const up = await upstream();
    t.teardown(() => up.close());
    const s = await side(t, b, up, true);
    const client = new Client();
    await client.bind();
    t.teardown(() => client.close());
    const ttl = async (id: number): Promise<number> => {
      const r = dnsPacket.decode((await client.one(s.port, message(id, RD, [1, 0, 0, 0], question('api.fwd.test', A))))!);
      return (r.answers![0] as { ttl: number }).ttl;
    };
    const first = await ttl(1); // from the upstream
    await ttl(2); // a JavaScript cache hit, handed to C
    const third = await ttl(3);
    t.equal(third, first, 'within the second: the same TTL');
    t.ok(s.engine.udpStats.nativeAnswers >= 1, 'reused in C');
    await sleep(2100);
    const later = await ttl(4);
    t.ok(later <= first - 2 && later >= first - 3, `two seconds later the TTL is ${later} (was ${first}): the C copy ended`);
  });
}
