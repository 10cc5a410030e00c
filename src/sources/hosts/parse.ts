// /etc/hosts-format files → A, AAAA and PTR records, the way dnsmasq serves them: every name on a line
// gets the address, and the address points back (PTR) at the line's first, canonical name.

import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { SourceError } from '../../errors.js';
import { CLASS_IN, TYPE_A, TYPE_AAAA, TYPE_PTR } from '../../dns/constants.js';
import { nameToKey } from '../../dns/name.js';
import { ipv6Bytes, rdataA, rdataName } from '../../dns/rdata.js';
import { reverseName } from '../../dns/reverse.js';
import type { Rr } from '../../dns/types.js';

export { reverseName };

/** Short, so an edited hosts file takes effect quickly in caches. */
export const DEFAULT_HOSTS_TTL = 60;

export interface HostsParseOptions {
  file: string; // for errors
  ttl?: number; // default DEFAULT_HOSTS_TTL
}

function address(text: string, file: string, line: number): { type: number; rdata: Buffer } {
  if (text.includes('%')) {
    // A zone index names an interface of this host; it means nothing to whoever asks us.
    throw new SourceError(file, line, `expected an IP address without a zone index, got '${text}'`);
  }
  if (isIPv4(text)) return { type: TYPE_A, rdata: rdataA(text) };
  try {
    return { type: TYPE_AAAA, rdata: ipv6Bytes(text) };
  } catch {
    throw new SourceError(file, line, `expected an IPv4 or IPv6 address, got '${text}'`);
  }
}

function hostKey(text: string, file: string, line: number): string {
  try {
    // Hosts files hold full names without the trailing dot; a dot there already is harmless.
    return nameToKey(text.endsWith('.') ? text : text + '.');
  } catch (e) {
    throw new SourceError(file, line, `expected a host name, got '${text}': ${(e as Error).message}`);
  }
}

/**
 * Parses hosts-file text: `IP name [alias...]` per line, '#' comments. Exact duplicate records are
 * merged; an address listed on several lines points back at the canonical name of the first of them
 * (what gethostbyaddr on that file would answer).
 */
export function parseHostsText(text: string, opts: HostsParseOptions): Rr[] {
  const ttl = opts.ttl ?? DEFAULT_HOSTS_TTL;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 0x7fffffff) {
    throw new SourceError(opts.file, null, `expected a TTL from 0 to 2147483647, got ${ttl}`);
  }
  const out: Rr[] = [];
  const seen = new Set<string>(); // "name type rdata-hex" of every record emitted
  const add = (name: string, type: number, rdata: Buffer): void => {
    const id = `${name} ${type} ${rdata.toString('hex')}`;
    if (seen.has(id)) return;
    seen.add(id);
    out.push({ name, type, class: CLASS_IN, ttl, rdata });
  };
  const reversed = new Set<string>(); // PTR owners already pointed at a canonical name

  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const hash = lines[n]!.indexOf('#');
    const fields = (hash >= 0 ? lines[n]!.slice(0, hash) : lines[n]!).split(/[ \t\r\f\v]+/).filter((f) => f !== '');
    if (fields.length === 0) continue;
    const line = n + 1;
    const { type, rdata } = address(fields[0]!, opts.file, line);
    if (fields.length < 2) throw new SourceError(opts.file, line, `expected a host name after '${fields[0]}'`);
    const names = fields.slice(1).map((f) => hostKey(f, opts.file, line));
    for (const name of names) add(name, type, rdata);
    const ptrOwner = reverseName(fields[0]!);
    if (!reversed.has(ptrOwner)) {
      reversed.add(ptrOwner);
      add(ptrOwner, TYPE_PTR, rdataName(names[0]!));
    }
  }
  return out;
}

/** Reads and parses a hosts file (the `--hosts FILE` option). */
export function loadHostsFile(file: string, ttl?: number): Rr[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new SourceError(file, null, `expected a readable hosts file: ${(e as Error).message}`);
  }
  return parseHostsText(text, ttl === undefined ? { file } : { file, ttl });
}
