// How forwarded UDP queries travel: with the native engine through the addon's upstream link (a fresh
// connected socket per query opened in C, its answer handed to JavaScript in a batch), with the node engine
// through dgram sockets. Over the wire, through a relay the test controls in front of a real dnsmasq:
// answers come back right, every query leaves from its own source port (RFC 5452), a query held upstream
// shows as one open socket in kdns_forward_upstream_udp_sockets under the path the engine uses, and the
// socket is gone once the answer is out; a query that gets no answer times out to SERVFAIL and its socket
// is closed too.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { startHoldingRelay } from '../helpers/holding-relay.js';
import { startKdns } from '../helpers/kdns-process.js';
import { ask } from './setup.js';

const NAMES = 8;
const run = promisify(execFile);

/** The path the engine under test uses: the addon's link with the native engine (CI builds it), dgram with node. */
const VIA = process.env.KDNS_ENGINE === 'node' ? 'dgram' : 'addon';

async function udpSockets(httpPort: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^kdns_forward_upstream_udp_sockets\{via="(\w+)"\} (\d+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

t.test(`forwarded UDP queries travel through the ${VIA} path, one fresh socket each`, async (t) => {
  const records = Array.from({ length: NAMES }, (_, i) => `--host-record=h${i}.link.test,10.9.0.${i + 1}`);
  const dm = await startDnsmasq([...records, '--host-record=held.link.test,10.9.1.1', '--local=/link.test/'], 'h0.link.test');
  t.teardown(() => dm.stop());
  const relay = await startHoldingRelay(dm.port, (name) => name.startsWith('held.'));
  t.teardown(() => relay.close());
  // A black hole for the timeout case: a port nobody answers on would be refused (ICMP), not silent.
  const hole = await startHoldingRelay(dm.port, () => true);
  t.teardown(() => hole.close());
  const kdns = await startKdns([
    '--listen', '127.0.0.1:0', '--workers', '1', '--http', '127.0.0.1:0', '--forward-timeout', '400ms', '--forward-attempts', '1',
    `--server=/link.test/127.0.0.1#${relay.port}`, `--server=/hole.test/127.0.0.1#${hole.port}`,
  ], { t });
  const http = kdns.httpPort!;

  await t.test('answers are right, and every query left from a port of its own', async (t) => {
    for (let i = 0; i < NAMES; i++) {
      // dig, a real client, for the first (not execFileSync: the relay runs in this process); the rest through the test's client.
      const data = i === 0
        ? (await run('dig', ['+short', '+tries=1', '+time=3', '-p', String(kdns.port), '@127.0.0.1', 'h0.link.test', 'A'])).stdout.trim()
        : (await ask(kdns.port, `h${i}.link.test`, 'A')).answers.map((a) => a.data).join();
      t.equal(data, `10.9.0.${i + 1}`, `h${i}.link.test`);
    }
    const ports = relay.udpSourcePorts();
    t.ok(ports.length >= NAMES, `the relay saw ${ports.length} queries`);
    t.equal(new Set(ports).size, ports.length, 'no source port used twice');
  });

  await t.test(`a query held upstream is one open socket (via="${VIA}"), gone once answered`, async (t) => {
    const answer = ask(kdns.port, 'held.link.test', 'A', { timeoutMs: 5000 });
    await relay.waitHeld(1);
    const during = await udpSockets(http);
    t.equal(during.get(VIA), 1, `one socket in flight, through ${VIA}`);
    t.equal(during.size, 1, 'and no other path');
    relay.release();
    t.same((await answer).answers.map((a) => a.data), ['10.9.1.1'], 'the held answer arrives');
    t.equal((await udpSockets(http)).get(VIA), 0, 'no socket left open');
  });

  await t.test('no answer: SERVFAIL after the timeout, and its socket is closed', async (t) => {
    const r = await ask(kdns.port, 'x.hole.test', 'A', { timeoutMs: 5000 });
    t.equal(r.rcode, 2, 'SERVFAIL');
    t.equal(hole.held().length, 1, 'the black hole got the one query (one attempt)');
    t.equal((await udpSockets(http)).get(VIA), 0, 'the timed-out socket is closed');
  });
});
