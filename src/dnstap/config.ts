// The dnstap settings: where frames go, which share of exchanges, and each thread's ring size.

import { ValueProblem } from '../config/values.js';

/** Per data-plane thread: about 8,000 typical records, 40 ms of a busy worker's queries and answers. */
export const DEFAULT_DNSTAP_BUFFER = 1024 * 1024;
export const MIN_DNSTAP_BUFFER = 4096;
export const MAX_DNSTAP_BUFFER = 1024 * 1024 * 1024;

/** `FILE` or `unix:PATH`; `none` turns it off. */
export function parseDnstapTarget(text: string): string | null {
  if (text === 'none') return null;
  if (text === '' || text === 'unix:') throw new ValueProblem(`expected a file path or unix:PATH, got '${text}'`);
  return text;
}
