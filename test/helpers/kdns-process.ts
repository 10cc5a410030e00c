// Runs kdns as a child process for over-the-wire tests: spawn `dist/src/cli.js`, wait for the pino
// line that says every socket is bound ("msg":"serving"), hand back the ports, and make sure the
// child never outlives the test that started it.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Repository root, from either `test/helpers/` (ts) or `dist/test/helpers/` (js). */
export const REPO_ROOT = here.includes(`${path.sep}dist${path.sep}`)
  ? path.resolve(here, '..', '..', '..')
  : path.resolve(here, '..', '..');
/** The entry point; KDNS_CLI overrides it (to run the suite against another build). */
export const CLI_PATH = process.env.KDNS_CLI ?? path.join(REPO_ROOT, 'dist', 'src', 'cli.js');
/** Path of a file under test/fixtures (the sources, not dist: fixtures are not compiled). */
export function fixture(...parts: string[]): string {
  return path.join(REPO_ROOT, 'test', 'fixtures', ...parts);
}

export interface StartOptions {
  /** How long to wait for the "serving" line (default 30 s, or KDNS_START_TIMEOUT_MS): a loaded CI machine can take seconds to start Node. */
  timeoutMs?: number;
  /** Registers teardown on this tap test (anything with a `teardown(fn)` method). */
  t?: { teardown(fn: () => unknown): void };
  env?: NodeJS.ProcessEnv;
}

export interface KdnsProcess {
  port: number;
  httpPort: number | null;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** True until the child has exited. */
  alive(): boolean;
  /** Sends `signal` (default SIGTERM), waits for exit (SIGKILL after 10 s); resolves the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
  /** Resolves the exit code (or 128+signal) once the child has exited. */
  exited: Promise<number>;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The child's environment: ours without NODE_OPTIONS, which under tap carries loader hooks
 * (process tracking, source maps) that would make every kdns start several seconds slower.
 */
function childEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out = { ...env };
  delete out.NODE_OPTIONS;
  return out;
}

const live = new Set<ChildProcess>();
// Last resort: never leave a kdns behind when the test process itself goes away.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function exitCode(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const signals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return 128 + (signal ? signals[signal] ?? 0 : 0);
}

interface ServingLine {
  msg?: string;
  listen?: Array<{ address: string; port: number }>;
  http?: { address: string; port: number } | null;
}

/** Starts kdns with `args`; resolves once it logs "serving", rejects with its output otherwise. */
export function startKdns(args: string[], opts: StartOptions = {}): Promise<KdnsProcess> {
  const timeoutMs = opts.timeoutMs ?? (Number(process.env.KDNS_START_TIMEOUT_MS) || 60_000);
  // KDNS_ENGINE applies to every server a test starts, unless the test picks an engine itself.
  const engine = args.includes('--engine') ? [] : engineArgs();
  const child = spawn(process.execPath, [CLI_PATH, ...engine, ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv(opts.env),
  });
  live.add(child);
  let out = '';
  let err = '';
  let exitedCode: number | null = null;
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      exitedCode = exitCode(code, signal);
      resolve(exitedCode);
    });
  });
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => { err += d; });

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number> => {
    if (exitedCode !== null) return exitedCode;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  opts.t?.teardown(async () => {
    if (exitedCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });

  return new Promise<KdnsProcess>((resolve, reject) => {
    let pending = '';
    let done = false;
    const fail = (why: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (exitedCode === null) child.kill('SIGKILL');
      const wait = exitedCode === null ? exited : Promise.resolve(exitedCode);
      // Give the pipes a moment to flush what the child wrote before it died.
      void wait.then(() => setTimeout(() => {
        reject(new Error(`kdns ${why}\nargs: ${args.join(' ')}\n--- stdout ---\n${out}\n--- stderr ---\n${err}`));
      }, 50));
    };
    const timer = setTimeout(() => fail(`did not log "serving" within ${timeoutMs} ms`), timeoutMs);
    child.once('error', (e) => fail(`could not be spawned: ${e.message}`));
    void exited.then((code) => fail(`exited with code ${code} before serving`));
    child.stdout.on('data', (d: string) => {
      out += d;
      if (done) return;
      pending += d;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (!line.includes('"serving"')) continue;
        let parsed: ServingLine;
        try {
          parsed = JSON.parse(line) as ServingLine;
        } catch {
          continue;
        }
        if (parsed.msg !== 'serving' || !parsed.listen || parsed.listen.length === 0) continue;
        done = true;
        clearTimeout(timer);
        resolve({
          port: parsed.listen[0]!.port,
          httpPort: parsed.http?.port ?? null,
          pid: child.pid!,
          stdout: () => out,
          stderr: () => err,
          alive: () => exitedCode === null,
          stop,
          exited,
        });
        return;
      }
    });
  });
}

/** Runs kdns to completion (for config errors): resolves exit code and output; kills it after `timeoutMs`. */
export function runKdns(args: string[], timeoutMs = 30_000): Promise<RunResult> {
  const child = spawn(process.execPath, [CLI_PATH, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code: exitCode(code, signal), stdout, stderr });
    });
  });
}

/** Extra flags for every test server: KDNS_ENGINE=native|node runs the suite on one engine. */
export function engineArgs(): string[] {
  const engine = process.env.KDNS_ENGINE;
  return engine ? ['--engine', engine] : [];
}

/** The standard wire-test server: the fixture zone and hosts file, no forwarding, HTTP on. */
export function wireArgs(extra: string[] = []): string[] {
  return [
    ...engineArgs(),
    '--listen', '127.0.0.1:0',
    '--zone-file', `${fixture('wire', 'example.zone')}@example.test`,
    '--hosts', fixture('wire', 'hosts'),
    '--no-forward',
    '--http', '127.0.0.1:0',
    '--log-level', 'info',
    ...extra,
  ];
}
