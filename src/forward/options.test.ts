import t from 'tap';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { ConfigError } from '../errors.js';
import {
  defaultForwardOptions, forwardOptionsFor, isOwnAddress, parseAddressRule, parseForwardOptions, parseResolvConf, readResolvConf,
} from './options.js';
import type { KdnsConfig } from '../config/types.js';

t.test('defaults', async (t) => {
  const d = parseForwardOptions(undefined, 'kdns.yaml');
  t.same(d, defaultForwardOptions());
  t.equal(d.timeoutMs, 2000);
  t.equal(d.maxInFlightPerUpstream, 1000);
  t.equal(d.failuresBeforeDown, 3);
  t.equal(d.cache.servfailTtl, 5);
  t.equal(d.cache.staleTtl, 30);
  t.equal(d.cache.staleAnswerTimeoutMs, 1800);
  t.ok(d.allowNetworks.includes('10.0.0.0/8') && d.allowNetworks.includes('fc00::/7'));
});

t.test('good sections', async (t) => {
  const cases: [string, unknown, (o: ReturnType<typeof parseForwardOptions>) => unknown, unknown][] = [
    ['policy', { policy: 'round_robin' }, (o) => o.policy, 'round_robin'],
    ['timeout', { timeout: '500ms' }, (o) => o.timeoutMs, 500],
    ['attempts', { attempts: 3 }, (o) => o.attempts, 3],
    ['filter-aaaa', { 'filter-aaaa': true }, (o) => o.filterAaaa, true],
    ['probe backoff', { 'probe-interval': '200ms', 'probe-max-interval': '5s' }, (o) => [o.probeIntervalMs, o.probeMaxIntervalMs], [200, 5000]],
    ['probe interval above the default cap lifts the cap', { 'probe-interval': '30s' }, (o) => o.probeMaxIntervalMs, 30_000],
    ['allow-networks', { 'allow-networks': ['10.0.0.0/8', '::1'] }, (o) => o.allowNetworks, ['10.0.0.0/8', '::1']],
    ['address', { address: ['/x.test/1.2.3.4', '/a.test/b.test/'] }, (o) => o.addresses,
      [{ domain: 'x.test.', ips: ['1.2.3.4'] }, { domain: 'a.test.', ips: [] }, { domain: 'b.test.', ips: [] }]],
    ['cache ttls', { cache: { 'min-ttl': 5, 'max-ttl': 600 } }, (o) => [o.cache.minTtl, o.cache.maxTtl], [5, 600]],
    ['serve-stale off', { cache: { 'serve-stale': false } }, (o) => o.cache.serveStale, false],
    ['stale timer', { cache: { 'stale-answer-timeout': '1s' } }, (o) => o.cache.staleAnswerTimeoutMs, 1000],
    ['prefetch', { cache: { prefetch: { 'min-hits': 5, 'before-expiry-percent': 20 } } }, (o) => o.cache.prefetch,
      { minHits: 5, beforeExpiryPercent: 20 }],
  ];
  for (const [name, input, get, want] of cases) t.same(get(parseForwardOptions(input, 'kdns.yaml')), want, name);
});

t.test('bad sections name the key and what was expected', async (t) => {
  const cases: [string, unknown, RegExp][] = [
    ['not a map', 'yes', /^kdns\.yaml: forward\.: expected a map of settings, got 'yes'$/],
    ['unknown key', { retries: 2 }, /forward\.retries: expected one of policy, /],
    ['bad policy', { policy: 'fastest' }, /forward\.policy: expected one of sequential, round_robin, random, got 'fastest'/],
    ['timeout without unit', { timeout: 2 }, /forward\.timeout: expected a duration like 2s or 500ms, got 2/],
    ['attempts zero', { attempts: 0 }, /forward\.attempts: expected an integer 1-10, got 0/],
    ['bad cidr', { 'allow-networks': ['10.0.0.0/33'] }, /forward\.allow-networks\[0\]: expected a CIDR/],
    ['cidr not a list', { 'allow-networks': '10.0.0.0/8' }, /forward\.allow-networks: expected a list of CIDRs/],
    ['bad address', { address: ['x.test/1.2.3.4'] }, /forward\.address\[0\]: expected a rule like/],
    ['bad address ip', { address: ['/x.test/1.2.3'] }, /forward\.address\[0\]/],
    ['min above max', { cache: { 'min-ttl': 100, 'max-ttl': 10 } }, /forward\.cache\.min-ttl: expected at most cache\.max-ttl \(10\), got 100/],
    ['unknown cache key', { cache: { size: 1 } }, /forward\.cache\.size: expected one of max-entries/],
    ['serve-stale string', { cache: { 'serve-stale': 'yes' } }, /forward\.cache\.serve-stale: expected true or false, got 'yes'/],
    ['probe cap below interval', { 'probe-interval': '2s', 'probe-max-interval': '1s' },
      /forward\.probe-max-interval: expected at least probe-interval \(2000ms\), got '1s'/],
    ['percent', { cache: { prefetch: { 'before-expiry-percent': 100 } } }, /before-expiry-percent: expected an integer 1-99/],
  ];
  for (const [name, input, re] of cases) {
    let caught: unknown = null;
    try {
      parseForwardOptions(input, 'kdns.yaml');
    } catch (err) {
      caught = err;
    }
    t.ok(caught instanceof ConfigError, `${name}: ConfigError`);
    t.match((caught as Error | null)?.message ?? '', re, name);
  }
});

t.test('address rules', async (t) => {
  t.same(parseAddressRule('/X.Test./::1,1.2.3.4'), [{ domain: 'x.test.', ips: ['::1', '1.2.3.4'] }]);
  t.equal(parseAddressRule('//1.2.3.4'), null);
  t.equal(parseAddressRule('/x.test'), null);
});

t.test('forwardOptionsFor takes routes, upstreams and listen from the config', async (t) => {
  const config = {
    routes: [{ domains: ['a.'], servers: [], localOnly: true }], defaultUpstreams: [{ host: '10.0.0.1', port: 53 }],
    resolvConf: '/x/resolv.conf', listen: [{ host: '127.0.0.1', port: 53 }],
  } as unknown as KdnsConfig;
  const o = forwardOptionsFor(config);
  t.equal(o.routes, config.routes);
  t.equal(o.resolvConf, '/x/resolv.conf');
  t.same(o.listen, [{ host: '127.0.0.1', port: 53 }]);
});

t.test('resolv.conf', async (t) => {
  t.same(parseResolvConf('# c\nnameserver 10.0.0.10\nsearch a b\nnameserver fe80::1%eth0 ; x\nnameserver bogus\noptions ndots:5\n'),
    [{ host: '10.0.0.10', port: 53 }, { host: 'fe80::1', port: 53 }]);
  const dir = mkdtempSync(path.join(tmpdir(), 'kdns-resolv-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'resolv.conf');
  writeFileSync(file, 'nameserver 127.0.0.1\nnameserver 127.0.0.53\nnameserver 10.96.0.10\n');
  const logs: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => { logs.push(s); } });
  const got = readResolvConf(file, [{ host: '0.0.0.0', port: 53 }], log);
  t.same(got, [{ host: '10.96.0.10', port: 53 }], 'loopback nameservers on our wildcard :53 dropped');
  t.equal(logs.length, 2);
  t.match(logs[0], /dropped resolv.conf nameserver.*forwarding loop/);
  t.match(logs[0], /127\.0\.0\.1#53/);
  t.same(readResolvConf(file, [{ host: '127.0.0.1', port: 5353 }]), [
    { host: '127.0.0.1', port: 53 }, { host: '127.0.0.53', port: 53 }, { host: '10.96.0.10', port: 53 }], 'other port: kept');
  t.same(readResolvConf(path.join(dir, 'missing'), [], log), []);
  t.match(logs[2], /cannot read resolv.conf/);
});

t.test('isOwnAddress', async (t) => {
  t.equal(isOwnAddress({ host: '127.0.0.1', port: 53 }, [{ host: '127.0.0.1', port: 53 }]), true);
  t.equal(isOwnAddress({ host: '127.0.0.1', port: 54 }, [{ host: '127.0.0.1', port: 53 }]), false);
  t.equal(isOwnAddress({ host: '::1', port: 53 }, [{ host: '::', port: 53 }]), true);
  t.equal(isOwnAddress({ host: '10.200.0.1', port: 53 }, [{ host: '0.0.0.0', port: 53 }]), false);
});
