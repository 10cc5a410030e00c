import t from 'tap';
import * as dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { compileEmptyResponse, compileResponse, emptyResponseSize, writeEmptyResponse } from './compile.js';
import { keyToWire } from './name.js';
import { rdataA, rdataAAAA, rdataMx, rdataName, rdataSoa, rdataSrv, rdataTxt } from './rdata.js';
import { QuerySlot, READ_OK, readQuery } from './query-reader.js';
import type { LookupResult, Rr } from './types.js';

function rr(name: string, type: number, rdata: Buffer, ttl = 300, cls = 1): Rr {
  return { name, type, class: cls, ttl, rdata };
}

const SOA = rdataSoa({ mname: 'ns1.example.com.', rname: 'hostmaster.example.com.', serial: 2024010101,
  refresh: 7200, retry: 1800, expire: 1209600, minimum: 30 });

/** Overwrites the question name at 12 with `spelling`, as the responder does with the client's bytes. */
function echoCase(response: Buffer, spelling: string): Buffer {
  const copy = Buffer.from(response);
  const lower = keyToWire(spelling.toLowerCase());
  if (!copy.subarray(12, 12 + lower.length).equals(lower)) throw new Error('question is not the lower-case spelling');
  const labels = spelling.replace(/\.$/, '').split('.');
  let o = 12;
  for (const l of labels) {
    copy.write(l, o + 1, 'latin1');
    o += l.length + 1;
  }
  return copy;
}

t.test('positive answer: every field, pointers, case echo', async (t) => {
  const result: LookupResult = {
    rcode: 0,
    aa: true,
    answer: [
      rr('www.example.com.', 5, rdataName('web.example.com.'), 60),
      rr('web.example.com.', 1, rdataA('192.0.2.10'), 30),
      rr('web.example.com.', 1, rdataA('192.0.2.11'), 30),
    ],
    authority: [
      rr('example.com.', 2, rdataName('ns1.example.com.'), 3600),
      rr('example.com.', 2, rdataName('ns2.example.net.'), 3600),
    ],
    additional: [rr('ns1.example.com.', 1, rdataA('192.0.2.53'), 3600), rr('ns1.example.com.', 28, rdataAAAA('2001:db8::53'), 3600)],
  };
  const qname = keyToWire('www.example.com.');
  const out = compileResponse(qname, 1, 1, result);

  // Header.
  t.equal(out.readUInt16BE(0), 0, 'ID 0');
  t.equal(out.readUInt16BE(2), 0x8400, 'QR|AA, opcode 0, NOERROR, no RD/TC');
  t.same([out.readUInt16BE(4), out.readUInt16BE(6), out.readUInt16BE(8), out.readUInt16BE(10)], [1, 3, 2, 2]);
  // Question: the lower-case name in full at 12, then the first answer owner points back to it.
  t.same(out.subarray(12, 12 + qname.length), qname);
  const qEnd = 12 + qname.length + 4;
  t.same([out[qEnd], out[qEnd + 1]], [0xc0, 12], 'answer owner equal to the qname is a pointer to 12');

  const d = dnsPacket.decode(out);
  t.equal(d.flag_qr, true);
  t.equal(d.flag_aa, true);
  t.equal(d.flag_tc, false);
  t.equal(d.flag_rd, false);
  t.equal((d as any).rcode, 'NOERROR');
  t.same(d.questions, [{ name: 'www.example.com', type: 'A', class: 'IN' }]);
  t.match(d.answers, [
    { name: 'www.example.com', type: 'CNAME', class: 'IN', ttl: 60, data: 'web.example.com' },
    { name: 'web.example.com', type: 'A', class: 'IN', ttl: 30, data: '192.0.2.10' },
    { name: 'web.example.com', type: 'A', class: 'IN', ttl: 30, data: '192.0.2.11' },
  ]);
  t.match(d.authorities, [
    { name: 'example.com', type: 'NS', class: 'IN', ttl: 3600, data: 'ns1.example.com' },
    { name: 'example.com', type: 'NS', class: 'IN', ttl: 3600, data: 'ns2.example.net' },
  ]);
  t.match(d.additionals, [
    { name: 'ns1.example.com', type: 'A', class: 'IN', ttl: 3600, data: '192.0.2.53' },
    { name: 'ns1.example.com', type: 'AAAA', class: 'IN', ttl: 3600, data: '2001:db8::53' },
  ]);
  // Compression pays: the same message without it would be much longer.
  t.ok(out.length < 200, `compressed size ${out.length}`);

  // Case echo: the responder copies the client's spelling over offset 12.
  const echoed = dnsPacket.decode(echoCase(out, 'WwW.ExAmPlE.CoM'));
  t.equal(echoed.questions?.[0]?.name, 'WwW.ExAmPlE.CoM');
  t.equal(echoed.answers?.[0]?.name, 'WwW.ExAmPlE.CoM', 'the answer owner follows the client spelling');
  t.equal(echoed.authorities?.[0]?.name, 'ExAmPlE.CoM', 'suffixes of the qname point into it too');
  t.equal((echoed.answers?.[1] as any).data, '192.0.2.10', 'the rest is untouched');
});

t.test('negative answers: NXDOMAIN and NODATA with the SOA', async (t) => {
  const soa = rr('example.com.', 6, SOA, 30);
  const qname = keyToWire('nope.example.com.');
  for (const rcode of [3, 0]) {
    const out = compileResponse(qname, 28, 1, { rcode, aa: true, answer: [], authority: [soa], additional: [] });
    const d = dnsPacket.decode(out);
    t.equal((d as any).rcode, rcode === 3 ? 'NXDOMAIN' : 'NOERROR');
    t.equal(out.readUInt16BE(2) & 0xf, rcode);
    t.equal(d.answers?.length, 0);
    t.match(d.authorities, [{ name: 'example.com', type: 'SOA', ttl: 30, data: {
      mname: 'ns1.example.com', rname: 'hostmaster.example.com', serial: 2024010101, refresh: 7200, retry: 1800,
      expire: 1209600, minimum: 30 } }]);
    // SOA owner "example.com." is a pointer to the qname's suffix at 12 + 5.
    const ownerAt = 12 + qname.length + 4;
    t.same([out[ownerAt], out[ownerAt + 1]], [0xc0, 17]);
  }
  const refused = compileResponse(qname, 1, 1, { rcode: 5, aa: false, answer: [], authority: [], additional: [] });
  t.equal(refused.readUInt16BE(2), 0x8005, 'no AA, REFUSED');
  t.equal(refused.length, 12 + qname.length + 4);
});

t.test('SRV targets are not compressed; MX exchanges are', async (t) => {
  const qname = keyToWire('_http._tcp.svc.cluster.local.');
  const out = compileResponse(qname, 33, 1, {
    rcode: 0, aa: true,
    answer: [rr('_http._tcp.svc.cluster.local.', 33, rdataSrv(0, 100, 80, 'svc.cluster.local.'))],
    authority: [], additional: [rr('svc.cluster.local.', 1, rdataA('10.0.0.1'))],
  });
  const d = dnsPacket.decode(out);
  t.match(d.answers, [{ type: 'SRV', data: { priority: 0, weight: 100, port: 80, target: 'svc.cluster.local' } }]);
  t.match(d.additionals, [{ name: 'svc.cluster.local', data: '10.0.0.1' }]);
  const rdStart = 12 + qname.length + 4 + 2 + 10;
  t.equal(out.readUInt16BE(rdStart - 2), 6 + keyToWire('svc.cluster.local.').length, 'SRV RDLENGTH uncompressed');
  t.same(out.subarray(rdStart + 6, rdStart + 6 + 19), keyToWire('svc.cluster.local.'));

  const mx = compileResponse(keyToWire('example.com.'), 15, 1, {
    rcode: 0, aa: true, answer: [rr('example.com.', 15, rdataMx(10, 'mail.example.com.'))], authority: [], additional: [],
  });
  const mxRd = 12 + 13 + 4 + 2 + 10;
  t.equal(mx.readUInt16BE(mxRd - 2), 2 + 1 + 4 + 2, 'MX: preference, "mail", pointer');
  t.match(dnsPacket.decode(mx).answers, [{ data: { preference: 10, exchange: 'mail.example.com' } }]);
});

t.test('qname from a QuerySlot (longer buffer) and the root qname', async (t) => {
  const slot = new QuerySlot();
  const pkt = dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: 'TXT', name: 'Dns-Version.Cluster.Local' }] });
  t.equal(readQuery(pkt, pkt.length, slot), READ_OK);
  const out = compileResponse(slot.lowerName, slot.qtype, slot.qclass, {
    rcode: 0, aa: true, answer: [rr('dns-version.cluster.local.', 16, rdataTxt(['1.1.0']), 28800)], authority: [], additional: [],
  });
  const d = dnsPacket.decode(out);
  t.equal(d.questions?.[0]?.name, 'dns-version.cluster.local');
  t.equal(d.questions?.[0]?.type, 'TXT');
  t.same((d.answers?.[0] as any).data, [Buffer.from('1.1.0')]);
  t.equal(out.length, 12 + slot.nameLength + 4 + 2 + 10 + 6, 'nothing past the name is taken from the slot buffer');

  const root = compileResponse(Buffer.from([0]), 2, 1, {
    rcode: 0, aa: true, answer: [rr('.', 2, rdataName('a.root-servers.net.'))], authority: [], additional: [],
  });
  t.same(root.subarray(12, 17), Buffer.from([0, 0, 2, 0, 1]));
  t.equal(root[17], 0, 'root owner is one byte, not a pointer');
  t.match(dnsPacket.decode(root).answers, [{ name: '.', type: 'NS', data: 'a.root-servers.net' }]);

  t.throws(() => compileResponse(Buffer.from([3, 0x61]), 1, 1, { rcode: 0, aa: false, answer: [], authority: [], additional: [] }));
});

t.test('oversize: additional dropped first, then authority, then TC', async (t) => {
  const qname = keyToWire('big.example.com.');
  const chunk = rdataTxt(Array.from({ length: 40 }, () => 'x'.repeat(255))); // 10,240 bytes
  const txt = (name: string, n: number): Rr[] => Array.from({ length: n }, () => rr(name, 16, chunk));
  const ns = rr('example.com.', 2, rdataName('ns1.example.com.'));

  // Answer 40 KB, authority small, additional 3 RRsets of 10 KB each: the last one does not fit.
  const a = compileResponse(qname, 16, 1, {
    rcode: 0, aa: true, answer: txt('big.example.com.', 4), authority: [ns],
    additional: [...txt('a1.example.com.', 1), ...txt('a2.example.com.', 1), ...txt('a3.example.com.', 1)],
  });
  t.ok(a.length <= 65535);
  t.same([a.readUInt16BE(6), a.readUInt16BE(8), a.readUInt16BE(10)], [4, 1, 2]);
  t.equal(a.readUInt16BE(2) & 0x0200, 0, 'no TC for dropped additional data');
  const da = dnsPacket.decode(a);
  t.equal(da.additionals?.[1]?.name, 'a2.example.com');

  // An additional RRset is dropped whole, not cut in the middle.
  const b = compileResponse(qname, 16, 1, {
    rcode: 0, aa: true, answer: txt('big.example.com.', 5), authority: [], additional: txt('glue.example.com.', 2),
  });
  t.same([b.readUInt16BE(6), b.readUInt16BE(10)], [5, 0]);

  // Authority that does not fit goes whole, and additional with it.
  const c = compileResponse(qname, 16, 1, {
    rcode: 0, aa: true, answer: txt('big.example.com.', 5), authority: [ns, ...txt('example.com.', 2)],
    additional: [rr('ns1.example.com.', 1, rdataA('192.0.2.1'))],
  });
  t.same([c.readUInt16BE(6), c.readUInt16BE(8), c.readUInt16BE(10)], [5, 0, 0]);
  t.equal(c.readUInt16BE(2) & 0x0200, 0);
  t.equal(dnsPacket.decode(c).answers?.length, 5);

  // An answer that cannot fit: TC, and the RRset that overflowed is left out whole.
  const d = compileResponse(qname, 16, 1, {
    rcode: 0, aa: true,
    answer: [rr('big.example.com.', 5, rdataName('other.example.com.')), ...txt('other.example.com.', 7)],
    authority: [ns], additional: [],
  });
  t.equal(d.readUInt16BE(2) & 0x0200, 0x0200, 'TC');
  t.same([d.readUInt16BE(6), d.readUInt16BE(8), d.readUInt16BE(10)], [1, 0, 0]);
  t.match(dnsPacket.decode(d).answers, [{ type: 'CNAME', data: 'other.example.com' }]);
});

t.test('empty responses', async (t) => {
  const qname = keyToWire('x.example.');
  const out = compileEmptyResponse(qname, qname.length, 28, 1, 2);
  t.equal(out.length, emptyResponseSize(qname.length));
  t.same(out, Buffer.concat([Buffer.from([0, 0, 0x80, 2, 0, 1, 0, 0, 0, 0, 0, 0]), qname, Buffer.from([0, 28, 0, 1])]));
  const d = dnsPacket.decode(out);
  t.equal((d as any).rcode, 'SERVFAIL');
  t.same(d.questions, [{ name: 'x.example', type: 'AAAA', class: 'IN' }]);

  t.equal(compileEmptyResponse(qname, qname.length, 1, 1, 3, true).readUInt16BE(2), 0x8403, 'AA');
  t.equal(compileEmptyResponse(qname, qname.length, 1, 1, 16).readUInt16BE(2), 0x8000, 'BADVERS: low bits only');
  const headerOnly = compileEmptyResponse(Buffer.alloc(0), 0, 0, 0, 1);
  t.same(headerOnly, Buffer.from([0, 0, 0x80, 1, 0, 0, 0, 0, 0, 0, 0, 0]), 'no question: QDCOUNT 0');

  // Into a caller's buffer, the qname taken from the client's packet (its own case), flags kept.
  const pkt = dnsPacket.encode({ type: 'query', id: 5, questions: [{ type: 'A', name: 'MiXed.Example' }] });
  const outBuf = Buffer.alloc(512, 0xff);
  const n = writeEmptyResponse(outBuf, pkt, 12, pkt.length - 16, 1, 1, 4, 0x0100 | 0x000f);
  t.equal(n, pkt.length);
  t.equal(outBuf.readUInt16BE(2), 0x8104, 'RD kept, rcode bits from rcode only');
  t.equal(dnsPacket.decode(outBuf.subarray(0, n)).questions?.[0]?.name, 'MiXed.Example');
  t.throws(() => writeEmptyResponse(Buffer.alloc(10), qname, 0, qname.length, 1, 1, 0, 0));
});

// Random owners and targets from a small label pool, so many names share suffixes: whatever the writer
// compresses, a standard decoder must read back exactly the names and data we put in.
t.test('random records decode back to what was compiled', async (t) => {
  const label = fc.constantFrom('a', 'b', 'svc', 'ns', 'cluster', 'local', 'x-1', '_tcp');
  const name = fc.array(label, { minLength: 0, maxLength: 4 }).map((ls) => (ls.length === 0 ? '.' : ls.join('.') + '.'));
  const record = fc.tuple(name, fc.constantFrom(2, 5, 12, 15, 33, 6, 1), name, fc.nat(0x7fffffff));
  fc.assert(
    fc.property(name, fc.array(record, { maxLength: 8 }), (qkey, recs) => {
      const rrs = recs.map(([owner, type, target, ttl]): Rr => {
        const rdata = type === 1 ? rdataA('10.1.2.3')
          : type === 15 ? rdataMx(5, target)
            : type === 33 ? rdataSrv(1, 2, 3, target)
              : type === 6 ? rdataSoa({ mname: target, rname: owner, serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5 })
                : rdataName(target);
        return rr(owner, type, rdata, ttl);
      });
      const out = compileResponse(keyToWire(qkey), 1, 1, { rcode: 0, aa: true, answer: rrs, authority: [], additional: [] });
      const d = dnsPacket.decode(out);
      const plain = (k: string): string => (k === '.' ? '.' : k.slice(0, -1));
      if (d.questions?.[0]?.name !== plain(qkey)) return false;
      if (d.answers?.length !== rrs.length) return false;
      return rrs.every((r, i) => {
        const a = d.answers![i] as any;
        const target = plain(recs[i]![2]);
        if (a.name !== plain(r.name) || a.ttl !== r.ttl) return false;
        switch (r.type) {
          case 1: return a.data === '10.1.2.3';
          case 15: return a.data.exchange === target && a.data.preference === 5;
          case 33: return a.data.target === target && a.data.port === 3;
          case 6: return a.data.mname === target && a.data.rname === plain(r.name) && a.data.minimum === 5;
          default: return a.data === target;
        }
      });
    }),
    { numRuns: 300 },
  );
  t.pass('300 random messages');
});
