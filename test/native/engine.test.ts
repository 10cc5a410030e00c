// The native engine against the node engine, each with its own Responder over the same zone: the same query
// bytes must get the same answer bytes (UDP and TCP, ~50 cases incl. EDNS, TC, NXDOMAIN, FORMERR, NOTIMP,
// BADVERS, drops), dig must print the same, the observer must see the same, a 5,000-query burst is all
// answered, two engines share a port with reusePort, and start/stop cycles leave no fd behind.
import t from 'tap';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { createEngine, createEngineWith } from '../../src/engine/index.js';
import { pino, type Logger } from 'pino';
import { NativeEngine } from '../../src/engine/native.js';
import { NodeEngine } from '../../src/engine/node.js';
import type { NativeBinding } from '../../src/engine/native-binding.js';
import { ConfigError } from '../../src/errors.js';
import {
  A, AAAA, cases, Client, CountingObserver, engineOptions, fdCount, message, nativeOrFail, opt, query, RD, settleLive,
} from './setup.js';

const binding = nativeOrFail(t);
if (binding !== null) defineTests(binding);

function defineTests(b: NativeBinding): void {
  t.test('same bytes as the node engine for ~50 queries over UDP, same observer counts', async (t) => {
    const nodeObs = new CountingObserver();
    const nativeObs = new CountingObserver();
    const node = new NodeEngine(engineOptions('127.0.0.1', nodeObs));
    const native = new NativeEngine({ ...engineOptions('127.0.0.1', nativeObs), binding: b });
    const [nodeAddr] = await node.start();
    const [nativeAddr] = await native.start();
    t.teardown(async () => { await node.close(); await native.close(); });
    const client = new Client();
    await client.bind();
    t.teardown(() => client.close());
    const list = cases();
    t.ok(list.length >= 50, `${list.length} cases`);
    const rcodes = new Set<number>();
    let tc = 0;
    for (const { label, packet } of list) {
      // One at a time: the packets with no parseable ID (the 3-byte one) must not disturb the others.
      const fromNode = await client.one(nodeAddr!.port, packet, packet.length < 12 || (packet[2]! & 0x80) ? 300 : 2000);
      const fromNative = await client.one(nativeAddr!.port, packet, packet.length < 12 || (packet[2]! & 0x80) ? 300 : 2000);
      if (fromNode === null || fromNative === null) {
        t.equal(fromNative, fromNode, `${label}: both silent`);
        continue;
      }
      t.ok(fromNative.equals(fromNode), `${label}: identical bytes`, { node: fromNode.toString('hex'), native: fromNative.toString('hex') });
      rcodes.add(fromNative[3]! & 0x0f);
      if (fromNative[2]! & 0x02) tc++;
    }
    t.ok(rcodes.has(0) && rcodes.has(1) && rcodes.has(3) && rcodes.has(4) && rcodes.has(5), `NOERROR, FORMERR, NXDOMAIN, NOTIMP, REFUSED seen (${[...rcodes]})`);
    t.equal(tc, 3, 'three truncated answers');
    t.equal(nativeObs.requests, nodeObs.requests, 'observer: same requests');
    t.equal(nativeObs.responses, nodeObs.responses, 'observer: same responses');
    t.same(nativeObs.drops, nodeObs.drops, 'observer: same drops');
    t.ok(nativeObs.drops.length >= 1, 'drops were reported');
  });

  t.test('same bytes over TCP (the fd handed to net.Server), pipelined', async (t) => {
    const node = new NodeEngine(engineOptions());
    const native = new NativeEngine({ ...engineOptions(), binding: b });
    const [nodeAddr] = await node.start();
    const [nativeAddr] = await native.start();
    t.teardown(async () => { await node.close(); await native.close(); });
    const packets = [
      query(1, 'big.example.test', A), query(2, 'www.example.test', AAAA, opt(1232)), query(3, 'nope.example.test', A),
      message(4, RD, [0, 0, 0, 0], Buffer.alloc(0)),
    ];
    const framed = Buffer.concat(packets.map((p) => Buffer.concat([Buffer.from([p.length >> 8, p.length & 0xff]), p])));
    const [fromNode, fromNative] = await Promise.all([tcpExchange(nodeAddr!.port, framed, 4), tcpExchange(nativeAddr!.port, framed, 4)]);
    t.equal(fromNative.length, 4, 'four answers');
    t.ok(Buffer.concat(fromNative).equals(Buffer.concat(fromNode)), 'identical bytes');
    t.ok(fromNative[0]!.length > 1232 && (fromNative[0]![2]! & 0x02) === 0, 'big answer whole over TCP');
  });

  t.test('dig prints the same answers from both engines (incl. TC → TCP retry)', async (t) => {
    const node = new NodeEngine(engineOptions());
    const native = new NativeEngine({ ...engineOptions(), binding: b });
    const [nodeAddr] = await node.start();
    const [nativeAddr] = await native.start();
    t.teardown(async () => { await node.close(); await native.close(); });
    for (const args of [['www.example.test', 'A'], ['big.example.test', 'A'], ['nope.example.test', 'A'], ['+noedns', 'example.test', 'MX']]) {
      const [a, bOut] = await Promise.all([dig(nodeAddr!.port, args), dig(nativeAddr!.port, args)]);
      t.ok(a.includes('status:'), `dig ${args.join(' ')} answered by node`);
      t.equal(bOut, a, `dig ${args.join(' ')}: same output`);
    }
    const big = await dig(nativeAddr!.port, ['big.example.test', 'A']);
    t.match(big, /Truncated, retrying in TCP mode/, 'dig saw TC and retried over TCP');
    t.equal((big.match(/\tIN\tA\t10\.0\.0\./g) ?? []).length, 100, 'all 100 records via TCP');
  });

  t.test('a burst of 5,000 queries is all answered', async (t) => {
    const obs = new CountingObserver();
    const native = new NativeEngine({ ...engineOptions('127.0.0.1', obs), binding: b });
    const [addr] = await native.start();
    t.teardown(() => native.close());
    const client = new Client();
    await client.bind();
    client.sock.setRecvBufferSize(1 << 20);
    t.teardown(() => client.close());
    const names = ['www.example.test', 'mail.example.test', 'nope.example.test', 'foo.wild.example.test', 'db.hosts.test'];
    const TOTAL = 5000;
    const WINDOW = 250; // the server socket's default receive buffer holds a few hundred small datagrams
    let answered = 0;
    let wrong = 0;
    for (let start = 0; start < TOTAL; start += WINDOW) {
      const packets: Buffer[] = [];
      for (let i = start; i < start + WINDOW; i++) packets.push(query(i + 1, names[i % names.length]!, A));
      const answers = await client.exchange(addr!.port, packets, 3000);
      answers.forEach((a, k) => {
        if (a === null) return;
        answered++;
        const expectNx = (start + k) % names.length === 2;
        if ((a[3]! & 0x0f) !== (expectNx ? 3 : 0)) wrong++;
      });
    }
    t.equal(answered, TOTAL, 'every query answered');
    t.equal(wrong, 0, 'every rcode as expected');
    const s = native.udpStats;
    t.equal(s.rxPackets, TOTAL);
    t.equal(s.txPackets, TOTAL);
    t.equal(s.txDropped + s.txErrors, 0);
    t.equal(obs.requests, TOTAL, 'observer saw every query');
    t.ok(s.batches * 2 < TOTAL, `batched: ${s.batches} JS calls for ${TOTAL} queries`);
  });

  t.test('two engines share a port with reusePort and both answer', async (t) => {
    const one = new NativeEngine({ ...engineOptions(), binding: b, reusePort: true });
    const [addr] = await one.start();
    const two = new NativeEngine({ ...engineOptions(), listen: [{ host: '127.0.0.1', port: addr!.port }], binding: b, reusePort: true });
    const [addr2] = await two.start();
    t.teardown(async () => { await one.close(); await two.close(); });
    t.equal(addr2!.port, addr!.port, 'same port');
    // The kernel picks a socket by hashing the 4-tuple: many client ports reach both.
    let answered = 0;
    for (let c = 0; c < 24; c++) {
      const client = new Client();
      await client.bind();
      if ((await client.one(addr!.port, query(c + 1, 'www.example.test', A))) !== null) answered++;
      client.close();
    }
    t.equal(answered, 24);
    t.ok(one.udpStats.rxPackets > 0 && two.udpStats.rxPackets > 0, `spread ${one.udpStats.rxPackets}/${two.udpStats.rxPackets}`);
    const plain = new NativeEngine({ ...engineOptions(), listen: [{ host: '127.0.0.1', port: addr!.port }], binding: b });
    await t.rejects(plain.start(), { code: 'EADDRINUSE' }, 'without reusePort the port is taken');
  });

  t.test('IPv6: answers on ::1 with the same bytes as the node engine', async (t) => {
    const node = new NodeEngine(engineOptions('::1'));
    const native = new NativeEngine({ ...engineOptions('::1'), binding: b });
    const [nodeAddr] = await node.start();
    const [nativeAddr] = await native.start();
    t.teardown(async () => { await node.close(); await native.close(); });
    const client = new Client('::1');
    await client.bind();
    t.teardown(() => client.close());
    const q = query(7, 'ns2.example.test', AAAA, opt(1232));
    const [a, bAns] = [await client.one(nodeAddr!.port, q), await client.one(nativeAddr!.port, q)];
    t.ok(a !== null && bAns !== null && a.equals(bAns), 'identical');
  });

  t.test('start/stop cycles leave no fd behind, with a TCP connection open at close', async (t) => {
    const client = new Client();
    await client.bind();
    t.teardown(() => client.close());
    // Settle the engines of earlier tests first.
    const settle = (target: number): Promise<number> => settleLive(() => b.liveEngines(), target);
    const liveBefore = await settle(0); // the earlier tests' engines are all closed
    const before = fdCount();
    for (let cycle = 0; cycle < 5; cycle++) {
      const native = new NativeEngine({ ...engineOptions(), binding: b, reusePort: cycle % 2 === 0 });
      const [addr] = await native.start();
      t.ok(await client.one(addr!.port, query(cycle + 1, 'www.example.test', A)), `cycle ${cycle}: answered`);
      const sock = net.connect(addr!.port, '127.0.0.1');
      await new Promise((resolve) => sock.once('connect', resolve));
      const closed = new Promise((resolve) => sock.once('close', resolve));
      sock.on('error', () => {});
      sock.resume();
      for (let i = 0; i < 50 && native.tcpConnections === 0; i++) await new Promise((r) => setTimeout(r, 5));
      t.equal(native.tcpConnections, 1, `cycle ${cycle}: connection seen`);
      await native.close();
      await closed;
    }
    await new Promise((r) => setImmediate(r));
    t.equal(fdCount(), before, 'fd count back to where it was');
    t.equal(await settle(liveBefore), liveBefore, `every engine's native state released (${liveBefore} live before)`);
  });

  t.test('createEngine: auto picks native, node when asked; native without the addon is a ConfigError', async (t) => {
    t.equal(createEngine('auto', engineOptions()).name, 'native');
    t.equal(createEngine('native', engineOptions()).name, 'native');
    t.equal(createEngine('node', engineOptions()).name, 'node');
    const log = { ...engineOptions(), log: recordingLog() };
    t.equal(createEngineWith('auto', log, null, 'not built here').name, 'node', 'auto without the addon: node');
    t.match(lines.join('\n'), /native engine unavailable.*not built here|not built here.*native engine unavailable/, 'and says why');
    t.throws(() => createEngineWith('native', engineOptions(), null, 'not built here'), ConfigError);
    t.throws(() => createEngineWith('native', engineOptions(), null, 'not built here'), { code: 'KDNS_CONFIG_INVALID', message: /not built here/ });
    // A fresh instance of the loader with the addon path pointing nowhere reports null and the reason.
    const saved = process.env.KDNS_NATIVE_ADDON;
    process.env.KDNS_NATIVE_ADDON = '/nonexistent/kdns_native.node';
    try {
      const fresh = (await import(`../../src/engine/native-binding.js?missing=${Date.now()}`)) as typeof import('../../src/engine/native-binding.js');
      t.equal(fresh.loadNative(), null, 'missing addon: null');
      t.match(fresh.nativeUnavailableReason(), /is not built/, 'with a reason');
    } finally {
      if (saved === undefined) delete process.env.KDNS_NATIVE_ADDON;
      else process.env.KDNS_NATIVE_ADDON = saved;
    }
  });
}

const lines: string[] = [];
/** A logger whose lines land in `lines`. */
function recordingLog(): Logger {
  return pino({ level: 'info' }, { write: (line: string) => { lines.push(line); } });
}

function tcpExchange(port: number, framed: Buffer, expect: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const out: Buffer[] = [];
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`tcp: ${out.length}/${expect} answers`)); }, 3000);
    sock.on('error', reject);
    sock.on('connect', () => sock.write(framed));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        out.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (out.length === expect) {
        clearTimeout(timer);
        sock.end();
        resolve(out);
      }
    });
  });
}

/** dig's output without what differs between runs (ID, timing, server port, date). */
function dig(port: number, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=2', '+nocookie', ...args], { timeout: 10_000 }, (_err, stdout) => {
      resolve(stdout
        .replace(/id: \d+/g, 'id: N')
        .replace(/;; (Query time|SERVER|WHEN|MSG SIZE).*\n/g, '')
        .replace(/#\d+/g, '#P')
        .replace(/<<>> DiG .*\n/, ''));
    });
  });
}
