import t from 'tap';
import { parseRdata, formatRdata, parseDuration, RdataTextError, type Token } from './rdata-text.js';
import { parseTypeName } from './constants.js';
import { tokenize } from '../sources/zonefile/tokenize.js';

const ORIGIN = 'example.com.';

/** RDATA text → tokens, with the master-file lexer the zone parser uses. */
function tokens(text: string): Token[] {
  return tokenize(text, 'test')[0]?.tokens ?? [];
}

function parse(type: string, text: string): Buffer {
  return parseRdata(parseTypeName(type), tokens(text), ORIGIN);
}

t.test('parseRdata → wire, and formatRdata back to canonical text', async (t) => {
  // [type, input, wire hex, canonical presentation]
  const cases: [string, string, string, string][] = [
    ['A', '192.0.2.1', 'c0000201', '192.0.2.1'],
    ['AAAA', '2001:DB8:0:0::1', '20010db8000000000000000000000001', '2001:db8::1'],
    ['AAAA', '::ffff:1.2.3.4', '00000000000000000000ffff01020304', '::ffff:102:304'],
    ['NS', 'ns1', '036e7331076578616d706c6503636f6d00', 'ns1.example.com.'],
    ['NS', 'NS1.Other.', '036e7331056f7468657200', 'ns1.other.'],
    ['CNAME', '@', '076578616d706c6503636f6d00', 'example.com.'],
    ['DNAME', 'a\\.b.x.', '03612e620178' + '00', 'a\\.b.x.'],
    ['PTR', 'host.x.', '04686f7374017800', 'host.x.'],
    ['MX', '10 mail', '000a046d61696c076578616d706c6503636f6d00', '10 mail.example.com.'],
    ['SRV', '1 2 8080 svc.x.', '000100021f9003737663017800', '1 2 8080 svc.x.'],
    ['SOA', 'ns hm.x. ( 2024 1h 10m 1w 30 )',
      '026e73076578616d706c6503636f6d00' + '02686d017800' + '000007e8' + '00000e10' + '00000258' + '00093a80' + '0000001e',
      'ns.example.com. hm.x. 2024 3600 600 604800 30'],
    ['TXT', '"hello world"', '0b68656c6c6f20776f726c64', '"hello world"'],
    ['TXT', 'a "b c" ""', '0161' + '03622063' + '00', '"a" "b c" ""'],
    ['TXT', '"q\\"uote\\\\" \\065\\255', '07' + '7122756f74655c' + '0241ff', '"q\\"uote\\\\" "A\\255"'],
    ['TXT', 'semi\\;colon', '0a73656d693b636f6c6f6e', '"semi;colon"'],
    ['HINFO', '"INTEL x86" Linux', '09494e54454c20783836054c696e7578', '"INTEL x86" "Linux"'],
    ['CAA', '0 issue "ca.example.net; account=1"',
      '0005697373756563612e6578616d706c652e6e65743b206163636f756e743d31', '0 issue "ca.example.net; account=1"'],
    ['CAA', '128 iodef mailto:sec@x', '8005' + '696f646566' + '6d61696c746f3a73656340' + '78', '128 iodef "mailto:sec@x"'],
    ['CAA', '0 issue ""', '00056973737565', '0 issue ""'],
    ['TYPE999', '\\# 4 0A000001', '0a000001', '\\# 4 0A000001'],
    ['TYPE999', '\\# 0', '', '\\# 0'],
    ['TYPE65534', '\\# 3 ab ( cd ef )', 'abcdef', '\\# 3 ABCDEF'],
    ['A', '\\# 4 c0000201', 'c0000201', '192.0.2.1'], // RFC 3597 §5: a known type in generic form
    ['DS', '12345 13 2 ( 2BB183AF5F22588179A53B0A98631FAD\n 1A292118A1E1E7F1A2A7D21B7D3C3A0F )',
      '30390d02' + '2bb183af5f22588179a53b0a98631fad1a292118a1e1e7f1a2a7d21b7d3c3a0f',
      '12345 13 2 2BB183AF5F22588179A53B0A98631FAD1A292118A1E1E7F1A2A7D21B7D3C3A0F'],
    ['DS', '2 RSASHA256 1 2bb183af5f22588179a53b0a98631fad1a292118', '0002080' + '1' + '2bb183af5f22588179a53b0a98631fad1a292118',
      '2 8 1 2BB183AF5F22588179A53B0A98631FAD1A292118'],
    ['DS', '\\# 5 0001080500', '0001080500', '1 8 5 00'], // generic form of a known type
    ['TYPE48', '\\# 2 abcd', 'abcd', '\\# 2 ABCD'], // DNSKEY has no text parser, but generic is fine
  ];
  for (const [type, input, hex, text] of cases) {
    const wire = parse(type, input);
    t.equal(wire.toString('hex'), hex, `${type} ${input}`);
    t.equal(formatRdata(parseTypeName(type), wire), text, `format ${type} ${input}`);
  }
});

t.test('a TXT string of exactly 255 bytes is fine, 256 is not', async (t) => {
  t.equal(parse('TXT', `"${'x'.repeat(255)}"`).length, 256);
  t.throws(() => parse('TXT', `"${'x'.repeat(254)}\\255\\255"`), /256 bytes, at most 255/);
  // A CAA value is not a character-string: it may pass 255 bytes.
  t.equal(parse('CAA', `0 issue "${'y'.repeat(300)}"`).length, 2 + 5 + 300);
});

t.test('parseRdata errors say what was expected and on which line', async (t) => {
  // [type, input, message, line]
  const cases: [string, string, RegExp, number | null][] = [
    ['A', '1.2.3', /expected an IPv4 address, got '1\.2\.3'/, 1],
    ['A', '1.2.3.4 5.6.7.8', /expected the end of the A record, got '5\.6\.7\.8'/, 1],
    ['A', '', /expected an IPv4 address, got the end of the record/, null],
    ['A', '"1.2.3.4"', /expected an IPv4 address, got "1\.2\.3\.4"/, 1],
    ['AAAA', '1.2.3.4', /expected an IPv6 address, got '1\.2\.3\.4'/, 1],
    ['AAAA', 'fe80::1%eth0', /expected an IPv6 address/, 1],
    ['MX', 'ten mail', /expected a 16-bit MX preference, got 'ten'/, 1],
    ['MX', '65536 mail', /more than 65535/, 1],
    ['MX', '10', /expected a mail exchange name, got the end of the record/, 1],
    ['SRV', '1 2 port x.', /expected a 16-bit SRV port, got 'port'/, 1],
    ['NS', 'a..b.', /expected a name server name, got 'a\.\.b\.'.*empty label/, 1],
    ['CNAME', `${'x'.repeat(64)}.`, /label longer than 63/, 1],
    ['SOA', 'ns hm ( 1 2 3\n 4 x )', /expected an SOA minimum TTL, got 'x'/, 2],
    ['SOA', 'ns hm 4294967296 1 2 3 4', /expected a 32-bit SOA serial/, 1],
    ['TXT', '"\\256"', /escape \\256 is more than 255/, 1],
    ['TXT', '"\\12x"', /three digits/, 1],
    ['TXT', '', /expected a TXT character-string, got the end/, null],
    ['HINFO', 'onlyone', /expected an HINFO OS string/, 1],
    ['CAA', '0 is-sue x', /expected a CAA tag, got 'is-sue'/, 1],
    ['CAA', '256 issue x', /expected 8-bit CAA flags/, 1],
    ['CAA', '0 issue a b', /expected the end of the CAA record, got 'b'/, 1],
    ['TYPE999', 'deadbeef', /expected RFC 3597 generic RDATA/, 1],
    ['TYPE999', '\\# 2 abc', /even number of hex digits/, 1],
    ['TYPE999', '\\# 2 abcdef', /expected 2 bytes of RDATA as \\# says, got 3/, 1],
    ['TYPE999', '\\# 1 zz', /expected hexadecimal RDATA, got 'zz'/, 1],
    ['TYPE999', '\\# x', /expected the RDATA length after \\#/, 1],
    ['A', '\\# 3 c00002', /expected valid A RDATA after \\#/, 1],
    ['DNSKEY', '257 3 8 AwEAAa==', /expected RFC 3597 generic RDATA .* for type DNSKEY/, 1],
    ['DS', '12345 8 2 abcd', /expected a 32-byte digest for DS digest type 2, got 2 bytes/, 1],
    ['DS', '1 8 1', /expected a hexadecimal DS digest, got the end of the record/, 1],
    ['DS', '1 NOPE 1 ab', /expected a DNSSEC algorithm, got 'NOPE'/, 1],
    ['DS', '1 8 9 ( ab\n c )', /expected an even number of hex digits, got 3/, 1],
    ['DS', '1 8 9 xy', /expected a hexadecimal DS digest, got 'xy'/, 1],
  ];
  for (const [type, input, message, line] of cases) {
    try {
      parse(type, input);
      t.fail(`${type} ${input}: no error`);
    } catch (e) {
      t.type(e, RdataTextError, `${type} ${input}: RdataTextError`);
      t.match((e as Error).message, message, `${type} ${input}: message`);
      t.equal((e as RdataTextError).line, line, `${type} ${input}: line`);
      t.equal((e as RdataTextError).code, 'KDNS_RDATA_INVALID');
    }
  }
});

t.test('relative names need an origin', async (t) => {
  t.throws(() => parseRdata(parseTypeName('NS'), tokens('ns1'), undefined), /without an origin/);
  t.equal(parseRdata(parseTypeName('NS'), tokens('ns1.x.'), undefined).toString('hex'), '036e7331017800');
});

t.test('formatRdata falls back to RFC 3597 for malformed or unknown RDATA', async (t) => {
  t.equal(formatRdata(1, Buffer.from([1, 2, 3])), '\\# 3 010203');
  t.equal(formatRdata(2, Buffer.from([3, 0x61])), '\\# 2 0361');
  t.equal(formatRdata(6, Buffer.from([0])), '\\# 1 00');
  t.equal(formatRdata(16, Buffer.from([5, 0x61])), '\\# 2 0561');
  t.equal(formatRdata(12, Buffer.from([1, 0x61, 0xc0, 0])), '\\# 4 0161C000', 'compression pointers are malformed in RDATA');
  t.equal(formatRdata(4321, Buffer.from([0xff])), '\\# 1 FF');
});

t.test('parseDuration: BIND units', async (t) => {
  const good: [string, number][] = [
    ['0', 0], ['3600', 3600], ['1h30m', 5400], ['2w', 1209600], ['1W2D3H4M5S', 788645], ['1h1h', 7200],
    ['4294967295', 4294967295],
  ];
  for (const [text, value] of good) t.equal(parseDuration(text), value, text);
  for (const text of ['1H30', '1x', '1m-', '', 'h', 'IN', '-5']) t.equal(parseDuration(text), null, text);
  t.throws(() => parseDuration('4294967296'), /32 bits/);
  t.throws(() => parseDuration('7102w'), /32 bits/);
});

t.test('property: any TXT, CAA or generic RDATA survives format → tokenize → parse', async (t) => {
  const fc = await import('fast-check');
  const strings = fc.array(fc.uint8Array({ maxLength: 255 }), { minLength: 1, maxLength: 4 });
  fc.assert(fc.property(strings, (parts) => {
    const wire = Buffer.concat(parts.flatMap((p) => [Buffer.from([p.length]), Buffer.from(p)]));
    return parse('TXT', formatRdata(16, wire)).equals(wire);
  }), { numRuns: 200 });
  const caa = fc.record({ flags: fc.integer({ min: 0, max: 255 }), tag: fc.stringMatching(/^[a-z0-9]{1,15}$/), value: fc.uint8Array({ maxLength: 300 }) });
  fc.assert(fc.property(caa, ({ flags, tag, value }) => {
    const wire = Buffer.concat([Buffer.from([flags, tag.length]), Buffer.from(tag), Buffer.from(value)]);
    return parse('CAA', formatRdata(257, wire)).equals(wire);
  }), { numRuns: 200 });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
    const wire = Buffer.from(bytes);
    return parse('TYPE4000', formatRdata(4000, wire)).equals(wire);
  }), { numRuns: 100 });
  t.pass('200 TXT, 200 CAA and 100 generic round trips');
});
