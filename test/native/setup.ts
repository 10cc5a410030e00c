// Shared pieces of the native-engine tests: the addon (a missing build FAILS, it is never skipped), a
// Responder over the wire-test zone built the way src/main.ts builds it, a quiet logger, an fd counter,
// and a UDP client that sends many queries and matches answers by ID, every wait bounded.

import dgram from 'node:dgram';
import type { Test } from 'tap';
import { readdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { loadNative, nativeUnavailableReason, type NativeBinding } from '../../src/engine/native-binding.js';
import { LocalNames } from '../../src/server/local-names.js';
import { Responder } from '../../src/server/responder.js';
import { loadHostsFile } from '../../src/sources/hosts/parse.js';
import { loadZoneFile } from '../../src/sources/zonefile/parse.js';
import { Zone, ZoneSet, rrsetFromRecords } from '../../src/zone/index.js';
import type { EngineOptions, QueryObserver } from '../../src/engine/types.js';
import type { RrSetChange } from '../../src/dns/types.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/wire/', import.meta.url));

/**
 * The addon, or null after failing `t` with the reason. CI builds the addon, so its absence is a failure,
 * never a skip: the native engine must not silently go untested.
 */
export function nativeOrFail(t: Test): NativeBinding | null {
  const b = loadNative();
  if (b === null) t.fail(`native addon not loadable: ${nativeUnavailableReason()}`);
  return b;
}

export function makeResponder(): Responder {
  return makeZoneResponder().responder;
}

/** The same, with its zone, whose changes reach the responder as in src/main.ts (invalidateNames). */
export function makeZoneResponder(): { responder: Responder; zone: Zone } {
  const parsed = loadZoneFile(`${FIXTURES}example.zone`);
  const zone = new Zone(parsed.origin);
  zone.replaceAll(rrsetFromRecords(parsed.records));
  const zones = new ZoneSet();
  zones.add(zone);
  const local = new LocalNames();
  local.replaceAll(loadHostsFile(`${FIXTURES}hosts`, 60));
  const responder = new Responder({ zones, local: [local], maxUdpPayload: 1232, chaos: { versionBind: 'kdns-test', idServer: null } });
  return { responder, zone };
}

/** Applies `change` to `zone` and drops the responder's answers that depended on the names it touched. */
export function applyChange(zone: Zone, responder: Responder, change: RrSetChange): void {
  const touched = new Set<string>();
  zone.apply(change, touched);
  responder.invalidateNames(touched);
}

export const quietLog: Logger = pino({ level: 'silent' });

/** Counts what the engine reports, to check the native engine feeds the observer like the node engine. */
export class CountingObserver implements QueryObserver {
  requests = 0;
  responses = 0;
  drops: number[] = [];
  request(): void {
    this.requests++;
  }
  response(): void {
    this.responses++;
  }
  responseMicros(): void {
    this.responses++;
  }
  dropped(reason: number): void {
    this.drops.push(reason);
  }
  tcpClosed(): void {}
}

export function engineOptions(host = '127.0.0.1', observer: QueryObserver | null = null): EngineOptions {
  return {
    listen: [{ host, port: 0 }],
    tcp: { idleTimeoutMs: 2000, maxConnections: 64, maxQueriesInFlightPerConnection: 16, messageTimeoutMs: 2000 },
    responder: makeResponder(),
    log: quietLog,
    observer,
  };
}

/**
 * The addon frees a handle's native state once it is stopped and its handle object collected: collects
 * garbage until `live()` is at most `target` (30 rounds at most) and returns what it then is.
 */
export async function settleLive(live: () => number, target: number): Promise<number> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  for (let i = 0; i < 30 && live() > target; i++) {
    gc();
    // Node-API runs finalizers from an immediate after the collection, and libuv frees closed handles on the
    // next loop turn: two turns, not a wait of some milliseconds.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
  }
  return live();
}

export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** One client socket; answers are matched by message ID. */
export class Client {
  readonly sock: dgram.Socket;
  private readonly waiting = new Map<number, (b: Buffer | null) => void>();
  readonly host: string;

  constructor(host = '127.0.0.1') {
    this.host = host;
    this.sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    this.sock.on('message', (msg) => {
      const w = msg.length >= 2 ? this.waiting.get(msg.readUInt16BE(0)) : undefined;
      if (w !== undefined) {
        this.waiting.delete(msg.readUInt16BE(0));
        w(msg);
      }
    });
  }

  async bind(): Promise<void> {
    await new Promise<void>((resolve) => this.sock.bind(0, this.host, resolve));
  }

  /** Sends `packets` (distinct IDs) at once; resolves every answer or null per packet after `timeoutMs`. */
  exchange(port: number, packets: Buffer[], timeoutMs = 2000): Promise<(Buffer | null)[]> {
    const results = packets.map((p) => new Promise<Buffer | null>((resolve) => this.waiting.set(p.readUInt16BE(0), resolve)));
    const timer = setTimeout(() => {
      for (const p of packets) this.waiting.get(p.readUInt16BE(0))?.(null);
      for (const p of packets) this.waiting.delete(p.readUInt16BE(0));
    }, timeoutMs);
    for (const p of packets) this.sock.send(p, port, this.host);
    return Promise.all(results).finally(() => clearTimeout(timer));
  }

  async one(port: number, packet: Buffer, timeoutMs = 2000): Promise<Buffer | null> {
    return (await this.exchange(port, [packet], timeoutMs))[0]!;
  }

  close(): void {
    this.sock.close();
  }
}

/** Wire name + type + class. */
export function question(name: string, type: number, cls = 1): Buffer {
  const labels = name.split('.').filter((l) => l.length > 0);
  const parts = labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')]));
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(type, 1);
  tail.writeUInt16BE(cls, 3);
  return Buffer.concat([...parts, tail]);
}

/** An OPT record: udp size, version, flags (DO = 0x8000). */
export function opt(size: number, version = 0, flags = 0): Buffer {
  const b = Buffer.alloc(11);
  b.writeUInt16BE(41, 1);
  b.writeUInt16BE(size, 3);
  b[6] = version;
  b.writeUInt16BE(flags, 7);
  return b;
}

/** A message from header fields and a body. */
export function message(id: number, flags: number, counts: [number, number, number, number], body: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(flags, 2);
  counts.forEach((c, i) => h.writeUInt16BE(c, 4 + 2 * i));
  return Buffer.concat([h, body]);
}

export const RD = 0x0100;

/** A standard query: RD set, one question, optional OPT. */
export function query(id: number, name: string, type: number, edns: Buffer | null = null, cls = 1): Buffer {
  const q = question(name, type, cls);
  return edns === null ? message(id, RD, [1, 0, 0, 0], q) : message(id, RD, [1, 0, 0, 1], Buffer.concat([q, edns]));
}

export const A = 1, NS = 2, SOA = 6, MX = 15, TXT = 16, AAAA = 28, SRV = 33, OPT = 41, AXFR = 252, ANY = 255, CAA = 257;
export const DO = 0x8000;

/** About 50 queries: answers, NODATA, NXDOMAIN, referral, wildcard, CNAME, hosts, EDNS, TC and errors. */
export function cases(): { label: string; packet: Buffer }[] {
  const out: { label: string; packet: Buffer }[] = [];
  let id = 0x2000;
  const add = (label: string, packet: Buffer): void => { out.push({ label, packet }); };
  const names = [
    'example.test', 'www.example.test', 'WwW.ExAmPlE.tEsT', 'mail.example.test', 'ns2.example.test', 'txt.example.test',
    '_sip._tcp.example.test', 'alias.example.test', 'dangling.example.test', 'foo.wild.example.test',
    'x.sub.example.test', 'nope.example.test', 'db.hosts.test', 'outside.invalid',
  ];
  for (const name of names) {
    for (const type of [A, AAAA, MX]) add(`${name} ${type}`, query(id++, name, type));
  }
  add('apex SOA', query(id++, 'example.test', SOA));
  add('apex NS +edns', query(id++, 'example.test', NS, opt(1232)));
  add('apex ANY', query(id++, 'example.test', ANY));
  add('apex CAA +do', query(id++, 'example.test', CAA, opt(4096, 0, DO)));
  add('SRV +edns 512', query(id++, '_sip._tcp.example.test', SRV, opt(512)));
  add('TXT +do', query(id++, 'txt.example.test', TXT, opt(1232, 0, DO)));
  add('big A no EDNS (TC at 512)', query(id++, 'big.example.test', A));
  add('big A EDNS 1232 (TC)', query(id++, 'big.example.test', A, opt(1232)));
  add('big A EDNS 4096 (clamped, TC)', query(id++, 'big.example.test', A, opt(4096, 0, DO)));
  add('big MX NODATA', query(id++, 'big.example.test', MX, opt(1232)));
  add('CHAOS version.bind', query(id++, 'version.bind', TXT, null, 3));
  add('CHAOS id.server (refused)', query(id++, 'id.server', TXT, null, 3));
  add('AXFR refused', query(id++, 'example.test', AXFR));
  add('qtype OPT: FORMERR', query(id++, 'example.test', OPT));
  add('QDCOUNT 0: FORMERR', message(id++, RD, [0, 0, 0, 0], Buffer.alloc(0)));
  add('QDCOUNT 2: FORMERR', message(id++, RD, [2, 0, 0, 0], Buffer.concat([question('a.example.test', A), question('b.example.test', A)])));
  add('trailing bytes: FORMERR', message(id++, RD, [1, 0, 0, 0], Buffer.concat([question('www.example.test', A), Buffer.from([1, 2, 3])])));
  add('two OPTs: FORMERR', message(id++, RD, [1, 0, 0, 2], Buffer.concat([question('www.example.test', A), opt(1232), opt(1232)])));
  add('opcode STATUS: NOTIMP', message(id++, RD | (2 << 11), [1, 0, 0, 0], question('www.example.test', A)));
  add('EDNS version 1: BADVERS', query(id++, 'www.example.test', A, opt(1232, 1)));
  add('QR set: dropped', message(id++, 0x8000 | RD, [1, 0, 0, 0], question('www.example.test', A)));
  add('truncated header: dropped', Buffer.from([0x30, 0x01, 0x01]));
  return out;
}
