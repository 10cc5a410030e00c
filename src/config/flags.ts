// Command-line flags → one ConfigLayer. Pure: no files, no process access. Accepts `--flag value`
// and `--flag=value`; repeatable options append; other options take the last value given.

import { ConfigError } from '../errors.js';
import { OPTION_BY_FLAG, type OptionSpec } from './options.js';
import type { ConfigLayer } from './types.js';
import { ValueProblem } from './values.js';

export type FlagLayer = ConfigLayer & { configFile?: string; help?: boolean; version?: boolean };

const CTX = { configFile: null };

export function parseFlags(argv: string[]): { flags: FlagLayer } {
  const flags: FlagLayer = {};
  const given: OptionSpec[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const m = /^(--?)([^=]+)(?:=(.*))?$/s.exec(arg);
    if (!m || arg === '-' || arg === '--') throw new ConfigError(null, null, `unexpected argument '${arg}' (see --help)`);
    const [, dashes, name, inline] = m;
    const shown = dashes + name;
    if (name === 'help' || (dashes === '-' && name === 'h')) { flags.help = true; continue; }
    if (name === 'version' && dashes === '--') { flags.version = true; continue; }
    const spec = OPTION_BY_FLAG.get(name);
    if (!spec || (dashes === '-') !== (name === spec.short)) {
      throw new ConfigError(null, null, `unknown flag ${shown} (see --help)`);
    }
    let value: string;
    if (inline !== undefined) {
      value = inline;
    } else if (spec.arg === undefined) {
      value = 'true'; // a switch: present means on
    } else {
      const next = argv[i + 1];
      // "--listen --workers 2" is a forgotten value, not a listen address called "--workers".
      if (next === undefined || next.startsWith('--')) {
        throw new ConfigError(null, null, `${shown} expects ${spec.arg}`);
      }
      value = next;
      i++;
    }
    try {
      spec.apply(flags, value, CTX);
      given.push(spec);
    } catch (e) {
      if (e instanceof ValueProblem) throw new ConfigError(null, null, `${shown}: ${e.message}`);
      throw e;
    }
  }
  for (const spec of new Set(given)) {
    try {
      spec.check?.(flags);
    } catch (e) {
      if (e instanceof ValueProblem) throw new ConfigError(null, null, `--${spec.flag}: ${e.message}`);
      throw e;
    }
  }
  return { flags };
}
