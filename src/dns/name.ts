// Domain names on the cold path. A name travels between modules as a *key*: the lower-cased presentation
// form of the absolute name with a trailing dot, one spelling per name (RFC 1035 §5.1 escapes, normalised),
// so Map lookups compare names. The packet path never builds keys; it hashes wire bytes instead.

import { NameError } from '../errors.js';
import { MAX_LABEL, MAX_NAME_WIRE } from './constants.js';

export { NameError };

const MAX_POINTER_HOPS = 127;

/** True for bytes that appear unescaped in a key. */
function isPlainByte(b: number): boolean {
  return (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x5f || b === 0x2a ||
    (b >= 0x41 && b <= 0x5a);
}

function escapeByte(b: number): string {
  if (b >= 0x41 && b <= 0x5a) return String.fromCharCode(b + 32);
  if (isPlainByte(b)) return String.fromCharCode(b);
  // Printable specials keep a readable single-character escape; the rest use \DDD.
  if (b > 0x20 && b < 0x7f) return '\\' + String.fromCharCode(b);
  return '\\' + String(b).padStart(3, '0');
}

/** Escaped key text for one label given as raw bytes. */
export function labelToText(bytes: Uint8Array, start: number, end: number): string {
  let out = '';
  for (let i = start; i < end; i++) out += escapeByte(bytes[i]!);
  return out;
}

/**
 * Splits presentation text into raw label byte arrays, resolving escapes. Returns the labels and whether the
 * text was absolute (ended in an unescaped dot).
 */
function textToLabels(text: string): { labels: number[][]; absolute: boolean } {
  if (text === '.') return { labels: [], absolute: true };
  if (text.length === 0) throw new NameError('empty name');
  const labels: number[][] = [];
  let current: number[] = [];
  let absolute = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x2e /* . */) {
      if (current.length === 0) throw new NameError(`empty label in '${text}'`);
      labels.push(current);
      current = [];
      if (i === text.length - 1) absolute = true;
      continue;
    }
    if (ch === 0x5c /* \ */) {
      const next = text.charCodeAt(i + 1);
      if (Number.isNaN(next)) throw new NameError(`dangling escape in '${text}'`);
      if (next >= 0x30 && next <= 0x39) {
        const digits = text.slice(i + 1, i + 4);
        if (!/^\d{3}$/.test(digits)) throw new NameError(`bad \\DDD escape in '${text}'`);
        const value = Number(digits);
        if (value > 255) throw new NameError(`escape \\${digits} out of range in '${text}'`);
        current.push(value);
        i += 3;
      } else {
        current.push(next);
        i += 1;
      }
      continue;
    }
    if (ch > 0x7e || ch < 0x21) throw new NameError(`character '${text[i]}' must be escaped in '${text}'`);
    current.push(ch);
  }
  if (current.length > 0) labels.push(current);
  return { labels, absolute };
}

function labelsToKey(labels: number[][]): string {
  if (labels.length === 0) return '.';
  let key = '';
  let wire = 1;
  for (const label of labels) {
    if (label.length > MAX_LABEL) throw new NameError(`label longer than ${MAX_LABEL} bytes`);
    wire += label.length + 1;
    key += labelToText(Uint8Array.from(label), 0, label.length) + '.';
  }
  if (wire > MAX_NAME_WIRE) throw new NameError(`name longer than ${MAX_NAME_WIRE} bytes`);
  return key;
}

/**
 * Presentation name → key. Absolute when it ends with '.', otherwise relative to `origin` (a key); '@' is the
 * origin itself.
 */
export function nameToKey(text: string, origin?: string): string {
  if (text === '@') {
    if (origin === undefined) throw new NameError("'@' used without an origin");
    return origin;
  }
  const { labels, absolute } = textToLabels(text);
  if (absolute) return labelsToKey(labels);
  if (origin === undefined) throw new NameError(`relative name '${text}' without an origin`);
  const relative = labelsToKey(labels); // ends with '.', so the origin appends directly
  const full = origin === '.' ? relative : relative + origin;
  // Re-validate the combined length.
  return labelsToKey(textToLabels(full).labels);
}

/** Key → uncompressed wire form. */
export function keyToWire(key: string): Buffer {
  return plainKeyToWire(key) ?? escapedKeyToWire(key);
}

/**
 * The wire form of an absolute key without escapes, written straight into its buffer: the wire is the
 * text shifted one byte right, with the length of each label where the dot before it would be, and the
 * root byte where the last dot was. Null for anything else (escapes, empty labels, a relative key), which
 * the general path handles. A cluster sync turns ~10^5 names into RDATA; this skips their label arrays.
 */
function plainKeyToWire(key: string): Buffer | null {
  const n = key.length;
  if (n < 2 || key.charCodeAt(n - 1) !== 0x2e) return null;
  const out = Buffer.allocUnsafe(n + 1);
  let lengthAt = 0; // where the current label's length byte goes
  for (let i = 0; i < n; i++) {
    const ch = key.charCodeAt(i);
    if (ch === 0x2e) {
      const length = i - lengthAt;
      if (length === 0) return null;
      out[lengthAt] = length;
      lengthAt = i + 1;
      continue;
    }
    if (ch > 0x7e || ch < 0x21 || ch === 0x5c) return null;
    out[i + 1] = ch;
  }
  out[n] = 0;
  return out;
}

function escapedKeyToWire(key: string): Buffer {
  const { labels } = textToLabels(key);
  let size = 1;
  for (const l of labels) size += l.length + 1;
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (const l of labels) {
    out[o++] = l.length;
    for (const b of l) out[o++] = b;
  }
  out[o] = 0;
  return out;
}

/** Reads a possibly compressed wire name; `end` is the offset just past the name where it started. */
export function wireToKey(buf: Uint8Array, offset: number): { key: string; end: number } {
  let key = '';
  let pos = offset;
  let end = -1;
  let hops = 0;
  let wire = 1;
  for (;;) {
    if (pos >= buf.length) throw new NameError('name runs past the end of the message');
    const len = buf[pos]!;
    if (len === 0) {
      if (end < 0) end = pos + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) throw new NameError('truncated compression pointer');
      if (++hops > MAX_POINTER_HOPS) throw new NameError('compression pointer loop');
      if (end < 0) end = pos + 2;
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (target >= pos) throw new NameError('forward compression pointer');
      pos = target;
      continue;
    }
    if (kind !== 0) throw new NameError('unsupported label type');
    if (pos + 1 + len > buf.length) throw new NameError('label runs past the end of the message');
    wire += len + 1;
    if (wire > MAX_NAME_WIRE) throw new NameError(`name longer than ${MAX_NAME_WIRE} bytes`);
    key += labelToText(buf, pos + 1, pos + 1 + len) + '.';
    pos += 1 + len;
  }
  return { key: key === '' ? '.' : key, end };
}

/** Escaped labels of a key, left to right; the root has none. */
export function labelsOf(key: string): string[] {
  if (key === '.') return [];
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < key.length; i++) {
    const ch = key.charCodeAt(i);
    if (ch === 0x5c) {
      i += /\d/.test(key[i + 1] ?? '') ? 3 : 1;
      continue;
    }
    if (ch === 0x2e) {
      out.push(key.slice(start, i));
      start = i + 1;
    }
  }
  return out;
}

export function labelCount(key: string): number {
  return labelsOf(key).length;
}

/** The key one label up, or null for the root. */
export function parentOf(key: string): string | null {
  if (key === '.') return null;
  const first = labelsOf(key)[0]!;
  const rest = key.slice(first.length + 1);
  return rest === '' ? '.' : rest;
}

/** True when `key` equals `ancestor` or lies below it (label-wise, not string-wise). */
export function isAtOrBelow(key: string, ancestor: string): boolean {
  if (ancestor === '.') return true;
  if (key === ancestor) return true;
  if (!key.endsWith('.' + ancestor)) return false;
  // Guard against an escaped dot right before the suffix: "a\.b.c." is not below "b.c.".
  const cut = key.length - ancestor.length - 1;
  let backslashes = 0;
  for (let i = cut - 1; i >= 0 && key.charCodeAt(i) === 0x5c; i--) backslashes++;
  return backslashes % 2 === 0;
}

export function wildcardOf(parentKey: string): string {
  return parentKey === '.' ? '*.' : '*.' + parentKey;
}
