// Shared answer tables across real worker threads: a view in another thread sees the same table, and a
// thread that ends without closing its view (worker.terminate(): a crash, as far as the addon can tell)
// takes its answers and its negative feed with it, since no responder is left to invalidate them. The
// table itself goes with its last view.
import t from 'tap';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { nativeOrFail } from './setup.js';
import { answerTemplate, wireName } from './shared-view-data.js';

const WORKER = new URL('./shared-view-worker.js', import.meta.url);
const binding = nativeOrFail(t);

if (binding !== null) {
  const b = binding;
  t.test('a thread\'s answers are shared, and leave with the thread', async (t) => {
    const key = `test-${process.pid}-threads`;
    const storesBefore = b.cacheLiveStores();
    const worker = new Worker(WORKER, { workerData: { key, count: 50 } });
    const [msg] = (await once(worker, 'message')) as [{ set: number; negative: boolean }];
    t.equal(msg.set, 50);
    t.equal(msg.negative, true, 'the first view feeds the negative table');
    const mine = b.cacheCreate(false, 1232, 1000, 1 << 20, key);
    t.equal(b.cacheClaimNegative(mine), false, 'a second view does not');
    const own = wireName('main.shared.test');
    b.cacheSet(mine, own, own.length, 1, answerTemplate(own));
    let s = b.cacheStats(mine);
    t.same([s.entries, s.shared, s.views, s.primary], [51, true, 2, false], 'one table: both threads\' answers, two views, the worker reports it');
    const theirs = wireName('w7.shared.test');
    t.equal(b.cacheDelete(mine, theirs, theirs.length, 1), false, 'a view does not delete another view\'s answer');
    b.cacheClear(mine);
    t.equal(b.cacheStats(mine).entries, 50, 'nor clear them: its clear took its own answer only');

    await worker.terminate(); // no close: the thread's environment cleanup detaches the view
    s = b.cacheStats(mine);
    t.same([s.entries, s.views, s.primary], [0, 1, true], 'the ended thread\'s answers left with it; this view reports now');
    t.equal(b.cacheClaimNegative(mine), true, 'the negative feed is free again');
    t.equal(b.cacheLiveStores(), storesBefore + 1, 'the table lives on with this view');
    b.cacheClose(mine);
    t.equal(b.cacheLiveStores(), storesBefore, 'and goes with the last one');
    t.throws(() => b.cacheStats(mine), TypeError, 'a closed view throws');
  });
}
