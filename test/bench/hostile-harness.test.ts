// A smoke test of the hostile-traffic campaign's own tools (bench/hostile, bench/loadgen/rawgen.c), not of
// kdns: the corpus holds what its categories promise, and rawgen, pointed at a deliberately bad "server"
// that echoes every datagram back with QR set, sends from many 127.0.0.0/8 sources, gives every
// random-name datagram its own name, and reports the answers to QR=1 datagrams it must flag.
// No kdns here, so it runs once (not again on the node engine).
import { execFile, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import dnsPacket from 'dns-packet';
import t from 'tap';
import { CATEGORIES, buildCorpus, encodeCorpus, type CorpusNames } from '../../bench/hostile/corpus.js';
import { prng } from '../../test/fuzz/mutate.js';
import { REPO_ROOT } from '../helpers/kdns-process.js';

const NAMES: CorpusNames = {
  zone: 'cluster.local',
  existing: ['svc-00000.default.svc.cluster.local', 'svc-00001.default.svc.cluster.local'],
  big: ['svc-00007.default.svc.cluster.local'],
  forwarded: 'ops.cna',
  forwardedName: 'ctl.ops.cna',
  defaultDomain: 'example.org',
};
const COUNT = 2000;
const cat = (name: string): number => CATEGORIES.indexOf(name as (typeof CATEGORIES)[number]);

t.test('the corpus holds what each category promises', async (t) => {
  const corpus = buildCorpus(7, COUNT, NAMES, prng);
  const seen = new Set(corpus.map((d) => d.category));
  t.equal(seen.size, CATEGORIES.length, 'every category is drawn');
  const wrong = (why: string, keep: (d: (typeof corpus)[number]) => boolean): void => {
    t.same(corpus.filter((d) => !keep(d)).map((d) => d.bytes.toString('hex')), [], why);
  };
  const inCategory = (name: string, ok: (b: Buffer) => boolean) => (d: (typeof corpus)[number]): boolean => d.category !== cat(name) || ok(d.bytes);
  wrong('qr-set datagrams have QR=1', inCategory('qr-set', (b) => b.length < 3 || (b[2]! & 0x80) !== 0));
  wrong('short-header datagrams are under 12 bytes', inCategory('short-header', (b) => b.length < 12));
  const random = corpus.filter((d) => d.nonce !== 0xffff);
  t.ok(random.length > 100, 'random-name datagrams are drawn');
  wrong('random-name datagrams are queries below a served domain with the placeholder at the nonce offset', (d) => {
    if (d.nonce === 0xffff) return true;
    const name = dnsPacket.decode(d.bytes).questions?.[0]?.name ?? '';
    return d.bytes.toString('latin1', d.nonce, d.nonce + 8) === 'xxxxxxxx' &&
      /^x{8}\.(.*\.svc\.cluster\.local|ops\.cna|example\.org)$/.test(name);
  });
  t.same(buildCorpus(7, 50, NAMES, prng), corpus.slice(0, 50), 'the same seed gives the same corpus');
});

t.test('rawgen sends the corpus from many loopback sources and flags answers to QR=1', { skip: process.env.KDNS_ENGINE === 'node' ? 'no server here: one run is enough' : false }, async (t) => {
  const dir = mkdtempSync(join(os.tmpdir(), 'kdns-rawgen-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'rawgen');
  const cc = spawnSync('gcc', ['-O2', '-Wall', '-Werror', '-o', bin, join(REPO_ROOT, 'bench/loadgen/rawgen.c')], { encoding: 'utf8' });
  t.equal(cc.status, 0, `rawgen compiles without warnings: ${cc.stderr}`);
  const corpus = buildCorpus(7, COUNT, NAMES, prng);
  writeFileSync(join(dir, 'corpus.bin'), encodeCorpus(corpus));

  // The bad server: every datagram of 12 bytes or more comes back with QR set, the rest are ignored.
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  sock.setRecvBufferSize(4 << 20);
  const sources = new Set<string>();
  const clusterNames: string[] = [];
  let received = 0;
  sock.on('message', (m, rinfo) => {
    received++;
    sources.add(rinfo.address);
    if (m.length < 12) return;
    if (m.includes('\x07cluster\x05local', 12, 'latin1') && /^[0-9a-f]{8}$/.test(m.toString('latin1', 13, 21))) clusterNames.push(m.toString('latin1', 13, 21));
    const out = Buffer.from(m);
    out[2] = out[2]! | 0x80;
    sock.send(out, rinfo.port, rinfo.address);
  });
  t.teardown(() => sock.close());

  // Asynchronously: the echo server answers from this process's event loop while rawgen runs.
  const run = await promisify(execFile)(bin, [
    '--port', String(sock.address().port), '--corpus', join(dir, 'corpus.bin'), '--count', String(COUNT), '--rate', '4000',
    '--max-seconds', '20', '--sources', '16',
  ], { encoding: 'utf8', timeout: 30_000 });
  const r = JSON.parse(run.stdout) as { sent: number; sendErrors: number; responses: number; answeredQr1: number; badShort: number; badQr0: number; categories: Array<{ sent: number; responses: number }> };
  t.equal(r.sent, COUNT);
  t.equal(r.sendErrors, 0);
  for (let i = 0; i < CATEGORIES.length; i++) t.equal(r.categories[i]!.sent, corpus.filter((d) => d.category === i).length, `${CATEGORIES[i]} sent as drawn`);
  t.equal(r.badShort + r.badQr0, 0, 'the echoes are counted as well-formed responses');
  t.equal(r.categories[cat('short-header')]!.responses, 0, 'datagrams under 12 bytes get no answer');
  t.ok(r.responses > 0 && r.answeredQr1 > 0, `answers to QR=1 datagrams are flagged (${r.answeredQr1} of ${r.responses})`);
  t.ok(r.categories[cat('qr-set')]!.responses <= r.answeredQr1, 'every answered qr-set datagram is among them');
  // The kernel holds what was sent (4 MiB buffer); wait, bounded, for the echo server to read it all.
  for (let i = 0; i < 100 && received < COUNT; i++) await new Promise((res) => setTimeout(res, 50));
  t.equal(received, COUNT, 'every datagram arrived');
  t.ok(sources.size > 1 && [...sources].every((a) => a.startsWith('127.')), `${sources.size} sources, all in 127.0.0.0/8`);
  t.ok(clusterNames.length > 0);
  t.equal(new Set(clusterNames).size, clusterNames.length, 'every random-name datagram asks a different name');
});
