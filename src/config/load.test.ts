import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { defaultConfig, loadConfig, mergeConfig } from './load.js';
import { KDNS_VERSION } from './version.js';

const dir = mkdtempSync(join(tmpdir(), 'kdns-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

t.test('defaults', async (t) => {
  const c = loadConfig([]);
  t.strictSame(c.listen, [{ host: '127.0.0.1', port: 5353 }]);
  t.ok(c.workers >= 1);
  t.equal(c.engine, 'auto');
  t.equal(c.clusterDomain, 'cluster.local');
  t.strictSame(c.http, { host: '127.0.0.1', port: 9153 });
  t.equal(c.chaos.versionBind, `kdns ${KDNS_VERSION}`);
  t.match(KDNS_VERSION, /^\d+\.\d+\.\d+/);
  t.type(c.chaos.idServer, 'string');
  t.strictSame(c.tcp, { idleTimeoutMs: 10000, maxConnections: 1000, maxQueriesInFlightPerConnection: 64, messageTimeoutMs: 3000 });
  t.equal(c.maxUdpPayload, 1232);
  t.equal(c.shutdownGraceMs, 5000);
  t.equal(c.hostsTtl, 60);
  t.equal(c.resolvConf, '/etc/resolv.conf');
  t.equal(c.logLevel, 'info');
  t.equal(c.configFile, null);
});

t.test('flags override the file, per setting and per nested field', async (t) => {
  const file = write('a.yaml', [
    'listen: [0.0.0.0:53]',
    'workers: 3',
    'server: [/corp.lan/10.0.0.1, 9.9.9.9]',
    'tcp: {idle-timeout: 2s, max-connections: 7}',
    'chaos: {id-server: from-file}',
    'zone-file: [db.example@example.com]',
  ].join('\n'));
  const c = loadConfig(['-c', file, '--workers', '5', '--tcp-idle-timeout=3s', '--server', '1.1.1.1']);
  t.equal(c.configFile, file);
  t.strictSame(c.listen, [{ host: '0.0.0.0', port: 53 }], 'file beats default');
  t.equal(c.workers, 5, 'flag beats file');
  t.strictSame(c.tcp, { idleTimeoutMs: 3000, maxConnections: 7, maxQueriesInFlightPerConnection: 64, messageTimeoutMs: 3000 });
  t.equal(c.chaos.idServer, 'from-file');
  t.equal(c.chaos.versionBind, `kdns ${KDNS_VERSION}`);
  t.strictSame(c.defaultUpstreams, [{ host: '1.1.1.1', port: 53 }], '--server replaces the file list');
  t.strictSame(c.routes, [], '--server replaces the file routes too');
  t.strictSame(c.zoneFiles, [{ file: join(dir, 'db.example'), origin: 'example.com.' }], 'relative to the file');
});

t.test('rate-limit: off by default; flags replace only their own field', async (t) => {
  t.equal(loadConfig([]).rateLimit.responsesPerSecond, 0, 'off by default');
  const file = write('rrl.yaml', 'rate-limit: {responses-per-second: 5, slip: 0, window: 3}\n');
  const c = loadConfig(['-c', file, '--rrl-slip', '1']);
  t.equal(c.rateLimit.responsesPerSecond, 5);
  t.equal(c.rateLimit.slip, 1, 'flag beats file');
  t.equal(c.rateLimit.window, 3, 'file field kept');
  t.equal(c.rateLimit.ipv6PrefixLength, 56, 'default kept');
  t.equal(c.rateLimit.nxdomainsPerSecond, null, 'unset: follows responses-per-second');
});

t.test('errors', async (t) => {
  const missing = join(dir, 'missing.yaml');
  t.throws(() => loadConfig(['-c', missing]), { code: 'KDNS_CONFIG_INVALID', message: `${missing}: cannot read config file: ENOENT` });
  const bad = write('bad.yaml', 'workers: 2\nengine: turbo\n');
  t.throws(() => loadConfig(['--config', bad]), { message: `${bad}:2: engine: expected one of native, node, auto, got 'turbo'` });
  t.throws(() => loadConfig(['--kubeconfig', 'k', '--manifests', 'm']),
    { message: '--kubeconfig and --manifests both feed the cluster zone; choose one' });
  t.throws(() => loadConfig(['--listen', '127.0.0.1:53', '--listen', '127.0.0.1:53']),
    { message: 'listen address 127.0.0.1:53 is given twice' });
  const err = t.throws(() => loadConfig(['--bogus']));
  t.type(err, ConfigError);
  t.throws(() => loadConfig(['--tls-ca', join(dir, 'no-ca.pem')]), { message: `tls-ca ${join(dir, 'no-ca.pem')}: cannot read it: ENOENT` });
  const notPem = write('not-a-ca.pem', 'hello\n');
  t.throws(() => loadConfig(['--tls-ca', notPem]), { message: `tls-ca ${notPem}: expected PEM certificates (-----BEGIN CERTIFICATE-----), found none` });
});

t.test('two ephemeral listeners are allowed', async (t) => {
  const c = loadConfig(['--listen', '127.0.0.1:0', '--listen', '127.0.0.1:0']);
  t.equal(c.listen.length, 2);
});

t.test('mergeConfig does not alias the defaults', async (t) => {
  const base = defaultConfig();
  const c = mergeConfig(base, { tcp: { maxConnections: 1 } });
  t.equal(c.tcp.maxConnections, 1);
  t.equal(base.tcp.maxConnections, 1000);
});
