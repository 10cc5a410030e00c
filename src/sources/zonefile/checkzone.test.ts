// Our parser against BIND's: named-checkzone -D prints the zone it loaded, one absolute record per line.
// Each tricky zone must give the same records here as there (compared as text, so TTLs, escapes and
// RDATA spelling all count), and each bad zone must be refused by both.

import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadZoneFile } from './parse.js';
import { formatRdata } from '../../dns/rdata-text.js';
import { typeName } from '../../dns/constants.js';

const CHECKZONE = 'named-checkzone'; // bind9-utils, found on PATH (/usr/bin on Debian)
const dir = mkdtempSync(join(tmpdir(), 'kdns-checkzone-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function write(files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text, 'latin1');
}

/** BIND's view: "name ttl IN TYPE rdata" lines with white space collapsed, sorted. */
function bind(origin: string, file: string): string[] {
  // -k/-n ignore: check-names would refuse names we deliberately test (escapes, underscores).
  // BIND resolves $INCLUDE against its working directory, we against the including file: run it there.
  const out = execFileSync(CHECKZONE, ['-q', '-k', 'ignore', '-D', '-o', '-', origin, file], { cwd: dir, encoding: 'latin1' });
  return out.split('\n').filter((l) => l.trim() !== '').map((l) => l.trim().split(/\s+/).join(' ')).sort();
}

function ours(origin: string, file: string): string[] {
  return loadZoneFile(join(dir, file), origin).records
    .map((r) => `${r.name} ${r.ttl} IN ${typeName(r.type)} ${formatRdata(r.type, r.rdata)}`).sort();
}

const GOOD: Record<string, [string, string]> = {
  'ttl-legacy.db': ['ex', [
    '; no $TTL: the SOA minimum stands in, explicit TTLs stay, an RRset keeps its first TTL',
    '@ IN SOA ns1 hostmaster ( 2024010101 ; serial',
    '        7200 3600 1209600 300 )',
    '  NS ns1',
    'ns1 60 A 192.0.2.1',
    'foo A 192.0.2.2',
    'foo 70 A 192.0.2.3',
    'bar IN 1h30m TXT "x"',
    '    TXT y',
    '',
  ].join('\n')],
  'ttl-1035.db': ['ex', [
    '@ 3600 SOA ns hm 1 2 3 4 5',
    ' NS ns',
    'ns 60 A 1.2.3.4',
    'x A 1.2.3.5 ; previous TTL, RFC 1035',
    '',
  ].join('\n')],
  'rdata.db': ['example.test', [
    '$TTL 1d',
    '$ORIGIN example.test.',
    '@ SOA ns.example.test. h\\.master 1 1h 10m 2w 60',
    '@ NS ns',
    '@ MX 10 mail',
    'ns A 192.0.2.53',
    'ns AAAA 2001:DB8::53',
    'txt TXT "a b" c "\\"q\\\\" "\\255\\000x" semi\\;colon ""',
    'hi HINFO "INTEL x86" LINUX',
    'caa CAA 0 issue "ca.example.net; account=1"',
    'caa CAA 128 iodef mailto:security@example.test',
    '_sip._tcp SRV 0 5 5060 sip',
    'sip CNAME ns',
    'old DNAME new.example.test.',
    'e\\.x A 10.0.0.1',
    '*.wild A 10.0.0.2',
    'un TYPE999 \\# 4 0A000001',
    'gen A \\# 4 0a000002',
    'deleg NS ns.deleg',
    'ns.deleg A 10.0.0.3',
    'deleg DS 1 RSASHA256 1 ( 2bb183af5f22588179a5',
    '          3b0a98631fad1a292118 )',
    'multi SRV ( 1 ; priority',
    '            2 ; weight',
    '            3 ) ns',
    '1.2 PTR ns',
    '',
  ].join('\n')],
  'include.db': ['inc.test', [
    '$TTL 300',
    '@ SOA ns hm 1 2 3 4 5',
    '  NS ns',
    'ns A 10.1.0.1',
    '$INCLUDE part.inc sub',
    '  TXT "owner restored"',
    'after A 10.1.0.9',
    '',
  ].join('\n')],
};
write({ 'part.inc': ' A 10.1.0.2\n$ORIGIN deep.sub.inc.test.\nx A 10.1.0.3\n' });

for (const [file, [origin, text]] of Object.entries(GOOD)) {
  write({ [file]: text });
  t.test(`same records as named-checkzone: ${file}`, async (t) => {
    const theirs = bind(origin, file);
    t.ok(theirs.length > 3, 'BIND loaded the zone');
    t.same(ours(origin, file), theirs);
  });
}

const BAD: Record<string, [string, RegExp]> = {
  'cname-other.db': ['$TTL 1\n@ SOA ns hm 1 2 3 4 5\n NS ns\nns A 1.1.1.1\nns CNAME x\n', /beside a CNAME/],
  'no-ns.db': ['$TTL 1\n@ SOA ns hm 1 2 3 4 5\nns A 1.1.1.1\n', /expected NS records/],
  'ns-no-address.db': ['$TTL 1\n@ SOA ns hm 1 2 3 4 5\n NS ns\n', /expected an A or AAAA record for the name server/],
  'no-soa.db': ['$TTL 1\n@ NS ns\nns A 1.1.1.1\n', /expected an SOA record/],
  'no-ttl.db': ['x A 1.1.1.1\n@ SOA ns hm 1 2 3 4 5\n NS ns\n', /expected a TTL/],
  'bad-ttl.db': ['$TTL 1H30\n@ SOA ns hm 1 2 3 4 5\n NS ns\n', /expected a TTL such as/],
  'bad-class.db': ['$TTL 1\n@ SOA ns hm 1 2 3 4 5\n NS ns\nx CH A 1.1.1.1\n', /expected class IN/],
  'unbalanced.db': ['$TTL 1\n@ SOA ns hm ( 1 2 3 4 5\n NS ns\n', /expected '\)'/],
  'txt-long.db': [`$TTL 1\n@ SOA ns hm 1 2 3 4 5\n NS ns\nx TXT "${'a'.repeat(256)}"\n`, /at most 255/],
  'generic-len.db': ['$TTL 1\n@ SOA ns hm 1 2 3 4 5\n NS ns\nx TYPE999 \\# 3 0102\n', /as \\# says/],
};

for (const [file, [text, ours]] of Object.entries(BAD)) {
  write({ [file]: text });
  t.test(`refused by both: ${file}`, async (t) => {
    const r = spawnSync(CHECKZONE, ['-q', '-o', '-', 'ex', join(dir, file)]);
    t.equal(r.error, undefined, 'named-checkzone ran');
    t.equal(r.status, 1, 'named-checkzone refuses it');
    t.throws(() => loadZoneFile(join(dir, file), 'ex'), { code: 'KDNS_SOURCE_INVALID', file: join(dir, file), message: ours });
  });
}
