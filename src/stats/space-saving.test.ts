import t from 'tap';
import { mergeTop, SpaceSaving } from './space-saving.js';
import { WindowedTop } from './window.js';
import { addressText, LastAddressText } from './client-text.js';
import { TopTalkers } from './top-talkers.js';

t.test('exact while the keys fit; heavy hitters survive a flood of unique keys in bounded space', async (t) => {
  const s = new SpaceSaving(8);
  for (let i = 0; i < 5; i++) s.add('a', 2);
  s.add('b', 1);
  t.same(mergeTop([s.entries()], 2), [{ key: 'a', count: 10, error: 0 }, { key: 'b', count: 1, error: 0 }]);
  // 10,000 distinct names, one in every 10 samples is the heavy one.
  const flood = new SpaceSaving(16);
  for (let i = 0; i < 10_000; i++) flood.add(i % 10 === 0 ? 'heavy.' : `r${i}.`, 1);
  t.equal(flood.size, 16, 'never more counters than its capacity');
  const [first] = mergeTop([flood.entries()], 1);
  t.equal(first!.key, 'heavy.');
  t.ok(first!.count - first!.error <= 1000 && first!.count >= 1000, `the true count 1000 lies in [count - error, count]: ${first!.count}, ${first!.error}`);
  t.equal(flood.total, 10_000);
  t.throws(() => new SpaceSaving(0), RangeError);
});

t.test('the window forgets buckets older than its length', async (t) => {
  let now = 0;
  const w = new WindowedTop(4, 60_000, 6, () => now);
  w.add('old.', 5);
  now = 30_000;
  w.add('new.', 1);
  t.same(w.top(5).top.map((c) => c.key), ['old.', 'new.']);
  now = 65_000; // the bucket of time 0 has left the window
  t.same(w.top(5), { total: 1, top: [{ key: 'new.', count: 1, error: 0 }] });
  now = 10_000_000;
  t.same(w.top(5), { total: 0, top: [] }, 'a long silence empties it');
});

t.test('client addresses and namespaces', async (t) => {
  const v6 = Buffer.alloc(16);
  v6[15] = 1;
  t.equal(addressText(6, v6, 0), '::1');
  t.equal(addressText(6, Buffer.from('fd000000000000000001000000000002', 'hex'), 0), 'fd00::1:0:0:2');
  t.equal(addressText(4, Buffer.from([10, 1, 2, 3]), 0), '10.1.2.3');
  const last = new LastAddressText();
  t.equal(last.of(4, Buffer.from([10, 1, 2, 3]), 0), '10.1.2.3');
  t.equal(last.of(4, Buffer.from([10, 1, 2, 4]), 0), '10.1.2.4', 'a new address, new text');
  t.equal(last.of(6, v6, 0), '::1');
  t.equal(last.of(4, Buffer.from([0, 0, 0, 0]), 0), '0.0.0.0', 'same bytes as the IPv6 address begins with, other family');
  const tt = new TopTalkers({ clusterDomain: 'Cluster.Local' });
  t.teardown(() => tt.close());
  t.equal(tt.namespaceOf('web.shop.svc.cluster.local.'), 'shop');
  t.equal(tt.namespaceOf('_http._tcp.web.shop.svc.cluster.local.'), 'shop');
  t.equal(tt.namespaceOf('10-0-0-1.kube-system.pod.cluster.local.'), 'kube-system');
  t.equal(tt.namespaceOf('svc.cluster.local.'), null);
  t.equal(tt.namespaceOf('www.example.com.'), null);
});

t.test('the guarantees hold on a skewed stream: true count in [count - error, count], heavy keys always listed', async (t) => {
  let seed = 7;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const s = new SpaceSaving(32);
  const truth = new Map<string, number>();
  for (let i = 0; i < 20_000; i++) {
    // Key k with probability ~1/k² (a few heavy keys, a long tail of rare ones), weights 1-3.
    const key = `k${Math.floor(1 / Math.sqrt(random() + 1e-9))}.`;
    const w = 1 + (i % 3);
    s.add(key, w);
    truth.set(key, (truth.get(key) ?? 0) + w);
  }
  let bad = 0;
  for (const e of s.entries()) {
    const real = truth.get(e.key) ?? 0;
    if (real > e.count || real < e.count - e.error) bad++;
  }
  t.equal(bad, 0, 'every counter brackets the true count');
  const listed = new Set(s.entries().map((e) => e.key));
  const heavy = [...truth].filter(([, n]) => n > s.total / 32).map(([k]) => k);
  t.ok(heavy.length > 0 && heavy.every((k) => listed.has(k)), `the ${heavy.length} keys above total/capacity are listed`);
});
