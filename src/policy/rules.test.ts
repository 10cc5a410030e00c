import t from 'tap';
import { ValueProblem } from '../config/values.js';
import { parsePolicy, PolicyTable } from './rules.js';

t.test('good policies', async (t) => {
  t.same(parsePolicy('name=WWW.Example.com,order=round-robin'),
    { domain: 'www.example.com.', scope: 'name', order: 'round-robin', healthCheck: null });
  t.same(parsePolicy('zone=pool.test.'), { domain: 'pool.test.', scope: 'zone', order: 'fixed', healthCheck: null }, 'order defaults to fixed');
  t.same(parsePolicy('zone=pool.test,order=random,health-check.port=80,health-check.interval=2s,health-check.timeout=500ms,health-check.failures=1'),
    { domain: 'pool.test.', scope: 'zone', order: 'random', healthCheck: { port: 80, intervalMs: 2000, timeoutMs: 500, failures: 1 } });
  t.same(parsePolicy('name=a.test,health-check.port=443').healthCheck, { port: 443, intervalMs: 5000, timeoutMs: 1000, failures: 3 }, 'check defaults');
});

t.test('bad policies say what was expected', async (t) => {
  const cases: [string, RegExp][] = [
    ['www.example.com', /expected KEY=VALUE items with keys name, zone, order/],
    ['name=a.test,colour=red', /got 'colour=red'/],
    ['order=random', /expected exactly one of name=DOMAIN or zone=DOMAIN/],
    ['name=a.test,zone=b.test', /expected exactly one of name=DOMAIN or zone=DOMAIN/],
    ['name=a.test,order=weighted', /^order: expected one of fixed, round-robin, random, got 'weighted'$/],
    ['name=a..test', /^name: expected a domain name/],
    ['name=a.test,health-check.interval=1s', /expected health-check.port with the other health-check settings/],
    ['name=a.test,health-check.port=0', /^health-check.port: expected an integer 1-65535, got 0$/],
    ['name=a.test,health-check.port=80,health-check.interval=5', /^health-check.interval: expected a duration/],
    ['name=a.test,health-check.port=80,health-check.interval=1s,health-check.timeout=2s', /^health-check.timeout: expected at most health-check.interval \(1000ms\), got 2000ms$/],
    ['name=a.test,name=b.test', /expected name once/],
  ];
  for (const [text, re] of cases) {
    let caught: unknown = null;
    try {
      parsePolicy(text);
    } catch (e) {
      caught = e;
    }
    t.ok(caught instanceof ValueProblem, `${text}: ValueProblem`);
    t.match((caught as Error | null)?.message ?? '', re, text);
  }
});

t.test('the rule for a name: its own, else the nearest zone rule', async (t) => {
  const table = new PolicyTable([
    parsePolicy('zone=example.com,order=random'),
    parsePolicy('zone=pool.example.com,order=round-robin'),
    parsePolicy('name=www.example.com'),
  ]);
  t.equal(table.match('www.example.com.')?.order, 'fixed');
  t.equal(table.match('a.pool.example.com.')?.order, 'round-robin');
  t.equal(table.match('pool.example.com.')?.order, 'round-robin', 'a zone rule covers its apex');
  t.equal(table.match('mail.example.com.')?.order, 'random');
  t.equal(table.match('example.org.'), null);
  t.equal(table.match('xexample.com.'), null, 'label boundaries, not string suffixes');
  t.equal(table.rotating, true);
  t.equal(new PolicyTable([parsePolicy('name=a.test')]).rotating, false);
});

t.test('kdns.yaml: map items read as the flag text; errors name the line of the item', async (t) => {
  const { parseConfigFile } = await import('../config/file.js');
  const { parseFlags } = await import('../config/flags.js');
  const file = parseConfigFile(`policies:
  - {name: rr.test, order: round-robin}
  - zone: pool.test
    health-check: {port: 8080, interval: 2s}
  - name=text.test,order=random
`, 'kdns.yaml');
  const flags = parseFlags(['--policy', 'name=rr.test,order=round-robin', '--policy', 'zone=pool.test,health-check.port=8080,health-check.interval=2s',
    '--policy=name=text.test,order=random']).flags;
  t.same(file.policies, flags.policies, 'the same policies either way');
  t.equal(file.policies?.length, 3);
  const bad: [string, number, RegExp][] = [
    ['policies:\n  - {name: a.test}\n  - {name: b.test, order: sideways}\n', 3, /^policies: order: expected one of fixed, round-robin, random, got 'sideways'$/],
    ['policies:\n  - {name: a.test}\n  - {name: a.test, order: random}\n', 3, /^policies: expected one policy per name or zone, got name=a\.test\. twice$/],
    // A list inside an item is read as its key repeated (views use that): here no key takes it.
    ['policies:\n  - name: a.test\n    health-check: [80]\n', 2, /^policies: expected KEY=VALUE items with keys name, zone, .*got 'health-check=80'$/],
    ['policies:\n  - name: a.test\n    order: [{x: 1}]\n', 2, /^policies: expected a list of values for order$/],
  ];
  for (const [text, line, re] of bad) {
    let caught: { line?: number; message?: string } | null = null;
    try {
      parseConfigFile(text, 'kdns.yaml');
    } catch (e) {
      caught = e as { line: number; message: string };
    }
    t.equal(caught?.line, line, `line ${line}`);
    t.match(caught?.message?.replace(/^kdns\.yaml:\d+: /, '') ?? '', re);
  }
});
