import t from 'tap';
import { ConfigError } from '../errors.js';
import { parseFlags } from './flags.js';
import { usage } from './usage.js';
import { OPTIONS } from './options.js';

const good: [string, string[], object][] = [
  ['empty', [], {}],
  ['listen v4, both forms', ['--listen', '0.0.0.0:53', '--listen=127.0.0.1:0'],
    { listen: [{ host: '0.0.0.0', port: 53 }, { host: '127.0.0.1', port: 0 }] }],
  ['listen v6', ['--listen', '[::1]:5353'], { listen: [{ host: '::1', port: 5353 }] }],
  // Brackets around IPv4 too: a manifest's "[$(HOST_IP)]:9253" works whatever the node's family.
  ['http v4 in brackets', ['--http', '[10.0.0.17]:9253'], { http: { host: '10.0.0.17', port: 9253 } }],
  ['short config', ['-c', 'k.yaml'], { configFile: 'k.yaml' }],
  ['short config inline', ['-c=k.yaml'], { configFile: 'k.yaml' }],
  ['help', ['-h'], { help: true }],
  ['help long', ['--help'], { help: true }],
  ['version', ['--version'], { version: true }],
  ['workers last wins', ['--workers', '2', '--workers=3'], { workers: 3 }],
  ['engine', ['--engine', 'node'], { engine: 'node' }],
  ['zone file with origin', ['--zone-file', 'db.example@Example.COM'],
    { zoneFiles: [{ file: 'db.example', origin: 'example.com.' }] }],
  ['zone file: no origin; the last @ splits', ['--zone-file', 'db.local', '--zone-file', 'z/a@b/db@example.'],
    { zoneFiles: [{ file: 'db.local', origin: null }, { file: 'z/a@b/db', origin: 'example.' }] }],
  ['hosts repeatable', ['--hosts', '/etc/hosts', '--hosts', 'h2'], { hosts: ['/etc/hosts', 'h2'] }],
  ['transfer-to repeatable, address or CIDR', ['--transfer-to', '10.0.0.0/8', '--transfer-to', '2001:db8::7'], { transferTo: ['10.0.0.0/8', '2001:db8::7'] }],
  ['notify: port 53 unless given', ['--notify', '10.0.0.2', '--notify', '2001:db8::2#5300'],
    { notify: [{ host: '10.0.0.2', port: 53 }, { host: '2001:db8::2', port: 5300 }] }],
  ['cluster domain normalised', ['--cluster-domain', 'Cluster.Example.'], { clusterDomain: 'cluster.example' }],
  ['default upstreams', ['--server', '10.0.0.1', '--server=2001:db8::1#5300'],
    { routes: [], defaultUpstreams: [{ host: '10.0.0.1', port: 53 }, { host: '2001:db8::1', port: 5300 }] }],
  ['route with several domains', ['--server=/ops.cna/Corp.Lan/10.1.1.1#5353'],
    { routes: [{ domains: ['ops.cna.', 'corp.lan.'], servers: [{ host: '10.1.1.1', port: 5353 }], localOnly: false }],
      defaultUpstreams: [] }],
  ['local-only route', ['--server=/corp.lan/'],
    { routes: [{ domains: ['corp.lan.'], servers: [], localOnly: true }], defaultUpstreams: [] }],
  ['route to default upstreams', ['--server=/a.b/#'],
    { routes: [{ domains: ['a.b.'], servers: [], localOnly: false }], defaultUpstreams: [] }],
  ['DNS over TLS upstreams: default port 853, name, no name, in a route',
    ['--server=tls://9.9.9.9@Dns.Quad9.net', '--server=tls://2001:db8::53#8853', '--server=/Sec.Corp/tls://10.1.1.2#853@dns.sec.corp',
      '--tls-ca', 'ca.pem'],
    { routes: [{ domains: ['sec.corp.'], servers: [{ host: '10.1.1.2', port: 853, tls: { serverName: 'dns.sec.corp' } }], localOnly: false }],
      defaultUpstreams: [{ host: '9.9.9.9', port: 853, tls: { serverName: 'dns.quad9.net' } }, { host: '2001:db8::53', port: 8853, tls: { serverName: null } }],
      tlsCa: 'ca.pem' }],
  ['switches', ['--no-forward', '--in-cluster'], { noForward: true, inCluster: true }],
  ['switch explicit false', ['--no-forward=false'], { noForward: false }],
  ['http none', ['--http', 'none'], { http: null }],
  ['no-http', ['--no-http'], { http: null }],
  ['http v6', ['--http=[::]:9153'], { http: { host: '::', port: 9153 } }],
  ['chaos', ['--chaos-version-bind', 'none', '--chaos-id-server', 'node-1'],
    { chaos: { versionBind: null, idServer: 'node-1' } }],
  ['chaos value may start with one dash', ['--chaos-id-server', '-x-'], { chaos: { idServer: '-x-' } }],
  ['tcp', ['--tcp-idle-timeout', '1.5s', '--tcp-max-connections', '10', '--tcp-max-queries-in-flight=8'],
    { tcp: { idleTimeoutMs: 1500, maxConnections: 10, maxQueriesInFlightPerConnection: 8 } }],
  ['tcp message timeout', ['--tcp-message-timeout', '750ms'], { tcp: { messageTimeoutMs: 750 } }],
  ['shutdown grace', ['--shutdown-grace=2s'], { shutdownGraceMs: 2000 }],
  ['payload and log level', ['--max-udp-payload', '4096', '--log-level', 'debug'], { maxUdpPayload: 4096, logLevel: 'debug' }],
  ['hosts ttl', ['--hosts-ttl', '0'], { hostsTtl: 0 }],
  ['rrl flags', ['--rrl-responses-per-second', '10', '--rrl-slip=1', '--rrl-exempt-clients', '127.0.0.2', '--rrl-log-only'],
    { rateLimit: { responsesPerSecond: 10, slip: 1, exemptClients: ['127.0.0.2'], logOnly: true } }],
  ['dnstap file', ['--dnstap', 'q.dnstap', '--dnstap-sample', '10', '--dnstap-buffer', '65536'],
    { dnstap: 'q.dnstap', dnstapSample: 10, dnstapBuffer: 65536 }],
  ['dnstap socket', ['--dnstap=unix:/run/dnstap.sock'], { dnstap: 'unix:/run/dnstap.sock' }],
  ['dnstap none', ['--dnstap', 'none'], { dnstap: null }],
];

for (const [name, argv, want] of good) {
  t.test(`good: ${name}`, async (t) => {
    t.strictSame(parseFlags(argv).flags, want);
  });
}

const bad: [string, string[], RegExp][] = [
  ['dnstap empty socket path', ['--dnstap', 'unix:'], /^--dnstap: expected a file path or unix:PATH, got 'unix:'$/],
  ['dnstap sample 0', ['--dnstap-sample', '0'], /^--dnstap-sample: expected an integer 1-1000000, got 0/],
  ['dnstap buffer too small', ['--dnstap-buffer', '100'], /^--dnstap-buffer: expected an integer 4096-1073741824, got 100/],
  ['unknown flag', ['--lisen', '1.2.3.4:53'], /^unknown flag --lisen/],
  ['single-dash long name', ['-listen', '1.2.3.4:53'], /^unknown flag -listen/],
  ['positional', ['serve'], /^unexpected argument 'serve'/],
  ['missing value at end', ['--listen'], /^--listen expects ADDR:PORT$/],
  ['value looks like a flag', ['--workers', '--no-forward'], /^--workers expects N$/],
  ['listen without port', ['--listen', '127.0.0.1'], /^--listen: expected ADDR:PORT/],
  ['transfer-to not a network', ['--transfer-to', '10.0.0.0/33'], /^--transfer-to: expected an address or CIDR/],
  ['notify to a name', ['--notify', 'ns2.example'], /^--notify: expected a secondary's IP\[#PORT\]/],
  ['notify to port 0', ['--notify', '10.0.0.2#0'], /^--notify: expected a secondary's port 1-65535/],
  ['listen hostname', ['--listen', 'localhost:53'], /^--listen: expected ADDR:PORT with an IP address/],
  ['listen v6 without brackets', ['--listen', '::1:53'], /^--listen: expected an IPv6 address in brackets/],
  ['listen bad bracketed', ['--listen', '[localhost]:53'], /^--listen: expected an IP address inside \[ \], got 'localhost'/],
  ['port too big', ['--listen', '1.2.3.4:65536'], /^--listen: expected a port 0-65535/],
  ['workers zero', ['--workers', '0'], /^--workers: expected an integer 1-1024, got 0/],
  ['workers words', ['--workers=four'], /^--workers: expected an integer/],
  ['engine', ['--engine', 'fast'], /^--engine: expected one of native, node, auto, got 'fast'/],
  ['server bad ip', ['--server', '10.0.0'], /^--server: expected an upstream IP\[#PORT\]/],
  ['server bad domain', ['--server=/bad..domain/1.1.1.1'], /^--server: expected a domain name/],
  ['server empty domain list', ['--server=/1.1.1.1'], /^--server: expected \/DOMAIN\/\[IP\[#PORT\]\]/],
  ['tls server without IP', ['--server=tls://dns.quad9.net'], /^--server: expected an upstream IP\[#PORT\] .* or tls:\/\/IP/],
  ['tls server empty name', ['--server=/a.b/tls://1.1.1.1#853@'], /^--server: expected a server name after '@'/],
  ['tls server bad name', ['--server=tls://1.1.1.1@bad..name'], /^--server: expected a domain name/],
  ['server port zero', ['--server', '1.1.1.1#0'], /^--server: expected an upstream port 1-65535/],
  ['duration without unit', ['--tcp-idle-timeout', '10'], /^--tcp-idle-timeout: expected a duration like 10s/],
  ['switch with junk', ['--no-forward=yes'], /^--no-forward: expected true or false/],
  ['payload too small', ['--max-udp-payload', '100'], /^--max-udp-payload: expected an integer 512-65535/],
  ['log level', ['--log-level', 'loud'], /^--log-level: expected one of trace/],
  ['long chaos text', ['--chaos-version-bind', 'x'.repeat(256)], /^--chaos-version-bind: expected at most 255 bytes/],
  ['rrl slip too big', ['--rrl-slip', '11'], /^--rrl-slip: expected an integer 0-10, got 11/],
  ['rrl prefix too long', ['--rrl-ipv4-prefix-length', '33'], /^--rrl-ipv4-prefix-length: expected an integer 0-32/],
  ['zone origin bad', ['--zone-file', 'db@'], /^--zone-file: expected a domain name/],
];

for (const [name, argv, want] of bad) {
  t.test(`bad: ${name}`, async (t) => {
    const err = t.throws(() => parseFlags(argv)) as ConfigError;
    t.type(err, ConfigError);
    t.equal(err.code, 'KDNS_CONFIG_INVALID');
    t.equal(err.file, null);
    t.match(err.message, want);
  });
}

t.test('usage lists every flag with its default', async (t) => {
  const text = usage();
  for (const o of OPTIONS) {
    t.match(text, `--${o.flag}`, o.flag);
    const flat = text.replace(/\s+/g, ' '); // help text wraps
    if (o.arg !== undefined && o.defaultText !== 'none') t.ok(flat.includes(`default ${o.defaultText}`), `${o.flag} default`);
  }
  t.match(text, '--help');
  t.match(text, '--version');
  for (const l of text.split('\n')) t.ok(l.length <= 100, `fits 100 columns: ${l}`);
});
