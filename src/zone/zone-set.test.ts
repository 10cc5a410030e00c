import t from 'tap';
import { Zone } from './zone.js';
import { ZoneSet } from './zone-set.js';

t.test('findZone picks the closest enclosing zone, label-wise', async (t) => {
  const zs = new ZoneSet();
  t.equal(zs.findZone('a.b.'), undefined, 'empty set');
  for (const o of ['local.', 'cluster.local.', 'svc.cluster.local.']) zs.add(new Zone(o));
  const origin = (q: string): string | undefined => zs.findZone(q)?.origin;
  t.equal(origin('a.b.svc.cluster.local.'), 'svc.cluster.local.');
  t.equal(origin('svc.cluster.local.'), 'svc.cluster.local.');
  t.equal(origin('pod.cluster.local.'), 'cluster.local.');
  t.equal(origin('xcluster.local.'), 'local.', 'a string suffix is not a label suffix');
  t.equal(origin('example.com.'), undefined);
  zs.remove('svc.cluster.local.');
  t.equal(origin('a.svc.cluster.local.'), 'cluster.local.', 'after removal the parent answers');
  t.same(zs.zones().map((z) => z.origin).sort(), ['cluster.local.', 'local.']);
});

t.test('a root zone encloses everything; add replaces by origin', async (t) => {
  const zs = new ZoneSet();
  const root = new Zone('.');
  zs.add(root);
  t.equal(zs.findZone('anything.example.'), root);
  const again = new Zone('.');
  zs.add(again);
  t.equal(zs.get('.'), again);
  t.equal(zs.zones().length, 1);
});
