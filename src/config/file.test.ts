import t from 'tap';
import { ConfigError } from '../errors.js';
import { parseConfigFile } from './file.js';

const FILE = 'etc/kdns.yaml';

const good: [string, string, object][] = [
  ['empty file', '', {}],
  ['comments only', '# nothing here\n', {}],
  ['full', `
listen: [127.0.0.1:5353, "[::1]:5353"]
workers: 4
engine: node
zone-file: [db.example@example.com, /abs/db.other]
hosts: /etc/hosts
hosts-ttl: 30
manifests: manifests
cluster-domain: cluster.local
server:
  - /ops.cna/10.1.1.1#53
  - /corp.lan/
  - 9.9.9.9
resolv-conf: /etc/resolv.conf
no-forward: false
http: 0.0.0.0:9153
chaos: {version-bind: none, id-server: kdns-0}
tcp: {idle-timeout: 10s, max-connections: 100, max-queries-in-flight: 16, message-timeout: 2s}
max-udp-payload: 1232
shutdown-grace: 8s
log-level: warn
`, {
    listen: [{ host: '127.0.0.1', port: 5353 }, { host: '::1', port: 5353 }],
    workers: 4,
    engine: 'node',
    zoneFiles: [{ file: 'etc/db.example', origin: 'example.com.' }, { file: '/abs/db.other', origin: null }],
    hosts: ['/etc/hosts'],
    hostsTtl: 30,
    manifests: 'etc/manifests',
    clusterDomain: 'cluster.local',
    routes: [
      { domains: ['ops.cna.'], servers: [{ host: '10.1.1.1', port: 53 }], localOnly: false },
      { domains: ['corp.lan.'], servers: [], localOnly: true },
    ],
    defaultUpstreams: [{ host: '9.9.9.9', port: 53 }],
    resolvConf: '/etc/resolv.conf',
    noForward: false,
    http: { host: '0.0.0.0', port: 9153 },
    chaos: { versionBind: null, idServer: 'kdns-0' },
    tcp: { idleTimeoutMs: 10000, maxConnections: 100, maxQueriesInFlightPerConnection: 16, messageTimeoutMs: 2000 },
    maxUdpPayload: 1232,
    shutdownGraceMs: 8000,
    logLevel: 'warn',
  }],
  ['http null disables', 'http: null\n', { http: null }],
  ['http none disables', 'http: none\n', { http: null }],
  ['chaos null means REFUSED', 'chaos:\n  version-bind:\n', { chaos: { versionBind: null } }],
  ['numeric string values', 'hosts-ttl: "15"\nchaos: {id-server: 42}\n', { hostsTtl: 15, chaos: { idServer: '42' } }],
  ['in-cluster switch', 'in-cluster: true\n', { inCluster: true }],
  ['rate-limit with bind9 keys', `
rate-limit:
  responses-per-second: 10
  nxdomains-per-second: 5
  errors-per-second: 0
  slip: 0
  window: 5
  exempt-clients: [10.0.0.0/8, "fd00::/8"]
  log-only: true
  ipv4-prefix-length: 32
  ipv6-prefix-length: 64
  max-table-size: 1000
  queries-per-second: 100
`, {
    rateLimit: {
      responsesPerSecond: 10, nxdomainsPerSecond: 5, errorsPerSecond: 0, slip: 0, window: 5,
      exemptClients: ['10.0.0.0/8', 'fd00::/8'], logOnly: true, ipv4PrefixLength: 32, ipv6PrefixLength: 64,
      maxTableSize: 1000, queriesPerSecond: 100,
    },
  }],
  ['dnstap file relative to the config file; sample', 'dnstap: logs/q.dnstap\ndnstap-sample: 5\n', { dnstap: 'etc/logs/q.dnstap', dnstapSample: 5 }],
  ['dnstap socket path kept as given', 'dnstap: unix:run/dnstap.sock\n', { dnstap: 'unix:run/dnstap.sock' }],
  ['dnstap null is off', 'dnstap: null\n', { dnstap: null }],
];

for (const [name, text, want] of good) {
  t.test(`good: ${name}`, async (t) => {
    t.strictSame(parseConfigFile(text, FILE), want);
  });
}

// [name, text, line, message]
const bad: [string, string, number | null, RegExp][] = [
  ['dnstap sample not a number', 'dnstap: q.dnstap\ndnstap-sample: many\n', 2, /^dnstap-sample: expected an integer 1-1000000, got 'many'$/],
  ['unknown key with suggestion', 'workers: 2\nlisen: [127.0.0.1:53]\n', 2, /^unknown setting 'lisen'; did you mean 'listen'\?$/],
  ['unknown key far from any', 'frobnicate: 1\n', 1, /^unknown setting 'frobnicate' \(see docs\/configuration\.md\)$/],
  ['unknown nested key', 'tcp:\n  idle-timeout: 1s\n  max-conns: 3\n', 3, /^unknown setting 'tcp\.max-conns'; did you mean 'tcp\.max-connections'\?/],
  ['group is not a map', 'tcp: 5\n', 1, /^expected a map of settings at 'tcp'$/],
  ['top level is a list', '- listen\n', 1, /^expected a map of settings at the top level$/],
  ['bad listen item names its own line', 'listen:\n  - 127.0.0.1:53\n  - 127.0.0.1\n', 3, /^listen: expected ADDR:PORT/],
  ['empty list', 'listen: []\n', 1, /^listen: expected at least one ADDR:PORT/],
  ['workers is a string', '\n\nworkers: many\n', 3, /^workers: expected an integer 1-1024, got 'many'$/],
  ['workers is a map', 'workers: {a: 1}\n', 1, /^workers: expected N$/],
  ['list where one value expected', 'engine: [node]\n', 1, /^engine: expected native\|node\|auto$/],
  ['switch given a string', 'no-forward: "yes"\n', 1, /^no-forward: expected true or false$/],
  ['switch given nothing', 'no-forward:\n', 1, /^no-forward: expected true or false$/],
  ['value missing', 'kubeconfig:\n', 1, /^kubeconfig: expected FILE$/],
  ['boolean where text expected', 'cluster-domain: true\n', 1, /^cluster-domain: expected DOMAIN, got boolean$/],
  ['duration without unit', 'tcp: {idle-timeout: 10}\n', 1, /^tcp\.idle-timeout: expected a duration like 10s/],
  ['bad server', 'server:\n  - /a/b/not-an-ip\n', 2, /^server: expected an upstream IP\[#PORT\]/],
  ['duplicate key', 'workers: 1\nworkers: 2\n', 2, /^invalid YAML: Map keys must be unique/],
  ['syntax error', 'listen: [127.0.0.1:53\nworkers: 2\n', null, /^invalid YAML: /],
  ['rate-limit rate out of range', 'rate-limit:\n  responses-per-second: 5000\n', 2,
    /^rate-limit\.responses-per-second: expected an integer 0-1000, got 5000$/],
  ['rate-limit unknown key', 'rate-limit:\n  slip: 2\n  windw: 5\n', 3, /^unknown setting 'rate-limit\.windw'; did you mean 'rate-limit\.window'\?$/],
  ['rate-limit bad exempt CIDR names its item', 'rate-limit:\n  exempt-clients:\n    - 10.0.0.0/8\n    - 10.0.0.0/33\n', 4,
    /^rate-limit\.exempt-clients: expected an address or CIDR/],
  ['rate-limit window zero', 'rate-limit: {window: 0}\n', 1, /^rate-limit\.window: expected an integer 1-3600/],
  ['flag-only option is not a key', 'config: other.yaml\n', 1, /^unknown setting 'config'/],
];

for (const [name, text, line, want] of bad) {
  t.test(`bad: ${name}`, async (t) => {
    const err = t.throws(() => parseConfigFile(text, FILE)) as ConfigError;
    t.type(err, ConfigError);
    t.equal(err.code, 'KDNS_CONFIG_INVALID');
    t.equal(err.file, FILE);
    if (line !== null) {
      t.equal(err.line, line, 'line');
      t.ok(err.message.startsWith(`${FILE}:${line}: `), err.message);
    } else {
      t.type(err.line, 'number', 'syntax errors carry a line');
    }
    t.match(err.message.slice(err.message.indexOf(': ') + 2), want);
  });
}
