// Authoritative answers, case by case: the table lives in lookup-cases.ts.
import t from 'tap';
import { parseTypeName, RCODE_NAMES } from '../dns/constants.js';
import { CASE_ZONES, LOOKUP_CASES } from './lookup-cases.js';
import { lookup } from './lookup.js';
import { Zone } from './zone.js';
import { ZoneSet } from './zone-set.js';
import { formatRr, parseZone } from './zone-text.js';

const zones = new ZoneSet();
for (const { origin, text } of CASE_ZONES) {
  const z = new Zone(origin);
  z.replaceAll(parseZone(origin, text));
  zones.add(z);
}

for (const [qname, qtype, rcode, aa, answer, authority, additional] of LOOKUP_CASES) {
  t.test(`${qname} ${qtype}`, async (t) => {
    const r = lookup(zones, qname, parseTypeName(qtype));
    t.equal(RCODE_NAMES[r.rcode], rcode, 'rcode');
    t.equal(r.aa, aa, 'aa');
    t.same(r.answer.map(formatRr), answer, 'answer');
    t.same(r.authority.map(formatRr), authority, 'authority');
    t.same(r.additional.map(formatRr), additional, 'additional');
  });
}
