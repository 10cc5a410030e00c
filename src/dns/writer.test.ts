import t from 'tap';
import * as dnsPacket from 'dns-packet';
import { MAX_MESSAGE, MessageWriter, wireNameEnd } from './writer.js';
import { keyToWire } from './name.js';
import { rdataA, rdataMx, rdataName, rdataSoa, rdataSrv, rdataTxt } from './rdata.js';
import type { Rr } from './types.js';

function rr(name: string, type: number, rdata: Buffer, ttl = 300): Rr {
  return { name, type, class: 1, ttl, rdata };
}

/** A writer holding a question for `qname`, as the compiler starts every message. */
function withQuestion(qname: string): MessageWriter {
  const w = new MessageWriter();
  w.reset();
  t.ok(w.writeQuestion(keyToWire(qname), 0, 1, 1));
  return w;
}

/** Offset just past the (possibly compressed) name written at `at`. */
function skipWritten(buf: Buffer, at: number): number {
  let p = at;
  while (buf[p] !== 0) {
    if ((buf[p]! & 0xc0) === 0xc0) return p + 2;
    p += buf[p]! + 1;
  }
  return p + 1;
}

/** Reads a 2-byte pointer at `at`, or -1 when the bytes there are not a pointer. */
function pointerAt(buf: Buffer, at: number): number {
  return (buf[at]! & 0xc0) === 0xc0 ? buf.readUInt16BE(at) & 0x3fff : -1;
}

t.test('wireNameEnd', async (t) => {
  const n = keyToWire('www.example.com.');
  t.equal(wireNameEnd(n, 0, n.length), n.length);
  t.equal(wireNameEnd(Buffer.from([0]), 0, 1), 1, 'root');
  t.equal(wireNameEnd(Buffer.from([1, 0x61]), 0, 2), -1, 'no root byte');
  t.equal(wireNameEnd(Buffer.from([0xc0, 12]), 0, 2), -1, 'pointer');
  t.equal(wireNameEnd(Buffer.from([0x41, 0]), 0, 2), -1, 'extended label');
  const x = Buffer.from([9, 9, 3, 0x61, 0x62, 0x63, 0]);
  t.equal(wireNameEnd(x, 2, x.length), x.length, 'from an offset');
  const long = Buffer.alloc(257, 1);
  for (let i = 0; i < 256; i += 2) long[i] = 1;
  long[256] = 0;
  t.equal(wireNameEnd(long, 0, long.length), -1, 'longer than 255');
});

t.test('owner names compress to the question and to each other', async (t) => {
  const w = withQuestion('www.example.com.');
  const qEnd = w.offset;
  t.ok(w.writeRr(rr('www.example.com.', 1, rdataA('192.0.2.1'))));
  t.equal(pointerAt(w.buf, qEnd), 12, 'owner equal to the qname is a pointer to 12');
  const second = w.offset;
  t.ok(w.writeRr(rr('example.com.', 2, rdataName('ns1.example.com.'))));
  t.equal(pointerAt(w.buf, second), 16, 'a suffix of the qname points into it');
  // NS RDATA: "ns1" then a pointer to example.com.
  const rdStart = second + 2 + 10;
  t.equal(w.buf[rdStart], 3);
  t.equal(pointerAt(w.buf, rdStart + 4), 16);
  t.equal(w.buf.readUInt16BE(rdStart - 2), 6, 'RDLENGTH is the compressed length');
  const third = w.offset;
  t.ok(w.writeRr(rr('ns1.example.com.', 1, rdataA('192.0.2.53'))));
  t.equal(pointerAt(w.buf, third), rdStart, 'a name first written in NS RDATA is a target');
});

t.test('RDATA compression only for NS, CNAME, PTR, SOA, MX', async (t) => {
  const w = withQuestion('example.com.');
  const cases: [string, Rr, number][] = [
    ['CNAME', rr('a.example.com.', 5, rdataName('example.com.')), 2],
    ['PTR', rr('a.example.com.', 12, rdataName('example.com.')), 2],
    ['MX', rr('a.example.com.', 15, rdataMx(10, 'example.com.')), 4],
    ['SOA', rr('example.com.', 6, rdataSoa({ mname: 'example.com.', rname: 'example.com.', serial: 1, refresh: 2,
      retry: 3, expire: 4, minimum: 5 })), 2 + 2 + 20],
    ['SRV (never)', rr('a.example.com.', 33, rdataSrv(1, 2, 3, 'example.com.')), 6 + 13],
    ['DNAME (never)', rr('a.example.com.', 39, rdataName('example.com.')), 13],
    ['unknown type (never)', rr('a.example.com.', 65280, rdataName('example.com.')), 13],
  ];
  for (const [what, record, rdlength] of cases) {
    const start = w.offset;
    t.ok(w.writeRr(record), what);
    t.equal(w.buf.readUInt16BE(skipWritten(w.buf, start) + 8), rdlength, `${what}: RDLENGTH`);
  }
  // A decoder that follows the pointers sees the names the records were given.
  w.writeHeader(0, 0x8000, 1, cases.length, 0, 0);
  const decoded = dnsPacket.decode(w.toBuffer());
  const answers = decoded.answers as any[];
  t.equal(answers.length, cases.length);
  t.equal(answers[0].data, 'example.com');
  t.equal(answers[1].data, 'example.com');
  t.same(answers[2].data, { preference: 10, exchange: 'example.com' });
  t.match(answers[3].data, { mname: 'example.com', rname: 'example.com', serial: 1, minimum: 5 });
  t.match(answers[4].data, { priority: 1, weight: 2, port: 3, target: 'example.com' });
  t.equal(answers[5].data, 'example.com');
  t.same(answers[6].data, keyToWire('example.com.'), 'unknown type RDATA is the bytes as given');
});

t.test('names written uncompressed are not offered as targets', async (t) => {
  const w = withQuestion('example.com.');
  t.ok(w.writeRr(rr('_x._tcp.example.com.', 33, rdataSrv(0, 0, 80, 'target.example.org.'))));
  const at = w.offset;
  t.ok(w.writeRr(rr('target.example.org.', 1, rdataA('192.0.2.7'))));
  t.equal(w.buf[at], 6, 'owner written in full, not pointed into the SRV target');
  t.equal(w.offset - at, keyToWire('target.example.org.').length + 10 + 4);
});

t.test('suffix matching folds ASCII case only', async (t) => {
  const w = new MessageWriter();
  w.reset();
  t.ok(w.writeName(Buffer.from([3, 0x57, 0x57, 0x57, 1, 0xc1, 0]), 0, true)); // "WWW" + label 0xC1
  const at = w.offset;
  t.ok(w.writeName(Buffer.from([3, 0x77, 0x77, 0x77, 1, 0xc1, 0]), 0, true));
  t.equal(pointerAt(w.buf, at), 12, 'www matches WWW');
  const at2 = w.offset;
  t.ok(w.writeName(Buffer.from([1, 0xe1, 0]), 0, true));
  t.equal(w.buf[at2 + 1], 0xe1, '0xE1 is not the lower case of 0xC1 in DNS');
  t.equal(w.offset - at2, 3);
});

t.test('root is one zero byte, never a pointer', async (t) => {
  const w = withQuestion('.');
  const at = w.offset;
  t.ok(w.writeName(Buffer.from([0]), 0, true));
  t.equal(w.offset - at, 1);
  t.equal(w.buf[at], 0);
});

t.test('rollback forgets bytes and compression targets', async (t) => {
  const w = withQuestion('example.com.');
  const m = w.mark();
  t.ok(w.writeRr(rr('deep.sub.example.org.', 1, rdataA('192.0.2.1'))));
  w.rollback(m);
  t.equal(w.offset, m);
  t.ok(w.writeRr(rr('other.example.net.', 1, rdataA('192.0.2.2'))));
  const at = w.offset;
  t.ok(w.writeRr(rr('sub.example.org.', 1, rdataA('192.0.2.3'))));
  t.equal(w.buf[at], 3, 'not compressed against the rolled-back name');
  t.equal(w.offset - at, keyToWire('sub.example.org.').length + 14);
});

t.test('malformed RDATA for a compressible type is copied as given', async (t) => {
  const w = withQuestion('example.com.');
  const bad = Buffer.from([5, 1, 2]);
  const start = w.offset;
  t.ok(w.writeRr(rr('example.com.', 2, bad)));
  t.equal(w.buf.readUInt16BE(start + 2 + 8), 3);
  t.same(w.buf.subarray(start + 12, start + 15), bad);
});

t.test('a record that does not fit leaves nothing behind', async (t) => {
  const w = withQuestion('example.com.');
  const big = rdataTxt(Array.from({ length: 250 }, () => 'x'.repeat(255))); // 64,000 bytes
  t.ok(w.writeRr(rr('example.com.', 16, big)));
  const before = w.offset;
  t.notOk(w.writeRr(rr('more.example.com.', 16, rdataTxt(Array.from({ length: 8 }, () => 'y'.repeat(255))))));
  t.equal(w.offset, before);
  t.ok(w.offset <= MAX_MESSAGE);
  // Pointers only reach 0x3FFF: a name first written beyond that is never a target.
  const a = w.offset;
  t.ok(w.writeName(keyToWire('zz.yy.'), 0, true));
  const b = w.offset;
  t.ok(w.writeName(keyToWire('zz.yy.'), 0, true));
  t.equal(b - a, 7);
  t.equal(w.offset - b, 7, 'written in full again');
});

t.test('writeHeader and toBuffer', async (t) => {
  const w = withQuestion('a.example.');
  w.writeHeader(0xbeef, 0x8400, 1, 0, 0, 0);
  const out = w.toBuffer();
  t.equal(out.length, w.offset);
  const d = dnsPacket.decode(out);
  t.equal(d.id, 0xbeef);
  t.equal(d.flag_aa, true);
  t.equal(d.questions?.[0]?.name, 'a.example');
  w.reset();
  t.equal(w.offset, 12);
  t.equal(w.buf.readUInt16BE(0), 0, 'reset zeroes the header');
});
