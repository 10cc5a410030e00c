// ISC's EDNS compliance checker (genreport -f and its two "common" probes), reproduced in genreport.ts,
// against kdns and BIND 9 serving the same zone: BIND passes every probe, so kdns must too. Failures list
// genreport's tags (e.g. "opcodeflg: rd,cd" means RD and CD were echoed to an unknown opcode).
import t from 'tap';
import { PROBES, runProbe, verdict } from './genreport.js';
import { startPair } from './runner.js';
import { fixtureZones } from './zones.js';

t.test('every genreport probe: kdns is ok wherever BIND 9 is', async (t) => {
  const zones = fixtureZones().slice(0, 1);
  const zone = zones[0]!.origin;
  const pair = await startPair(zones);
  t.teardown(() => pair.stop());
  t.equal(PROBES.length, 32, 'genreport -f: 30 probes, plus bind11 and dig11');
  let id = 0x4000;
  for (const p of PROBES) {
    const named = verdict(p, await runProbe(p, pair.named.port, zone, id++), zone);
    const kdns = verdict(p, await runProbe(p, pair.kdns.port, zone, id++), zone);
    t.same(named, [], `${p.name}: BIND 9 ok (the reproduction judges as genreport does)`);
    t.same(kdns, [], `${p.name}: kdns ${kdns.length === 0 ? 'ok' : kdns.join(',')}`);
  }
});
