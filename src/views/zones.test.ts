// A view's zones: its own zone files shadow shared zones of the same origin, it sees only the shared zones
// it names, it is read-only (no add or remove); and view zones travel from the hub to a replica (snapshot and delta) into
// that view's set, never into the shared one.
import t from 'tap';
import { ZoneHub } from '../worker/hub.js';
import { Replica } from '../worker/replica.js';
import { parseZone } from '../zone/zone-text.js';
import { lookup, Zone, ZoneSet, type ZoneSetReader } from '../zone/index.js';
import { TYPE_A } from '../dns/constants.js';
import { viewSet, ViewZoneSet } from './zones.js';

function zoneOf(origin: string, address: string): Zone {
  const zone = new Zone(origin);
  zone.replaceAll(parseZone(origin, `@ 300 SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ 300 NS ns1\nwww 300 A ${address}\n`));
  return zone;
}

function www(zones: ZoneSetReader, origin: string): string {
  const r = lookup(zones, `www.${origin}`, TYPE_A);
  return r.answer.map((rr) => [...rr.rdata].join('.')).join(',') || `rcode ${r.rcode}`;
}

t.test('own zones shadow shared ones; only the named shared zones are seen', async (t) => {
  const shared = new ZoneSet();
  shared.add(zoneOf('split.test.', '192.0.2.1'));
  shared.add(zoneOf('dyn.test.', '192.0.2.2'));
  shared.add(zoneOf('secret.test.', '192.0.2.3'));
  const own = new ZoneSet();
  own.add(zoneOf('split.test.', '10.0.0.1'));
  const view = new ViewZoneSet(own, shared, new Set(['dyn.test.']));
  t.equal(www(view, 'split.test.'), '10.0.0.1', 'own zone first');
  t.equal(www(view, 'dyn.test.'), '192.0.2.2', 'a shared zone it names');
  t.equal(view.findZone('www.secret.test.'), undefined, 'not a shared zone it does not name');
  t.same(view.zones().map((z) => z.origin).sort(), ['dyn.test.', 'split.test.']);
  t.equal(view.zones().find((z) => z.origin === 'split.test.'), own.get('split.test.'), 'the own split.test, once');
});

t.test('view zones reach a replica\'s view set by snapshot and by delta', async (t) => {
  const hub = new ZoneHub();
  hub.adoptZone(zoneOf('split.test.', '192.0.2.1'));
  hub.addViewZone('inside', zoneOf('split.test.', '10.0.0.1'));
  const replica = new Replica({ needSnapshot: () => {} });
  replica.applySnapshot(structuredClone(hub.snapshot()));
  t.equal(www(viewSet(replica.viewZones, 'inside'), 'split.test.'), '10.0.0.1', 'by snapshot, in the view\'s set');
  t.equal(www(replica.zones, 'split.test.'), '192.0.2.1', 'the shared split.test is the other one');
  const deltas: unknown[] = [];
  hub.subscribe((d) => deltas.push(structuredClone(d)));
  hub.addViewZone('guests', zoneOf('guests.test.', '198.51.100.1'));
  replica.applyDeltas(deltas as never);
  t.equal(www(viewSet(replica.viewZones, 'guests'), 'guests.test.'), '198.51.100.1', 'by delta');
  t.equal(replica.zones.get('guests.test.'), undefined, 'not in the shared set');
});
