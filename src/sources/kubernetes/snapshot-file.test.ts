import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLASS_IN, TYPE_A, TYPE_PTR } from '../../dns/constants.js';
import { rdataA, rdataName } from '../../dns/rdata.js';
import { readClusterSnapshot, snapshotPath, writeClusterSnapshot } from './snapshot-file.js';

const dir = mkdtempSync(join(tmpdir(), 'kdns-snapfile-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const file = snapshotPath(dir, 'cluster.local.');

t.test('round trip: RRsets, marks and reverse names', async (t) => {
  t.equal(readClusterSnapshot(file, 'cluster.local.'), null, 'none yet');
  const rrsets = [
    { name: 'web.default.svc.cluster.local.', type: TYPE_A, class: CLASS_IN, ttl: 30, rdatas: [rdataA('10.0.0.1'), rdataA('10.0.0.2')] },
    { name: 'empty.svc.cluster.local.', type: 0, class: CLASS_IN, ttl: 0, rdatas: [] },
  ];
  const reverse = [{ name: '1.0.0.10.in-addr.arpa.', type: TYPE_PTR, class: CLASS_IN, ttl: 30, rdatas: [rdataName('web.default.svc.cluster.local.')] }];
  writeClusterSnapshot(file, 'cluster.local.', { savedAt: 1_790_000_000_000, rrsets, reverse });
  t.same(readClusterSnapshot(file, 'cluster.local.'), { savedAt: 1_790_000_000_000, rrsets, reverse });
});

const bad: [string, string, RegExp][] = [
  ['truncated', '{"version": 1, "zone": "cluster.lo', /^not JSON/],
  ['another version', '{"version": 2}', /expected \{"version": 1/],
  ['another zone', '{"version": 1, "zone": "other.local.", "savedAt": "2026-01-01T00:00:00Z", "rrsets": [], "reverse": []}', /snapshot of zone other\.local\./],
  ['no time', '{"version": 1, "zone": "cluster.local.", "savedAt": "soon", "rrsets": [], "reverse": []}', /savedAt is not a time/],
  ['a name out of the zone', '{"version": 1, "zone": "cluster.local.", "savedAt": "2026-01-01T00:00:00Z", "rrsets": [["x.example.", 1, 30, ["CgAAAQ=="]]], "reverse": []}', /rrsets\[0\]: name x\.example\. does not belong here/],
  ['a zone name among reverse ones', '{"version": 1, "zone": "cluster.local.", "savedAt": "2026-01-01T00:00:00Z", "rrsets": [], "reverse": [["a.cluster.local.", 12, 30, ["AA=="]]]}', /reverse\[0\]: name/],
  ['a short A record', '{"version": 1, "zone": "cluster.local.", "savedAt": "2026-01-01T00:00:00Z", "rrsets": [["a.cluster.local.", 1, 30, ["CgAA"]]], "reverse": []}', /not a well-formed type 1/],
  ['a negative TTL', '{"version": 1, "zone": "cluster.local.", "savedAt": "2026-01-01T00:00:00Z", "rrsets": [["a.cluster.local.", 1, -1, ["CgAAAQ=="]]], "reverse": []}', /bad TTL/],
];
for (const [what, text, message] of bad) {
  t.test(`rejected: ${what}`, async (t) => {
    writeFileSync(file, text);
    t.throws(() => readClusterSnapshot(file, 'cluster.local.'), { message });
  });
}
