// RDATA in presentation form (RFC 1035 §5.1, RFC 3597 §5 for types we cannot spell) to and from wire
// form. The zone-file parser hands us tokens whose escapes are still in place; each field decodes them
// its own way (a name keeps "\." inside a label, a character-string turns "\065" into a byte). Wire
// bytes come from the structured encoders in rdata.ts, so every source builds identical records.

import { RdataError } from '../errors.js';
import {
  TYPE_A, TYPE_AAAA, TYPE_CAA, TYPE_CNAME, TYPE_DNAME, TYPE_DS, TYPE_HINFO, TYPE_MX, TYPE_NS, TYPE_PTR, TYPE_SOA,
  TYPE_SRV, TYPE_TXT, typeName,
} from './constants.js';
import { keyToWire, nameToKey, wireToKey } from './name.js';
import { rdataA, rdataAAAA, rdataCaa, rdataMx, rdataName, rdataSoa, rdataSrv, rdataTxt } from './rdata.js';

/** One presentation token: `text` keeps its backslash escapes; quotes are stripped and noted. */
export interface Token {
  text: string;
  quoted: boolean;
  line: number; // physical line, so an error in a record spread over "( ... )" points at the right one
}

/** An RdataError that knows which line of the input the offending token came from. */
export class RdataTextError extends RdataError {
  readonly line: number | null;
  constructor(message: string, line: number | null) {
    super(message);
    this.line = line;
  }
}

const MAX_RDATA = 0xffff;
const MAX_CHAR_STRING = 255;
const GENERIC_MARK = '\\#';

/** Walks the tokens of one record's RDATA; every read says what it expected, for the error. */
class Fields {
  private i = 0;
  constructor(private readonly tokens: Token[], private readonly lastLine: number | null) {}

  next(what: string): Token {
    const tok = this.tokens[this.i];
    if (tok === undefined) throw new RdataTextError(`expected ${what}, got the end of the record`, this.lastLine);
    this.i++;
    return tok;
  }

  hasMore(): boolean {
    return this.i < this.tokens.length;
  }

  rest(): Token[] {
    const out = this.tokens.slice(this.i);
    this.i = this.tokens.length;
    return out;
  }

  end(type: number): void {
    const tok = this.tokens[this.i];
    if (tok !== undefined) {
      throw new RdataTextError(`expected the end of the ${typeName(type)} record, got '${tok.text}'`, tok.line);
    }
  }
}

function fail(tok: Token, what: string, why?: string): never {
  const shown = tok.quoted ? `"${tok.text}"` : `'${tok.text}'`;
  throw new RdataTextError(`expected ${what}, got ${shown}${why ? ` (${why})` : ''}`, tok.line);
}

/** Unsigned decimal of at most `bits` bits, for the fixed-width numeric fields. */
export function parseUint(tok: Token, bits: 8 | 16 | 32, what: string): number {
  if (tok.quoted || !/^\d{1,10}$/.test(tok.text)) fail(tok, what);
  const value = Number(tok.text);
  if (value > 2 ** bits - 1) fail(tok, what, `more than ${2 ** bits - 1}`);
  return value;
}

/**
 * A BIND-style duration: plain seconds or units ("1h30m", "2W", "1w2d3h4m5s"). Returns null when the
 * text is not spelled like one (the record parser uses that to tell a TTL from a class or type), and
 * throws when it is but does not fit in 32 bits.
 */
export function parseDuration(text: string): number | null {
  let total: number;
  if (/^\d+$/.test(text)) {
    total = Number(text);
  } else {
    if (!/^(\d+[wdhms])+$/i.test(text)) return null;
    total = 0;
    for (const [, digits, unit] of text.matchAll(/(\d+)([wdhms])/gi)) {
      total += Number(digits) * UNIT_SECONDS[unit!.toLowerCase()]!;
    }
  }
  if (total > 0xffffffff) throw new RdataError(`duration '${text}' does not fit in 32 bits`);
  return total;
}

const UNIT_SECONDS: Readonly<Record<string, number>> = { w: 604800, d: 86400, h: 3600, m: 60, s: 1 };

function durationField(tok: Token, what: string): number {
  if (tok.quoted) fail(tok, what);
  let value: number | null;
  try {
    value = parseDuration(tok.text);
  } catch {
    value = null;
  }
  if (value === null) fail(tok, what);
  return value;
}

/**
 * A name field: absolute, relative to `origin`, or "@". Bytes a key cannot hold raw (controls, 8-bit
 * text read from a file) are turned into \DDD first, because BIND accepts them unescaped in names.
 */
export function parseNameToken(tok: Token, origin: string | undefined, what = 'a domain name'): string {
  if (tok.quoted) fail(tok, what);
  let text = tok.text;
  if (/[^\x21-\x7e]/.test(text)) {
    let escaped = '';
    for (const b of textBytes(text)) {
      escaped += b > 0x20 && b < 0x7f ? String.fromCharCode(b) : '\\' + String(b).padStart(3, '0');
    }
    text = escaped;
  }
  try {
    return nameToKey(text, origin);
  } catch (e) {
    fail(tok, what, (e as Error).message);
  }
}

/**
 * The bytes of text read from a file: the file is read as latin1 so that each character is one byte of
 * the file; characters above 0xff only arrive from callers passing JS strings, and become UTF-8.
 */
function textBytes(text: string): Buffer {
  return /[^\x00-\xff]/.test(text) ? Buffer.from(text, 'utf8') : Buffer.from(text, 'latin1');
}

/** A <character-string> token with its escapes (\" \\ \DDD \X) resolved to bytes. */
export function parseCharString(tok: Token, what = 'a character-string', limit = MAX_CHAR_STRING): Buffer {
  const raw = textBytes(tok.text);
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b !== 0x5c) {
      out.push(b);
      continue;
    }
    const d = raw.subarray(i + 1, i + 4);
    if (d.length === 3 && d.every((x) => x >= 0x30 && x <= 0x39)) {
      const value = Number(d.toString('latin1'));
      if (value > 255) fail(tok, what, `escape \\${value} is more than 255`);
      out.push(value);
      i += 3;
    } else if (d.length > 0 && d[0]! >= 0x30 && d[0]! <= 0x39) {
      fail(tok, what, 'a \\DDD escape needs three digits');
    } else if (d.length > 0) {
      out.push(d[0]!);
      i += 1;
    } else {
      fail(tok, what, "nothing after '\\'");
    }
  }
  if (out.length > limit) fail(tok, what, `${out.length} bytes, at most ${limit}`);
  return Buffer.from(out);
}

function ipv4(tok: Token): Buffer {
  try {
    if (tok.quoted) throw new RdataError('quoted');
    return rdataA(tok.text);
  } catch {
    fail(tok, 'an IPv4 address');
  }
}

function ipv6(tok: Token): Buffer {
  try {
    if (tok.quoted) throw new RdataError('quoted');
    return rdataAAAA(tok.text);
  } catch {
    fail(tok, 'an IPv6 address');
  }
}

type TextParser = (f: Fields, origin: string | undefined) => Buffer;

// Field readers: each names what it expects once, for both the end-of-record and the bad-token error.
const name = (f: Fields, o: string | undefined, what: string): string => parseNameToken(f.next(what), o, what);
const uint = (f: Fields, bits: 8 | 16 | 32, what: string): number => parseUint(f.next(what), bits, what);
const duration = (f: Fields, what: string): number => durationField(f.next(what), what);
const charString = (f: Fields, what: string): Buffer => parseCharString(f.next(what), what);

// RFC 4034 Appendix A.1 (and RFC 8624) algorithm mnemonics, which BIND accepts in DS records.
const DNSSEC_ALGORITHMS: Readonly<Record<string, number>> = {
  RSAMD5: 1, DH: 2, DSA: 3, RSASHA1: 5, 'DSA-NSEC3-SHA1': 6, 'RSASHA1-NSEC3-SHA1': 7, RSASHA256: 8,
  RSASHA512: 10, 'ECC-GOST': 12, ECDSAP256SHA256: 13, ECDSAP384SHA384: 14, ED25519: 15, ED448: 16,
};

// Digest sizes of the DS digest types whose size is fixed (RFC 4034, 4509, 5933, 6605).
const DS_DIGEST_BYTES: Readonly<Record<number, number>> = { 1: 20, 2: 32, 3: 32, 4: 48 };

/** Hex split over any number of tokens, at least one (DS digests). */
function hexTokens(f: Fields, what: string): Buffer {
  let hex = '';
  const first = f.next(what);
  for (const tok of [first, ...f.rest()]) {
    if (tok.quoted || !/^[0-9a-fA-F]+$/.test(tok.text)) fail(tok, what);
    hex += tok.text;
  }
  if (hex.length % 2 !== 0) throw new RdataTextError(`expected an even number of hex digits, got ${hex.length}`, first.line);
  return Buffer.from(hex, 'hex');
}

function parseDs(f: Fields): Buffer {
  const keyTag = uint(f, 16, 'a 16-bit DS key tag');
  const algTok = f.next('a DNSSEC algorithm');
  const algorithm = DNSSEC_ALGORITHMS[algTok.text.toUpperCase()] ?? parseUint(algTok, 8, 'a DNSSEC algorithm');
  const digestTypeTok = f.next('a DS digest type');
  const digestType = parseUint(digestTypeTok, 8, 'a DS digest type');
  const digest = hexTokens(f, 'a hexadecimal DS digest');
  const size = DS_DIGEST_BYTES[digestType];
  if (size !== undefined && digest.length !== size) {
    throw new RdataTextError(`expected a ${size}-byte digest for DS digest type ${digestType}, got ${digest.length} bytes`,
      digestTypeTok.line);
  }
  const out = Buffer.allocUnsafe(4 + digest.length);
  out.writeUInt16BE(keyTag, 0);
  out[2] = algorithm;
  out[3] = digestType;
  digest.copy(out, 4);
  return out;
}

/** The types we read and write in their own presentation form; the rest need RFC 3597 "\#". */
const PARSERS: Readonly<Record<number, TextParser>> = {
  [TYPE_A]: (f) => ipv4(f.next('an IPv4 address')),
  [TYPE_AAAA]: (f) => ipv6(f.next('an IPv6 address')),
  [TYPE_NS]: (f, o) => rdataName(name(f, o, 'a name server name')),
  [TYPE_CNAME]: (f, o) => rdataName(name(f, o, 'a canonical name')),
  [TYPE_DNAME]: (f, o) => rdataName(name(f, o, 'a target name')),
  [TYPE_PTR]: (f, o) => rdataName(name(f, o, 'a pointer target name')),
  [TYPE_SOA]: (f, o) => rdataSoa({
    mname: name(f, o, 'the primary name server (SOA MNAME)'),
    rname: name(f, o, 'the mailbox name (SOA RNAME)'),
    serial: uint(f, 32, 'a 32-bit SOA serial'),
    refresh: duration(f, 'an SOA refresh time'),
    retry: duration(f, 'an SOA retry time'),
    expire: duration(f, 'an SOA expire time'),
    minimum: duration(f, 'an SOA minimum TTL'),
  }),
  [TYPE_MX]: (f, o) => {
    const preference = uint(f, 16, 'a 16-bit MX preference');
    return rdataMx(preference, name(f, o, 'a mail exchange name'));
  },
  [TYPE_SRV]: (f, o) => {
    const priority = uint(f, 16, 'a 16-bit SRV priority');
    const weight = uint(f, 16, 'a 16-bit SRV weight');
    const port = uint(f, 16, 'a 16-bit SRV port');
    return rdataSrv(priority, weight, port, name(f, o, 'an SRV target name'));
  },
  [TYPE_TXT]: (f) => {
    const strings = [charString(f, 'a TXT character-string')];
    while (f.hasMore()) strings.push(charString(f, 'a TXT character-string'));
    return rdataTxt(strings);
  },
  [TYPE_HINFO]: (f) => {
    // HINFO is two <character-string>s, the same wire layout as a two-string TXT.
    const cpu = charString(f, 'an HINFO CPU string');
    return rdataTxt([cpu, charString(f, 'an HINFO OS string')]);
  },
  [TYPE_DS]: parseDs,
  [TYPE_CAA]: (f) => {
    // RFC 8659 §4.1.1: flags, an alphanumeric tag, and a value that is one token, quoted or not,
    // with no 255-byte limit (it runs to the end of the RDATA).
    const flags = uint(f, 8, '8-bit CAA flags');
    const tagTok = f.next('a CAA tag');
    if (tagTok.quoted || !/^[A-Za-z0-9]+$/.test(tagTok.text)) fail(tagTok, 'a CAA tag', 'letters and digits only');
    const value = parseCharString(f.next('a CAA value'), 'a CAA value', MAX_RDATA);
    return rdataCaa(flags, tagTok.text, value);
  },
};

/** RFC 3597 §5: "\# <length> <hex...>", the hex possibly split over several tokens. */
function parseGeneric(f: Fields): Buffer {
  const lenTok = f.next('the RDATA length after \\#');
  const length = parseUint(lenTok, 16, 'the RDATA length after \\#');
  let hex = '';
  for (const tok of f.rest()) {
    if (tok.quoted || !/^[0-9a-fA-F]+$/.test(tok.text)) fail(tok, 'hexadecimal RDATA');
    hex += tok.text;
  }
  if (hex.length % 2 !== 0) {
    throw new RdataTextError(`expected an even number of hex digits, got ${hex.length}`, lenTok.line);
  }
  if (hex.length / 2 !== length) {
    throw new RdataTextError(`expected ${length} bytes of RDATA as \\# says, got ${hex.length / 2}`, lenTok.line);
  }
  return Buffer.from(hex, 'hex');
}

/**
 * Presentation tokens of one record's RDATA → uncompressed wire RDATA. Relative names are completed with
 * `origin` (a key; undefined makes them an error). Throws RdataTextError naming what was expected and the line of the bad token.
 */
export function parseRdata(type: number, tokens: Token[], origin: string | undefined): Buffer {
  const lastLine = tokens.length > 0 ? tokens[tokens.length - 1]!.line : null;
  const f = new Fields(tokens, lastLine);
  const first = tokens[0];
  const parser = PARSERS[type];
  let rdata: Buffer;
  if (first !== undefined && !first.quoted && first.text === GENERIC_MARK) {
    f.next('\\#');
    rdata = parseGeneric(f);
    // A known type given generically must still be well formed, or the answer we serve is garbage.
    if (parser !== undefined && formatKnown(type, rdata) === null) {
      throw new RdataTextError(`expected valid ${typeName(type)} RDATA after \\#`, first.line);
    }
  } else if (parser === undefined) {
    throw new RdataTextError(
      `expected RFC 3597 generic RDATA ('\\# <length> <hex>') for type ${typeName(type)}`, first?.line ?? null);
  } else {
    try {
      rdata = parser(f, origin);
    } catch (e) {
      if (e instanceof RdataTextError || !(e instanceof RdataError)) throw e;
      // An encoder's own check (e.g. TXT with no string): point at the record.
      throw new RdataTextError(e.message, first?.line ?? lastLine);
    }
    f.end(type);
  }
  if (rdata.length > MAX_RDATA) {
    throw new RdataTextError(`expected at most ${MAX_RDATA} bytes of RDATA, got ${rdata.length}`, first?.line ?? null);
  }
  return rdata;
}

// ---- wire → presentation ----

/** A <character-string> quoted the way BIND prints it: printable ASCII as is, the rest as \DDD. */
export function quoteCharString(bytes: Uint8Array): string {
  let out = '"';
  for (const b of bytes) {
    if (b === 0x22 || b === 0x5c) out += '\\' + String.fromCharCode(b);
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += '\\' + String(b).padStart(3, '0');
  }
  return out + '"';
}

/** Reads an uncompressed name at `offset`; null when it is malformed or uses compression. */
function nameAt(rdata: Buffer, offset: number): { key: string; end: number } | null {
  try {
    const r = wireToKey(rdata, offset);
    // A pointer would make the name shorter on the wire than its own spelling; RDATA here is uncompressed.
    return keyToWire(r.key).length === r.end - offset ? r : null;
  } catch {
    return null;
  }
}

function charStringsAt(rdata: Buffer, offset: number): string[] | null {
  const out: string[] = [];
  let o = offset;
  while (o < rdata.length) {
    const len = rdata[o]!;
    if (o + 1 + len > rdata.length) return null;
    out.push(quoteCharString(rdata.subarray(o + 1, o + 1 + len)));
    o += 1 + len;
  }
  return out;
}

/** Presentation form of a type we know, or null when the type is not ours or the bytes are malformed. */
/** Presentation form of RDATA of a type we spell, or null when it is not well formed (or not such a type). */
export function formatKnown(type: number, rdata: Buffer): string | null {
  switch (type) {
    case TYPE_A:
      return rdata.length === 4 ? rdata.join('.') : null;
    case TYPE_AAAA: {
      if (rdata.length !== 16) return null;
      const groups: string[] = [];
      for (let i = 0; i < 16; i += 2) groups.push(rdata.readUInt16BE(i).toString(16));
      // The URL host serializer applies RFC 5952 compression (longest zero run, lower case).
      return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
    }
    case TYPE_NS:
    case TYPE_CNAME:
    case TYPE_DNAME:
    case TYPE_PTR: {
      const n = nameAt(rdata, 0);
      return n !== null && n.end === rdata.length ? n.key : null;
    }
    case TYPE_SOA: {
      const m = nameAt(rdata, 0);
      const r = m && nameAt(rdata, m.end);
      if (m === null || r === null || r.end + 20 !== rdata.length) return null;
      const nums: number[] = [];
      for (let i = 0; i < 5; i++) nums.push(rdata.readUInt32BE(r.end + 4 * i));
      return `${m.key} ${r.key} ${nums.join(' ')}`;
    }
    case TYPE_MX: {
      const n = rdata.length > 2 ? nameAt(rdata, 2) : null;
      return n !== null && n.end === rdata.length ? `${rdata.readUInt16BE(0)} ${n.key}` : null;
    }
    case TYPE_SRV: {
      const n = rdata.length > 6 ? nameAt(rdata, 6) : null;
      if (n === null || n.end !== rdata.length) return null;
      return `${rdata.readUInt16BE(0)} ${rdata.readUInt16BE(2)} ${rdata.readUInt16BE(4)} ${n.key}`;
    }
    case TYPE_TXT: {
      const s = charStringsAt(rdata, 0);
      return s !== null && s.length > 0 ? s.join(' ') : null;
    }
    case TYPE_HINFO: {
      const s = charStringsAt(rdata, 0);
      return s !== null && s.length === 2 ? s.join(' ') : null;
    }
    case TYPE_DS:
      if (rdata.length < 5) return null;
      return `${rdata.readUInt16BE(0)} ${rdata[2]} ${rdata[3]} ${rdata.subarray(4).toString('hex').toUpperCase()}`;
    case TYPE_CAA: {
      if (rdata.length < 2) return null;
      const tagLen = rdata[1]!;
      if (tagLen === 0 || 2 + tagLen > rdata.length) return null;
      const tag = rdata.subarray(2, 2 + tagLen).toString('latin1');
      if (!/^[A-Za-z0-9]+$/.test(tag)) return null;
      return `${rdata[0]} ${tag} ${quoteCharString(rdata.subarray(2 + tagLen))}`;
    }
    default:
      return null;
  }
}

/** RFC 3597 §5 generic form, hex in upper case as BIND prints it. */
export function formatGeneric(rdata: Buffer): string {
  return rdata.length === 0 ? '\\# 0' : `\\# ${rdata.length} ${rdata.toString('hex').toUpperCase()}`;
}

/** Wire RDATA → presentation text, for logs and tests; unknown types and malformed bytes as RFC 3597. */
export function formatRdata(type: number, rdata: Buffer): string {
  return formatKnown(type, rdata) ?? formatGeneric(rdata);
}
