// Worker threads log through pino into a message (data-plane.ts); the main thread re-logs each line
// through its own logger, so kdns writes one stream in one format whatever the thread.

import type { Logger } from 'pino';

const LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = {
  1: 'trace', 2: 'debug', 3: 'info', 4: 'warn', 5: 'error', 6: 'fatal',
};

/** Re-logs one pino JSON line from a worker through `log` (its own time is dropped: the main logger stamps). */
export function relayLogLine(log: Logger, line: string): void {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return;
  }
  const { level, msg, time: _time, ...rest } = rec;
  const name = typeof level === 'number' ? LEVELS[Math.floor(level / 10)] ?? 'info' : 'info';
  log[name](rest, typeof msg === 'string' ? msg : '');
}
