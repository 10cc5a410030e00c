// How changes reach the journals: wrappers around the two ways zones change at run time. The cluster
// zone's data comes without a serial, so its wrapper gives each batch of changes one (at most one per
// COMMIT_DELAY_MS, and at once when a transfer asks, so a transfer never sees data its serial does not
// cover); dynamic zones move their own serial with every change and are journaled as they go.
// Zone files get no journal: their IXFR is answered with the whole zone, and they change only on SIGHUP.

import type { ClusterSink } from '../sources/kubernetes/cluster-zone.js';
import type { ZoneWriter } from '../worker/zone-writer.js';
import type { RrSet } from '../dns/types.js';
import type { Zone } from '../zone/index.js';
import type { ZoneJournal } from './journal.js';
import { nextSerial, soaSerial, withSerial } from './serial.js';
import type { TransferService } from './service.js';

/**
 * A new serial costs every cached negative answer of the zone (they carry the SOA), so a zone changing
 * 100 times a second moves its serial once a second, not 100 times.
 */
export const COMMIT_DELAY_MS = 1000;

/** Gives a zone without a serial of its own (the cluster zone) a moving one, and journals its changes. */
export class SerialKeeper {
  readonly journal: ZoneJournal;
  private readonly zone: Zone;
  private readonly service: TransferService;
  private readonly applySoa: (soa: RrSet) => void;
  private timer: NodeJS.Timeout | null = null;

  constructor(zone: Zone, service: TransferService, applySoa: (soa: RrSet) => void) {
    this.zone = zone;
    this.service = service;
    this.applySoa = applySoa;
    this.journal = service.track(zone, () => this.commit());
  }

  /** Changes were applied: a new serial follows within COMMIT_DELAY_MS. */
  schedule(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => this.commit(), COMMIT_DELAY_MS);
    this.timer.unref();
  }

  /** Puts the changes applied since the last serial under a new one. */
  commit(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (!this.journal.dirty) return;
    const from = this.moveSerial();
    if (from !== null) this.journal.commit(from, soaSerial(this.zone.soa!.rdatas[0]!));
  }

  /** The zone was (re)loaded whole: no step leads to it, and it gets a serial newer than any before. */
  restart(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.journal.reset();
    this.moveSerial();
  }

  /** Applies the next serial and tells the secondaries; returns the previous serial (null: no SOA). */
  private moveSerial(): number | null {
    const soa = this.zone.soa;
    if (soa === undefined) return null;
    const from = soaSerial(soa.rdatas[0]!);
    this.applySoa(withSerial(soa, nextSerial(from, Math.floor(Date.now() / 1000))));
    this.service.serialMoved(this.zone);
    return from;
  }
}

/** The cluster sink `inner`, with a moving serial and a journal once the zone has synced. */
export function transferSink(inner: ClusterSink, service: TransferService): ClusterSink {
  let keeper: SerialKeeper | null = null;
  return {
    reverse: inner.reverse,
    adopt(zone, reverse) {
      inner.adopt(zone, reverse);
      keeper = new SerialKeeper(zone, service, (soa) => inner.apply(zone, reverse, [{ op: 'upsert', rrset: soa }], []));
    },
    apply(zone, reverse, inZone, reverseChanges) {
      // Before the first full view nothing is served or transferred, so there is nothing to journal.
      const journaled = zone.ready && inZone.length > 0;
      if (journaled) keeper!.journal.recordBefore(inZone);
      inner.apply(zone, reverse, inZone, reverseChanges);
      if (journaled) keeper!.schedule();
    },
    ready(zone) {
      inner.ready(zone);
      keeper!.restart();
    },
  };
}

/** The dynamic zones' writer `inner`, journaling each change; each moves the zone's serial itself. */
export function transferWriter(inner: ZoneWriter, service: TransferService): ZoneWriter {
  return {
    add(zone) {
      inner.add(zone);
      service.track(zone);
    },
    apply(zone, changes) {
      const journal = service.journal(zone.origin);
      const from = serialOf(zone);
      journal?.recordBefore(changes);
      inner.apply(zone, changes);
      const to = serialOf(zone);
      if (journal === null || from === null || to === null || from === to) return;
      journal.commit(from, to);
      service.serialMoved(zone);
    },
  };
}

function serialOf(zone: Zone): number | null {
  const soa = zone.soa;
  return soa === undefined ? null : soaSerial(soa.rdatas[0]!);
}
