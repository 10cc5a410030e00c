import t from 'tap';
import { CLASS_IN, RCODE_NOERROR, TYPE_A, TYPE_AAAA } from '../dns/constants.js';
import type { LookupResult, Rr } from '../dns/types.js';
import { prng } from '../util/prng.js';
import { AnswerOrder, answerOrderFor } from './answer-order.js';
import { parsePolicy, PolicyTable } from './rules.js';

const rr = (name: string, type: number, last: number): Rr => ({ name, type, class: CLASS_IN, ttl: 60, rdata: Buffer.from([10, 0, 0, last]) });
const result = (answer: Rr[]): LookupResult => ({ rcode: RCODE_NOERROR, aa: true, answer, authority: [], additional: [] });
const lasts = (r: LookupResult): number[] => r.answer.map((x) => x.rdata[3]!);

t.test('round-robin turns one step per answer, per RRset; other names and types stay', async (t) => {
  const order = new AnswerOrder(new PolicyTable([parsePolicy('name=rr.test,order=round-robin')]));
  const shared = [rr('rr.test.', TYPE_A, 1), rr('rr.test.', TYPE_A, 2), rr('rr.test.', TYPE_A, 3)];
  const seen: number[][] = [];
  for (let i = 0; i < 4; i++) {
    const r = result(shared);
    t.equal(order.apply(r), true, 'turned: not to be cached');
    seen.push(lasts(r));
  }
  t.same(seen, [[1, 2, 3], [2, 3, 1], [3, 1, 2], [1, 2, 3]]);
  t.same(shared.map((x) => x.rdata[3]), [1, 2, 3], "the lookup's array is not changed");
  const other = result([rr('other.test.', TYPE_A, 1), rr('other.test.', TYPE_A, 2)]);
  t.equal(order.apply(other), false, 'no policy: cacheable');
  const single = result([rr('rr.test.', TYPE_AAAA, 1)]);
  t.equal(order.apply(single), false, 'one record: nothing to turn, cacheable');
});

t.test('random: permutations of the same records', async (t) => {
  const order = new AnswerOrder(new PolicyTable([parsePolicy('zone=pool.test,order=random')]), prng(7));
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const r = result([1, 2, 3].map((n) => rr('a.pool.test.', TYPE_A, n)));
    t.equal(order.apply(r), true);
    t.same([...lasts(r)].sort(), [1, 2, 3]);
    seen.add(lasts(r).join());
  }
  t.equal(seen.size, 6, 'every order of three occurs');
});

t.test('answerOrderFor: null when no policy turns answers', async (t) => {
  t.equal(answerOrderFor([parsePolicy('name=a.test,health-check.port=80')]), null);
  t.not(answerOrderFor([parsePolicy('name=a.test,order=random')]), null);
});
