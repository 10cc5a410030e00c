// Answer policies over the wire: round-robin and random order observed with dig over many queries
// (UDP, so the native answer cache is in the path), fixed order kept, and health-checked records: an
// address whose loopback TCP listener closes leaves the answer and comes back when it reopens, and when
// every listener is closed every address is answered. Waits poll dig or the log, bounded; no sleeps.

import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineArgs, startKdns, type KdnsProcess } from '../helpers/kdns-process.js';
import { rdataOf, runDig } from '../wire/clients.js';

const ZONE = `$ORIGIN pol.test.
$TTL 60
@      IN SOA ns.pol.test. hostmaster.pol.test. 1 3600 600 86400 60
@      IN NS  ns
ns     IN A   192.0.2.1
rr     IN A   192.0.2.11
rr     IN A   192.0.2.12
rr     IN A   192.0.2.13
a.rand IN A   192.0.2.21
a.rand IN A   192.0.2.22
a.rand IN A   192.0.2.23
a.rand IN A   192.0.2.24
fixed  IN A   192.0.2.31
fixed  IN A   192.0.2.32
fixed  IN A   192.0.2.33
hc     IN A   127.0.0.1
hc     IN A   127.0.0.2
hc     IN A   127.0.0.3
`;

const HC_ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];

function listen(host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

async function addresses(kdns: KdnsProcess, name: string, transport = '+notcp'): Promise<string[]> {
  const r = await runDig('dig', kdns.port, [name, 'A', transport]);
  return rdataOf(r.answer, 'A');
}

function isRotationOf(got: string[], base: string[]): boolean {
  if (got.length !== base.length) return false;
  const start = base.indexOf(got[0]!);
  return start >= 0 && got.every((a, i) => a === base[(start + i) % base.length]);
}

/** dig (UDP and TCP) until the answer's address set is `want`, bounded by 10 s per transport. */
async function untilAnswered(t: Test, kdns: KdnsProcess, want: string[], what: string): Promise<void> {
  for (const transport of ['+notcp', '+tcp']) {
    const deadline = Date.now() + 10_000;
    let got: string[] = [];
    do {
      got = (await addresses(kdns, 'hc.pol.test', transport)).sort();
    } while (got.join() !== want.join() && Date.now() < deadline);
    t.same(got, want, `${what} (${transport})`);
  }
}

t.test('answer policies', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kdns-policy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // One port on three loopback addresses: the health check connects to each record's address on it.
  const first = await listen('127.0.0.1', 0);
  const port = (first.address() as { port: number }).port;
  const servers = new Map<string, Server | null>([['127.0.0.1', first]]);
  for (const host of HC_ADDRESSES.slice(1)) servers.set(host, await listen(host, port));
  t.teardown(async () => { for (const s of servers.values()) if (s !== null) await close(s); });

  writeFileSync(join(dir, 'pol.zone'), ZONE);
  writeFileSync(join(dir, 'kdns.yaml'), `zone-file: [pol.zone@pol.test]
policies:
  - {name: rr.pol.test, order: round-robin}
  - {zone: rand.pol.test, order: random}
  - name: hc.pol.test
    health-check: {port: ${port}, interval: 100ms, timeout: 100ms, failures: 2}
`);
  const kdns = await startKdns([...engineArgs(), '-c', join(dir, 'kdns.yaml'), '--listen', '127.0.0.1:0', '--http', 'none',
    '--no-forward', '--workers', '2'], { t });

  await t.test('round-robin: every answer is a rotation of the zone order, and the rotation moves', async (t) => {
    const base = ['192.0.2.11', '192.0.2.12', '192.0.2.13'];
    const firsts = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const got = await addresses(kdns, 'rr.pol.test');
      t.ok(isRotationOf(got, base), `query ${i}: ${got.join(' ')} is a rotation`);
      firsts.add(got[0]!);
    }
    t.equal(firsts.size, 3, 'each address came first (the C answer cache did not freeze one order)');
  });

  await t.test('random (a zone rule, for a name below it): permutations, not only rotations', async (t) => {
    const base = ['192.0.2.21', '192.0.2.22', '192.0.2.23', '192.0.2.24'];
    const firsts = new Set<string>();
    let nonRotation = 0;
    for (let i = 0; i < 40; i++) {
      const got = await addresses(kdns, 'a.rand.pol.test');
      t.same([...got].sort(), base, `query ${i}: every address`);
      firsts.add(got[0]!);
      if (!isRotationOf(got, base)) nonRotation++;
    }
    t.ok(firsts.size >= 3, `several addresses came first (${firsts.size})`);
    t.ok(nonRotation > 0, `some orders were not a rotation (${nonRotation} of 40)`);
  });

  await t.test('no policy: the zone order, every time', async (t) => {
    for (let i = 0; i < 10; i++) t.same(await addresses(kdns, 'fixed.pol.test'), ['192.0.2.31', '192.0.2.32', '192.0.2.33'], `query ${i}`);
  });

  await t.test('health checks: withdrawn while its listener is closed, back when it reopens', async (t) => {
    await untilAnswered(t, kdns, HC_ADDRESSES, 'all listening: all answered');
    await close(servers.get('127.0.0.2')!);
    servers.set('127.0.0.2', null);
    await untilAnswered(t, kdns, ['127.0.0.1', '127.0.0.3'], '127.0.0.2 closed: withdrawn');
    t.match(kdns.stdout(), /"target":"127\.0\.0\.2 \d+".*address withdrawn/, 'the withdrawal is logged');
    servers.set('127.0.0.2', await listen('127.0.0.2', port));
    await untilAnswered(t, kdns, HC_ADDRESSES, '127.0.0.2 reopened: back');
  });

  await t.test('health checks: all failing, all answered', async (t) => {
    for (const host of HC_ADDRESSES) {
      await close(servers.get(host)!);
      servers.set(host, null);
    }
    // Sentinel: the log says each address was withdrawn (the state the checker acts on), then the answer.
    const deadline = Date.now() + 10_000;
    const withdrawn = (): number => HC_ADDRESSES.filter((h) => new RegExp(`"target":"${h.replace(/\./g, '\\.')} ${port}"[^\\n]*address withdrawn`)
      .test(kdns.stdout().split('address back').at(-1)!)).length;
    while (withdrawn() < 3 && Date.now() < deadline) await runDig('dig', kdns.port, ['ns.pol.test', 'A']);
    t.equal(withdrawn(), 3, 'every address failed its checks');
    await untilAnswered(t, kdns, HC_ADDRESSES, 'all failing: all answered');
  });
});
