// The `forward:` section through the one option table: the keys the forward component's own parser
// took, the same values, errors with file, line and what was expected, and the same as flags.
import t from 'tap';
import { ConfigError } from '../errors.js';
import { parseConfigFile } from './file.js';
import { parseFlags } from './flags.js';
import { defaultConfig, mergeConfig } from './load.js';
import { defaultForwardOptions, type ForwardOptions } from '../forward/options.js';

const FILE = 'kdns.yaml';
const fromFile = (text: string): ForwardOptions => mergeConfig(defaultConfig(), parseConfigFile(text, FILE)).forward ?? defaultForwardOptions();

t.test('no forward section: defaults (null), as before', async (t) => {
  t.equal(mergeConfig(defaultConfig(), parseConfigFile('workers: 1\n', FILE)).forward, null);
  t.equal(mergeConfig(defaultConfig(), parseConfigFile('forward:\n', FILE)).forward, null, 'an empty section is accepted');
  const d = defaultForwardOptions();
  t.equal(d.timeoutMs, 2000);
  t.equal(d.cache.staleAnswerTimeoutMs, 1800);
  t.ok(d.allowNetworks.includes('10.0.0.0/8') && d.allowNetworks.includes('fc00::/7'));
});

t.test('good sections', async (t) => {
  const cases: [string, string, (o: ForwardOptions) => unknown, unknown][] = [
    ['policy', 'forward: {policy: round_robin}', (o) => o.policy, 'round_robin'],
    ['timeout', 'forward: {timeout: 500ms}', (o) => o.timeoutMs, 500],
    ['attempts', 'forward: {attempts: 3}', (o) => o.attempts, 3],
    ['filter-aaaa', 'forward: {filter-aaaa: true}', (o) => o.filterAaaa, true],
    ['probe backoff', 'forward: {probe-interval: 200ms, probe-max-interval: 5s}', (o) => [o.probeIntervalMs, o.probeMaxIntervalMs], [200, 5000]],
    ['probe interval above the default cap lifts the cap', 'forward: {probe-interval: 30s}', (o) => o.probeMaxIntervalMs, 30_000],
    ['allow-networks', 'forward: {allow-networks: [10.0.0.0/8, "::1"]}', (o) => o.allowNetworks, ['10.0.0.0/8', '::1']],
    ['address', 'forward:\n  address: [/x.test/1.2.3.4, /a.test/b.test/]\n', (o) => o.addresses,
      [{ domain: 'x.test.', ips: ['1.2.3.4'] }, { domain: 'a.test.', ips: [] }, { domain: 'b.test.', ips: [] }]],
    ['cache ttls', 'forward: {cache: {min-ttl: 5, max-ttl: 600}}', (o) => [o.cache.minTtl, o.cache.maxTtl], [5, 600]],
    ['other cache fields keep defaults', 'forward: {cache: {min-ttl: 5}}', (o) => o.cache.maxEntries, 10_000],
    ['serve-stale off', 'forward: {cache: {serve-stale: false}}', (o) => o.cache.serveStale, false],
    ['stale timer', 'forward: {cache: {stale-answer-timeout: 1s}}', (o) => o.cache.staleAnswerTimeoutMs, 1000],
    ['prefetch', 'forward:\n  cache:\n    prefetch: {min-hits: 5, before-expiry-percent: 20}\n', (o) => o.cache.prefetch,
      { minHits: 5, beforeExpiryPercent: 20 }],
    ['prefetch one field', 'forward: {cache: {prefetch: {min-hits: 0}}}', (o) => o.cache.prefetch, { minHits: 0, beforeExpiryPercent: 10 }],
  ];
  for (const [name, input, get, want] of cases) t.same(get(fromFile(input)), want, name);
});

t.test('bad sections name the file, the line, the key and what was expected', async (t) => {
  const cases: [string, string, number, RegExp][] = [
    ['not a map', 'forward: yes\n', 1, /^expected a map of settings at 'forward'$/],
    ['unknown key', 'forward:\n  retries: 2\n', 2, /^unknown setting 'forward\.retries'/],
    ['bad policy', 'forward:\n  policy: fastest\n', 2, /^forward\.policy: expected one of sequential, round_robin, random, got 'fastest'$/],
    ['timeout without unit', 'forward:\n  timeout: 2\n', 2, /^forward\.timeout: expected a duration like 10s or 500ms, got '2'$/],
    ['attempts zero', 'forward:\n  attempts: 0\n', 2, /^forward\.attempts: expected an integer 1-10, got 0$/],
    ['bad cidr', 'forward:\n  allow-networks:\n    - 10.0.0.0/8\n    - 10.0.0.0/33\n', 4, /^forward\.allow-networks: expected a CIDR like 10\.0\.0\.0\/8, got '10\.0\.0\.0\/33'$/],
    ['bad address', 'forward:\n  address: [x.test/1.2.3.4]\n', 2, /^forward\.address: expected a rule like '\/x\.test\/1\.2\.3\.4'/],
    ['bad address ip', 'forward:\n  address: [/x.test/1.2.3]\n', 2, /^forward\.address: expected a rule like/],
    ['min above max', 'forward:\n  cache:\n    min-ttl: 100\n    max-ttl: 10\n', 4, /^forward\.cache\.max-ttl: expected at least cache\.min-ttl \(100\), got 10$/],
    ['unknown cache key', 'forward:\n  cache:\n    size: 1\n', 3, /^unknown setting 'forward\.cache\.size'/],
    ['near miss suggested', 'forward:\n  cache:\n    max-entrie: 1\n', 3, /did you mean 'forward\.cache\.max-entries'\?$/],
    ['serve-stale string', 'forward:\n  cache: {serve-stale: "yes"}\n', 2, /^forward\.cache\.serve-stale: expected true or false$/],
    ['probe cap below interval', 'forward:\n  probe-interval: 2s\n  probe-max-interval: 1s\n', 3,
      /^forward\.probe-max-interval: expected at least probe-interval \(2000ms\), got 1000ms$/],
    ['percent', 'forward:\n  cache:\n    prefetch:\n      before-expiry-percent: 100\n', 4,
      /^forward\.cache\.prefetch\.before-expiry-percent: expected an integer 1-99, got 100$/],
    ['prefetch not a map', 'forward:\n  cache:\n    prefetch: 3\n', 3, /^expected a map of settings at 'forward\.cache\.prefetch'$/],
  ];
  for (const [name, input, line, re] of cases) {
    let caught: unknown = null;
    try {
      parseConfigFile(input, FILE);
    } catch (err) {
      caught = err;
    }
    t.ok(caught instanceof ConfigError, `${name}: ConfigError`);
    const e = caught as ConfigError;
    t.equal(e?.file, FILE, `${name}: file`);
    t.equal(e?.line, line, `${name}: line`);
    t.match(e?.message.replace(`${FILE}:${line}: `, '') ?? '', re, name);
  }
});

t.test('every forward key is a flag too, and flags lay over the file per field', async (t) => {
  const { flags } = parseFlags(['--forward-timeout', '750ms', '--forward-cache-prefetch-min-hits=9', '--forward-cache-serve-stale=false']);
  const c = mergeConfig(defaultConfig(), parseConfigFile('forward:\n  attempts: 4\n  cache: {prefetch: {before-expiry-percent: 30}}\n', FILE), flags);
  t.equal(c.forward?.timeoutMs, 750);
  t.equal(c.forward?.attempts, 4, 'file field kept');
  t.same(c.forward?.cache.prefetch, { minHits: 9, beforeExpiryPercent: 30 });
  t.equal(c.forward?.cache.serveStale, false);
  t.throws(() => parseFlags(['--forward-probe-interval', '2s', '--forward-probe-max-interval', '1s']),
    /--forward-probe-max-interval: expected at least probe-interval \(2000ms\), got 1000ms/);
  t.throws(() => mergeConfig(defaultConfig(), parseConfigFile('forward: {probe-max-interval: 1s}\n', FILE), parseFlags(['--forward-probe-interval=2s']).flags),
    /forward\.probe-max-interval: expected at least probe-interval/, 'checked across layers too');
});
