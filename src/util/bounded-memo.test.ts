import t from 'tap';
import { BoundedMemo } from './bounded-memo.js';

t.test('computes each key once, and starts over at the limit', async (t) => {
  const calls: string[] = [];
  const memo = new BoundedMemo<string, number>(3, (k) => { calls.push(k); return k.length; });
  t.equal(memo.get('a'), 1);
  t.equal(memo.get('bb'), 2);
  t.equal(memo.get('a'), 1);
  t.same(calls, ['a', 'bb'], 'a remembered');
  memo.get('ccc');
  memo.get('dddd'); // the fourth key: the memo was full, so it starts over
  memo.get('a');
  t.same(calls, ['a', 'bb', 'ccc', 'dddd', 'a'], 'forgotten after the limit, computed again');
  memo.clear();
  memo.get('dddd');
  t.equal(calls.length, 6, 'clear() forgets everything');
});
