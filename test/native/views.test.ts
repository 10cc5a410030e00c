// The addon's view selection (native/views.c, views_napi.c): udpStart with one answer cache per view and
// the rules of ViewMatcher.wireRules answers each client from its view's cache, as the JavaScript matcher
// picks it, also when each view's tables are process-global ones opened by share key (as the engine
// does: KEY/view/NAME) and written through another handle; malformed cache arrays or rules are refused with a TypeError.
import t, { type Test } from 'tap';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { META_HEADER, META_STRIDE, type CacheHandle, type NativeBinding } from '../../src/engine/native-binding.js';
import { rdataA } from '../../src/dns/rdata.js';
import { parseView, ViewMatcher } from '../../src/views/rules.js';
import { A, nativeOrFail, query, question } from './setup.js';

/** A compiled answer as the cache takes it (ID 0, no OPT): www.example.test A `ip`. */
function answer(ip: string): Buffer {
  const q = question('www.example.test', A);
  const rr = Buffer.concat([Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]), rdataA(ip)]);
  return Buffer.concat([Buffer.from([0, 0, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0]), q, rr]);
}

const VIEWS = [
  parseView('name=inside,match-clients=!127.0.0.3,match-clients=127.0.0.0/29'),
  parseView('name=lab,match-clients=127.0.0.3'),
];
const IPS = ['10.0.0.1', '10.0.0.3', '192.0.2.1']; // inside, lab, default

/** Writes view i's answer (IPS[i]) into caches[i]. */
function fill(b: NativeBinding, caches: CacheHandle[]): void {
  const name = question('www.example.test', A).subarray(0, -4);
  caches.forEach((c, i) => b.cacheSet(c, name, name.length, A, answer(IPS[i]!)));
}

/** Serves `caches` (one per view of VIEWS, the default last) and checks each client gets its view's answer. */
async function answersByView(t: Test, b: NativeBinding, caches: CacheHandle[]): Promise<void> {
  const matcher = new ViewMatcher(VIEWS);
  const sock = b.createUdpSocket('127.0.0.1', 0, false);
  const meta = new Int32Array(META_HEADER + 4 * META_STRIDE);
  const handle = b.udpStart(sock.fd, 4, Buffer.alloc(4 * 4096), Buffer.alloc(4 * 4096), meta, () => {}, caches, [null, null, null], matcher.wireRules());
  try {
    for (const [from, want] of [['127.0.0.1', IPS[0]!], ['127.0.0.3', IPS[1]!], ['127.0.0.9', IPS[2]!], ['127.0.0.2', IPS[0]!]] as const) {
      const client = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => client.bind(0, from, resolve));
      client.send(query(7, 'www.example.test', A), sock.port, '127.0.0.1');
      const [msg] = await once(client, 'message') as [Buffer];
      client.close();
      t.same([...msg.subarray(-4)], [...rdataA(want)], `${from}: ${want}`);
      t.equal(IPS[matcher.pickText(from)], want, `the JavaScript matcher picks the same view for ${from}`);
    }
  } finally {
    b.udpStop(handle); // before the caches close: no batch reads through them any more
  }
}

t.test('each client is answered from its view\'s cache', async (t) => {
  const b = nativeOrFail(t);
  if (b === null) return;
  const caches = IPS.map(() => b.cacheCreate(false, 1232));
  fill(b, caches);
  await answersByView(t, b, caches);
});

t.test('per-view process-global tables: answers written through one worker\'s handles are read through another\'s', async (t) => {
  const b = nativeOrFail(t);
  if (b === null) return;
  const key = `views-test-${process.pid}`;
  const keys = [`${key}/view/inside`, `${key}/view/lab`, key]; // as NativeEngine names them
  const writer = keys.map((k) => b.cacheCreate(false, 1232, undefined, undefined, k));
  const reader = keys.map((k) => b.cacheCreate(false, 1232, undefined, undefined, k));
  t.teardown(() => [...reader, ...writer].forEach((c) => b.cacheClose(c)));
  fill(b, writer);
  await answersByView(t, b, reader);
});

t.test('bad cache arrays and rules are refused', async (t) => {
  const b = nativeOrFail(t);
  if (b === null) return;
  const meta = new Int32Array(META_HEADER + META_STRIDE);
  const c1 = b.cacheCreate(false, 1232);
  const c2 = b.cacheCreate(false, 1232);
  const rules = new ViewMatcher([parseView('name=a,match-clients=any')]).wireRules();
  const bad: [string, unknown[]][] = [
    ['no rules with an array', [[c1, c2], null]],
    ['forwarded caches of another length', [[c1, c2], [null], rules]],
    ['a single forwarded cache beside an array', [[c1, c2], c1, rules]],
    ['rules of a view past the last', [[c1], null, rules]],
    ['rules not a multiple of 20 bytes', [[c1, c2], null, rules.subarray(0, 19)]],
    ['an element that is not a cache', [[c1, {}], null, rules]],
    ['an empty array', [[], null, Buffer.alloc(0)]],
  ];
  for (const [what, args] of bad) {
    const sock = b.createUdpSocket('127.0.0.1', 0, false);
    t.throws(() => (b.udpStart as (...a: unknown[]) => unknown)(sock.fd, 1, Buffer.alloc(512), Buffer.alloc(512), meta, () => {}, ...args), TypeError, what);
    b.closeFd(sock.fd);
  }
});
