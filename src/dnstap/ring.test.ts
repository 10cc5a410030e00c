import t from 'tap';
import { MIN_RING_BYTES, RECORD_HEADER, RingConsumer, RingProducer, ringBuffer } from './ring.js';

const ADDR = Uint8Array.from([192, 0, 2, 7, ...new Array<number>(12).fill(0)]);

function message(seq: number, length: number): Buffer {
  const b = Buffer.alloc(length, seq & 0xff);
  b.writeUInt16BE(seq, 0);
  return b;
}

function drainAll(c: RingConsumer): Array<{ seq: number; length: number; port: number; type: number }> {
  const out: Array<{ seq: number; length: number; port: number; type: number }> = [];
  c.drain((r) => out.push({ seq: r.message.readUInt16BE(0), length: r.message.length, port: r.port, type: r.type }));
  return out;
}

t.test('records come out in order with their fields, across many wrap-arounds', async (t) => {
  const sab = ringBuffer(MIN_RING_BYTES);
  const p = new RingProducer(sab);
  const c = new RingConsumer(sab);
  let next = 0;
  let seen = 0;
  let refused = 0;
  // Odd sizes so records end at every alignment; drained every 7 puts, so the ring wraps many times.
  for (let i = 0; i < 5000; i++) {
    const length = 12 + (i % 97);
    if (!p.put(5 + (i % 4), 1, 1, ADDR, 0, 1000 + (i % 50000), 1234.5, message(i, length), length)) refused++;
    if (i % 7 === 6 || i === 4999) {
      for (const r of drainAll(c)) {
        if (r.seq !== next || r.length !== 12 + (next % 97) || r.port !== 1000 + (next % 50000) || r.type !== 5 + (next % 4)) {
          t.fail(`record ${next} came out as ${JSON.stringify(r)}`);
          return;
        }
        next++;
        seen++;
      }
    }
  }
  t.equal(refused, 0, 'never full');
  t.equal(seen, 5000);
  t.equal(c.dropped, 0);
});

t.test('a full ring drops and counts; space freed by the consumer is used again', async (t) => {
  const sab = ringBuffer(MIN_RING_BYTES);
  const p = new RingProducer(sab);
  const c = new RingConsumer(sab);
  const length = 100;
  const perRecord = (RECORD_HEADER + length + 3) & ~3;
  let accepted = 0;
  for (let i = 0; i < 100; i++) if (p.put(5, 1, 1, ADDR, 0, 53, 0, message(i, length), length)) accepted++;
  t.equal(accepted, Math.floor((MIN_RING_BYTES - 4) / perRecord), 'what fits, less the 4 bytes kept free');
  t.equal(c.dropped, 100 - accepted, 'every other record counted as dropped');
  t.equal(drainAll(c).length, accepted);
  t.equal(p.put(5, 1, 1, ADDR, 0, 53, 0, message(1, length), length), true, 'room again after the drain');
  t.equal(c.dropped, 100 - accepted, 'no new drops');
});

t.test('a producer made later (a restarted worker) continues where the ring is', async (t) => {
  const sab = ringBuffer(MIN_RING_BYTES);
  new RingProducer(sab).put(5, 1, 1, ADDR, 0, 53, 0, message(1, 20), 20);
  new RingProducer(sab).put(6, 1, 1, ADDR, 0, 53, 0, message(2, 20), 20);
  t.strictSame(drainAll(new RingConsumer(sab)).map((r) => r.seq), [1, 2]);
});
