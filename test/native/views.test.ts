// The addon's view selection (native/views.c, views_napi.c): udpStart with one answer cache per view and
// the rules of ViewMatcher.wireRules answers each client from its view's cache, as the JavaScript matcher
// picks it; malformed cache arrays or rules are refused with a TypeError.
import t from 'tap';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { META_HEADER, META_STRIDE } from '../../src/engine/native-binding.js';
import { rdataA } from '../../src/dns/rdata.js';
import { parseView, ViewMatcher } from '../../src/views/rules.js';
import { A, nativeOrFail, query, question } from './setup.js';

/** A compiled answer as the cache takes it (ID 0, no OPT): www.example.test A `ip`. */
function answer(ip: string): Buffer {
  const q = question('www.example.test', A);
  const rr = Buffer.concat([Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]), rdataA(ip)]);
  return Buffer.concat([Buffer.from([0, 0, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0]), q, rr]);
}

t.test('each client is answered from its view\'s cache', async (t) => {
  const b = nativeOrFail(t);
  if (b === null) return;
  const views = [
    parseView('name=inside,match-clients=!127.0.0.3,match-clients=127.0.0.0/29'),
    parseView('name=lab,match-clients=127.0.0.3'),
  ];
  const matcher = new ViewMatcher(views);
  const ips = ['10.0.0.1', '10.0.0.3', '192.0.2.1']; // inside, lab, default
  const caches = ips.map((ip) => {
    const c = b.cacheCreate(false, 1232);
    const name = question('www.example.test', A).subarray(0, -4);
    b.cacheSet(c, name, name.length, A, answer(ip));
    return c;
  });
  const sock = b.createUdpSocket('127.0.0.1', 0, false);
  const meta = new Int32Array(META_HEADER + 4 * META_STRIDE);
  const handle = b.udpStart(sock.fd, 4, Buffer.alloc(4 * 4096), Buffer.alloc(4 * 4096), meta, () => {}, caches, [null, null, null], matcher.wireRules());
  t.teardown(() => b.udpStop(handle));
  for (const [from, want] of [['127.0.0.1', ips[0]], ['127.0.0.3', ips[1]], ['127.0.0.9', ips[2]], ['127.0.0.2', ips[0]]] as const) {
    const client = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => client.bind(0, from, resolve));
    client.send(query(7, 'www.example.test', A), sock.port, '127.0.0.1');
    const [msg] = await once(client, 'message') as [Buffer];
    client.close();
    t.same([...msg.subarray(-4)], [...rdataA(want)], `${from}: ${want}`);
    const picked = matcher.pickText(from);
    t.equal(ips[picked], want, `the JavaScript matcher picks the same view for ${from}`);
  }
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
