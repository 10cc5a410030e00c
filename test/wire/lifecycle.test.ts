// Process lifecycle seen from outside: clean shutdown on SIGTERM/SIGINT with a TCP client still
// connected (exit 0), and config errors (exit 2, message naming file and line).
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fixture, runKdns, startKdns, wireArgs } from '../helpers/kdns-process.js';
import { buildQuery, check, frame, TcpClient, UdpClient } from './clients.js';

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal} with an open TCP connection → exit 0`, async (t) => {
    const kdns = await startKdns(wireArgs(), { t });
    const u = new UdpClient(kdns.port);
    await u.bind();
    const c = new TcpClient(kdns.port);
    await c.connected;
    const r = check((await c.query(buildQuery('www.example.test', 'A', { id: 42 }))) ?? Buffer.alloc(0));
    t.equal(r.rcode, 0, 'answered over TCP before the signal');
    const ru = check((await u.query(buildQuery('www.example.test', 'A', { id: 43 }))) ?? Buffer.alloc(0));
    t.equal(ru.rcode, 0, 'answered over UDP before the signal');
    // Ten pipelined queries, all answered, then the signal with the connection still open.
    const msgs = Array.from({ length: 10 }, (_, i) => frame(buildQuery('www.example.test', 'A', { id: 500 + i })));
    await c.write(Buffer.concat(msgs));
    await c.waitFor(11, 3000);
    t.equal(c.messages.length, 11, 'pipelined batch answered');
    const t0 = Date.now();
    const code = await kdns.stop(signal);
    t.equal(code, 0, `exit code 0 after ${signal}`);
    t.ok(Date.now() - t0 < 10_000, `exited within 10 s (${Date.now() - t0} ms), not killed`);
    await Promise.race([c.closedAt, new Promise((r) => setTimeout(r, 2000))]);
    t.ok(c.closed, 'the client connection was closed by the shutdown');
    c.destroy();
    const after = await u.query(buildQuery('www.example.test', 'A', { id: 44 }), 300);
    t.equal(after, null, 'nothing answers UDP after exit');
    u.close();
  });
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kdns-wire-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

t.test('a bad zone file → exit 2, stderr names file and line', async (t) => {
  const bad = fixture('wire', 'bad.zone');
  const res = await runKdns(['--listen', '127.0.0.1:0', '--zone-file', `${bad}@bad.test`, '--no-forward', '--http', '127.0.0.1:0']);
  t.equal(res.code, 2, 'exit code 2', { stderr: res.stderr, stdout: res.stdout.slice(0, 2000) });
  t.match(res.stderr, /bad\.zone:4\b/, 'stderr says bad.zone:4 (the bad A record)');
  t.notMatch(res.stdout, /"msg":"serving"/, 'never served');
});

t.test('zone file errors on other lines are located too', async (t) => {
  const cases: Array<[string, string, number]> = [
    ['unknown-type.zone', '$TTL 60\n@ IN SOA ns. h. 1 1 1 1 1\n@ IN NS ns.x.test.\nwww IN BOGUS 1.2.3.4\n', 4],
    ['bad-ttl.zone', '$TTL 60\n@ IN SOA ns. h. 1 1 1 1 1\n\n\nwww 12x IN A 1.2.3.4\n', 5],
    ['open-paren.zone', '$TTL 60\n@ IN SOA ns. h. ( 1 1 1 1 1\n', 2],
  ];
  // Independent processes: run them side by side.
  const results = await Promise.all(cases.map(([name, text]) => {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, text);
    return runKdns(['--listen', '127.0.0.1:0', '--zone-file', `${file}@x.test`, '--no-forward', '--http', '127.0.0.1:0']);
  }));
  cases.forEach(([name, , line], i) => {
    const res = results[i]!;
    t.equal(res.code, 2, `${name}: exit 2`, { stderr: res.stderr });
    t.match(res.stderr, new RegExp(`${name.replace('.', '\\.')}:(${line}|${line - 1}|${line + 1})\\b`), `${name}: names the file and line ${line}`);
  });
});

t.test('a missing zone file and an unknown flag → exit 2', async (t) => {
  const missing = path.join(tmp, 'does-not-exist.zone');
  const [m, u] = await Promise.all([
    runKdns(['--listen', '127.0.0.1:0', '--zone-file', `${missing}@x.test`, '--no-forward', '--http', '127.0.0.1:0']),
    runKdns(['--listen', '127.0.0.1:0', '--no-such-flag', '--no-forward']),
  ]);
  t.equal(m.code, 2, 'missing zone file: exit 2', { stderr: m.stderr });
  t.match(m.stderr, /does-not-exist\.zone/, 'names the file');
  t.equal(u.code, 2, 'unknown flag: exit 2', { stderr: u.stderr });
  t.match(u.stderr, /no-such-flag/, 'names the flag');
});
