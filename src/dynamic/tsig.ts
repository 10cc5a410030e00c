// TSIG (RFC 8945): HMAC-signed DNS messages with shared keys, as `nsupdate -y` and bind9 use them.
// verifyTsig checks a request; signTsig appends a TSIG to a response (signed over the request's MAC, so
// the client knows the answer is ours); an error that must not be signed (BADKEY, BADSIG) gets an
// empty-MAC TSIG as §5.3.2 says.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { CLASS_ANY, TSIG_BADKEY, TSIG_BADSIG, TSIG_BADTIME, TYPE_TSIG } from '../dns/constants.js';
import { keyToWire, nameToKey, wireToKey } from '../dns/name.js';
import type { UpdateMessage, WireRr } from './update-message.js';

/** Algorithm name (key form) → node:crypto digest. */
const ALGORITHMS: Readonly<Record<string, string>> = {
  'hmac-md5.sig-alg.reg.int.': 'md5',
  'hmac-sha1.': 'sha1',
  'hmac-sha224.': 'sha224',
  'hmac-sha256.': 'sha256',
  'hmac-sha384.': 'sha384',
  'hmac-sha512.': 'sha512',
};
/** Seconds of clock difference a signature may show (the value bind9 and nsupdate use). */
const FUDGE = 300;

export interface TsigKey {
  name: string;
  algorithm: string;
  secret: Buffer;
}

/** `NAME:ALGORITHM:BASE64SECRET` (e.g. `ddns-key:hmac-sha256:c2VjcmV0...`) → a key; throws Error saying what was expected. */
export function parseTsigKey(text: string): TsigKey {
  const parts = text.split(':');
  if (parts.length !== 3) throw new Error(`expected NAME:ALGORITHM:BASE64SECRET, got '${text}'`);
  const [nameText, algText, secretText] = parts as [string, string, string];
  const name = nameToKey(nameText.endsWith('.') ? nameText : `${nameText}.`);
  const lower = algText.toLowerCase();
  const algorithm = Object.keys(ALGORITHMS).find((a) => a === `${lower}.` || a === lower || (lower === 'hmac-md5' && a.startsWith('hmac-md5.')));
  if (algorithm === undefined) {
    throw new Error(`expected an algorithm of ${Object.keys(ALGORITHMS).map((a) => a.split('.')[0]).join(', ')}, got '${algText}'`);
  }
  const secret = Buffer.from(secretText, 'base64');
  if (secret.length === 0 || secret.toString('base64').replace(/=+$/, '') !== secretText.replace(/=+$/, '')) {
    throw new Error(`expected the secret in base64, got '${secretText}'`);
  }
  return { name, algorithm, secret };
}

/** A request's TSIG as sent. */
export interface TsigFields {
  keyName: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
}

export type TsigVerdict =
  | { ok: true; key: TsigKey; fields: TsigFields }
  /** error: BADKEY/BADSIG (answer unsigned) or BADTIME (answer signed with `key`). */
  | { ok: false; error: number; key: TsigKey | null; fields: TsigFields };

/** Reads a TSIG record's RDATA; null when it is malformed (FORMERR). */
export function readTsig(rr: WireRr): TsigFields | null {
  try {
    const r = rr.rdata;
    const alg = wireToKey(r, 0);
    let p = alg.end;
    const timeSigned = r.readUIntBE(p, 6);
    const fudge = r.readUInt16BE(p + 6);
    const macSize = r.readUInt16BE(p + 8);
    p += 10;
    const mac = r.subarray(p, p + macSize);
    p += macSize;
    const originalId = r.readUInt16BE(p);
    const error = r.readUInt16BE(p + 2);
    const otherLen = r.readUInt16BE(p + 4);
    const other = r.subarray(p + 6, p + 6 + otherLen);
    if (mac.length !== macSize || other.length !== otherLen || p + 6 + otherLen !== r.length) return null;
    return { keyName: rr.name, algorithm: alg.key, timeSigned, fudge, mac, originalId, error, other };
  } catch {
    return null;
  }
}

/** Checks the request's signature against `keys` at `nowSeconds` (RFC 8945 §5.2). */
export function verifyTsig(msg: Buffer, update: UpdateMessage, fields: TsigFields, keys: readonly TsigKey[], nowSeconds: number): TsigVerdict {
  const key = keys.find((k) => k.name === fields.keyName && k.algorithm === fields.algorithm) ?? null;
  if (key === null) return { ok: false, error: TSIG_BADKEY, key: null, fields };
  // The message as it was before the TSIG was added: TSIG cut off, ARCOUNT one less, the original ID.
  const unsigned = Buffer.from(msg.subarray(0, update.tsig!.start));
  unsigned.writeUInt16BE(fields.originalId, 0);
  unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
  const want = mac(key, [unsigned, variables(key, fields.timeSigned, fields.fudge, fields.error, fields.other)]);
  if (fields.mac.length !== want.length || !timingSafeEqual(fields.mac, want)) return { ok: false, error: TSIG_BADSIG, key: null, fields };
  if (Math.abs(nowSeconds - fields.timeSigned) > fields.fudge) return { ok: false, error: TSIG_BADTIME, key, fields };
  return { ok: true, key, fields };
}

/**
 * `response` with a TSIG appended (ARCOUNT counted). With `key`, signed over the request's MAC and the
 * response (§5.3); without, an empty MAC under the request's key name and algorithm (BADKEY, BADSIG).
 */
export function appendTsig(response: Buffer, request: TsigFields, key: TsigKey | null, error: number, nowSeconds: number): Buffer {
  // BADTIME tells the client our clock (§5.2.3), so it can see the skew.
  const other = error === TSIG_BADTIME ? u48(nowSeconds) : Buffer.alloc(0);
  const keyName = key?.name ?? request.keyName;
  const algorithm = key?.algorithm ?? request.algorithm;
  let signature: Buffer = Buffer.alloc(0);
  if (key !== null) {
    const requestMac = Buffer.concat([u16(request.mac.length), request.mac]);
    signature = mac(key, [requestMac, response, variables(key, nowSeconds, FUDGE, error, other)]);
  }
  const rdata = Buffer.concat([
    keyToWire(algorithm), u48(nowSeconds), u16(FUDGE), u16(signature.length), signature,
    u16(request.originalId), u16(error), u16(other.length), other,
  ]);
  const rr = Buffer.concat([keyToWire(keyName), u16(TYPE_TSIG), u16(CLASS_ANY), Buffer.alloc(4), u16(rdata.length), rdata]);
  const out = Buffer.concat([response, rr]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

/** The TSIG variables of §4.3.3, in canonical (lower-case, uncompressed) form. */
function variables(key: TsigKey, timeSigned: number, fudge: number, error: number, other: Buffer): Buffer {
  return Buffer.concat([
    keyToWire(key.name), u16(CLASS_ANY), Buffer.alloc(4), keyToWire(key.algorithm),
    u48(timeSigned), u16(fudge), u16(error), u16(other.length), other,
  ]);
}

function mac(key: TsigKey, parts: Buffer[]): Buffer {
  const h = createHmac(ALGORITHMS[key.algorithm]!, key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(n, 0, 6);
  return b;
}
