// kdns.yaml → one ConfigLayer. Pure: the caller reads the file. Every error names the file, the
// line of the offending node and what was expected, because an operator fixing a ConfigMap at
// 3 a.m. should not have to guess.

import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair } from 'yaml';
import { ConfigError } from '../errors.js';
import { OPTIONS, type OptionSpec } from './options.js';
import type { ConfigLayer } from './types.js';
import { ValueProblem } from './values.js';

// key path joined with '.' → option ("tcp.idle-timeout"); groups are the maps on the way
// ("forward", "forward.cache", "forward.cache.prefetch").
const BY_PATH = new Map<string, OptionSpec>();
const GROUPS = new Set<string>();
for (const o of OPTIONS) {
  if (o.key === null) continue;
  BY_PATH.set(o.key.join('.'), o);
  for (let depth = 1; depth < o.key.length; depth++) GROUPS.add(o.key.slice(0, depth).join('.'));
}

export function parseConfigFile(text: string, file: string): ConfigLayer {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const line = err.linePos?.[0]?.line ?? null;
    throw new ConfigError(file, line, `invalid YAML: ${err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  const lineOf = (node: unknown): number | null => {
    const range = (node as Node | null)?.range;
    return range ? lineCounter.linePos(range[0]).line : null;
  };
  const layer: ConfigLayer = {};
  const ctx = { configFile: file };
  // Settings in the order given, for the checks that compare one setting with another.
  const given: { spec: OptionSpec; dotted: string; line: number | null }[] = [];

  const walkMap = (map: unknown, prefix: string[]): void => {
    if (!isMap(map)) {
      const where = prefix.length ? `'${prefix.join('.')}'` : 'the top level';
      throw new ConfigError(file, lineOf(map), `expected a map of settings at ${where}`);
    }
    for (const pair of map.items as Pair<unknown, unknown>[]) {
      const keyNode = pair.key;
      if (!isScalar(keyNode) || typeof keyNode.value !== 'string') {
        throw new ConfigError(file, lineOf(keyNode), 'expected a setting name (a string key)');
      }
      const path = [...prefix, keyNode.value];
      const dotted = path.join('.');
      if (GROUPS.has(dotted)) {
        // An empty section (`forward:` with nothing under it) gives nothing, as before.
        if (pair.value == null || (isScalar(pair.value) && pair.value.value === null)) continue;
        walkMap(pair.value, path);
        continue;
      }
      const spec = BY_PATH.get(dotted);
      if (!spec) throw new ConfigError(file, lineOf(keyNode), unknownKey(dotted));
      applyValue(spec, dotted, pair.value ?? null, lineOf(keyNode));
      given.push({ spec, dotted, line: lineOf(pair.value) ?? lineOf(keyNode) });
    }
  };

  const applyValue = (spec: OptionSpec, dotted: string, node: unknown, keyLine: number | null): void => {
    const line = lineOf(node) ?? keyLine;
    const bad = (message: string): never => { throw new ConfigError(file, line, `${dotted}: ${message}`); };
    const apply = (text: string, at: number | null): void => {
      try {
        spec.apply(layer, text, ctx);
      } catch (e) {
        if (e instanceof ValueProblem) throw new ConfigError(file, at, `${dotted}: ${e.message}`);
        throw e;
      }
    };
    const scalarText = (n: unknown): string => {
      if (spec.structured && isMap(n)) return flatten(n, '', bad);
      if (!isScalar(n) || n.value === null) return bad(`expected ${spec.arg}`);
      const v = n.value;
      if (typeof v === 'string' || typeof v === 'number') return String(v);
      return bad(`expected ${spec.arg}, got ${typeof v}`);
    };
    if (spec.arg === undefined) {
      // Switches must be real YAML booleans: "yes" or "on" in quotes is more likely a mistake.
      if (!isScalar(node) || typeof node.value !== 'boolean') bad('expected true or false');
      apply(String((node as { value: boolean }).value), line);
    } else if (spec.nullable && (node === null || (isScalar(node) && node.value === null))) {
      apply('none', line);
    } else if (spec.repeatable && isSeq(node)) {
      if (node.items.length === 0) bad(`expected at least one ${spec.arg} (leave the key out for the default)`);
      for (const item of node.items) apply(scalarText(item), lineOf(item) ?? line);
    } else {
      apply(scalarText(node), line);
    }
  };

  if (doc.contents !== null) walkMap(doc.contents, []);
  for (const { spec, dotted, line } of given) {
    try {
      spec.check?.(layer);
    } catch (e) {
      if (e instanceof ValueProblem) throw new ConfigError(file, line, `${dotted}: ${e.message}`);
      throw e;
    }
  }
  return layer;
}

/** A map item of a structured option as its one-line text: `{a: 1, b: {c: 2}}` → `a=1,b.c=2`. */
function flatten(map: unknown, prefix: string, bad: (message: string) => never): string {
  const parts: string[] = [];
  for (const pair of (map as { items: Pair<unknown, unknown>[] }).items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : bad('expected a setting name (a string key)');
    const value = pair.value;
    if (isMap(value)) parts.push(flatten(value, `${prefix}${key}.`, bad));
    else if (isSeq(value)) for (const item of value.items) parts.push(`${prefix}${key}=${scalarItem(item, `${prefix}${key}`, bad)}`);
    else if (isScalar(value) && value.value !== null && typeof value.value !== 'object') parts.push(`${prefix}${key}=${String(value.value)}`);
    else bad(`expected a value for ${prefix}${key}`);
  }
  return parts.join(',');
}

/** A list inside a structured item (`match-clients: [a, b]`) becomes the key repeated: `match-clients=a,match-clients=b`. */
function scalarItem(item: unknown, key: string, bad: (message: string) => never): string {
  if (isScalar(item) && item.value !== null && typeof item.value !== 'object') return String(item.value);
  return bad(`expected a list of values for ${key}`);
}

function unknownKey(dotted: string): string {
  const known = [...BY_PATH.keys()];
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(dotted, k);
    // Suggest only near misses: a third of the name may differ (abbreviations), at least two.
    if (d <= Math.max(2, Math.floor(k.length / 3)) && d < bestDistance) { best = k; bestDistance = d; }
  }
  return `unknown setting '${dotted}'` + (best ? `; did you mean '${best}'?` : ' (see docs/configuration.md)');
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
