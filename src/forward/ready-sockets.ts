// Connected UDP sockets to one upstream, opened before they are needed. Each is used for exactly one query
// and then closed, so every query still leaves from a fresh random source port (RFC 5452); what moves off
// the query's path is the socket set-up (create, bind, connect, register with the event loop), which on
// loopback costs about as much as the round trip itself. The owner calls refill() once an exchange is over
// and its answer sent, so the set-up does not compete with the upstream's answer either. When the pool is
// empty a query opens its own and the pool doubles (up to MAX_READY), so a burst of misses finds sockets
// ready the next time.

import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { literalLookup } from '../util/literal-lookup.js';

/** The most sockets a pool grows to under a burst of misses (each an fd, idle until used). */
export const MAX_READY = 64;

export class ReadySockets {
  private readonly host: string;
  private readonly port: number;
  private target: number;
  private readonly ready: dgram.Socket[] = [];
  private opening = 0;
  private closed = false;
  /** A take since the last refill found no socket ready. */
  private ranDry = false;
  /** Set by the first refill: before it, an empty pool says nothing about its size. */
  private filling = false;

  /** `target` sockets are kept ready (0 disables the pool). */
  constructor(host: string, port: number, target: number) {
    this.host = host;
    this.port = port;
    this.target = target;
  }

  /** A connected socket nobody has used, or null (the caller opens its own). refill() replaces it. */
  take(): dgram.Socket | null {
    const sock = this.ready.pop() ?? null;
    if (sock !== null) sock.ref();
    else if (this.filling) this.ranDry = true; // not the first take: the pool was too small for the burst
    return sock;
  }

  /**
   * Keeps `target` sockets ready or opening (doubled first when a take found none); each opens
   * asynchronously. Call it off any query's path: after an exchange's answer went out.
   */
  refill(): void {
    this.filling = true;
    if (this.ranDry && this.target > 0) this.target = Math.min(MAX_READY, this.target * 2);
    this.ranDry = false;
    while (!this.closed && this.ready.length + this.opening < this.target) this.open();
  }

  close(): void {
    this.closed = true;
    for (const sock of this.ready.splice(0)) closeQuietly(sock);
  }

  /** After close(): open sockets again from the next refill() on. */
  reopen(): void {
    this.closed = false;
  }

  get size(): number {
    return this.ready.length;
  }

  /** How many sockets the pool keeps ready now. */
  get wanted(): number {
    return this.target;
  }

  private open(): void {
    this.opening++;
    const sock = openSocket(this.host);
    sock.unref(); // an idle ready socket must not keep the process alive
    let connected = false;
    sock.once('error', () => {
      if (!connected) {
        this.opening--; // it never became ready; the next take() opens another
        closeQuietly(sock);
        return;
      }
      const i = this.ready.indexOf(sock);
      if (i < 0) return; // taken: the query's own handler deals with it
      this.ready.splice(i, 1);
      closeQuietly(sock);
    });
    sock.connect(this.port, this.host, () => {
      connected = true;
      this.opening--;
      if (this.closed) closeQuietly(sock);
      else this.ready.push(sock);
    });
  }
}

/** A UDP socket for an upstream address (IP literals only: the config refuses names). */
export function openSocket(host: string): dgram.Socket {
  return dgram.createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', lookup: literalLookup });
}

export function closeQuietly(sock: dgram.Socket): void {
  try { sock.close(); } catch { /* already closed */ }
}
