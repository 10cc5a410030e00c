import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseHostsText, loadHostsFile, reverseName, DEFAULT_HOSTS_TTL } from './parse.js';
import { formatRdata } from '../../dns/rdata-text.js';
import { typeName } from '../../dns/constants.js';
import type { Rr } from '../../dns/types.js';

function lines(records: Rr[]): string[] {
  return records.map((r) => `${r.name} ${r.ttl} ${typeName(r.type)} ${formatRdata(r.type, r.rdata)}`);
}

function hosts(text: string): string[] {
  return lines(parseHostsText(text, { file: '/etc/hosts' }));
}

const V6_PTR = '4.3.2.1.' + '0.'.repeat(26) + 'd.f.ip6.arpa.'; // fd00::1234, 32 nibbles

t.test('parseHostsText: good input, table', async (t) => {
  const cases: [string, string, string[]][] = [
    ['one name', '10.1.2.3 db.hosts.test\n',
      ['db.hosts.test. 60 A 10.1.2.3', '3.2.1.10.in-addr.arpa. 60 PTR db.hosts.test.']],
    ['aliases share the address; PTR to the first name only', '10.0.0.1\tweb.lan   www.lan WEB2.lan # a comment\n',
      ['web.lan. 60 A 10.0.0.1', 'www.lan. 60 A 10.0.0.1', 'web2.lan. 60 A 10.0.0.1', '1.0.0.10.in-addr.arpa. 60 PTR web.lan.']],
    ['IPv6', 'fd00::1234 db.hosts.test\n',
      ['db.hosts.test. 60 AAAA fd00::1234', `${V6_PTR} 60 PTR db.hosts.test.`]],
    ['comments, blank lines, CRLF, no final newline', '# header\n\n   \n  # indented\r\n10.0.0.2 a.lan\r\n10.0.0.3 b.lan',
      ['a.lan. 60 A 10.0.0.2', '2.0.0.10.in-addr.arpa. 60 PTR a.lan.', 'b.lan. 60 A 10.0.0.3', '3.0.0.10.in-addr.arpa. 60 PTR b.lan.']],
    ['a trailing dot is accepted', '10.0.0.4 c.lan.\n', ['c.lan. 60 A 10.0.0.4', '4.0.0.10.in-addr.arpa. 60 PTR c.lan.']],
    ['duplicates merged; the first line owns the PTR', '10.0.0.5 d.lan\n10.0.0.5 d.lan e.lan\n10.0.0.5 f.lan\n',
      ['d.lan. 60 A 10.0.0.5', '5.0.0.10.in-addr.arpa. 60 PTR d.lan.', 'e.lan. 60 A 10.0.0.5', 'f.lan. 60 A 10.0.0.5']],
    ['a name with both families', '10.0.0.6 g.lan\n::1 g.lan\n',
      ['g.lan. 60 A 10.0.0.6', '6.0.0.10.in-addr.arpa. 60 PTR g.lan.', 'g.lan. 60 AAAA ::1', `1.${'0.'.repeat(31)}ip6.arpa. 60 PTR g.lan.`]],
    ['two spellings of one IPv6 address merge', 'fd00::1234 h.lan\nFD00:0:0:0:0:0:0:1234 h.lan\n',
      ['h.lan. 60 AAAA fd00::1234', `${V6_PTR} 60 PTR h.lan.`]],
    ['single-label names', '127.0.0.1 localhost\n', ['localhost. 60 A 127.0.0.1', '1.0.0.127.in-addr.arpa. 60 PTR localhost.']],
    ['empty file', '', []],
  ];
  for (const [what, text, want] of cases) t.same(hosts(text), want, what);
});

t.test('parseHostsText: TTL option', async (t) => {
  t.equal(DEFAULT_HOSTS_TTL, 60);
  const rrs = parseHostsText('10.0.0.1 a.lan\n', { file: 'h', ttl: 5 });
  t.same(rrs.map((r) => r.ttl), [5, 5]);
  t.ok(rrs.every((r) => r.class === 1), 'class IN');
  t.throws(() => parseHostsText('', { file: 'h', ttl: -1 }), { code: 'KDNS_SOURCE_INVALID', file: 'h', line: null, message: /expected a TTL/ });
});

t.test('parseHostsText: bad lines name file, line and what was expected', async (t) => {
  const cases: [string, number, RegExp][] = [
    ['10.0.0.1 ok.lan\n10.0.0 bad.lan\n', 2, /expected an IPv4 or IPv6 address, got '10\.0\.0'/],
    ['fe80::1%eth0 link.lan\n', 1, /expected an IP address without a zone index, got 'fe80::1%eth0'/],
    ['# c\n\n10.0.0.1\n', 3, /expected a host name after '10\.0\.0\.1'/],
    ['10.0.0.1 # only a comment\n', 1, /expected a host name after '10\.0\.0\.1'/],
    ['web.lan 10.0.0.1\n', 1, /expected an IPv4 or IPv6 address, got 'web\.lan'/],
    ['10.0.0.1 a..b\n', 1, /expected a host name, got 'a\.\.b'.*empty label/],
    [`10.0.0.1 ${'x'.repeat(64)}.lan\n`, 1, /label longer than 63/],
    ['1.2.3.256 x.lan\n', 1, /expected an IPv4 or IPv6 address/],
  ];
  for (const [text, line, message] of cases) {
    t.throws(() => parseHostsText(text, { file: '/etc/hosts' }),
      { code: 'KDNS_SOURCE_INVALID', file: '/etc/hosts', line, message }, JSON.stringify(text));
  }
});

t.test('reverseName is re-exported for the Kubernetes source', async (t) => {
  t.equal(reverseName('10.1.2.3'), '3.2.1.10.in-addr.arpa.');
});

t.test('loadHostsFile reads from disk', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kdns-hosts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'hosts');
  writeFileSync(file, '10.9.9.9 disk.lan\n');
  t.same(lines(loadHostsFile(file, 30)), ['disk.lan. 30 A 10.9.9.9', '9.9.9.10.in-addr.arpa. 30 PTR disk.lan.']);
  t.throws(() => loadHostsFile(join(dir, 'missing')), { code: 'KDNS_SOURCE_INVALID', message: /expected a readable hosts file/ });
});
