// Shared set-up for forwarder tests: a Forwarder with test-sized options, a settable clock and a log
// that tests can read. Upstreams are always loopback servers the test started.
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import dnsPacket from 'dns-packet';
import { Forwarder, type ForwardClient } from '../../src/forward/forwarder.js';
import { defaultForwardOptions, type CacheOptions, type ForwardOptions } from '../../src/forward/options.js';
import { nameToKey } from '../../src/dns/name.js';
import { TYPE_BY_NAME } from '../../src/dns/constants.js';

export type Overrides = Partial<Omit<ForwardOptions, 'cache'>> & { cache?: Partial<CacheOptions> };

/** A decoded record, loosely typed (dns-packet's union type makes every field access a cast). */
export interface Rec {
  name: string;
  type: string;
  ttl: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
  udpPayloadSize?: number;
  flags?: number;
}

export interface Decoded {
  id: number;
  flags: number;
  questions: { name: string; type: string }[];
  answers: Rec[];
  authorities: Rec[];
  additionals: Rec[];
  raw: Buffer;
}

export function decode(raw: Buffer): Decoded {
  const p = dnsPacket.decode(raw);
  return {
    id: p.id ?? 0, flags: p.flags ?? 0, questions: (p.questions ?? []) as Decoded['questions'],
    answers: (p.answers ?? []) as unknown as Rec[], authorities: (p.authorities ?? []) as unknown as Rec[],
    additionals: (p.additionals ?? []) as unknown as Rec[], raw,
  };
}

export interface TestForwarder {
  fwd: Forwarder;
  clock: { now: number };
  logs: string[];
  registry: Registry;
  /** Asks the forwarder like the responder would; decodes the answer. */
  ask(name: string, type: string, client?: Partial<ForwardClient>, raw?: Buffer): Promise<Decoded>;
}

export const UDP_CLIENT: ForwardClient = { address: '127.0.0.1', family: 4, proto: 'udp', maxUdpSize: 1232 };

export function testLogger(logs: string[]): Logger {
  return pino({ level: 'debug' }, { write: (s: string) => { logs.push(s); } });
}

export function makeForwarder(over: Overrides, defaults: number[] = []): TestForwarder {
  const base = defaultForwardOptions();
  const opts: ForwardOptions = {
    ...base,
    resolvConf: null,
    timeoutMs: 300,
    probeIntervalMs: 100,
    defaultUpstreams: defaults.map((port) => ({ host: '127.0.0.1', port })),
    ...over,
    cache: { ...base.cache, ...(over.cache ?? {}) },
  };
  const clock = { now: 1_000_000 };
  const logs: string[] = [];
  const registry = new Registry();
  const fwd = new Forwarder(opts, testLogger(logs), registry, () => clock.now);
  const ask = async (name: string, type: string, client: Partial<ForwardClient> = {}, raw?: Buffer) => {
    const query = raw ?? dnsPacket.encode({
      type: 'query', id: 999, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: type as dnsPacket.RecordType, name }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0 } as dnsPacket.Answer],
    });
    const out = await fwd.resolve(query, nameToKey(name.endsWith('.') ? name : name + '.'), TYPE_BY_NAME[type] ?? 0,
      { ...UDP_CLIENT, ...client });
    if (out === null) throw new Error('forwarder returned null');
    return decode(out);
  };
  return { fwd, clock, logs, registry, ask };
}

export function rcodeOf(p: { flags?: number }): number {
  return (p.flags ?? 0) & 0x0f;
}
