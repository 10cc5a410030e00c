// Wiring: sources → zones → responder → engine, plus the HTTP endpoints. `run` is what the CLI calls; it
// returns once every socket is bound and logs one "serving" line that tools and tests wait for.

import type { Logger } from 'pino';
import type { KdnsConfig } from './config/types.js';
import { ConfigError, SourceError } from './errors.js';
import { Zone, ZoneSet, rrsetFromRecords } from './zone/index.js';
import { loadZoneFile } from './sources/zonefile/parse.js';
import { loadHostsFile } from './sources/hosts/parse.js';
import { LocalNames } from './server/local-names.js';
import { Responder } from './server/responder.js';
import { createEngine } from './engine/index.js';
import type { PacketEngine } from './engine/types.js';
import { DnsCounters, registerDnsMetrics, serverLabel } from './metrics/dns.js';
import { createRegistry } from './metrics/registry.js';
import { KDNS_VERSION } from './config/version.js';
import { startHttp } from './http/server.js';
import type { Rr } from './dns/types.js';
import { clusterSourceConfigured, startClusterZone, type ClusterZone } from './sources/kubernetes/cluster-zone.js';

export interface RunningServer {
  close(): Promise<void>;
}

/** Loads every static source; a bad line throws SourceError (the CLI exits 2 on it). */
export function loadStaticSources(config: KdnsConfig, log: Logger): { zones: ZoneSet; local: LocalNames } {
  const zones = new ZoneSet();
  for (const { file, origin } of config.zoneFiles) {
    const parsed = loadZoneFile(file, origin ?? undefined);
    if (zones.get(parsed.origin) !== undefined) {
      throw new SourceError(file, null, `zone ${parsed.origin} is already loaded from another file`);
    }
    const zone = new Zone(parsed.origin);
    zone.replaceAll(rrsetFromRecords(parsed.records));
    zones.add(zone);
    log.info({ component: 'zonefile', file, origin: parsed.origin, records: parsed.records.length }, 'zone loaded');
  }
  const local = new LocalNames();
  const hostRecords: Rr[] = [];
  for (const file of config.hosts) {
    const records = loadHostsFile(file, config.hostsTtl);
    hostRecords.push(...records);
    log.info({ component: 'hosts', file, records: records.length }, 'hosts loaded');
  }
  local.replaceAll(hostRecords);
  return { zones, local };
}

export async function run(config: KdnsConfig, log: Logger): Promise<RunningServer> {
  const { zones, local } = loadStaticSources(config, log);
  if (!config.noForward) {
    log.warn({ component: 'forward' }, 'forwarding is not implemented yet: names outside local zones get REFUSED');
  }
  if (config.workers > 1) {
    log.info({ component: 'engine', workers: config.workers }, 'one data-plane thread in this build; --workers is not used yet');
  }

  const registry = createRegistry();
  const sab = DnsCounters.bufferFor(1);
  const counters = new DnsCounters(sab, 0);
  registerDnsMetrics(registry, sab, 1, { server: serverLabel(config.listen) });

  const responder = new Responder({ zones, local: [local], maxUdpPayload: config.maxUdpPayload, chaos: config.chaos });
  let cluster: ClusterZone | null = null;
  if (clusterSourceConfigured(config)) {
    cluster = await startClusterZone(config, log, {
      changed: (names) => responder.invalidateNames(names),
      reset: () => responder.invalidate(),
    });
    if (zones.get(cluster.zone.origin) !== undefined) {
      throw new ConfigError(null, null, `the cluster domain ${cluster.zone.origin} is also loaded from a zone file`);
    }
    zones.add(cluster.zone);
    responder.addLocal(cluster.reverse);
  }
  const notReady = (): string[] => (cluster !== null && !cluster.synced ? ['kubernetes'] : []);
  const engine: PacketEngine = createEngine(config.engine, {
    listen: config.listen,
    tcp: config.tcp,
    responder,
    log: log.child({ component: 'engine' }),
    observer: counters,
  });
  const bound = await engine.start();

  let http: { port: number; close(): Promise<void> } | null = null;
  if (config.http !== null) {
    http = await startHttp(config.http, {
      registry, isReady: () => notReady().length === 0, notReady, log: log.child({ component: 'http' }),
    });
  }
  log.info({
    listen: bound,
    http: config.http === null || http === null ? null : { address: config.http.host, port: http.port },
    engine: engine.name,
    zones: zones.zones().map((z) => z.origin),
    version: KDNS_VERSION,
  }, 'serving');

  return {
    async close(): Promise<void> {
      log.info('shutting down: draining TCP connections');
      cluster?.close();
      await engine.close();
      if (http !== null) await http.close();
      log.info('stopped');
    },
  };
}
