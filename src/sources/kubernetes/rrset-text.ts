// RRsets as zone-file lines, for tests that read like zone files and for debug logs. Only the types
// the Kubernetes rules produce are decoded; anything else prints as RFC 3597 generic RDATA.

import { TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_NS, TYPE_PTR, TYPE_SOA, TYPE_SRV, TYPE_TXT, typeName } from '../../dns/constants.js';
import { wireToKey } from '../../dns/name.js';
import type { RrSet, RrSetChange } from '../../dns/types.js';

function ipv6Text(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

export function rdataText(type: number, r: Buffer): string {
  switch (type) {
    case TYPE_A: return [...r].join('.');
    case TYPE_AAAA: return ipv6Text(r);
    case TYPE_CNAME: case TYPE_NS: case TYPE_PTR: return wireToKey(r, 0).key;
    case TYPE_SRV: return `${r.readUInt16BE(0)} ${r.readUInt16BE(2)} ${r.readUInt16BE(4)} ${wireToKey(r, 6).key}`;
    case TYPE_TXT: {
      const parts: string[] = [];
      for (let o = 0; o < r.length; o += 1 + r[o]!) parts.push(JSON.stringify(r.subarray(o + 1, o + 1 + r[o]!).toString()));
      return parts.join(' ');
    }
    case TYPE_SOA: {
      const m = wireToKey(r, 0);
      const n = wireToKey(r, m.end);
      const nums = [0, 4, 8, 12, 16].map((d) => r.readUInt32BE(n.end + d));
      return `${m.key} ${n.key} ${nums.join(' ')}`;
    }
    default: return `\\# ${r.length} ${r.toString('hex')}`;
  }
}

/** "name ttl TYPE rdata" per record; a type-0 existence mark prints as "name EXISTS". */
export function rrsetLines(rrset: RrSet): string[] {
  if (rrset.type === 0) return [`${rrset.name} EXISTS`];
  return rrset.rdatas.map((r) => `${rrset.name} ${rrset.ttl} ${typeName(rrset.type)} ${rdataText(rrset.type, r)}`);
}

/** Sorted lines for a list of RRsets: order-free comparison in tests. */
export function rrsetsText(rrsets: readonly RrSet[]): string[] {
  return rrsets.flatMap(rrsetLines).sort();
}

/** "+ line" for upserted records, "- name TYPE" for deleted RRsets, in emission order. */
export function changesText(changes: readonly RrSetChange[]): string[] {
  return changes.flatMap((c) => (c.op === 'upsert'
    ? rrsetLines(c.rrset).map((l) => `+ ${l}`)
    : [`- ${c.name} ${c.type === 0 ? 'EXISTS' : typeName(c.type)}`]));
}
