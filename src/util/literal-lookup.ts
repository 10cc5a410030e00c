// A dgram `lookup` for sockets that only ever talk to IP literals.
import { isIPv6 } from 'node:net';

/**
 * dgram passes the destination of every send through a lookup, by default dns.lookup, which even for an
 * IP literal defers the send to the next tick. Where every destination is already an address (a client
 * that sent us a query, an upstream from the config, which takes addresses only), hand it straight back:
 * the send (or connect) then happens now.
 */
export function literalLookup(address: string, family: unknown, callback: (err: null, address: string, family: number) => void): void {
  // dgram passes the socket's family as a number (its typings say options: it never sends those).
  callback(null, address, typeof family === 'number' ? family : isIPv6(address) ? 6 : 4);
}
