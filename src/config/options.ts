// The one table of settings. Each row is both a flag (`--tcp-idle-timeout`) and a config-file key
// (`tcp: {idle-timeout: ...}`): the flag is the key path joined with '-'. flags.ts, file.ts, the
// --help text and docs/configuration.md all follow this table, so they cannot drift apart.

import { dirname, isAbsolute, join } from 'node:path';
import type { ConfigLayer } from './types.js';
import {
  parseBool, parseChaosText, parseDomain, parseDurationMs, parseEngine, parseHttp, parseIntIn,
  parseListen, parseLogFormat, parseLogLevel, parseNonEmpty, parseNotifyTarget, parsePodMode, parseServer, parseZoneFile,
} from './values.js';
import { ValueProblem } from './values.js';
import { parseAddressRule } from '../forward/options.js';
import { parseTsigKey } from '../dynamic/tsig.js';
import { parseCidr } from '../forward/acl.js';
import { forwardRows } from './forward-rows.js';
import { parsePolicy } from '../policy/rules.js';
import { parseView } from '../views/rules.js';
import { DEFAULT_DNSTAP_BUFFER, MAX_DNSTAP_BUFFER, MIN_DNSTAP_BUFFER, parseDnstapTarget } from '../dnstap/config.js';

/**
 * 32 MiB per UDP socket (the kernel then accounts 64 MiB): a small query costs ~830 bytes of buffer on
 * loopback (more on most NICs), so ~80,000 queries wait there, ~270 ms at the measured peak of ~300k qps
 * per core: a burst or a pause of the event loop (GC, a large zone reload) that long loses nothing.
 * Memory is charged only while datagrams wait. docs/configuration.md says more.
 */
export const DEFAULT_UDP_BUFFER = 32 * 1024 * 1024;
const MAX_UDP_BUFFER = 1024 * 1024 * 1024;

/** Where a value came from: paths in a config file are relative to that file's directory. */
export interface ValueContext {
  configFile: string | null;
}

export interface OptionSpec {
  /** Config-file key path; null for flag-only options. */
  key: readonly string[] | null;
  /** Flag name without dashes; defaults to key.join('-'). */
  flag: string;
  short?: string;
  /** Placeholder shown in --help; absent for switches that take no value. */
  arg?: string;
  repeatable?: boolean;
  /** In the file, a list item may be a map: `{name: x, health-check: {port: 80}}` is read as `name=x,health-check.port=80`. */
  structured?: boolean;
  /** In the file, YAML null means the same as the text 'none'. */
  nullable?: boolean;
  defaultText: string;
  help: string;
  /** Parses one value (one item, for repeatable options) into the layer; throws ValueProblem. */
  apply(layer: ConfigLayer, value: string, ctx: ValueContext): void;
  /**
   * Checks this setting against others once the whole layer (or the merged config) is known, e.g.
   * a maximum below its minimum; throws ValueProblem. The error is reported at this setting.
   */
  check?(layer: ConfigLayer): void;
}

function rebase(path: string, ctx: ValueContext): string {
  if (ctx.configFile === null || isAbsolute(path)) return path;
  return join(dirname(ctx.configFile), path);
}

function opt(key: string[] | null, flag: string | null, rest: Omit<OptionSpec, 'key' | 'flag'>): OptionSpec {
  return { key, flag: flag ?? (key as string[]).join('-'), ...rest };
}

export const OPTIONS: readonly OptionSpec[] = [
  opt(null, 'config', {
    short: 'c', arg: 'FILE', defaultText: 'none',
    help: 'read settings from this YAML file; flags override it',
    apply: (l, v) => { l.configFile = parseNonEmpty(v); },
  }),
  opt(['listen'], null, {
    arg: 'ADDR:PORT', repeatable: true, defaultText: '127.0.0.1:5353',
    help: 'serve DNS on UDP and TCP at this address ([::1]:53 for IPv6)',
    apply: (l, v) => { (l.listen ??= []).push(parseListen(v)); },
  }),
  opt(['workers'], null, {
    arg: 'N', defaultText: 'number of CPUs',
    help: 'data-plane worker threads (the node engine runs one)',
    apply: (l, v) => { l.workers = parseIntIn(v, 1, 1024); },
  }),
  opt(['engine'], null, {
    arg: 'native|node|auto', defaultText: 'auto',
    help: 'packet engine; auto uses the native addon where it is built',
    apply: (l, v) => { l.engine = parseEngine(v); },
  }),
  opt(['zone-file'], null, {
    arg: 'FILE[@ORIGIN]', repeatable: true, defaultText: 'none',
    help: 'serve an RFC 1035 master file (origin from the SOA owner when not given)',
    apply: (l, v, ctx) => {
      const z = parseZoneFile(v);
      (l.zoneFiles ??= []).push({ file: rebase(z.file, ctx), origin: z.origin });
    },
  }),
  opt(['hosts'], null, {
    arg: 'FILE', repeatable: true, defaultText: 'none',
    help: 'serve the names in a hosts file (A, AAAA and PTR)',
    apply: (l, v, ctx) => { (l.hosts ??= []).push(rebase(parseNonEmpty(v), ctx)); },
  }),
  opt(['hosts-ttl'], null, {
    arg: 'SECONDS', defaultText: '60',
    help: 'TTL of records from hosts files',
    apply: (l, v) => { l.hostsTtl = parseIntIn(v, 0, 2_147_483_647); },
  }),
  opt(['dynamic-zones'], 'dynamic-zone', {
    arg: 'ZONE', repeatable: true, defaultText: 'none',
    help: 'a zone whose records are written at run time through the REST API (/api/v1), saved under --state-dir',
    apply: (l, v) => { (l.dynamicZones ??= []).push(parseDomain(v)); },
  }),
  opt(['state-dir'], null, {
    arg: 'DIR', defaultText: 'none (dynamic zones in memory only)',
    help: 'where kdns keeps state across restarts (dynamic zones, the last synced cluster zone)',
    apply: (l, v, ctx) => { l.stateDir = rebase(parseNonEmpty(v), ctx); },
  }),
  opt(['api-token-file'], null, {
    arg: 'FILE', defaultText: 'none (writes refused with 403)',
    help: 'bearer token (first line) that API writes and POST /cache/flush must present',
    apply: (l, v, ctx) => { l.apiTokenFile = rebase(parseNonEmpty(v), ctx); },
  }),
  opt(['tsig-keys'], 'tsig-key', {
    arg: 'NAME:ALGORITHM:BASE64SECRET', repeatable: true, defaultText: 'none (RFC 2136 updates refused)',
    help: 'a TSIG key (hmac-sha256, hmac-sha512, hmac-sha1, hmac-md5...) that may sign RFC 2136 updates of dynamic zones',
    apply: (l, v) => {
      try {
        (l.tsigKeys ??= []).push(parseTsigKey(v));
      } catch (e) {
        throw new ValueProblem((e as Error).message);
      }
    },
  }),
  opt(['policies'], 'policy', {
    arg: 'name|zone=DOMAIN,order=...,health-check.port=N,...', repeatable: true, structured: true, defaultText: 'none (fixed order, no checks)',
    help: 'answer policy for a name (or a zone: the name and all below): order=fixed|round-robin|random; health-check.port=N '
      + '(with .interval, .timeout, .failures) withdraws A/AAAA addresses that refuse TCP connections',
    apply: (l, v) => {
      const p = parsePolicy(v);
      if (l.policies?.some((q) => q.scope === p.scope && q.domain === p.domain)) {
        throw new ValueProblem(`expected one policy per name or zone, got ${p.scope}=${p.domain} twice`);
      }
      (l.policies ??= []).push(p);
    },
  }),
  opt(['views'], 'view', {
    arg: 'name=NAME,match-clients=CIDR,...', repeatable: true, structured: true, defaultText: 'none (every client sees everything)',
    help: 'a view: clients from match-clients (CIDR, !CIDR excludes, any; repeat the key for more) see its zone-files, the dynamic-zones '
      + 'it names, the cluster zone (cluster=true|false) and forwarding (forward=true|false); first match wins, other clients see the default view',
    apply: (l, v, ctx) => {
      const view = parseView(v, (path) => rebase(path, ctx));
      if (l.views?.some((w) => w.name === view.name)) throw new ValueProblem(`expected one view named ${view.name}, got it twice`);
      (l.views ??= []).push(view);
    },
    check: (l) => {
      for (const view of l.views ?? []) {
        const unknown = view.dynamicZones.find((z) => !(l.dynamicZones ?? []).includes(z));
        if (unknown !== undefined) throw new ValueProblem(`view ${view.name}: expected dynamic-zones among the --dynamic-zone zones, got ${unknown}`);
      }
    },
  }),
  opt(['transfer-to'], null, {
    arg: 'CIDR', repeatable: true, defaultText: 'none (AXFR and IXFR refused)',
    help: 'networks allowed zone transfers (AXFR, IXFR over TCP) of the cluster zone and the zone-file and dynamic zones',
    apply: (l, v) => {
      if (parseCidr(v) === null) throw new ValueProblem(`expected an address or CIDR (e.g. 10.0.0.0/8), got '${v}'`);
      (l.transferTo ??= []).push(v);
    },
  }),
  opt(['notify'], null, {
    arg: 'IP[#PORT]', repeatable: true, defaultText: 'none',
    help: 'a secondary told of every change of a transferable zone (RFC 1996 NOTIFY over UDP, port 53 unless given)',
    apply: (l, v) => { (l.notify ??= []).push(parseNotifyTarget(v)); },
  }),
  opt(['kubeconfig'], null, {
    arg: 'FILE', defaultText: 'none',
    help: 'watch the cluster this kubeconfig points at',
    apply: (l, v, ctx) => { l.kubeconfig = rebase(parseNonEmpty(v), ctx); },
  }),
  opt(['in-cluster'], null, {
    defaultText: 'false',
    help: 'watch the cluster kdns runs in (service account of the pod)',
    apply: (l, v) => { l.inCluster = parseBool(v); },
  }),
  opt(['manifests'], null, {
    arg: 'DIR', defaultText: 'none',
    help: 'serve the cluster zone from Kubernetes YAML in DIR (offline mode)',
    apply: (l, v, ctx) => { l.manifests = rebase(parseNonEmpty(v), ctx); },
  }),
  opt(['cluster-domain'], null, {
    arg: 'DOMAIN', defaultText: 'cluster.local',
    help: 'the cluster zone',
    apply: (l, v) => { l.clusterDomain = parseDomain(v).slice(0, -1); },
  }),
  opt(['kubernetes', 'ttl'], null, {
    arg: 'SECONDS', defaultText: '30',
    help: 'TTL of cluster records (dns-version.<zone> keeps 28800)',
    apply: (l, v) => { (l.kubernetes ??= {}).ttl = parseIntIn(v, 0, 3600); },
  }),
  opt(['kubernetes', 'pods'], null, {
    arg: 'disabled|insecure|verified', defaultText: 'insecure',
    help: 'pod records <a-b-c-d>.<ns>.pod.<zone>: none, any dashed IP, or only IPs of existing pods',
    apply: (l, v) => { (l.kubernetes ??= {}).pods = parsePodMode(v); },
  }),
  opt(['kubernetes', 'endpoints-api'], 'endpoints-api', {
    arg: 'endpointslices|endpoints', defaultText: 'endpointslices',
    help: 'watch discovery.k8s.io/v1 EndpointSlices, or legacy v1 Endpoints',
    apply: (l, v) => {
      if (v !== 'endpointslices' && v !== 'endpoints') throw new ValueProblem(`expected endpointslices or endpoints, got '${v}'`);
      (l.kubernetes ??= {}).endpointsApi = v;
    },
  }),
  opt(['server'], null, {
    arg: '/DOMAIN/[IP[#PORT]] | IP[#PORT]', repeatable: true, defaultText: 'nameservers in --resolv-conf',
    help: 'dnsmasq syntax: /a/b/IP sends a, b and names below them to IP; /a/ never forwards a; a bare IP is a default upstream; tls://IP[#PORT][@NAME] for DNS over TLS',
    apply: (l, v) => {
      const s = parseServer(v);
      // Both lists belong to this one option: a layer that sets `server` replaces both.
      l.routes ??= [];
      l.defaultUpstreams ??= [];
      if (s.kind === 'route') l.routes.push(s.route);
      else l.defaultUpstreams.push(s.upstream);
    },
  }),
  opt(['tls-ca'], null, {
    arg: 'FILE', defaultText: 'none',
    help: 'PEM file of CAs trusted for tls:// upstreams, besides Node\'s default list',
    apply: (l, v, ctx) => { l.tlsCa = rebase(parseNonEmpty(v), ctx); },
  }),
  opt(['resolv-conf'], null, {
    arg: 'FILE', defaultText: '/etc/resolv.conf',
    help: 'where default upstreams come from when no --server IP is given',
    apply: (l, v, ctx) => { l.resolvConf = rebase(parseNonEmpty(v), ctx); },
  }),
  opt(['address'], null, {
    arg: '/DOMAIN/[IP,...]', repeatable: true, defaultText: 'none',
    help: 'dnsmasq syntax: answer DOMAIN and names below it with these addresses (none: NXDOMAIN), never forward them',
    apply: (l, v) => {
      if (parseAddressRule(v) === null) throw new ValueProblem(`expected /DOMAIN/[IP,...], got '${v}'`);
      (l.addresses ??= []).push(v);
    },
  }),
  opt(['filter-aaaa'], null, {
    defaultText: 'false',
    help: 'answer NODATA to AAAA queries for forwarded names (IPv4-only clusters)',
    apply: (l, v) => { l.filterAaaa = parseBool(v); },
  }),
  opt(['no-forward'], null, {
    defaultText: 'false',
    help: 'answer only what kdns is authoritative for (REFUSED otherwise)',
    apply: (l, v) => { l.noForward = parseBool(v); },
  }),
  opt(['http'], null, {
    arg: 'ADDR:PORT|none', nullable: true, defaultText: '127.0.0.1:9153',
    help: 'serve /metrics /health /ready, the dashboard (/) and /api/v1 here',
    apply: (l, v) => { l.http = parseHttp(v); },
  }),
  opt(['top-talkers'], null, {
    defaultText: 'true',
    help: 'rank clients, names, NXDOMAIN names and namespaces over the last minute (dashboard, /api/v1/stats/top)',
    apply: (l, v) => { l.topTalkers = parseBool(v); },
  }),
  opt(null, 'no-http', {
    defaultText: 'false',
    help: 'same as --http none',
    apply: (l, v) => { if (parseBool(v)) l.http = null; },
  }),
  opt(['chaos', 'version-bind'], null, {
    arg: 'TEXT|none', nullable: true, defaultText: 'kdns <version>',
    help: 'TXT answer to version.bind CH; none answers REFUSED',
    apply: (l, v) => { (l.chaos ??= {}).versionBind = parseChaosText(v); },
  }),
  opt(['chaos', 'id-server'], null, {
    arg: 'TEXT|none', nullable: true, defaultText: 'the host name',
    help: 'TXT answer to id.server and hostname.bind CH; none answers REFUSED',
    apply: (l, v) => { (l.chaos ??= {}).idServer = parseChaosText(v); },
  }),
  opt(['tcp', 'idle-timeout'], null, {
    arg: 'DURATION', defaultText: '10s',
    help: 'close a TCP connection idle this long (e.g. 10s, 500ms)',
    apply: (l, v) => { (l.tcp ??= {}).idleTimeoutMs = parseDurationMs(v); },
  }),
  opt(['tcp', 'max-connections'], null, {
    arg: 'N', defaultText: '1000',
    help: 'TCP connections per worker; at the cap the longest-idle one is closed for a new one',
    apply: (l, v) => { (l.tcp ??= {}).maxConnections = parseIntIn(v, 1, 1_000_000); },
  }),
  opt(['tcp', 'max-queries-in-flight'], null, {
    arg: 'N', defaultText: '64',
    help: 'forwarded queries one TCP connection may have unanswered; kdns reads no more until one is answered',
    apply: (l, v) => { (l.tcp ??= {}).maxQueriesInFlightPerConnection = parseIntIn(v, 1, 65535); },
  }),
  opt(['tcp', 'message-timeout'], null, {
    arg: 'DURATION', defaultText: '3s',
    help: 'a whole TCP message must arrive within this long of its first byte, else the connection is closed',
    apply: (l, v) => { (l.tcp ??= {}).messageTimeoutMs = parseDurationMs(v); },
  }),
  ...rateLimitRows(),
  ...forwardRows(opt),
  opt(['max-udp-payload'], null, {
    arg: 'BYTES', defaultText: '1232',
    help: 'EDNS UDP size we advertise and the cap on UDP responses',
    apply: (l, v) => { l.maxUdpPayload = parseIntIn(v, 512, 65535); },
  }),
  opt(['shutdown-grace'], null, {
    arg: 'DURATION', defaultText: '5s',
    help: 'on SIGTERM/SIGINT, stop reading and answer what was received (forwarded queries too) for up to this long',
    apply: (l, v) => { l.shutdownGraceMs = parseDurationMs(v); },
  }),
  opt(null, 'takeover', {
    defaultText: 'false',
    help: 'take over the sockets of the kdns serving the same --listen addresses (no query lost; it exits 0); starts afresh when none does',
    apply: (l, v) => { l.takeover = parseBool(v); },
  }),
  opt(['udp-buffer'], null, {
    arg: 'BYTES', defaultText: String(DEFAULT_UDP_BUFFER),
    help: 'receive buffer of each UDP socket (SO_RCVBUFFORCE when permitted, else capped by net.core.rmem_max); 0: kernel default',
    apply: (l, v) => { l.udpBuffer = parseIntIn(v, 0, MAX_UDP_BUFFER); },
  }),
  opt(['dnstap'], null, {
    arg: 'FILE|unix:PATH', nullable: true, defaultText: 'none',
    help: 'log client queries and responses, and queries to upstreams, as dnstap (Frame Streams) to a file or a unix socket',
    apply: (l, v, ctx) => {
      const target = parseDnstapTarget(v);
      l.dnstap = target === null || target.startsWith('unix:') ? target : rebase(target, ctx);
    },
  }),
  opt(['dnstap-sample'], null, {
    arg: 'N', defaultText: '1',
    help: 'log one exchange in N (client and upstream exchanges counted apart); 1 logs all',
    apply: (l, v) => { l.dnstapSample = parseIntIn(v, 1, 1_000_000); },
  }),
  opt(['dnstap-buffer'], null, {
    arg: 'BYTES', defaultText: String(DEFAULT_DNSTAP_BUFFER),
    help: 'dnstap queue per data-plane thread, and the writer\'s backlog; past it frames are dropped and counted',
    apply: (l, v) => { l.dnstapBuffer = parseIntIn(v, MIN_DNSTAP_BUFFER, MAX_DNSTAP_BUFFER); },
  }),
  opt(['log-level'], null, {
    arg: 'LEVEL', defaultText: 'info',
    help: 'trace, debug, info, warn, error, fatal or silent',
    apply: (l, v) => { l.logLevel = parseLogLevel(v); },
  }),
  opt(['log-format'], null, {
    arg: 'json|text|auto', defaultText: 'auto',
    help: 'log lines as JSON, as readable text, or auto: text on a terminal, JSON to files and pipes',
    apply: (l, v) => { l.logFormat = parseLogFormat(v); },
  }),
];

/**
 * The `rate-limit:` section, with bind9's key names (plus `queries-per-second`); flags are `--rrl-KEY`.
 * Limits are bind9's: rates up to 1000, slip 0-10, window 1-3600 seconds.
 */
function rateLimitRows(): OptionSpec[] {
  type IntField = 'responsesPerSecond' | 'nxdomainsPerSecond' | 'nodataPerSecond' | 'referralsPerSecond' | 'errorsPerSecond'
    | 'slip' | 'window' | 'ipv4PrefixLength' | 'ipv6PrefixLength' | 'maxTableSize' | 'queriesPerSecond';
  const int = (key: string, field: IntField, arg: string, [min, max]: [number, number], defaultText: string, help: string): OptionSpec =>
    opt(['rate-limit', key], `rrl-${key}`, {
      arg, defaultText, help, apply: (l, v) => { (l.rateLimit ??= {})[field] = parseIntIn(v, min, max); },
    });
  const RATE: [number, number] = [0, 1000];
  const perSecond = (what: string): string => `${what} per second per client block (0: not limited)`;
  return [
    int('responses-per-second', 'responsesPerSecond', 'N', RATE, '0',
      'response-rate limiting: answers per second per client block, name and type (0: off)'),
    int('nxdomains-per-second', 'nxdomainsPerSecond', 'N', RATE, 'responses-per-second', perSecond('NXDOMAIN answers')),
    int('nodata-per-second', 'nodataPerSecond', 'N', RATE, 'responses-per-second', perSecond('NODATA answers')),
    int('referrals-per-second', 'referralsPerSecond', 'N', RATE, 'responses-per-second', perSecond('referrals')),
    int('errors-per-second', 'errorsPerSecond', 'N', RATE, 'responses-per-second', perSecond('error answers (REFUSED, SERVFAIL, FORMERR...)')),
    int('slip', 'slip', 'N', [0, 10], '2', 'every Nth limited answer is sent truncated (TC=1) instead of dropped; 0 never, 1 always'),
    int('window', 'window', 'SECONDS', [1, 3600], '15', 'seconds of debt a limited client block must work off'),
    opt(['rate-limit', 'exempt-clients'], 'rrl-exempt-clients', {
      arg: 'CIDR', repeatable: true, defaultText: 'none', help: 'never rate limit these networks',
      apply: (l, v) => {
        if (parseCidr(v) === null) throw new ValueProblem(`expected an address or CIDR (e.g. 10.0.0.0/8), got '${v}'`);
        (l.rateLimit ??= {}).exemptClients = [...(l.rateLimit.exemptClients ?? []), v];
      },
    }),
    opt(['rate-limit', 'log-only'], 'rrl-log-only', {
      defaultText: 'false', help: 'count and log what would be limited, but answer everything',
      apply: (l, v) => { (l.rateLimit ??= {}).logOnly = parseBool(v); },
    }),
    int('ipv4-prefix-length', 'ipv4PrefixLength', 'BITS', [0, 32], '24', 'IPv4 clients in one such network share their limits'),
    int('ipv6-prefix-length', 'ipv6PrefixLength', 'BITS', [0, 128], '56', 'IPv6 clients in one such network share their limits'),
    int('max-table-size', 'maxTableSize', 'N', [1, 10_000_000], '20000', 'rate-limit buckets (all workers); past it the least recently used is reused'),
    int('queries-per-second', 'queriesPerSecond', 'N', [0, 1_000_000], '0',
      'queries per second per client address beyond which queries are dropped unanswered (0: off)'),
  ];
}

export const OPTION_BY_FLAG: ReadonlyMap<string, OptionSpec> = new Map(
  OPTIONS.flatMap((o) => (o.short ? [[o.flag, o], [o.short, o]] : [[o.flag, o]])),
);
