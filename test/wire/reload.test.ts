// SIGHUP seen from outside, with 2 workers (one on the node engine): a valid reload of the
// zone file, the hosts file and a forward route in the config file is served without losing one of the
// queries a 1 ms prober sends meanwhile; a bad zone line or a bad config line keeps the old answers,
// logs file and line and counts kdns_reload_failures_total; a setting that needs a restart is logged,
// not failed; a burst of SIGHUPs does not hurt.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startKdns, type KdnsProcess } from '../helpers/kdns-process.js';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { buildQuery, check, UdpClient } from './clients.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kdns-reload-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const file = (name: string): string => path.join(tmp, name);
/** Replaces a file in one step (write, then rename), so a reload never reads it half-written. */
function replaceFile(name: string, text: string): void {
  fs.writeFileSync(file(name + '.new'), text);
  fs.renameSync(file(name + '.new'), file(name));
}

function zoneText(www: string, extra = ''): string {
  return `$ORIGIN r.test.\n$TTL 60\n@ IN SOA ns h 1 1 1 1 1\n@ IN NS ns\nns IN A 10.0.0.1\nwww IN A ${www}\n${extra}`;
}

function configText(upstreamPort: number, extra = ''): string {
  return `zone-file: [r.zone]\nhosts: [hosts]\nresolv-conf: empty.conf\nserver: ['/fw.test/127.0.0.1#${upstreamPort}']\n${extra}`;
}

/** Log records (JSON lines) of the child so far. */
function records(kdns: KdnsProcess): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of kdns.stdout().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line still being written
    }
  }
  return out;
}

/** Waits (bounded) for the n-th log record whose msg starts with `prefix`; returns it. */
async function waitForRecord(kdns: KdnsProcess, prefix: string, n: number, timeoutMs = 15_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hits = records(kdns).filter((r) => typeof r.msg === 'string' && r.msg.startsWith(prefix));
    if (hits.length >= n) return hits[n - 1]!;
    if (Date.now() > deadline || !kdns.alive()) throw new Error(`no ${n}. "${prefix}" log line within ${timeoutMs} ms\n${kdns.stdout().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let nextId = 1;
/** rcode and A addresses for `name`, or null without an answer. */
async function ask(u: UdpClient, name: string): Promise<{ rcode: number; ips: string[] } | null> {
  nextId = (nextId % 60_000) + 1;
  const raw = await u.query(buildQuery(name, 'A', { id: nextId }), 3000);
  if (raw === null) return null;
  const c = check(raw);
  return { rcode: c.rcode, ips: addressesOf(raw) };
}

/** The A addresses in a response, in order. */
function addressesOf(raw: Buffer): string[] {
  return (check(raw).packet?.answers ?? []).flatMap((a) => (a.type === 'A' ? [String(a.data)] : []));
}

async function metric(kdns: KdnsProcess, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${kdns.httpPort}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m === null ? NaN : Number(m[1]);
}

t.test('SIGHUP reloads zone file, hosts file and config over the wire', async (t) => {
  const [oldUpstream, newUpstream] = await Promise.all([
    startDnsmasq(['--address=/fw.test/10.9.0.1'], 'fw.test'),
    startDnsmasq(['--address=/fw.test/10.9.0.2'], 'fw.test'),
  ]);
  t.teardown(() => Promise.all([oldUpstream.stop(), newUpstream.stop()]));
  fs.writeFileSync(file('r.zone'), zoneText('10.0.0.2'));
  fs.writeFileSync(file('hosts'), '10.1.1.1 box.lan\n');
  fs.writeFileSync(file('empty.conf'), '');
  fs.writeFileSync(file('kdns.yaml'), configText(oldUpstream.port));
  const kdns = await startKdns(['-c', file('kdns.yaml'), '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--workers', '2'], { t });
  const u = new UdpClient(kdns.port);
  await u.bind();
  t.teardown(() => u.close());

  t.strictSame(await ask(u, 'www.r.test'), { rcode: 0, ips: ['10.0.0.2'] }, 'zone: the old address');
  t.equal((await ask(u, 'new.r.test'))?.rcode, 3, 'zone: new.r.test does not exist yet');
  t.strictSame(await ask(u, 'box.lan'), { rcode: 0, ips: ['10.1.1.1'] }, 'hosts: the old address');
  t.strictSame(await ask(u, 'a.fw.test'), { rcode: 0, ips: ['10.9.0.1'] }, 'forward route: the old upstream');

  await t.test('a valid reload while a 1 ms prober runs: every probe answered, then the new data', async (t) => {
    const loadedAt = await metric(kdns, 'kdns_reload_last_success_timestamp_seconds');
    t.ok(loadedAt > 0, 'the start-up load sets the last success timestamp');
    fs.writeFileSync(file('r.zone'), zoneText('10.0.0.3', 'new IN A 10.0.0.4\n'));
    fs.writeFileSync(file('hosts'), '10.1.1.2 box.lan\n');
    fs.writeFileSync(file('kdns.yaml'), configText(newUpstream.port));
    const prober = new UdpClient(kdns.port);
    await prober.bind();
    t.teardown(() => prober.close());
    const answers: Array<Promise<Buffer | null>> = [];
    let reloadedAt = -1;
    // At least 2,000 probes one per millisecond; past that only until 100 probes after the reload (cap 6,000).
    for (let i = 0; i < 6000; i++) {
      if (i >= 2000 && reloadedAt >= 0 && i >= reloadedAt + 100) break;
      answers.push(prober.query(buildQuery('www.r.test', 'A', { id: i }), 5000));
      if (i === 200) process.kill(kdns.pid, 'SIGHUP');
      if (i > 200 && reloadedAt < 0 && records(kdns).some((r) => r.msg === 'reloaded')) reloadedAt = i;
      await new Promise((r) => setTimeout(r, 1));
    }
    const got = await Promise.all(answers);
    const lost = got.filter((b) => b === null).length;
    t.equal(lost, 0, `every one of ${got.length} probes answered`);
    t.ok(reloadedAt > 200, `the reload finished while probing (probe ${reloadedAt})`);
    const seen = new Map<string, number>();
    for (const b of got) {
      if (b === null) continue;
      const key = `${check(b).rcode} ${addressesOf(b).join(',')}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    t.strictSame([...seen.keys()].sort(), ['0 10.0.0.2', '0 10.0.0.3'], `only the old and the new answer, both NOERROR: ${JSON.stringify([...seen])}`);
    t.strictSame(addressesOf(got.at(-1)!), ['10.0.0.3'], 'the last probe got the new address');

    const done = await waitForRecord(kdns, 'reloaded', 1);
    t.match(done, { component: 'reload', zonesChanged: ['r.test.'], hostsChanged: true, forwardChanged: true });
    t.strictSame(await ask(u, 'www.r.test'), { rcode: 0, ips: ['10.0.0.3'] }, 'zone: the changed address');
    t.strictSame(await ask(u, 'new.r.test'), { rcode: 0, ips: ['10.0.0.4'] }, 'zone: the added name');
    t.strictSame(await ask(u, 'box.lan'), { rcode: 0, ips: ['10.1.1.2'] }, 'hosts: the new address');
    t.strictSame(await ask(u, 'b.fw.test'), { rcode: 0, ips: ['10.9.0.2'] }, 'forward route: the new upstream');
    t.strictSame(await ask(u, 'a.fw.test'), { rcode: 0, ips: ['10.9.0.2'] }, 'a name cached from the old upstream is asked again');
    t.equal(await metric(kdns, 'kdns_reload_successes_total'), 1, 'kdns_reload_successes_total 1');
    t.ok(await metric(kdns, 'kdns_reload_last_success_timestamp_seconds') > loadedAt, 'the last success timestamp moved on');
    t.equal(await metric(kdns, 'kdns_reload_failures_total'), 0, 'no failure');
  });

  await t.test('a zone file with a syntax error: old answers, file and line logged, failure counted', async (t) => {
    fs.writeFileSync(file('r.zone'), zoneText('10.0.0.5', 'bad IN A 10.0.0\n'));
    process.kill(kdns.pid, 'SIGHUP');
    const failed = await waitForRecord(kdns, 'reload failed', 1);
    t.equal(failed.level, 50, 'logged as an error');
    t.equal(failed.file, file('r.zone'), 'names the zone file');
    t.equal(failed.line, 7, 'and the line of the bad record');
    t.strictSame(await ask(u, 'www.r.test'), { rcode: 0, ips: ['10.0.0.3'] }, 'the old zone still answers');
    t.equal(await metric(kdns, 'kdns_reload_failures_total'), 1, 'kdns_reload_failures_total 1');
  });

  await t.test('a bad config line: old state kept, the config file and line logged', async (t) => {
    fs.writeFileSync(file('r.zone'), zoneText('10.0.0.5'));
    fs.writeFileSync(file('kdns.yaml'), configText(newUpstream.port, 'workers: many\n'));
    process.kill(kdns.pid, 'SIGHUP');
    const failed = await waitForRecord(kdns, 'reload failed', 2);
    t.equal(failed.file, file('kdns.yaml'), 'names the config file');
    t.equal(failed.line, 5, 'and the line');
    t.strictSame(await ask(u, 'www.r.test'), { rcode: 0, ips: ['10.0.0.3'] }, 'the zone edit in the same reload was not applied');
    t.equal(await metric(kdns, 'kdns_reload_failures_total'), 2, 'kdns_reload_failures_total 2');
  });

  await t.test('a setting that needs a restart is logged and ignored; the rest is applied', async (t) => {
    fs.writeFileSync(file('kdns.yaml'), configText(newUpstream.port, 'tcp: {idle-timeout: 3s}\nmax-udp-payload: 4096\n'));
    process.kill(kdns.pid, 'SIGHUP');
    const warned = await waitForRecord(kdns, 'reload: these settings changed and need a restart', 1);
    t.strictSame(warned.settings, ['tcp', 'max-udp-payload'], 'names the settings');
    await waitForRecord(kdns, 'reloaded', 2);
    t.strictSame(await ask(u, 'www.r.test'), { rcode: 0, ips: ['10.0.0.5'] }, 'the zone edit was applied');
    t.equal(await metric(kdns, 'kdns_reload_failures_total'), 2, 'not counted as a failure');
    t.equal(await metric(kdns, 'kdns_reload_restart_pending'), 1, 'kdns_reload_restart_pending 1');
  });

  await t.test('a burst of 50 SIGHUPs: still serving, and a last edit is served', async (t) => {
    for (let i = 0; i < 50; i++) process.kill(kdns.pid, 'SIGHUP');
    // Reloads may be reading the zone file now: replace it whole (a half-written file would be refused).
    replaceFile('r.zone', zoneText('10.0.0.6'));
    process.kill(kdns.pid, 'SIGHUP');
    // The sentinel: the edit made after the burst is served once the reloads settle (bounded wait).
    let answer: { rcode: number; ips: string[] } | null = null;
    for (let i = 0; i < 200 && kdns.alive(); i++) {
      answer = await ask(u, 'www.r.test');
      if (answer?.ips[0] === '10.0.0.6') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    t.ok(kdns.alive(), 'kdns is alive');
    t.strictSame(answer, { rcode: 0, ips: ['10.0.0.6'] }, 'the last edit is served');
    t.equal(await metric(kdns, 'kdns_reload_failures_total'), 2, 'no failure from the burst');
    t.equal(await kdns.stop(), 0, 'a clean SIGTERM afterwards: exit 0');
  });
});
