// Zone transfers on the main thread, where the zone truth is: AXFR (RFC 5936) and IXFR (RFC 1995) of
// any zone kdns serves, to the networks of --transfer-to, and NOTIFY (RFC 1996) to --notify secondaries
// when a zone's serial moves. The responders hand every AXFR/IXFR query here (with worker threads, as
// a message to the main thread, like UPDATE) and send back the messages it returns.

import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { ListenAddress } from '../config/types.js';
import {
  CLASS_IN, FLAG_QR, RCODE_FORMERR, RCODE_NOTAUTH, RCODE_REFUSED, RCODE_SERVFAIL, TYPE_AXFR, TYPE_SOA,
} from '../dns/constants.js';
import type { Rr, RrSet } from '../dns/types.js';
import { Acl } from '../forward/acl.js';
import type { TransferPort } from '../server/responder.js';
import type { Zone, ZoneSet } from '../zone/index.js';
import { ZoneJournal, type JournalStep } from './journal.js';
import { errorResponse, transferMessages } from './messages.js';
import { Notifier } from './notify.js';
import { parseTransferQuery, type TransferQuery } from './query.js';
import { serialBefore, soaSerial, withSerial } from './serial.js';

export interface TransferOptions {
  zones: ZoneSet;
  /** CIDR texts (validated by the config); empty: every transfer is refused. */
  allow: readonly string[];
  notify: readonly ListenAddress[];
  log: Logger;
  registry?: Registry;
  /**
   * Resolves once every worker serves the latest change. A secondary answers a NOTIFY by asking for the
   * SOA over UDP: asked before a worker has the new serial, it would conclude it is up to date.
   */
  settled?: () => Promise<unknown>;
}

interface Tracked {
  journal: ZoneJournal;
  /** Gives changes not yet under a serial one (the cluster zone's), so a transfer sees a consistent zone. */
  commitPending: (() => void) | null;
}

type Outcome = 'full' | 'incremental' | 'up-to-date' | 'soa-only' | 'refused' | 'not-authoritative' | 'error';

export class TransferService implements TransferPort {
  private readonly opts: TransferOptions;
  private readonly acl: Acl;
  private readonly tracked = new Map<string, Tracked>();
  private readonly notifier: Notifier | null;
  private readonly requests: Counter<'type' | 'result'> | null;

  constructor(opts: TransferOptions) {
    this.opts = opts;
    this.acl = new Acl(opts.allow);
    const registers = opts.registry === undefined ? null : [opts.registry];
    this.requests = registers === null ? null : new Counter({
      name: 'kdns_transfer_requests_total',
      help: 'AXFR and IXFR queries, by type and result (full, incremental, up-to-date, soa-only, refused, not-authoritative, error)',
      labelNames: ['type', 'result'], registers,
    });
    const notifies = registers === null ? null : new Counter({
      name: 'kdns_transfer_notifies_total',
      help: 'NOTIFY messages to secondaries, by whether the secondary acknowledged them',
      labelNames: ['result'], registers,
    });
    this.notifier = opts.notify.length === 0 ? null : new Notifier(opts.notify, opts.log, (o) => {
      notifies?.inc({ result: o.acknowledged ? 'acknowledged' : 'unacknowledged' });
    });
  }

  /** Journals this zone's changes for IXFR from now on; returns its journal. */
  track(zone: Zone, commitPending: (() => void) | null = null): ZoneJournal {
    const journal = new ZoneJournal(zone);
    this.tracked.set(zone.origin, { journal, commitPending });
    return journal;
  }

  journal(origin: string): ZoneJournal | null {
    return this.tracked.get(origin)?.journal ?? null;
  }

  /** The zone's serial moved: tell the secondaries. */
  serialMoved(zone: Zone): void {
    const notifier = this.notifier;
    if (notifier === null) return;
    const settled = this.opts.settled?.() ?? Promise.resolve();
    void settled.catch(() => undefined).then(() => {
      const soa = zone.soa; // the newest by then: one NOTIFY covers every change before it
      if (soa !== undefined) notifier.notify(zone.origin, soa);
    });
  }

  close(): void {
    this.notifier?.close();
  }

  async handle(message: Buffer, client: string, tcp: boolean): Promise<Buffer[] | null> {
    const query = parseTransferQuery(message);
    if (query === null) return formerr(message);
    const type = query.qtype === TYPE_AXFR ? 'axfr' : 'ixfr';
    const { messages, outcome, records } = this.answer(query, client, tcp);
    this.requests?.inc({ type, result: outcome });
    const level = outcome === 'refused' || outcome === 'not-authoritative' ? 'debug' : 'info';
    this.opts.log[level]({ client, zone: query.qname, type, tcp, clientSerial: query.clientSerial, result: outcome, records, messages: messages.length }, 'zone transfer');
    return messages;
  }

  private answer(query: TransferQuery, client: string, tcp: boolean): { messages: Buffer[]; outcome: Outcome; records: number } {
    const fail = (rcode: number, outcome: Outcome): { messages: Buffer[]; outcome: Outcome; records: number } =>
      ({ messages: [errorResponse(query, rcode)], outcome, records: 0 });
    if (!this.acl.allows(client)) return fail(RCODE_REFUSED, 'refused');
    // RFC 5936 §4.2: AXFR is a TCP exchange.
    if (!tcp && query.qtype === TYPE_AXFR) return fail(RCODE_FORMERR, 'error');
    const zone = query.qclass === CLASS_IN ? this.opts.zones.get(query.qname) : undefined;
    if (zone === undefined) return fail(RCODE_NOTAUTH, 'not-authoritative');
    if (!zone.ready) return fail(RCODE_SERVFAIL, 'error');
    const tracked = this.tracked.get(zone.origin);
    tracked?.commitPending?.();
    const soaSet = zone.soa;
    if (soaSet === undefined) return fail(RCODE_SERVFAIL, 'error');
    const soa = rrOf(soaSet, soaSet.rdatas[0]!);
    const current = soaSerial(soa.rdata);
    let records: Rr[];
    let outcome: Outcome;
    if (query.clientSerial !== null && !serialBefore(query.clientSerial, current)) {
      records = [soa];
      outcome = 'up-to-date';
    } else if (!tcp) {
      // RFC 1995 §2: over UDP, the current SOA alone tells the client to come back over TCP.
      records = [soa];
      outcome = 'soa-only';
    } else {
      const steps = query.clientSerial === null ? null : tracked?.journal.since(query.clientSerial) ?? null;
      records = steps === null || steps.length === 0 ? fullZone(zone, soa) : incremental(soaSet, soa, steps);
      outcome = steps === null || steps.length === 0 ? 'full' : 'incremental';
    }
    return { messages: transferMessages(query, records), outcome, records: records.length };
  }
}

/** RFC 5936 §2.2: the SOA, every other record, the SOA again. */
function fullZone(zone: Zone, soa: Rr): Rr[] {
  const out: Rr[] = [soa];
  for (const name of zone.names()) {
    for (const set of zone.node(name)!.rrsets) {
      if (set.type === TYPE_SOA) continue;
      for (const rdata of set.rdatas) out.push(rrOf(set, rdata));
    }
  }
  out.push(soa);
  return out;
}

/** RFC 1995 §4: the current SOA, then per step the old SOA, what went, the new SOA, what came; the current SOA. */
function incremental(soaSet: RrSet, soa: Rr, steps: readonly JournalStep[]): Rr[] {
  const out: Rr[] = [soa];
  for (const step of steps) {
    out.push(rrOf(withSerial(soaSet, step.from), null), ...step.removed);
    out.push(rrOf(withSerial(soaSet, step.to), null), ...step.added);
  }
  out.push(soa);
  return out;
}

function rrOf(set: RrSet, rdata: Buffer | null): Rr {
  return { name: set.name, type: set.type, class: set.class, ttl: set.ttl, rdata: rdata ?? set.rdatas[0]! };
}

/** FORMERR with the client's ID, for a transfer query we cannot read (nothing when there is no header). */
function formerr(message: Buffer): Buffer[] | null {
  if (message.length < 12) return null;
  const out = Buffer.alloc(12);
  out.writeUInt16BE(message.readUInt16BE(0), 0);
  out.writeUInt16BE(FLAG_QR | RCODE_FORMERR, 2);
  return [out];
}
