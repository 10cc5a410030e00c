// SIGHUP: read the config file, zone files and hosts files again and serve what changed, or keep
// serving what is there. Everything is read and checked before anything changes; then the whole edit
// goes out in one turn of the event loop (see targets.ts). Reloads run one at a time: signals that
// arrive during one are folded into a single follow-up reload.

import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { KdnsConfig } from '../config/types.js';
import type { Rr } from '../dns/types.js';
import { ConfigError, LocatedError } from '../errors.js';
import { readResolvConf, type ForwardOptions } from '../forward/options.js';
import { zoneContent } from '../worker/hub.js';
import type { ZoneSet } from '../zone/index.js';
import { reloadable } from './settings.js';
import { isEmptyEdit, type DataEdit, type ReloadTarget } from './targets.js';
import { diffRrSets, sameRecords } from './zone-diff.js';

export interface ReloaderOptions {
  /** The config kdns started with, and its static data as loaded then. */
  config: KdnsConfig;
  staticOrigins: string[];
  hostRecords: Rr[];
  target: ReloadTarget;
  log: Logger;
  registry: Registry;
  /** main.ts's loader: zone files and hosts files of a config. Throws SourceError on a bad line. */
  loadStatic(config: KdnsConfig): { zones: ZoneSet; hostRecords: Rr[] };
  /** The forwarder's options for a config; null without forwarding. */
  forwardOptions(config: KdnsConfig): ForwardOptions | null;
  /** Re-reads the cluster source where that is cheap (the manifests directory). */
  reloadCluster?(): Promise<void>;
}

export type ReloadOutcome = 'reloaded' | 'failed';

export class Reloader {
  private readonly opts: ReloaderOptions;
  private readonly log: Logger;
  private config: KdnsConfig;
  private staticOrigins: string[];
  private hostRecords: Rr[];
  /** The forwarder's options as last applied, resolv.conf's nameservers read in (see resolved()). */
  private forward: ForwardOptions | null;
  private running: Promise<ReloadOutcome> | null = null;
  private again: (() => KdnsConfig) | null = null;
  private readonly metrics: { successes: Counter; failures: Counter; lastSuccess: Gauge; restartPending: Gauge };

  constructor(opts: ReloaderOptions) {
    this.opts = opts;
    this.log = opts.log.child({ component: 'reload' });
    this.config = opts.config;
    this.staticOrigins = opts.staticOrigins;
    this.hostRecords = opts.hostRecords;
    // Quietly: the forwarders read the same file at start and said what they found.
    this.forward = resolvedUpstreams(opts.forwardOptions(opts.config));
    const registers = [opts.registry];
    this.metrics = {
      successes: new Counter({ name: 'kdns_reload_successes_total', help: 'SIGHUP reloads applied.', registers }),
      failures: new Counter({
        name: 'kdns_reload_failures_total', help: 'SIGHUP reloads refused (a bad config or data file); the previous state kept serving.', registers,
      }),
      lastSuccess: new Gauge({
        name: 'kdns_reload_last_success_timestamp_seconds', help: 'Unix time the config and data in service were loaded (start, or the last applied reload).', registers,
      }),
      restartPending: new Gauge({
        name: 'kdns_reload_restart_pending', help: '1 when the config file has changes that only a restart applies (see the "needs restart" log line).', registers,
      }),
    };
    // As Prometheus's own config_last_reload_success_timestamp_seconds: the start-up load counts, so
    // "loaded more than N hours ago" alerts work before the first SIGHUP.
    this.metrics.lastSuccess.set(Date.now() / 1000);
  }

  /**
   * Reloads with the config `readConfig` returns (the CLI re-reads argv and the config file). Resolves
   * when the new state is served everywhere, or when the reload was refused; never rejects.
   */
  reload(readConfig: () => KdnsConfig): Promise<ReloadOutcome> {
    if (this.running !== null) {
      this.again = readConfig;
      return this.running;
    }
    const run = async (): Promise<ReloadOutcome> => {
      let outcome = await this.attempt(readConfig);
      while (this.again !== null) {
        const next = this.again;
        this.again = null;
        outcome = await this.attempt(next);
      }
      return outcome;
    };
    this.running = run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async attempt(readConfig: () => KdnsConfig): Promise<ReloadOutcome> {
    const started = performance.now();
    let plan: Plan;
    try {
      plan = this.plan(readConfig());
    } catch (err) {
      this.metrics.failures.inc();
      const where = err instanceof LocatedError ? { file: err.file, line: err.line } : {};
      this.log.error({ err, ...where }, 'reload failed: still serving the previous configuration and data');
      return 'failed';
    }
    if (plan.needsRestart.length > 0) {
      this.log.warn({ settings: plan.needsRestart }, 'reload: these settings changed and need a restart; they are ignored until then');
    }
    this.metrics.restartPending.set(plan.needsRestart.length > 0 ? 1 : 0);
    try {
      this.opts.target.apply(plan.edit);
      if (plan.forward !== null) await this.opts.target.reconfigureForward(plan.forward);
      await this.opts.reloadCluster?.();
      await this.opts.target.settled();
    } catch (err) {
      // Checked data does not fail here; if it does, that is a bug, and kdns keeps serving what it has.
      this.metrics.failures.inc();
      this.log.error({ err }, 'reload failed while applying: serving may mix old and new data until the next reload');
      return 'failed';
    }
    this.config = plan.config;
    this.staticOrigins = plan.staticOrigins;
    this.hostRecords = plan.hostRecords;
    this.forward = plan.forwardNow;
    this.metrics.successes.inc();
    this.metrics.lastSuccess.set(Date.now() / 1000);
    const { edit } = plan;
    this.log.info({
      zonesChanged: [...edit.changed.keys()], zonesAdded: edit.added.map((z) => z.origin), zonesRemoved: edit.removed,
      hostsChanged: edit.hosts !== null, forwardChanged: plan.forward !== null, ms: Math.round(performance.now() - started),
    }, isEmptyEdit(edit) && plan.forward === null ? 'reloaded: nothing changed' : 'reloaded');
    return 'reloaded';
  }

  /** Reads and checks everything a reload would change; throws (and changes nothing) on any problem. */
  private plan(next: KdnsConfig): Plan {
    const { config, needsRestart } = reloadable(this.config, next);
    const loaded = this.opts.loadStatic(config);
    const newZones = loaded.zones.zones();
    // The cluster zone and dynamic zones come from other sources: a zone file may not take their place.
    const clash = newZones.find((z) => !this.staticOrigins.includes(z.origin) && this.opts.target.zone(z.origin) !== undefined);
    if (clash !== undefined) throw new ConfigError(null, null, `zone ${clash.origin} is already served from another source (the cluster zone or a dynamic zone)`);

    const edit: DataEdit = { changed: new Map(), added: [], removed: [], hosts: null };
    for (const zone of newZones) {
      const served = this.staticOrigins.includes(zone.origin) ? this.opts.target.zone(zone.origin) : undefined;
      if (served === undefined) {
        edit.added.push(zone);
        continue;
      }
      const changes = diffRrSets(zoneContent(served), zoneContent(zone));
      if (changes.length > 0) edit.changed.set(zone.origin, changes);
    }
    const origins = newZones.map((z) => z.origin);
    edit.removed = this.staticOrigins.filter((o) => !origins.includes(o));
    if (!sameRecords(this.hostRecords, loaded.hostRecords)) edit.hosts = loaded.hostRecords;

    const before = this.forward;
    const after = resolvedUpstreams(this.opts.forwardOptions(config), this.log);
    const forward = before !== null && after !== null && JSON.stringify(before) !== JSON.stringify(after) ? after : null;
    return { config, needsRestart, edit, forward, forwardNow: after, staticOrigins: origins, hostRecords: loaded.hostRecords };
  }
}

/**
 * Default upstreams from resolv.conf are read here rather than left to each forwarder, so that an edited
 * resolv.conf is a change a reload sees (and every worker gets the same list).
 */
function resolvedUpstreams(options: ForwardOptions | null, log?: Logger): ForwardOptions | null {
  if (options === null || options.defaultUpstreams.length > 0 || options.resolvConf === null) return options;
  return { ...options, defaultUpstreams: readResolvConf(options.resolvConf, options.listen, log) };
}

interface Plan {
  config: KdnsConfig;
  needsRestart: string[];
  edit: DataEdit;
  /** New forwarder options, or null when forwarding is unchanged (or off). */
  forward: ForwardOptions | null;
  /** The forwarder's options after this reload (as `Reloader.forward`). */
  forwardNow: ForwardOptions | null;
  staticOrigins: string[];
  hostRecords: Rr[];
}
