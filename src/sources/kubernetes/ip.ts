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

/** Inverse of dashedIp for pod names: "10-1-2-3" → 10.1.2.3, "fd00--1" → fd00::1; null when not an IP. */
export function undashIp(label: string): CanonicalIp | null {
  if (!/^[0-9a-f-]+$/i.test(label)) return null;
  const v4 = label.split('-');
  if (v4.length === 4 && v4.every((p) => /^\d{1,3}$/.test(p))) {
    return canonicalIp(v4.map((p) => String(Number(p))).join('.'));
  }
  return canonicalIp(label.replace(/-/g, ':'));
}
