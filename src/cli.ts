#!/usr/bin/env node
// The `kdns` command: flags and config → run the server → shut down cleanly on a signal.
// Exit codes (docs/errors.md): 0 clean shutdown, 2 configuration or source error, 1 anything else.

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { EventEmitter } from 'node:events';
import { parseFlags } from './config/flags.js';
import { loadConfig } from './config/load.js';
import type { KdnsConfig, LogFormat, LogLevel } from './config/types.js';
import { usage } from './config/usage.js';
import { KDNS_VERSION } from './config/version.js';
import { ConfigError, SourceError } from './errors.js';
import { createStdoutLogger, type Logger } from './log.js';

export interface RunningServer {
  close(): Promise<void>;
  /** Resolves with the pid of a `kdns --takeover` that now serves our sockets (src/takeover). */
  takenOver?: Promise<number>;
  /** SIGHUP: serve what `readConfig` (config file, zone and hosts files) says now; never rejects. */
  reload?(readConfig: () => KdnsConfig): Promise<unknown>;
}

export interface MainModule {
  run(config: KdnsConfig, log: Logger): Promise<RunningServer>;
}

/** Everything the CLI touches outside itself, so tests can drive it in-process. */
export interface CliDeps {
  stdout(text: string): void;
  stderr(text: string): void;
  exit(code: number): void;
  /** Emits SIGTERM, SIGINT, SIGHUP, unhandledRejection, uncaughtException (the process, in production). */
  events: EventEmitter;
  loadMain(): Promise<MainModule>;
  createLogger(level: LogLevel, format: LogFormat): Logger;
}

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_CONFIG = 2;

function isUserError(err: unknown): err is ConfigError | SourceError {
  return err instanceof ConfigError || err instanceof SourceError;
}

export async function runCli(argv: string[], deps: CliDeps): Promise<void> {
  let config: KdnsConfig;
  try {
    const { flags } = parseFlags(argv);
    if (flags.help) { deps.stdout(usage()); deps.exit(EXIT_OK); return; }
    if (flags.version) { deps.stdout(`kdns ${KDNS_VERSION}\n`); deps.exit(EXIT_OK); return; }
    config = loadConfig(argv);
  } catch (err) {
    if (!isUserError(err)) throw err;
    deps.stderr(`kdns: ${err.message}\n`);
    deps.exit(EXIT_CONFIG);
    return;
  }

  const log = deps.createLogger(config.logLevel, config.logFormat);
  let exited = false;
  const exit = (code: number): void => {
    if (exited) return;
    exited = true;
    deps.exit(code);
  };
  const crash = (kind: string) => (err: unknown): void => {
    log.fatal({ err }, kind);
    exit(EXIT_FAILURE);
  };
  deps.events.on('unhandledRejection', crash('unhandled rejection'));
  deps.events.on('uncaughtException', crash('uncaught exception'));

  // A signal may come while the server is still starting; it is then closed as soon as it exists.
  let server: RunningServer | null = null;
  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (server === null) return;
    try {
      await server.close(); // drains TCP
      exit(EXIT_OK);
    } catch (err) {
      log.fatal({ err }, 'shutdown failed');
      exit(EXIT_FAILURE);
    }
  };
  const onSignal = (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without draining');
      exit(EXIT_FAILURE);
      return;
    }
    stopping = true;
    log.info({ signal }, 'signal received');
    void shutdown();
  };
  deps.events.on('SIGTERM', onSignal);
  deps.events.on('SIGINT', onSignal);
  // Without a listener SIGHUP would end the process: a logrotate or a dnsmasq-habit reload must not.
  // One that comes while starting is kept for when serving starts: the files may have changed after they were read.
  let reloadWhenServing = false;
  const reload = (): void => {
    if (stopping || server?.reload === undefined) return;
    log.info({ signal: 'SIGHUP' }, 'signal received: reloading');
    void server.reload(() => loadConfig(argv));
  };
  deps.events.on('SIGHUP', () => {
    if (server !== null || stopping) {
      if (stopping) log.warn({ signal: 'SIGHUP' }, 'SIGHUP while stopping: ignored');
      reload();
      return;
    }
    reloadWhenServing = true;
    log.info({ signal: 'SIGHUP' }, 'SIGHUP while starting: reloading once serving');
  });

  try {
    const { run } = await deps.loadMain();
    server = await run(config, log);
  } catch (err) {
    if (isUserError(err)) {
      log.fatal({ err }, 'cannot start');
      deps.stderr(`kdns: ${err.message}\n`);
      exit(EXIT_CONFIG);
    } else {
      crash('cannot start')(err);
    }
    return;
  }
  // Taken over: drain as on SIGTERM and exit 0 (the successor serves the same sockets meanwhile).
  void server.takenOver?.then((pid) => {
    if (stopping) return;
    stopping = true;
    log.info({ successor: pid }, 'taken over: shutting down');
    void shutdown();
  });
  if (stopping) await shutdown();
  else if (reloadWhenServing) reload();
}

/** True when this module is the program (`kdns`, `node dist/src/cli.js`), not imported by a test. */
function isEntryPoint(): boolean {
  const argv1 = process.argv[1];
  if (!argv1) return false;
  const self = fileURLToPath(import.meta.url);
  for (const candidate of [argv1, `${argv1}.js`]) {
    try {
      if (realpathSync(candidate) === realpathSync(self)) return true;
    } catch {
      // not this candidate
    }
  }
  return false;
}

if (isEntryPoint()) {
  runCli(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    exit: (code) => process.exit(code),
    events: process,
    loadMain: () => import('./main.js') as Promise<MainModule>,
    createLogger: (level, format) => createStdoutLogger(level, format),
  }).catch((err: unknown) => {
    process.stderr.write(`kdns: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(EXIT_FAILURE);
  });
}
