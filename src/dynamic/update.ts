// RFC 2136 UPDATE into dynamic zones, authenticated with TSIG (RFC 8945). Prerequisites are checked and
// the updates applied to a copy of the zone; the copy is committed as one change (one serial, one save,
// one delta to the workers) or not at all. Every update must be signed with a configured key: unsigned
// ones are REFUSED, bad signatures get NOTAUTH, and neither changes anything.

import type { Logger } from 'pino';
import {
  CLASS_ANY, CLASS_IN, CLASS_NONE, FLAG_QR, HEADER_SIZE, OPCODE_MASK, RCODE_FORMERR, RCODE_NOERROR, RCODE_NOTAUTH,
  RCODE_NOTZONE, RCODE_NXDOMAIN, RCODE_NXRRSET, RCODE_REFUSED, RCODE_SERVFAIL, RCODE_YXDOMAIN, RCODE_YXRRSET,
  RCODE_NAMES, TYPE_ANY, TYPE_CNAME, TYPE_NS, TYPE_SOA, typeName,
} from '../dns/constants.js';
import { isAtOrBelow, keyToWire } from '../dns/name.js';
import { formatKnown } from '../dns/rdata-text.js';
import type { RrSet } from '../dns/types.js';
import { WRITABLE_TYPES, RecordProblem } from './records.js';
import { appendTsig, readTsig, verifyTsig, type TsigFields, type TsigKey } from './tsig.js';
import { readUpdate, UpdateFormatError, type UpdateMessage, type WireRr } from './update-message.js';
import type { DynamicZones } from './zones.js';

export interface UpdateHandlerOptions {
  zones: DynamicZones;
  keys: readonly TsigKey[];
  /** True for a zone kdns serves but does not let clients change (zone files, the cluster zone). */
  servesStatic(origin: string): boolean;
  log: Logger;
  /** Seconds since 1970 (tests move the clock). */
  now?: () => number;
}

/** An rcode that ends an update early. */
class Refusal extends Error {
  constructor(readonly rcode: number, message: string) {
    super(message);
  }
}

type Rrsets = Map<string, RrSet>;

export class UpdateHandler {
  constructor(private readonly opts: UpdateHandlerOptions) {}

  /** The response to an UPDATE message from `client`, or null to send nothing. */
  handle(msg: Buffer, client: string): Buffer | null {
    let update: UpdateMessage;
    try {
      update = readUpdate(msg);
    } catch (e) {
      if (!(e instanceof UpdateFormatError) || msg.length < HEADER_SIZE) return null;
      this.opts.log.info({ client, reason: e.message }, 'malformed UPDATE');
      return header(msg.readUInt16BE(0), msg.readUInt16BE(2), RCODE_FORMERR, null);
    }
    if ((update.flags & FLAG_QR) !== 0) return null; // a response: never answer one
    const now = this.opts.now?.() ?? Math.floor(Date.now() / 1000);
    let tsig: TsigFields | null = null;
    let key: TsigKey | null = null;
    if (update.tsig !== null) {
      tsig = readTsig(update.tsig);
      if (tsig === null) return header(update.id, update.flags, RCODE_FORMERR, update);
      const verdict = verifyTsig(msg, update, tsig, this.opts.keys, now);
      if (!verdict.ok) {
        this.opts.log.warn({ client, zone: update.zone.name, key: tsig.keyName, tsigError: verdict.error }, 'UPDATE refused: TSIG did not verify');
        return appendTsig(header(update.id, update.flags, RCODE_NOTAUTH, update), tsig, verdict.key, verdict.error, now);
      }
      key = verdict.key;
    }
    let rcode = RCODE_NOERROR;
    try {
      this.apply(update, key, client);
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      rcode = e.rcode;
      this.opts.log.warn({ client, zone: update.zone.name, key: key?.name ?? null, rcode: RCODE_NAMES[rcode] ?? rcode, reason: e.message }, 'UPDATE refused');
    }
    const response = header(update.id, update.flags, rcode, update);
    return tsig === null ? response : appendTsig(response, tsig, key, 0, now);
  }

  private apply(update: UpdateMessage, key: TsigKey | null, client: string): void {
    const { zone } = update;
    if (zone.type !== TYPE_SOA) throw new Refusal(RCODE_FORMERR, `zone section type ${typeName(zone.type)}, expected SOA`);
    if (!this.opts.zones.has(zone.name) || zone.class !== CLASS_IN) {
      if (this.opts.servesStatic(zone.name)) throw new Refusal(RCODE_REFUSED, `${zone.name} is not a dynamic zone`);
      throw new Refusal(RCODE_NOTAUTH, `not authoritative for ${zone.name}`);
    }
    if (key === null) throw new Refusal(RCODE_REFUSED, 'updates must be signed with a TSIG key (--tsig-key)');
    const current = this.opts.zones.rrsetsOf(zone.name);
    checkPrerequisites(zone.name, update.prerequisites, current);
    const next = new Map(current);
    prescan(zone.name, update.updates);
    for (const rr of update.updates) applyOne(zone.name, rr, next);
    try {
      this.opts.zones.replaceRrsets(zone.name, next, { via: 'rfc2136', client, key: key.name });
    } catch (e) {
      if (e instanceof RecordProblem) throw new Refusal(RCODE_SERVFAIL, e.message);
      throw e;
    }
  }
}

const rrsetKey = (name: string, type: number): string => `${name} ${type}`;

/** RFC 2136 §3.2. */
function checkPrerequisites(origin: string, prereqs: WireRr[], current: Rrsets): void {
  const nameInUse = (name: string): boolean => name === origin || [...current.values()].some((r) => r.name === name);
  const valueSets = new Map<string, Set<string>>();
  for (const rr of prereqs) {
    if (rr.ttl !== 0) throw new Refusal(RCODE_FORMERR, 'a prerequisite with a TTL');
    if (!isAtOrBelow(rr.name, origin)) throw new Refusal(RCODE_NOTZONE, `${rr.name} is outside ${origin}`);
    if (rr.class === CLASS_ANY || rr.class === CLASS_NONE) {
      if (rr.rdlength !== 0) throw new Refusal(RCODE_FORMERR, 'a class ANY/NONE prerequisite with RDATA');
      const exists = rr.type === TYPE_ANY ? nameInUse(rr.name) : rrsetExists(current, origin, rr.name, rr.type);
      if (rr.class === CLASS_ANY && !exists) throw new Refusal(rr.type === TYPE_ANY ? RCODE_NXDOMAIN : RCODE_NXRRSET, `${rr.name} ${typeName(rr.type)} does not exist`);
      if (rr.class === CLASS_NONE && exists) throw new Refusal(rr.type === TYPE_ANY ? RCODE_YXDOMAIN : RCODE_YXRRSET, `${rr.name} ${typeName(rr.type)} exists`);
    } else if (rr.class === CLASS_IN) {
      const k = rrsetKey(rr.name, rr.type);
      let set = valueSets.get(k);
      if (set === undefined) valueSets.set(k, (set = new Set()));
      set.add(rr.rdata.toString('hex'));
    } else {
      throw new Refusal(RCODE_FORMERR, `prerequisite class ${rr.class}`);
    }
  }
  // Value-dependent: the RRset must be exactly these records (TTL aside).
  for (const [k, want] of valueSets) {
    const have = current.get(k);
    const same = have !== undefined && have.rdatas.length === want.size && have.rdatas.every((d) => want.has(d.toString('hex')));
    if (!same) throw new Refusal(RCODE_NXRRSET, `${k} does not hold exactly the given records`);
  }
}

function rrsetExists(current: Rrsets, origin: string, name: string, type: number): boolean {
  return (type === TYPE_SOA && name === origin) || current.has(rrsetKey(name, type));
}

const isMeta = (type: number): boolean => type === 0 || (type >= 128 && type <= 255);

/** RFC 2136 §3.4.1: every update is checked before any is applied. */
function prescan(origin: string, updates: WireRr[]): void {
  for (const rr of updates) {
    if (!isAtOrBelow(rr.name, origin)) throw new Refusal(RCODE_NOTZONE, `${rr.name} is outside ${origin}`);
    if (rr.class === CLASS_IN) {
      if (isMeta(rr.type)) throw new Refusal(RCODE_FORMERR, `cannot add type ${typeName(rr.type)}`);
      if (rr.type !== TYPE_SOA && !WRITABLE_TYPES.has(rr.type)) {
        throw new Refusal(RCODE_REFUSED, `type ${typeName(rr.type)} cannot be written (allowed: ${[...WRITABLE_TYPES].map(typeName).join(', ')})`);
      }
      checkRdata(rr);
    } else if (rr.class === CLASS_ANY) {
      if (rr.ttl !== 0 || rr.rdlength !== 0 || (isMeta(rr.type) && rr.type !== TYPE_ANY)) throw new Refusal(RCODE_FORMERR, 'a malformed delete-RRset');
    } else if (rr.class === CLASS_NONE) {
      if (rr.ttl !== 0 || isMeta(rr.type)) throw new Refusal(RCODE_FORMERR, 'a malformed delete-record');
    } else {
      throw new Refusal(RCODE_FORMERR, `update class ${rr.class}`);
    }
  }
}

/** RDATA must be well formed for its type, as the zone-file codec reads it (names were checked by the reader). */
function checkRdata(rr: WireRr): void {
  if (rr.rdata.length === 0 || formatKnown(rr.type, rr.rdata) === null) throw new Refusal(RCODE_FORMERR, `malformed ${typeName(rr.type)} RDATA`);
}

/** RFC 2136 §3.4.2, on the working copy. kdns owns the SOA: SOA updates are ignored. */
function applyOne(origin: string, rr: WireRr, next: Rrsets): void {
  const atName = [...next.values()].filter((r) => r.name === rr.name);
  if (rr.class === CLASS_IN) {
    if (rr.type === TYPE_SOA) return;
    const hasCname = atName.some((r) => r.type === TYPE_CNAME);
    // A CNAME never joins other data, nor other data a CNAME (§3.4.2.2: ignored, not an error).
    if (rr.type === TYPE_CNAME ? rr.name === origin || atName.some((r) => r.type !== TYPE_CNAME) : hasCname) return;
    const k = rrsetKey(rr.name, rr.type);
    const have = rr.type === TYPE_CNAME ? undefined : next.get(k); // a CNAME is replaced, not added to
    const rdatas = have === undefined ? [rr.rdata] : have.rdatas.some((d) => d.equals(rr.rdata)) ? have.rdatas : [...have.rdatas, rr.rdata];
    next.set(k, { name: rr.name, type: rr.type, class: CLASS_IN, ttl: rr.ttl, rdatas });
  } else if (rr.class === CLASS_ANY) {
    for (const r of atName) {
      // "Delete all RRsets" keeps the apex NS (§3.4.2.3), as the SOA, which is not in `next`.
      if (rr.type === TYPE_ANY && r.name === origin && r.type === TYPE_NS) continue;
      if (rr.type === TYPE_ANY || r.type === rr.type) next.delete(rrsetKey(r.name, r.type));
    }
  } else {
    const k = rrsetKey(rr.name, rr.type);
    const have = next.get(k);
    if (have === undefined) return;
    const rdatas = have.rdatas.filter((d) => !d.equals(rr.rdata));
    if (rdatas.length === 0) next.delete(k);
    else next.set(k, { ...have, rdatas });
  }
}

/** A response: the request's ID and opcode, QR, the rcode, and the zone section echoed (bind does). */
function header(id: number, flags: number, rcode: number, update: UpdateMessage | null): Buffer {
  const zone = update === null ? null : Buffer.concat([keyToWire(update.zone.name), Buffer.from([
    update.zone.type >> 8, update.zone.type & 0xff, update.zone.class >> 8, update.zone.class & 0xff,
  ])]);
  const out = Buffer.alloc(HEADER_SIZE);
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(FLAG_QR | (flags & OPCODE_MASK) | (rcode & 0x0f), 2);
  out.writeUInt16BE(zone === null ? 0 : 1, 4);
  return zone === null ? out : Buffer.concat([out, zone]);
}
