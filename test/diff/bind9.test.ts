// The differential test: kdns and BIND 9 serve the same fixture zones (test/fixtures/diff/) and must
// give the same answer to every query of the seeded corpus (see corpus.ts for what is asked and
// compare.ts for what "the same" means). Each difference is printed with the query as dig arguments.
import t from 'tap';
import { generateCorpus, readZone } from './corpus.js';
import { formatDiffs, summarizeDiffs } from './compare.js';
import { runCorpus, startPair } from './runner.js';
import { fixtureZones } from './zones.js';

const SEED = Number(process.env.KDNS_DIFF_SEED ?? 1);

t.test('kdns answers like BIND 9 on the fixture zones', async (t) => {
  const zones = fixtureZones();
  const corpus = generateCorpus(zones.map((z) => readZone(z.file, z.origin)), { seed: SEED });
  t.ok(corpus.length >= 300, `corpus of ${corpus.length} queries (seed ${SEED})`);

  const pair = await startPair(zones);
  t.teardown(() => pair.stop());
  const res = await runCorpus(corpus, pair.named.port, pair.kdns.port, { concurrency: 16, deadlineMs: 40_000 });
  if (res.failed > 0) {
    t.comment(`by kind:\n${summarizeDiffs(res.diffs)}`);
    t.comment(formatDiffs(res.diffs, 150));
  }
  t.equal(res.failed, 0, `${res.passed} passed, ${res.failed} failed`);
  t.equal(res.passed + res.failed, corpus.length, 'every query was compared');
});
