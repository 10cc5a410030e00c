// Dynamic zones: zones whose records are written at run time (the REST API), kept in memory as served
// Zones and, with --state-dir, on disk after every change. kdns owns each zone's SOA: its serial moves on
// every change, so a secondary or a cache can tell versions apart.

import type { Logger } from 'pino';
import { CLASS_IN, TYPE_CNAME, TYPE_SOA } from '../dns/constants.js';
import { rdataSoa } from '../dns/rdata.js';
import type { RrSet, RrSetChange } from '../dns/types.js';
import { Zone } from '../zone/index.js';
import type { ZoneWriter } from '../worker/zone-writer.js';
import { formatRecord, RecordProblem, type RecordJson } from './records.js';
import { readZoneState, stateFilePath, writeZoneState } from './state-file.js';

const SOA_TTL = 60;
const SOA_REFRESH = 7200;
const SOA_RETRY = 1800;
const SOA_EXPIRE = 86400;
/** Negative answers are cached this long (RFC 2308: min(SOA TTL, minimum)). */
const SOA_MINIMUM = 30;

export interface DynamicZonesOptions {
  /** Zone keys ("example.com."). */
  origins: string[];
  /** Where state files live; null keeps the zones in memory only. */
  stateDir: string | null;
  writer: ZoneWriter;
  log: Logger;
}

/** Who asked for a change, for the audit line. */
export interface ChangeSource {
  via: string;
  client: string;
  /** The TSIG key that signed an RFC 2136 update. */
  key?: string;
}

interface DynamicZone {
  zone: Zone;
  serial: number;
  /** The operator's RRsets by "name type" (the SOA is not among them); replaced whole on each change. */
  rrsets: Map<string, RrSet>;
  file: string | null;
}

export class DynamicZones {
  private readonly zones = new Map<string, DynamicZone>();

  /** Loads each zone's saved state (throws SourceError on a bad file) and starts serving it. */
  constructor(private readonly opts: DynamicZonesOptions) {
    for (const origin of opts.origins) {
      const file = opts.stateDir === null ? null : stateFilePath(opts.stateDir, origin);
      const saved = file === null ? null : readZoneState(file, origin);
      const rrsets = new Map<string, RrSet>();
      for (const rrset of saved?.rrsets ?? []) rrsets.set(rrsetKey(rrset.name, rrset.type), rrset);
      const dz: DynamicZone = { zone: new Zone(origin), serial: saved?.serial ?? initialSerial(), rrsets, file };
      dz.zone.replaceAll([soaOf(origin, dz.serial), ...rrsets.values()]);
      this.zones.set(origin, dz);
      opts.writer.add(dz.zone);
      opts.log.info({ component: 'dynamic', zone: origin, rrsets: rrsets.size, serial: dz.serial, file }, 'dynamic zone loaded');
    }
    if (opts.stateDir === null && opts.origins.length > 0) {
      opts.log.warn({ component: 'dynamic' }, 'no --state-dir: dynamic zones are kept in memory only and lost on restart');
    }
  }

  has(origin: string): boolean {
    return this.zones.has(origin);
  }

  origins(): string[] {
    return [...this.zones.keys()];
  }

  serial(origin: string): number {
    return this.require(origin).serial;
  }

  /** The zone's RRsets (its SOA first), optionally only those owned by `name`. */
  list(origin: string, name?: string): RecordJson[] {
    const dz = this.require(origin);
    const soa = soaOf(origin, dz.serial);
    return [soa, ...dz.rrsets.values()].filter((r) => name === undefined || r.name === name).map(formatRecord);
  }

  /** Replaces the RRset (name, type) with `rrset`. Throws RecordProblem 409 when it would sit beside a CNAME. */
  put(origin: string, rrset: RrSet, source: ChangeSource): RecordJson {
    const dz = this.require(origin);
    this.checkCnameRule(dz, rrset);
    const next = new Map(dz.rrsets);
    next.set(rrsetKey(rrset.name, rrset.type), rrset);
    this.replaceRrsets(origin, next, source);
    return formatRecord(rrset);
  }

  /** Deletes the RRset (name, type); false when there was none. */
  delete(origin: string, name: string, type: number, source: ChangeSource): boolean {
    const dz = this.require(origin);
    const next = new Map(dz.rrsets);
    if (!next.delete(rrsetKey(name, type))) return false;
    this.replaceRrsets(origin, next, source);
    return true;
  }

  /** A copy of the zone's RRsets by "name type" (without the SOA), for a writer to change and hand back. */
  rrsetsOf(origin: string): Map<string, RrSet> {
    return new Map(this.require(origin).rrsets);
  }

  /**
   * Makes the zone hold exactly `next` (plus its SOA): saved first, then served with the next serial, as
   * one change; nothing happens when `next` equals what the zone holds. Throws RecordProblem 500 when the
   * state cannot be saved (the zone is then unchanged).
   */
  replaceRrsets(origin: string, next: Map<string, RrSet>, source: ChangeSource): void {
    const dz = this.require(origin);
    const changes: RrSetChange[] = [];
    const audit: [string, RrSet][] = [];
    for (const [key, rrset] of next) {
      const before = dz.rrsets.get(key);
      if (before !== undefined && sameRrset(before, rrset)) continue;
      changes.push({ op: 'upsert', rrset });
      audit.push(['put', rrset]);
    }
    for (const [key, before] of dz.rrsets) {
      if (next.has(key)) continue;
      changes.push({ op: 'delete', name: before.name, type: before.type });
      audit.push(['delete', before]);
    }
    if (changes.length === 0) return;
    const serial = (dz.serial + 1) >>> 0;
    if (dz.file !== null) {
      try {
        writeZoneState(dz.file, origin, { serial, rrsets: [...next.values()] });
      } catch (e) {
        this.opts.log.error({ component: 'dynamic', err: e, file: dz.file }, 'cannot save dynamic zone; change refused');
        throw new RecordProblem(500, null, `cannot save the zone's state: ${(e as Error).message}`);
      }
    }
    dz.rrsets = next;
    dz.serial = serial;
    this.opts.writer.apply(dz.zone, [...changes, { op: 'upsert', rrset: soaOf(origin, serial) }]);
    for (const [action, rrset] of audit) {
      this.opts.log.info({ component: 'dynamic', audit: true, action, zone: origin, ...formatRecord(rrset), serial, ...source }, `record ${action}`);
    }
  }

  private require(origin: string): DynamicZone {
    const dz = this.zones.get(origin);
    if (dz === undefined) throw new RecordProblem(404, 'zone', `no dynamic zone ${origin}`);
    return dz;
  }

  /** RFC 1034 §3.6.2: a CNAME owner has no other data, and the apex (which has the SOA) has no CNAME. */
  private checkCnameRule(dz: DynamicZone, rrset: RrSet): void {
    if (rrset.type === TYPE_CNAME) {
      if (rrset.name === dz.zone.origin) throw new RecordProblem(409, 'type', 'a CNAME cannot be at the zone apex (beside the SOA)');
      const other = [...dz.rrsets.values()].find((r) => r.name === rrset.name && r.type !== TYPE_CNAME);
      if (other !== undefined) throw new RecordProblem(409, 'type', `${rrset.name} already has other data; a CNAME must stand alone`);
    } else if (dz.rrsets.has(rrsetKey(rrset.name, TYPE_CNAME))) {
      throw new RecordProblem(409, 'type', `${rrset.name} has a CNAME; no other data may stand beside it`);
    }
  }
}

function rrsetKey(name: string, type: number): string {
  return `${name} ${type}`;
}

function sameRrset(a: RrSet, b: RrSet): boolean {
  return a.ttl === b.ttl && a.rdatas.length === b.rdatas.length && a.rdatas.every((d, i) => d.equals(b.rdatas[i]!));
}

/** Seconds since 1970 fit a serial until 2106; RFC 1982 arithmetic carries on past that. */
function initialSerial(): number {
  return Math.floor(Date.now() / 1000) >>> 0;
}

function soaOf(origin: string, serial: number): RrSet {
  const apex = origin === '.' ? '' : origin;
  const rdata = rdataSoa({
    mname: `ns.${apex}`, rname: `hostmaster.${apex}`, serial,
    refresh: SOA_REFRESH, retry: SOA_RETRY, expire: SOA_EXPIRE, minimum: SOA_MINIMUM,
  });
  return { name: origin, type: TYPE_SOA, class: CLASS_IN, ttl: SOA_TTL, rdatas: [rdata] };
}
