// What a data-plane worker is told about the configuration: the settings its engine, responder and rules
// need, and nothing else (sources, HTTP, dynamic zones and reloads stay on the main thread). Built once
// from the config at start; a SIGHUP does not change them (src/reload/settings.ts: restart-only).

import type { ChaosConfig, EngineName, KdnsConfig, ListenAddress, LogLevel, TcpConfig } from '../config/types.js';
import type { RateLimitConfig } from '../rate-limit/config.js';
import type { AnswerPolicy } from '../policy/rules.js';
import type { ViewDefinition } from '../views/rules.js';
import { topTalkersOn } from '../stats/top-talkers.js';
import type { PodRecordSettings } from '../sources/kubernetes/pod-records.js';

export interface DataPlaneSettings {
  /** The configured addresses; workers after the first bind the concrete ports the first one got. */
  listen: ListenAddress[];
  engine: EngineName;
  tcp: TcpConfig;
  /** How long `close` may take to answer the queries already received (EngineOptions.shutdownGraceMs). */
  shutdownGraceMs: number;
  /** UDP response-rate limiting, one limiter per worker over buckets all workers share (src/rate-limit). */
  rateLimit: RateLimitConfig;
  maxUdpPayload: number;
  /** SO_RCVBUF for the UDP sockets, bytes (0: kernel default). */
  udpBuffer: number;
  chaos: ChaosConfig;
  logLevel: LogLevel;
  /** Insecure-mode pod records of the cluster zone: a rule each worker applies; null: none. */
  podRecords: PodRecordSettings | null;
  /** Answer policies: the worker applies their order (health checks run on the main thread). */
  policies: AnswerPolicy[];
  /** Top talkers (src/stats) with this cluster domain for the namespace list; null: off. */
  topTalkers: { clusterDomain: string } | null;
  /** Views by client network (src/views): one responder each; [] for one view of everything. */
  views: ViewDefinition[];
  /** The cluster zone's origin when a cluster source feeds it (the views that see it); null otherwise. */
  clusterZone: string | null;
}

export function dataPlaneSettings(config: KdnsConfig): DataPlaneSettings {
  const cluster = config.kubeconfig !== null || config.inCluster || config.manifests !== null;
  return {
    listen: config.listen,
    engine: config.engine,
    tcp: config.tcp,
    shutdownGraceMs: config.shutdownGraceMs,
    rateLimit: config.rateLimit,
    maxUdpPayload: config.maxUdpPayload,
    udpBuffer: config.udpBuffer,
    chaos: config.chaos,
    logLevel: config.logLevel,
    // Verified-mode pod records are data in the zone (cluster-state.ts); only insecure mode is a rule.
    podRecords: cluster && config.kubernetes.pods === 'insecure'
      ? { zone: config.clusterDomain + '.', ttl: config.kubernetes.ttl } : null,
    policies: config.policies,
    topTalkers: topTalkersOn(config) ? { clusterDomain: config.clusterDomain } : null,
    views: config.views,
    clusterZone: cluster ? config.clusterDomain + '.' : null,
  };
}
