import t from 'tap';
import { EventEmitter } from 'node:events';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { runCli, type CliDeps, type MainModule } from './cli.js';
import type { KdnsConfig } from './config/types.js';
import { ConfigError, SourceError } from './errors.js';
import { createLogger } from './log.js';

const dir = mkdtempSync(join(tmpdir(), 'kdns-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

interface Harness {
  deps: CliDeps;
  out: string[];
  err: string[];
  exits: number[];
  logs: Record<string, unknown>[];
  events: EventEmitter;
}

function harness(main: MainModule): Harness {
  const h: Harness = { out: [], err: [], exits: [], logs: [], events: new EventEmitter(), deps: undefined as never };
  const sink = new Writable({
    write(chunk, _e, cb) {
      for (const l of String(chunk).split('\n')) if (l) h.logs.push(JSON.parse(l));
      cb();
    },
  });
  h.deps = {
    stdout: (s) => h.out.push(s),
    stderr: (s) => h.err.push(s),
    exit: (c) => h.exits.push(c),
    events: h.events,
    loadMain: async () => main,
    createLogger: (level) => createLogger(level, sink),
  };
  return h;
}

const never: MainModule = { run: async () => { throw new Error('run must not be called'); } };

function fakeServer(): { main: MainModule; closed: () => number; config: () => KdnsConfig | null; release: () => void } {
  let closes = 0;
  let seen: KdnsConfig | null = null;
  let release = (): void => {};
  const gate = new Promise<void>((r) => { release = r; });
  return {
    main: { run: async (config) => { seen = config; return { close: async () => { closes++; await gate; } }; } },
    closed: () => closes,
    config: () => seen,
    release: () => release(),
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

t.test('--help prints every flag and exits 0', async (t) => {
  const h = harness(never);
  await runCli(['--help'], h.deps);
  t.strictSame(h.exits, [0]);
  t.match(h.out.join(''), /--listen ADDR:PORT/);
  t.match(h.out.join(''), /--server \/DOMAIN\//);
});

t.test('--version prints the version and exits 0', async (t) => {
  const h = harness(never);
  await runCli(['--version'], h.deps);
  t.strictSame(h.exits, [0]);
  t.match(h.out.join(''), /^kdns \d+\.\d+\.\d+/);
});

t.test('a bad flag exits 2 with the message on stderr', async (t) => {
  const h = harness(never);
  await runCli(['--workers', 'zero'], h.deps);
  t.strictSame(h.exits, [2]);
  t.equal(h.err.join(''), "kdns: --workers: expected an integer 1-1024, got 'zero'\n");
});

t.test('a bad config file exits 2 naming file and line', async (t) => {
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'listen: [127.0.0.1:53]\nhttp: nowhere\n');
  const h = harness(never);
  await runCli(['-c', file], h.deps);
  t.strictSame(h.exits, [2]);
  t.match(h.err.join(''), `kdns: ${file}:2: http: expected ADDR:PORT`);
});

for (const [name, error, code] of [
  ['ConfigError from run exits 2', new ConfigError(null, null, 'no such engine'), 2],
  ['SourceError from run exits 2', new SourceError('db.example', 7, 'bad TTL'), 2],
  ['any other error from run exits 1', new Error('EADDRINUSE'), 1],
] as const) {
  t.test(name, async (t) => {
    const h = harness({ run: async () => { throw error; } });
    await runCli(['--http', 'none'], h.deps);
    t.strictSame(h.exits, [code]);
    t.match(h.logs.at(-1), { level: 60, err: { message: error.message } });
    if (code === 2) t.equal(h.err.join(''), `kdns: ${error.message}\n`);
  });
}

t.test('SIGTERM closes the server (draining) and exits 0', async (t) => {
  const f = fakeServer();
  const h = harness(f.main);
  await runCli(['--listen', '127.0.0.1:0', '--log-level', 'warn'], h.deps);
  t.strictSame(f.config()?.listen, [{ host: '127.0.0.1', port: 0 }], 'run got the parsed config');
  t.strictSame(h.exits, [], 'still running');
  h.events.emit('SIGTERM', 'SIGTERM');
  await tick();
  t.equal(f.closed(), 1);
  t.strictSame(h.exits, [], 'waits for close');
  f.release();
  await tick();
  t.strictSame(h.exits, [0]);
});

t.test('a second signal exits 1 at once', async (t) => {
  const f = fakeServer();
  const h = harness(f.main);
  await runCli([], h.deps);
  h.events.emit('SIGINT', 'SIGINT');
  h.events.emit('SIGTERM', 'SIGTERM');
  t.strictSame(h.exits, [1]);
  f.release();
  await tick();
  t.strictSame(h.exits, [1], 'the late close does not exit again');
});

t.test('a signal during start-up closes the server once it exists', async (t) => {
  let startDone = (): void => {};
  let closes = 0;
  const h = harness({
    run: () => new Promise((resolve) => {
      startDone = () => resolve({ close: async () => { closes++; } });
    }),
  });
  const running = runCli([], h.deps);
  await tick();
  h.events.emit('SIGTERM', 'SIGTERM');
  startDone();
  await running;
  await tick();
  t.equal(closes, 1);
  t.strictSame(h.exits, [0]);
});

t.test('an unhandled rejection is logged and exits 1', async (t) => {
  const f = fakeServer();
  const h = harness(f.main);
  await runCli([], h.deps);
  h.events.emit('unhandledRejection', new Error('lost promise'));
  await tick();
  t.strictSame(h.exits, [1]);
  t.match(h.logs.at(-1), { level: 60, msg: 'unhandled rejection', err: { message: 'lost promise' } });
});

t.test('the built bin runs as a program: --help exits 0, a bad flag exits 2', async (t) => {
  const bin = fileURLToPath(new URL('./cli.js', import.meta.url));
  const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8', timeout: 20000 });
  t.equal(help.status, 0);
  t.match(help.stdout, /^Usage: kdns/);
  const bad = spawnSync(process.execPath, [bin, '--listen', 'nowhere'], { encoding: 'utf8', timeout: 20000 });
  t.equal(bad.status, 2);
  t.match(bad.stderr, /^kdns: --listen: expected ADDR:PORT/);
});

t.test('SIGHUP reloads with the argv re-read and never exits; one that comes while starting reloads once serving', async (t) => {
  const reads: KdnsConfig[] = [];
  let release = (): void => {};
  const started = new Promise<void>((r) => { release = r; });
  const main: MainModule = {
    run: async () => {
      await started;
      return { close: async () => {}, reload: async (readConfig) => { reads.push(readConfig()); return 'reloaded'; } };
    },
  };
  const h = harness(main);
  const running = runCli(['--workers', '3', '--listen', '127.0.0.1:0'], h.deps);
  await tick();
  h.events.emit('SIGHUP');
  h.events.emit('SIGHUP');
  t.match(h.logs.at(-1), { level: 30, msg: 'SIGHUP while starting: reloading once serving' });
  t.equal(reads.length, 0, 'no reload before the server exists');
  release();
  await running;
  t.equal(reads.length, 1, 'the signals during start-up: one reload once serving');
  h.events.emit('SIGHUP');
  h.events.emit('SIGHUP');
  t.equal(reads.length, 3, 'each SIGHUP asks the server to reload');
  t.equal(reads[0]!.workers, 3, 'with the config read again from the same argv');
  t.strictSame(h.exits, [], 'no exit on SIGHUP');
});
