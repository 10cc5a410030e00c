// The authoritative-answer cases, as data: zones written like master files and, per query, the rcode,
// AA bit and sections expected. Every expectation was checked against bind 9.18 serving the same zones
// with `recursion no; minimal-responses no-auth;` (bind rotates RRsets; we keep stored order), so the
// differential test can replay these against bind too. `TYPE0` lines (the exists-without-data mark) have
// no master-file equivalent: cases marked `kdnsOnly` depend on one.

// RFC 4592 §2.2.1, verbatim apart from concrete SOA and SRV data.
const RFC4592 = `
example.                 SOA   ns.example.com. hostmaster.example. 1 7200 3600 1209600 300
example.                 NS    ns.example.com.
example.                 NS    ns.example.net.
*.example.               TXT   "this is a wildcard"
*.example.               MX    10 host1.example.
sub.*.example.           TXT   "this is not a wildcard"
host1.example.           A     192.0.2.1
_ssh._tcp.host1.example. SRV   0 0 22 host1.example.
_ssh._tcp.host2.example. SRV   0 0 22 host2.example.
subdel.example.          NS    ns.example.com.
subdel.example.          NS    ns.example.net.
`;

const TEST = `
@ SOA ns1 hostmaster 1 7200 3600 1209600 600
  NS ns1
  NS ns2.other.
  MX 10 mail
  MX 20 mx.other.
  MX 30 www.child                ; in a child zone we serve: no additional
ns1 A 192.0.2.1
    AAAA 2001:db8::1
www A 192.0.2.10
    A 192.0.2.11
    TXT "www"
mail A 192.0.2.20
mx2 MX 10 host.deleg             ; glue is not authoritative: no additional
    MX 20 mail
_sip._tcp SRV 0 5 5060 www
          SRV 1 5 5060 ns.deleg
dup MX 10 dup
    MX 20 dup
    A 192.0.2.99
    AAAA 2001:db8::99
wmx MX 10 foo.wild
    MX 20 mail
wsrv SRV 0 0 80 foo.cw           ; a wildcard CNAME: no additional
alias CNAME www
alias2 CNAME alias
loop1 CNAME loop2
loop2 CNAME loop1
self CNAME self
dangling CNAME nothere
out CNAME www.other.
tochild CNAME www.child
todeleg CNAME host.deleg
toent CNAME c.ent
towild CNAME foo.wild
towildcw CNAME foo.cw
a.b.c.ent A 192.0.2.30
*.wild A 192.0.2.40
       TXT "wild"
sub.wild A 192.0.2.41
x.y.wild A 192.0.2.42
*.cw CNAME www
*.cwl CNAME a.cwl
*.cwn CNAME nothere
deleg NS ns.deleg
      NS ns2.other.
      NS ns1
ns.deleg A 192.0.2.50
         AAAA 2001:db8::50
host.deleg A 192.0.2.51
deleg2 NS deleg2                 ; glue at the cut itself and below another cut both count
       NS ns.child
       A 192.0.2.78
deleg3 NS ns1                    ; only an in-zone authoritative target: no glue
child NS ns.child
ns.child A 192.0.2.60
empty TYPE0
c10 CNAME c11
c11 CNAME c12
c12 CNAME c13
c13 CNAME c14
c14 CNAME c15
c15 CNAME c16
c16 CNAME c17
c17 CNAME c18
c18 CNAME c19
c19 CNAME c20
c20 CNAME www
c9 CNAME c10
d12 CNAME www.other.
d11 CNAME d12
d10 CNAME d11
d9 CNAME d10
d8 CNAME d9
d7 CNAME d8
d6 CNAME d7
d5 CNAME d6
d4 CNAME d5
d3 CNAME d4
d2 CNAME d3
d1 CNAME d2
`;

const CHILD = `
@ 300 SOA ns hostmaster 5 7200 3600 1209600 60
@ 300 NS ns
ns 300 A 192.0.2.60
www 300 A 192.0.2.61
back 300 CNAME www.test.
`;

/** The zones the cases run against, all served together. */
export const CASE_ZONES: { origin: string; text: string }[] = [
  { origin: 'example.', text: RFC4592 },
  { origin: 'test.', text: TEST },
  { origin: 'child.test.', text: CHILD },
];

const SOA_EX = 'example. 300 SOA ns.example.com. hostmaster.example. 1 7200 3600 1209600 300';
const SOA_T = 'test. 600 SOA ns1.test. hostmaster.test. 1 7200 3600 1209600 600';
const SUBDEL = ['subdel.example. 3600 NS ns.example.com.', 'subdel.example. 3600 NS ns.example.net.'];
const DELEG = ['deleg.test. 3600 NS ns.deleg.test.', 'deleg.test. 3600 NS ns2.other.', 'deleg.test. 3600 NS ns1.test.'];
const DELEG_GLUE = ['ns.deleg.test. 3600 A 192.0.2.50', 'ns.deleg.test. 3600 AAAA 2001:db8::50'];
const WWW_A = ['www.test. 3600 A 192.0.2.10', 'www.test. 3600 A 192.0.2.11'];
const chain = (prefix: string, from: number, to: number, last: string): string[] =>
  Array.from({ length: to - from + 1 }, (_, i) =>
    `${prefix}${from + i}.test. 3600 CNAME ${from + i === to ? last : `${prefix}${from + i + 1}.test.`}`);

export type LookupCase = [qname: string, qtype: string, rcode: string, aa: boolean, answer: string[], authority: string[], additional: string[]];

export const LOOKUP_CASES: LookupCase[] = [
  // RFC 4592 §2.2.1 examples.
  ['host3.example.', 'MX', 'NOERROR', true, ['host3.example. 3600 MX 10 host1.example.'], [], ['host1.example. 3600 A 192.0.2.1']],
  ['host3.example.', 'A', 'NOERROR', true, [], [SOA_EX], []],
  ['foo.bar.example.', 'TXT', 'NOERROR', true, ['foo.bar.example. 3600 TXT "this is a wildcard"'], [], []],
  ['host1.example.', 'MX', 'NOERROR', true, [], [SOA_EX], []],
  ['sub.*.example.', 'MX', 'NOERROR', true, [], [SOA_EX], []],
  ['_telnet._tcp.host1.example.', 'SRV', 'NXDOMAIN', true, [], [SOA_EX], []],
  ['host.subdel.example.', 'A', 'NOERROR', false, [], SUBDEL, []],
  ['ghost.*.example.', 'MX', 'NXDOMAIN', true, [], [SOA_EX], []],
  ['host2.example.', 'A', 'NOERROR', true, [], [SOA_EX], []], // ENT: the wildcard does not apply
  ['_tcp.host2.example.', 'SRV', 'NOERROR', true, [], [SOA_EX], []],
  ['*.example.', 'TXT', 'NOERROR', true, ['*.example. 3600 TXT "this is a wildcard"'], [], []],
  ['example.', 'SOA', 'NOERROR', true, ['example. 3600 SOA ns.example.com. hostmaster.example. 1 7200 3600 1209600 300'], [], []],
  ['example.', 'NS', 'NOERROR', true, ['example. 3600 NS ns.example.com.', 'example. 3600 NS ns.example.net.'], [], []],
  // Delegation: NS, SOA and anything at or below the cut is a referral; DS at the cut is the parent's.
  ['subdel.example.', 'NS', 'NOERROR', false, [], SUBDEL, []],
  ['subdel.example.', 'SOA', 'NOERROR', false, [], SUBDEL, []],
  ['subdel.example.', 'DS', 'NOERROR', true, [], [SOA_EX], []],
  ['x.deleg.test.', 'DS', 'NOERROR', false, [], DELEG, DELEG_GLUE],
  ['deleg.test.', 'A', 'NOERROR', false, [], DELEG, DELEG_GLUE],
  ['deleg.test.', 'ANY', 'NOERROR', false, [], DELEG, DELEG_GLUE],
  ['ns.deleg.test.', 'A', 'NOERROR', false, [], DELEG, DELEG_GLUE], // glue is never answered with authority
  ['x.host.deleg.test.', 'A', 'NOERROR', false, [], DELEG, DELEG_GLUE],
  ['deleg2.test.', 'A', 'NOERROR', false, [], ['deleg2.test. 3600 NS deleg2.test.', 'deleg2.test. 3600 NS ns.child.test.'],
    ['deleg2.test. 3600 A 192.0.2.78', 'ns.child.test. 3600 A 192.0.2.60']],
  ['deleg3.test.', 'A', 'NOERROR', false, [], ['deleg3.test. 3600 NS ns1.test.'], []],
  // Apex and additional-section processing.
  ['test.', 'NS', 'NOERROR', true, ['test. 3600 NS ns1.test.', 'test. 3600 NS ns2.other.'], [],
    ['ns1.test. 3600 A 192.0.2.1', 'ns1.test. 3600 AAAA 2001:db8::1']],
  ['test.', 'MX', 'NOERROR', true, ['test. 3600 MX 10 mail.test.', 'test. 3600 MX 20 mx.other.', 'test. 3600 MX 30 www.child.test.'], [],
    ['mail.test. 3600 A 192.0.2.20']],
  ['mx2.test.', 'MX', 'NOERROR', true, ['mx2.test. 3600 MX 10 host.deleg.test.', 'mx2.test. 3600 MX 20 mail.test.'], [],
    ['mail.test. 3600 A 192.0.2.20']],
  ['_sip._tcp.test.', 'SRV', 'NOERROR', true, ['_sip._tcp.test. 3600 SRV 0 5 5060 www.test.', '_sip._tcp.test. 3600 SRV 1 5 5060 ns.deleg.test.'], [], WWW_A],
  ['dup.test.', 'MX', 'NOERROR', true, ['dup.test. 3600 MX 10 dup.test.', 'dup.test. 3600 MX 20 dup.test.'], [],
    ['dup.test. 3600 A 192.0.2.99', 'dup.test. 3600 AAAA 2001:db8::99']],
  ['wmx.test.', 'MX', 'NOERROR', true, ['wmx.test. 3600 MX 10 foo.wild.test.', 'wmx.test. 3600 MX 20 mail.test.'], [],
    ['foo.wild.test. 3600 A 192.0.2.40', 'mail.test. 3600 A 192.0.2.20']],
  ['wsrv.test.', 'SRV', 'NOERROR', true, ['wsrv.test. 3600 SRV 0 0 80 foo.cw.test.'], [], []],
  // CNAME chains.
  ['alias.test.', 'A', 'NOERROR', true, ['alias.test. 3600 CNAME www.test.', ...WWW_A], [], []],
  ['alias2.test.', 'TXT', 'NOERROR', true, ['alias2.test. 3600 CNAME alias.test.', 'alias.test. 3600 CNAME www.test.', 'www.test. 3600 TXT "www"'], [], []],
  ['alias.test.', 'CNAME', 'NOERROR', true, ['alias.test. 3600 CNAME www.test.'], [], []],
  ['alias.test.', 'MX', 'NOERROR', true, ['alias.test. 3600 CNAME www.test.'], [SOA_T], []],
  ['loop1.test.', 'A', 'SERVFAIL', true, ['loop1.test. 3600 CNAME loop2.test.', 'loop2.test. 3600 CNAME loop1.test.'], [], []],
  ['self.test.', 'A', 'SERVFAIL', true, ['self.test. 3600 CNAME self.test.'], [], []],
  ['dangling.test.', 'A', 'NXDOMAIN', true, ['dangling.test. 3600 CNAME nothere.test.'], [SOA_T], []],
  ['out.test.', 'A', 'NOERROR', true, ['out.test. 3600 CNAME www.other.'], [], []],
  ['tochild.test.', 'A', 'NOERROR', true, ['tochild.test. 3600 CNAME www.child.test.'], [], []],
  ['back.child.test.', 'A', 'NOERROR', true, ['back.child.test. 300 CNAME www.test.'], [], []],
  ['todeleg.test.', 'A', 'NOERROR', true, ['todeleg.test. 3600 CNAME host.deleg.test.'], DELEG, DELEG_GLUE],
  ['toent.test.', 'A', 'NOERROR', true, ['toent.test. 3600 CNAME c.ent.test.'], [SOA_T], []],
  ['c10.test.', 'A', 'NOERROR', true, [...chain('c', 10, 20, 'www.test.'), ...WWW_A], [], []], // 11 CNAMEs: followed
  ['c9.test.', 'A', 'SERVFAIL', true, chain('c', 9, 20, 'www.test.'), [], []], // a 12th that points on: cut short
  ['d1.test.', 'A', 'SERVFAIL', true, chain('d', 1, 12, 'www.other.'), [], []], // even when it points out of zone
  // Wildcards.
  ['foo.wild.test.', 'A', 'NOERROR', true, ['foo.wild.test. 3600 A 192.0.2.40'], [], []],
  ['a.b.wild.test.', 'TXT', 'NOERROR', true, ['a.b.wild.test. 3600 TXT "wild"'], [], []],
  ['foo.wild.test.', 'MX', 'NOERROR', true, [], [SOA_T], []], // NODATA from a wildcard
  ['sub.wild.test.', 'TXT', 'NOERROR', true, [], [SOA_T], []], // an existing name is never matched
  ['y.wild.test.', 'A', 'NOERROR', true, [], [SOA_T], []], // nor is an ENT
  ['z.x.y.wild.test.', 'A', 'NXDOMAIN', true, [], [SOA_T], []], // closest encloser x.y.wild has no wildcard
  ['*.wild.test.', 'A', 'NOERROR', true, ['*.wild.test. 3600 A 192.0.2.40'], [], []],
  ['foo.cw.test.', 'A', 'NOERROR', true, ['foo.cw.test. 3600 CNAME www.test.', ...WWW_A], [], []],
  ['foo.cw.test.', 'CNAME', 'NOERROR', true, ['foo.cw.test. 3600 CNAME www.test.'], [], []],
  ['foo.cwn.test.', 'A', 'NXDOMAIN', true, ['foo.cwn.test. 3600 CNAME nothere.test.'], [SOA_T], []],
  ['foo.cwl.test.', 'A', 'SERVFAIL', true, ['foo.cwl.test. 3600 CNAME a.cwl.test.', 'a.cwl.test. 3600 CNAME a.cwl.test.'], [], []],
  ['towild.test.', 'TXT', 'NOERROR', true, ['towild.test. 3600 CNAME foo.wild.test.', 'foo.wild.test. 3600 TXT "wild"'], [], []],
  ['towildcw.test.', 'A', 'NOERROR', true, ['towildcw.test. 3600 CNAME foo.cw.test.', 'foo.cw.test. 3600 CNAME www.test.', ...WWW_A], [], []],
  // ENTs, the type-0 mark, NXDOMAIN.
  ['c.ent.test.', 'A', 'NOERROR', true, [], [SOA_T], []],
  ['ent.test.', 'TXT', 'NOERROR', true, [], [SOA_T], []],
  ['empty.test.', 'A', 'NOERROR', true, [], [SOA_T], []],
  ['x.empty.test.', 'A', 'NXDOMAIN', true, [], [SOA_T], []],
  ['nothere.test.', 'A', 'NXDOMAIN', true, [], [SOA_T], []],
  // bind's zero-no-soa-ttl: an SOA query that meets NXDOMAIN gets the SOA with TTL 0 (NODATA keeps it).
  ['nothere.test.', 'SOA', 'NXDOMAIN', true, [], [SOA_T.replace(' 600 ', ' 0 ')], []],
  ['dangling.test.', 'SOA', 'NXDOMAIN', true, ['dangling.test. 3600 CNAME nothere.test.'], [SOA_T.replace(' 600 ', ' 0 ')], []],
  ['www.test.', 'SOA', 'NOERROR', true, [], [SOA_T], []],
  // Zones: closest enclosing zone wins; DS at a child apex is answered by the parent we also serve.
  ['child.test.', 'NS', 'NOERROR', true, ['child.test. 300 NS ns.child.test.'], [], ['ns.child.test. 300 A 192.0.2.60']],
  ['www.child.test.', 'A', 'NOERROR', true, ['www.child.test. 300 A 192.0.2.61'], [], []],
  ['ns.child.test.', 'A', 'NOERROR', true, ['ns.child.test. 300 A 192.0.2.60'], [], []],
  ['child.test.', 'DS', 'NOERROR', true, [], [SOA_T], []],
  ['nx.child.test.', 'A', 'NXDOMAIN', true, [], ['child.test. 60 SOA ns.child.test. hostmaster.child.test. 5 7200 3600 1209600 60'], []],
  ['www.other.', 'A', 'REFUSED', false, [], [], []],
  ['.', 'NS', 'REFUSED', false, [], [], []],
  // ANY (RFC 8482): one RRset, the lowest type present. (bind returns them all; the differential skips ANY.)
  ['test.', 'ANY', 'NOERROR', true, ['test. 3600 NS ns1.test.', 'test. 3600 NS ns2.other.'], [],
    ['ns1.test. 3600 A 192.0.2.1', 'ns1.test. 3600 AAAA 2001:db8::1']],
  ['www.test.', 'ANY', 'NOERROR', true, WWW_A, [], []],
  ['alias.test.', 'ANY', 'NOERROR', true, ['alias.test. 3600 CNAME www.test.'], [], []],
  ['foo.wild.test.', 'ANY', 'NOERROR', true, ['foo.wild.test. 3600 A 192.0.2.40'], [], []],
  ['c.ent.test.', 'ANY', 'NOERROR', true, [], [SOA_T], []],
];

/** Cases whose answer depends on a type-0 mark, which a master file cannot express. */
export const KDNS_ONLY = new Set(['empty.test.', 'x.empty.test.']);
