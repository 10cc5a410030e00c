// The dashboard in a real browser: Debian's chromium, headless, driven by playwright-core (no browser
// download). It loads the page from kdns's HTTP port, sends DNS queries with dig, and waits until the
// page's rate chart and its top-names list show them; then the zone browser and the inspection report.
// With KDNS_SCREENSHOT=FILE it saves a screenshot there (docs/dashboard.png is made that way).

import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { REPO_ROOT, startKdns } from '../helpers/kdns-process.js';

const CHROMIUM = process.env.KDNS_CHROMIUM ?? '/usr/bin/chromium';
const WAIT_MS = 20_000;

function digBatch(port: number, queries: string[]): void {
  const dir = mkdtempSync(join(tmpdir(), 'kdns-dash-'));
  try {
    writeFileSync(join(dir, 'batch'), queries.join('\n') + '\n');
    execFileSync('dig', ['@127.0.0.1', '-p', String(port), '+tries=3', '+time=2', '-f', join(dir, 'batch')], { stdio: 'ignore' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test('the dashboard shows queries as they arrive, browses names and reports on the cluster', async (t) => {
  const kdns = await startKdns(['--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--workers', '2',
    '--zone-file', join(REPO_ROOT, 'deploy/zones/kdns.demo.zone') + '@kdns.demo',
    '--manifests', join(REPO_ROOT, 'deploy/demo/cluster'), '--no-forward'], { t });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(`http://127.0.0.1:${kdns.httpPort}/`);
  await page.waitForFunction(() => document.getElementById('status')!.textContent!.startsWith('updated'), null, { timeout: WAIT_MS });
  t.equal(await page.textContent('#top-name'), 'nothing yet', 'no names before any query');

  // Queries in rounds, so the rate chart gets points on either side of a poll.
  const names = [...Array(40).fill('www.kdns.demo A'), ...Array(15).fill('nope.kdns.demo A'),
    ...Array(10).fill('kubernetes.default.svc.cluster.local A'), ...Array(5).fill('db-0.db.shop.svc.cluster.local A')];
  const sent = (async () => {
    for (let round = 0; round < 3; round++) {
      digBatch(kdns.port, names);
      await new Promise((r) => setTimeout(r, 1200));
    }
  })();
  await page.waitForFunction(() => {
    const s = (window as unknown as { kdnsSeries: { rcode: number[][] } }).kdnsSeries;
    return s.rcode[0]!.some((v) => v > 0) && s.rcode[1]!.some((v) => v > 0);
  }, null, { timeout: WAIT_MS });
  t.pass('the rate chart plotted NOERROR and NXDOMAIN rates above zero');
  await sent;
  await page.waitForFunction(() => {
    const first = document.querySelector('#top-name tr');
    return first !== null && (first as HTMLElement).dataset.key === 'www.kdns.demo.' && first.children[1]!.textContent === '120';
  }, null, { timeout: WAIT_MS });
  t.pass('the top names list leads with www.kdns.demo. at 120 queries');
  t.equal(await page.getAttribute('#top-nxdomain tr', 'data-key'), 'nope.kdns.demo.', 'the NXDOMAIN list names nope.kdns.demo.');
  t.equal(await page.getAttribute('#top-namespace tr', 'data-key'), 'default', 'namespaces: default leads');
  t.equal(await page.getAttribute('#top-client tr', 'data-key'), '127.0.0.1');
  // The node engine serves from the main thread (one worker); the serving line says how many answer.
  const serving = kdns.stdout().split('\n').find((l) => l.includes('"msg":"serving"')) ?? '';
  t.equal(await page.textContent('#workers'), String(JSON.parse(serving).workers), 'the workers kdns runs');
  t.match(await page.textContent('#latency'), / ms$/, 'latency percentiles shown');

  await page.fill('#browse-name', 'db-0.db.shop.svc.cluster.local');
  await page.click('#browse button');
  await page.waitForSelector('#browse-result pre', { timeout: WAIT_MS });
  const browsed = await page.textContent('#browse-result');
  t.match(browsed, /db-0\.db\.shop\.svc\.cluster\.local\. 30 A 10\.244\.1\.20/, 'the RRset at the name');
  t.match(browsed, /from Service shop\/db: headless/, 'the Service it came from');
  t.match(browsed, /from EndpointSlice shop\/\S+: endpoint 10\.244\.1\.20 hostname db-0/, 'and the EndpointSlice');

  await page.waitForFunction(() => document.getElementById('report')!.textContent!.includes('ExternalName'), null, { timeout: WAIT_MS });
  const report = await page.textContent('#report');
  t.match(report, /ExternalName targets that do not resolve \(1\)/);
  t.match(report, /shop\/search → www\.example\.com\.: EREFUSED/, 'kdns refuses it (--no-forward), so pods cannot resolve it');
  t.match(report, /Services without ready endpoints \(0\)/);

  t.ok(requests.every((u) => u.startsWith(`http://127.0.0.1:${kdns.httpPort}/`)), 'nothing loaded from anywhere but kdns');
  t.same(errors, [], 'no script errors');
  const screenshot = process.env.KDNS_SCREENSHOT;
  if (screenshot !== undefined && screenshot !== '') {
    // Traffic while the picture is taken, so the cards show a rate.
    const before = await page.evaluate(() => (window as unknown as { kdnsSeries: { time: number[] } }).kdnsSeries.time.length);
    digBatch(kdns.port, names);
    await page.waitForFunction((n) => (window as unknown as { kdnsSeries: { time: number[] } }).kdnsSeries.time.length > n, before, { timeout: WAIT_MS });
    await page.screenshot({ path: screenshot, fullPage: true });
  }
});
