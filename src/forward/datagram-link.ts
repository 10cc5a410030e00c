// How a plain upstream's UDP query travels, when something faster than Node's dgram is at hand. The
// native engine offers one (src/engine/native-upstream-link.ts): the addon opens a fresh connected socket
// per query in C (random source port, RFC 5452), watches every such socket with one epoll set, and hands the
// answers to JavaScript in batches, one call for many. Without a link, upstream.ts uses dgram sockets.

import { ipv6Bytes, rdataA } from '../dns/rdata.js';
import type { FailureReason } from './upstream-health.js';

/** Something that can end an exchange in progress (Upstream.close ends them all at once). */
export interface Cancellable {
  cancel(): void;
}

/** An upstream's address as the addon takes it: family, port, 16 address bytes (IPv4 in the first 4). */
export interface DatagramTarget {
  readonly family: 4 | 6;
  readonly port: number;
  readonly addr: Buffer;
}

export interface DatagramLink {
  /**
   * Sends `msg` to `to` from a socket of its own and calls `done` once: with the first datagram that
   * matches `msg` (ID and question; a copy the caller may keep), 'refused' (ICMP port unreachable),
   * 'error', or 'timeout' after `timeoutMs`. The exchange is in `live` until it ends.
   */
  exchange(to: DatagramTarget, msg: Buffer, timeoutMs: number, live: Set<Cancellable>, done: (r: Buffer | FailureReason) => void): void;
}

/**
 * The target for an IP literal (the config accepts no names for upstreams); null for an address the link
 * cannot carry (a link-local IPv6 address with a zone: its socket needs the scope, which dgram handles).
 */
export function datagramTarget(host: string, port: number): DatagramTarget | null {
  const v6 = host.includes(':');
  if (v6 && host.includes('%')) return null;
  const addr = Buffer.alloc(16);
  (v6 ? ipv6Bytes(host) : rdataA(host)).copy(addr);
  return { family: v6 ? 6 : 4, port, addr };
}
