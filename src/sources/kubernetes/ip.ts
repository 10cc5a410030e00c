// IP text helpers for the naming rules. Kubernetes objects carry IPs as text in whatever spelling the
// writer chose; DNS names derived from them (dashed endpoint names, pod names) and the dedup of
// records across EndpointSlices need one canonical spelling per address.

import { isIPv4, isIPv6 } from 'node:net';

export type IpFamily = 4 | 6;

export interface CanonicalIp {
  ip: string; // IPv4 dotted quad without leading zeros, or RFC 5952 compressed lower-case IPv6
  family: IpFamily;
}

/** Canonical spelling of an IP, or null when the text is not a plain IPv4/IPv6 address (zones refused). */
export function canonicalIp(text: unknown): CanonicalIp | null {
  if (typeof text !== 'string') return null;
  if (isIPv4(text)) {
    // node:net rejects leading zeros already, so the text is canonical as it stands.
    return { ip: text, family: 4 };
  }
  if (isIPv6(text) && !text.includes('%')) {
    // The WHATWG URL host serializer implements RFC 5952 compression (longest zero run, lower case).
    const host = new URL(`http://[${text}]/`).hostname;
    return { ip: host.slice(1, -1), family: 6 };
  }
  return null;
}

/**
 * The "system-assigned" endpoint label CoreDNS uses: dots or colons become dashes, and a leading or
 * trailing "::" gets a 0 so the label neither starts nor ends with '-' ("fd00::" → "fd00--0").
 * Input must be canonical (see canonicalIp).
 */
export function dashedIp(ip: string): string {
  let label = ip.replace(/[.:]/g, '-');
  if (label.startsWith('-')) label = '0' + label;
  if (label.endsWith('-')) label += '0';
  return label;
}

/**
 * Inverse of dashedIp for pod names: "10-1-2-3" → 10.1.2.3, "fd00--1" → fd00::1; null when not an IP.
 * CoreDNS's rule: exactly three dashes and no "--" is IPv4, anything else IPv6, and the text is
 * taken as it is: "010-244-1-10" is no IPv4 address (Go's net.ParseIP and Node's isIPv4 both refuse
 * a leading zero, which some parsers read as octal), so that pod name is NXDOMAIN, not 10.244.1.10.
 */
export function undashIp(label: string): CanonicalIp | null {
  if (!/^[0-9a-f-]+$/i.test(label)) return null;
  if (label.split('-').length === 4 && !label.includes('--')) {
    const ip = canonicalIp(label.replace(/-/g, '.'));
    return ip?.family === 4 ? ip : null;
  }
  return canonicalIp(label.replace(/-/g, ':'));
}
