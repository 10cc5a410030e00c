// The loop guard: a default upstream that sends our queries back to kdns is found by the start-up probe
// and disabled; kdns's own listen addresses are never used as upstreams. The "kdns" here is a small UDP
// server doing what the responder does with loop probes (ask isLoopProbe, answer loopProbeResponse).
import t from 'tap';
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { Forwarder } from '../../src/forward/forwarder.js';
import { nameToKey } from '../../src/dns/name.js';
import { QuerySlot, readQuery, READ_OK } from '../../src/dns/query-reader.js';
import { a, reply, startFake } from './fake-upstream.js';
import { makeForwarder, rcodeOf } from './setup.js';
import { startDnsmasq } from '../helpers/dnsmasq.js';

/** A stand-in for kdns's responder: loop probes answered through `fwd`, everything else ignored. */
async function fakeKdns(t: { teardown(fn: () => unknown): void }, fwd: () => Forwarder): Promise<{ port: number; probes: () => number }> {
  const sock = dgram.createSocket('udp4');
  let probes = 0;
  sock.on('message', (raw, rinfo) => {
    const q = dnsPacket.decode(raw);
    const key = nameToKey((q.questions?.[0]?.name ?? '') + '.');
    if (!fwd().isLoopProbe(key)) return;
    probes++;
    const slot = new QuerySlot();
    if (readQuery(raw, raw.length, slot) !== READ_OK) return;
    sock.send(fwd().loopProbeResponse(raw, slot), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => sock.close(() => resolve())));
  return { port: sock.address().port, probes: () => probes };
}

/** An upstream that relays every query to `target` and the answer back: a forwarding loop when target is kdns. */
async function relay(t: { teardown(fn: () => unknown): void }, target: number) {
  const fake = await startFake((q, raw) => new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => { s.close(); resolve(null); }, 500);
    s.on('message', (m) => { clearTimeout(timer); s.close(); resolve(m); });
    s.send(raw, target, '127.0.0.1');
    void q;
  }));
  t.teardown(() => fake.close());
  return fake;
}

t.test('a relay back to kdns is detected in-process and disabled', async (t) => {
  let holder: Forwarder | null = null;
  const kdns = await fakeKdns(t, () => holder!);
  const loop = await relay(t, kdns.port);
  const ok = await startFake((q) => reply(q, { answers: [a(q.questions![0]!.name, '192.0.2.1', 60)] }));
  t.teardown(() => ok.close());
  const { fwd, ask, logs, registry } = makeForwarder({}, [loop.port, ok.port]);
  holder = fwd;
  t.teardown(() => fwd.close());
  const disabled = await fwd.detectLoops();
  t.same(disabled, [`127.0.0.1#${loop.port}`]);
  t.equal(kdns.probes(), 1, 'the probe came back to kdns once');
  t.equal(ok.count(), 1, 'the good upstream got its probe too');
  t.equal((fwd.stats() as { upstreams: { disabled: boolean }[] }).upstreams[1]!.disabled, false, 'the good one stays');
  t.ok(logs.some((l) => l.includes('forwarding loop') && l.includes(`127.0.0.1#${loop.port}`)), 'error log names the upstream');
  t.match(await registry.metrics(), new RegExp(`kdns_forward_loops_detected_total\\{to="127.0.0.1#${loop.port}"\\} 1`));
  // Queries now go to the good server only.
  t.equal((await ask('after.example.test', 'A')).answers[0]!.data, '192.0.2.1');
  t.equal(loop.count('after.example.test'), 0);
});

t.test('the marker answer disables the upstream even when another worker saw the probe', async (t) => {
  const other = makeForwarder({}, []); // another worker's forwarder: it does not know the probe name
  t.teardown(() => other.fwd.close());
  const kdns = await fakeKdns(t, () => other.fwd);
  const loop = await relay(t, kdns.port);
  const { fwd } = makeForwarder({}, [loop.port]);
  t.teardown(() => fwd.close());
  t.same(await fwd.detectLoops(), [`127.0.0.1#${loop.port}`]);
  t.equal(fwd.routes('x.example.'), true, 'still routed (the rule exists)');
  t.equal((fwd.stats() as { upstreams: { disabled: boolean }[] }).upstreams[0]!.disabled, true);
});

t.test('a real dnsmasq forwarding back to kdns is caught', async (t) => {
  let holder: Forwarder | null = null;
  const kdns = await fakeKdns(t, () => holder!);
  const dm = await startDnsmasq([`--server=127.0.0.1#${kdns.port}`, '--host-record=up.probe.test,10.0.0.1'], 'up.probe.test');
  t.teardown(() => dm.stop());
  const { fwd, ask } = makeForwarder({}, [dm.port]);
  holder = fwd;
  t.teardown(() => fwd.close());
  t.same(await fwd.detectLoops(), [`127.0.0.1#${dm.port}`]);
  t.ok(dm.log().some((l) => l.includes('kdns-loop-probe')), 'dnsmasq forwarded the probe');
  t.equal(rcodeOf(await ask('anything.example.test', 'A')), 2, 'no usable upstream left → SERVFAIL');
});

t.test('an honest upstream is kept', async (t) => {
  const nx = await startFake((q) => reply(q, { rcode: 3 }));
  t.teardown(() => nx.close());
  const { fwd } = makeForwarder({}, [nx.port]);
  t.teardown(() => fwd.close());
  t.same(await fwd.detectLoops(), []);
  t.match(nx.received[0]!.name, /^[0-9a-f]{16}\.kdns-loop-probe$/, 'random name under the reserved label');
});

t.test('kdns\'s own listen address is refused as an upstream', async (t) => {
  const { fwd, logs } = makeForwarder({
    listen: [{ host: '127.0.0.1', port: 5399 }, { host: '0.0.0.0', port: 5400 }],
    defaultUpstreams: [{ host: '127.0.0.1', port: 5399 }, { host: '127.0.0.2', port: 5400 }],
  });
  t.teardown(() => fwd.close());
  t.equal(fwd.routes('x.example.'), false, 'no default upstream left');
  t.equal(logs.filter((l) => l.includes('own listen addresses')).length, 2);
});

t.test('loop probe names are never forwarded', async (t) => {
  const { fwd } = makeForwarder({});
  t.teardown(() => fwd.close());
  t.equal(fwd.isLoopProbe('abc.kdns-loop-probe.'), true);
  t.equal(fwd.isLoopProbe('kdns-loop-probe.example.'), false);
  const q = dnsPacket.encode({ type: 'query', id: 3, flags: 0, questions: [{ type: 'TXT', name: 'abc.kdns-loop-probe' }] });
  const slot = new QuerySlot();
  t.equal(readQuery(q, q.length, slot), READ_OK);
  const r = dnsPacket.decode(fwd.loopProbeResponse(q, slot));
  t.equal(r.id, 3);
  t.equal(r.answers![0]!.type, 'TXT');
});
