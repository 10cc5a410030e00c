// Local policy through the kdns process, each with its own kdns in front of one named: the ACL
// (allow-networks without 127.0.0.1 → REFUSED), --filter-aaaa (NODATA for AAAA of forwarded names, A still
// forwarded) and --no-forward (REFUSED). In every case the refused or filtered query never reaches named,
// and kdns's own zone is still answered.
import t from 'tap';
import { startKdns } from '../helpers/kdns-process.js';
import { ask, sleep, startLoggedNamed, workDir } from './setup.js';

t.test('ACL, --filter-aaaa, --no-forward', async (t) => {
  const w = workDir(t);
  const named = await startLoggedNamed(t, w.exampleZone, 'example.test');
  const base = ['--listen', '127.0.0.1:0', '--workers', '1', '--http', 'none', '--zone-file', `${w.ownZone}@kdns.test`,
    `--server=127.0.0.1#${named.port}`];

  await t.test('a client outside allow-networks gets REFUSED', async (t) => {
    const config = w.write('acl.yaml', 'forward:\n  allow-networks: [10.0.0.0/8, "fd00::/8"]\n');
    const kdns = await startKdns(['-c', config, ...base], { t });
    for (const tcp of [false, true]) {
      const r = await ask(kdns.port, 'www.example.test', 'A', { tcp });
      t.equal(r.rcode, 5, `REFUSED from 127.0.0.1 over ${tcp ? 'TCP' : 'UDP'}`);
      t.equal(r.answers.length, 0);
    }
    const own = await ask(kdns.port, 'self.kdns.test', 'A');
    t.equal(own.rcode, 0, 'the ACL guards forwarding only: own zone answered');
    t.same(own.answers.map((a) => a.data), ['192.0.2.99']);
    await sleep(100);
    t.equal(named.queriesFor('www.example.test', 'A'), 0, 'named never asked');
    await kdns.stop();
  });

  await t.test('--filter-aaaa: NODATA for AAAA, A forwarded', async (t) => {
    const kdns = await startKdns([...base, '--filter-aaaa'], { t });
    for (const tcp of [false, true]) {
      const six = await ask(kdns.port, 'www.example.test', 'AAAA', { tcp });
      t.equal(six.rcode, 0, 'NOERROR');
      t.equal(six.answers.length, 0, `no AAAA over ${tcp ? 'TCP' : 'UDP'} although named has one`);
      t.ok(six.ra);
    }
    const four = await ask(kdns.port, 'www.example.test', 'A');
    t.same(four.answers.map((a) => a.data), ['192.0.2.10'], 'A still forwarded');
    await sleep(100);
    t.equal(named.queriesFor('www.example.test', 'AAAA'), 0, 'AAAA never forwarded');
    t.equal(named.queriesFor('www.example.test', 'A'), 1, 'A forwarded once');
    await kdns.stop();
  });

  await t.test('--no-forward: REFUSED for names outside kdns\'s zones', async (t) => {
    const kdns = await startKdns([...base, '--no-forward'], { t });
    for (const tcp of [false, true]) {
      const r = await ask(kdns.port, 'ns.example.test', 'A', { tcp });
      t.equal(r.rcode, 5, `REFUSED over ${tcp ? 'TCP' : 'UDP'}`);
      t.notOk(r.ra, 'no recursion offered');
    }
    const own = await ask(kdns.port, 'self.kdns.test', 'A');
    t.same(own.answers.map((a) => a.data), ['192.0.2.99'], 'own zone answered');
    await sleep(100);
    t.equal(named.queriesFor('ns.example.test', 'A'), 0, 'named never asked');
    await kdns.stop();
  });
});
