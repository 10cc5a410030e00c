// The typed configuration every component reads. Built once at start-up by load.ts from
// defaults ← config file ← flags; nothing else parses argv or YAML.

/** An IP address and port. Port 0 asks the OS for an ephemeral port (tests). */
export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * A forwarding upstream. With `tls` set it speaks DNS over TLS (RFC 7858): the certificate must carry
 * `serverName` (also sent as SNI), or the IP address itself when `serverName` is null.
 */
export interface UpstreamAddress extends ListenAddress {
  tls?: { serverName: string | null };
}

/**
 * One dnsmasq `--server=/a/b/...` line. Domains are keys: lower case with the trailing dot
 * ("corp.lan."). `servers` empty and `localOnly` false means "use the default upstreams"
 * (dnsmasq's `--server=/a/#`); `localOnly` true means never forward (`--server=/a/`).
 */
export interface UpstreamRoute {
  domains: string[];
  servers: UpstreamAddress[];
  localOnly: boolean;
}

export type EngineName = 'native' | 'node' | 'auto';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
/** JSON lines, readable text lines, or text on a terminal and JSON otherwise. */
export type LogFormat = 'json' | 'text' | 'auto';

export interface ChaosConfig {
  /** TXT for version.bind CH; null answers REFUSED. */
  versionBind: string | null;
  /** TXT for id.server / hostname.bind CH; null answers REFUSED. */
  idServer: string | null;
}

export interface TcpConfig {
  /** A connection with no traffic this long is closed (its slot freed). */
  idleTimeoutMs: number;
  /** Per worker; at the cap the longest-idle connection is closed to admit a new one (RFC 7766 §6.2.3). */
  maxConnections: number;
  /** Forwarded queries one connection may have unanswered; at this many kdns stops reading it until one is answered. */
  maxQueriesInFlightPerConnection: number;
  /** A whole message must arrive within this long of its first byte; a slower one closes the connection. */
  messageTimeoutMs: number;
}

import type { CacheOptions, ForwardOptions, PrefetchOptions } from '../forward/options.js';
import type { TsigKey } from '../dynamic/tsig.js';
import type { RateLimitConfig } from '../rate-limit/config.js';
import type { AnswerPolicy } from '../policy/rules.js';
import type { ViewDefinition } from '../views/rules.js';

export type PodMode = 'disabled' | 'insecure' | 'verified';

/** The cluster zone's own settings (the source is chosen by kubeconfig / in-cluster / manifests). */
export interface KubernetesConfig {
  /** TTL of cluster records (dns-version keeps 28800). */
  ttl: number;
  /** Pod records <a-b-c-d>.<ns>.pod.<zone>: none, any dashed IP, or only IPs of existing pods. */
  pods: PodMode;
  /** Where endpoints come from: discovery.k8s.io/v1 EndpointSlices (default) or legacy v1 Endpoints. */
  endpointsApi: 'endpointslices' | 'endpoints';
}

export interface KdnsConfig {
  configFile: string | null;
  listen: ListenAddress[];
  workers: number;
  engine: EngineName;
  /** Origin is a key ("example.com.") or null to take it from the file's $ORIGIN / SOA. */
  zoneFiles: { file: string; origin: string | null }[];
  hosts: string[];
  hostsTtl: number;
  /** Zones written at run time (keys, "example.com."). */
  dynamicZones: string[];
  /** Where state survives restarts; null: nowhere. */
  stateDir: string | null;
  /** Networks (CIDR text) allowed AXFR/IXFR over TCP; empty: transfers refused (src/transfer). */
  transferTo: string[];
  /** Secondaries sent a NOTIFY when a transferable zone's serial moves. */
  notify: ListenAddress[];
  /** File holding the bearer token for state-changing HTTP requests; null: they are refused. */
  apiTokenFile: string | null;
  /** Keys that may sign RFC 2136 updates of dynamic zones. */
  tsigKeys: TsigKey[];
  kubeconfig: string | null;
  inCluster: boolean;
  manifests: string | null;
  /** Lower case, no trailing dot ("cluster.local"). */
  clusterDomain: string;
  routes: UpstreamRoute[];
  defaultUpstreams: UpstreamAddress[];
  /** PEM file of CAs trusted for TLS upstreams, besides Node's default list; null: the default list only. */
  tlsCa: string | null;
  resolvConf: string;
  noForward: boolean;
  /** dnsmasq --address=/x.test/1.2.3.4 lines, kept as text; the forward component parses them. */
  addresses: string[];
  /** NODATA for AAAA of forwarded names. */
  filterAaaa: boolean;
  /** Tunables of the `forward:` section (`--forward-*` flags); null when none is given (defaults). */
  forward: ForwardOptions | null;
  http: ListenAddress | null;
  /** Rank clients and names over the last minute (src/stats) for /api/v1/stats/top and the dashboard. */
  topTalkers: boolean;
  kubernetes: KubernetesConfig;
  chaos: ChaosConfig;
  tcp: TcpConfig;
  /** Response-rate limiting and the per-client query limit (`rate-limit:`; off by default). */
  rateLimit: RateLimitConfig;
  /** What we advertise in OPT and the cap on UDP responses. */
  maxUdpPayload: number;
  /** On SIGTERM/SIGINT: how long queries already received (forwarded ones too) may take to be answered. */
  shutdownGraceMs: number;
  /** --takeover: a kdns already serving the listen addresses hands its sockets over instead of refusing us (src/takeover). */
  takeover: boolean;
  /** SO_RCVBUF asked for on every UDP listening socket, in bytes; 0 keeps the kernel's default. */
  udpBuffer: number;
  /** dnstap query log: a file path or `unix:PATH` (src/dnstap); null: off. */
  dnstap: string | null;
  /** Log one client exchange (and one upstream exchange) in N. */
  dnstapSample: number;
  /** Bytes of each data-plane thread's dnstap ring, and of the writer's backlog before it drops. */
  dnstapBuffer: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Answer order and health checks per name or zone (`policies:`, `--policy`; src/policy). */
  policies: AnswerPolicy[];
  /** Views by client source network, first match wins (`views:`, `--view`; src/views); empty: one view of everything. */
  views: ViewDefinition[];
}

/**
 * One layer of settings (the file's, or the flags'). Nested groups are partial too, so that
 * `--tcp-idle-timeout` alone does not reset `tcp.max-connections` from the file.
 */
export type ConfigLayer = Omit<Partial<KdnsConfig>, 'chaos' | 'tcp' | 'kubernetes' | 'rateLimit' | 'forward'> & {
  forward?: ForwardLayer;
  rateLimit?: Partial<RateLimitConfig>;
  kubernetes?: Partial<KubernetesConfig>;
  chaos?: Partial<ChaosConfig>;
  tcp?: Partial<TcpConfig>;
};

/** The `forward:` settings one layer gives; the rest come from the layer below or the defaults. */
export type ForwardLayer = Partial<Omit<ForwardOptions, 'cache'>> & {
  cache?: Partial<Omit<CacheOptions, 'prefetch'>> & { prefetch?: Partial<PrefetchOptions> };
};
