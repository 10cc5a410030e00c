// Lookup against a changing store: readiness, the synthesizer, incremental changes and the `deps`
// contract that lets a cache of compiled answers invalidate exactly what a change affects.
import fc from 'fast-check';
import t from 'tap';
import { CLASS_IN, RCODE_NOERROR, RCODE_NXDOMAIN, RCODE_SERVFAIL, TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_DS, TYPE_MX,
  TYPE_NS, TYPE_SRV, TYPE_TXT } from '../dns/constants.js';
import { rdataA, rdataMx, rdataName, rdataTxt } from '../dns/rdata.js';
import type { RrSet } from '../dns/types.js';
import { lookup } from './lookup.js';
import { Zone } from './zone.js';
import { ZoneSet } from './zone-set.js';
import { formatRr, parseZone } from './zone-text.js';

const SOA = '@ SOA ns hostmaster 1 7200 3600 1209600 30\n@ NS ns\nns A 192.0.2.1\n';

function setOf(...zones: [string, string][]): ZoneSet {
  const set = new ZoneSet();
  for (const [origin, text] of zones) {
    const z = new Zone(origin);
    z.replaceAll(parseZone(origin, text));
    set.add(z);
  }
  return set;
}

const answerText = (zs: ZoneSet, q: string, type: number): string[] => lookup(zs, q, type).answer.map(formatRr);

t.test('a zone that has not synced answers SERVFAIL without authority, never NXDOMAIN', async (t) => {
  const zs = setOf(['k.', SOA + 'www A 192.0.2.2'], ['sub.k.', SOA]);
  zs.get('k.')!.ready = false;
  for (const q of ['k.', 'www.k.', 'nothere.k.']) {
    const r = lookup(zs, q, TYPE_A);
    t.equal(r.rcode, RCODE_SERVFAIL, q);
    t.equal(r.aa, false);
    t.equal(r.answer.length + r.authority.length + r.additional.length, 0);
  }
  t.equal(lookup(zs, 'nothere.sub.k.', TYPE_A).rcode, RCODE_NXDOMAIN, 'a synced child zone still answers');
  zs.get('k.')!.ready = true;
  t.same(answerText(zs, 'www.k.', TYPE_A), ['www.k. 3600 A 192.0.2.2'], 'answers once ready');
});

t.test('a zone without SOA cannot answer', async (t) => {
  const zs = new ZoneSet();
  zs.add(new Zone('e.'));
  t.equal(lookup(zs, 'x.e.', TYPE_A).rcode, RCODE_SERVFAIL);
});

t.test('DS at a zone apex stays with the zone when no parent zone is served', async (t) => {
  const zs = setOf(['c.p.', SOA]);
  const r = lookup(zs, 'c.p.', TYPE_DS);
  t.equal(r.rcode, RCODE_NOERROR);
  t.same(r.authority.map((rr) => rr.name), ['c.p.']);
});

t.test('synthesizer: consulted only for names the store lacks, before wildcards', async (t) => {
  const zs = setOf(['cl.', SOA + 'ns1.pod TYPE0\n*.w A 192.0.2.40\nsrv SRV 0 0 80 1-2-3-4.ns1.pod\n']);
  const zone = zs.get('cl.')!;
  const asked: string[] = [];
  zone.synthesizer = (q) => {
    asked.push(q);
    const m = /^(\d+)-(\d+)-(\d+)-(\d+)\.([a-z0-9-]+)\.pod\.cl\.$/.exec(q);
    if (m !== null && zone.nodeExists(`${m[5]}.pod.cl.`)) {
      return [{ name: q, type: TYPE_A, class: CLASS_IN, ttl: 5, rdatas: [rdataA(m.slice(1, 5).join('.'))] }];
    }
    if (q === 's.w.cl.') return []; // exists without data
    return null;
  };
  t.same(answerText(zs, '1-2-3-4.ns1.pod.cl.', TYPE_A), ['1-2-3-4.ns1.pod.cl. 5 A 1.2.3.4']);
  const nodata = lookup(zs, '1-2-3-4.ns1.pod.cl.', TYPE_AAAA);
  t.equal(nodata.rcode, RCODE_NOERROR, 'other types: NODATA');
  t.equal(nodata.authority.length, 1);
  t.equal(lookup(zs, '1-2-3-4.ns2.pod.cl.', TYPE_A).rcode, RCODE_NXDOMAIN, 'null means no such name');
  t.equal(lookup(zs, 'x.1-2-3-4.ns1.pod.cl.', TYPE_A).rcode, RCODE_NXDOMAIN);
  t.same(lookup(zs, 'srv.cl.', TYPE_SRV).additional.map(formatRr), ['1-2-3-4.ns1.pod.cl. 5 A 1.2.3.4'],
    'additional data reaches synthesized targets');
  asked.length = 0;
  lookup(zs, 'ns1.pod.cl.', TYPE_A);
  t.same(asked, [], 'names in the store never reach the synthesizer');
  t.equal(lookup(zs, 's.w.cl.', TYPE_A).rcode, RCODE_NOERROR, 'a synthesized name is not matched by the wildcard');
  t.equal(lookup(zs, 's.w.cl.', TYPE_A).answer.length, 0);
  t.equal(lookup(zs, 'q.s.w.cl.', TYPE_A).rcode, RCODE_NXDOMAIN, 'nor are names below one (it is their closest encloser)');
  t.same(answerText(zs, 'q.t.w.cl.', TYPE_A), ['q.t.w.cl. 3600 A 192.0.2.40'], 'elsewhere the wildcard applies');
});

t.test('incremental changes show in the next lookup', async (t) => {
  const zs = setOf(['k.', SOA]);
  const z = zs.get('k.')!;
  t.equal(lookup(zs, 'svc.k.', TYPE_A).rcode, RCODE_NXDOMAIN);
  z.apply({ op: 'upsert', rrset: { name: 'a.svc.k.', type: TYPE_A, class: CLASS_IN, ttl: 5, rdatas: [rdataA('192.0.2.5')] } });
  t.equal(lookup(zs, 'svc.k.', TYPE_A).rcode, RCODE_NOERROR, 'NXDOMAIN became NODATA (ENT)');
  z.apply({ op: 'upsert', rrset: { name: 'svc.k.', type: TYPE_NS, class: CLASS_IN, ttl: 5, rdatas: [rdataName('ns.other.')] } });
  t.equal(lookup(zs, 'a.svc.k.', TYPE_A).aa, false, 'an NS makes a referral');
  z.apply({ op: 'delete', name: 'svc.k.', type: TYPE_NS });
  t.same(answerText(zs, 'a.svc.k.', TYPE_A), ['a.svc.k. 5 A 192.0.2.5'], 'and deleting it restores authority');
});

// The cache contract: whenever a change alters an answer, some name the change reports through
// the change set was in that answer's deps. Checked over random zones, changes and queries.
t.test('deps cover every change that alters an answer (property)', async (t) => {
  const names = ['a.k.', 'b.a.k.', 'c.b.a.k.', '*.a.k.', 'x.*.a.k.', 'd.k.', 'e.d.k.', '*.k.'];
  const qnames = [...names, 'q.a.k.', 'q.b.a.k.', 'zz.k.', 'q.zz.k.', 'k.'];
  const qtypes = [TYPE_A, TYPE_TXT, TYPE_MX];
  const rrsetFor = (name: string, type: number, v: number): RrSet => {
    const target = names[v % names.length]!;
    const rdata = type === TYPE_A ? rdataA(`192.0.2.${v}`) : type === TYPE_MX ? rdataMx(10, target)
      : type === TYPE_TXT ? rdataTxt([String(v)]) : rdataName(target === name ? 'out.' : target);
    return { name, type, class: CLASS_IN, ttl: 60, rdatas: type === 0 ? [] : [rdata] };
  };
  const changeArb = fc.record({
    name: fc.constantFrom(...names), type: fc.constantFrom(0, TYPE_A, TYPE_TXT, TYPE_MX, TYPE_CNAME, TYPE_NS),
    v: fc.nat(20), del: fc.boolean(),
  });
  const snapshot = (zs: ZoneSet, q: string, ty: number, deps?: Set<string>): string => {
    const r = lookup(zs, q, ty, deps);
    return JSON.stringify([r.rcode, r.aa, ...[r.answer, r.authority, r.additional].map((s) => s.map(formatRr))]);
  };
  t.doesNotThrow(() => fc.assert(fc.property(fc.array(changeArb, { maxLength: 12 }), changeArb, (setup, change) => {
    const zs = setOf(['k.', SOA]);
    const z = zs.get('k.')!;
    const apply = (c: typeof change, touched?: Set<string>): void => {
      // A CNAME cannot share its name with other data; keep the random zones legal.
      if (!c.del && z.node(c.name)?.rrsets.some((r) => (r.type === TYPE_CNAME) !== (c.type === TYPE_CNAME))) return;
      z.apply(c.del ? { op: 'delete', name: c.name, type: c.type } : { op: 'upsert', rrset: rrsetFor(c.name, c.type, c.v) }, touched);
    };
    setup.forEach((c) => apply(c));
    const before = new Map<string, { text: string; deps: Set<string> }>();
    for (const q of qnames) for (const ty of qtypes) {
      const deps = new Set<string>();
      before.set(q + '/' + ty, { text: snapshot(zs, q, ty, deps), deps });
    }
    const touched = new Set<string>();
    apply(change, touched);
    for (const q of qnames) for (const ty of qtypes) {
      const was = before.get(q + '/' + ty)!;
      if (snapshot(zs, q, ty) !== was.text && ![...touched].some((n) => was.deps.has(n))) {
        throw new Error(`${q} ${ty} changed but deps ${[...was.deps]} miss ${[...touched]}`);
      }
    }
    return true;
  }), { numRuns: 200 }));
});
