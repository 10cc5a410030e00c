// One JSON logger to stdout; components log through children named like their folder
// (`log.child({ component: 'zone' })`), so `component` is the same word as the config key,
// the metric subsystem and the README title.

import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config/types.js';

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

export function componentLogger(log: Logger, component: string): Logger {
  return log.child({ component });
}
