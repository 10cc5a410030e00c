// Readable log lines for a person at a terminal. pino writes JSON lines (what files, pipes and log
// collectors want); with --log-format text, or auto on a terminal, each line is re-written as
//   2026-12-03T13:26:03.634Z INFO  reload: reloaded zonesChanged=["r.test."] ms=8
// A small formatter of our own rather than pino-pretty: one screen of code instead of a dependency tree.

import type { LogFormat } from './config/types.js';

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields every line has, shown in fixed places (or left out: pid is the same on every line). */
const PLACED = new Set(['time', 'level', 'msg', 'component', 'pid', 'err']);
const BARE = /^[^\s"=\\]+$/;

/** auto → text when the log goes to a terminal, JSON otherwise (files, pipes, journald, kubectl logs). */
export function resolveLogFormat(format: LogFormat, isTTY: boolean): 'json' | 'text' {
  if (format === 'auto') return isTTY ? 'text' : 'json';
  return format;
}

/** One pino JSON record → one readable line (plus the stack of an unexpected error), ending in '\n'. */
export function formatRecord(rec: Record<string, unknown>): string {
  const level = typeof rec.level === 'number' ? LEVEL_NAMES[rec.level] ?? `L${rec.level}` : 'INFO';
  let line = `${typeof rec.time === 'string' ? rec.time : new Date().toISOString()} ${level.padEnd(5)} `;
  if (typeof rec.component === 'string') line += rec.component + ': ';
  line += typeof rec.msg === 'string' ? rec.msg : '';
  for (const [key, value] of Object.entries(rec)) {
    if (PLACED.has(key) || value === undefined) continue;
    line += ` ${key}=${formatValue(value)}`;
  }
  const err = rec.err as { message?: unknown; code?: unknown; stack?: unknown } | undefined;
  if (err !== undefined && err !== null) {
    const code = typeof err.code === 'string' ? err.code : null;
    line += ` err=${formatValue(code === null ? err.message : `${code}: ${String(err.message)}`)}`;
    // Our own errors (KDNS_* codes) say all in their message; anything else is a bug and needs its stack.
    if (!(code?.startsWith('KDNS_') ?? false) && typeof err.stack === 'string') {
      line += '\n' + err.stack.split('\n').slice(1).map((l) => '    ' + l.trim()).join('\n');
    }
  }
  return line + '\n';
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return BARE.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/** A pino destination that writes each record as a text line to `out`; a line that is not JSON passes as is. */
export function textDestination(out: { write(text: string): unknown }): { write(line: string): void } {
  return {
    write(line: string): void {
      let rec: unknown;
      try {
        rec = JSON.parse(line);
      } catch {
        out.write(line);
        return;
      }
      out.write(typeof rec === 'object' && rec !== null ? formatRecord(rec as Record<string, unknown>) : line);
    },
  };
}
