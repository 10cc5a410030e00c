import t from 'tap';
import { Worker } from 'node:worker_threads';
import { allocateStore, LARGE_SLOT_BYTES, PROBE, SharedStore, storeShape, type StoredEntry } from './shared-store.js';

function entry(fill: number, length: number, storedAt = 0, lifetime = 60): StoredEntry {
  return {
    kind: 0, msg: Buffer.alloc(length, fill), ttlOffsets: [fill % 200, 3], ttls: [fill, fill], extRcodeHi: 0, storedAt, lifetime,
    hits: 0, refreshFailedAt: -Infinity, slot: -1, version: 0,
  };
}

t.test('shape: max-entries slots sharing max-bytes, within the slot limits', async (t) => {
  t.same(storeShape(10_000, 16 * 1024 * 1024), { smallSlots: 9873, smallBytes: 1488, largeSlots: 127 }, 'the defaults');
  t.same(storeShape(1_000_000, 65_536), { smallSlots: 127, smallBytes: 512, largeSlots: 0 }, 'bytes bound the slot count (header included)');
  t.same(storeShape(3, 16 * 1024 * 1024), { smallSlots: 3, smallBytes: LARGE_SLOT_BYTES, largeSlots: 0 }, 'small slots never pass a large one');
  for (const [entries, bytes] of [[10_000, 16 << 20], [1, 65_536], [1000, 1 << 30], [10_000_000, 65_536], [50, 1 << 20]] as const) {
    const s = new SharedStore(allocateStore(entries, bytes));
    t.ok(s.slots <= entries && s.capacityBytes <= bytes, `${entries} entries, ${bytes} bytes: ${s.slots} slots, ${s.capacityBytes} bytes`);
  }
});

t.test('two views of one buffer (two threads) see the same entries; flush empties it for both', async (t) => {
  const sab = allocateStore(100, 1_000_000);
  const a = new SharedStore(sab);
  const b = new SharedStore(sab);
  t.equal(a.write('x.|1|1|--', entry(7, 40)), 'stored');
  const seen = b.read('x.|1|1|--')!;
  t.same([...seen.msg], Array(40).fill(7));
  t.same(seen.ttls, [7, 7]);
  t.same(seen.ttlOffsets, [7, 3]);
  t.equal(b.read('y.|1|1|--'), undefined);
  t.equal(b.entries, 1);
  t.equal(a.write('x.|1|1|--', entry(8, 10)), 'stored', 'replaced in place');
  t.equal(b.read('x.|1|1|--')!.msg.length, 10);
  t.equal(b.entries, 1);
  t.equal(b.clear(), 1);
  t.equal(a.read('x.|1|1|--'), undefined);
  t.equal(a.entries, 0);
  t.throws(() => new SharedStore(new SharedArrayBuffer(1024)), /not a forward cache store/);
});

t.test('hits and the prefetch claim are shared; a new answer resets them', async (t) => {
  const sab = allocateStore(100, 1_000_000);
  const a = new SharedStore(sab);
  const b = new SharedStore(sab);
  a.write('k', entry(1, 20));
  const ea = a.read('k')!;
  const eb = b.read('k')!;
  t.equal(a.hit(ea), 1);
  t.equal(b.hit(eb), 2, 'one count for the process');
  t.ok(a.claimPrefetch(ea), 'the first thread claims the prefetch');
  t.notOk(b.claimPrefetch(eb), 'the second does not');
  b.write('k', entry(2, 20));
  t.notOk(a.claimPrefetch(ea), 'a claim on an answer that was replaced fails');
  const fresh = a.read('k')!;
  t.equal(fresh.hits, 0);
  t.ok(b.claimPrefetch(b.read('k')!), 'the new answer can be claimed again');
  t.ok(a.noteRefreshFailed('k', 1234));
  t.equal(b.read('k')!.refreshFailedAt, 1234, 'a failed refresh is seen by every thread');
});

t.test('bounded: a flood of new names replaces entries, never adds memory; too large is not stored', async (t) => {
  const s = new SharedStore(allocateStore(64, 65_536));
  for (let i = 0; i < 5000; i++) s.write(`flood${i}.|1|1|--`, entry(i & 0xff, 100, i));
  t.equal(s.entries, s.slots, 'every slot in use, no more');
  t.ok(s.bytesHeld <= 65_536 && s.capacityBytes <= 65_536, `${s.bytesHeld} bytes held, ${s.capacityBytes} at most`);
  t.equal(s.write('big.|1|1|--', entry(1, s.maxEntryBytes)), 'skipped');
  t.equal(s.read('big.|1|1|--'), undefined);
  const both = new SharedStore(allocateStore(1000, 4 << 20));
  t.equal(both.write('tcp.|16|1|--', entry(3, 6000)), 'stored', 'a 6 kB answer goes to a large slot');
  t.equal(both.read('tcp.|16|1|--')!.msg.length, 6000);
  t.equal(both.bytesHeld, 64 + LARGE_SLOT_BYTES);
  t.equal(both.write('tcp.|16|1|--', entry(3, 200)), 'stored', 'and when it shrinks, to a small one');
  t.equal(both.entries, 1, 'one copy');
  t.equal(both.read('tcp.|16|1|--')!.msg.length, 200);
  // The victim is the entry whose freshness ends first: a recent one survives an older neighbour.
  const t2 = new SharedStore(allocateStore(PROBE, 65_536));
  for (let i = 0; i < PROBE; i++) t2.write(`n${i}`, entry(i, 10, 1000 * (i + 1)));
  t.equal(t2.write('newcomer', entry(9, 10, 50_000)), 'evicted');
  t.equal(t2.read('n0'), undefined, 'the oldest went');
  t.ok(t2.read(`n${PROBE - 1}`), 'the newest stayed');
});

t.test('a reader in one thread never sees a half-written entry from a writer in another', async (t) => {
  const sab = allocateStore(16, 1_000_000);
  const url = new URL('./shared-store.js', import.meta.url).href;
  // The writer rewrites one key with entries whose every byte and TTL is one value and whose length follows it.
  const worker = new Worker(`
    const { workerData, parentPort } = require('node:worker_threads');
    import(${JSON.stringify(url)}).then(({ SharedStore }) => {
      const s = new SharedStore(workerData);
      for (let i = 0; i < 200000; i++) {
        const v = i & 0xff;
        s.write('hot.|1|1|--', { kind: 0, msg: Buffer.alloc(100 + v * 4, v), ttlOffsets: [v, v], ttls: [v, v], extRcodeHi: 0,
          storedAt: v, lifetime: v, hits: 0, refreshFailedAt: v, slot: -1, version: 0 });
      }
      parentPort.postMessage('done');
    });`, { eval: true, workerData: sab });
  const s = new SharedStore(sab);
  let done = false;
  worker.once('message', () => { done = true; });
  let reads = 0;
  let torn = 0;
  // Bounded in count; yields to the event loop now and then to see the writer finish.
  for (let round = 0; round < 2000 && !done; round++) {
    for (let i = 0; i < 500; i++) {
      const e = s.read('hot.|1|1|--');
      if (e === undefined) continue;
      reads++;
      const v = e.ttls[0]!;
      if (e.msg.length !== 100 + v * 4 || e.msg.some((b) => b !== v) || e.ttls[1] !== v || e.storedAt !== v || e.lifetime !== v) torn++;
    }
    await new Promise((r) => setImmediate(r));
  }
  await worker.terminate();
  t.ok(reads > 0, `${reads} reads while the other thread wrote`);
  t.equal(torn, 0, 'no read mixed two writes');
});
