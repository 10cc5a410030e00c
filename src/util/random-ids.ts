// DNS message IDs for upstream queries: unpredictable (RFC 5452), so they come from the CSPRNG, but drawn
// from a pool filled 4096 at a time: crypto.randomInt crosses into C++ and back on every call, which a
// random-name flood (every query a miss) pays once per query.

import { randomFillSync } from 'node:crypto';

const POOL = new Uint16Array(4096);
let next = POOL.length;

/** A uniformly random 16-bit ID from the CSPRNG. */
export function randomId16(): number {
  if (next === POOL.length) {
    randomFillSync(POOL);
    next = 0;
  }
  return POOL[next++]!;
}
