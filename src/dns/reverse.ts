// The PTR owner name of an address (RFC 1035 §3.5 in-addr.arpa, RFC 3596 §2.5 ip6.arpa). Hosts files
// and the Kubernetes source both need it, and must agree byte for byte, so it lives here once.

import { isIPv4 } from 'node:net';
import { rdataA, ipv6Bytes } from './rdata.js';

const HEX = '0123456789abcdef';

/**
 * Key of the reverse-mapping name for an IPv4 or IPv6 address: "4.3.2.1.in-addr.arpa." or the 32-nibble
 * ip6.arpa form (every nibble spelled out, so any spelling of one address gives one key). Throws
 * RdataError for anything that is not a plain address (IPv6 zone indexes included).
 */
export function reverseName(ip: string): string {
  if (isIPv4(ip)) {
    const b = rdataA(ip);
    return `${b[3]}.${b[2]}.${b[1]}.${b[0]}.in-addr.arpa.`;
  }
  const b = ipv6Bytes(ip);
  let key = '';
  for (let i = 15; i >= 0; i--) key += HEX[b[i]! & 0x0f] + '.' + HEX[b[i]! >> 4] + '.';
  return key + 'ip6.arpa.';
}
