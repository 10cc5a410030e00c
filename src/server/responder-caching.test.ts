// What the responder keeps, and when it lets go: reusable forwarded answers handed to mirrors as templates
// with their flag variant, forwarded-name memos forgotten only when a change could make a forwarded name
// local, compiled answers dropped exactly when a name they depended on changes, and nonexistent names
// cached only from their second query.
import t from 'tap';
import { Responder, forwardVariant, type AnswerMirror, type ForwardingPort, RESPOND_FORWARD, PROTO_UDP } from './responder.js';
import { LocalNames } from './local-names.js';
import { Zone, ZoneSet } from '../zone/index.js';
import { rdataA, rdataName, rdataSoa } from '../dns/rdata.js';

function wireQuery(name: string, flags: number, opt: Buffer | null): Buffer {
  const labels = name.split('.').filter((l) => l.length > 0);
  const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
  const header = Buffer.from([0x12, 0x34, flags >> 8, flags & 0xff, 0, 1, 0, 0, 0, 0, 0, opt === null ? 0 : 1]);
  return Buffer.concat([header, qname, Buffer.from([0, 1, 0, 1]), opt ?? Buffer.alloc(0)]);
}

const OPT_DO = Buffer.from([0, 0, 41, 4, 0xd0, 0, 0, 0x80, 0, 0, 0]);

function setup(): { responder: Responder; mirror: RecordingMirror } {
  const zone = new Zone('example.test.');
  zone.replaceAll([
    { name: 'example.test.', type: 6, class: 1, ttl: 60, rdatas: [rdataSoa({
      mname: 'ns.example.test.', rname: 'h.example.test.', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 1,
    })] },
    { name: 'example.test.', type: 2, class: 1, ttl: 60, rdatas: [rdataName('ns.example.test.')] },
    { name: 'www.example.test.', type: 1, class: 1, ttl: 60, rdatas: [rdataA('192.0.2.1')] },
  ]);
  const zones = new ZoneSet();
  zones.add(zone);
  const forwarder: ForwardingPort = {
    routes: () => true,
    isLoopProbe: () => false,
    loopProbeResponse: () => Buffer.alloc(0),
    // The client's query as the answer, QR and RA set, plus our OPT when it had one: enough to check the template.
    answerNow: (query, _slot, _key, _client, out) => {
      const r = Buffer.from(query);
      r[2] = r[2]! | 0x80;
      r[3] = r[3]! | 0x80;
      out.reset();
      out.answer = r;
      out.reuseMs = 500;
      out.reuseKind = 1;
    },
    continueMiss: () => {},
    reuseSetup: () => ({ acl: Buffer.alloc(0), advertisedUdp: 1232, hits: new Float64Array(3), maxEntries: 1000 }),
  };
  const responder = new Responder({ zones, local: [new LocalNames()], maxUdpPayload: 1232, chaos: { versionBind: null, idServer: null }, forwarder });
  const mirror = new RecordingMirror();
  responder.addMirror(mirror);
  return { responder, mirror };
}

class RecordingMirror implements AnswerMirror {
  deleted: string[] = [];
  sets: string[] = [];
  forwarded: { qtype: number; variant: number; answer: Buffer; validMs: number; kind: number }[] = [];
  forwardedClears = 0;
  set(name: Buffer, nameLength: number, qtype: number): void {
    this.sets.push(`${qtype} ${name.subarray(0, nameLength).toString('hex')}`);
  }
  delete(name: Buffer, nameLength: number, qtype: number): void {
    this.deleted.push(`${qtype} ${name.subarray(0, nameLength).toString('hex')}`);
  }
  clear(): void {}
  setForwarded(_n: Buffer, _l: number, qtype: number, variant: number, answer: Buffer, validMs: number, kind: number): void {
    this.forwarded.push({ qtype, variant, answer: Buffer.from(answer), validMs, kind });
  }
  clearForwarded(): void {
    this.forwardedClears++;
  }
}

t.test('a reusable forwarded answer reaches the mirrors as a template: ID 0, RD and CD clear, no OPT', async (t) => {
  const { responder, mirror } = setup();
  const out = Buffer.alloc(65535 + 64);
  const query = wireQuery('Ext.Other.', 0x0110 /* RD, CD */, OPT_DO);
  t.equal(responder.respond(query, query.length, PROTO_UDP, out), RESPOND_FORWARD);
  const n = responder.handoff.answerNow(query, query.length, '127.0.0.1', 0, PROTO_UDP, out);
  t.equal(n, query.length, 'the answer went out');
  t.equal(mirror.forwarded.length, 1);
  const f = mirror.forwarded[0]!;
  t.equal(f.variant, forwardVariant(true, true, false), 'DO and CD in the variant');
  t.equal(f.validMs, 500);
  t.equal(f.kind, 1);
  t.equal(f.answer.length, query.length - OPT_DO.length, 'OPT cut off');
  t.equal(f.answer.readUInt16BE(0), 0, 'ID 0');
  t.equal(f.answer[2]! & 0x01, 0, 'RD clear');
  t.equal(f.answer[3]! & 0x10, 0, 'CD clear');
  t.equal(f.answer.readUInt16BE(10), 0, 'ARCOUNT without the OPT');
});

t.test('only a change outside every zone forgets what is forwarded', async (t) => {
  const { responder, mirror } = setup();
  responder.invalidateNames(['www.example.test.', 'new.example.test.']);
  t.equal(mirror.forwardedClears, 0, 'names inside a zone cannot make a forwarded name local');
  responder.invalidateNames(['1.2.0.192.in-addr.arpa.']);
  t.equal(mirror.forwardedClears, 1, 'a reverse name (a local store) can');
  responder.invalidate();
  t.equal(mirror.forwardedClears, 2, 'and so can any wholesale change');
});

t.test('a changed name drops exactly the answers that depended on it, one or several', async (t) => {
  const { responder, mirror } = setup();
  const out = Buffer.alloc(65535 + 64);
  const ask = (name: string, qtype: number): void => {
    const q = wireQuery(name, 0x0100, null);
    q.writeUInt16BE(qtype, q.length - 4);
    responder.respond(q, q.length, PROTO_UDP, out);
  };
  ask('www.example.test.', 1);
  ask('www.example.test.', 28); // NODATA: a second answer depending on www
  ask('nope.example.test.', 1); // NXDOMAIN: cached from the second time it is asked
  ask('nope.example.test.', 1); // now it depends on nope (alone) and on what the lookup walked
  const wire = (name: string): string => Buffer.concat([
    ...name.split('.').filter((l) => l).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0]),
  ]).toString('hex');
  responder.invalidateNames(['www.example.test.']);
  t.same(mirror.deleted.sort(), [`1 ${wire('www.example.test.')}`, `28 ${wire('www.example.test.')}`].sort(), 'both www answers');
  mirror.deleted = [];
  responder.invalidateNames(['nope.example.test.']);
  t.same(mirror.deleted, [`1 ${wire('nope.example.test.')}`], 'the NXDOMAIN answer for nope');
  mirror.deleted = [];
  responder.invalidateNames(['www.example.test.']);
  t.same(mirror.deleted, [], 'nothing left that depended on www');
});

t.test('a nonexistent name is cached only when asked a second time', async (t) => {
  const { responder, mirror } = setup();
  const out = Buffer.alloc(65535 + 64);
  const ask = (name: string): number => {
    const q = wireQuery(name, 0x0100, null);
    responder.respond(q, q.length, PROTO_UDP, out);
    return out[3]! & 0x0f;
  };
  t.equal(ask('once.example.test.'), 3, 'NXDOMAIN');
  t.equal(mirror.sets.length, 0, 'not cached after one query');
  t.equal(ask('once.example.test.'), 3, 'NXDOMAIN again');
  t.equal(mirror.sets.length, 1, 'cached on the second');
  t.equal(ask('www.example.test.'), 0);
  t.equal(mirror.sets.length, 2, 'an existing name is cached at once');
  for (let i = 0; i < 1000; i++) ask(`r${i}.example.test.`);
  t.equal(mirror.sets.length, 2, 'a thousand one-off names leave the cache alone');
  // Asked again, after each other: every one is remembered (names sharing a slot must not evict each
  // other for ever, as they did in a direct-mapped table), so all thousand are cached now.
  for (let i = 0; i < 1000; i++) ask(`r${i}.example.test.`);
  t.equal(mirror.sets.length, 1002, 'all thousand cached on their second query');
});
