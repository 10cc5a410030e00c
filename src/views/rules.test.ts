// The view text form and the matcher: bind's address match list semantics (first element that matches
// decides; `!` excludes), IPv4-mapped clients, IPv6, `any`, and the default view for everyone else.
import t from 'tap';
import { parseView, ViewMatcher } from './rules.js';
import { ValueProblem } from '../config/values.js';

t.test('parse', async (t) => {
  const v = parseView('name=in,match-clients=10.0.0.0/8,match-clients=!10.9.0.0/16,zone-files=a.zone@example.com,dynamic-zones=Dyn.Test,cluster=false');
  t.equal(v.name, 'in');
  t.same(v.matchClients.map((r) => [r.negate, r.family, r.prefix, r.text]), [[false, 4, 8, '10.0.0.0/8'], [true, 4, 16, '!10.9.0.0/16']]);
  t.same(v.zoneFiles, [{ file: 'a.zone', origin: 'example.com.' }]);
  t.same(v.dynamicZones, ['dyn.test.']);
  t.equal(v.cluster, false);
  t.equal(v.forward, true, 'forward by default');
  t.equal(parseView('name=x,match-clients=any').matchClients.length, 2, 'any: IPv4 and IPv6');
  for (const bad of ['match-clients=any', 'name=a', 'name=a,match-clients=10.0.0.0/40', 'name=a b,match-clients=any', 'name=a,name=b,match-clients=any',
    'name=a,match-clients=any,cluster=maybe', 'name=a,match-clients=any,zone-files=', 'name=default,match-clients=any']) {
    t.throws(() => parseView(bad), bad);
    try { parseView(bad); } catch (e) { t.ok(e instanceof ValueProblem, `${bad}: a ValueProblem`); }
  }
});

t.test('pick: first view that matches, `!` excludes, default last', async (t) => {
  const m = new ViewMatcher([
    parseView('name=a,match-clients=!10.1.0.0/16,match-clients=10.0.0.0/8,match-clients=fd00::/8'),
    parseView('name=b,match-clients=10.1.2.0/24'),
  ]);
  const cases: [string, number][] = [
    ['10.2.3.4', 0], ['10.1.2.3', 1], ['10.1.9.9', 2], ['192.0.2.1', 2], ['fd12::1', 0], ['2001:db8::1', 2],
    ['::ffff:10.2.3.4', 0], ['fe80::1%lo', 2], ['not-an-address', 2],
  ];
  for (const [address, want] of cases) t.equal(m.pickText(address), want, `${address} → ${want}`);
  t.equal(m.defaultIndex, 2);
  t.equal(m.wireRules().length, 4 * 20, 'one 20-byte rule per element');
});
