// defaults ← config file ← flags → KdnsConfig, then the checks that need the whole picture.

import { readFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { ConfigError } from '../errors.js';
import { parseConfigFile } from './file.js';
import { parseFlags } from './flags.js';
import type { ConfigLayer, ForwardLayer, KdnsConfig } from './types.js';
import { DEFAULT_UDP_BUFFER, OPTIONS } from './options.js';
import { liftProbeCap, mergeForward } from './forward-rows.js';
import { ValueProblem } from './values.js';
import { defaultForwardOptions } from '../forward/options.js';
import { KDNS_VERSION } from './version.js';
import { defaultRateLimit } from '../rate-limit/config.js';
import { DEFAULT_DNSTAP_BUFFER } from '../dnstap/config.js';

export function defaultConfig(): KdnsConfig {
  return {
    configFile: null,
    listen: [{ host: '127.0.0.1', port: 5353 }],
    workers: availableParallelism(),
    engine: 'auto',
    zoneFiles: [],
    hosts: [],
    hostsTtl: 60,
    dynamicZones: [],
    stateDir: null,
    transferTo: [],
    notify: [],
    apiTokenFile: null,
    tsigKeys: [],
    kubeconfig: null,
    inCluster: false,
    manifests: null,
    clusterDomain: 'cluster.local',
    routes: [],
    defaultUpstreams: [],
    resolvConf: '/etc/resolv.conf',
    tlsCa: null,
    noForward: false,
    addresses: [],
    filterAaaa: false,
    forward: null,
    http: { host: '127.0.0.1', port: 9153 },
    topTalkers: true,
    kubernetes: { ttl: 30, pods: 'insecure', endpointsApi: 'endpointslices' },
    chaos: { versionBind: `kdns ${KDNS_VERSION}`, idServer: hostname() },
    tcp: { idleTimeoutMs: 10_000, maxConnections: 1000, maxQueriesInFlightPerConnection: 64, messageTimeoutMs: 3000 },
    rateLimit: defaultRateLimit(),
    maxUdpPayload: 1232,
    shutdownGraceMs: 5000,
    takeover: false,
    udpBuffer: DEFAULT_UDP_BUFFER,
    dnstap: null,
    dnstapSample: 1,
    dnstapBuffer: DEFAULT_DNSTAP_BUFFER,
    logLevel: 'info',
    logFormat: 'auto',
    policies: [],
    views: [],
  };
}

const GROUPS = new Set(['chaos', 'tcp', 'kubernetes', 'rateLimit']);

/** Later layers win, per setting; nested groups (kubernetes, chaos, tcp, rateLimit) merge per field. */
export function mergeConfig(base: KdnsConfig, ...layers: ConfigLayer[]): KdnsConfig {
  const out: KdnsConfig = {
    ...base, kubernetes: { ...base.kubernetes }, chaos: { ...base.chaos }, tcp: { ...base.tcp }, rateLimit: { ...base.rateLimit },
  };
  const target = out as unknown as Record<string, unknown>;
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) {
      if (v === undefined) continue;
      if (k === 'forward') out.forward = mergeForward(out.forward ?? defaultForwardOptions(), v as ForwardLayer);
      else if (GROUPS.has(k)) Object.assign(target[k] as object, definedOnly(v as object));
      else if (k in base) target[k] = v;
    }
  }
  if (out.forward !== null) liftProbeCap(out.forward, layers);
  validate(out);
  return out;
}

function definedOnly(o: object): object {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function validate(c: KdnsConfig): void {
  // The same checks as within one layer, for settings that came from different layers.
  const asLayer: ConfigLayer = { ...c, forward: c.forward ?? undefined };
  for (const o of OPTIONS) {
    try {
      o.check?.(asLayer);
    } catch (e) {
      if (e instanceof ValueProblem) throw new ConfigError(c.configFile, null, `${o.key?.join('.') ?? o.flag}: ${e.message}`);
      throw e;
    }
  }
  const clusterSources = [
    c.kubeconfig !== null ? '--kubeconfig' : '',
    c.inCluster ? '--in-cluster' : '',
    c.manifests !== null ? '--manifests' : '',
  ].filter((s) => s !== '');
  if (clusterSources.length > 1) {
    throw new ConfigError(c.configFile, null, `${clusterSources.join(' and ')} both feed the cluster zone; choose one`);
  }
  if (c.tlsCa !== null) checkCaFile(c.tlsCa, c.configFile);
  const seen = new Set<string>();
  for (const l of c.listen) {
    const key = `${l.host}|${l.port}`;
    // Port 0 is ephemeral: two of them are two different sockets.
    if (l.port !== 0 && seen.has(key)) {
      throw new ConfigError(c.configFile, null, `listen address ${l.host}:${l.port} is given twice`);
    }
    seen.add(key);
  }
}

/** The --tls-ca file must be readable PEM with a certificate, or kdns would only find out at the first TLS query. */
function checkCaFile(path: string, configFile: string | null): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(configFile, null, `tls-ca ${path}: cannot read it: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError(configFile, null, `tls-ca ${path}: expected PEM certificates (-----BEGIN CERTIFICATE-----), found none`);
  }
}

/** Reads argv and the file it names. Throws ConfigError; never exits. */
export function loadConfig(argv: string[]): KdnsConfig {
  const { flags } = parseFlags(argv);
  const layers: ConfigLayer[] = [];
  const file = flags.configFile ?? null;
  if (file !== null) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(file, null, `cannot read config file: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    layers.push(parseConfigFile(text, file));
  }
  const { help: _help, version: _version, ...flagLayer } = flags;
  layers.push(flagLayer);
  return mergeConfig(defaultConfig(), ...layers);
}
