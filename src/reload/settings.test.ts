import t from 'tap';
import { defaultConfig, mergeConfig } from '../config/load.js';
import type { ConfigLayer } from '../config/types.js';
import { defaultForwardOptions } from '../forward/options.js';
import { reloadable } from './settings.js';

const base = mergeConfig(defaultConfig(), { zoneFiles: [{ file: 'a.zone', origin: null }], hosts: ['h'] });

t.test('a table of changes: applied live, or left for a restart', async (t) => {
  const cases: Array<[string, ConfigLayer, string[]]> = [
    ['zone files', { zoneFiles: [{ file: 'b.zone', origin: null }] }, []],
    ['hosts files and their TTL', { hosts: ['h2'], hostsTtl: 5 }, []],
    ['a forward route and default upstreams', { routes: [{ domains: ['x.'], servers: [{ host: '127.0.0.1', port: 9 }], localOnly: false }], defaultUpstreams: [{ host: '127.0.0.2', port: 53 }] }, []],
    ['--address and --filter-aaaa', { addresses: ['/a.test/1.2.3.4'], filterAaaa: true }, []],
    ['listen', { listen: [{ host: '127.0.0.1', port: 53 }] }, ['listen']],
    ['workers and engine', { workers: 7, engine: 'node' }, ['workers', 'engine']],
    ['a tcp field', { tcp: { idleTimeoutMs: 1 } }, ['tcp']],
    ['the UDP payload cap and log level', { maxUdpPayload: 4096, logLevel: 'debug' }, ['max-udp-payload', 'log-level']],
    ['the cluster settings', { clusterDomain: 'c.test', kubernetes: { ttl: 5 } }, ['cluster-domain', 'kubernetes']],
    ['forwarding off', { noForward: true }, ['no-forward']],
  ];
  for (const [what, layer, restart] of cases) {
    const next = mergeConfig(base, layer);
    const r = reloadable(base, next);
    t.strictSame(r.needsRestart, restart, `${what}: needs restart ${JSON.stringify(restart)}`);
    for (const key of ['zoneFiles', 'hosts', 'hostsTtl', 'routes', 'defaultUpstreams', 'addresses', 'filterAaaa'] as const) {
      t.strictSame(r.config[key], next[key], `${what}: ${key} taken from the new config`);
    }
    for (const key of ['listen', 'workers', 'engine', 'tcp', 'maxUdpPayload', 'noForward'] as const) {
      t.strictSame(r.config[key], base[key], `${what}: ${key} kept`);
    }
  }
});

t.test('forward section: policy and timeout live; cache and access list need a restart', async (t) => {
  const next = { ...defaultForwardOptions(), policy: 'round_robin' as const, timeoutMs: 500, allowNetworks: ['10.0.0.0/8'] };
  next.cache = { ...next.cache, maxEntries: 5 };
  const r = reloadable(base, { ...base, forward: next });
  t.strictSame(r.needsRestart.sort(), ['forward.allow-networks', 'forward.cache']);
  t.equal(r.config.forward?.policy, 'round_robin');
  t.equal(r.config.forward?.timeoutMs, 500);
  t.strictSame(r.config.forward?.allowNetworks, defaultForwardOptions().allowNetworks, 'access list kept');
  t.equal(r.config.forward?.cache.maxEntries, defaultForwardOptions().cache.maxEntries, 'cache size kept');
  t.strictSame(reloadable(base, base), { config: base, needsRestart: [] }, 'nothing changed: nothing to do');
});
