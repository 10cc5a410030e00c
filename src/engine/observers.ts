// The one list of exchange observers an engine calls (dnstap, top talkers: ExchangeObserver in types.ts).
// Each query is offered to every observer; the ones that sample it are remembered as bits of a mask, which
// the engine keeps with the exchange (a forwarded one too) and hands back with the response.

import type { NativeBinding, UdpHandle } from './native-binding.js';
import type { ExchangeObserver } from './types.js';

/** At most this many observers (the mask is an int32). */
const MAX_OBSERVERS = 30;

export class ExchangeObservers {
  private readonly list: readonly ExchangeObserver[];

  private constructor(list: readonly ExchangeObserver[]) {
    if (list.length > MAX_OBSERVERS) throw new RangeError(`at most ${MAX_OBSERVERS} exchange observers, got ${list.length}`);
    this.list = list;
  }

  /** Null for an absent or empty list, so an engine without observers pays one null check a query. */
  static of(list: readonly ExchangeObserver[] | undefined): ExchangeObservers | null {
    return list === undefined || list.length === 0 ? null : new ExchangeObservers(list);
  }

  /** Whether every observer can see the answers made in C (else the native engine must not make any). */
  get seeNative(): boolean {
    return this.list.every((o) => o.attachNative !== undefined);
  }

  attachNative(binding: NativeBinding, handle: UdpHandle): void {
    for (const o of this.list) o.attachNative?.(binding, handle);
  }

  /** A query from the client at `bytes[offset..+16)`: the mask of the observers that want its response. */
  queryFromBytes(ipv6: boolean, bytes: Uint8Array, offset: number, port: number, proto: number, msg: Buffer, len: number): number {
    const list = this.list;
    let mask = 0;
    for (let i = 0; i < list.length; i++) {
      const o = list[i]!;
      o.clientBytes(ipv6, bytes, offset, port);
      if (o.query(proto, msg, len)) mask |= 1 << i;
    }
    return mask;
  }

  /** The same for a client known by its address text. */
  queryFromText(address: string, port: number, proto: number, msg: Buffer, len: number): number {
    const list = this.list;
    let mask = 0;
    for (let i = 0; i < list.length; i++) {
      const o = list[i]!;
      o.clientText(address, port);
      if (o.query(proto, msg, len)) mask |= 1 << i;
    }
    return mask;
  }

  /** The response, in the same turn as the query (each observer still holds the client). */
  response(mask: number, proto: number, msg: Buffer, len: number): void {
    if (mask === 0) return;
    const list = this.list;
    for (let i = 0; i < list.length; i++) if ((mask & (1 << i)) !== 0) list[i]!.response(proto, msg, len);
  }

  /** A response computed later (forwarded): the client is named again first. */
  laterFromBytes(mask: number, ipv6: boolean, bytes: Uint8Array, offset: number, port: number, proto: number, msg: Buffer): void {
    if (mask === 0) return;
    const list = this.list;
    for (let i = 0; i < list.length; i++) {
      if ((mask & (1 << i)) === 0) continue;
      list[i]!.clientBytes(ipv6, bytes, offset, port);
      list[i]!.response(proto, msg, msg.length);
    }
  }

  laterFromText(mask: number, address: string, port: number, proto: number, msg: Buffer): void {
    if (mask === 0) return;
    const list = this.list;
    for (let i = 0; i < list.length; i++) {
      if ((mask & (1 << i)) === 0) continue;
      list[i]!.clientText(address, port);
      list[i]!.response(proto, msg, msg.length);
    }
  }
}
