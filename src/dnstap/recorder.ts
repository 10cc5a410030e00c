// The producer side, one per data-plane thread: what the engines and the forwarder call (ExchangeObserver,
// UpstreamTap) to log a message, and the native engine's C writer for the exchanges it answers (udpTap). It picks the sampled exchanges, turns addresses into 16 bytes and
// appends one record to the thread's ring; encoding and writing happen on the main thread (output.ts).

import { performance } from 'node:perf_hooks';
import { isIPv4 } from 'node:net';
import type { ExchangeObserver } from '../engine/types.js';
import type { NativeBinding, UdpHandle } from '../engine/native-binding.js';
import { UPSTREAM_TCP, UPSTREAM_TLS, type UpstreamTap } from '../forward/upstream.js';
import { PROTO_UDP } from '../server/responder.js';
import { ipv6Bytes, rdataA } from '../dns/rdata.js';
import { BoundedMemo } from '../util/bounded-memo.js';
import { RingProducer } from './ring.js';

/** dnstap Message.Type values (dnstap.proto). */
export const CLIENT_QUERY = 5;
export const CLIENT_RESPONSE = 6;
export const FORWARDER_QUERY = 7;
export const FORWARDER_RESPONSE = 8;
/** dnstap SocketProtocol and SocketFamily values. */
export const SOCKET_UDP = 1;
export const SOCKET_TCP = 2;
export const SOCKET_DOT = 3;
export const FAMILY_INET = 1;
export const FAMILY_INET6 = 2;

const UNSPECIFIED = new Uint8Array(16);

/** What a data-plane thread needs to log: its ring and the sampling rate (both cross threads as they are). */
export interface DnstapThreadSettings {
  ring: SharedArrayBuffer;
  sampleEvery: number;
}

/** The recorder a data-plane thread logs through; null when dnstap is off. */
export function dnstapRecorder(settings: DnstapThreadSettings | null): DnstapRecorder | null {
  return settings === null ? null : new DnstapRecorder(settings.ring, settings.sampleEvery);
}

/** `1.2.3.4`, `::1`, `fe80::1%eth0`: 16 bytes (IPv4 in the first 4) and the dnstap family; bad text: zeros. */
function addressBytes(text: string): { bytes: Uint8Array; family: number } {
  const pct = text.indexOf('%');
  const address = pct < 0 ? text : text.slice(0, pct);
  try {
    if (isIPv4(address)) {
      const bytes = new Uint8Array(16);
      bytes.set(rdataA(address));
      return { bytes, family: FAMILY_INET };
    }
    return { bytes: new Uint8Array(ipv6Bytes(address)), family: FAMILY_INET6 };
  } catch {
    return { bytes: UNSPECIFIED, family: FAMILY_INET };
  }
}

export class DnstapRecorder implements ExchangeObserver, UpstreamTap {
  private readonly ring: RingProducer;
  private readonly sampleEvery: number;
  private upstreamsSeen = 0;
  /** The client the next query/response call is about. */
  private readonly client = new Uint8Array(16);
  private clientFamily = FAMILY_INET;
  private clientPort = 0;
  /** Clients and upstreams by text (node engine, TCP, forwarded answers): few, so remembered (bounded). */
  private readonly byText = new BoundedMemo<string, { bytes: Uint8Array; family: number }>(4096, addressBytes);

  /** `sampleEvery`: log one exchange in N (1: all). */
  constructor(ring: SharedArrayBuffer, sampleEvery: number) {
    this.ring = new RingProducer(ring);
    this.sampleEvery = Math.max(1, sampleEvery);
  }

  clientBytes(ipv6: boolean, bytes: Uint8Array, offset: number, port: number): void {
    const c = this.client;
    for (let i = 0; i < 16; i++) c[i] = bytes[offset + i]!;
    this.clientFamily = ipv6 ? FAMILY_INET6 : FAMILY_INET;
    this.clientPort = port;
  }

  clientText(address: string, port: number): void {
    const a = this.byText.get(address);
    this.clientBytes(a.family === FAMILY_INET6, a.bytes, 0, port);
  }

  /** The exchanges a native UDP socket answers in C are logged by C into the same ring, same sampling. */
  attachNative(binding: NativeBinding, handle: UdpHandle): void {
    binding.udpTap(handle, this.ring.shared, this.sampleEvery);
  }

  query(proto: number, msg: Buffer, len: number): boolean {
    if (!this.ring.sample(this.sampleEvery)) return false;
    this.putClient(CLIENT_QUERY, proto, msg, len);
    return true;
  }

  response(proto: number, msg: Buffer, len: number): void {
    this.putClient(CLIENT_RESPONSE, proto, msg, len);
  }

  private putClient(type: number, proto: number, msg: Buffer, len: number): void {
    this.ring.put(type, proto === PROTO_UDP ? SOCKET_UDP : SOCKET_TCP, this.clientFamily, this.client, 0, this.clientPort, now(), msg, len);
  }

  upstreamQuery(host: string, port: number, transport: number, msg: Buffer): boolean {
    if (++this.upstreamsSeen < this.sampleEvery) return false;
    this.upstreamsSeen = 0;
    this.putUpstream(FORWARDER_QUERY, host, port, transport, msg);
    return true;
  }

  upstreamResponse(host: string, port: number, transport: number, msg: Buffer): void {
    this.putUpstream(FORWARDER_RESPONSE, host, port, transport, msg);
  }

  private putUpstream(type: number, host: string, port: number, transport: number, msg: Buffer): void {
    const a = this.byText.get(host);
    const protocol = transport === UPSTREAM_TLS ? SOCKET_DOT : transport === UPSTREAM_TCP ? SOCKET_TCP : SOCKET_UDP;
    this.ring.put(type, protocol, a.family, a.bytes, 0, port, now(), msg, msg.length);
  }
}

/** Wall-clock milliseconds with sub-millisecond precision. */
function now(): number {
  return performance.timeOrigin + performance.now();
}
