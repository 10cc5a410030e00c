// The native answer cache (native/answer_cache.c): UDP table hits answered in C must be byte for byte what
// JavaScript answers, counted the same in the metrics, and never stale after a zone change. Two native
// engines over identical responders, one with the cache and one without, get the same queries several times
// (the first compiles, the later ones are the C hits); then random queries do the same under fast-check.
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { NativeEngine } from '../../src/engine/native.js';
import { META_HEADER, META_STRIDE, type NativeBinding } from '../../src/engine/native-binding.js';
import {
  DnsCounters, DROP_OFF, DUR_OFF, DUR_SUM, REQ_OFF, RESP_OFF, SLOT_DOUBLES, sumSlots,
} from '../../src/metrics/dns-counters.js';
import { rdataA } from '../../src/dns/rdata.js';
import {
  A, AAAA, ANY, applyChange, cases, Client, DO, engineOptions, makeZoneResponder, message, MX, nativeOrFail, opt, query, question, RD,
  SOA, SRV, TXT,
} from './setup.js';

const CD = 0x0010;
const AD = 0x0020;

function counters(): { sab: SharedArrayBuffer; counters: DnsCounters } {
  const sab = DnsCounters.bufferFor(1);
  return { sab, counters: new DnsCounters(sab, 0) };
}

/** Queries the shared engine cases leave out: flags, EDNS sizes and options, other sections, classes. */
function moreCases(): Buffer[] {
  const q = question('www.example.test', A);
  const cookie = Buffer.concat([opt(1232), Buffer.from([0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8])]);
  cookie.writeUInt16BE(12, 9); // OPT RDLENGTH: one 8-byte cookie option
  const badOptions = Buffer.concat([opt(1232), Buffer.from([0, 10, 0, 9, 1])]);
  badOptions.writeUInt16BE(5, 9); // an option longer than the RDATA
  const aRecord = Buffer.concat([Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]), rdataA('192.0.2.1')]);
  return [
    message(1, 0, [1, 0, 0, 0], q), // RD clear
    message(2, RD | CD | AD, [1, 0, 0, 0], q),
    message(3, RD, [1, 0, 0, 1], Buffer.concat([q, opt(100)])), // below 512: 512 applies
    message(4, RD, [1, 0, 0, 1], Buffer.concat([q, opt(512, 0, DO | 0x1234)])),
    message(5, RD, [1, 0, 0, 1], Buffer.concat([q, cookie])),
    message(6, RD, [1, 0, 0, 1], Buffer.concat([q, badOptions])),
    message(7, RD, [1, 0, 0, 1], Buffer.concat([q, aRecord])), // additional that is not an OPT
    message(8, RD, [1, 1, 0, 0], Buffer.concat([q, aRecord])), // an answer section in a query
    message(9, RD | 0x0400, [1, 0, 0, 0], q), // AA set by the client
    query(10, 'www.example.test', A, null, 255), // class ANY
    query(11, 'WWW.EXAMPLE.TEST', AAAA, opt(4096, 0, DO)),
    query(12, '_sip._tcp.example.test', SRV, opt(1232, 0, DO)),
    query(13, 'big.example.test', A, opt(65535)), // clamped to our 1232: still TC
    query(14, 'nope.example.test', SOA),
    query(15, 'ns2.example.test', ANY),
    query(16, 'txt.example.test', TXT, opt(1232, 1)), // BADVERS
  ];
}

function withId(packet: Buffer, id: number): Buffer {
  const p = Buffer.from(packet);
  if (p.length >= 2) p.writeUInt16BE(id & 0xffff, 0);
  return p;
}

interface Pair {
  cached: NativeEngine;
  plain: NativeEngine;
  cachedPort: number;
  plainPort: number;
  cachedSab: SharedArrayBuffer;
  plainSab: SharedArrayBuffer;
  client: Client;
}

/** Starts the engines and a client, all closed when `t` ends; returns the engines' ports and the client. */
async function serve(t: Test, ...engines: NativeEngine[]): Promise<{ ports: number[]; client: Client }> {
  const ports: number[] = [];
  for (const e of engines) ports.push((await e.start())[0]!.port);
  const client = new Client();
  await client.bind();
  t.teardown(async () => {
    client.close();
    for (const e of engines) await e.close();
  });
  return { ports, client };
}

async function startPair(t: Test, b: NativeBinding): Promise<Pair> {
  const c1 = counters();
  const c2 = counters();
  const cached = new NativeEngine({ ...engineOptions('127.0.0.1', c1.counters), binding: b });
  const plain = new NativeEngine({ ...engineOptions('127.0.0.1', c2.counters), binding: b, answerCache: false });
  const { ports, client } = await serve(t, cached, plain);
  return { cached, plain, cachedPort: ports[0]!, plainPort: ports[1]!, cachedSab: c1.sab, plainSab: c2.sab, client };
}

/** Sends each packet to both engines (one at a time, so batches stay small) and lists the differences. */
async function compare(p: Pair, packets: Buffer[], idBase: number): Promise<{ diffs: string[]; answered: number }> {
  const diffs: string[] = [];
  let answered = 0;
  for (let i = 0; i < packets.length; i++) {
    const packet = withId(packets[i]!, idBase + i);
    const a = await p.client.one(p.cachedPort, packet, 1000);
    const b = await p.client.one(p.plainPort, packet, 1000);
    if (a !== null) answered++;
    if ((a === null) !== (b === null) || (a !== null && b !== null && !a.equals(b))) {
      diffs.push(`${packet.toString('hex')}: cached ${a?.toString('hex') ?? 'none'} vs plain ${b?.toString('hex') ?? 'none'}`);
    }
  }
  return { diffs, answered };
}

function sumRange(f: Float64Array, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += f[i]!;
  return s;
}

const binding = nativeOrFail(t);
if (binding !== null) defineTests(binding);

function defineTests(b: NativeBinding): void {
  t.test('C answers equal JavaScript answers, counted alike', async (t) => {
    const p = await startPair(t, b);
    const packets = [...cases().map((c) => c.packet), ...moreCases()];
    for (let round = 0; round < 3; round++) {
      const { diffs, answered } = await compare(p, packets, 0x1000 + round * 0x1000);
      t.same(diffs, [], `round ${round + 1}: ${packets.length} queries, ${answered} answered, no difference`);
    }
    const cachedStats = p.cached.udpStats;
    t.equal(p.plain.udpStats.nativeAnswers, 0, 'the engine without the cache answers nothing in C');
    // Every packet that JavaScript answers from its table is a C hit in rounds 2 and 3: at least 40 of them.
    t.ok(cachedStats.nativeAnswers >= 80, `${cachedStats.nativeAnswers} answered in C`);
    t.ok(cachedStats.batches < p.plain.udpStats.batches, 'fewer JavaScript calls with the cache');
    // NXDOMAIN and NODATA answers come from the zones' name table in C, so JavaScript compiles (and caches) fewer.
    t.ok(p.cached.answerCacheStats!.entries >= 30, `${p.cached.answerCacheStats!.entries} cached answers`);
    t.ok(p.cached.answerCacheStats!.negativeNames >= 19, `${p.cached.answerCacheStats!.negativeNames} zone names in C`);

    const fc1 = sumSlots(p.cachedSab, 1);
    const fc2 = sumSlots(p.plainSab, 1);
    t.same(Array.from(fc1.subarray(REQ_OFF, DUR_OFF)), Array.from(fc2.subarray(REQ_OFF, DUR_OFF)), 'requests by proto/family/type and responses by rcode');
    t.equal(sumRange(fc1, DUR_OFF, DUR_SUM), sumRange(fc2, DUR_OFF, DUR_SUM), 'as many durations observed');
    t.ok(fc1[DUR_SUM]! > 0, 'durations summed');
    t.same(Array.from(fc1.subarray(DROP_OFF, SLOT_DOUBLES)), Array.from(fc2.subarray(DROP_OFF, SLOT_DOUBLES)), 'drops');
    t.ok(sumRange(fc1, RESP_OFF, DUR_OFF) >= packets.length * 3 - 10, 'responses counted');
  });

  t.test('a zone change reaches the C copy at once', async (t) => {
    const { responder, zone } = makeZoneResponder();
    const c = counters();
    const engine = new NativeEngine({ ...engineOptions('127.0.0.1', c.counters), responder, binding: b });
    const { ports: [port], client } = await serve(t, engine);
    const ask = async (id: number): Promise<Buffer> => (await client.one(port!, query(id, 'www.example.test', A)))!;
    const first = await ask(1);
    const before = engine.udpStats.nativeAnswers;
    const second = await ask(2);
    t.equal(engine.udpStats.nativeAnswers, before + 1, 'the repeat is a C hit');
    t.same(second.subarray(2), first.subarray(2), 'same answer');
    t.ok(second.includes(rdataA('192.0.2.20')), 'the zone file address');

    applyChange(zone, responder, { op: 'upsert', rrset: { name: 'www.example.test.', type: A, class: 1, ttl: 300, rdatas: [rdataA('192.0.2.99')] } });
    const changed = await ask(3);
    t.ok(changed.includes(rdataA('192.0.2.99')) && !changed.includes(rdataA('192.0.2.20')), 'the new address, not the old');
    const again = await ask(4);
    t.same(again.subarray(2), changed.subarray(2), 'and it is cached again');

    applyChange(zone, responder, { op: 'delete', name: 'www.example.test.', type: A });
    const nodata = await ask(5);
    t.equal(nodata.readUInt16BE(6), 0, 'no answer records after the delete');
    t.equal(nodata[3]! & 0x0f, 0, 'NOERROR (NODATA: www still has AAAA)');

    responder.invalidate();
    t.equal(engine.answerCacheStats!.entries, 0, 'a wholesale invalidation empties the C copy');
    await engine.close();
    t.equal(engine.answerCacheStats, null, 'closed: no cache');
  });

  t.test('an observer that C cannot write keeps every query in JavaScript', async (t) => {
    const seen = { requests: 0 };
    const observer = {
      request(): void { seen.requests++; },
      response(): void {},
      responseMicros(): void {},
      dropped(): void {},
      tcpClosed(): void {},
    };
    const engine = new NativeEngine({ ...engineOptions('127.0.0.1', observer), binding: b });
    const { ports: [port], client } = await serve(t, engine);
    for (let i = 0; i < 5; i++) await client.one(port!, query(i + 1, 'www.example.test', A));
    t.equal(seen.requests, 5, 'the observer saw all five');
    t.equal(engine.udpStats.nativeAnswers, 0);
    t.equal(engine.answerCacheStats, null);
  });

  t.test('random queries: the same bytes with and without the C copy', async (t) => {
    const p = await startPair(t, b);
    const names = [
      'example.test', 'www.example.test', 'mail.example.test', 'ns2.example.test', 'txt.example.test', '_sip._tcp.example.test',
      'alias.example.test', 'a.wild.example.test', 'x.sub.example.test', 'nope.example.test', 'big.example.test', 'db.hosts.test',
    ];
    const types = [A, AAAA, MX, TXT, SRV, SOA, ANY, 2, 5, 12, 99, 65280];
    const arbQuery = fc.record({
      name: fc.constantFrom(...names),
      caseMask: fc.integer({ min: 0, max: 0xffff }),
      type: fc.constantFrom(...types),
      flags: fc.constantFrom(0, RD, RD | CD, RD | AD, CD),
      edns: fc.option(fc.record({ size: fc.constantFrom(0, 511, 512, 1232, 4096), flags: fc.constantFrom(0, DO, DO | 1), version: fc.constantFrom(0, 0, 0, 1) })),
    });
    let failures: string[] = [];
    let run = 0;
    await fc.assert(
      fc.asyncProperty(arbQuery, async (q) => {
        const name = [...q.name].map((ch, i) => ((q.caseMask >> (i % 16)) & 1 ? ch.toUpperCase() : ch)).join('');
        const body = question(name, q.type);
        const packet = q.edns === null
          ? message(0, q.flags, [1, 0, 0, 0], body)
          : message(0, q.flags, [1, 0, 0, 1], Buffer.concat([body, opt(q.edns.size, q.edns.version, q.edns.flags)]));
        // Twice: the first may compile, the second is a C hit wherever JavaScript answered from its table.
        const { diffs } = await compare(p, [packet, packet], 0x8000 + (run++ % 0x4000) * 2);
        failures = failures.concat(diffs);
        return diffs.length === 0;
      }),
      { numRuns: 250, seed: 20261126 },
    );
    t.same(failures, [], '250 random queries, each asked twice of both engines');
    t.ok(p.cached.udpStats.nativeAnswers > 100, `${p.cached.udpStats.nativeAnswers} answered in C`);
  });

  t.test('mutated queries: the C copy is exactly as strict as JavaScript', async (t) => {
    const p = await startPair(t, b);
    const seeds = [...cases().map((c) => c.packet), ...moreCases()].filter((s) => s.length >= 12);
    await compare(p, seeds, 0x100); // both tables now hold every seed's answer
    // Up to 3 bytes changed anywhere after the ID (QR kept clear: a response is dropped unanswered, which
    // would only slow the test down), and perhaps cut short after the header.
    const arbMutation = fc.record({
      seed: fc.nat(seeds.length - 1),
      edits: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 3 }),
      cut: fc.option(fc.nat()),
    });
    let failures: string[] = [];
    let run = 0;
    await fc.assert(
      fc.asyncProperty(arbMutation, async (m) => {
        const seed = seeds[m.seed]!;
        let packet = Buffer.from(seed);
        for (const e of m.edits) {
          const at = 2 + (e.at % (packet.length - 2));
          packet[at] = at === 2 ? e.value & 0x7f : e.value;
        }
        if (m.cut !== null) packet = packet.subarray(0, 12 + (m.cut % (packet.length - 11)));
        const { diffs } = await compare(p, [packet, packet], 0x9000 + (run++ % 0x3000) * 2);
        failures = failures.concat(diffs);
        return diffs.length === 0;
      }),
      { numRuns: 300, seed: 112026 },
    );
    t.same(failures, [], '300 mutated queries, each asked twice of both engines');
  });

  t.test('cache functions check their arguments', async (t) => {
    const cache = b.cacheCreate(false, 1232);
    const name = Buffer.from([3, 0x77, 0x77, 0x77, 0]);
    const answer = Buffer.concat([Buffer.from([0, 0, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0]), name, Buffer.from([0, 1, 0, 1])]);
    t.throws(() => b.cacheCreate(false, 100), TypeError, 'payload under 512');
    t.throws(() => b.cacheSet({} as never, name, 5, 1, answer), TypeError, 'not a cache');
    t.throws(() => b.cacheSet(cache, name, 0, 1, answer), TypeError, 'name length 0');
    t.throws(() => b.cacheSet(cache, name, 6, 1, answer), TypeError, 'name length past the buffer');
    t.throws(() => b.cacheSet(cache, name, 5, 1, answer.subarray(0, 15)), TypeError, 'answer shorter than header + question');
    t.throws(() => b.cacheSetCounters(cache, new Float64Array(4), new Int32Array(9)), TypeError, 'a plan pointing outside the values');
    b.cacheSet(cache, name, 5, 1, answer);
    b.cacheSet(cache, name, 5, 28, answer);
    b.cacheSet(cache, name, 5, 1, answer); // replaces
    t.equal(b.cacheStats(cache).entries, 2);
    t.equal(b.cacheDelete(cache, name, 5, 1), true);
    t.equal(b.cacheDelete(cache, name, 5, 1), false, 'gone');
    b.cacheClear(cache);
    t.equal(b.cacheStats(cache).entries, 0);
    // A UDP engine handle is an external too, but not a cache.
    const sock = b.createUdpSocket('127.0.0.1', 0, false);
    const meta = new Int32Array(META_HEADER + META_STRIDE);
    const handle = b.udpStart(sock.fd, 1, Buffer.alloc(512), Buffer.alloc(512), meta, () => {}, cache);
    t.throws(() => b.cacheStats(handle as never), TypeError, 'a UDP handle is not a cache');
    b.udpStop(handle);
    const sock2 = b.createUdpSocket('127.0.0.1', 0, false);
    t.throws(() => b.udpStart(sock2.fd, 1, Buffer.alloc(512), Buffer.alloc(512), meta, () => {}, {} as never), TypeError, 'cache must come from cacheCreate');
    b.closeFd(sock2.fd);
  });

  t.test('many names: the C table grows, deletes and refills without losing entries', async (t) => {
    const cache = b.cacheCreate(true, 1232);
    const nameOf = (i: number): Buffer => question(`n${i}.example.test`, A).subarray(0, -4);
    const answerFor = (n: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0]), n, Buffer.from([0, 1, 0, 1])]);
    for (let i = 0; i < 5000; i++) { const n = nameOf(i); b.cacheSet(cache, n, n.length, A, answerFor(n)); }
    t.equal(b.cacheStats(cache).entries, 5000);
    let deleted = 0;
    for (let i = 0; i < 5000; i += 3) { const n = nameOf(i); if (b.cacheDelete(cache, n, n.length, A)) deleted++; }
    t.equal(deleted, 1667);
    let present = 0;
    for (let i = 0; i < 5000; i++) { const n = nameOf(i); if (b.cacheDelete(cache, n, n.length, A)) present++; }
    t.equal(present, 5000 - 1667, 'every entry not deleted is still found after backward-shift deletions');
    t.equal(b.cacheStats(cache).entries, 0);
  });
}
