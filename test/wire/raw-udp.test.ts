// Protocol conformance with hand-built packets over UDP (and AXFR over TCP): header and question
// validation, opcodes, EDNS(0) handling, CHAOS names, response sizes.
import t from 'tap';
import dnsPacket from 'dns-packet';
import { startKdns, wireArgs } from '../helpers/kdns-process.js';
import { buildQuery, check, optOf, TcpClient, UdpClient } from './clients.js';

const kdns = await startKdns(wireArgs(), { t });
const udp = new UdpClient(kdns.port);
await udp.bind();
t.teardown(() => udp.close());

let nextId = 0x100;
const id = (): number => nextId++;

/** A query with full control over the header: (id, flags, counts) then the raw body. */
function raw(qid: number, flags: number, counts: [number, number, number, number], body: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(qid, 0);
  h.writeUInt16BE(flags, 2);
  counts.forEach((c, i) => h.writeUInt16BE(c, 4 + 2 * i));
  return Buffer.concat([h, body]);
}
/** Wire name + type + class. */
function question(name: string, type: number, cls = 1): Buffer {
  const parts = name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')]));
  const tc = Buffer.alloc(4);
  tc.writeUInt16BE(type, 0);
  tc.writeUInt16BE(cls, 2);
  return Buffer.concat([...parts, Buffer.from([0]), tc]);
}
/** An OPT RR: root owner, type 41, class = udp size, ttl = ext-rcode|version|flags. */
function opt(size: number, version = 0, flags = 0, options = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(11);
  b.writeUInt8(0, 0);
  b.writeUInt16BE(41, 1);
  b.writeUInt16BE(size, 3);
  b.writeUInt8(0, 5);
  b.writeUInt8(version, 6);
  b.writeUInt16BE(flags, 7);
  b.writeUInt16BE(options.length, 9);
  return Buffer.concat([b, options]);
}

/** The rdata of every answer record (dns-packet's `data`). */
function datas(r: { packet: dnsPacket.Packet | null }): unknown[] {
  return (r.packet?.answers ?? []).map((a) => (a as { data?: unknown }).data);
}

async function ask(buf: Buffer): Promise<ReturnType<typeof check> & { size: number }> {
  const res = await udp.query(buf, 2000);
  if (!res) return { ...check(Buffer.alloc(0)), size: -1, why: 'no answer' };
  return { ...check(res), size: res.length };
}

t.test('a plain query is answered (baseline)', async (t) => {
  const q = raw(id(), 0x0100, [1, 0, 0, 0], question('www.example.test', 1));
  const r = await ask(q);
  t.ok(r.ok, r.why);
  t.ok(r.qr && r.aa && r.rd, 'qr aa rd');
  t.equal(r.rcode, 0);
  t.same(datas(r), ['192.0.2.20']);
  t.equal(r.optCount, 0, 'no OPT in the answer when the query had none');
});

t.test('QDCOUNT 0 and 2 → FORMERR', async (t) => {
  const q0 = raw(id(), 0x0100, [0, 0, 0, 0], Buffer.alloc(0));
  const r0 = await ask(q0);
  t.ok(r0.ok, `qdcount 0: ${r0.why}`);
  t.equal(r0.rcode, 1, 'qdcount 0 → FORMERR');
  t.equal(r0.id, q0.readUInt16BE(0), 'same id');
  const body = Buffer.concat([question('www.example.test', 1), question('mail.example.test', 1)]);
  const q2 = raw(id(), 0x0100, [2, 0, 0, 0], body);
  const r2 = await ask(q2);
  t.ok(r2.ok, `qdcount 2: ${r2.why}`);
  t.equal(r2.rcode, 1, 'qdcount 2 → FORMERR');
  t.equal(r2.packet?.answers?.length ?? 0, 0, 'no answers with FORMERR');
});

t.test('opcodes other than QUERY → NOTIMP', async (t) => {
  for (const [name, op] of [['IQUERY', 1], ['STATUS', 2], ['NOTIFY', 4], ['UPDATE', 5], ['unassigned 3', 3], ['unassigned 15', 15]] as const) {
    const q = raw(id(), (op << 11) | 0x0100, [1, 0, 0, 0], question('example.test', 6));
    const r = await ask(q);
    t.ok(r.ok, `${name}: ${r.why}`);
    t.equal(r.rcode, 4, `${name} → NOTIMP`);
    t.equal(r.opcode, op, `${name}: opcode echoed`);
    t.equal(r.id, q.readUInt16BE(0));
  }
});

t.test('QR=1 packets get no answer, then a valid query is still answered', async (t) => {
  const qid = id();
  const q = raw(qid, 0x8100, [1, 0, 0, 0], question('www.example.test', 1));
  const res = await udp.query(q, 700);
  t.equal(res, null, 'a response packet is not answered');
  // A response-shaped packet with answers, as a reflection attempt would send.
  const fake = dnsPacket.encode({ type: 'response', id: id(), flags: 0x8400, questions: [{ name: 'www.example.test', type: 'A' }], answers: [{ type: 'A', name: 'www.example.test', data: '1.2.3.4' }] });
  t.equal(await udp.query(fake, 500), null, 'a forged response is not answered');
  const ok = await ask(buildQuery('www.example.test', 'A', { id: id() }));
  t.equal(ok.rcode, 0, 'valid query answered afterwards');
});

t.test('packets shorter than a header are dropped without harm', async (t) => {
  for (const len of [0, 1, 2, 11]) {
    await udp.send(Buffer.alloc(len, 0xab));
  }
  const ok = await ask(buildQuery('www.example.test', 'A', { id: id() }));
  t.equal(ok.rcode, 0, 'valid query answered afterwards');
  t.ok(udp.stray.every((b) => b.length >= 12), 'no runt responses');
});

t.test('EDNS(0)', async (t) => {
  await t.test('response OPT advertises 1232', async (t) => {
    const r = await ask(buildQuery('www.example.test', 'A', { id: id(), edns: { size: 4096 } }));
    t.ok(r.ok, r.why);
    const o = optOf(r.packet);
    t.ok(o, 'OPT present');
    t.equal(o?.udpPayloadSize, 1232);
    t.equal(o?.ednsVersion, 0);
  });
  await t.test('DO bit echoed, and not set when not asked', async (t) => {
    const d1 = await ask(buildQuery('www.example.test', 'A', { id: id(), edns: { do: true } }));
    t.equal(optOf(d1.packet)?.flag_do, true, 'DO=1 echoed');
    const d0 = await ask(buildQuery('www.example.test', 'A', { id: id(), edns: { do: false } }));
    t.equal(optOf(d0.packet)?.flag_do, false, 'DO=0 stays 0');
  });
  await t.test('version 1 → BADVERS with an OPT', async (t) => {
    const q = raw(id(), 0x0100, [1, 0, 0, 1], Buffer.concat([question('www.example.test', 1), opt(1232, 1)]));
    const r = await ask(q);
    t.ok(r.ok, r.why);
    t.equal(r.optCount, 1, 'OPT in the response');
    t.equal(r.rcode, 16, 'extended rcode 16 (BADVERS) through the OPT');
    t.equal(r.packet?.answers?.length ?? 0, 0, 'no answer with BADVERS');
    t.equal(optOf(r.packet)?.ednsVersion, 0, 'responds with the version it supports');
  });
  await t.test('two OPT RRs → FORMERR', async (t) => {
    const q = raw(id(), 0x0100, [1, 0, 0, 2], Buffer.concat([question('www.example.test', 1), opt(1232), opt(1232)]));
    const r = await ask(q);
    t.ok(r.ok, r.why);
    t.equal(r.rcode, 1, 'FORMERR');
  });
  await t.test('OPT with a non-root owner → FORMERR', async (t) => {
    const bad = Buffer.concat([Buffer.from([1, 0x78]), opt(1232)]); // owner "x." then the OPT fields
    const q = raw(id(), 0x0100, [1, 0, 0, 1], Buffer.concat([question('www.example.test', 1), bad]));
    const r = await ask(q);
    t.ok(r.ok, r.why);
    t.equal(r.rcode, 1, 'FORMERR');
  });
  await t.test('unknown options are ignored', async (t) => {
    const o = Buffer.from([0xfd, 0xe9, 0, 3, 1, 2, 3]); // option 65001, 3 bytes
    const q = raw(id(), 0x0100, [1, 0, 0, 1], Buffer.concat([question('www.example.test', 1), opt(1232, 0, 0, o)]));
    const r = await ask(q);
    t.equal(r.rcode, 0);
    t.same(datas(r), ['192.0.2.20']);
  });
  await t.test('advertised size below 512 is treated as 512', async (t) => {
    const q = raw(id(), 0x0100, [1, 0, 0, 1], Buffer.concat([question('big.example.test', 1), opt(100)]));
    const r = await ask(q);
    t.ok(r.ok, r.why);
    t.ok(r.size > 0 && r.size <= 512, `size ${r.size} ≤ 512 (sizes below 512 count as 512, RFC 6891 6.2.5)`);
    t.ok(r.tc, 'TC');
  });
});

t.test('responses never exceed the advertised size', async (t) => {
  const cases: Array<[string, number | null, number]> = [
    ['no EDNS', null, 512], ['EDNS 512', 512, 512], ['EDNS 1000', 1000, 1000], ['EDNS 1232', 1232, 1232],
    ['EDNS 4096', 4096, 4096],
  ];
  for (const [label, size, limit] of cases) {
    for (const [name, type] of [['big.example.test', 'A'], ['example.test', 'ANY'], ['example.test', 'CAA'], ['txt.example.test', 'TXT']] as const) {
      const q = buildQuery(name, type, { id: id(), edns: size === null ? false : { size } });
      const r = await ask(q);
      t.ok(r.ok, `${label} ${name}/${type}: ${r.why}`);
      t.ok(r.size <= limit, `${label} ${name}/${type}: ${r.size} ≤ ${limit}`);
      if (size === null) t.equal(r.optCount, 0, `${label}: no OPT in the response`);
      else t.equal(r.optCount, 1, `${label}: OPT kept even when truncated`);
      if (r.tc) t.ok(r.size > 0, `${label} ${name}/${type}: truncated but well-formed`);
    }
  }
  const big = await ask(buildQuery('big.example.test', 'A', { id: id() }));
  t.ok(big.tc, 'big RRset without EDNS sets TC');
  const bigE = await ask(buildQuery('big.example.test', 'A', { id: id(), edns: { size: 1232 } }));
  t.ok(bigE.tc, 'big RRset with EDNS 1232 sets TC');
  const fits = await ask(buildQuery('big.example.test', 'A', { id: id(), edns: { size: 4096 } }));
  // With 4096 the server may cap to its own 1232 (TC) or answer whole: either way it fits.
  t.ok(fits.tc || fits.packet?.answers?.length === 100, 'with 4096: whole, or TC when capped');
});

t.test('mixed case is echoed in the question', async (t) => {
  const r = await ask(buildQuery('MaIl.EXAMPLE.test', 'A', { id: id() }));
  t.equal(r.packet?.questions?.[0]?.name, 'MaIl.EXAMPLE.test');
  t.same(datas(r), ['192.0.2.25']);
});

t.test('CHAOS TXT version.bind and id.server', async (t) => {
  const v = await ask(buildQuery('version.bind', 'TXT', { id: id(), cls: 'CH' }));
  const text = ((v.packet?.answers?.[0] as { data?: Buffer[] } | undefined)?.data ?? []).map(String).join('');
  t.match(text, /^kdns/, `default version.bind names kdns (${text})`);
  for (const name of ['version.bind', 'id.server', 'VERSION.BIND']) {
    const r = await ask(buildQuery(name, 'TXT', { id: id(), cls: 'CH' }));
    t.ok(r.ok, r.why);
    t.equal(r.rcode, 0, `${name}: NOERROR`);
    t.equal(r.packet?.answers?.length, 1, `${name}: one answer`);
    const a = r.packet?.answers?.[0] as dnsPacket.Answer & { class: string } | undefined;
    t.equal(a?.type, 'TXT');
    t.equal(a?.class, 'CH');
  }
  // Other classes for IN names are not served from the IN zone.
  const chWww = await ask(buildQuery('www.example.test', 'A', { id: id(), cls: 'CH' }));
  t.not(chWww.rcode, 0, `CH www.example.test is not NOERROR (${chWww.rcode})`);
});

t.test('AXFR and IXFR over TCP → REFUSED or NOTIMP', async (t) => {
  const c = new TcpClient(kdns.port);
  await c.connected;
  for (const type of ['AXFR', 'IXFR'] as const) {
    const res = await c.query(buildQuery('example.test', type, { id: id() }));
    t.ok(res, `${type} answered`);
    const r = check(res ?? Buffer.alloc(0));
    t.ok(r.ok, r.why);
    t.ok(r.rcode === 5 || r.rcode === 4, `${type} rcode ${r.rcode} is REFUSED or NOTIMP`);
    if (c.closed) break;
  }
  c.destroy();
  const udpAxfr = await ask(buildQuery('example.test', 'AXFR', { id: id() }));
  t.ok(udpAxfr.rcode === 5 || udpAxfr.rcode === 4 || udpAxfr.rcode === 1, `AXFR over UDP rcode ${udpAxfr.rcode}`);
});

t.test('negative answers, dangling CNAME, wildcard owner names', async (t) => {
  const nx = await ask(buildQuery('nope.example.test', 'A', { id: id() }));
  t.equal(nx.rcode, 3, 'NXDOMAIN');
  t.ok(nx.aa, 'authoritative');
  const soa = nx.packet?.authorities?.[0];
  t.equal(soa?.type, 'SOA', 'SOA in authority');
  t.equal((soa as { ttl?: number } | undefined)?.ttl, 60, 'negative TTL = min(SOA TTL, SOA minimum) (RFC 2308)');
  const ent = await ask(buildQuery('wild.example.test', 'A', { id: id() }));
  t.equal(ent.rcode, 0, 'the parent of a wildcard is an empty non-terminal: NODATA, not NXDOMAIN');
  t.equal(ent.packet?.answers?.length ?? 0, 0);
  const dangling = await ask(buildQuery('dangling.example.test', 'A', { id: id() }));
  t.equal(dangling.rcode, 3, 'CNAME to a missing name in the zone: NXDOMAIN (RFC 6604)');
  t.same(dangling.packet?.answers?.map((a) => a.type), ['CNAME'], 'with the CNAME in the answer');
  const w = await ask(buildQuery('Some.Wild.example.test', 'TXT', { id: id() }));
  t.equal(w.packet?.answers?.[0]?.name.toLowerCase(), 'some.wild.example.test', 'wildcard answer owned by the query name');
  const wnx = await ask(buildQuery('some.wild.example.test', 'MX', { id: id() }));
  t.equal(wnx.rcode, 0, 'wildcard name, missing type: NODATA');
  t.equal(wnx.packet?.answers?.length ?? 0, 0);
});

t.test('REFUSED answers are not authoritative', async (t) => {
  const r = await ask(buildQuery('www.example.org', 'A', { id: id() }));
  t.equal(r.rcode, 5);
  t.notOk(r.aa, 'no AA on REFUSED');
  t.equal(r.packet?.answers?.length ?? 0, 0, 'no answers');
});

t.test('--no-forward: names outside every zone are REFUSED', async (t) => {
  const r = await ask(buildQuery('www.example.org', 'A', { id: id() }));
  t.equal(r.rcode, 5, 'REFUSED');
});

t.test('CHAOS answers are configurable: text, or none → REFUSED', async (t) => {
  const k2 = await startKdns(wireArgs(['--chaos-version-bind', 'none', '--chaos-id-server', 'node-7.wire']), { t });
  const c2 = new UdpClient(k2.port);
  await c2.bind();
  const v = check((await c2.query(buildQuery('version.bind', 'TXT', { id: id(), cls: 'CH' }))) ?? Buffer.alloc(0));
  t.equal(v.rcode, 5, 'version.bind → REFUSED with --chaos-version-bind none');
  for (const name of ['id.server', 'hostname.bind']) {
    const r = check((await c2.query(buildQuery(name, 'TXT', { id: id(), cls: 'CH' }))) ?? Buffer.alloc(0));
    t.equal(r.rcode, 0, `${name}: NOERROR`);
    const data = (r.packet?.answers?.[0] as { data?: Buffer[] } | undefined)?.data;
    t.same(data?.map(String), ['node-7.wire'], `${name}: the configured text`);
  }
  c2.close();
  t.equal(await k2.stop(), 0);
});

t.test('server still alive', async (t) => {
  const r = await ask(buildQuery('www.example.test', 'A', { id: id() }));
  t.equal(r.rcode, 0);
  t.ok(kdns.alive());
  t.equal(await kdns.stop(), 0);
});
