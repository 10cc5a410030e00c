import t from 'tap';
import { nameToKey, keyToWire, wireToKey, labelsOf, parentOf, isAtOrBelow, labelCount, wildcardOf } from './name.js';
import { rdataAAAA, rdataA, rdataSoa, soaMinimum, rdataTxt, rdataSrv } from './rdata.js';

t.test('nameToKey normalises case, escapes and origin', async (t) => {
  const cases: [string, string | undefined, string][] = [
    ['WWW.Example.COM.', undefined, 'www.example.com.'],
    ['www', 'example.com.', 'www.example.com.'],
    ['@', 'example.com.', 'example.com.'],
    ['.', undefined, '.'],
    ['a\\.b.example.', undefined, 'a\\.b.example.'],
    ['\\065bc.', undefined, 'abc.'],
    ['x\\000y.', undefined, 'x\\000y.'],
    ['*.Example.', undefined, '*.example.'],
    ['_sip._tcp', 'example.', '_sip._tcp.example.'],
    ['a', '.', 'a.'],
  ];
  for (const [text, origin, key] of cases) t.equal(nameToKey(text, origin), key, text);
});

t.test('nameToKey rejects bad names', async (t) => {
  t.throws(() => nameToKey('a..b.'), { code: 'KDNS_NAME_INVALID' });
  t.throws(() => nameToKey('x'.repeat(64) + '.'), /label longer/);
  t.throws(() => nameToKey(Array(130).fill('ab').join('.') + '.'), /name longer/);
  t.throws(() => nameToKey('rel'), /without an origin/);
  t.throws(() => nameToKey('a\\999.'), /out of range/);
});

t.test('wire round trip and compression', async (t) => {
  const wire = keyToWire('www.example.com.');
  t.same([...wire], [3, 119, 119, 119, 7, 101, 120, 97, 109, 112, 108, 101, 3, 99, 111, 109, 0]);
  t.same(wireToKey(wire, 0), { key: 'www.example.com.', end: wire.length });
  // "mail" + pointer to offset 4 ("example.com")
  const msg = Buffer.concat([wire, Buffer.from([4, 109, 97, 105, 108, 0xc0, 4])]);
  t.same(wireToKey(msg, wire.length), { key: 'mail.example.com.', end: msg.length });
  t.throws(() => wireToKey(Buffer.from([0xc0, 0]), 0), /pointer/);
  t.throws(() => wireToKey(Buffer.from([5, 97]), 0), /past the end/);
  t.same(keyToWire('.'), Buffer.from([0]));
  t.equal(wireToKey(keyToWire('a\\.b.c.'), 0).key, 'a\\.b.c.');
});

t.test('label helpers', async (t) => {
  t.same(labelsOf('a\\.b.c.'), ['a\\.b', 'c']);
  t.same(labelsOf('.'), []);
  t.equal(labelCount('x.y.z.'), 3);
  t.equal(parentOf('x.y.z.'), 'y.z.');
  t.equal(parentOf('z.'), '.');
  t.equal(parentOf('.'), null);
  t.ok(isAtOrBelow('a.b.c.', 'b.c.'));
  t.ok(isAtOrBelow('b.c.', 'b.c.'));
  t.notOk(isAtOrBelow('ab.c.', 'b.c.'));
  t.notOk(isAtOrBelow('a\\.b.c.', 'b.c.'));
  t.ok(isAtOrBelow('x.', '.'));
  t.equal(wildcardOf('b.c.'), '*.b.c.');
});

t.test('rdata encoders', async (t) => {
  t.same([...rdataA('10.1.2.3')], [10, 1, 2, 3]);
  t.throws(() => rdataA('1.2.3'), /IPv4/);
  t.equal(rdataAAAA('2001:db8::1').toString('hex'), '20010db8000000000000000000000001');
  t.equal(rdataAAAA('::ffff:1.2.3.4').toString('hex'), '00000000000000000000ffff01020304');
  t.equal(rdataAAAA('::').toString('hex'), '0'.repeat(32));
  t.equal(rdataAAAA('fd00:1:2:3:4:5:6:7').toString('hex'), 'fd000001000200030004000500060007');
  t.throws(() => rdataAAAA('fe80::1%eth0'), /IPv6/);
  const soa = rdataSoa({ mname: 'ns.x.', rname: 'h.x.', serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 300 });
  t.equal(soaMinimum(soa), 300);
  t.same([...rdataTxt(['ab', ''])], [2, 97, 98, 0]);
  t.throws(() => rdataTxt(['x'.repeat(256)]), /255/);
  t.equal(rdataSrv(1, 2, 80, 'a.').toString('hex'), '000100020050' + '016100');
});

t.test('keyToWire: plain keys (fast path) give the same bytes as the general path', async (t) => {
  const labels = (wire: Buffer): string[] => {
    const out: string[] = [];
    for (let i = 0; wire[i] !== 0; i += wire[i]! + 1) out.push(`${wire[i]}:${wire.subarray(i + 1, i + 1 + wire[i]!).toString('latin1')}`);
    return out;
  };
  t.same(labels(keyToWire('a.')), ['1:a']);
  t.same(labels(keyToWire('_http._tcp.web.default.svc.cluster.local.')), ['5:_http', '4:_tcp', '3:web', '7:default', '3:svc', '7:cluster', '5:local']);
  t.same(keyToWire('10-1-2-3.db.ns.svc.cluster.local.'), Buffer.from('\x0810-1-2-3\x02db\x02ns\x03svc\x07cluster\x05local\x00', 'latin1'));
  t.same(keyToWire(`${'x'.repeat(63)}.y.`), Buffer.concat([Buffer.from([63]), Buffer.from('x'.repeat(63)), Buffer.from([1, 0x79, 0])]));
  t.same(labels(keyToWire('a\\.b.c.')), ['3:a.b', '1:c'], 'an escape takes the general path');
  t.throws(() => keyToWire('a..b.'), /empty label/, 'an empty label is refused as before');
});
