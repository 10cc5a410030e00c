// Datagrams the kernel dropped because a socket's receive queue was full: the `drops` column of
// /proc/net/udp and /proc/net/udp6 (Linux). Read only when metrics are scraped, so it costs the packet path
// nothing. A socket is picked by inode (the native engine knows its fds; with SO_REUSEPORT several of our
// sockets share one address) or by its local address and port (dgram sockets, which never share one).
// Elsewhere, or when /proc is not readable, the count is 0.

import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { ipv6Bytes, rdataA } from '../dns/rdata.js';

export type UdpSocketId = { inode: number } | { host: string; port: number };

const TABLES = ['/proc/net/udp', '/proc/net/udp6'];
// Columns: sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref pointer drops
const COL_LOCAL = 1;
const COL_INODE = 9;
const COL_DROPS = 12;

/** Sum of the kernel's receive drops of these sockets (since each was created). */
export function udpReceiveDrops(sockets: readonly UdpSocketId[]): number {
  if (sockets.length === 0) return 0;
  const inodes = new Set<string>();
  const locals = new Set<string>();
  for (const s of sockets) {
    if ('inode' in s) inodes.add(String(s.inode));
    else locals.add(procLocalAddress(s.host, s.port));
  }
  let drops = 0;
  for (const table of TABLES) {
    let text: string;
    try {
      text = readFileSync(table, 'latin1');
    } catch {
      continue; // not Linux, no IPv6, or /proc not mounted: nothing to add
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length <= COL_DROPS) continue;
      if (inodes.has(cols[COL_INODE]!) || locals.has(cols[COL_LOCAL]!)) drops += Number(cols[COL_DROPS]) || 0;
    }
  }
  return drops;
}

/**
 * How /proc/net/udp{,6} writes a local address: the address as 32-bit words in host byte order (so each
 * 4-byte group reversed on little-endian machines), in upper-case hex, then ':' and the port in hex.
 */
export function procLocalAddress(host: string, port: number): string {
  const bytes = isIPv6(host) ? ipv6Bytes(host) : rdataA(host);
  let hex = '';
  for (let i = 0; i < bytes.length; i += 4) {
    const word = bytes.subarray(i, i + 4);
    const ordered = LITTLE_ENDIAN ? Buffer.from(word).reverse() : word;
    hex += ordered.toString('hex');
  }
  return `${hex.toUpperCase()}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
