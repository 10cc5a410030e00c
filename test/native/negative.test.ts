// Negative answers in C (native/negative.c): NXDOMAIN and NODATA synthesized from the zones' name sets must
// be byte for byte what JavaScript answers, counted alike, and follow zone changes at once. Two native
// engines over two identical worlds (a zone file, a cluster-like zone with pod names made by rule, local
// hosts and PTR data, a reverse zone), one with the answer cache and one without, get the same queries;
// every name in the random runs is new, so no answer can come from a table of compiled answers.
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { NativeEngine } from '../../src/engine/native.js';
import type { NativeBinding } from '../../src/engine/native-binding.js';
import { DnsCounters, DUR_OFF, REQ_OFF, sumSlots } from '../../src/metrics/dns-counters.js';
import { rdataA } from '../../src/dns/rdata.js';
import { LocalNames } from '../../src/server/local-names.js';
import { Responder } from '../../src/server/responder.js';
import { loadHostsFile } from '../../src/sources/hosts/parse.js';
import { loadZoneFile } from '../../src/sources/zonefile/parse.js';
import { insecurePodSynthesizer, podRecordsRoot } from '../../src/sources/kubernetes/pod-records.js';
import { Zone, ZoneSet, rrsetFromRecords } from '../../src/zone/index.js';
import { parseZone } from '../../src/zone/zone-text.js';
import type { RrSetChange } from '../../src/dns/types.js';
import { fileURLToPath } from 'node:url';
import {
  A, AAAA, ANY, applyChange, AXFR, Client, DO, MX, NS, OPT, SOA, SRV, TXT, message, nativeOrFail, opt, query, question, quietLog, RD,
} from './setup.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/wire/', import.meta.url));
const CD = 0x0010;
const CNAME = 5, PTR = 12, DS = 43;

const CLUSTER = `
@ 30 SOA ns.dns hostmaster 1 7200 1800 86400 5
@ 30 NS ns.dns
ns.dns 30 A 10.96.0.10
kubernetes.default.svc 5 A 10.96.0.1
web.default.svc 5 A 10.96.0.20
_http._tcp.web.default.svc 5 SRV 0 100 80 web.default.svc
alias.default.svc 5 CNAME web.default.svc
default.pod TYPE0
`;

const REVERSE = `
@ 60 SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 30
@ 60 NS ns.dns.cluster.local.
5.1 60 PTR web.example.test.
`;

/** Zones, local data and a responder wired as src/main.ts wires them (zone changes → invalidateNames). */
interface World {
  responder: Responder;
  example: Zone;
  cluster: Zone;
  reverseZone: Zone;
  hosts: LocalNames;
  /** The cluster's reverse names (the hub's `reverse` store). */
  ptrs: LocalNames;
}

function world(): World {
  const zones = new ZoneSet();
  const parsed = loadZoneFile(`${FIXTURES}example.zone`);
  const example = new Zone(parsed.origin);
  example.replaceAll(rrsetFromRecords(parsed.records));
  const cluster = new Zone('cluster.local.');
  cluster.replaceAll(parseZone('cluster.local.', CLUSTER));
  cluster.synthesizer = insecurePodSynthesizer(cluster, { zone: 'cluster.local.', ttl: 5 });
  cluster.synthesizedBelow = podRecordsRoot('cluster.local.');
  const reverseZone = new Zone('168.192.in-addr.arpa.');
  reverseZone.replaceAll(parseZone('168.192.in-addr.arpa.', REVERSE));
  for (const z of [example, cluster, reverseZone]) zones.add(z);
  const hosts = new LocalNames();
  hosts.replaceAll([
    ...loadHostsFile(`${FIXTURES}hosts`, 60),
    { name: 'legacy.cluster.local.', type: A, class: 1, ttl: 60, rdata: rdataA('10.9.9.9') },
  ]);
  const ptrs = new LocalNames();
  ptrs.replaceAll([{ name: '1.0.96.10.in-addr.arpa.', type: PTR, class: 1, ttl: 5, rdata: question('kubernetes.default.svc.cluster.local', 0).subarray(0, -4) }]);
  const responder = new Responder({ zones, local: [hosts, ptrs], maxUdpPayload: 1232, chaos: { versionBind: null, idServer: null } });
  return { responder, example, cluster, reverseZone, hosts, ptrs };
}

interface Pair {
  worlds: [World, World];
  cached: NativeEngine;
  plain: NativeEngine;
  ports: [number, number];
  sabs: [SharedArrayBuffer, SharedArrayBuffer];
  client: Client;
}

async function startPair(t: Test, b: NativeBinding): Promise<Pair> {
  const worlds: [World, World] = [world(), world()];
  const sabs: [SharedArrayBuffer, SharedArrayBuffer] = [DnsCounters.bufferFor(1), DnsCounters.bufferFor(1)];
  const engines = worlds.map((w, i) => new NativeEngine({
    listen: [{ host: '127.0.0.1', port: 0 }],
    tcp: { idleTimeoutMs: 2000, maxConnections: 64, maxQueriesInFlightPerConnection: 16, messageTimeoutMs: 2000 },
    responder: w.responder, log: quietLog, observer: new DnsCounters(sabs[i]!, 0), binding: b, answerCache: i === 0,
  }));
  const ports = [(await engines[0]!.start())[0]!.port, (await engines[1]!.start())[0]!.port] as [number, number];
  const client = new Client();
  await client.bind();
  t.teardown(async () => {
    client.close();
    for (const e of engines) await e.close();
  });
  return { worlds, cached: engines[0]!, plain: engines[1]!, ports, sabs, client };
}

/** Applies a change to the same zone of both worlds. */
function change(p: Pair, zone: 'example' | 'cluster' | 'reverseZone', c: RrSetChange): void {
  for (const w of p.worlds) applyChange(w[zone], w.responder, c);
}

let nextId = 1;

/** Asks both engines; returns the cached engine's answer and whether C answered it, after comparing. */
async function ask(t: Test, p: Pair, packet: Buffer, label: string): Promise<{ answer: Buffer | null; inC: boolean; same: boolean }> {
  const q = Buffer.from(packet);
  q.writeUInt16BE(nextId++ & 0xffff, 0);
  const before = p.cached.udpStats.nativeAnswers;
  const a = await p.client.one(p.ports[0], q, 1000);
  const inC = p.cached.udpStats.nativeAnswers > before;
  const b = await p.client.one(p.ports[1], q, 1000);
  const same = (a === null && b === null) || (a !== null && b !== null && a.equals(b));
  if (!same) t.fail(`${label}: C ${a?.toString('hex') ?? 'none'} vs JS ${b?.toString('hex') ?? 'none'}`);
  return { answer: a, inC, same };
}

const rcodeOf = (m: Buffer | null): number => (m === null ? -1 : m[3]! & 0x0f);

const binding = nativeOrFail(t);
if (binding !== null) defineTests(binding);

function defineTests(b: NativeBinding): void {
  t.test('fixed cases: which negative answers C takes, all equal to JavaScript', async (t) => {
    const p = await startPair(t, b);
    // [name, qtype, edns, answered in C?]
    const cases: [string, number, Buffer | null, boolean][] = [
      ['nope.example.test', A, null, true],
      ['NoPe.ExAmPlE.tEsT', AAAA, opt(1232, 0, DO), true], // 0x20: the client's spelling comes back
      ['a.b.c.nope.example.test', MX, opt(512), true],
      ['nope.example.test', SOA, null, true], // SOA TTL 0 on NXDOMAIN
      ['nope.example.test', ANY, null, true],
      ['nope.example.test', 0, null, true],
      ['nope.example.test', 65280, null, true],
      ['www.example.test', MX, null, true], // NODATA
      ['www.example.test', SOA, opt(1232, 0, DO), true], // NODATA for SOA keeps the TTL
      ['example.test', AAAA, null, true], // NODATA at the apex
      ['example.test', DS, null, false], // DS at an apex may be a parent zone's
      ['www.example.test', ANY, null, false],
      ['www.example.test', A, null, false], // data
      ['alias.example.test', MX, null, false], // a CNAME to follow
      ['x.wild.example.test', A, null, false], // a wildcard below
      ['x.y.wild.example.test', MX, null, false],
      ['wild.example.test', MX, null, false],
      ['x.sub.example.test', A, null, false], // delegated
      ['sub.example.test', A, null, false],
      ['x.ns1.example.test', A, null, false], // would compress into the SOA's MNAME
      ['hostmaster.example.test', A, null, false], // and RNAME
      ['nope.example.test', AXFR, null, false],
      ['nope.example.test', OPT, null, false],
      ['nope.example.test', 200, null, false],
      ['db.hosts.test', A, null, false], // hosts data, outside every zone
      ['google.com.default.svc.cluster.local', A, null, true], // a search-path expansion
      ['google.com.svc.cluster.local', AAAA, null, true],
      ['nope.default.svc.cluster.local', SRV, opt(1232), true],
      ['web.default.svc.cluster.local', AAAA, null, true],
      ['default.svc.cluster.local', A, null, true], // an empty non-terminal
      ['x.dns.cluster.local', A, null, false], // the SOA's MNAME is ns.dns
      ['10-1-2-3.default.pod.cluster.local', A, null, false], // a pod name by rule
      ['10-1-2-3.nons.pod.cluster.local', A, null, false],
      ['legacy.cluster.local', A, null, false], // hosts data inside a zone
      ['legacy.cluster.local', MX, null, false],
      ['x.legacy.cluster.local', A, null, true],
      ['9.9.168.192.in-addr.arpa', PTR, null, true], // a reverse zone we serve
      ['5.1.168.192.in-addr.arpa', TXT, null, true],
      ['9.9.9.10.in-addr.arpa', PTR, null, false], // outside every zone: refused (or forwarded)
      ['1.0.96.10.in-addr.arpa', PTR, null, false],
      ['outside.invalid', A, null, false],
    ];
    for (const [name, qtype, edns, inC] of cases) {
      const r = await ask(t, p, query(0, name, qtype, edns), name);
      t.equal(r.inC, inC, `${name} type ${qtype}: ${inC ? 'C' : 'JavaScript'} (rcode ${rcodeOf(r.answer)})`);
    }
    const flags = [0, RD | CD, CD];
    for (const f of flags) {
      const r = await ask(t, p, message(0, f, [1, 0, 0, 0], question('flags.example.test', A)), `flags ${f}`);
      t.ok(r.inC, `flags ${f.toString(16)} echoed in C`);
    }
    const fc1 = sumSlots(p.sabs[0], 1);
    const fc2 = sumSlots(p.sabs[1], 1);
    t.same(Array.from(fc1.subarray(REQ_OFF, DUR_OFF)), Array.from(fc2.subarray(REQ_OFF, DUR_OFF)), 'requests and rcodes counted alike');
  });

  t.test('zone changes reach the C name set at once', async (t) => {
    const p = await startPair(t, b);
    const nx = async (name: string, qtype = A): Promise<{ rcode: number; inC: boolean }> => {
      const r = await ask(t, p, query(0, name, qtype), name);
      return { rcode: rcodeOf(r.answer), inC: r.inC };
    };
    const a = (name: string, ip: string): RrSetChange => ({ op: 'upsert', rrset: { name, type: A, class: 1, ttl: 5, rdatas: [rdataA(ip)] } });

    t.same(await nx('new.default.svc.cluster.local'), { rcode: 3, inC: true }, 'NXDOMAIN from C');
    change(p, 'cluster', a('new.default.svc.cluster.local.', '10.96.0.30'));
    t.same(await nx('new.default.svc.cluster.local'), { rcode: 0, inC: false }, 'a name added: answered, not NXDOMAIN');
    t.same(await nx('new.default.svc.cluster.local', AAAA), { rcode: 0, inC: true }, 'and NODATA for another type, from C');
    t.same(await nx('x.new.default.svc.cluster.local'), { rcode: 3, inC: true }, 'names below it still NXDOMAIN');
    change(p, 'cluster', { op: 'delete', name: 'new.default.svc.cluster.local.', type: A });
    t.same(await nx('new.default.svc.cluster.local'), { rcode: 3, inC: true }, 'deleted: NXDOMAIN from C again');

    t.same(await nx('foo.w.cluster.local'), { rcode: 3, inC: true });
    change(p, 'cluster', a('*.w.cluster.local.', '10.0.0.1'));
    t.same(await nx('foo.w.cluster.local'), { rcode: 0, inC: false }, 'a wildcard added: JavaScript synthesizes');
    t.same(await nx('bar.w.cluster.local', MX), { rcode: 0, inC: false }, 'wildcard NODATA too');

    change(p, 'cluster', { op: 'upsert', rrset: { name: 'd.cluster.local.', type: NS, class: 1, ttl: 5, rdatas: [question('ns.d.cluster.local', 0).subarray(0, -4)] } });
    t.same(await nx('x.d.cluster.local'), { rcode: 0, inC: false }, 'a delegation added: a referral from JavaScript');

    change(p, 'cluster', { op: 'upsert', rrset: { name: 'web.default.svc.cluster.local.', type: CNAME, class: 1, ttl: 5, rdatas: [question('kubernetes.default.svc.cluster.local', 0).subarray(0, -4)] } });
    t.same((await nx('web.default.svc.cluster.local', TXT)).inC, false, 'a CNAME added: JavaScript follows it');

    // The SOA changes: the negative TTL follows (min of SOA TTL and MINIMUM).
    const soa = p.worlds[0].cluster.soa!;
    const rdata = Buffer.from(soa.rdatas[0]!);
    rdata.writeUInt32BE(2, rdata.length - 4);
    change(p, 'cluster', { op: 'upsert', rrset: { ...soa, rdatas: [rdata] } });
    const r = await ask(t, p, query(0, 'gone.cluster.local', A), 'after SOA change');
    t.ok(r.inC, 'still from C');
    // header 12, question 20 + 4, then the SOA: owner pointer 2, type 2, class 2, TTL.
    t.equal(r.answer!.readUInt32BE(12 + 20 + 4 + 6), 2, 'the new negative TTL (MINIMUM 2)');

    // Not synced: SERVFAIL from JavaScript, for the zone and, while the reverse store has not synced the
    // reverse trees (its unsyncedBelow, as the cluster source sets it), for names there: a reverse zone too.
    for (const w of p.worlds) {
      w.cluster.ready = false;
      w.ptrs.unsyncedBelow = ['in-addr.arpa.', 'ip6.arpa.'];
      w.responder.invalidate();
    }
    t.same(await nx('nope.cluster.local'), { rcode: 2, inC: false }, 'unsynced zone: SERVFAIL');
    t.same(await nx('9.9.168.192.in-addr.arpa', PTR), { rcode: 2, inC: false }, 'reverse names while the reverse store is unsynced: SERVFAIL');
    t.same(await nx('nope.example.test'), { rcode: 3, inC: true }, 'other zones still from C');
    for (const w of p.worlds) {
      w.cluster.ready = true;
      w.ptrs.unsyncedBelow = [];
      w.responder.invalidate();
    }
    t.same(await nx('nope.cluster.local'), { rcode: 3, inC: true }, 'synced again');
    t.same(await nx('9.9.168.192.in-addr.arpa', PTR), { rcode: 3, inC: true }, 'the reverse zone from C again');

    // Local data that changes: a hosts name inside a zone stops C at once (the replica reports local names).
    for (const w of p.worlds) {
      w.hosts.apply({ op: 'upsert', rrset: { name: 'printer.cluster.local.', type: A, class: 1, ttl: 60, rdatas: [rdataA('10.9.9.8')] } });
      w.responder.invalidateNames(['printer.cluster.local.']);
    }
    t.same(await nx('printer.cluster.local'), { rcode: 0, inC: false }, 'a local name added inside a zone');
  });

  t.test('random names and types, asked once each: the same bytes with and without C', async (t) => {
    const p = await startPair(t, b);
    const bases = [
      'example.test', 'www.example.test', 'wild.example.test', 'sub.example.test', 'ns1.example.test', 'mail.example.test',
      'cluster.local', 'svc.cluster.local', 'default.svc.cluster.local', 'web.default.svc.cluster.local', 'dns.cluster.local',
      'pod.cluster.local', 'default.pod.cluster.local', 'legacy.cluster.local', '168.192.in-addr.arpa', '1.168.192.in-addr.arpa',
      '96.10.in-addr.arpa', 'hosts.test', 'invalid',
    ];
    const types = [A, AAAA, MX, TXT, SRV, SOA, ANY, NS, CNAME, PTR, DS, 0, 99, 65280, AXFR, OPT, 200];
    const label = fc.stringMatching(/^[a-z0-9-]{1,12}$/);
    const arbQuery = fc.record({
      fresh: fc.boolean(), // a label never asked before, or perhaps an existing name (NODATA)
      prefix: fc.array(label, { minLength: 0, maxLength: 2 }),
      base: fc.constantFrom(...bases),
      caseMask: fc.integer({ min: 0, max: 0xffff }),
      type: fc.constantFrom(...types),
      flags: fc.constantFrom(0, RD, RD | CD, CD),
      edns: fc.option(fc.record({ size: fc.constantFrom(0, 512, 1232, 4096), flags: fc.constantFrom(0, DO) })),
    });
    const before = p.cached.udpStats.nativeAnswers;
    let run = 0;
    await fc.assert(
      fc.asyncProperty(arbQuery, async (q) => {
        const name = [...(q.fresh ? [`r${run++}`] : []), ...q.prefix, q.base].join('.');
        const cased = [...name].map((ch, i) => ((q.caseMask >> (i % 16)) & 1 ? ch.toUpperCase() : ch)).join('');
        const body = question(cased, q.type);
        const packet = q.edns === null
          ? message(0, q.flags, [1, 0, 0, 0], body)
          : message(0, q.flags, [1, 0, 0, 1], Buffer.concat([body, opt(q.edns.size, 0, q.edns.flags)]));
        return (await ask(t, p, packet, cased)).same;
      }),
      { numRuns: 400, seed: 20261203 },
    );
    const inC = p.cached.udpStats.nativeAnswers - before;
    t.ok(inC > 100, `${inC} of 400 answered in C`);
    const fc1 = sumSlots(p.sabs[0], 1);
    const fc2 = sumSlots(p.sabs[1], 1);
    t.same(Array.from(fc1.subarray(REQ_OFF, DUR_OFF)), Array.from(fc2.subarray(REQ_OFF, DUR_OFF)), 'counted alike');
  });

  t.test('mutated negative queries: C is exactly as strict as JavaScript', async (t) => {
    const p = await startPair(t, b);
    const seeds = [
      query(0, 'nope.example.test', A), query(0, 'nope.default.svc.cluster.local', AAAA, opt(1232, 0, DO)),
      query(0, 'www.example.test', MX, opt(4096)), query(0, 'example.test', TXT),
    ];
    const arbMutation = fc.record({
      seed: fc.nat(seeds.length - 1),
      edits: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 3 }),
      cut: fc.option(fc.nat()),
    });
    await fc.assert(
      fc.asyncProperty(arbMutation, async (m) => {
        let packet = Buffer.from(seeds[m.seed]!);
        for (const e of m.edits) {
          const at = 2 + (e.at % (packet.length - 2));
          packet[at] = at === 2 ? e.value & 0x7f : e.value;
        }
        if (m.cut !== null) packet = packet.subarray(0, 12 + (m.cut % (packet.length - 11)));
        return (await ask(t, p, packet, 'mutated')).same;
      }),
      { numRuns: 300, seed: 31226 },
    );
    t.pass('300 mutated queries compared');
  });

  t.test('the C name set costs O(names) and says so', async (t) => {
    const p = await startPair(t, b);
    const stats = p.cached.answerCacheStats!;
    const w = p.worlds[0];
    const zoneNames = [...w.example.names(), ...w.cluster.names(), ...w.reverseZone.names()].length;
    // Every zone name (the pod root is one: default.pod has a mark) and the hosts name inside a zone.
    t.equal(stats.negativeNames, zoneNames + 1, `${stats.negativeNames} names for ${zoneNames} zone names`);
    t.ok(stats.negativeBytes > 0 && stats.negativeBytes < 200 * stats.negativeNames + 8192, `${stats.negativeBytes} bytes`);
  });

  t.test('negative table functions check their arguments', async (t) => {
    const cache = b.cacheCreate(false, 1232);
    const apex = question('x', 0).subarray(0, -4);
    t.throws(() => b.negativeZone({} as never, apex, null, null, null, Buffer.alloc(0)), TypeError, 'not a cache');
    t.throws(() => b.negativeZone(cache, Buffer.alloc(0), null, null, null, Buffer.alloc(0)), TypeError, 'empty apex');
    t.throws(() => b.negativeNames(cache, Buffer.from([5, 1, 2])), TypeError, 'a record cut short');
    t.throws(() => b.negativeNames(cache, Buffer.from([0, 1, 0])), TypeError, 'a name of length 0');
    b.negativeZone(cache, apex, Buffer.from([1, 2, 3]), Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)); // templates that do not parse
    t.equal(b.negativeNames(cache, Buffer.concat([Buffer.from([apex.length]), apex, Buffer.from([9, 1, 0, 6])])), 1);
    t.same(b.negativeStats(cache).names, 1);
    t.same(b.negativeStats(cache).zones, 1);
    b.negativeClear(cache);
    t.same(b.negativeStats(cache).names, 0);
    const forwarded = b.cacheCreate(true, 1232);
    b.cacheMakeForwarded(forwarded, 1232, Buffer.alloc(0), new Float64Array(3));
    t.throws(() => b.negativeClear(forwarded), TypeError, 'a forwarded cache has no negative table');
      t.same(b.negativeStats(forwarded), { names: 0, zones: 0, bytes: 0 }, 'and reports none');
  });
}
