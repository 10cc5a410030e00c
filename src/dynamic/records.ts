// The JSON shape of one dynamic RRset and its checks. The REST API, the state file and (later) other
// writers all go through `parseRecordInput`, so a value the API refuses can never come back from disk.
// Values are presentation text as in a zone file: a name without a trailing dot is relative to the zone.

import { CLASS_IN, parseTypeName, typeName, TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_MX, TYPE_NS, TYPE_PTR, TYPE_SRV, TYPE_TXT } from '../dns/constants.js';
import { isAtOrBelow, nameToKey } from '../dns/name.js';
import { formatRdata, parseRdata, RdataTextError } from '../dns/rdata-text.js';
import type { RrSet } from '../dns/types.js';
import { KdnsError } from '../errors.js';
import { tokenize } from '../sources/zonefile/tokenize.js';

/** The types an operator may write (the apex SOA is kdns's own). */
export const WRITABLE_TYPES: ReadonlySet<number> = new Set([
  TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_SRV, TYPE_PTR, TYPE_TXT, TYPE_MX, TYPE_NS,
]);
const DEFAULT_TTL = 60;
const MAX_TTL = 2_147_483_647;
const MAX_VALUES = 1000;

/** What the API sends and receives for one RRset. */
export interface RecordJson {
  name: string;
  type: string;
  ttl: number;
  values: string[];
}

/** A request the API refuses: the HTTP status and the field it is about. */
export class RecordProblem extends KdnsError {
  readonly status: number;
  readonly field: string | null;
  constructor(status: number, field: string | null, message: string) {
    super('KDNS_RECORD_INVALID', field === null ? message : `${field}: ${message}`);
    this.status = status;
    this.field = field;
  }
}

/**
 * A name given in a URL or a file → key inside `zone` (a key). '@' is the apex; a name ending in '.' is
 * absolute; a name that already ends with the zone (without the dot) is taken as absolute too, so
 * `www.example.com` and `www` mean the same in zone example.com.
 */
export function recordName(text: string, zone: string): string {
  if (text === '') throw new RecordProblem(400, 'name', 'expected a domain name, got an empty string');
  let key: string;
  try {
    const bare = zone.slice(0, -1);
    const absolute = text.endsWith('.') || text.toLowerCase() === bare || text.toLowerCase().endsWith('.' + bare);
    key = absolute ? nameToKey(text.endsWith('.') ? text : text + '.') : nameToKey(text, zone);
  } catch (e) {
    throw new RecordProblem(400, 'name', `expected a domain name, got '${text}' (${(e as Error).message})`);
  }
  if (!isAtOrBelow(key, zone)) throw new RecordProblem(400, 'name', `${key} is not in zone ${zone}`);
  return key;
}

export function recordType(text: string): number {
  const type = parseTypeName(text.toUpperCase());
  if (type <= 0 || !WRITABLE_TYPES.has(type)) {
    const allowed = [...WRITABLE_TYPES].map(typeName).join(', ');
    throw new RecordProblem(400, 'type', `expected one of ${allowed}, got '${text}'`);
  }
  return type;
}

/** The body of a PUT (`{"ttl": 60, "values": [...]}`) → the RRset it stands for. */
export function parseRecordInput(zone: string, name: string, type: number, body: unknown): RrSet {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new RecordProblem(400, null, 'expected a JSON object {"ttl": N, "values": [...]}');
  }
  const fields = body as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (key !== 'ttl' && key !== 'values' && key !== 'name' && key !== 'type') {
      throw new RecordProblem(400, key, 'unknown field (expected ttl and values)');
    }
  }
  const ttl = fields.ttl ?? DEFAULT_TTL;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0 || ttl > MAX_TTL) {
    throw new RecordProblem(400, 'ttl', `expected an integer 0-${MAX_TTL}, got ${JSON.stringify(ttl)}`);
  }
  const values = fields.values;
  if (!Array.isArray(values) || values.length === 0 || values.length > MAX_VALUES) {
    throw new RecordProblem(400, 'values', `expected an array of 1-${MAX_VALUES} strings in presentation format`);
  }
  if (type === TYPE_CNAME && values.length !== 1) {
    throw new RecordProblem(400, 'values', 'a CNAME has exactly one value');
  }
  const rdatas: Buffer[] = [];
  const seen = new Set<string>();
  values.forEach((value, i) => {
    const rdata = parseValue(value, type, zone, `values[${i}]`);
    const hex = rdata.toString('hex');
    if (!seen.has(hex)) rdatas.push(rdata); // an RRset is a set (RFC 2181 §5)
    seen.add(hex);
  });
  return { name, type, class: CLASS_IN, ttl, rdatas };
}

function parseValue(value: unknown, type: number, zone: string, field: string): Buffer {
  if (typeof value !== 'string' || value.includes('\n')) {
    throw new RecordProblem(400, field, `expected a one-line ${typeName(type)} value, got ${JSON.stringify(value)}`);
  }
  try {
    const entries = tokenize(value, field);
    const tokens = entries.flatMap((e) => e.tokens);
    return parseRdata(type, tokens, zone);
  } catch (e) {
    if (e instanceof RdataTextError || e instanceof KdnsError) {
      throw new RecordProblem(400, field, `${(e as Error).message.replace(/^values\[\d+\]:\d*:? ?/, '')} in '${value}'`);
    }
    throw e;
  }
}

/** An RRset as the API shows it: absolute names, values in presentation format. */
export function formatRecord(rrset: RrSet): RecordJson {
  return {
    name: rrset.name,
    type: typeName(rrset.type),
    ttl: rrset.ttl,
    values: rrset.rdatas.map((rdata) => formatRdata(rrset.type, rdata)),
  };
}
