// IPv6 link-local clients get their late answers (udpSendTo, the path of forwarded queries) through the
// interface they came from: the addon exports the peer's scope id (meta S_SCOPE) and udpSendTo takes it
// back. Loopback has no link-local addresses, so the test builds two network namespaces joined by a veth
// pair (needs root, as CI runs): the server's namespace has a second link whose fe80::/64 route is
// preferred, so an answer sent without the scope id leaves through the wrong link and never arrives.
// Everything runs inside the test's own namespaces; they are deleted at the end.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PEER = fileURLToPath(new URL('./link-local-peer.js', import.meta.url));
const SERVER_NS = `kdns-ll-${process.pid}-s`;
const CLIENT_NS = `kdns-ll-${process.pid}-c`;

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.error?.message ?? r.stderr.trim()}`);
}

function inNs(ns: string, ...args: string[]): void {
  ip('netns', 'exec', ns, 'ip', ...args);
}

function setUp(): void {
  ip('netns', 'add', SERVER_NS);
  ip('netns', 'add', CLIENT_NS);
  inNs(SERVER_NS, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1', 'netns', CLIENT_NS);
  // The decoy link: its fe80::/64 route (metric 1) wins for any link-local destination without a scope.
  inNs(SERVER_NS, 'link', 'add', 'x0', 'type', 'veth', 'peer', 'name', 'x1');
  for (const dev of ['lo', 'v0', 'x0', 'x1']) inNs(SERVER_NS, 'link', 'set', dev, 'up');
  inNs(SERVER_NS, '-6', 'addr', 'add', 'fe80::1/64', 'dev', 'v0', 'nodad');
  inNs(SERVER_NS, '-6', 'addr', 'add', 'fe80::a/64', 'dev', 'x0', 'nodad');
  inNs(SERVER_NS, '-6', 'route', 'add', 'fe80::/64', 'dev', 'x0', 'metric', '1');
  for (const dev of ['lo', 'v1']) inNs(CLIENT_NS, 'link', 'set', dev, 'up');
  inNs(CLIENT_NS, '-6', 'addr', 'add', 'fe80::2/64', 'dev', 'v1', 'nodad');
}

function tearDown(): void {
  for (const ns of [SERVER_NS, CLIENT_NS]) spawnSync('ip', ['netns', 'del', ns], { timeout: 10_000 });
}

t.test('a link-local client gets its late answer through its own interface', async (t) => {
  t.teardown(tearDown);
  setUp();
  const server = spawn('ip', ['netns', 'exec', SERVER_NS, process.execPath, PEER, 'server'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { server.kill('SIGKILL'); });
  let stderr = '';
  server.stderr.on('data', (d) => { stderr += String(d); });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 15_000);
    server.stdout.on('data', (d) => {
      out += String(d);
      const m = /port (\d+)/.exec(out);
      if (m !== null) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    server.once('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}: ${stderr}`)); });
  });
  const client = spawnSync('ip', ['netns', 'exec', CLIENT_NS, process.execPath, PEER, 'client', 'fe80::2%v1', 'fe80::1', String(port)], {
    encoding: 'utf8', timeout: 15_000,
  });
  t.equal(client.stdout.trim(), 'answer', `the answer came back over v1 (${client.stderr.trim()})`);
});
