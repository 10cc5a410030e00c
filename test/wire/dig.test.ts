// dig (BIND) and kdig (Knot) against kdns over UDP and TCP: status and flags, answers, the question
// echoed with its case, EDNS buffer sizes, TC on large answers and the full answer over TCP.
import t from 'tap';
import { startKdns, wireArgs } from '../helpers/kdns-process.js';
import { rdataOf, runDig, type DigResult } from './clients.js';

const kdns = await startKdns(wireArgs(), { t });
const P = kdns.port;
const BIG = 100; // A records at big.example.test
const show = (r: DigResult): string => r.raw.slice(0, 3000);

for (const bin of ['dig', 'kdig'] as const) {
  t.test(`${bin}: basic answers over UDP and TCP`, async (t) => {
    for (const transport of [[], ['+tcp']]) {
      const label = `${bin} ${transport.join(' ') || 'udp'}`;
      const a = await runDig(bin, P, [...transport, 'www.example.test', 'A']);
      t.equal(a.code, 0, `${label}: exit 0`);
      t.equal(a.status, 'NOERROR', `${label}: NOERROR`, { output: show(a) });
      t.ok(a.flags.includes('qr') && a.flags.includes('aa'), `${label}: qr aa set (${a.flags})`);
      t.notOk(a.flags.includes('tc'), `${label}: no tc`);
      t.same(rdataOf(a.answer, 'A'), ['192.0.2.20'], `${label}: A`);

      const mx = await runDig(bin, P, [...transport, 'example.test', 'MX']);
      t.same(rdataOf(mx.answer, 'MX').sort(), ['10 mail.example.test.', '20 mail2.example.test.'], `${label}: MX`);

      const nx = await runDig(bin, P, [...transport, 'nope.example.test', 'A']);
      t.equal(nx.status, 'NXDOMAIN', `${label}: NXDOMAIN`);
      t.equal(nx.answer.length, 0);
      t.same(nx.authority.map((f) => f[3]), ['SOA'], `${label}: SOA in authority for NXDOMAIN`);

      const nd = await runDig(bin, P, [...transport, 'www.example.test', 'MX']);
      t.equal(nd.status, 'NOERROR', `${label}: NODATA is NOERROR`);
      t.equal(nd.answer.length, 0, `${label}: NODATA has no answer`);
      t.same(nd.authority.map((f) => f[3]), ['SOA'], `${label}: SOA in authority for NODATA`);

      const cn = await runDig(bin, P, [...transport, 'alias.example.test', 'A']);
      t.same(rdataOf(cn.answer, 'CNAME'), ['alias2.example.test.', 'www.example.test.'], `${label}: CNAME chain in order`);
      t.same(rdataOf(cn.answer, 'A'), ['192.0.2.20'], `${label}: chain ends in the A`);
    }
  });

  t.test(`${bin}: +norec gets the same authoritative answer without rd`, async (t) => {
    const a = await runDig(bin, P, ['+norec', 'www.example.test', 'A']);
    t.equal(a.status, 'NOERROR', 'NOERROR', { output: show(a) });
    t.notOk(a.flags.includes('rd'), `rd not echoed when not asked (${a.flags})`);
    t.ok(a.flags.includes('aa'));
    t.same(rdataOf(a.answer, 'A'), ['192.0.2.20']);
    const rec = await runDig(bin, P, ['+rec', 'www.example.test', 'A']);
    t.ok(rec.flags.includes('rd'), `rd echoed when asked (${rec.flags})`);
  });

  t.test(`${bin}: +bufsize variants`, async (t) => {
    for (const size of [512, 1232, 4096, 65535]) {
      const a = await runDig(bin, P, [`+bufsize=${size}`, 'txt.example.test', 'TXT']);
      t.equal(a.status, 'NOERROR', `bufsize=${size}`, { output: show(a) });
      t.same(rdataOf(a.answer, 'TXT'), ['"hello world" "second string"'], `bufsize=${size}: TXT`);
      t.match(a.edns, /udp( size)?:? 1232/, `bufsize=${size}: server advertises 1232`);
    }
  });

  t.test(`${bin}: +nsid and +cookie do not break answers`, async (t) => {
    for (const opt of [['+nsid'], ['+cookie'], ['+nsid', '+cookie'], ['+cookie=0102030405060708']]) {
      const a = await runDig(bin, P, [...opt, 'www.example.test', 'AAAA']);
      t.equal(a.status, 'NOERROR', `${opt.join(' ')}`, { output: show(a) });
      t.same(rdataOf(a.answer, 'AAAA'), ['2001:db8::20'], `${opt.join(' ')}: AAAA`);
    }
  });

  t.test(`${bin}: large answer truncates over UDP, comes whole over TCP`, async (t) => {
    for (const [label, args, limit] of [
      ['no EDNS', ['+noedns'], 512],
      ['bufsize=512', ['+bufsize=512'], 512],
      ['bufsize=1232', ['+bufsize=1232'], 1232],
    ] as const) {
      const u = await runDig(bin, P, ['+ignore', ...args, 'big.example.test', 'A']);
      t.equal(u.code, 0, `${label}: exit 0`);
      t.ok(u.flags.includes('tc'), `${label}: TC=1 (${u.flags})`, { output: show(u) });
      t.ok(u.answer.length < BIG, `${label}: partial answer (${u.answer.length} < ${BIG})`);
      const size = /(?:MSG SIZE\s+rcvd:|Received)\s*(\d+)/.exec(u.raw);
      t.ok(size && Number(size[1]) <= limit, `${label}: response ≤ ${limit} bytes (${size?.[1]})`);
      const full = await runDig(bin, P, ['+tcp', ...args, 'big.example.test', 'A']);
      t.equal(full.status, 'NOERROR', `${label} +tcp`);
      t.notOk(full.flags.includes('tc'), `${label} +tcp: no TC`);
      t.equal(full.answer.length, BIG, `${label} +tcp: all ${BIG} records`);
    }
    // Without +ignore the client retries over TCP by itself and gets everything.
    const auto = await runDig(bin, P, ['+noedns', 'big.example.test', 'A']);
    t.equal(auto.answer.length, BIG, 'automatic TCP retry gets the whole RRset');
  });
}

t.test('dig: mixed-case qname echoed unchanged in the question', async (t) => {
  for (const transport of [[], ['+tcp']]) {
    const a = await runDig('dig', P, [...transport, 'wWw.ExAmPlE.TeSt', 'A']);
    t.equal(a.status, 'NOERROR', 'NOERROR', { output: show(a) });
    t.match(a.question[0] ?? '', /^wWw\.ExAmPlE\.TeSt\.\s+IN\s+A$/, `question echoed (${a.question[0]})`);
    t.same(rdataOf(a.answer, 'A'), ['192.0.2.20']);
  }
  const w = await runDig('dig', P, ['FoO.WiLd.example.test', 'A']);
  t.match(w.question[0] ?? '', /^FoO\.WiLd\.example\.test\./, 'wildcard question echoed');
  t.same(rdataOf(w.answer, 'A'), ['192.0.2.40']);
});

t.test('dig: delegation gives a referral with glue', async (t) => {
  const a = await runDig('dig', P, ['+norec', 'host.sub.example.test', 'A']);
  t.equal(a.status, 'NOERROR', 'NOERROR', { output: show(a) });
  t.notOk(a.flags.includes('aa'), 'referral is not authoritative');
  t.equal(a.answer.length, 0);
  t.same(rdataOf(a.authority, 'NS'), ['ns.sub.example.test.'], 'NS of the child in authority');
  t.same(rdataOf(a.additional, 'A'), ['192.0.2.53'], 'glue in additional');
});

t.test('dig: CHAOS version.bind and id.server', async (t) => {
  for (const name of ['version.bind', 'id.server']) {
    const a = await runDig('dig', P, ['-c', 'CH', '-t', 'TXT', '-q', name]);
    t.equal(a.status, 'NOERROR', `${name}`, { output: show(a) });
    t.equal(a.answer.length, 1, `${name}: one TXT`);
    t.equal(a.answer[0]?.[2], 'CH', `${name}: class CH`);
  }
});

t.test('server still alive', async (t) => {
  t.ok(kdns.alive());
  t.equal(await kdns.stop(), 0);
});
