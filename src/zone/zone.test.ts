import fc from 'fast-check';
import t from 'tap';
import { CLASS_IN, TYPE_A, TYPE_NS, TYPE_SOA, TYPE_TXT } from '../dns/constants.js';
import { rdataA, rdataName, rdataTxt } from '../dns/rdata.js';
import type { RrSet } from '../dns/types.js';
import { Zone } from './zone.js';
import { parseZone } from './zone-text.js';

const a = (name: string, ...ips: string[]): RrSet =>
  ({ name, type: TYPE_A, class: CLASS_IN, ttl: 60, rdatas: ips.map(rdataA) });

const BASE = parseZone('z.', '@ SOA ns hostmaster 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1');

function base(): Zone {
  const z = new Zone('z.');
  z.replaceAll(BASE);
  return z;
}

t.test('upsert creates empty non-terminals and delete prunes them', async (t) => {
  const z = base();
  z.apply({ op: 'upsert', rrset: a('a.b.c.z.', '192.0.2.7') });
  t.ok(z.nodeExists('b.c.z.'), 'ENT b.c.z. exists');
  t.ok(z.nodeExists('c.z.'), 'ENT c.z. exists');
  t.equal(z.get('b.c.z.', TYPE_A), undefined, 'an ENT has no data');
  z.apply({ op: 'upsert', rrset: a('x.c.z.', '192.0.2.8') });
  z.apply({ op: 'delete', name: 'a.b.c.z.', type: TYPE_A });
  t.notOk(z.nodeExists('a.b.c.z.'), 'deleted leaf is gone');
  t.notOk(z.nodeExists('b.c.z.'), 'its now childless ENT is gone');
  t.ok(z.nodeExists('c.z.'), 'an ENT with another child stays');
  z.apply({ op: 'delete', name: 'x.c.z.', type: TYPE_A });
  t.notOk(z.nodeExists('c.z.'), 'last child gone: ENT gone');
  t.ok(z.nodeExists('z.'), 'apex stays');
  t.same([...z.names()].sort(), ['ns.z.', 'z.'], 'store back to the start');
});

t.test('upsert replaces an RRset; an empty upsert deletes; size counts RRsets', async (t) => {
  const z = base();
  t.equal(z.size, 3);
  z.apply({ op: 'upsert', rrset: a('w.z.', '192.0.2.1', '192.0.2.2') });
  z.apply({ op: 'upsert', rrset: { name: 'w.z.', type: TYPE_TXT, class: CLASS_IN, ttl: 5, rdatas: [rdataTxt(['x'])] } });
  t.equal(z.size, 5);
  z.apply({ op: 'upsert', rrset: a('w.z.', '192.0.2.3') });
  t.equal(z.size, 5, 'replacing does not add');
  t.same(z.get('w.z.', TYPE_A)!.rdatas, [rdataA('192.0.2.3')]);
  z.apply({ op: 'upsert', rrset: a('w.z.') });
  t.equal(z.get('w.z.', TYPE_A), undefined, 'upsert without RDATA deletes');
  t.equal(z.size, 4);
  z.apply({ op: 'delete', name: 'w.z.', type: TYPE_A });
  z.apply({ op: 'delete', name: 'nothere.z.', type: TYPE_A });
  t.equal(z.size, 4, 'deleting what is absent is a no-op');
  t.equal(z.soa!.type, TYPE_SOA, 'soa getter');
});

t.test('type-0 mark: the name exists without data until the mark is deleted', async (t) => {
  const z = base();
  z.apply({ op: 'upsert', rrset: { name: 'ns1.svc.z.', type: 0, class: CLASS_IN, ttl: 0, rdatas: [] } });
  t.ok(z.nodeExists('ns1.svc.z.'));
  t.ok(z.nodeExists('svc.z.'), 'the mark makes parents ENTs');
  t.equal(z.size, 3, 'a mark is not an RRset');
  z.apply({ op: 'upsert', rrset: a('ns1.svc.z.', '192.0.2.9') });
  z.apply({ op: 'delete', name: 'ns1.svc.z.', type: 0 });
  t.ok(z.nodeExists('ns1.svc.z.'), 'data keeps the name after the mark goes');
  z.apply({ op: 'delete', name: 'ns1.svc.z.', type: TYPE_A });
  t.notOk(z.nodeExists('ns1.svc.z.'));
  t.notOk(z.nodeExists('svc.z.'));
  t.throws(() => z.apply({ op: 'upsert', rrset: { name: 'q.z.', type: 0, class: CLASS_IN, ttl: 0, rdatas: [rdataA('1.2.3.4')] } }),
    RangeError, 'type 0 with RDATA is refused');
});

t.test('cuts follow NS below the apex', async (t) => {
  const z = base();
  t.notOk(z.isCut('z.'), 'apex NS is not a cut');
  const ns: RrSet = { name: 'd.z.', type: TYPE_NS, class: CLASS_IN, ttl: 60, rdatas: [rdataName('ns.d.z.')] };
  z.apply({ op: 'upsert', rrset: ns });
  t.ok(z.isCut('d.z.'));
  t.ok(z.hasCuts);
  z.apply({ op: 'delete', name: 'd.z.', type: TYPE_NS });
  t.notOk(z.isCut('d.z.'));
  t.notOk(z.hasCuts);
});

t.test('version bumps on every change; the change set names data and existence changes', async (t) => {
  const z = base();
  const changed = new Set<string>();
  const v0 = z.version;
  z.apply({ op: 'upsert', rrset: a('x.y.z.', '192.0.2.1') }, changed);
  t.equal(z.version, v0 + 1);
  t.same([...changed].sort(), ['x.y.z.', 'y.z.'], 'new name and new ENT reported');
  changed.clear();
  z.apply({ op: 'delete', name: 'x.y.z.', type: TYPE_A }, changed);
  t.equal(z.version, v0 + 2);
  t.same([...changed].sort(), ['x.y.z.', 'y.z.'], 'removed name and removed ENT reported');
  z.apply({ op: 'upsert', rrset: a('q.z.', '192.0.2.3') });
  t.same([...changed].sort(), ['x.y.z.', 'y.z.'], 'a change without a set reports to none');
  changed.clear();
  z.replaceAll(parseZone('z.', '@ SOA ns hostmaster 1 2 3 4 5\nnew A 192.0.2.2'), changed);
  t.equal(z.version, v0 + 4);
  t.same([...changed].sort(), ['new.z.', 'ns.z.', 'q.z.', 'z.'], 'reload reports old and new names');
  t.notOk(z.nodeExists('ns.z.'), 'reload dropped the old content');
});

t.test('names outside the zone are refused', async (t) => {
  const z = base();
  t.throws(() => z.apply({ op: 'upsert', rrset: a('www.other.', '192.0.2.1') }), RangeError);
  t.throws(() => z.apply({ op: 'delete', name: 'xz.', type: TYPE_A }), RangeError);
  t.throws(() => z.replaceAll([a('www.other.', '192.0.2.1')]), RangeError);
  t.equal(z.size, 3, 'a refused reload leaves the zone untouched');
});

// Incremental updates must leave exactly the store a reload of the same data would build.
t.test('incremental changes equal a rebuild (property)', async (t) => {
  const labels = ['a', 'b', '*', 'c'];
  const nameArb = fc.array(fc.constantFrom(...labels), { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.') + '.z.');
  const opArb = fc.record({ del: fc.boolean(), name: nameArb, type: fc.constantFrom(0, TYPE_A, TYPE_TXT) });
  const rrsetOf = (name: string, type: number): RrSet => type === 0 ? { name, type, class: CLASS_IN, ttl: 0, rdatas: [] }
    : type === TYPE_A ? a(name, '192.0.2.1') : { name, type, class: CLASS_IN, ttl: 1, rdatas: [rdataTxt(['t'])] };
  const sameStore = (x: Zone, y: Zone): boolean =>
    x.size === y.size && JSON.stringify([...x.names()].sort()) === JSON.stringify([...y.names()].sort());
  t.doesNotThrow(() => fc.assert(fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
    const z = base();
    const model = new Map<string, RrSet>();
    for (const { name, type, del } of ops) {
      if (del) {
        z.apply({ op: 'delete', name, type });
        model.delete(name + '/' + type);
      } else {
        const rrset = rrsetOf(name, type);
        z.apply({ op: 'upsert', rrset });
        model.set(name + '/' + type, rrset);
      }
    }
    const fresh = new Zone('z.');
    fresh.replaceAll([...BASE, ...model.values()]);
    return sameStore(z, fresh);
  }), { numRuns: 150 }));
});
