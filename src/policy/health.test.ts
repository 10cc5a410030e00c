// The checker against a fake probe (which addresses answer is a set the test changes) over a real zone
// and the hub's writer (the names a change carries are read from the hub's deltas): rounds are awaited
// through onRound, never slept on.
import t from 'tap';
import { pino } from 'pino';
import { CLASS_IN, TYPE_A, TYPE_AAAA } from '../dns/constants.js';
import { rdataA, rdataAAAA } from '../dns/rdata.js';
import { hubWriter } from '../worker/zone-writer.js';
import { ZoneHub } from '../worker/hub.js';
import { Zone, ZoneSet } from '../zone/index.js';
import { HealthChecker } from './health.js';
import { parsePolicy, type AnswerPolicy } from './rules.js';

const A = (name: string, ips: string[]) => ({ name, type: TYPE_A, class: CLASS_IN, ttl: 60, rdatas: ips.map(rdataA) });

t.test('withdraw, restore, all-down, a source rewrite, and the names told to the responder', async (t) => {
  const zones = new ZoneSet();
  const zone = new Zone('h.test.');
  zone.replaceAll([A('web.h.test.', ['10.0.0.1', '10.0.0.2', '10.0.0.3']), A('other.h.test.', ['10.0.0.9']),
    { name: 'web.h.test.', type: TYPE_AAAA, class: CLASS_IN, ttl: 60, rdatas: [rdataAAAA('fd00::1')] }]);
  zones.add(zone);
  const hub = new ZoneHub(zones);
  const changed: string[] = [];
  hub.subscribe((d) => {
    if (d.kind === 'changes') changed.push(...d.names);
  });
  const writer = hubWriter(hub);
  const failing = new Set<string>();
  const probed: string[] = [];
  let rounds = 0;
  let wake: (() => void) | null = null;
  const checker = new HealthChecker({
    policies: [parsePolicy('zone=web.h.test,health-check.port=80,health-check.interval=1ms,health-check.timeout=1ms,health-check.failures=2')],
    zones, writer, log: pino({ level: 'silent' }),
    probe: async (host, port) => { probed.push(`${host}:${port}`); return !failing.has(host); },
    onRound: (_p: AnswerPolicy) => { rounds++; wake?.(); },
  });
  t.teardown(() => checker.close());
  const afterRounds = async (n: number): Promise<void> => {
    const target = rounds + n;
    while (rounds < target) await new Promise<void>((resolve) => { wake = resolve; });
  };
  const served = (): string[] => (zone.get('web.h.test.', TYPE_A)?.rdatas ?? []).map((r) => [...r].join('.'));

  checker.start();
  await afterRounds(1);
  t.same(served(), ['10.0.0.1', '10.0.0.2', '10.0.0.3'], 'all up: unchanged');
  t.ok(probed.includes('10.0.0.2:80') && probed.some((p) => p.startsWith('fd00:')), 'A and AAAA addresses probed on the port');
  t.notOk(probed.includes('10.0.0.9:80'), 'a name outside the policy is not probed');
  t.same(changed, [], 'nothing written while all pass');

  failing.add('10.0.0.2');
  await afterRounds(1);
  t.same(served(), ['10.0.0.1', '10.0.0.2', '10.0.0.3'], 'one failure is not enough (failures: 2)');
  await afterRounds(1);
  t.same(served(), ['10.0.0.1', '10.0.0.3'], 'two in a row: withdrawn');
  t.ok(changed.includes('web.h.test.'), 'the change carries the name (the workers\' responders drop its answers)');
  t.same(checker.downAddresses(), ['10.0.0.2 80']);

  // A source writes the full set again (a zone-file reload, an API PUT): filtered again at the next round.
  writer.apply(zone, [{ op: 'upsert', rrset: A('web.h.test.', ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']) }]);
  await afterRounds(1);
  t.same(served(), ['10.0.0.1', '10.0.0.3', '10.0.0.4'], "the source's new set, still without the failing address");

  failing.delete('10.0.0.2');
  await afterRounds(1);
  t.same(served(), ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'], 'one good check: back, in its place');

  for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']) failing.add(ip);
  await afterRounds(2);
  t.same(served(), ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'], 'all failing: all answered');
  t.equal(checker.downAddresses().length, 4);
  failing.delete('10.0.0.3');
  await afterRounds(1);
  t.same(served(), ['10.0.0.3'], 'one back: only it');
});
