// `kdns --takeover` seen from outside: a 1 ms prober (every tenth probe forwarded to an upstream that takes
// 300 ms, so forwarded queries are in flight at the hand-off) loses none of its probes across two takeovers
// in a row (1 worker → 2 → 1); each old kdns exits 0, the new one answers UDP, TCP and /ready on the same
// ports. A hand-off that fails after the sockets were sent leaves the old kdns serving (and takeable later);
// --takeover with nothing to take over starts afresh; the node engine refuses with exit 2.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dnsPacket from 'dns-packet';
import { freePort } from '../helpers/named.js';
import { runKdns, startKdns, type KdnsProcess } from '../helpers/kdns-process.js';
import { buildQuery, check, runDig, UdpClient } from '../wire/clients.js';
import { a, reply, sleep, startFake } from '../forward/fake-upstream.js';
import { loadNative } from '../../src/engine/native-binding.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kdns-takeover-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const emptyResolvConf = path.join(tmp, 'resolv.conf');
fs.writeFileSync(emptyResolvConf, '');

const UPSTREAM_DELAY_MS = 300;

async function ports(): Promise<{ dns: number; http: number }> {
  return { dns: await freePort(), http: await freePort() };
}

function baseArgs(p: { dns: number; http: number }, upstream: number, extra: string[]): string[] {
  return [
    '--listen', `127.0.0.1:${p.dns}`, '--http', `127.0.0.1:${p.http}`, '--hosts', 'test/fixtures/wire/hosts',
    '--resolv-conf', emptyResolvConf, '--server', `/fw.test/127.0.0.1#${upstream}`, '--log-level', 'info', ...extra,
  ];
}

/** Parsed JSON log lines of a child so far. */
function records(kdns: KdnsProcess): Array<Record<string, unknown>> {
  return kdns.stdout().split('\n').filter((l) => l.startsWith('{')).flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

async function ready(httpPort: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/ready`);
  await res.text();
  return res.status;
}

/** What a probe must get back: the hosts address, or the upstream's answer for a forwarded name. */
function expected(i: number): { name: string; ip: string } {
  return i % 10 === 9 ? { name: `f${i}.fw.test`, ip: '10.9.9.9' } : { name: 'db.hosts.test', ip: '10.1.2.3' };
}

function ipsOf(b: Buffer): string[] {
  return (dnsPacket.decode(b).answers ?? []).flatMap((r) => (r.type === 'A' ? [String(r.data)] : []));
}

if (process.env.KDNS_ENGINE === 'node') {
  t.test('the node engine cannot hand over or adopt sockets: exit 2, the old keeps serving', async (t) => {
    const p = await ports();
    const args = ['--listen', `127.0.0.1:${p.dns}`, '--http', 'none', '--no-forward', '--hosts', 'test/fixtures/wire/hosts', '--engine', 'node'];
    const old = await startKdns(args, { t });
    const asNode = await runKdns(['--takeover', ...args]);
    t.equal(asNode.code, 2, 'a --takeover on the node engine exits 2');
    t.match(asNode.stderr, /--takeover needs the native engine/);
    if (loadNative() !== null) {
      const asNative = await runKdns(['--takeover', ...args.slice(0, -2), '--engine', 'native']);
      t.equal(asNative.code, 2, 'a native --takeover of a node-engine kdns exits 2');
      t.match(asNative.stderr, new RegExp(`kdns pid ${old.pid} runs the node engine, whose sockets cannot be handed over`));
    }
    t.ok(old.alive(), 'the old kdns keeps running');
    t.equal((await runDig('dig', p.dns, ['db.hosts.test', 'A'])).status, 'NOERROR', 'and answering');
    t.equal(await old.stop(), 0);
  });
} else if (loadNative() === null) {
  t.test('takeover', { skip: 'takeover needs the native addon, which is not built' }, async () => {});
} else {
  t.test('two takeovers under a 1 ms prober lose no query', async (t) => {
    const upstream = await startFake(async (q) => {
      await sleep(UPSTREAM_DELAY_MS);
      return reply(q, { answers: [a(q.questions![0]!.name, '10.9.9.9', 60)] });
    });
    t.teardown(() => upstream.close());
    const p = await ports();
    const args = (workers: number, extra: string[] = []): string[] => baseArgs(p, upstream.port, ['--workers', String(workers), ...extra]);
    const first = await startKdns(args(1), { t });
    const prober = new UdpClient(p.dns);
    await prober.bind();
    t.teardown(() => prober.close());

    // Two hand-offs while probing: 1 worker → 2 (the second binds a new socket into the first's
    // SO_REUSEPORT group) → 1 (one thread reads both sockets).
    const chain: KdnsProcess[] = [first];
    const exits: number[] = [];
    let handOffs = 0;
    const takeOver = async (workers: number): Promise<void> => {
      const old = chain.at(-1)!;
      const next = await startKdns(args(workers, ['--takeover']), { t });
      chain.push(next);
      exits.push(await old.exited);
      handOffs++;
    };
    let running: Promise<void> | null = null;
    const answers: Array<Promise<Buffer | null>> = [];
    // One probe a millisecond; each takeover starts 300 probes after the last has finished, and probing
    // goes on for 300 probes after the second (cap 20,000: a loaded machine starts kdns slowly).
    let quietSince = 0;
    for (let i = 0; i < 20_000; i++) {
      const { name } = expected(i);
      answers.push(prober.query(buildQuery(name, 'A', { id: i & 0xffff }), 5000));
      if (running === null && handOffs < 2 && i - quietSince >= 300) {
        running = takeOver(handOffs === 0 ? 2 : 1).then(() => { running = null; quietSince = answers.length; });
      }
      if (handOffs === 2 && running === null && i - quietSince >= 300) break;
      await sleep(1);
    }
    t.equal(handOffs, 2, 'both takeovers finished while probing');
    const got = await Promise.all(answers);
    const wrong = got.flatMap((b, i) => (b !== null && check(b).rcode === 0 && ipsOf(b).includes(expected(i).ip) ? [] : [i]));
    t.equal(got.filter((b) => b === null).length, 0, `every one of ${got.length} probes answered`);
    t.strictSame(wrong, [], 'each with its right answer');
    t.ok(upstream.count() >= got.length / 10 - 1, `forwarded probes reached the upstream (${upstream.count()})`);
    t.strictSame(exits, [0, 0], 'each old kdns exited 0');
    for (const old of chain.slice(0, 2)) {
      t.ok(records(old).some((r) => r.msg === 'taken over: shutting down'), `pid ${old.pid} logged its takeover`);
    }

    const last = chain[2]!;
    t.ok(last.alive(), 'the last kdns serves');
    t.equal(last.port, p.dns, 'on the same DNS port');
    t.equal(last.httpPort, p.http, 'and the same HTTP port');
    t.equal(await ready(p.http), 200, '/ready answers 200 on the new kdns');
    t.equal((await runDig('dig', p.dns, ['db.hosts.test', 'A', '+tcp'])).status, 'NOERROR', 'TCP answered');
    t.equal((await runDig('dig', p.dns, ['db.hosts.test', 'A', '+notcp'])).status, 'NOERROR', 'UDP answered');
    const refused = await runKdns(args(1));
    t.equal(refused.code, 2, 'a plain start beside the new kdns is still refused');
    t.match(refused.stderr, new RegExp(`is already served by kdns pid ${last.pid}`), 'naming the new pid');
    t.equal(await last.stop(), 0);
  });

  t.test('a hand-off that fails after the sockets were sent leaves the old kdns serving', async (t) => {
    const p = await ports();
    const args = ['--listen', `127.0.0.1:${p.dns}`, '--http', `127.0.0.1:${p.http}`, '--no-forward', '--hosts', 'test/fixtures/wire/hosts', '--workers', '2'];
    const old = await startKdns(args, { t });
    const prober = new UdpClient(p.dns);
    await prober.bind();
    t.teardown(() => prober.close());
    const answers: Array<Promise<Buffer | null>> = [];
    // The successor also wants ::1: it receives the sockets, finds they do not match, and exits 2.
    const failing = runKdns(['--takeover', ...args, '--listen', `[::1]:${p.dns}`]);
    let done = false;
    void failing.then(() => { done = true; });
    for (let i = 0; i < 20_000 && !done; i++) {
      answers.push(prober.query(buildQuery('db.hosts.test', 'A', { id: i & 0xffff }), 5000));
      await sleep(1);
    }
    const result = await failing;
    t.equal(result.code, 2, 'the successor exits 2');
    t.match(result.stderr, /cannot take over kdns pid \d+ .*it does not serve ::1 port/);
    for (let i = 0; i < 200; i++) answers.push(prober.query(buildQuery('db.hosts.test', 'A', { id: (answers.length) & 0xffff }), 5000));
    const got = await Promise.all(answers);
    t.equal(got.filter((b) => b === null).length, 0, `the old kdns answered all ${got.length} probes`);
    t.ok(old.alive(), 'and is still running');
    t.ok(records(old).some((r) => r.msg === 'takeover abandoned by the successor: still serving'), 'it logged the abandoned hand-off');
    t.equal(await ready(p.http), 200, 'its /ready still answers');

    const next = await startKdns(['--takeover', ...args], { t });
    t.equal(await old.exited, 0, 'a later takeover still works: the old kdns exits 0');
    t.equal((await runDig('dig', p.dns, ['db.hosts.test', 'A'])).status, 'NOERROR', 'the successor answers');
    t.equal(await next.stop(), 0);
  });

  t.test('--takeover with nothing to take over starts afresh', async (t) => {
    const p = await ports();
    const kdns = await startKdns(['--takeover', '--listen', `127.0.0.1:${p.dns}`, '--http', 'none', '--no-forward', '--hosts', 'test/fixtures/wire/hosts'], { t });
    t.ok(records(kdns).some((r) => r.msg === 'takeover: no kdns serves these addresses; starting afresh'), 'it says so');
    t.equal((await runDig('dig', p.dns, ['db.hosts.test', 'A'])).status, 'NOERROR', 'and answers');
    t.equal(await kdns.stop(), 0);
  });
}
