import t from 'tap';
import * as dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { QuerySlot, READ_BADVERS, READ_DROP, READ_FORMERR, READ_NOTIMP, READ_OK, readQuery } from './query-reader.js';
import { hashName } from './answer-table.js';

// --- helpers -------------------------------------------------------------------------------------

function header(id: number, flags: number, qd: number, an: number, ns: number, ar: number): number[] {
  return [id >> 8, id & 0xff, flags >> 8, flags & 0xff, 0, qd, 0, an, 0, ns, 0, ar];
}

/** Wire bytes of a dotted ASCII name ("" or "." = root). */
function wire(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split('.').filter((l) => l !== '')) {
    out.push(label.length, ...Buffer.from(label, 'latin1'));
  }
  out.push(0);
  return out;
}

const A_IN = [0, 1, 0, 1];
/** OPT record: root owner, udp size, ext rcode, version, flags, rdata. */
function opt(udp: number, version = 0, flags = 0, rdata: number[] = [], extRcode = 0): number[] {
  return [0, 0, 41, udp >> 8, udp & 0xff, extRcode, version, flags >> 8, flags & 0xff, rdata.length >> 8,
    rdata.length & 0xff, ...rdata];
}
/** A record with the given owner bytes. */
function aRecord(owner: number[], rdata = [192, 0, 2, 1]): number[] {
  return [...owner, 0, 1, 0, 1, 0, 0, 0, 60, 0, rdata.length, ...rdata];
}

function read(bytes: number[] | Buffer, slot = new QuerySlot()): { code: number; slot: QuerySlot } {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
  // Give the reader a larger buffer than the packet, as the receive buffer will be.
  const big = Buffer.alloc(buf.length + 64, 0xee);
  buf.copy(big);
  return { code: readQuery(big, buf.length, slot), slot };
}

function query(name: string, extra: Partial<dnsPacket.Packet> = {}): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: 0x1234,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', name, class: 'IN' }],
    ...extra,
  });
}

// --- well-formed queries -------------------------------------------------------------------------

t.test('plain query: header, lower-cased name, hash, question', async (t) => {
  const pkt = query('WwW.ExAmple.COM');
  const { code, slot } = read(pkt);
  t.equal(code, READ_OK);
  t.equal(slot.id, 0x1234);
  t.equal(slot.flags, 0x0100);
  t.equal(slot.opcode, 0);
  t.equal(slot.qdcount, 1);
  t.equal(slot.ancount + slot.nscount + slot.arcount, 0);
  const expected = Buffer.from(wire('www.example.com'));
  t.equal(slot.nameLength, expected.length);
  t.same(slot.lowerName.subarray(0, slot.nameLength), expected);
  t.equal(slot.hash, hashName(expected, 0, expected.length));
  t.equal(slot.qtype, 1);
  t.equal(slot.qclass, 1);
  t.equal(slot.questionEnd, pkt.length);
  t.equal(slot.hasOpt, false);
  t.equal(slot.udpSize, 512, 'no OPT means the classic 512 limit');
});

t.test('root qname', async (t) => {
  const { code, slot } = read([...header(1, 0, 1, 0, 0, 0), 0, 0, 2, 0, 1]);
  t.equal(code, READ_OK);
  t.equal(slot.nameLength, 1);
  t.equal(slot.qtype, 2);
  t.equal(slot.lowerName[0], 0);
});

t.test('only ASCII letters are case-folded', async (t) => {
  const { code, slot } = read([...header(1, 0, 1, 0, 0, 0), 3, 0x41, 0xc1, 0x5a, 0, ...A_IN]);
  t.equal(code, READ_OK);
  t.same([...slot.lowerName.subarray(0, 5)], [3, 0x61, 0xc1, 0x7a, 0]);
});

t.test('a 255-byte name is the longest accepted', async (t) => {
  // 4 labels of 63 = 256 bytes; 3 of 63 + one of 61 + root = 255.
  const name = [63, ...Array(63).fill(0x61), 63, ...Array(63).fill(0x62), 63, ...Array(63).fill(0x63),
    61, ...Array(61).fill(0x64), 0];
  t.equal(name.length, 255);
  const ok = read([...header(1, 0, 1, 0, 0, 0), ...name, ...A_IN]);
  t.equal(ok.code, READ_OK);
  t.equal(ok.slot.nameLength, 255);
  const long = [63, ...Array(63).fill(0x61), 63, ...Array(63).fill(0x62), 63, ...Array(63).fill(0x63),
    62, ...Array(62).fill(0x64), 0];
  const bad = read([...header(1, 0, 1, 0, 0, 0), ...long, ...A_IN]);
  t.equal(bad.code, READ_FORMERR);
  t.equal(bad.slot.nameLength, 0, 'no usable question');
});

t.test('EDNS: udp size, DO bit, version, options', async (t) => {
  const pkt = query('a.example', {
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: dnsPacket.DNSSEC_OK, options: [] } as any],
  });
  const r = read(pkt);
  t.equal(r.code, READ_OK);
  t.equal(r.slot.hasOpt, true);
  t.equal(r.slot.udpSize, 4096);
  t.equal(r.slot.ednsFlags, 0x8000);
  t.equal(r.slot.ednsVersion, 0);
  t.equal(r.slot.extRcodeHi, 0);

  const small = read([...header(1, 0, 1, 0, 0, 1), ...wire('a'), ...A_IN, ...opt(100)]);
  t.equal(small.code, READ_OK);
  t.equal(small.slot.udpSize, 512, 'below 512 counts as 512');

  const cookie = [0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8];
  const withOption = read([...header(1, 0, 1, 0, 0, 1), ...wire('a'), ...A_IN, ...opt(1232, 0, 0, cookie, 7)]);
  t.equal(withOption.code, READ_OK);
  t.equal(withOption.slot.udpSize, 1232);
  t.equal(withOption.slot.extRcodeHi, 7, 'extended rcode bits reported, not judged');

  const twoOptions = [0, 10, 0, 0, 0, 12, 0, 1, 0];
  t.equal(read([...header(1, 0, 1, 0, 0, 1), ...wire('a'), ...A_IN, ...opt(1232, 0, 0, twoOptions)]).code, READ_OK);
});

t.test('records in every section, with compressed owners, are walked', async (t) => {
  // Answer owner points at the qname (offset 12); authority owner is "x" + pointer to 12.
  const bytes = [...header(1, 0, 1, 1, 1, 2), ...wire('a.example'), ...A_IN,
    ...aRecord([0xc0, 12]), ...aRecord([1, 0x78, 0xc0, 12]), ...opt(1232), ...aRecord(wire('b'))];
  const r = read(bytes);
  t.equal(r.code, READ_OK);
  t.equal(r.slot.hasOpt, true);
  // Chained pointers that go strictly backwards are fine: third owner points at the second.
  const firstOwnerAt = 12 + wire('a.example').length + 4;
  const chained = [...header(1, 0, 1, 2, 0, 0), ...wire('a.example'), ...A_IN,
    ...aRecord([0xc0, 12]), ...aRecord([1, 0x79, 0xc0, firstOwnerAt])];
  t.equal(read(chained).code, READ_OK);
});

t.test('a slot is fully rewritten on reuse', async (t) => {
  const slot = new QuerySlot();
  read(query('a.example', { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096 } as any] }), slot);
  t.equal(slot.hasOpt, true);
  const r = read(query('b'), slot);
  t.equal(r.code, READ_OK);
  t.equal(slot.hasOpt, false);
  t.equal(slot.udpSize, 512);
  t.equal(slot.nameLength, 3);
  read([1, 2, 3], slot);
  t.equal(slot.nameLength, 0, 'a dropped packet leaves no stale question');
});

// --- drops, NOTIMP -------------------------------------------------------------------------------

t.test('short packets and responses are dropped', async (t) => {
  t.equal(read([]).code, READ_DROP);
  t.equal(read(header(1, 0, 1, 0, 0, 0).slice(0, 11)).code, READ_DROP);
  t.equal(read(header(1, 0, 0, 0, 0, 0)).code, READ_FORMERR, 'a bare header with QDCOUNT 0 is a query, malformed');
  const response = dnsPacket.encode({ type: 'response', id: 9, questions: [{ type: 'A', name: 'a' }] });
  t.equal(read(response).code, READ_DROP);
  const slot = new QuerySlot();
  t.equal(readQuery(Buffer.alloc(20), 21, slot), READ_DROP, 'len beyond the buffer');
});

t.test('opcodes other than QUERY: NOTIMP, question echoed when parseable', async (t) => {
  const notify = [...header(7, 4 << 11, 1, 0, 0, 0), ...wire('Zone.Example'), 0, 6, 0, 1];
  const r = read(notify);
  t.equal(r.code, READ_NOTIMP);
  t.equal(r.slot.opcode, 4);
  t.equal(r.slot.nameLength, wire('zone.example').length);
  t.same(r.slot.lowerName.subarray(0, r.slot.nameLength), Buffer.from(wire('zone.example')));
  t.equal(r.slot.qtype, 6);

  const update = [...header(7, 5 << 11, 0, 0, 0, 0)];
  const u = read(update);
  t.equal(u.code, READ_NOTIMP);
  t.equal(u.slot.nameLength, 0);

  const badName = read([...header(7, 2 << 11, 1, 0, 0, 0), 0xc0, 12, ...A_IN]);
  t.equal(badName.code, READ_NOTIMP);
  t.equal(badName.slot.nameLength, 0);
  // NOTIMP wins over malformed later sections: we do not interpret other opcodes' sections.
  t.equal(read([...header(7, 4 << 11, 1, 0, 0, 0), ...wire('a'), ...A_IN, 1, 2, 3]).code, READ_NOTIMP);
});

// --- FORMERR ------------------------------------------------------------------------------------

t.test('question malformations', async (t) => {
  const cases: [string, number[]][] = [
    ['QDCOUNT 0', [...header(1, 0, 0, 0, 0, 0), ...wire('a'), ...A_IN]],
    ['QDCOUNT 2', [...header(1, 0, 2, 0, 0, 0), ...wire('a'), ...A_IN, ...wire('b'), ...A_IN]],
    ['pointer in qname', [...header(1, 0, 1, 0, 0, 0), 1, 0x61, 0xc0, 12, ...A_IN]],
    ['extended label 0x40', [...header(1, 0, 1, 0, 0, 0), 0x41, 0, ...A_IN]],
    ['extended label 0x80', [...header(1, 0, 1, 0, 0, 0), 0x81, 0, ...A_IN]],
    ['label of 64', [...header(1, 0, 1, 0, 0, 0), 64, ...Array(64).fill(0x61), 0, ...A_IN]],
    ['name runs past the end', [...header(1, 0, 1, 0, 0, 0), 5, 0x61, 0x62]],
    ['no root byte', [...header(1, 0, 1, 0, 0, 0), 1, 0x61]],
    ['no QTYPE/QCLASS', [...header(1, 0, 1, 0, 0, 0), ...wire('a')]],
    ['three of four QTYPE/QCLASS bytes', [...header(1, 0, 1, 0, 0, 0), ...wire('a'), 0, 1, 0]],
  ];
  for (const [what, bytes] of cases) {
    const r = read(bytes);
    t.equal(r.code, READ_FORMERR, what);
  }
  t.equal(read(cases[2]![1]).slot.nameLength, 0, 'failed question leaves nameLength 0');
});

t.test('other-section malformations', async (t) => {
  const q = [...wire('a.example'), ...A_IN];
  const qEnd = 12 + q.length;
  const cases: [string, number[]][] = [
    ['ANCOUNT says 1, nothing there', [...header(1, 0, 1, 1, 0, 0), ...q]],
    ['ARCOUNT says 2, one there', [...header(1, 0, 1, 0, 0, 2), ...q, ...opt(1232)]],
    ['trailing garbage', [...header(1, 0, 1, 0, 0, 0), ...q, 0]],
    ['trailing garbage after OPT', [...header(1, 0, 1, 0, 0, 1), ...q, ...opt(1232), 1, 2]],
    ['rdlength past the end', [...header(1, 0, 1, 1, 0, 0), ...q, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 9, 1, 2]],
    ['fixed part truncated', [...header(1, 0, 1, 1, 0, 0), ...q, 0xc0, 12, 0, 1, 0, 1, 0]],
    ['forward pointer', [...header(1, 0, 1, 1, 0, 0), ...q, ...aRecord([0xc0, qEnd + 2]), 0]],
    ['pointer to itself', [...header(1, 0, 1, 1, 0, 0), ...q, ...aRecord([0xc0, qEnd])]],
    ['pointer into the header', [...header(1, 0, 1, 1, 0, 0), ...q, ...aRecord([0xc0, 4])]],
    ['pointer truncated', [...header(1, 0, 1, 1, 0, 0), ...q, 0xc0]],
    // Owner 1: "x" then a pointer back to itself: x.x.x... forever.
    ['pointer loop through a label', [...header(1, 0, 1, 1, 0, 0), ...q, ...aRecord([1, 0x78, 0xc0, qEnd])]],
    ['extended label in an owner', [...header(1, 0, 1, 1, 0, 0), ...q, ...aRecord([0x41, 0])]],
    ['owner longer than 255 bytes via pointers', [...header(1, 0, 1, 1, 0, 0),
      ...[63, ...Array(63).fill(0x61), 63, ...Array(63).fill(0x62), 63, ...Array(63).fill(0x63), 0], ...A_IN,
      ...aRecord([63, ...Array(63).fill(0x64), 0xc0, 12])]],
    ['OPT in answer', [...header(1, 0, 1, 1, 0, 0), ...q, ...opt(1232)]],
    ['OPT in authority', [...header(1, 0, 1, 0, 1, 0), ...q, ...opt(1232)]],
    ['two OPTs', [...header(1, 0, 1, 0, 0, 2), ...q, ...opt(1232), ...opt(4096)]],
    ['OPT owner not root', [...header(1, 0, 1, 0, 0, 1), ...q, 0xc0, 12, ...opt(1232).slice(1)]],
    ['OPT option longer than rdata', [...header(1, 0, 1, 0, 0, 1), ...q, ...opt(1232, 0, 0, [0, 10, 0, 9, 1])]],
    ['OPT option header cut', [...header(1, 0, 1, 0, 0, 1), ...q, ...opt(1232, 0, 0, [0, 10, 0])]],
  ];
  for (const [what, bytes] of cases) {
    const r = read(bytes);
    t.equal(r.code, READ_FORMERR, what);
  }
  const parsed = read(cases[2]![1]);
  t.equal(parsed.slot.nameLength, q.length - 4, 'question still available for the FORMERR echo');
});

t.test('BADVERS only when everything else is well-formed', async (t) => {
  const q = [...wire('a'), ...A_IN];
  const v1 = read([...header(1, 0, 1, 0, 0, 1), ...q, ...opt(1232, 1)]);
  t.equal(v1.code, READ_BADVERS);
  t.equal(v1.slot.ednsVersion, 1);
  t.equal(v1.slot.hasOpt, true);
  t.equal(read([...header(1, 0, 1, 0, 0, 1), ...q, ...opt(1232, 1), 9]).code, READ_FORMERR, 'trailing bytes');
  t.equal(read([...header(1, 0, 1, 0, 0, 2), ...q, ...opt(1232, 1), ...opt(1232, 0)]).code, READ_FORMERR, 'two OPTs');
  const viaPacket = query('a', { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, ednsVersion: 2 } as any] });
  t.equal(read(viaPacket).code, READ_BADVERS);
});

// --- properties -----------------------------------------------------------------------------------

t.test('any bytes: never throws, returns a known code', async (t) => {
  const slot = new QuerySlot();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const code = readQuery(Buffer.from(bytes), bytes.length, slot);
      return code >= READ_OK && code <= READ_BADVERS && slot.nameLength <= 255;
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 random packets');
});

t.test('mutated valid queries: never throw', async (t) => {
  const base = [...header(1, 0, 1, 1, 0, 1), ...wire('a.b'), ...A_IN, ...aRecord([0xc0, 12]), ...opt(1232)];
  const slot = new QuerySlot();
  fc.assert(
    fc.property(fc.nat(base.length - 1), fc.nat(255), fc.nat(base.length), (at, value, cut) => {
      const b = Buffer.from(base);
      b[at] = value;
      const code = readQuery(b, Math.max(cut, 0), slot);
      return code >= READ_OK && code <= READ_BADVERS;
    }),
    { numRuns: 2000 },
  );
  t.equal(readQuery(Buffer.from(base), base.length, slot), READ_OK, 'the unmutated base is fine');
});

t.test('random valid names: reader agrees with dns-packet and hashName', async (t) => {
  const label = fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/);
  const slot = new QuerySlot();
  fc.assert(
    fc.property(fc.array(label, { minLength: 1, maxLength: 6 }), fc.nat(0xffff), (labels, qtypeRaw) => {
      const name = labels.join('.');
      const pkt = dnsPacket.encode({ type: 'query', id: 3, questions: [{ type: 'A', name }] });
      pkt.writeUInt16BE(qtypeRaw, pkt.length - 4);
      if (readQuery(pkt, pkt.length, slot) !== READ_OK) return false;
      const expected = Buffer.from(wire(name.toLowerCase()));
      return slot.nameLength === expected.length &&
        slot.lowerName.subarray(0, slot.nameLength).equals(expected) &&
        slot.hash === hashName(expected, 0, expected.length) &&
        slot.qtype === qtypeRaw;
    }),
    { numRuns: 500 },
  );
  t.pass('500 random names');
});
