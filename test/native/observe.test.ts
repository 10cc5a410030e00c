// The observation rings (native/observe.c, ABI 7): the answers the addon makes in C are sampled into a
// Buffer for top talkers; together with the answers JavaScript makes (the engine's exchange-observer
// calls) every answer is seen exactly once at one-in-one, and one in EVERY with weight EVERY when asked.
// And the dnstap ring: C writes the records of the exchanges it answers into the same shared ring as
// JavaScript, with one sampling counter for both.
import t, { type Test } from 'tap';
import { NativeEngine } from '../../src/engine/native.js';
import type { ExchangeObserver } from '../../src/engine/types.js';
import type { NativeBinding, UdpHandle } from '../../src/engine/native-binding.js';
import { DnstapRecorder, CLIENT_QUERY, CLIENT_RESPONSE, FAMILY_INET, SOCKET_UDP } from '../../src/dnstap/recorder.js';
import { RingConsumer, ringBuffer } from '../../src/dnstap/ring.js';
import { DnsCounters } from '../../src/metrics/dns-counters.js';
import { ObservationRing, type Sample } from '../../src/stats/ring.js';
import { wireToKey } from '../../src/dns/name.js';
import { addressText } from '../../src/stats/client-text.js';
import { A, Client, engineOptions, nativeOrFail, query } from './setup.js';

/** Counts JavaScript's answers and owns the rings the engine hands to C. */
class RecordingTap implements ExchangeObserver {
  js = 0;
  readonly rings: ObservationRing[] = [];
  clientBytes(): void {}
  clientText(): void {}
  query(): boolean {
    return true;
  }
  response(): void {
    this.js++;
  }
  attachNative(binding: NativeBinding, handle: UdpHandle): void {
    const ring = new ObservationRing(4);
    this.rings.push(ring);
    binding.udpObserve(handle, ring.buf);
  }
}

/** A native engine on a free port with one exchange observer, and a client socket; both closed at teardown. */
async function serve(t: Test, binding: NativeBinding, observer: ExchangeObserver): Promise<{ engine: NativeEngine; port: number; client: Client }> {
  const engine = new NativeEngine({ ...engineOptions('127.0.0.1', new DnsCounters(DnsCounters.bufferFor(1), 0)), binding, exchangeObservers: [observer] });
  const port = (await engine.start())[0]!.port;
  const client = new Client();
  await client.bind();
  t.teardown(async () => {
    client.close();
    await engine.close();
  });
  return { engine, port, client };
}

function drain(ring: ObservationRing): { samples: Array<{ name: string; client: string; rcode: number; weight: number }>; seen: number } {
  const samples: Array<{ name: string; client: string; rcode: number; weight: number }> = [];
  const seen = ring.drain((s: Sample) => samples.push({
    name: wireToKey(s.buf, s.nameOffset).key, client: addressText(s.family, s.buf, s.addrOffset), rcode: s.rcode, weight: s.weight,
  }));
  return { samples, seen };
}

t.test('C answers land in the ring, JavaScript answers in the tap, each once', async (t) => {
  const binding = nativeOrFail(t);
  if (binding === null) return;
  const tap = new RecordingTap();
  const { engine, port, client } = await serve(t, binding, tap);
  t.equal(tap.rings.length, 1, 'one ring per UDP socket');
  const ring = tap.rings[0]!;
  for (let id = 1; id <= 3; id++) t.ok(await client.one(port, query(id, 'WWW.example.test', A)), `answer ${id}`);
  t.equal(tap.js, 1, 'the first answer was compiled in JavaScript');
  const first = drain(ring);
  t.same(first.samples, [
    { name: 'www.example.test.', client: '127.0.0.1', rcode: 0, weight: 1 },
    { name: 'www.example.test.', client: '127.0.0.1', rcode: 0, weight: 1 },
  ], 'the two later ones were answered in C and sampled, name lower-cased by the reader');
  t.equal(first.seen, 2);

  // One in three, weight three; a full ring counts the weight it could not keep.
  ring.every = 3;
  for (let id = 10; id < 25; id++) await client.one(port, query(id, 'www.example.test', A));
  const sampled = drain(ring);
  t.same(sampled.samples.map((s) => s.weight), [3, 3, 3, 3], 'fifteen answers: four records of weight three fill the ring');
  t.equal(sampled.seen, 15, 'and the fifth sample is counted as lost weight');

  // NXDOMAIN from the C negative table carries its rcode.
  ring.every = 1;
  for (let id = 30; id < 33; id++) await client.one(port, query(id, 'nope.example.test', A));
  t.ok(drain(ring).samples.some((s) => s.name === 'nope.example.test.' && s.rcode === 3), 'an NXDOMAIN made in C');

  t.throws(() => binding.udpObserve((engine as unknown as { listeners: Array<{ udp: { handle: never } }> }).listeners[0]!.udp.handle, Buffer.alloc(8)),
    { name: 'TypeError' }, 'a ring smaller than one record is refused');
});

t.test('dnstap: C writes the exchanges it answers into the shared ring, sampled with JavaScript\'s counter', async (t) => {
  const binding = nativeOrFail(t);
  if (binding === null) return;
  const sab = ringBuffer(8192);
  const recorder = new DnstapRecorder(sab, 2);
  const { engine, port, client } = await serve(t, binding, recorder);
  t.ok(engine.answerCacheStats !== null, 'the C answer cache stays on with dnstap');
  // Six exchanges: the first compiled in JavaScript, the rest answered in C; one in two is logged.
  for (let id = 1; id <= 6; id++) t.ok(await client.one(port, query(id, 'www.example.test', A)), `answer ${id}`);
  const before = Date.now();
  const consumer = new RingConsumer(sab);
  const logged: Array<{ type: number; protocol: number; family: number; port: number; id: number; address: string; timeMs: number }> = [];
  consumer.drain((r) => logged.push({
    type: r.type, protocol: r.protocol, family: r.family, port: r.port, id: r.message.readUInt16BE(0),
    address: [...r.address.subarray(0, 4)].join('.'), timeMs: r.timeMs,
  }));
  t.same(logged.map((r) => [r.type, r.id]), [
    [CLIENT_QUERY, 2], [CLIENT_RESPONSE, 2], [CLIENT_QUERY, 4], [CLIENT_RESPONSE, 4], [CLIENT_QUERY, 6], [CLIENT_RESPONSE, 6],
  ], 'the 2nd, 4th and 6th exchange, query then response, in order across JavaScript and C');
  t.ok(engine.udpStats.nativeAnswers >= 3, `answered in C: ${engine.udpStats.nativeAnswers}`);
  for (const r of logged) {
    t.equal(r.protocol, SOCKET_UDP);
    t.equal(r.family, FAMILY_INET);
    t.equal(r.address, '127.0.0.1');
    t.equal(r.port, client.sock.address().port, 'the client port');
    t.ok(r.timeMs > before - 60_000 && r.timeMs <= before + 1000, 'a wall-clock time in ms');
  }
  t.equal(consumer.dropped, 0);
  t.throws(() => binding.udpTap((engine as unknown as { listeners: Array<{ udp: { handle: never } }> }).listeners[0]!.udp.handle, Buffer.alloc(8), 1),
    { name: 'TypeError' }, 'a ring smaller than the minimum is refused');
});
