// The data plane end to end: hub → supervisor → worker threads → UDP answers. Runs on the native engine
// (2 workers on one SO_REUSEPORT port) when the addon is built, and always on the node engine (2 workers,
// each on its own port via `distinctPorts`, since Node 20 cannot share one).
import t, { type Test } from 'tap';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { defaultConfig } from '../../src/config/load.js';
import type { EngineName } from '../../src/config/types.js';
import { loadNative } from '../../src/engine/native-binding.js';
import { CLASS_IN, TYPE_A } from '../../src/dns/constants.js';
import { rdataA } from '../../src/dns/rdata.js';
import type { RrSetChange } from '../../src/dns/types.js';
import { DnsCounters, REQ_OFF, RESP_OFF, SLOT_DOUBLES, SLOT_BYTES } from '../../src/metrics/dns-counters.js';
import { parseZone } from '../../src/zone/zone-text.js';
import { ZoneHub } from '../../src/worker/hub.js';
import { startDataPlane, type DataPlane } from '../../src/worker/supervisor.js';
import { dataPlaneSettings, type DataPlaneSettings } from '../../src/worker/settings.js';
import { defaultForwardOptions } from '../../src/forward/options.js';
import { query } from '../helpers/dns-client.js';

const ORIGIN = 'example.test.';
const ZONE = `
@ 300 SOA ns1 hostmaster 1 7200 3600 1209600 300
@ 300 NS ns1
ns1 300 A 192.0.2.1
www 300 A 192.0.2.10
`;
const WORKERS = 2;

function settings(engine: EngineName): DataPlaneSettings {
  return dataPlaneSettings({ ...defaultConfig(), listen: [{ host: '127.0.0.1', port: 0 }], engine, workers: WORKERS, http: null, logLevel: 'warn' });
}

/** A logger whose lines the test can read. */
function captureLog(): { log: Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void out.push(s) });
  return { log, lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

function setA(name: string, ip: string): RrSetChange {
  return { op: 'upsert', rrset: { name, type: TYPE_A, class: CLASS_IN, ttl: 60, rdatas: [rdataA(ip)] } };
}

let nextId = 1;
/** One query from a fresh socket (a fresh source port, so SO_REUSEPORT may pick either worker). */
async function ask(port: number, name: string, timeoutMs = 1000): Promise<string> {
  const id = (nextId++ & 0xffff) || 1;
  const packet = dnsPacket.encode({ type: 'query', id, flags: 0, questions: [{ name, type: 'A', class: 'IN' }] });
  const raw = await query(port, packet, { attempts: 1, timeoutMs });
  const answers = dnsPacket.decode(raw).answers ?? [];
  return `${raw[3]! & 0x0f} ${answers.map((a) => String((a as { data: unknown }).data)).join(',')}`;
}

/** Queries counted in one worker's counter slot. */
function answeredBy(sab: SharedArrayBuffer, slot: number): number {
  const f = new Float64Array(sab, slot * SLOT_BYTES, SLOT_DOUBLES);
  let n = 0;
  for (let i = REQ_OFF; i < RESP_OFF; i++) n += f[i]!;
  return n;
}

interface Setup {
  hub: ZoneHub;
  dp: DataPlane;
  sab: SharedArrayBuffer;
  registry: Registry;
  /** The port worker i answers on. */
  portOf(i: number): number;
  lines: () => Record<string, unknown>[];
}

async function setup(t: Test, engine: EngineName, distinct: boolean): Promise<Setup> {
  const hub = new ZoneHub();
  hub.addZone(ORIGIN, parseZone(ORIGIN, ZONE), true);
  const sab = DnsCounters.bufferFor(WORKERS);
  const registry = new Registry();
  const { log, lines } = captureLog();
  const dp = await startDataPlane({
    workers: WORKERS, hub, settings: settings(engine), log, countersBuffer: sab, registry,
    distinctPorts: distinct, restartDelayMs: 300,
  });
  t.teardown(() => dp.close());
  const portOf = (i: number): number => dp.status()[i]!.bound[0]!.port;
  return { hub, dp, sab, registry, portOf, lines };
}

const engines: { engine: EngineName; distinct: boolean }[] = [{ engine: 'node', distinct: true }];
if (loadNative() !== null) engines.unshift({ engine: 'native', distinct: false });
else t.comment('native addon not built: the shared-port runs are skipped');

for (const { engine, distinct } of engines) {
  t.test(`${engine}: a change reaches every worker`, async (t) => {
    const { hub, dp, sab, registry, portOf } = await setup(t, engine, distinct);
    t.equal(dp.workers(), WORKERS);
    t.equal(dp.engine, engine);
    if (!distinct) t.equal(portOf(1), portOf(0), 'both workers on the port the first one got');
    else t.not(portOf(1), portOf(0));
    for (let i = 0; i < WORKERS; i++) t.equal(await ask(portOf(i), 'www.example.test'), '0 192.0.2.10');

    const started = performance.now();
    hub.apply(ORIGIN, [setA('www.example.test.', '192.0.2.99')]);
    // Poll every worker until each shows the change (bounded: 10 s). How fast is measured in bench/, not here;
    // the times are only reported.
    const seenAt: number[] = [];
    const seen: boolean[] = [];
    for (let i = 0; i < WORKERS; i++) {
      let ok = false;
      while (!ok && performance.now() - started < 10_000) {
        ok = (await ask(portOf(i), 'www.example.test', 500)) === '0 192.0.2.99';
        if (!ok) await new Promise((r) => setTimeout(r, 2));
      }
      seen.push(ok);
      seenAt.push(performance.now() - started);
    }
    t.same(seen, seen.map(() => true), `change visible in every worker (after ${seenAt.map((ms) => ms.toFixed(1)).join(', ')} ms)`);
    t.ok(await dp.synced(hub.version, 1000), 'every worker reports the version applied');

    // Many source ports: answers come from both workers (each counts in its own slot), all current.
    const before = [answeredBy(sab, 0), answeredBy(sab, 1)];
    const answers = await Promise.all(Array.from({ length: 24 }, (_, k) => ask(portOf(k % WORKERS), 'www.example.test')));
    t.same(new Set(answers), new Set(['0 192.0.2.99']));
    t.ok(answeredBy(sab, 0) > before[0]! && answeredBy(sab, 1) > before[1]!, 'both workers answered');

    const text = await registry.metrics();
    const count = /kdns_worker_delta_apply_seconds_count (\d+)/.exec(text);
    t.ok(count !== null && Number(count[1]) >= WORKERS, 'delta propagation measured per worker');
    t.match(text, /kdns_worker_threads 2/);
  });

  t.test(`${engine}: a rebuilt zone image reaches every worker; compiled answers from the old one go`, async (t) => {
    const { hub, dp, registry, portOf } = await setup(t, engine, distinct);
    for (let i = 0; i < WORKERS; i++) t.equal(await ask(portOf(i), 'www.example.test'), '0 192.0.2.10', 'compiled from the first image');
    // Rewrite one large RRset until its garbage forces a compaction (src/zone/image.ts, GARBAGE_LIMIT).
    const big = (k: number): RrSetChange => ({
      op: 'upsert', rrset: { name: 'big.example.test.', type: TYPE_A, class: CLASS_IN, ttl: 60, rdatas: Array.from({ length: 1000 }, (_, j) => rdataA(`10.${k & 255}.${j >> 8}.${j & 255}`)) },
    });
    for (let k = 0; hub.imageStats.rebuilds === 0 && k < 10_000; k++) hub.apply(ORIGIN, [big(k)]);
    t.equal(hub.imageStats.rebuilds, 1, 'the hub rebuilt the image');
    hub.apply(ORIGIN, [setA('www.example.test.', '192.0.2.77')]);
    t.ok(await dp.synced(hub.version, 10_000), 'every worker applied the image delta and what followed');
    for (let i = 0; i < WORKERS; i++) t.equal(await ask(portOf(i), 'www.example.test'), '0 192.0.2.77', `worker ${i} answers from the new image`);
    for (let i = 0; i < WORKERS; i++) t.equal(await ask(portOf(i), 'ns1.example.test'), '0 192.0.2.1', `worker ${i}: untouched data survived the rebuild`);
    const text = await registry.metrics();
    t.match(text, /kdns_zone_image_rebuilds 1/);
    const bytes = /kdns_zone_image_bytes (\d+)/.exec(text);
    t.ok(bytes !== null && Number(bytes[1]) > 0, 'the image size is in /metrics');
  });

  t.test(`${engine}: a crashed worker is restarted with current data; the other keeps answering`, async (t) => {
    const { hub, dp, sab, registry, portOf, lines } = await setup(t, engine, distinct);
    const survivorPort = portOf(1);
    for (const how of ['terminate', 'throw'] as const) {
      await dp.kill(0, how);
      t.equal(dp.status()[0]!.state, 'restarting');
      // While worker 0 is down (restart delay 300 ms) the zone changes and every query is still answered.
      hub.apply(ORIGIN, [setA('www.example.test.', how === 'terminate' ? '192.0.2.50' : '192.0.2.51')]);
      const expected = `0 ${how === 'terminate' ? '192.0.2.50' : '192.0.2.51'}`;
      await new Promise((r) => setTimeout(r, 20));
      const during = await Promise.all(Array.from({ length: 16 }, () => ask(survivorPort, 'www.example.test')));
      t.same(new Set(during), new Set([expected]), `${how}: answered by the surviving worker during the restart`);
      t.equal(dp.status()[0]!.state, 'restarting', 'the queries above ran while worker 0 was down');

      const deadline = performance.now() + 30_000;
      while (dp.status()[0]!.state !== 'ready' && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      t.equal(dp.status()[0]!.state, 'ready', `${how}: worker 0 is back`);
      t.equal(dp.workers(), WORKERS);
      if (!distinct) t.equal(portOf(0), survivorPort, 'on the shared port');

      const before = answeredBy(sab, 0);
      const after = await Promise.all(Array.from({ length: 24 }, () => ask(portOf(0), 'www.example.test')));
      t.same(new Set(after), new Set([expected]), 'the restarted worker loaded the change it missed');
      t.ok(answeredBy(sab, 0) > before, 'and it answers');
    }
    t.equal(dp.status()[0]!.restarts, 2);
    t.match(await registry.metrics(), /kdns_worker_restarts_total 2/);
    t.ok(lines().some((l) => l.msg === 'worker exited: restarting it' && l.worker === 0), 'restart logged');
  });

  t.test(`${engine}: close() drains TCP and ends every thread`, async (t) => {
    const { dp, portOf } = await setup(t, engine, distinct);
    const port = portOf(0);
    // A TCP client with an answered query stays connected until close() ends it.
    const sock = net.createConnection({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
    const q = dnsPacket.encode({ type: 'query', id: 7, flags: 0, questions: [{ name: 'www.example.test', type: 'A', class: 'IN' }] });
    const len = Buffer.alloc(2);
    len.writeUInt16BE(q.length);
    const gotAnswer = new Promise<Buffer>((resolve) => sock.once('data', resolve));
    const ended = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    sock.write(Buffer.concat([len, q]));
    const first = await gotAnswer;
    t.equal(first.readUInt16BE(2), 7, 'TCP answer before close');

    await dp.close();
    await ended;
    t.pass('the server ended the TCP connection');
    t.equal(dp.workers(), 0);
    t.same(dp.status().map((s) => s.state), ['closed', 'closed']);
    await t.rejects(ask(port, 'www.example.test', 200), 'nothing answers after close');
    await dp.close(); // idempotent
  });
}

t.test('node engine on one shared port: one worker, and the log says why', async (t) => {
  const hub = new ZoneHub();
  hub.addZone(ORIGIN, parseZone(ORIGIN, ZONE), true);
  const { log, lines } = captureLog();
  const dp = await startDataPlane({ workers: 4, hub, settings: settings('node'), log, countersBuffer: DnsCounters.bufferFor(4) });
  t.teardown(() => dp.close());
  t.equal(dp.workers(), 1);
  t.equal(dp.status().length, 1);
  t.ok(lines().some((l) => l.level === 40 && /cannot share a port/.test(String(l.msg))));
  t.equal(await ask(dp.bound[0]!.port, 'www.example.test'), '0 192.0.2.10');
});

t.test('forward options reach the workers: answers say recursion is available', async (t) => {
  const hub = new ZoneHub();
  hub.addZone(ORIGIN, parseZone(ORIGIN, ZONE), true);
  const { log } = captureLog();
  const forward = { ...defaultForwardOptions(), defaultUpstreams: [{ host: '127.0.0.1', port: 9 }], resolvConf: null };
  const dp = await startDataPlane({ workers: 1, hub, settings: settings('node'), log, countersBuffer: DnsCounters.bufferFor(1), forward });
  t.teardown(() => dp.close());
  const packet = dnsPacket.encode({ type: 'query', id: 99, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: 'www.example.test', type: 'A', class: 'IN' }] });
  const raw = await query(dp.bound[0]!.port, packet, { attempts: 1, timeoutMs: 1000 });
  t.equal(raw[3]! & 0x0f, 0, 'zone answer');
  t.equal(raw[3]! & 0x80, 0x80, 'RA set: the worker\'s responder has a forwarder');
  const plain = await startDataPlane({ workers: 1, hub, settings: settings('node'), log, countersBuffer: DnsCounters.bufferFor(1) });
  t.teardown(() => plain.close());
  const raw2 = await query(plain.bound[0]!.port, packet, { attempts: 1, timeoutMs: 1000 });
  t.equal(raw2[3]! & 0x80, 0, 'no RA without forward options');
});

t.test('a worker that cannot bind fails the start, with the errno code', async (t) => {
  const taken = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => taken.bind({ address: '127.0.0.1', port: 0, exclusive: true }, resolve));
  t.teardown(() => taken.close());
  const hub = new ZoneHub();
  const cfg = { ...settings('node'), listen: [{ host: '127.0.0.1', port: taken.address().port }] };
  const { log } = captureLog();
  await t.rejects(startDataPlane({ workers: 1, hub, settings: cfg, log: log, countersBuffer: DnsCounters.bufferFor(1) }),
    { code: 'EADDRINUSE' });
});
