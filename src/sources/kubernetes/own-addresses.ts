// The server's own addresses, for `ns.dns.<zone>` (see nameServerAddresses in naming.ts): each listen
// address as given, and for a wildcard (0.0.0.0, ::) every non-loopback interface address of that
// family, as CoreDNS's kubernetes plugin takes the interface addresses when it is not bound to one.

import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import type { ListenAddress } from '../../config/types.js';
import { canonicalIp } from './ip.js';

const WILDCARD: Record<string, 'IPv4' | 'IPv6'> = { '0.0.0.0': 'IPv4', '::': 'IPv6' };

export function ownAddresses(
  listen: readonly ListenAddress[],
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): string[] {
  const out = new Set<string>();
  for (const { host } of listen) {
    const family = WILDCARD[host];
    if (family === undefined) {
      const ip = canonicalIp(host);
      if (ip) out.add(ip.ip);
      continue;
    }
    for (const infos of Object.values(interfaces)) {
      for (const info of infos ?? []) {
        // Link-local IPv6 (fe80::/10) needs a zone to be reached: no use as an address record.
        if (info.internal || info.family !== family || /^fe[89ab]/i.test(info.address)) continue;
        const ip = canonicalIp(info.address);
        if (ip) out.add(ip.ip);
      }
    }
  }
  return [...out];
}
