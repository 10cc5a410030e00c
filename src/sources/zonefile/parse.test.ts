import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadZoneFile, parseZoneText, MAX_INCLUDE_DEPTH, type ParsedZone } from './parse.js';
import { formatRdata } from '../../dns/rdata-text.js';
import { typeName } from '../../dns/constants.js';
import type { Rr } from '../../dns/types.js';

const HEAD = '$TTL 300\n@ SOA ns hm 1 2 3 4 5\n NS ns\nns A 192.0.2.53\n';

function lines(records: Rr[]): string[] {
  return records.map((r) => `${r.name} ${r.ttl} ${typeName(r.type)} ${formatRdata(r.type, r.rdata)}`);
}

/** Parses and returns only the records after HEAD's three, as text. */
function body(text: string, files: Record<string, string> = {}): string[] {
  const zone = parseZoneText(HEAD + text, {
    file: '/z/db.example', origin: 'example.com',
    readFile: (p) => {
      const f = files[p];
      if (f === undefined) throw new Error('ENOENT: no such file');
      return f;
    },
  });
  return lines(zone.records).slice(3);
}

t.test('parseZoneText: a whole zone', async (t) => {
  const zone = parseZoneText(HEAD + 'www 60 IN A 192.0.2.1\n', { file: 'db', origin: 'Example.COM.' });
  t.equal(zone.origin, 'example.com.');
  t.same(lines(zone.records), [
    'example.com. 300 SOA ns.example.com. hm.example.com. 1 2 3 4 5',
    'example.com. 300 NS ns.example.com.',
    'ns.example.com. 300 A 192.0.2.53',
    'www.example.com. 60 A 192.0.2.1',
  ]);
  t.ok(zone.records.every((r) => r.class === 1), 'class IN');
});

t.test('parseZoneText: records, table', async (t) => {
  const cases: [string, string, string[]][] = [
    ['relative and absolute owners', 'a A 1.1.1.1\nb.example.com. A 2.2.2.2\n',
      ['a.example.com. 300 A 1.1.1.1', 'b.example.com. 300 A 2.2.2.2']],
    ['@ and case folding', '@ MX 10 MAIL\nMail A 1.1.1.1\n',
      ['example.com. 300 MX 10 mail.example.com.', 'mail.example.com. 300 A 1.1.1.1']],
    ['blank owner repeats the previous one', 'x A 1.1.1.1\n  TXT "t"\n\tAAAA ::1\n',
      ['x.example.com. 300 A 1.1.1.1', 'x.example.com. 300 TXT "t"', 'x.example.com. 300 AAAA ::1']],
    ['TTL and class in either order, both optional', 'a 10 IN A 1.1.1.1\nb IN 20 A 1.1.1.1\nc IN A 1.1.1.1\nd 1h30m A 1.1.1.1\n',
      ['a.example.com. 10 A 1.1.1.1', 'b.example.com. 20 A 1.1.1.1', 'c.example.com. 300 A 1.1.1.1', 'd.example.com. 5400 A 1.1.1.1']],
    ['TYPEnnn, CLASS1 and generic RDATA', 'u CLASS1 TYPE999 \\# 2 beef\nv type1 \\# 4 01020304\n',
      ['u.example.com. 300 TYPE999 \\# 2 BEEF', 'v.example.com. 300 A 1.2.3.4']],
    ['$ORIGIN, relative to the current origin', '$ORIGIN sub\nx A 1.1.1.1\n$ORIGIN example.com.\ny A 2.2.2.2\n',
      ['x.sub.example.com. 300 A 1.1.1.1', 'y.example.com. 300 A 2.2.2.2']],
    ['$TTL changes the default', '$TTL 1d\nx A 1.1.1.1\n', ['x.example.com. 86400 A 1.1.1.1']],
    ['a TTL over 2^31-1 means 0 (RFC 2181 §8)', 'x 2147483648 A 1.1.1.1\n', ['x.example.com. 0 A 1.1.1.1']],
    ['parentheses over lines with comments', 'srv SRV ( 1 ; prio\n 2 ; weight\n 80 ) target\n',
      ['srv.example.com. 300 SRV 1 2 80 target.example.com.']],
    ['escaped dot in an owner label', 'a\\.b A 1.1.1.1\n', ['a\\.b.example.com. 300 A 1.1.1.1']],
    ['wildcard and underscore owners', '*.w A 1.1.1.1\n_sip._tcp SRV 0 0 5060 sip\n',
      ['*.w.example.com. 300 A 1.1.1.1', '_sip._tcp.example.com. 300 SRV 0 0 5060 sip.example.com.']],
    ['exact duplicates merged', 'x A 1.1.1.1\nx A 1.1.1.1\nx A 1.1.1.2\n',
      ['x.example.com. 300 A 1.1.1.1', 'x.example.com. 300 A 1.1.1.2']],
    ['an RRset takes its first TTL', 'x 10 A 1.1.1.1\nx 20 A 1.1.1.2\n',
      ['x.example.com. 10 A 1.1.1.1', 'x.example.com. 10 A 1.1.1.2']],
    ['CNAME alone is fine', 'alias CNAME www\nwww A 1.1.1.1\n',
      ['alias.example.com. 300 CNAME www.example.com.', 'www.example.com. 300 A 1.1.1.1']],
  ];
  for (const [what, text, want] of cases) t.same(body(text), want, what);
});

t.test('parseZoneText: $INCLUDE', async (t) => {
  const files = {
    '/z/inc/hosts.db': 'h1 A 10.0.0.1\n$ORIGIN deeper.example.com.\nh2 A 10.0.0.2\n',
    '/z/sub.db': ' A 10.0.0.3\nx A 10.0.0.4\n',
    '/z/loop.db': '$INCLUDE loop.db\n',
  };
  t.same(body('$INCLUDE inc/hosts.db\nafter A 10.0.0.9\n', files), [
    'h1.example.com. 300 A 10.0.0.1',
    'h2.deeper.example.com. 300 A 10.0.0.2',
    'after.example.com. 300 A 10.0.0.9', // the include's $ORIGIN does not leak out
  ], 'path relative to the including file, origin restored');
  t.same(body('before A 10.0.0.8\n$INCLUDE sub.db sub\n AAAA ::1\n', files), [
    'before.example.com. 300 A 10.0.0.8',
    'before.example.com. 300 A 10.0.0.3',
    'x.sub.example.com. 300 A 10.0.0.4',
    'before.example.com. 300 AAAA ::1',
  ], 'the origin argument sets only the origin (as BIND); the owner comes back afterwards');
  t.throws(() => body('$INCLUDE loop.db\n', files),
    { file: '/z/loop.db', line: 1, message: new RegExp(`nested at most ${MAX_INCLUDE_DEPTH} deep`) }, 'cycles stop');
  t.throws(() => body('\n$INCLUDE missing.db\n', files),
    { file: '/z/db.example', line: 6, message: /expected a readable file '\/z\/missing\.db': ENOENT/ });
  t.throws(() => body('$INCLUDE inc/hosts.db\n', { '/z/inc/hosts.db': 'ok A 1.1.1.1\nbad A 1.1.1\n' }),
    { file: '/z/inc/hosts.db', line: 2, message: /expected an IPv4 address, got '1\.1\.1'/ }, 'errors name the included file');
});

t.test('TTL defaults follow BIND without $TTL', async (t) => {
  const zone = (text: string): string[] => lines(parseZoneText(text, { file: 'db', origin: 'ex' }).records);
  t.same(zone('@ SOA ns hm 1 2 3 4 300\n NS ns\nns 60 A 1.2.3.4\nfoo A 1.2.3.5\n'), [
    'ex. 300 SOA ns.ex. hm.ex. 1 2 3 4 300', 'ex. 300 NS ns.ex.', 'ns.ex. 60 A 1.2.3.4', 'foo.ex. 300 A 1.2.3.5',
  ], 'the SOA minimum stands in for $TTL');
  t.same(zone('@ 3600 SOA ns hm 1 2 3 4 5\n NS ns\nns 60 A 1.2.3.4\nx A 1.2.3.5\n'), [
    'ex. 3600 SOA ns.ex. hm.ex. 1 2 3 4 5', 'ex. 3600 NS ns.ex.', 'ns.ex. 60 A 1.2.3.4', 'x.ex. 60 A 1.2.3.5',
  ], 'an explicit TTL first: RFC 1035 "previous TTL" semantics');
});

t.test('the origin comes from the SOA owner when not given', async (t) => {
  const zone = parseZoneText('$ORIGIN Example.NET.\n$TTL 60\n@ SOA ns hm 1 2 3 4 5\n NS ns\nns A 10.0.0.1\n', { file: 'db' });
  t.equal(zone.origin, 'example.net.');
  t.same(lines(zone.records)[1], 'example.net. 60 NS ns.example.net.');
  t.throws(() => parseZoneText('$TTL 60\n@ SOA ns hm 1 2 3 4 5\n', { file: 'db' }),
    { file: 'db', line: 2, message: /'@' used without an origin/ });
  t.throws(() => parseZoneText('$TTL 60\nx.test. A 1.1.1.1\n', { file: 'db' }), { file: 'db', line: null, message: /expected an SOA record/ });
});

t.test('parseZoneText: errors name file, line and what was expected', async (t) => {
  const cases: [string, string, number | null, RegExp][] = [
    ['bad address', 'x A 1.2.3\n', 5, /expected an IPv4 address, got '1\.2\.3'/],
    ['class other than IN', 'x CH A 1.1.1.1\n', 5, /expected class IN, got 'CH'/],
    ['unknown type', 'x 60 BOGUS 1\n', 5, /expected a TTL, class or type, got 'BOGUS'/],
    ['no type', 'x 60 IN\n', 5, /expected a record type, got the end of the record/],
    ['query-only type', 'x AXFR 1.1.1.1\n', 5, /query-only type AXFR/],
    ['ANY is a class here', 'x ANY 1.1.1.1\n', 5, /expected class IN, got 'ANY'/],
    ['two classes', 'x IN IN A 1.1.1.1\n', 5, /expected a TTL, class or type, got 'IN'/],
    ['bad TTL', '$TTL 1x\n', 5, /expected a TTL such as 3600 or 1h30m, got '1x'/],
    ['TTL beyond 32 bits', 'x 4294967296 A 1.1.1.1\n', 5, /does not fit in 32 bits/],
    ['unknown directive', '$GENERATE 1-2 x A 1.1.1.$\n', 5, /expected \$ORIGIN, \$TTL or \$INCLUDE, got '\$GENERATE'/],
    ['$ORIGIN without a name', '$ORIGIN\n', 5, /expected \$ORIGIN <domain-name>, got the end of the line/],
    ['$TTL with two values', '$TTL 1 2\n', 5, /expected \$TTL <ttl>, got '2'/],
    ['bad owner', 'a..b A 1.1.1.1\n', 5, /expected an owner name, got 'a\.\.b'/],
    ['multi-line RDATA error on its own line', 'x SRV ( 1\n 2\n port ) t\n', 7, /expected a 16-bit SRV port, got 'port'/],
    ['trailing junk', 'x MX 10 mail extra\n', 5, /expected the end of the MX record, got 'extra'/],
    ['unbalanced parenthesis', 'x A ( 1.1.1.1\n', 5, /expected '\)' to close/],
    ['outside the origin', 'www.example.org. A 1.1.1.1\n', 5, /expected a name at or below the origin example\.com\., got www\.example\.org\./],
    ['second SOA', '@ SOA ns hm 2 2 3 4 5\n', 5, /expected one SOA record, got another \(the first is at \/z\/db\.example:2\)/],
    ['SOA below the origin', 'sub SOA ns hm 2 2 3 4 5\n', 5, /expected the SOA record at the origin example\.com\., got it at sub\.example\.com\./],
    ['CNAME after other data', 'x A 1.1.1.1\nx CNAME y\n', 6, /no other data beside a CNAME, but x\.example\.com\. already has A/],
    ['other data after CNAME', 'x CNAME y\nx TXT "t"\n', 6, /no other data beside a CNAME, but x\.example\.com\. has a CNAME \(\/z\/db\.example:5\)/],
    ['two CNAMEs', 'x CNAME y\nx CNAME z\n', 6, /expected one CNAME record at x\.example\.com\./],
    ['CNAME at the apex', '@ CNAME y\n', 5, /already has SOA/],
  ];
  for (const [what, text, line, message] of cases) {
    t.throws(() => body(text), { code: 'KDNS_SOURCE_INVALID', file: '/z/db.example', line, message }, what);
  }
});

t.test('zone-level errors without a line', async (t) => {
  const parse = (text: string): ParsedZone => parseZoneText(text, { file: 'db', origin: 'ex.' });
  t.throws(() => parse('$TTL 60\n@ NS ns\nns A 1.1.1.1\n'), { file: 'db', line: null, message: /expected an SOA record at the origin ex\./ });
  t.throws(() => parse('$TTL 60\n@ SOA ns hm 1 2 3 4 5\nns A 1.1.1.1\n'), { file: 'db', line: null, message: /expected NS records at the origin ex\./ });
  t.throws(() => parse('$TTL 60\n@ SOA ns hm 1 2 3 4 5\n NS ns1\n NS ns2\nns1 A 1.1.1.1\nns2 TXT "no address"\n'),
    { file: 'db', line: 4, message: /expected an A or AAAA record for the name server ns2\.ex\., which is inside the zone/ });
  t.same(parse('$TTL 60\n@ SOA ns hm 1 2 3 4 5\n NS ns.elsewhere.\n NS ns6\nns6 AAAA ::1\n').records.length, 4,
    'out-of-zone name servers need no address here; an AAAA is enough');
  t.throws(() => parse('x A 1.1.1.1\n@ SOA ns hm 1 2 3 4 5\n'), { file: 'db', line: 1, message: /expected a TTL \(none given/ });
  t.throws(() => parse(' A 1.1.1.1\n'), { file: 'db', line: 1, message: /expected an owner name/ });
  t.throws(() => parseZoneText('', { file: 'db', origin: 'a..b' }), { file: 'db', line: null, message: /expected a zone origin name/ });
});

t.test('loadZoneFile reads from disk, latin1 bytes kept', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kdns-zone-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'db.x'), Buffer.concat([
    Buffer.from(HEAD + '$INCLUDE part.db\ntxt TXT "'), Buffer.from([0xc3, 0xa9]), Buffer.from('"\n'),
  ]));
  writeFileSync(join(dir, 'part.db'), 'p A 10.1.1.1\n');
  const zone = loadZoneFile(join(dir, 'db.x'), 'x');
  t.same(lines(zone.records).slice(3), ['p.x. 300 A 10.1.1.1', 'txt.x. 300 TXT "\\195\\169"'], 'UTF-8 bytes pass through unchanged');
  t.throws(() => loadZoneFile(join(dir, 'nope')), { code: 'KDNS_SOURCE_INVALID', message: /expected a readable file/ });
});
