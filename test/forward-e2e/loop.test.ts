// A forwarding loop through the kdns process: kdns's default upstream is a real dnsmasq that forwards
// everything back to kdns. The start-up probe finds it, an error line names it, the upstream is disabled,
// and kdns stays up: its own zone answered, forwarded names SERVFAIL at once instead of circling.
// Run with one worker thread and with two.
import t from 'tap';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { startKdns } from '../helpers/kdns-process.js';
import { freePort } from '../helpers/named.js';
import { ask, eventually, sleep, workDir } from './setup.js';

for (const workers of [1, 2]) {
  t.test(`a dnsmasq forwarding back to kdns (${workers} worker${workers > 1 ? 's' : ''})`, async (t) => {
    const w = workDir(t);
    const kdnsPort = await freePort();
    const dm = await startDnsmasq([`--server=127.0.0.1#${kdnsPort}`, '--host-record=up.loop.test,10.0.0.1'], 'up.loop.test');
    t.teardown(() => dm.stop());
    const kdns = await startKdns([
      '--listen', `127.0.0.1:${kdnsPort}`, '--workers', String(workers), '--http', 'none',
      '--zone-file', `${w.ownZone}@kdns.test`, `--server=127.0.0.1#${dm.port}`,
    ], { t });
    const logged = (): string | undefined => kdns.stdout().split('\n').find((l) => l.includes('forwarding loop'));
    t.ok(await eventually(() => logged() !== undefined, 5000), 'the loop is logged');
    t.match(logged() ?? '', /"level":50/, 'at error level');
    t.match(logged() ?? '', `127.0.0.1#${dm.port}`, 'naming the upstream');
    // dnsmasq's log reaches us through a pipe, possibly after kdns has logged the probe's return.
    t.ok(await eventually(() => dm.log().some((l) => /query\[TXT\] [0-9a-f]+\.kdns-loop-probe from/.test(l)), 5000), 'dnsmasq relayed the probe');

    // Every data-plane thread has its own upstreams, so each must find the loop itself.
    const serving = JSON.parse(kdns.stdout().split('\n').find((l) => l.includes('"msg":"serving"'))!) as { workers: number };
    t.ok(await eventually(() => kdns.stdout().split('\n').filter((l) => l.includes('forwarding loop')).length >= serving.workers, 5000),
      `each of the ${serving.workers} data-plane thread(s) logged it`);

    const own = await ask(kdns.port, 'self.kdns.test', 'A');
    t.same(own.answers.map((a) => a.data), ['192.0.2.99'], 'own zone still answered');
    const before = dm.queriesFor('elsewhere.example');
    const started = Date.now();
    // Eight client sockets (eight source ports), so with two threads both get some of them.
    const answers = await Promise.all(Array.from({ length: 8 }, () => ask(kdns.port, 'elsewhere.example', 'A')));
    t.same(answers.map((a) => a.rcode), Array(8).fill(2), 'a forwarded name: SERVFAIL, the only upstream is disabled');
    t.ok(Date.now() - started < 800, 'at once, not after circling');
    await sleep(200);
    t.equal(dm.queriesFor('elsewhere.example') - before, 0, 'nothing sent to the looping upstream');
    t.ok(kdns.alive(), 'kdns is still up');
  });
}
