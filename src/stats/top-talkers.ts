// Top talkers of one data-plane thread: who asks most (client), what is asked most (name), what does not
// exist (nxdomain) and which cluster namespaces are asked about (namespace), over a sliding window, in
// bounded memory (window.ts). It is one of the engines' exchange observers: they offer it every query and
// hand it the response of the ones it samples, and the native engine gives it a ring per UDP socket for
// the answers it makes in C (ring.ts). Both are sampled: one answer in `every`, weighted `every`, with
// `every` raised and lowered at each drain so a thread keeps about SAMPLES_PER_DRAIN samples per source
// however fast it answers; below that every answer counts.

import type { ExchangeObserver } from '../engine/types.js';
import type { NativeBinding, UdpHandle } from '../engine/native-binding.js';
import type { KdnsConfig } from '../config/types.js';
import { wireToKey } from '../dns/name.js';
import { LastAddressText } from './client-text.js';
import { ObservationRing, type Sample } from './ring.js';
import type { Counted } from './space-saving.js';
import { WindowedTop } from './window.js';

export const TOP_BY = ['client', 'name', 'nxdomain', 'namespace'] as const;
export type TopBy = (typeof TOP_BY)[number];
/** The window the lists cover by default. */
export const TOP_WINDOW_MS = 60_000;

/** Top talkers cost a little per query; with no HTTP port nothing could read them, so they stay off. */
export function topTalkersOn(config: Pick<KdnsConfig, 'topTalkers' | 'http'>): boolean {
  return config.topTalkers && config.http !== null;
}

export interface TopTalkersOptions {
  /** The cluster zone ("cluster.local"), whose names give the namespace; null: no namespace list. */
  clusterDomain: string | null;
  /** Length of the window; default 60 s. */
  windowMs?: number;
  /** Counters per list per window bucket; default 256. */
  capacity?: number;
  /** How often the rings are drained; default 250 ms. */
  drainMs?: number;
  now?: () => number;
}

/** What one thread reports for one list: the heaviest keys with their weights. */
export interface TopReport {
  total: number;
  top: Counted[];
}

const BUCKETS = 6;
const RING_CAPACITY = 1024;
const SAMPLES_PER_DRAIN = 256;
const MAX_EVERY = 1 << 16;
const RCODE_NXDOMAIN = 3;

export class TopTalkers implements ExchangeObserver {
  private readonly lists: Record<TopBy, WindowedTop>;
  private readonly rings: ObservationRing[] = [];
  private readonly svcSuffix: string | null;
  private readonly podSuffix: string | null;
  private jsEvery = 1;
  private jsCountdown = 0;
  private jsCalls = 0;
  /** The client of the current exchange: 16 bytes at an offset, or text (TCP, node engine). */
  private clientBuf: Uint8Array = new Uint8Array(16);
  private clientOffset = 0;
  private clientFamily = 4;
  private clientAddress: string | null = null;
  private readonly timer: NodeJS.Timeout;
  private readonly addressText = new LastAddressText();
  private readonly clock: () => number;
  /** The clock read once per drain, for every sample of it. */
  private drainedAt = 0;
  /** Bound once: the drain calls it per record. */
  private readonly fromRing = (s: Sample): void => {
    this.sample(s.buf, s.nameOffset, this.addressText.of(s.family, s.buf, s.addrOffset), s.rcode, s.weight, this.drainedAt);
  };

  constructor(opts: TopTalkersOptions) {
    const windowMs = opts.windowMs ?? TOP_WINDOW_MS;
    const capacity = opts.capacity ?? 256;
    this.clock = opts.now ?? Date.now;
    const list = (): WindowedTop => new WindowedTop(capacity, windowMs, BUCKETS, this.clock);
    this.lists = { client: list(), name: list(), nxdomain: list(), namespace: list() };
    const zone = opts.clusterDomain === null ? null : opts.clusterDomain.toLowerCase().replace(/\.?$/, '.');
    this.svcSuffix = zone === null ? null : `.svc.${zone}`;
    this.podSuffix = zone === null ? null : `.pod.${zone}`;
    this.timer = setInterval(() => this.drain(), opts.drainMs ?? 250);
    this.timer.unref();
  }

  /** A ring for one native UDP socket, handed to C (udpObserve): the answers it makes are sampled there. */
  attachNative(binding: NativeBinding, handle: UdpHandle): void {
    const ring = new ObservationRing(RING_CAPACITY);
    this.rings.push(ring);
    binding.udpObserve(handle, ring.buf);
  }

  /** Only a reference: the text is made for a sampled answer alone. */
  clientBytes(ipv6: boolean, bytes: Uint8Array, offset: number): void {
    this.clientBuf = bytes;
    this.clientOffset = offset;
    this.clientFamily = ipv6 ? 6 : 4;
    this.clientAddress = null;
  }

  clientText(address: string): void {
    this.clientAddress = address;
  }

  /** One query answered in JavaScript: sampled one in `jsEvery`. */
  query(): boolean {
    this.jsCalls++;
    if (--this.jsCountdown > 0) return false;
    this.jsCountdown = this.jsEvery;
    return true;
  }

  response(_proto: number, msg: Buffer, len: number): void {
    if (!hasQuestion(msg, len)) return;
    const a = this.clientAddress;
    const client = a === null ? this.addressText.of(this.clientFamily, this.clientBuf, this.clientOffset)
      : a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
    this.sample(msg, 12, client, msg[3]! & 0x0f, this.jsEvery, this.clock());
  }

  /** The `n` heaviest keys of list `by` over the window (the rings drained first, so it includes now). */
  top(by: TopBy, n: number): TopReport {
    this.drain();
    return this.lists[by].top(n);
  }

  close(): void {
    clearInterval(this.timer);
  }

  private drain(): void {
    this.drainedAt = this.clock();
    for (const ring of this.rings) {
      const seen = ring.drain(this.fromRing);
      ring.every = everyFor(seen);
    }
    this.jsEvery = everyFor(this.jsCalls);
    this.jsCalls = 0;
  }

  private sample(buf: Buffer, nameOffset: number, client: string, rcode: number, weight: number, now: number): void {
    let key: string;
    try {
      key = wireToKey(buf, nameOffset).key;
    } catch {
      return; // not a name we can read (a FORMERR answer to garbage): nothing to rank
    }
    const lists = this.lists;
    lists.client.add(client, weight, now);
    lists.name.add(key, weight, now);
    if (rcode === RCODE_NXDOMAIN) lists.nxdomain.add(key, weight, now);
    const ns = this.namespaceOf(key);
    if (ns !== null) lists.namespace.add(ns, weight, now);
  }

  /** `<ns>` of `…<ns>.svc.<zone>` and `…<ns>.pod.<zone>`; null for any other name. */
  namespaceOf(key: string): string | null {
    const suffix = this.svcSuffix !== null && key.endsWith(this.svcSuffix) ? this.svcSuffix
      : this.podSuffix !== null && key.endsWith(this.podSuffix) ? this.podSuffix : null;
    if (suffix === null || key.length === suffix.length) return null;
    const head = key.slice(0, key.length - suffix.length);
    return head.slice(head.lastIndexOf('.') + 1);
  }
}

/** One sample in how many, for a source that saw `seen` answers in the last drain interval. */
function everyFor(seen: number): number {
  return Math.min(MAX_EVERY, Math.max(1, Math.ceil(seen / SAMPLES_PER_DRAIN)));
}

/** A response whose question we can read: QDCOUNT ≥ 1 and more than a header. */
function hasQuestion(msg: Buffer, length: number): boolean {
  return length > 12 && ((msg[4]! << 8) | msg[5]!) > 0;
}
