// The per-client query limit (rate-limit: {queries-per-second}, JD's KDNS) and rate-limit config errors,
// over the wire and through the CLI.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runKdns, startKdns, wireArgs } from '../helpers/kdns-process.js';
import { burst, query } from './burst.js';

const dir = mkdtempSync(path.join(tmpdir(), 'kdns-rrl-q-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('queries-per-second: past the limit a client address is not answered at all; others are', async (t) => {
  const kdns = await startKdns(wireArgs(['--rrl-queries-per-second', '50', '--rrl-exempt-clients', '127.0.5.0/24']), { t });
  const www = (id: number): Buffer => query(id, `n${id}.example.test`); // every query a new name: only the query limit applies
  // The bucket holds a second's worth and refills in a second: after 1.2 s the sentinel from the same
  // address is admitted, and its answer comes after every earlier one.
  const r = await burst(kdns.port, 400, www, query(0, 'www.example.test'), { source: '127.0.6.1', sentinelAfterMs: 1200 });
  // A burst of well under a second spans at most one second boundary: 50 to 100 queries answered.
  t.ok(r.answered >= 50 && r.answered <= 100, `answered ${r.answered} of 400 at 50/s`);
  t.equal(r.slipped, 0, 'dropped queries are never truncated answers');
  const metrics = await (await fetch(`http://127.0.0.1:${kdns.httpPort}/metrics`)).text();
  const dropped = Number(/^kdns_rate_limit_queries_total\{action="dropped"\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
  t.equal(dropped, r.dropped, '/metrics counts every dropped query');
  const exempt = await burst(kdns.port, 400, www, query(0, 'www.example.test'), { source: '127.0.5.1' });
  t.strictSame(exempt, { answered: 400, slipped: 0, dropped: 0 }, 'an exempt client is not limited');
  const other = await burst(kdns.port, 40, www, query(0, 'www.example.test'), { source: '127.0.7.1' });
  t.strictSame(other, { answered: 40, slipped: 0, dropped: 0 }, 'another address under the limit is answered in full');
});

t.test('a bad rate-limit setting stops kdns with exit 2, naming file and line', async (t) => {
  const config = path.join(dir, 'bad.yaml');
  writeFileSync(config, 'rate-limit:\n  responses-per-second: 10\n  slip: many\n');
  const res = await runKdns(['-c', config, '--listen', '127.0.0.1:0', '--no-forward', '--http', 'none']);
  t.equal(res.code, 2, 'exit 2', { stderr: res.stderr });
  t.match(res.stderr, `${config}:3: rate-limit.slip: expected an integer 0-10, got 'many'`);
  const flag = await runKdns(['--rrl-responses-per-second', '-1', '--listen', '127.0.0.1:0', '--no-forward', '--http', 'none']);
  t.equal(flag.code, 2, 'exit 2 for a bad flag');
  t.match(flag.stderr, /--rrl-responses-per-second: expected an integer 0-1000/);
});
