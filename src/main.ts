// Wiring: sources → ZoneHub → data-plane worker threads (replica, responder, engine), plus the HTTP
// endpoints. `run` is what the CLI calls; it returns once every socket is bound and logs one "serving"
// line that tools and tests wait for.

import type { Logger } from 'pino';
import { AggregatorRegistry, Registry } from 'prom-client';
import type { KdnsConfig, ListenAddress } from './config/types.js';
import { ConfigError } from './errors.js';
import type { ZoneSet } from './zone/index.js';
import { loadZoneFiles } from './sources/zonefile/files.js';
import { loadViewZones, type ViewZones } from './views/setup.js';
import { loadHostsFile } from './sources/hosts/parse.js';
import { LocalNames } from './server/local-names.js';
import type { BoundAddress } from './engine/types.js';
import { defaultForwardOptions, forwardOptionsFor, parseAddressRule, type ForwardOptions } from './forward/options.js';
import { ZoneHub } from './worker/hub.js';
import { startDataPlane, type DataPlane } from './worker/supervisor.js';
import { dataPlaneSettings } from './worker/settings.js';
import { DnsCounters, registerDnsMetrics, serverLabel } from './metrics/dns.js';
import { createRegistry } from './metrics/registry.js';
import { KDNS_VERSION } from './config/version.js';
import { startHttp, type HttpDeps, type HttpServer } from './http/server.js';
import type { Rr } from './dns/types.js';
import { BearerAuth } from './http/auth.js';
import { claimListenAddresses } from './takeover/port-claim.js';
import { adoptedFrom, serveTakeovers, type Adopted } from './takeover/successor.js';
import type { HandOffSource } from './takeover/hand-off.js';
import { startDynamicZones } from './dynamic/setup.js';
import { hubWriter } from './worker/zone-writer.js';
import { Reloader, type ReloadOutcome } from './reload/reloader.js';
import { hubTarget, type ReloadTarget } from './reload/targets.js';
import { topTalkersOn, type TopBy } from './stats/top-talkers.js';
import { registerTopMetrics } from './stats/metrics.js';
import { dashboardRoutes } from './dashboard/routes.js';
import { summarize } from './stats/summary.js';
import type { InspectSource } from './inspect/api.js';
import {
  clusterReadiness, clusterSourceConfigured, hubSink, startClusterZone, type ClusterZone,
} from './sources/kubernetes/cluster-zone.js';
import { startHealthChecks } from './policy/setup.js';
import { startDnstap } from './dnstap/index.js';
import { startTransfers, withTransferSink, withTransferWriter } from './transfer/setup.js';

type Readiness = { notReady(): string[]; note(): string | null };

export interface RunningServer {
  close(): Promise<void>;
  /** Resolves with the pid of a `kdns --takeover` that now serves our sockets: close, then exit 0. */
  takenOver?: Promise<number>;
  /** SIGHUP: serve the config, zone files and hosts files `readConfig` finds now (src/reload). */
  reload(readConfig: () => KdnsConfig): Promise<ReloadOutcome>;
}

/** What a reloader needs from `run`: the static data as loaded, and how to load it again. */
interface StaticData {
  zones: ZoneSet;
  local: LocalNames;
  hostRecords: Rr[];
  /** Origins of the zone files (the cluster zone joins `zones` later and is not reloaded from files). */
  origins: string[];
  /** Each view's own zone files (src/views), loaded at start (views are restart-only). */
  viewZones: ViewZones;
}

/** Loads every static source; a bad line throws SourceError (the CLI exits 2 on it). */
export function loadStaticSources(config: KdnsConfig, log: Logger): { zones: ZoneSet; local: LocalNames; hostRecords: Rr[] } {
  const zones = loadZoneFiles(config.zoneFiles, log);
  const local = new LocalNames();
  const hostRecords: Rr[] = [];
  for (const file of config.hosts) {
    const records = loadHostsFile(file, config.hostsTtl);
    hostRecords.push(...records);
    log.info({ component: 'hosts', file, records: records.length }, 'hosts loaded');
  }
  local.replaceAll(hostRecords);
  return { zones, local, hostRecords };
}

/** The forwarder's options for this config, or null with --no-forward. */
export function forwardOptions(config: KdnsConfig, listen: ListenAddress[]): ForwardOptions | null {
  if (config.noForward) return null;
  const tuning = config.forward ?? defaultForwardOptions();
  const addresses = [...tuning.addresses, ...config.addresses.flatMap((text) => parseAddressRule(text) ?? [])];
  return { ...forwardOptionsFor(config, tuning), listen, addresses, filterAaaa: config.filterAaaa || tuning.filterAaaa };
}

export async function run(config: KdnsConfig, log: Logger): Promise<RunningServer> {
  const loaded = loadStaticSources(config, log);
  const data: StaticData = { ...loaded, origins: loaded.zones.zones().map((z) => z.origin), viewZones: loadViewZones(config.views, log) };
  const auth = BearerAuth.fromFile(config.apiTokenFile);
  // Before any socket is bound: a second kdns on the same port must not take a share of the traffic
  // (with --takeover it hands its sockets over instead: src/takeover).
  const claim = await claimListenAddresses(config.listen, { takeover: config.takeover, engine: config.engine, log });
  const server = await serve(config, log, data, auth, adoptedFrom(claim, config.http)).catch(async (e: unknown) => {
    await claim.release();
    throw e;
  });
  return serveTakeovers(server, claim, log);
}

/** When this process started serving: the inspection report's "stale since" for a zone never synced. */
const startedAt = Date.now();

/** A running server and the sockets a successor may take over. */
type Served = RunningServer & { handOff: HandOffSource };

/** The SIGHUP reloader over the serving state `target` stands for. */
function createReloader(config: KdnsConfig, log: Logger, registry: Registry, data: StaticData, target: ReloadTarget, cluster: ClusterZone | null): Reloader {
  return new Reloader({
    config, log, registry, target,
    staticOrigins: data.origins,
    hostRecords: data.hostRecords,
    loadStatic: (next) => loadStaticSources(next, log),
    forwardOptions: (next) => forwardOptions(next, config.listen),
    reloadCluster: cluster === null ? undefined : () => cluster.reload(),
  });
}

/**
 * One topology whatever the worker count: the main thread is the control plane (sources → ZoneHub, dynamic
 * zones, transfers, reloads, HTTP); N worker threads (src/worker) answer from replicas the hub keeps in
 * step. `--workers 1` is the same wiring with one worker.
 */
async function serve(config: KdnsConfig, log: Logger, data: StaticData, auth: BearerAuth, adopted: Adopted): Promise<Served> {
  const registry = createRegistry();
  const { zones } = data;
  const hub = new ZoneHub(zones);
  hub.replaceLocal(data.hostRecords);
  for (const [view, own] of data.viewZones) for (const zone of own.zones()) hub.addViewZone(view, zone);
  let dp: DataPlane | null = null;
  const transfers = startTransfers(config, log, zones, registry, () => dp?.synced(hub.version, 2000) ?? Promise.resolve());
  let cluster: ClusterZone | null = null;
  if (clusterSourceConfigured(config)) {
    refuseClusterZoneClash(config, zones);
    cluster = await startClusterZone(config, log, withTransferSink(hubSink(hub), transfers), { registry });
  }
  const dynamic = startDynamicZones(config, log, {
    served: zones, writer: withTransferWriter(hubWriter(hub), transfers), auth, settled: () => dp?.synced(hub.version, 2000) ?? Promise.resolve(),
  });
  const slots = config.workers;
  const sab = DnsCounters.bufferFor(slots);
  registerDnsMetrics(registry, sab, slots, { server: serverLabel(config.listen) });
  const dnstap = startDnstap(config, log, registry, slots);
  dp = await startDataPlane({
    workers: config.workers, hub, settings: dataPlaneSettings(config), log, countersBuffer: sab, registry,
    forward: forwardOptions(config, config.listen), updates: dynamic.updates, dnstap, adopted: adopted.sockets, transfers,
  });
  const readiness = servedReadiness(clusterReadiness(() => cluster), hub, dp);
  const top = topTalkersOn(config) ? (by: TopBy, n: number) => dp.topTalkers(by, n) : null;
  if (top !== null) registerTopMetrics(registry, top);
  const withWorkerMetrics = async (): Promise<Registry> =>
    Registry.merge([registry, AggregatorRegistry.aggregate(await dp.workerMetrics() as never)]);
  const http = await startHttpIfConfigured(config, registry, readiness, log, {
    // Forwarder and cache metrics live in each worker: aggregate them into every scrape.
    metrics: async () => {
      const merged = await withWorkerMetrics();
      return { body: await merged.metrics(), contentType: registry.contentType };
    },
    flushCache: config.noForward ? undefined : () => dp.flushCaches(),
    auth,
    api: dashboardRoutes({
      api: dynamic.api,
      stats: {
        top,
        metrics: async () => (await withWorkerMetrics()).getMetricsAsJSON(),
        workers: () => dp.workers(),
      },
      inspect: inspectSource(zones, cluster, startedAt, dp.bound,
        async () => summarize(await (await withWorkerMetrics()).getMetricsAsJSON(), 1).upstreams),
    }),
  }, adopted.httpFd);
  logServing(log, config, http, { listen: dp.bound, engine: dp.engine, workers: dp.workers(), zones: zones.zones().map((z) => z.origin) });
  const reloader = createReloader(config, log, registry, data, hubTarget(hub, dp, log), cluster);
  const health = startHealthChecks(config, hub.zones, hubWriter(hub), log);

  return {
    reload: (readConfig) => reloader.reload(readConfig),
    handOff: { sockets: () => dp.sockets(), http: () => httpSocket(config, http) },
    async close(): Promise<void> {
      log.info({ graceMs: config.shutdownGraceMs }, 'shutting down: answering the queries already received');
      cluster?.close();
      health?.close();
      transfers?.close();
      await dp.close();
      await dnstap?.close();
      if (http !== null) await http.close();
      log.info('stopped');
    },
  };
}

/** What the inspection API reads: the zones, the cluster source, and kdns's own DNS port to resolve through. */
function inspectSource(
  zones: ZoneSet, cluster: ClusterZone | null, startedAt: number, bound: BoundAddress[], upstreams: InspectSource['upstreams'],
): InspectSource {
  const first = bound[0];
  const host = first === undefined ? null : first.address === '0.0.0.0' ? '127.0.0.1' : first.address === '::' ? '::1' : first.address;
  const server = first === undefined || host === null ? null : host.includes(':') ? `[${host}]:${first.port}` : `${host}:${first.port}`;
  return { zones, cluster, startedAt, upstreams, dnsServer: () => server };
}

/**
 * Ready once the sources are and every answering worker serves what they had then: the hub version seen
 * when the sources first report ready is latched, and /ready waits until the workers applied it, so a
 * client that polls /ready never gets SERVFAIL from a worker a delta behind.
 */
function servedReadiness(sources: Readiness, hub: ZoneHub, dp: DataPlane): Readiness {
  let latched: number | null = null;
  return {
    note: sources.note,
    notReady: () => {
      const waiting = sources.notReady();
      if (waiting.length > 0) return waiting;
      latched ??= hub.version;
      return dp.servedVersion() >= latched ? [] : ['workers'];
    },
  };
}

function refuseClusterZoneClash(config: KdnsConfig, zones: ZoneSet): void {
  const origin = config.clusterDomain + '.';
  if (zones.get(origin) !== undefined) {
    throw new ConfigError(null, null, `the cluster domain ${origin} is also loaded from a zone file`);
  }
}

async function startHttpIfConfigured(
  config: KdnsConfig, registry: Registry, readiness: Readiness, log: Logger,
  extra: Pick<HttpDeps, 'metrics' | 'flushCache' | 'auth' | 'api'>, adoptedFd: number | null,
): Promise<HttpServer | null> {
  if (config.http === null) return null;
  return startHttp(config.http, {
    registry, isReady: () => readiness.notReady().length === 0, notReady: readiness.notReady, readyNote: readiness.note,
    log: log.child({ component: 'http' }), ...extra,
  }, adoptedFd);
}

/** The HTTP listener a successor takes over with the DNS sockets. */
function httpSocket(config: KdnsConfig, http: HttpServer | null): { host: string; port: number; fd: number } | null {
  return config.http === null || http === null || http.fd === null ? null : { host: config.http.host, port: http.port, fd: http.fd };
}

/** The one line tools and tests wait for: every socket is bound. */
function logServing(
  log: Logger, config: KdnsConfig, http: { port: number } | null,
  facts: { listen: BoundAddress[]; engine: string; workers: number; zones: string[] },
): void {
  log.info({
    ...facts,
    http: config.http === null || http === null ? null : { address: config.http.host, port: http.port },
    forwarding: !config.noForward,
    ...(config.views.length > 0 ? { views: config.views.map((v) => v.name) } : {}),
    version: KDNS_VERSION,
  }, 'serving');
}
