// One logger to stdout; components log through children named like their folder
// (`log.child({ component: 'zone' })`), so `component` is the same word as the config key,
// the metric subsystem and the README title. Lines are JSON, or readable text (log-format.ts) for a
// person at a terminal.

import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogFormat, LogLevel } from './config/types.js';
import { resolveLogFormat, textDestination } from './log-format.js';

export type { Logger };

/** `dest` is for tests; production writes to stdout, flushed by pino on exit. */
export function createLogger(level: LogLevel, dest?: DestinationStream): Logger {
  const options = {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Error objects under `err` with their code, so logs can be matched on KDNS_* codes.
    serializers: { err: pino.stdSerializers.err },
  };
  return dest ? pino(options, dest) : pino(options);
}

/**
 * The process's logger in `format` (auto: text when the output is a terminal). Writes synchronously to
 * `out.fd` (stdout), as pino's own default does, so nothing is lost when the process exits.
 */
export function createStdoutLogger(level: LogLevel, format: LogFormat, out = { fd: 1, isTTY: process.stdout.isTTY === true }): Logger {
  const dest = pino.destination({ dest: out.fd, sync: true });
  return createLogger(level, resolveLogFormat(format, out.isTTY) === 'json' ? dest : textDestination(dest));
}

export function componentLogger(log: Logger, component: string): Logger {
  return log.child({ component });
}
