// Label and field selectors for the test API server: the equality-based subset
// (`a=b`, `a==b`, `a!=b`, `a`, `!a`, comma = AND). Set-based forms (`in`, `notin`) are refused with
// 400 rather than silently ignored, so a client relying on them fails loudly in tests.

export interface Requirement {
  key: string;
  op: '=' | '!=' | 'exists' | '!exists';
  value: string;
}

export type Selector = Requirement[];

const FIELDS = new Set(['metadata.name', 'metadata.namespace']);

export function parseSelector(text: string, kind: 'label' | 'field'): Selector {
  const out: Selector = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const m = /^(!?)([A-Za-z0-9._/-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9._-]*))?$/.exec(part);
    if (!m) throw new Error(`unable to parse requirement '${part}' in ${kind} selector`);
    const [, not, key, op, value] = m;
    if (kind === 'field' && (!FIELDS.has(key!) || op === undefined)) {
      throw new Error(`field selector '${part}' is not supported (only metadata.name and metadata.namespace equality)`);
    }
    if (op === undefined) out.push({ key: key!, op: not ? '!exists' : 'exists', value: '' });
    else if (not) throw new Error(`unable to parse requirement '${part}' in ${kind} selector`);
    else out.push({ key: key!, op: op === '!=' ? '!=' : '=', value: value ?? '' });
  }
  return out;
}

export function matchLabels(sel: Selector, labels: Record<string, string>): boolean {
  return sel.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    switch (r.op) {
      case 'exists': return has;
      case '!exists': return !has;
      case '=': return has && labels[r.key] === r.value;
      case '!=': return !has || labels[r.key] !== r.value;
    }
  });
}

export function matchFields(sel: Selector, fields: Record<string, string>): boolean {
  return sel.every((r) => (r.op === '=' ? fields[r.key] === r.value : fields[r.key] !== r.value));
}
