// Views (bind9's `view`, JD's KDNS "views"): what a client sees depends on its source address. This file is
// the view definition, its one-line text form (the `--view` flag; kdns.yaml's map form is flattened to the
// same text by src/config/file.ts) and the matcher that picks a client's view. The native addon picks with
// the same rules from the same bytes (native/views.c, `wireRules`), so JavaScript and C always agree.

import { isIP } from 'node:net';
import { parseBool, parseDomain, parseZoneFile, ValueProblem } from '../config/values.js';
import { ipv6Bytes, rdataA } from '../dns/rdata.js';
import { parseCidr } from '../forward/acl.js';

/** One element of `match-clients`: a network, or (`!`) a network whose clients this view refuses. */
export interface ClientRule {
  negate: boolean;
  family: 4 | 6;
  prefix: number;
  /** 16 bytes, network order; IPv4 in the first 4. */
  address: Uint8Array;
  /** As written, for logs and errors. */
  text: string;
}

export interface ViewDefinition {
  name: string;
  /** In order; bind's semantics: the first element that matches decides (a `!` one: not this view). */
  matchClients: ClientRule[];
  /** Zone files only this view serves (origin null: from the file's SOA). */
  zoneFiles: { file: string; origin: string | null }[];
  /** Dynamic zones (declared with --dynamic-zone) this view sees, as keys. */
  dynamicZones: string[];
  /** Whether the cluster zone (and its reverse names) is in this view. */
  cluster: boolean;
  /** Whether names outside the view's zones are forwarded (else REFUSED, as with --no-forward). */
  forward: boolean;
}

/** The view clients match when no configured view takes them: everything, as without views. */
export const DEFAULT_VIEW = 'default';

const LIST_KEYS = ['match-clients', 'zone-files', 'dynamic-zones'];
const KEYS = ['name', ...LIST_KEYS, 'cluster', 'forward'];

/**
 * `name=inside,match-clients=10.0.0.0/8,match-clients=!10.9.0.0/16,zone-files=inside.zone@example.com,
 * dynamic-zones=dyn.example,cluster=true,forward=false`: list keys repeat. `rebase` resolves a zone
 * file's path (config files resolve relative to their own directory). Throws ValueProblem.
 */
export function parseView(text: string, rebase: (path: string) => string = (p) => p): ViewDefinition {
  const single = new Map<string, string>();
  const lists = new Map<string, string[]>(LIST_KEYS.map((k) => [k, []]));
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part.trim() : part.slice(0, eq).trim();
    if (eq < 0 || !KEYS.includes(key)) throw new ValueProblem(`expected KEY=VALUE items with keys ${KEYS.join(', ')}, got '${part}'`);
    const value = part.slice(eq + 1).trim();
    const list = lists.get(key);
    if (list !== undefined) list.push(value);
    else if (single.has(key)) throw new ValueProblem(`expected ${key} once, got it twice`);
    else single.set(key, value);
  }
  const name = single.get('name');
  if (name === undefined || !/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/.test(name)) {
    throw new ValueProblem(`expected name=NAME (letters, digits, '-' and '_'), got '${name ?? text}'`);
  }
  if (name === DEFAULT_VIEW) throw new ValueProblem(`expected a view name other than '${DEFAULT_VIEW}' (the view of every other client)`);
  const clients = lists.get('match-clients')!;
  if (clients.length === 0) throw new ValueProblem(`view ${name}: expected at least one match-clients=CIDR (or any)`);
  const inField = <T>(key: string, parse: () => T): T => {
    try {
      return parse();
    } catch (e) {
      if (e instanceof ValueProblem) throw new ValueProblem(`view ${name}: ${key}: ${e.message}`);
      throw e;
    }
  };
  return {
    name,
    matchClients: clients.flatMap((c) => inField('match-clients', () => parseClientRule(c))),
    zoneFiles: lists.get('zone-files')!.map((z) => inField('zone-files', () => {
      const parsed = parseZoneFile(z);
      return { file: rebase(parsed.file), origin: parsed.origin };
    })),
    dynamicZones: lists.get('dynamic-zones')!.map((d) => inField('dynamic-zones', () => parseDomain(d))),
    cluster: single.has('cluster') ? inField('cluster', () => parseBool(single.get('cluster')!)) : true,
    forward: single.has('forward') ? inField('forward', () => parseBool(single.get('forward')!)) : true,
  };
}

/** `10.0.0.0/8`, `!10.9.0.0/16`, `::1`, `any` (every IPv4 and IPv6 client) or `!any`. */
export function parseClientRule(text: string): ClientRule[] {
  const negate = text.startsWith('!');
  const body = negate ? text.slice(1).trim() : text;
  if (body === 'any') return [ruleOf(negate, 4, 0, '0.0.0.0', text), ruleOf(negate, 6, 0, '::', text)];
  const c = parseCidr(body);
  if (c === null) throw new ValueProblem(`expected an address or CIDR (e.g. 10.0.0.0/8), '!' before one to exclude it, or any; got '${text}'`);
  return [ruleOf(negate, c.family === 'ipv4' ? 4 : 6, c.prefix, c.address, text)];
}

function ruleOf(negate: boolean, family: 4 | 6, prefix: number, address: string, text: string): ClientRule {
  const bytes = Buffer.alloc(16);
  (family === 4 ? rdataA(address) : ipv6Bytes(address)).copy(bytes);
  return { negate, family, prefix, address: bytes, text };
}

/** Bytes of one rule in `wireRules`: view index, negate, family, prefix, 16 address bytes. */
export const WIRE_RULE_SIZE = 20;

/**
 * Picks a client's view: views in order, the first that matches wins, and clients no view takes get the
 * default view, whose index is `views.length`. Within a view the first rule that matches decides; a
 * `!` rule that matches means "not this view" (bind's address match lists).
 */
export class ViewMatcher {
  private readonly views: readonly ViewDefinition[];
  private lastText = '';
  private lastIndex = -1;

  constructor(views: readonly ViewDefinition[]) {
    this.views = views;
  }

  get defaultIndex(): number {
    return this.views.length;
  }

  /** `family` 4 or 6; `bytes[offset..+16)` the address as the native engine's meta slot holds it. */
  pickBytes(family: number, bytes: Uint8Array, offset: number): number {
    let fam = family;
    let at = offset;
    if (family === 6 && isMapped(bytes, offset)) {
      fam = 4;
      at = offset + 12;
    }
    for (let v = 0; v < this.views.length; v++) {
      for (const rule of this.views[v]!.matchClients) {
        if (rule.family !== fam || !prefixEqual(rule.address, bytes, at, rule.prefix)) continue;
        if (rule.negate) break;
        return v;
      }
    }
    return this.views.length;
  }

  /** The same from the address as text (node engine, TCP); remembers the last address it was asked. */
  pickText(address: string): number {
    if (address === this.lastText) return this.lastIndex;
    let text = address;
    const pct = text.indexOf('%');
    if (pct >= 0) text = text.slice(0, pct);
    const version = isIP(text);
    const index = version === 0 ? this.views.length
      : this.pickBytes(version, version === 4 ? padded(rdataA(text)) : ipv6Bytes(text), 0);
    this.lastText = address;
    this.lastIndex = index;
    return index;
  }

  /** The rules for native/views.c: WIRE_RULE_SIZE bytes each, in matching order. */
  wireRules(): Buffer {
    const rules = this.views.flatMap((v, index) => v.matchClients.map((r) => ({ index, r })));
    const out = Buffer.alloc(WIRE_RULE_SIZE * rules.length);
    rules.forEach(({ index, r }, i) => {
      const at = WIRE_RULE_SIZE * i;
      out[at] = index;
      out[at + 1] = r.negate ? 1 : 0;
      out[at + 2] = r.family;
      out[at + 3] = r.prefix;
      out.set(r.address, at + 4); // a Uint8Array once the settings crossed to a worker thread
    });
    return out;
  }
}

function padded(v4: Buffer): Buffer {
  const out = Buffer.alloc(16);
  v4.copy(out);
  return out;
}

const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** ::ffff:a.b.c.d is an IPv4 client (as the forwarder's access list counts it). */
function isMapped(bytes: Uint8Array, offset: number): boolean {
  for (let i = 0; i < 12; i++) if (bytes[offset + i] !== MAPPED_PREFIX[i]) return false;
  return true;
}

function prefixEqual(rule: Uint8Array, bytes: Uint8Array, offset: number, bits: number): boolean {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (rule[i] !== bytes[offset + i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (rule[whole]! & mask) === (bytes[offset + whole]! & mask);
}
