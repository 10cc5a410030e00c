import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { defaultConfig, mergeConfig } from '../config/load.js';
import type { KdnsConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { forwardOptions, loadStaticSources } from '../main.js';
import { TYPE_A } from '../dns/constants.js';
import type { ForwardOptions } from '../forward/options.js';
import { Reloader } from './reloader.js';
import { Zone, type ZoneSet } from '../zone/index.js';
import { hubTarget } from './targets.js';
import { ZoneHub } from '../worker/hub.js';

const dir = mkdtempSync(join(tmpdir(), 'kdns-reloader-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const silent = pino({ level: 'silent' });
const zoneFile = join(dir, 'r.zone');
const resolvConf = join(dir, 'resolv.conf');
const zone = (www: string): string => `$ORIGIN r.test.\n$TTL 60\n@ IN SOA ns h 1 1 1 1 1\n@ IN NS ns\nns IN A 10.0.0.1\nwww IN A ${www}\n`;

interface Rig {
  reloader: Reloader;
  /** The zones served (static ones, plus what a test adds as another source's). */
  zones: ZoneSet;
  registry: Registry;
  www(): string | null;
  forwards: ForwardOptions[];
}

/** A reloader over a real hub (no worker threads: nothing to wait for), recording forward changes. */
function rig(config: KdnsConfig): Rig {
  const data = loadStaticSources(config, silent);
  const hub = new ZoneHub(data.zones);
  hub.replaceLocal(data.hostRecords);
  const forwards: ForwardOptions[] = [];
  const target = hubTarget(hub, { reconfigureForward: async (o) => { forwards.push(o); }, synced: async () => true }, silent);
  const registry = new Registry();
  const reloader = new Reloader({
    config, log: silent, registry, target,
    staticOrigins: data.zones.zones().map((z) => z.origin), hostRecords: data.hostRecords,
    loadStatic: (next) => loadStaticSources(next, silent),
    forwardOptions: (next) => forwardOptions(next, config.listen),
  });
  const www = (): string | null => {
    const rrset = data.zones.get('r.test.')?.node('www.r.test.')?.rrsets.find((r) => r.type === TYPE_A);
    return rrset === undefined ? null : [...rrset.rdatas[0]!].join('.');
  };
  return { reloader, registry, www, forwards, zones: data.zones };
}

async function count(registry: Registry, name: string): Promise<number> {
  return (await registry.getSingleMetric(name)!.get()).values[0]?.value ?? 0;
}

t.test('signals during a reload fold into one more reload, which sees the latest files', async (t) => {
  writeFileSync(zoneFile, zone('10.0.0.2'));
  writeFileSync(resolvConf, 'nameserver 127.0.0.53\n');
  const config = mergeConfig(defaultConfig(), { zoneFiles: [{ file: zoneFile, origin: null }], resolvConf, listen: [{ host: '127.0.0.1', port: 0 }] });
  const r = rig(config);
  let reads = 0;
  const read = (): KdnsConfig => { reads++; return config; };
  writeFileSync(zoneFile, zone('10.0.0.3'));
  const outcomes = await Promise.all(Array.from({ length: 20 }, () => r.reloader.reload(read)));
  t.ok(outcomes.every((o) => o === 'reloaded'), 'every caller hears the outcome');
  t.equal(reads, 2, '20 signals: the running reload and one more');
  t.equal(r.www(), '10.0.0.3', 'the new zone content is served');
  t.equal(await count(r.registry, 'kdns_reload_successes_total'), 2);
  t.strictSame(r.forwards, [], 'forwarding unchanged: no reconfiguration');

  await t.test('an edited resolv.conf is a forward change', async (t) => {
    writeFileSync(resolvConf, 'nameserver 127.0.0.54\n');
    t.equal(await r.reloader.reload(read), 'reloaded');
    t.strictSame(r.forwards.map((f) => f.defaultUpstreams), [[{ host: '127.0.0.54', port: 53 }]]);
  });

  await t.test('a bad zone or a config error: nothing changes, the failure is counted', async (t) => {
    writeFileSync(zoneFile, zone('10.0.0.4') + 'bad IN A 1.2\n');
    t.equal(await r.reloader.reload(read), 'failed');
    t.equal(await r.reloader.reload(() => { throw new ConfigError('k.yaml', 3, 'workers: expected an integer'); }), 'failed');
    t.equal(r.www(), '10.0.0.3', 'still the previous content');
    t.equal(await count(r.registry, 'kdns_reload_failures_total'), 2);
  });
});

t.test('a zone file may not take the origin of a zone another source serves (cluster, dynamic)', async (t) => {
  writeFileSync(zoneFile, zone('10.0.0.2'));
  const config = mergeConfig(defaultConfig(), { zoneFiles: [{ file: zoneFile, origin: null }], noForward: true });
  const r = rig(config);
  r.zones.add(new Zone('dyn.test.')); // as startDynamicZones or the cluster source would
  const other = join(dir, 'dyn.zone');
  writeFileSync(other, zone('10.0.0.9').replace('r.test.', 'dyn.test.'));
  const next = mergeConfig(config, { zoneFiles: [{ file: zoneFile, origin: null }, { file: other, origin: null }] });
  t.equal(await r.reloader.reload(() => next), 'failed');
  t.equal(r.zones.get('dyn.test.')?.size, 0, 'the other source keeps its zone');
  t.equal(await count(r.registry, 'kdns_reload_failures_total'), 1);
});
