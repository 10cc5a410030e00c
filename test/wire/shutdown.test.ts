// SIGTERM as operators expect, over the wire with the default worker count (2; KDNS_ENGINE=node runs one):
// kdns stops reading, answers what it had received — forwarded queries over UDP and TCP included, their
// upstream answers held back by a test-controlled relay in front of dnsmasq until after the signal —
// then exits 0. Queries sent after it stopped reading are never answered (sentinels). A forwarded
// query that outlives --shutdown-grace does not keep the process alive.
import t from 'tap';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { startHoldingRelay, type HoldingRelay } from '../helpers/holding-relay.js';
import { fixture, startKdns, wireArgs, type KdnsProcess } from '../helpers/kdns-process.js';
import { buildQuery, check, frame, TcpClient, UdpClient } from './clients.js';

interface Tap { teardown(fn: () => unknown): void }

/** kdns forwarding ops.cna through a holding relay to dnsmasq (slowN.ops.cna → 10.1.1.N). */
async function forwardingKdns(t: Tap, extra: string[] = []): Promise<{ kdns: KdnsProcess; relay: HoldingRelay; workers: number }> {
  const records = [1, 2, 3].map((i) => `--host-record=slow${i}.ops.cna,10.1.1.${i}`);
  const dm = await startDnsmasq([...records, '--local=/ops.cna/'], 'slow1.ops.cna');
  t.teardown(() => dm.stop());
  const relay = await startHoldingRelay(dm.port, (name) => name.startsWith('slow'));
  t.teardown(() => relay.close());
  const kdns = await startKdns([
    ...wireArgs(extra).filter((a) => a !== '--no-forward'),
    '-c', fixture('wire', 'slow-forward.yaml'), `--server=/ops.cna/127.0.0.1#${relay.port}`, `--server=127.0.0.1#${dm.port}`,
  ], { t });
  const serving = kdns.stdout().split('\n').find((l) => l.includes('"msg":"serving"'))!;
  return { kdns, relay, workers: (JSON.parse(serving) as { workers: number }).workers };
}

/** Resolves once kdns has logged `n` lines with this message (every worker logs its own); bounded. */
async function logged(kdns: KdnsProcess, msg: string, n: number, ms = 10_000): Promise<number> {
  const count = (): number => kdns.stdout().split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).length;
  const until = Date.now() + ms;
  while (count() < n && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  return count();
}

function firstA(msg: Buffer | null | undefined): string | undefined {
  return (check(msg ?? Buffer.alloc(0)).packet?.answers?.[0] as { data?: string } | undefined)?.data;
}

t.test('SIGTERM: stops reading, answers forwarded queries in flight (UDP and TCP), exits 0', async (t) => {
  const { kdns, relay, workers } = await forwardingKdns(t);
  const u = new UdpClient(kdns.port);
  await u.bind();
  t.teardown(() => u.close());
  t.equal(check((await u.query(buildQuery('www.example.test', 'A', { id: 10 }))) ?? Buffer.alloc(0)).rcode, 0, 'serving');

  // One forwarded query over UDP, one over TCP, both held at the relay.
  const udpForwarded = u.query(buildQuery('slow1.ops.cna', 'A', { id: 1 }), 15_000);
  const c = new TcpClient(kdns.port);
  await c.connected;
  await c.write(frame(buildQuery('slow2.ops.cna', 'A', { id: 2 })));
  await relay.waitHeld(2);

  process.kill(kdns.pid, 'SIGTERM');
  t.equal(await logged(kdns, 'stopped reading: answering what was received', workers), workers, `all ${workers} worker(s) stopped reading`);
  t.ok(kdns.alive(), 'still running: answers are owed');

  // Sentinels, all for names kdns answers at once when it reads them.
  await u.send(buildQuery('www.example.test', 'A', { id: 3 }));
  await c.write(frame(buildQuery('www.example.test', 'A', { id: 4 })));
  const late = new TcpClient(kdns.port);
  const lateConnect = await late.connected.then(() => 'connected', () => 'refused');
  if (lateConnect === 'connected') await late.write(frame(buildQuery('www.example.test', 'A', { id: 5 }))).catch(() => undefined);

  relay.release();
  t.equal(firstA(await udpForwarded), '10.1.1.1', 'the UDP client gets the real forwarded answer');
  t.equal(firstA((await c.waitFor(1, 15_000))[0]), '10.1.1.2', 'the TCP client gets the real forwarded answer');
  t.equal(await kdns.exited, 0, 'exit 0');

  t.same(u.stray.map((m) => m.readUInt16BE(0)), [], 'the UDP sentinel sent after the stop was never answered');
  t.same(c.messages.map((m) => check(m).id), [2], 'the TCP sentinel on the open connection was never answered');
  await c.closedAt;
  t.ok(c.closed, 'the TCP connection was closed after its answer');
  t.equal(late.messages.length, 0, `no new TCP connection was served (${lateConnect})`);
  late.destroy();
  const overdue = kdns.stdout().split('\n').filter((l) => l.includes('grace period over')).length;
  t.equal(overdue, 0, 'all within the grace period');
});

t.test('SIGTERM: a forwarded query outliving --shutdown-grace does not hold the exit', async (t) => {
  const { kdns, relay, workers } = await forwardingKdns(t, ['--shutdown-grace', '500ms']);
  const u = new UdpClient(kdns.port);
  await u.bind();
  t.teardown(() => u.close());
  const forwarded = u.query(buildQuery('slow3.ops.cna', 'A', { id: 1 }), 3000);
  await relay.waitHeld(1);
  process.kill(kdns.pid, 'SIGTERM');
  const code = await kdns.exited;
  t.equal(code, 0, 'exit 0 once the grace period is over');
  t.ok(await logged(kdns, 'shutdown grace period over: closing with answers still owed', 1) >= 1, 'the log says answers were still owed');
  t.ok(await logged(kdns, 'stopped reading: answering what was received', workers) === workers, 'after every worker stopped reading');
  relay.release();
  t.equal(await forwarded, null, 'the held query got no answer (the upstream never answered in time)');
});
