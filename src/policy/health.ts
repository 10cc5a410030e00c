// Health-checked records (ContainerDNS's scanner): the A and AAAA records of names under a policy with
// `health-check` are probed over TCP on the main thread; an address that fails `failures` checks in a
// row leaves the served RRset and comes back at its first good check; when every address fails, all
// are served (an answer that might work beats none). The served RRset changes through the ZoneWriter,
// the same path as any other change (hub deltas to every worker, each dropping the cached answers, C
// copies included, that depended on the name), so a withdrawn address is never answered from a cache.
//
// Sources (zone files on SIGHUP, dynamic zones, the cluster) keep writing full RRsets; each round first
// notices a served RRset that is not what this checker last wrote, takes it as the source's new full
// set, and filters it again. So a source change is filtered within one interval.

import type { Logger } from 'pino';
import { TYPE_A, TYPE_AAAA } from '../dns/constants.js';
import { isAtOrBelow } from '../dns/name.js';
import type { RrSet, RrSetChange } from '../dns/types.js';
import type { ZoneWriter } from '../worker/zone-writer.js';
import type { Zone, ZoneSet } from '../zone/index.js';
import { PolicyTable, type AnswerPolicy, type HealthCheck } from './rules.js';
import { tcpProbe, type Probe } from './tcp-probe.js';

const PROBES_AT_ONCE = 64;

interface Watched {
  zone: Zone;
  /** The RRset as its source wrote it. */
  full: RrSet;
  /** What this checker served last (null: nothing written yet, the source's set is served). */
  written: RrSet | null;
}

interface AddressState {
  failures: number;
  down: boolean;
}

export interface HealthCheckerOptions {
  policies: readonly AnswerPolicy[];
  /** The main thread's zones (the hub's, or the ones an in-process responder reads). */
  zones: ZoneSet;
  writer: ZoneWriter;
  log: Logger;
  probe?: Probe;
  /** Called after each round of a policy (tests wait on it instead of sleeping). */
  onRound?: (policy: AnswerPolicy) => void;
}

export class HealthChecker {
  private readonly table: PolicyTable;
  /** "name type" → the RRset being filtered. */
  private readonly watched = new Map<string, Watched>();
  /** "address port" → its check state. */
  private readonly addresses = new Map<string, AddressState>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  private readonly probe: Probe;

  constructor(private readonly opts: HealthCheckerOptions) {
    this.table = new PolicyTable(opts.policies);
    this.probe = opts.probe ?? tcpProbe;
  }

  /** Starts one check loop per policy with a health check (the first round at once). */
  start(): void {
    for (const policy of this.opts.policies) {
      if (policy.healthCheck !== null) this.schedule(policy, policy.healthCheck, 0);
    }
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Addresses now withdrawn, as "address port" (for tests and the log). */
  downAddresses(): string[] {
    return [...this.addresses].filter(([, s]) => s.down).map(([k]) => k);
  }

  private schedule(policy: AnswerPolicy, check: HealthCheck, delayMs: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.round(policy, check).finally(() => {
        if (this.closed) return;
        this.opts.onRound?.(policy);
        this.schedule(policy, check, check.intervalMs);
      });
    }, delayMs);
    this.timers.add(timer);
  }

  private async round(policy: AnswerPolicy, check: HealthCheck): Promise<void> {
    const sets = this.collect(policy);
    const targets = new Set<string>();
    for (const w of sets) for (const rdata of w.full.rdatas) targets.add(addressOf(rdata));
    // At most PROBES_AT_ONCE connections open at a time: a zone rule may cover many addresses.
    const list = [...targets];
    for (let i = 0; i < list.length && !this.closed; i += PROBES_AT_ONCE) {
      await Promise.all(list.slice(i, i + PROBES_AT_ONCE).map(async (address) => {
        const ok = await this.probe(address, check.port, check.timeoutMs);
        this.record(`${address} ${check.port}`, ok, check);
      }));
    }
    if (this.closed) return;
    this.serve(sets, check.port);
  }

  /** The A/AAAA RRsets this policy governs now, with each source change taken as the new full set. */
  private collect(policy: AnswerPolicy): Watched[] {
    const out: Watched[] = [];
    for (const zone of this.opts.zones.zones()) {
      if (!isAtOrBelow(zone.origin, policy.domain) && !isAtOrBelow(policy.domain, zone.origin)) continue;
      const names = policy.scope === 'name' ? [policy.domain] : [...zone.names()].filter((n) => isAtOrBelow(n, policy.domain));
      for (const name of names) {
        if (this.opts.zones.findZone(name) !== zone || this.table.match(name) !== policy) continue;
        for (const type of [TYPE_A, TYPE_AAAA]) {
          const served = zone.get(name, type);
          const key = `${name} ${type}`;
          let w = this.watched.get(key);
          if (served === undefined) {
            this.watched.delete(key);
            continue;
          }
          if (w === undefined || w.zone !== zone) {
            w = { zone, full: served, written: null };
            this.watched.set(key, w);
          } else if (w.written === null ? served !== w.full : !sameRrset(served, w.written)) {
            w.full = served; // the source wrote it since
            w.written = null;
          }
          out.push(w);
        }
      }
    }
    return out;
  }

  private record(key: string, ok: boolean, check: HealthCheck): void {
    let s = this.addresses.get(key);
    if (s === undefined) this.addresses.set(key, s = { failures: 0, down: false });
    if (ok) {
      if (s.down) this.opts.log.info({ component: 'policy', target: key }, 'health check passes again: address back in answers');
      s.failures = 0;
      s.down = false;
    } else if (++s.failures >= check.failures && !s.down) {
      s.down = true;
      this.opts.log.warn({ component: 'policy', target: key, failures: s.failures }, 'health check failing: address withdrawn from answers');
    }
  }

  /** Serves each RRset without its down addresses (all of them when all are down), through the writer. */
  private serve(sets: Watched[], port: number): void {
    const byZone = new Map<Zone, { changes: RrSetChange[]; watched: [Watched, RrSet][] }>();
    for (const w of sets) {
      const up = w.full.rdatas.filter((r) => this.addresses.get(`${addressOf(r)} ${port}`)?.down !== true);
      const desired: RrSet = up.length === 0 || up.length === w.full.rdatas.length ? w.full : { ...w.full, rdatas: up };
      const served = w.zone.get(w.full.name, w.full.type);
      if (served !== undefined && sameRrset(served, desired)) {
        if (w.written !== null) w.written = served;
        continue;
      }
      let entry = byZone.get(w.zone);
      if (entry === undefined) byZone.set(w.zone, entry = { changes: [], watched: [] });
      entry.changes.push({ op: 'upsert', rrset: desired });
      entry.watched.push([w, desired]);
    }
    for (const [zone, { changes, watched }] of byZone) {
      try {
        this.opts.writer.apply(zone, changes);
      } catch (err) {
        this.opts.log.error({ component: 'policy', zone: zone.origin, err }, 'health check could not change the zone');
        continue;
      }
      // Read back: the zone may keep its own copy of the RRset object.
      for (const [w, desired] of watched) w.written = zone.get(desired.name, desired.type) ?? desired;
    }
  }
}

/** An A or AAAA RDATA as text a socket connects to. */
function addressOf(rdata: Buffer): string {
  if (rdata.length === 4) return `${rdata[0]}.${rdata[1]}.${rdata[2]}.${rdata[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(rdata.readUInt16BE(i).toString(16));
  return groups.join(':');
}

function sameRrset(a: RrSet, b: RrSet): boolean {
  return a.ttl === b.ttl && a.rdatas.length === b.rdatas.length && a.rdatas.every((d, i) => d.equals(b.rdatas[i]!));
}
