// RFC 1035 §5.1 master-file lexer. It only finds token boundaries: escapes stay in the token text so
// that each consumer decodes them its own way (a name keeps "\." as a literal dot inside a label, a
// character-string turns "\065" into a byte). Parentheses join physical lines into one entry.

import { SourceError } from '../../errors.js';
import type { Token } from '../../dns/rdata-text.js';

/** One logical entry: a directive or a record, possibly spread over several lines by "( ... )". */
export interface Entry {
  line: number; // where the entry starts, for errors
  blankOwner: boolean; // the line began with white space: the owner is the previous one
  tokens: Token[];
}

const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SEMICOLON = 0x3b;
const OPEN = 0x28;
const CLOSE = 0x29;

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB || c === CR;
}

/** Splits master-file text into entries; throws SourceError for unbalanced quotes or parentheses. */
export function tokenize(text: string, file: string): Entry[] {
  const entries: Entry[] = [];
  const n = text.length;
  let i = 0;
  let line = 1;
  let depth = 0; // open parentheses
  let openedAt = 0; // line of the outermost open parenthesis, for the EOF error
  let entry: Entry | null = null;
  let atLineStart = true;

  while (i < n) {
    const c = text.charCodeAt(i);
    if (atLineStart) {
      // A new entry can only begin at the start of a physical line outside parentheses.
      if (depth === 0) {
        if (entry && entry.tokens.length > 0) entries.push(entry);
        entry = { line, blankOwner: isBlank(c), tokens: [] };
      }
      atLineStart = false;
    }
    if (c === LF) {
      line++;
      i++;
      atLineStart = true;
      continue;
    }
    if (isBlank(c)) {
      i++;
      continue;
    }
    if (c === SEMICOLON) {
      while (i < n && text.charCodeAt(i) !== LF) i++;
      continue;
    }
    if (c === OPEN) {
      if (depth === 0) openedAt = line;
      depth++;
      i++;
      continue;
    }
    if (c === CLOSE) {
      if (depth === 0) throw new SourceError(file, line, "expected '(' before ')'");
      depth--;
      i++;
      continue;
    }
    if (c === QUOTE) {
      const start = ++i;
      for (;;) {
        if (i >= n || text.charCodeAt(i) === LF) {
          throw new SourceError(file, line, 'expected a closing \'"\' before the end of the line');
        }
        const q = text.charCodeAt(i);
        if (q === QUOTE) break;
        // An escaped character never closes the string, but an escaped newline would hide a line.
        if (q === BACKSLASH && i + 1 < n && text.charCodeAt(i + 1) !== LF) i += 2;
        else i++;
      }
      entry!.tokens.push({ text: text.slice(start, i), quoted: true, line });
      i++; // the closing quote
      continue;
    }
    // A plain token runs to the next blank, newline or special character; an escape protects the
    // character after the backslash (so "a\ b" and "a\;b" are single tokens).
    const start = i;
    while (i < n) {
      const d = text.charCodeAt(i);
      if (d === BACKSLASH) {
        if (i + 1 >= n || text.charCodeAt(i + 1) === LF) {
          throw new SourceError(file, line, 'expected a character after \'\\\', got the end of the line');
        }
        i += 2;
        continue;
      }
      if (d === LF || isBlank(d) || d === SEMICOLON || d === OPEN || d === CLOSE || d === QUOTE) break;
      i++;
    }
    entry!.tokens.push({ text: text.slice(start, i), quoted: false, line });
  }
  if (depth > 0) throw new SourceError(file, openedAt, "expected ')' to close the '(' opened here");
  if (entry && entry.tokens.length > 0) entries.push(entry);
  return entries;
}
