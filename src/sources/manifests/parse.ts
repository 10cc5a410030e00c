// Kubernetes manifests (multi-document YAML or JSON, `List` kinds) → slim objects, pure. Kinds DNS
// does not use (Deployments, ConfigMaps...) are counted and ignored, so a directory of real
// manifests can be pointed at as is; a malformed object, or one the API server would refuse
// (api-validation.ts), is reported with its file, document index and field and skipped, never
// failing the rest.

import { parseAllDocuments } from 'yaml';
import { isKindName, KINDS, slimRef, type KindName } from '../kubernetes/kinds.js';
import { apiServerProblems } from './api-validation.js';

export interface ManifestObject {
  kind: KindName;
  key: string; // "Kind/ns/name": identity across reloads
  slim: object;
  where: string; // "file#doc" or "file#doc.items[i]"
}

export interface ParsedManifest {
  objects: ManifestObject[];
  problems: string[]; // bad objects, each "where: why"
  syntaxError: string | null; // the YAML itself is broken: the caller keeps the file's last good objects
  ignored: number; // objects of kinds DNS does not use
}

export function parseManifest(text: string, file: string): ParsedManifest {
  const out: ParsedManifest = { objects: [], problems: [], syntaxError: null, ignored: 0 };
  const docs = parseAllDocuments(text, { prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const [i, doc] of list.entries()) {
    if (doc.errors.length > 0) {
      out.syntaxError = `${file}#${i}: ${doc.errors[0]!.message}`;
      return out;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      out.syntaxError = `${file}#${i}: ${(err as Error).message}`;
      return out;
    }
    if (value === null || value === undefined) continue; // empty document ("---" at the end)
    addObject(out, value, `${file}#${i}`, undefined);
  }
  return out;
}

function addObject(out: ParsedManifest, value: unknown, where: string, impliedKind: string | undefined): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    out.problems.push(`${where}: not an object`);
    return;
  }
  const obj = value as { kind?: unknown; items?: unknown };
  const kind = typeof obj.kind === 'string' ? obj.kind : impliedKind;
  if (typeof kind === 'string' && kind.endsWith('List') && Array.isArray(obj.items)) {
    // "List" holds any kinds; "ServiceList" items may omit their kind.
    const itemKind = kind === 'List' ? undefined : kind.slice(0, -'List'.length);
    for (const [j, item] of obj.items.entries()) addObject(out, item, `${where}.items[${j}]`, itemKind);
    return;
  }
  if (kind === undefined) {
    out.problems.push(`${where}: no kind`);
    return;
  }
  if (!isKindName(kind)) {
    out.ignored++;
    return;
  }
  // What the API server would refuse never reaches the zone: a cluster could not hold it.
  const refused = apiServerProblems(kind, value);
  if (refused.length > 0) {
    out.problems.push(`${where}: ${describe(kind, value)} would be rejected by the API server: ${refused.join('; ')}`);
    return;
  }
  const slim = KINDS[kind].convert(value);
  if (slim === null) {
    out.ignored++;
    return;
  }
  if (typeof slim === 'string') {
    out.problems.push(`${where}: ${slim}`);
    return;
  }
  const { ns, name } = slimRef(slim);
  out.objects.push({ kind, key: `${kind}/${ns}/${name}`, slim, where });
}

/** "Service shop/web" for messages, from whatever metadata there is. */
function describe(kind: string, value: object): string {
  const m = (value as { metadata?: { name?: unknown; namespace?: unknown } }).metadata ?? {};
  const name = typeof m.name === 'string' ? m.name : '?';
  return typeof m.namespace === 'string' && m.namespace !== '' ? `${kind} ${m.namespace}/${name}` : `${kind} ${name}`;
}
