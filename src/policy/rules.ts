// Answer policies (JD's KDNS per-domain answer order, ContainerDNS's health scanner): the rule type,
// its one-line text form (the `--policy` flag; kdns.yaml's map form is flattened to the same text by
// src/config/file.ts) and the lookup of the rule that governs a name.

import { parseDomain, parseDurationMs, parseIntIn, ValueProblem } from '../config/values.js';

export type AnswerOrderMode = 'fixed' | 'round-robin' | 'random';
export const ORDER_MODES: readonly AnswerOrderMode[] = ['fixed', 'round-robin', 'random'];

export interface HealthCheck {
  /** TCP port connected to on each A/AAAA address. */
  port: number;
  intervalMs: number;
  timeoutMs: number;
  /** Failed checks in a row before an address leaves the answer (one success brings it back). */
  failures: number;
}

export interface AnswerPolicy {
  /** A key ("www.example.com."). */
  domain: string;
  /** `name`: that owner name only; `zone`: the name and every name below it. */
  scope: 'name' | 'zone';
  order: AnswerOrderMode;
  healthCheck: HealthCheck | null;
}

const HEALTH_DEFAULTS = { intervalMs: 5000, timeoutMs: 1000, failures: 3 };

const KEYS = ['name', 'zone', 'order', 'health-check.port', 'health-check.interval', 'health-check.timeout', 'health-check.failures'];

/**
 * `name=www.example.com,order=round-robin` or
 * `zone=pool.example.com,order=random,health-check.port=80,health-check.interval=2s,health-check.timeout=500ms,health-check.failures=2`.
 * Throws ValueProblem saying what was expected.
 */
export function parsePolicy(text: string): AnswerPolicy {
  const fields = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part.trim() : part.slice(0, eq).trim();
    if (eq < 0 || !KEYS.includes(key)) {
      throw new ValueProblem(`expected KEY=VALUE items with keys ${KEYS.join(', ')}, got '${part}'`);
    }
    if (fields.has(key)) throw new ValueProblem(`expected ${key} once, got it twice`);
    fields.set(key, part.slice(eq + 1).trim());
  }
  const name = fields.get('name');
  const zone = fields.get('zone');
  if ((name === undefined) === (zone === undefined)) throw new ValueProblem(`expected exactly one of name=DOMAIN or zone=DOMAIN, got '${text}'`);
  const order = fields.get('order') ?? 'fixed';
  if (!(ORDER_MODES as readonly string[]).includes(order)) throw new ValueProblem(`order: expected one of ${ORDER_MODES.join(', ')}, got '${order}'`);
  const port = fields.get('health-check.port');
  const healthKeys = [...fields.keys()].filter((k) => k.startsWith('health-check.'));
  if (port === undefined && healthKeys.length > 0) throw new ValueProblem('expected health-check.port with the other health-check settings');
  const inField = <T>(key: string, parse: (v: string) => T): T => {
    try {
      return parse(fields.get(key)!);
    } catch (e) {
      if (e instanceof ValueProblem) throw new ValueProblem(`${key}: ${e.message}`);
      throw e;
    }
  };
  const healthCheck: HealthCheck | null = port === undefined ? null : {
    port: inField('health-check.port', (v) => parseIntIn(v, 1, 65535)),
    intervalMs: fields.has('health-check.interval') ? inField('health-check.interval', parseDurationMs) : HEALTH_DEFAULTS.intervalMs,
    timeoutMs: fields.has('health-check.timeout') ? inField('health-check.timeout', parseDurationMs) : HEALTH_DEFAULTS.timeoutMs,
    failures: fields.has('health-check.failures') ? inField('health-check.failures', (v) => parseIntIn(v, 1, 100)) : HEALTH_DEFAULTS.failures,
  };
  if (healthCheck !== null && healthCheck.timeoutMs > healthCheck.intervalMs) {
    throw new ValueProblem(`health-check.timeout: expected at most health-check.interval (${healthCheck.intervalMs}ms), got ${healthCheck.timeoutMs}ms`);
  }
  return {
    domain: name !== undefined ? inField('name', parseDomain) : inField('zone', parseDomain),
    scope: name !== undefined ? 'name' : 'zone',
    order: order as AnswerOrderMode,
    healthCheck,
  };
}

/** Finds the rule for a name: its own `name` rule first, else the `zone` rule of the nearest enclosing domain. */
export class PolicyTable {
  private readonly byName = new Map<string, AnswerPolicy>();
  private readonly byZone = new Map<string, AnswerPolicy>();
  readonly rotating: boolean;

  constructor(readonly policies: readonly AnswerPolicy[]) {
    for (const p of policies) (p.scope === 'name' ? this.byName : this.byZone).set(p.domain, p);
    this.rotating = policies.some((p) => p.order !== 'fixed');
  }

  get size(): number {
    return this.policies.length;
  }

  match(name: string): AnswerPolicy | null {
    const own = this.byName.get(name);
    if (own !== undefined) return own;
    if (this.byZone.size === 0) return null;
    for (let at = name; at !== '.';) {
      const p = this.byZone.get(at);
      if (p !== undefined) return p;
      const dot = at.indexOf('.');
      at = dot === at.length - 1 ? '.' : at.slice(dot + 1);
    }
    return null;
  }
}

/** The same rule (scope and domain) given twice in one layer is a mistake, not an override. */
export function describePolicy(p: AnswerPolicy): string {
  return `${p.scope}=${p.domain}`;
}
