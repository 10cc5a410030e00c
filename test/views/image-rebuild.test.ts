// A view's own zones live in the zone image under ids of their own (src/worker/hub-image.ts, viewZones):
// when the hub rebuilds the image (full, or garbage past its limit: here from churn in a dynamic zone of the
// default view, whichever comes first), the fresh image must hold them too. Over the wire with dig -b: the view's answers before the
// rebuild, kdns_zone_image_rebuilds moving, and after it names the view never asked before (compiled from
// the new image, not copied from an answer compiled earlier) still answered from the view's zone file.

import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKdns, type KdnsProcess } from '../helpers/kdns-process.js';
import { rdataOf, runDig } from '../wire/clients.js';

const TOKEN = 'rebuild-token-0123456789abcdef';
/**
 * Bound on the churn: each write adds about 50 KB to the heap (the replaced RRset is garbage); the first
 * image's 1 MiB heap fills after ~20, and garbage passes its 4 MiB limit after ~85 (src/zone/image.ts).
 */
const MAX_WRITES = 400;

async function rebuilds(kdns: KdnsProcess): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${kdns.httpPort!}/metrics`)).text();
  const found = /^kdns_zone_image_rebuilds (\d+)$/m.exec(text);
  if (found === null) throw new Error('no kdns_zone_image_rebuilds in /metrics');
  return Number(found[1]);
}

/** Replaces churn.dyn.test's TXT with 200 strings of 250 characters that differ by `round`: ~50 KB garbage. */
async function churn(kdns: KdnsProcess, round: number): Promise<number> {
  const values = Array.from({ length: 200 }, (_, i) => `r${round}-${i}-`.padEnd(250, 'x'));
  const res = await fetch(`http://127.0.0.1:${kdns.httpPort!}/api/v1/zones/dyn.test/records/churn/TXT`, {
    method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ttl: 60, values }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** The A rdata of `name` asked from source address `from`, or the status when there is none. */
async function aFrom(kdns: KdnsProcess, from: string, name: string): Promise<string> {
  const r = await runDig('dig', kdns.port, ['-b', from, name, 'A']);
  return rdataOf(r.answer, 'A')[0] ?? r.status;
}

t.test('a view\'s zone file survives a zone image rebuild', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kdns-views-rebuild-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const zone = (ns: string, records: string): string =>
    `$ORIGIN split.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN A ${ns}\n${records}\n`;
  writeFileSync(join(dir, 'outside.zone'), zone('192.0.2.53', 'www IN A 192.0.2.1'));
  writeFileSync(join(dir, 'inside.zone'), zone('10.0.0.53', 'www IN A 10.0.0.1\ndb IN A 10.0.0.5\nmail IN A 10.0.0.6'));
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
  const kdns = await startKdns(['--zone-file', join(dir, 'outside.zone'), '--dynamic-zone', 'dyn.test', '--api-token-file', join(dir, 'token'),
    '--view', `name=inside,match-clients=127.0.0.2,zone-files=${join(dir, 'inside.zone')},dynamic-zones=dyn.test`,
    '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--workers', '2', '--no-forward'], { t });

  for (let round = 0; round < 4; round++) {
    t.equal(await aFrom(kdns, '127.0.0.2', 'www.split.test'), '10.0.0.1', 'inside: the view\'s zone before the rebuild');
    t.equal(await aFrom(kdns, '127.0.0.1', 'www.split.test'), '192.0.2.1', 'everyone else: the default view\'s');
  }

  const before = await rebuilds(kdns);
  let writes = 0;
  while ((await rebuilds(kdns)) === before && writes < MAX_WRITES) {
    t.equal(await churn(kdns, writes), 200, `write ${writes}`);
    writes++;
  }
  t.ok((await rebuilds(kdns)) > before, `kdns_zone_image_rebuilds moved after ${writes} writes`);
  // Every write is acknowledged once each worker applied it; one more puts the rebuilt image behind us.
  t.equal(await churn(kdns, writes), 200, 'a write after the rebuild');

  for (let round = 0; round < 4; round++) {
    t.equal(await aFrom(kdns, '127.0.0.2', 'db.split.test'), '10.0.0.5', 'inside: a name first asked after the rebuild');
    t.equal(await aFrom(kdns, '127.0.0.2', 'www.split.test'), '10.0.0.1', 'inside: the name asked before');
    t.equal(await aFrom(kdns, '127.0.0.1', 'db.split.test'), 'NXDOMAIN', 'the default view still has no db');
    t.equal(await aFrom(kdns, '127.0.0.1', 'www.split.test'), '192.0.2.1', 'nor the inside answer for www');
  }
  t.equal(await aFrom(kdns, '127.0.0.2', 'mail.split.test'), '10.0.0.6', 'inside: another name never asked before');
});
