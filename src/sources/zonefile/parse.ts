// RFC 1035 §5 master files → records. Directives ($ORIGIN, $TTL, $INCLUDE), owner inheritance, TTL and
// class in either order, and BIND's TTL defaults, so a file named-checkzone accepts loads the same here.
// Pure apart from reading files; every error is a SourceError naming file, line and what was expected.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SourceError } from '../../errors.js';
import {
  CLASS_IN, TYPE_ANY, TYPE_AXFR, TYPE_IXFR, TYPE_MAILA, TYPE_MAILB, TYPE_OPT, TYPE_SOA, parseClassName,
  parseTypeName, typeName,
} from '../../dns/constants.js';
import { nameToKey } from '../../dns/name.js';
import { soaMinimum } from '../../dns/rdata.js';
import { RdataTextError, parseDuration, parseNameToken, parseRdata, type Token } from '../../dns/rdata-text.js';
import type { Rr } from '../../dns/types.js';
import { checkZone, type LocatedRr } from './check.js';
import { tokenize, type Entry } from './tokenize.js';

export interface ParsedZone {
  origin: string; // key of the zone apex
  records: Rr[]; // names as keys, class IN, in file order
}

export interface ZoneParseOptions {
  file: string; // for errors, and the base of relative $INCLUDE paths
  origin?: string; // presentation name, trailing dot optional; default: the SOA owner
  readFile?: (path: string) => string;
}

/** $INCLUDE nesting limit: deep enough for real layouts, and it stops include cycles. */
export const MAX_INCLUDE_DEPTH = 8;

// A TTL above 2^31-1 means zero (RFC 2181 §8); BIND loads such a zone with a warning, so do we.
const MAX_TTL = 0x7fffffff;

// Query-only types and OPT: they have no meaning as stored data.
const NOT_IN_ZONES = new Set([TYPE_OPT, TYPE_IXFR, TYPE_AXFR, TYPE_MAILB, TYPE_MAILA, TYPE_ANY]);

/** Mutable state while reading one zone; directives change it, $INCLUDE saves and restores part of it. */
interface State {
  readFile: (path: string) => string;
  origin: string | undefined; // key; undefined until $ORIGIN when none was given
  owner: string | undefined; // the previous owner, for lines that start with a blank
  defaultTtl: number | undefined; // $TTL, or the SOA minimum when no $TTL came first (as BIND)
  lastTtl: number | undefined; // the last TTL used: RFC 1035 semantics when there is no default
  records: LocatedRr[];
}

function readOrFail(read: (path: string) => string, path: string, file: string | null, line: number | null): string {
  try {
    return read(path);
  } catch (e) {
    throw new SourceError(file, line, `expected a readable file '${path}': ${(e as Error).message}`);
  }
}

/** The latin1 reading keeps every byte of the file as one character, so TXT bytes survive exactly. */
function defaultReadFile(path: string): string {
  return readFileSync(path, 'latin1');
}

/** Origin option text (trailing dot optional, it is always absolute) → key. */
function originKey(text: string, file: string): string {
  try {
    return nameToKey(text.endsWith('.') ? text : text + '.');
  } catch (e) {
    throw new SourceError(file, null, `expected a zone origin name, got '${text}': ${(e as Error).message}`);
  }
}

/** Runs `fn`, turning RDATA and name errors into SourceErrors at the right line of `file`. */
function at<T>(file: string, line: number, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SourceError) throw e;
    if (e instanceof RdataTextError) throw new SourceError(file, e.line ?? line, e.message);
    if (e instanceof Error && 'code' in e) throw new SourceError(file, line, e.message);
    throw e;
  }
}

function clampTtl(ttl: number): number {
  return ttl > MAX_TTL ? 0 : ttl;
}

function directive(st: State, entry: Entry, file: string, depth: number): void {
  const [head, ...args] = entry.tokens as [Token, ...Token[]];
  const name = head.text.toUpperCase();
  const arity = (min: number, max: number, usage: string): void => {
    if (args.length < min || args.length > max) {
      const got = args.length > max ? `'${args[max]!.text}'` : 'the end of the line';
      throw new SourceError(file, entry.line, `expected ${usage}, got ${got}`);
    }
  };
  if (name === '$ORIGIN') {
    arity(1, 1, '$ORIGIN <domain-name>');
    st.origin = at(file, entry.line, () => parseNameToken(args[0]!, st.origin, 'an origin name'));
  } else if (name === '$TTL') {
    arity(1, 1, '$TTL <ttl>');
    const ttl = at(file, entry.line, () => parseDuration(args[0]!.text));
    if (ttl === null || args[0]!.quoted) {
      throw new SourceError(file, entry.line, `expected a TTL such as 3600 or 1h30m, got '${args[0]!.text}'`);
    }
    st.defaultTtl = clampTtl(ttl);
  } else if (name === '$INCLUDE') {
    arity(1, 2, '$INCLUDE <file> [<origin>]');
    if (depth >= MAX_INCLUDE_DEPTH) {
      throw new SourceError(file, entry.line, `expected $INCLUDE nested at most ${MAX_INCLUDE_DEPTH} deep (a cycle?)`);
    }
    const path = resolve(dirname(file), args[0]!.text);
    const text = readOrFail(st.readFile, path, file, entry.line);
    // RFC 1035 §5.1: the included file never changes the parent's origin, and BIND restores the
    // current owner too. The origin argument changes only the origin: like BIND, a blank owner at the
    // top of the included file still means the previous owner.
    const saved = { origin: st.origin, owner: st.owner };
    if (args[1] !== undefined) {
      st.origin = at(file, entry.line, () => parseNameToken(args[1]!, saved.origin, 'an origin name'));
    }
    parseInto(st, text, path, depth + 1);
    st.origin = saved.origin;
    st.owner = saved.owner;
  } else {
    throw new SourceError(file, entry.line, `expected $ORIGIN, $TTL or $INCLUDE, got '${head.text}'`);
  }
}

function record(st: State, entry: Entry, file: string): void {
  const tokens = entry.tokens;
  let i = 0;
  let owner: string;
  if (entry.blankOwner) {
    if (st.owner === undefined) {
      throw new SourceError(file, entry.line, 'expected an owner name (the line starts with a blank, and no record came before)');
    }
    owner = st.owner;
  } else {
    owner = at(file, entry.line, () => parseNameToken(tokens[0]!, st.origin, 'an owner name'));
    i = 1;
  }

  // TTL and class are both optional and come in either order before the type (RFC 1035 §5.1).
  let ttl: number | undefined;
  let seenClass = false;
  let type = -1;
  for (; i < tokens.length; i++) {
    const tok = tokens[i]!;
    const line = tok.line;
    if (tok.quoted) throw new SourceError(file, line, `expected a TTL, class or type, got "${tok.text}"`);
    const asTtl = ttl === undefined ? at(file, line, () => parseDuration(tok.text)) : null;
    if (asTtl !== null) {
      ttl = clampTtl(asTtl);
      continue;
    }
    const cls = seenClass ? -1 : parseClassName(tok.text);
    if (cls >= 0) {
      if (cls !== CLASS_IN) throw new SourceError(file, line, `expected class IN, got '${tok.text}' (only IN is served)`);
      seenClass = true;
      continue;
    }
    type = parseTypeName(tok.text);
    if (type < 0) throw new SourceError(file, line, `expected a TTL, class or type, got '${tok.text}'`);
    if (NOT_IN_ZONES.has(type)) throw new SourceError(file, line, `expected a record type, got the query-only type ${typeName(type)}`);
    i++;
    break;
  }
  if (type < 0) throw new SourceError(file, entry.line, 'expected a record type, got the end of the record');

  const rdata = at(file, entry.line, () => parseRdata(type, tokens.slice(i), st.origin));

  // BIND's TTL rules: an explicit TTL wins; then $TTL (or the SOA minimum standing in for it); then the
  // previous record's TTL (RFC 1035); an SOA with none of these takes its own minimum.
  if (ttl !== undefined) {
    st.lastTtl = ttl;
  } else if (st.defaultTtl !== undefined) {
    ttl = st.defaultTtl;
  } else if (st.lastTtl !== undefined) {
    ttl = st.lastTtl;
  } else if (type === TYPE_SOA) {
    ttl = st.defaultTtl = clampTtl(soaMinimum(rdata));
  } else {
    throw new SourceError(file, entry.line, 'expected a TTL (none given, no $TTL and no SOA before this record)');
  }
  st.owner = owner;
  st.records.push({ rr: { name: owner, type, class: CLASS_IN, ttl, rdata }, file, line: entry.line });
}

function parseInto(st: State, text: string, file: string, depth: number): void {
  for (const entry of tokenize(text, file)) {
    const head = entry.tokens[0]!;
    if (!entry.blankOwner && !head.quoted && head.text.startsWith('$')) directive(st, entry, file, depth);
    else record(st, entry, file);
  }
}

/**
 * Parses master-file text. `origin` (presentation, trailing dot optional) is the zone apex and the initial
 * $ORIGIN; without it the file must set $ORIGIN or use absolute names, and the SOA owner is the apex.
 * Runs the zone checks, so the result is a zone BIND would load.
 */
export function parseZoneText(text: string, opts: ZoneParseOptions): ParsedZone {
  const given = opts.origin === undefined ? undefined : originKey(opts.origin, opts.file);
  const st: State = {
    readFile: opts.readFile ?? defaultReadFile,
    origin: given,
    owner: undefined,
    defaultTtl: undefined,
    lastTtl: undefined,
    records: [],
  };
  parseInto(st, text, opts.file, 0);
  const origin = given ?? st.records.find((r) => r.rr.type === TYPE_SOA)?.rr.name;
  if (origin === undefined) throw new SourceError(opts.file, null, 'expected an SOA record (it names the zone origin)');
  return { origin, records: checkZone(origin, opts.file, st.records) };
}

/** Reads and parses a zone file; `origin` as for parseZoneText (the `--zone-file FILE@ORIGIN` part). */
export function loadZoneFile(file: string, origin?: string): ParsedZone {
  const text = readOrFail(defaultReadFile, file, file, null);
  return parseZoneText(text, origin === undefined ? { file } : { file, origin });
}
