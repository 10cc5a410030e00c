// A worker thread holding a view of a shared answer table (for shared-tables-threads.test.ts): it sets
// `count` answers under `key` and says so; it never closes the view (the test ends the thread).
import { parentPort, workerData } from 'node:worker_threads';
import { loadNative } from '../../src/engine/native-binding.js';
import { answerTemplate, wireName } from './shared-view-data.js';

const { key, count } = workerData as { key: string; count: number };
const b = loadNative()!;
const view = b.cacheCreate(false, 1232, 1000, 1 << 20, key);
for (let i = 0; i < count; i++) {
  const name = wireName(`w${i}.shared.test`);
  b.cacheSet(view, name, name.length, 1, answerTemplate(name));
}
parentPort!.on('message', () => undefined); // keeps the thread alive until the test ends it
parentPort!.postMessage({ set: count, negative: b.cacheClaimNegative(view) });
