// Wire constants (RFC 1035, 2671/6891, 3597, 8482). Plain numbers, no enums: these are read on the
// packet path, and a const number inlines where an enum lookup does not.

export const HEADER_SIZE = 12;
export const MAX_NAME_WIRE = 255;
export const MAX_LABEL = 63;

// Header flag bits (second 16-bit word of the header).
export const FLAG_QR = 0x8000;
export const FLAG_AA = 0x0400;
export const FLAG_TC = 0x0200;
export const FLAG_RD = 0x0100;
export const FLAG_RA = 0x0080;
export const FLAG_AD = 0x0020;
export const FLAG_CD = 0x0010;
export const OPCODE_MASK = 0x7800;
export const OPCODE_SHIFT = 11;
export const RCODE_MASK = 0x000f;

export const OPCODE_QUERY = 0;
export const OPCODE_UPDATE = 5;

export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;
export const RCODE_REFUSED = 5;
// RFC 2136 (UPDATE) and RFC 8945 (TSIG) rcodes.
export const RCODE_YXDOMAIN = 6;
export const RCODE_YXRRSET = 7;
export const RCODE_NXRRSET = 8;
export const RCODE_NOTAUTH = 9;
export const RCODE_NOTZONE = 10;
export const TSIG_BADSIG = 16;
export const TSIG_BADKEY = 17;
export const TSIG_BADTIME = 18;
export const RCODE_BADVERS = 16; // extended: upper 8 bits travel in the OPT TTL

export const CLASS_IN = 1;
export const CLASS_CH = 3;
export const CLASS_HS = 4;
export const CLASS_NONE = 254;
export const CLASS_ANY = 255;

export const TYPE_A = 1;
export const TYPE_NS = 2;
export const TYPE_CNAME = 5;
export const TYPE_SOA = 6;
export const TYPE_PTR = 12;
export const TYPE_HINFO = 13;
export const TYPE_MX = 15;
export const TYPE_TXT = 16;
export const TYPE_AAAA = 28;
export const TYPE_SRV = 33;
export const TYPE_DNAME = 39;
export const TYPE_OPT = 41;
export const TYPE_DS = 43;
export const TYPE_RRSIG = 46;
export const TYPE_NSEC = 47;
export const TYPE_DNSKEY = 48;
export const TYPE_SVCB = 64;
export const TYPE_HTTPS = 65;
export const TYPE_IXFR = 251;
export const TYPE_AXFR = 252;
export const TYPE_MAILB = 253;
export const TYPE_MAILA = 254;
export const TYPE_ANY = 255;
export const TYPE_TSIG = 250;
export const TYPE_CAA = 257;

// EDNS(0)
export const EDNS_ADVERTISED_UDP = 1232; // DNS flag day 2020 default
export const EDNS_DO = 0x8000; // DNSSEC OK bit in the OPT TTL's low 16 bits
export const MIN_UDP_PAYLOAD = 512;

/** Types this server knows by name; anything else is TYPEnnn (RFC 3597). */
export const TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 13: 'HINFO', 15: 'MX', 16: 'TXT', 28: 'AAAA',
  33: 'SRV', 39: 'DNAME', 41: 'OPT', 43: 'DS', 46: 'RRSIG', 47: 'NSEC', 48: 'DNSKEY', 64: 'SVCB',
  65: 'HTTPS', 251: 'IXFR', 252: 'AXFR', 253: 'MAILB', 254: 'MAILA', 255: 'ANY', 257: 'CAA',
};

export const TYPE_BY_NAME: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(TYPE_NAMES).map(([code, name]) => [name, Number(code)]),
);

export const CLASS_NAMES: Readonly<Record<number, string>> = { 1: 'IN', 3: 'CH', 4: 'HS', 254: 'NONE', 255: 'ANY' };
export const CLASS_BY_NAME: Readonly<Record<string, number>> = { IN: 1, CH: 3, CS: 2, HS: 4, NONE: 254, ANY: 255 };

export const RCODE_NAMES: Readonly<Record<number, string>> = {
  0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 16: 'BADVERS',
};

export function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `TYPE${type}`;
}

export function className(cls: number): string {
  return CLASS_NAMES[cls] ?? `CLASS${cls}`;
}

/** Parses a type mnemonic or RFC 3597 TYPEnnn; returns -1 when it is neither. */
export function parseTypeName(text: string): number {
  const upper = text.toUpperCase();
  const known = TYPE_BY_NAME[upper];
  if (known !== undefined) return known;
  const m = /^TYPE(\d{1,5})$/.exec(upper);
  if (m) {
    const n = Number(m[1]);
    if (n <= 0xffff) return n;
  }
  return -1;
}

/** Parses a class mnemonic or RFC 3597 CLASSnnn; returns -1 when it is neither. */
export function parseClassName(text: string): number {
  const upper = text.toUpperCase();
  const known = CLASS_BY_NAME[upper];
  if (known !== undefined) return known;
  const m = /^CLASS(\d{1,5})$/.exec(upper);
  if (m) {
    const n = Number(m[1]);
    if (n <= 0xffff) return n;
  }
  return -1;
}
