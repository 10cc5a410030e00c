// Compares two DNS answers to the same query, as a resolver would see them: header flags, rcode
// (extended rcode included), the echoed question, the OPT record's version and flags, and each
// section as a multiset of records in canonical text (owner and RDATA names lower-cased, TTL kept).
// Record order, the OPT's options (cookies, NSID, padding) and its UDP size are ignored. When both
// answers are truncated (TC=1) only the header, rcode and question are compared, unless `strictTc`.
import dnsPacket from 'dns-packet';
import { queryText, type CorpusQuery } from './corpus.js';

export interface CompareOptions {
  /** Names for the two sides in messages (default 'bind', 'kdns'). */
  labels?: [string, string];
  /** Compare sections even when both answers have TC=1. */
  strictTc?: boolean;
  /** Compare the additional section exactly (no allowance for optional address records). */
  strictAdditional?: boolean;
}

/** What one server gave: its bytes, or the error (timeout, connection refused...). */
export type Outcome = Buffer | Error;

export interface QueryDiff {
  query: string;
  problems: string[];
}

type Decoded = ReturnType<typeof dnsPacket.decode>;
type AnyRecord = { name: string; type: string; class?: string; ttl?: number; data?: unknown; flush?: boolean } & Record<string, unknown>;

const HEADER_BITS: ReadonlyArray<[string, number]> = [
  ['QR', 0x8000], ['AA', 0x0400], ['TC', 0x0200], ['RD', 0x0100], ['RA', 0x0080], ['Z', 0x0040],
  ['AD', 0x0020], ['CD', 0x0010],
];

function lowerName(n: unknown): string {
  const s = String(n ?? '');
  if (s === '' || s === '.') return '.';
  return s.toLowerCase().replace(/\.?$/, '.');
}

function typeOf(t: string): string {
  const m = /^UNKNOWN_(\d+)$/.exec(t);
  return m ? `TYPE${m[1]}` : t;
}

function charString(b: Buffer): string {
  let out = '"';
  for (const c of b) {
    if (c === 0x22 || c === 0x5c) out += '\\' + String.fromCharCode(c);
    else if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else out += '\\' + String(c).padStart(3, '0');
  }
  return out + '"';
}

function stable(v: unknown): string {
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (Array.isArray(v)) return '[' + v.map(stable).join(',') + ']';
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return '{' + Object.keys(o).sort().map((k) => k + ':' + stable(o[k])).join(',') + '}';
  }
  return JSON.stringify(v) ?? 'undefined';
}

/** RDATA in a canonical text form; names lower-cased, binary in hex. */
export function rdataText(type: string, data: unknown): string {
  const d = data as Record<string, unknown>;
  switch (type) {
    case 'A': case 'AAAA': return String(data);
    case 'NS': case 'CNAME': case 'PTR': case 'DNAME': return lowerName(data);
    case 'MX': return `${d.preference} ${lowerName(d.exchange)}`;
    case 'SRV': return `${d.priority} ${d.weight} ${d.port} ${lowerName(d.target)}`;
    case 'SOA':
      return `${lowerName(d.mname)} ${lowerName(d.rname)} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    case 'TXT': case 'SPF': {
      const parts = Array.isArray(data) ? data : [data];
      return parts.map((p) => charString(Buffer.isBuffer(p) ? p : Buffer.from(String(p)))).join(' ');
    }
    case 'CAA': return `${d.flags} ${d.tag} ${charString(Buffer.from(String(d.value)))}`;
    case 'DS': return `${d.keyTag} ${d.algorithm} ${d.digestType} ${Buffer.isBuffer(d.digest) ? d.digest.toString('hex') : stable(d.digest)}`;
    default:
      if (Buffer.isBuffer(data)) return `\\# ${data.length} ${data.toString('hex')}`;
      return stable(data);
  }
}

/** One record as canonical text: `owner ttl class type rdata`. */
export function recordText(rr: AnyRecord): string {
  const type = typeOf(rr.type);
  const flush = rr.flush ? ' (class-top-bit)' : '';
  return `${lowerName(rr.name)} ${rr.ttl} ${rr.class}${flush} ${type} ${rdataText(type, rr.data)}`;
}

interface View {
  flags: number;
  rcode: number;
  question: string[];
  opt: { version: number; flags: number; count: number } | null;
  answer: string[];
  authority: string[];
  additional: string[];
}

function view(msg: Decoded): View {
  const flags = msg.flags ?? 0;
  const additionals = (msg.additionals ?? []) as unknown as AnyRecord[];
  const opts = additionals.filter((r) => r.type === 'OPT');
  let rcode = flags & 0xf;
  let opt: View['opt'] = null;
  if (opts.length > 0) {
    const o = opts[0] as unknown as { extendedRcode?: number; ednsVersion?: number; flags?: number };
    rcode |= (o.extendedRcode ?? 0) << 4;
    opt = { version: o.ednsVersion ?? 0, flags: o.flags ?? 0, count: opts.length };
  }
  const texts = (rs: unknown[] | undefined): string[] => ((rs ?? []) as AnyRecord[]).map(recordText).sort();
  return {
    flags,
    rcode,
    question: (msg.questions ?? []).map((q) => `${q.name} ${typeOf(q.type)} ${q.class}`),
    opt,
    answer: texts(msg.answers),
    authority: texts(msg.authorities),
    additional: texts(additionals.filter((r) => r.type !== 'OPT')),
  };
}

function multisetDiff(a: string[], b: string[]): { onlyA: string[]; onlyB: string[] } {
  const counts = new Map<string, number>();
  for (const x of a) counts.set(x, (counts.get(x) ?? 0) + 1);
  const onlyB: string[] = [];
  for (const x of b) {
    const c = counts.get(x) ?? 0;
    if (c > 0) counts.set(x, c - 1);
    else onlyB.push(x);
  }
  const onlyA: string[] = [];
  for (const [x, c] of counts) for (let i = 0; i < c; i++) onlyA.push(x);
  return { onlyA, onlyB };
}

function decodeOutcome(o: Outcome): { msg?: Decoded; error?: string } {
  if (o instanceof Error) return { error: `no answer (${o.message})` };
  try {
    return { msg: dnsPacket.decode(o) };
  } catch (err) {
    return { error: `undecodable answer (${(err as Error).message}), ${o.length} bytes: ${o.subarray(0, 64).toString('hex')}` };
  }
}

/** The largest answer a server may send over UDP for this query (RFC 6891 §6.2.5, RFC 1035). */
export function udpLimit(q: CorpusQuery): number {
  return q.edns ? Math.max(512, q.edns.udp) : 512;
}

/** Problems with one answer on its own (ID, size), whatever the other server did. */
function selfCheck(q: CorpusQuery | undefined, label: string, o: Outcome, msg: Decoded | undefined): string[] {
  const problems: string[] = [];
  if (!q || !msg || o instanceof Error) return problems;
  if (msg.id !== q.id) problems.push(`${label}: answer ID ${msg.id} is not the query ID ${q.id}`);
  if (!q.tcp && o.length > udpLimit(q)) {
    problems.push(`${label}: ${o.length}-byte UDP answer exceeds the client's limit of ${udpLimit(q)}`);
  }
  return problems;
}

/**
 * Every difference between two answers to `q` (empty when they agree). `q` may be omitted for
 * answers not built from a corpus query (the ID and size checks are then skipped).
 */
export function compareAnswers(a: Outcome, b: Outcome, q?: CorpusQuery, opts: CompareOptions = {}): string[] {
  const [la, lb] = opts.labels ?? ['bind', 'kdns'];
  const da = decodeOutcome(a);
  const db = decodeOutcome(b);
  if (da.error || db.error) {
    if (da.error && db.error) return [];
    return [`${la}: ${da.error ?? 'answered'}; ${lb}: ${db.error ?? 'answered'}`];
  }
  const problems = [...selfCheck(q, la, a, da.msg), ...selfCheck(q, lb, b, db.msg)];
  const va = view(da.msg!);
  const vb = view(db.msg!);

  for (const [bit, mask] of HEADER_BITS) {
    if ((va.flags & mask) !== (vb.flags & mask)) {
      problems.push(`${bit}: ${la} ${va.flags & mask ? 1 : 0}, ${lb} ${vb.flags & mask ? 1 : 0}`);
    }
  }
  const opA = (va.flags >> 11) & 0xf;
  const opB = (vb.flags >> 11) & 0xf;
  if (opA !== opB) problems.push(`opcode: ${la} ${opA}, ${lb} ${opB}`);
  if (va.rcode !== vb.rcode) problems.push(`rcode: ${la} ${rcodeName(va.rcode)}, ${lb} ${rcodeName(vb.rcode)}`);
  if (va.question.join('|') !== vb.question.join('|')) {
    problems.push(`question: ${la} [${va.question.join(', ')}], ${lb} [${vb.question.join(', ')}]`);
  }
  const bothTc = (va.flags & 0x0200) !== 0 && (vb.flags & 0x0200) !== 0;
  if (bothTc && !opts.strictTc) return problems;

  const optText = (o: View['opt']): string =>
    o ? `present (version ${o.version}, flags 0x${o.flags.toString(16)}${o.count > 1 ? `, ${o.count} OPT records` : ''})` : 'absent';
  if (optText(va.opt) !== optText(vb.opt)) problems.push(`OPT: ${la} ${optText(va.opt)}, ${lb} ${optText(vb.opt)}`);

  // Additional data is optional (RFC 2181 §9): bind leaves it out for NS/MX/SRV RRsets of more than 13
  // records and for EDNS sizes of 512, and which glue survives a full UDP message depends on its RRset
  // rotation. So an address record of an NS/MX/SRV target may be missing on one side when that side
  // chose to omit it, or when that side's UDP message was full; anything else in the section must match.
  const optional = optionalAdditional(da.msg!, db.msg!);
  const full = (o: Outcome): boolean => q !== undefined && !q.tcp && !(o instanceof Error) && o.length + 28 > udpLimit(q);
  for (const section of ['answer', 'authority', 'additional'] as const) {
    const { onlyA, onlyB } = multisetDiff(va[section], vb[section]);
    const lenient = section === 'additional' && !opts.strictAdditional;
    for (const r of onlyA) if (!(lenient && optional.has(r) && full(b))) problems.push(`${section}: only ${la}: ${r}`);
    for (const r of onlyB) if (!(lenient && optional.has(r))) problems.push(`${section}: only ${lb}: ${r}`);
  }
  return problems;
}

/** Text of every additional A/AAAA record whose owner is the target of an NS, MX or SRV record sent. */
function optionalAdditional(...msgs: Decoded[]): Set<string> {
  const out = new Set<string>();
  for (const msg of msgs) {
    const targets = new Set<string>();
    for (const rr of [...(msg.answers ?? []), ...(msg.authorities ?? [])] as unknown as AnyRecord[]) {
      const data = rr.data as unknown;
      if (rr.type === 'NS' && typeof data === 'string') targets.add(lowerName(data));
      if (rr.type === 'MX') targets.add(lowerName((data as { exchange: string }).exchange));
      if (rr.type === 'SRV') targets.add(lowerName((data as { target: string }).target));
    }
    for (const rr of (msg.additionals ?? []) as unknown as AnyRecord[]) {
      if ((rr.type === 'A' || rr.type === 'AAAA') && targets.has(lowerName(rr.name))) out.add(recordText(rr));
    }
  }
  return out;
}

const RCODES: Record<number, string> = {
  0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 6: 'YXDOMAIN',
  7: 'YXRRSET', 8: 'NXRRSET', 9: 'NOTAUTH', 10: 'NOTZONE', 16: 'BADVERS', 23: 'BADCOOKIE',
};

function rcodeName(r: number): string {
  return RCODES[r] ?? `RCODE${r}`;
}

/** A QueryDiff for the report, or null when the answers agree. */
export function diffQuery(q: CorpusQuery, a: Outcome, b: Outcome, opts: CompareOptions = {}): QueryDiff | null {
  const problems = compareAnswers(a, b, q, opts);
  return problems.length === 0 ? null : { query: queryText(q), problems };
}

/** Human-readable report of differences, one query per block. */
export function formatDiffs(diffs: QueryDiff[], max = 200): string {
  const lines: string[] = [];
  for (const d of diffs.slice(0, max)) {
    lines.push(`✗ ${d.query}`);
    for (const p of d.problems) lines.push(`    ${p}`);
  }
  if (diffs.length > max) lines.push(`... and ${diffs.length - max} more`);
  return lines.join('\n');
}

/** Counts differences by kind ("AA", "rcode", "answer: only kdns"...), most frequent first. */
export function summarizeDiffs(diffs: QueryDiff[]): string {
  const counts = new Map<string, number>();
  for (const d of diffs) {
    const kinds = new Set(d.problems.map((p) => p.replace(/^(\w+: only \S+?|[^:]+):.*$/, '$1')));
    for (const k of kinds) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${String(n).padStart(6)}  ${k}`).join('\n');
}
