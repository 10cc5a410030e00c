// The addon's defences (issue 9): a handle of the wrong kind throws instead of crashing (run in a child
// process, so a segfault fails the test instead of killing tap), the meta counters wrap at 2^32 while the
// engine's totals keep counting up, and the C sources use no thread-unsafe libc call and check every
// Node-API status that matters (a source rule, since neither fault can be provoked from JavaScript).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { NativeEngine } from '../../src/engine/native.js';
import { H_RX_PACKETS, H_TX_PACKETS, type NativeBinding } from '../../src/engine/native-binding.js';
import { REPO_ROOT } from '../helpers/kdns-process.js';
import { A, Client, engineOptions, nativeOrFail, query } from './setup.js';

const ADDON = process.env.KDNS_NATIVE_ADDON ?? `${REPO_ROOT}/native/build/Release/kdns_native.node`;

/** Runs `body` (CommonJS, `b` is the addon) in a fresh Node process; its stdout and how it ended. */
function inChild(body: string): { stdout: string; status: number | null; signal: NodeJS.Signals | null } {
  const script = `const b = require(${JSON.stringify(ADDON)});\n${body}`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
  return { stdout: r.stdout.trim(), status: r.status, signal: r.signal };
}

t.test('a cache or a plain object passed as a UDP handle throws a TypeError (no crash)', async (t) => {
  const calls = [
    'b.udpStop(cache)',
    'b.udpSendTo(cache, Buffer.from("x"), 1, 4, 53, Buffer.alloc(16))',
    'b.udpStop({})',
  ];
  for (const call of calls) {
    const r = inChild(`const cache = b.cacheCreate(false, 1232);
      try { ${call}; console.log('returned'); } catch (e) { console.log(e.constructor.name + ' ' + e.code); }`);
    t.same(r, { stdout: 'TypeError KDNS_NATIVE_ARGUMENT', status: 0, signal: null }, call);
  }
  const engine = inChild(`const sock = b.createUdpSocket('127.0.0.1', 0, false);
    const meta = new Int32Array(b.abi.metaHeader + b.abi.metaStride);
    const handle = b.udpStart(sock.fd, 1, Buffer.alloc(512), Buffer.alloc(512), meta, () => {});
    try { b.cacheStats(handle); } catch (e) { console.log(e.constructor.name); }
    b.udpStop(handle); console.log('stopped');`);
  t.same(engine, { stdout: 'TypeError\nstopped', status: 0, signal: null }, 'and a real handle still works');
});

const binding = nativeOrFail(t);
if (binding !== null) defineEngineTests(binding);

function defineEngineTests(b: NativeBinding): void {
  t.test('counters wrap at 2^32 and the engine totals stay monotonic', async (t) => {
    const engine = new NativeEngine({ ...engineOptions(), binding: b, answerCache: false });
    const [bound] = await engine.start();
    t.teardown(() => engine.close());
    const client = new Client();
    await client.bind();
    t.teardown(() => client.close());
    // The shared header, as the addon sees it; two packets before the 2^32 boundary.
    const meta = (engine as unknown as { listeners: { udp: { meta: Int32Array } }[] }).listeners[0]!.udp.meta;
    const header = new Uint32Array(meta.buffer, meta.byteOffset, 16);
    t.equal(engine.udpStats.rxPackets, 0);
    header[H_RX_PACKETS] = 0xffff_fffe;
    header[H_TX_PACKETS] = 0xffff_fffe;
    const before = engine.udpStats;
    t.equal(before.rxPackets, 0xffff_fffe, 'the jump is counted');
    let last = before.rxPackets;
    let monotonic = true;
    for (let i = 0; i < 4; i++) {
      t.ok(await client.one(bound!.port, query(0x5000 + i, 'www.example.test', A)), `answer ${i}`);
      const now = engine.udpStats.rxPackets;
      if (now < last) monotonic = false;
      last = now;
    }
    t.equal(header[H_RX_PACKETS], 2, 'the C counter wrapped to 0 and went on');
    t.ok(monotonic, 'the JS total never went back');
    t.equal(engine.udpStats.rxPackets, 0xffff_fffe + 4, 'the JS total counts across the wrap');
    t.equal(engine.udpStats.txPackets, 0xffff_fffe + 4);
  });
}

t.test('C source rules: no thread-unsafe libc calls, every Node-API reference checked', async (t) => {
  const sources = ['kdns_native.c', 'answer_cache.c', 'answer_cache_napi.c', 'napi_glue.c', 'upstream.c'].map((f) => ({
    file: f,
    // Comments may name what is avoided; only code counts.
    code: readFileSync(`${REPO_ROOT}/native/${f}`, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, ''),
  }));
  for (const { file, code } of sources) {
    // Worker threads bind sockets at the same time: these share static buffers between threads.
    for (const fn of ['strerror', 'inet_ntoa', 'gethostbyname', 'localtime', 'gmtime', 'strtok', 'uv_err_name']) {
      t.notMatch(code, new RegExp(`\\b${fn}\\s*\\(`), `${file}: no ${fn}()`);
    }
    // A reference that silently failed leaves C pointing into memory nothing keeps alive. A call whose
    // status is dropped is a statement of its own: what precedes it is ';', '{', '}' or an if's ')'.
    const unchecked: string[] = [];
    for (const m of code.matchAll(/napi_create_reference\s*\(/g)) {
      const before = code.slice(0, m.index).trimEnd();
      if (before === '' || /[;{})]$/.test(before)) unchecked.push(code.slice(m.index, code.indexOf(';', m.index) + 1));
    }
    t.same(unchecked, [], `${file}: no napi_create_reference whose status is dropped`);
  }
});
