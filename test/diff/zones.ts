// The fixture zones of the differential test (test/fixtures/diff/), served together: example.test.
// and its served child child.example.test., other.test. (cross-zone CNAME targets), wild.test.
// (RFC 4592 §2.2.1) and a reverse zone.
import { fixture } from '../helpers/kdns-process.js';
import type { ZoneSpec } from './corpus.js';

export const FIXTURE_ORIGINS = [
  'example.test.',
  'child.example.test.',
  'other.test.',
  'wild.test.',
  '2.0.192.in-addr.arpa.',
];

export function fixtureZones(): ZoneSpec[] {
  return FIXTURE_ORIGINS.map((origin) => ({ file: fixture('diff', `${origin.slice(0, -1)}.zone`), origin }));
}
