// The comparator must catch what matters and ignore what does not. Synthetic answers first, then
// named against itself (no differences) and against a named serving a zone with one change injected.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dnsPacket from 'dns-packet';
import { compareAnswers, formatDiffs } from './compare.js';
import { generateCorpus, readZone, type CorpusQuery } from './corpus.js';
import { runCorpus } from './runner.js';
import { startNamed } from '../helpers/named.js';
import { fixtureZones } from './zones.js';

type Packet = Parameters<typeof dnsPacket.encode>[0];
type Answer = NonNullable<Packet['answers']>[number];

const q: CorpusQuery = { id: 77, name: 'www.Example.test.', type: 1, rd: false, edns: { udp: 1232, do: false }, tcp: false };

function base(): Packet {
  return {
    type: 'response',
    id: 77,
    flags: dnsPacket.AUTHORITATIVE_ANSWER,
    questions: [{ type: 'A', class: 'IN', name: 'www.Example.test' }],
    answers: [
      { type: 'A', class: 'IN', name: 'www.example.test', ttl: 3600, data: '192.0.2.80' },
      { type: 'A', class: 'IN', name: 'www.example.test', ttl: 3600, data: '192.0.2.81' },
    ],
    authorities: [],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, flags: 0, options: [] } as unknown as Answer],
  };
}

function enc(mut: (p: Packet) => void = () => {}): Buffer {
  const p = base();
  mut(p);
  return dnsPacket.encode(p);
}

t.test('identical and equivalent answers agree', async (t) => {
  t.same(compareAnswers(enc(), enc(), q), []);
  t.same(compareAnswers(enc(), enc((p) => p.answers!.reverse()), q), [], 'record order ignored');
  t.same(
    compareAnswers(enc(), enc((p) => { p.answers![0].name = 'WWW.EXAMPLE.TEST'; }), q),
    [],
    'owner name case ignored',
  );
  t.same(
    compareAnswers(enc(), enc((p) => {
      p.additionals = [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: 0,
        options: [{ code: 10, data: Buffer.alloc(24, 1) }] } as unknown as Answer];
    }), q),
    [],
    'OPT size and options ignored',
  );
  t.same(compareAnswers(new Error('timeout'), new Error('timeout'), q), [], 'both silent');
});

t.test('differences that matter are reported', async (t) => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['TTL', enc((p) => { (p.answers![1] as { ttl: number }).ttl = 300; }), /answer: only kdns: www\.example\.test\. 300 IN A 192\.0\.2\.81/],
    ['missing record', enc((p) => { p.answers!.pop(); }), /answer: only bind: .*192\.0\.2\.81/],
    ['AA', enc((p) => { p.flags = 0; }), /^AA: bind 1, kdns 0$/],
    ['TC', enc((p) => { p.flags = dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.TRUNCATED_RESPONSE; }), /^TC: bind 0, kdns 1$/],
    ['RA', enc((p) => { p.flags = dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE; }), /^RA:/],
    ['rcode', enc((p) => { p.flags = dnsPacket.AUTHORITATIVE_ANSWER | 3; }), /^rcode: bind NOERROR, kdns NXDOMAIN$/],
    ['extended rcode', enc((p) => {
      p.additionals = [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 1, flags: 0, options: [] } as unknown as Answer];
    }), /^rcode: bind NOERROR, kdns BADVERS$/],
    ['question case', enc((p) => { p.questions![0].name = 'www.example.test'; }), /^question:/],
    ['OPT missing', enc((p) => { p.additionals = []; }), /^OPT: bind present .*, kdns absent$/],
    ['DO echoed', enc((p) => {
      p.additionals = [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0x8000, options: [] } as unknown as Answer];
    }), /^OPT:/],
    ['extra authority', enc((p) => {
      p.authorities = [{ type: 'NS', class: 'IN', name: 'example.test', ttl: 3600, data: 'ns1.example.test' }];
    }), /^authority: only kdns: example\.test\. 3600 IN NS ns1\.example\.test\.$/],
    ['extra additional', enc((p) => {
      p.additionals!.push({ type: 'AAAA', class: 'IN', name: 'ns1.example.test', ttl: 3600, data: '2001:db8::53' });
    }), /^additional: only kdns:/],
    ['duplicate record', enc((p) => { p.answers!.push(p.answers![0]); }), /^answer: only kdns: .*192\.0\.2\.80$/],
    ['ID', enc((p) => { p.id = 78; }), /kdns: answer ID 78 is not the query ID 77/],
    ['garbage', Buffer.from([0, 77, 0x84]), /undecodable/],
  ];
  for (const [name, other, re] of cases) {
    const problems = compareAnswers(enc(), other, q);
    t.ok(problems.some((p) => re.test(p)), `${name}: ${JSON.stringify(problems)}`);
  }
  t.match(compareAnswers(enc(), new Error('UDP query timed out'), q)[0], /kdns: no answer/, 'one side silent');
});

t.test('truncated answers: flags and rcode only, unless strictTc', async (t) => {
  const tc = (mut: (p: Packet) => void = () => {}): Buffer => enc((p) => {
    p.flags = dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.TRUNCATED_RESPONSE;
    mut(p);
  });
  const emptyTc = tc((p) => { p.answers = []; });
  t.same(compareAnswers(tc(), emptyTc, q), [], 'sections ignored when both have TC');
  t.ok(compareAnswers(tc(), emptyTc, q, { strictTc: true }).length > 0, 'strictTc compares them');
  t.ok(compareAnswers(tc(), tc((p) => { p.flags! |= 3; }), q).some((s) => s.startsWith('rcode')), 'rcode still compared');
});

t.test('UDP answers above the client limit are reported', async (t) => {
  const many = enc((p) => {
    p.answers = Array.from({ length: 40 }, (_, i) => ({ type: 'A', class: 'IN', name: 'www.example.test', ttl: 1, data: `10.0.0.${i}` }) as Answer);
    p.additionals = [];
  });
  const noEdns: CorpusQuery = { ...q, edns: null };
  t.ok(many.length > 512);
  t.ok(compareAnswers(many, many, noEdns).some((s) => /exceeds the client's limit of 512/.test(s)));
  t.same(compareAnswers(many, many, { ...noEdns, tcp: true }), [], 'no limit over TCP');
});

t.test('named against itself, and against a zone with one injected change', async (t) => {
  const zones = fixtureZones();
  const corpus = generateCorpus(zones.map((z) => readZone(z.file, z.origin)), { seed: 3, count: 600 });
  const dir = mkdtempSync(path.join(tmpdir(), 'kdns-diff-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // The change: www.other.test. A gets TTL 1799 instead of the zone default 1800.
  const other = zones.find((z) => z.origin === 'other.test.')!;
  const mutated = path.join(dir, 'other.test.zone');
  const text = readFileSync(other.file, 'utf8');
  const changed = text.replace(/^www\tA 198\.51\.100\.80$/m, 'www\t1799 A 198.51.100.80');
  t.not(changed, text, 'the fixture has the line the test mutates');
  writeFileSync(mutated, changed);

  const a = await startNamed(zones);
  t.teardown(() => a.stop());
  const b = await startNamed(zones);
  t.teardown(() => b.stop());
  const c = await startNamed(zones.map((z) => (z === other ? { ...z, file: mutated } : z)));
  t.teardown(() => c.stop());

  const same = await runCorpus(corpus, a.port, b.port, { labels: ['named#1', 'named#2'] });
  t.equal(same.failed, 0, formatDiffs(same.diffs, 20));
  t.equal(same.passed, corpus.length);

  const probe: CorpusQuery[] = [
    { id: 1, name: 'WWW.other.test.', type: 1, rd: false, edns: null, tcp: false },
    { id: 2, name: 'www.other.TEST.', type: 1, rd: true, edns: { udp: 1232, do: false }, tcp: true },
    { id: 3, name: 'ns1.other.test.', type: 1, rd: false, edns: null, tcp: false },
  ];
  const diff = await runCorpus(probe, a.port, c.port, { labels: ['named', 'mutated'] });
  t.equal(diff.failed, 2, formatDiffs(diff.diffs));
  t.match(formatDiffs(diff.diffs), /only mutated: www\.other\.test\. 1799 IN A 198\.51\.100\.80/);
  t.equal(diff.passed, 1, 'the untouched name still agrees');
});

t.test('a silent server stops the run early, and what was not run fails', async (t) => {
  const zones = fixtureZones();
  const corpus = generateCorpus(zones.map((z) => readZone(z.file, z.origin)), { seed: 5, count: 300 });
  const named = await startNamed(zones.slice(0, 1));
  t.teardown(() => named.stop());
  const { freePort } = await import('../helpers/named.js');
  const dead = await freePort(); // nothing listens there
  const started = Date.now();
  const res = await runCorpus(corpus, named.port, dead, { timeoutMs: 150, maxSilent: 5, concurrency: 4 });
  t.ok(Date.now() - started < 10_000, 'bounded time');
  t.equal(res.passed, 0);
  t.equal(res.failed, corpus.length, 'every query counts as failed');
  t.ok(res.diffs.some((d) => d.problems.some((p) => p.startsWith('not run (stopped: more than 5'))), 'says why it stopped');
  t.ok(res.diffs.some((d) => d.problems.some((p) => /kdns: no answer/.test(p))), 'reports the silence');
});

t.test('optional additional records: allowed only where a server may leave them out', async (t) => {
  const q = (extra: object) => dnsPacket.encode({
    type: 'response', id: 7, flags: dnsPacket.AUTHORITATIVE_ANSWER,
    questions: [{ name: 'example.test', type: 'MX', class: 'IN' }],
    answers: [{ name: 'example.test', type: 'MX', ttl: 60, data: { preference: 10, exchange: 'mail.example.test' } }],
    ...extra,
  });
  const glue = { additionals: [{ name: 'mail.example.test', type: 'A', ttl: 60, data: '192.0.2.1' }] };
  const other = { additionals: [{ name: 'www.example.test', type: 'A', ttl: 60, data: '192.0.2.9' }] };
  // kdns adds the target's address where bind left it out: fine.
  t.same(compareAnswers(q({}), q(glue)), []);
  // kdns leaves out an address bind sent, in a small message over UDP: a real difference.
  t.not(compareAnswers(q(glue), q({}), { id: 7, name: 'example.test.', type: 15, rd: false, tcp: false, edns: null }).length, 0);
  // an address that is not a target's is never optional.
  t.not(compareAnswers(q({}), q(other)).length, 0);
  // strict mode compares exactly.
  t.not(compareAnswers(q({}), q(glue), undefined, { strictAdditional: true }).length, 0);
});
