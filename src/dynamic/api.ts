// The REST API for dynamic zones (`/api/v1/...`, JSON in and out). Reads are open like /metrics; every
// write needs the bearer token (BearerAuth), answers only after the change is saved, and is audited.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { nameToKey } from '../dns/name.js';
import type { BearerAuth } from '../http/auth.js';
import { OPENAPI } from './openapi.js';
import { parseRecordInput, recordName, recordType, RecordProblem } from './records.js';
import type { DynamicZones } from './zones.js';

const PREFIX = '/api/v1/';
const MAX_BODY = 64 * 1024;

export interface ApiDeps {
  zones: DynamicZones;
  auth: BearerAuth;
  /** Resolves once every worker serves the latest change: a 200 means "answered everywhere". */
  settled?: () => Promise<unknown>;
}

/** Handles a request under /api/v1/; false when the path is not the API's. */
export async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL, deps: ApiDeps): Promise<boolean> {
  if (!url.pathname.startsWith(PREFIX)) return false;
  try {
    await route(req, res, url, deps);
  } catch (e) {
    if (!(e instanceof RecordProblem)) throw e;
    // RFC 6750 §3: a 401 says which scheme would be accepted.
    const headers: Record<string, string> = e.status === 401 ? { 'www-authenticate': 'Bearer realm="kdns"' } : {};
    sendJson(res, e.status, { error: { code: e.code, field: e.field, message: e.message } }, headers);
  }
  return true;
}

async function route(req: IncomingMessage, res: ServerResponse, url: URL, deps: ApiDeps): Promise<void> {
  const parts = url.pathname.slice(PREFIX.length).split('/').map(decodeSegment);
  const method = req.method ?? 'GET';
  if (parts.length === 1 && parts[0] === 'openapi.json') {
    allow(method, ['GET']);
    sendJson(res, 200, OPENAPI);
    return;
  }
  if (parts[0] !== 'zones') throw new RecordProblem(404, null, `no such API path ${url.pathname}`);
  if (parts.length === 1) {
    allow(method, ['GET']);
    sendJson(res, 200, { zones: deps.zones.origins().map((zone) => ({ zone, serial: deps.zones.serial(zone) })) });
    return;
  }
  const zone = zoneKey(parts[1]!);
  if (!deps.zones.has(zone)) throw new RecordProblem(404, 'zone', `no dynamic zone ${zone}`);
  if (parts.length === 3 && parts[2] === 'records') {
    allow(method, ['GET']);
    const nameText = url.searchParams.get('name');
    const name = nameText === null ? undefined : recordName(nameText, zone);
    sendJson(res, 200, { zone, serial: deps.zones.serial(zone), records: deps.zones.list(zone, name) });
    return;
  }
  if (parts.length !== 5 || parts[2] !== 'records') throw new RecordProblem(404, null, `no such API path ${url.pathname}`);
  allow(method, ['PUT', 'DELETE']);
  authorize(req, deps.auth);
  const name = recordName(parts[3]!, zone);
  const type = recordType(parts[4]!);
  const source = { via: 'api', client: req.socket.remoteAddress ?? 'unknown' };
  if (method === 'PUT') {
    const rrset = parseRecordInput(zone, name, type, await readJson(req));
    const record = deps.zones.put(zone, rrset, source);
    await deps.settled?.();
    sendJson(res, 200, { zone, serial: deps.zones.serial(zone), ...record });
  } else if (deps.zones.delete(zone, name, type, source)) {
    await deps.settled?.();
    res.writeHead(204).end();
  } else {
    throw new RecordProblem(404, 'name', `${name} has no ${parts[4]!.toUpperCase()} record`);
  }
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new RecordProblem(400, null, `expected a URL-encoded path segment, got '${segment}'`);
  }
}

function zoneKey(text: string): string {
  try {
    return nameToKey(text.endsWith('.') ? text : `${text}.`);
  } catch (e) {
    throw new RecordProblem(400, 'zone', `expected a zone name, got '${text}' (${(e as Error).message})`);
  }
}

function allow(method: string, methods: string[]): void {
  if (!methods.includes(method)) throw new RecordProblem(405, null, `method ${method} not allowed here (allowed: ${methods.join(', ')})`);
}

/** Throws the 401/403 the request deserves, or returns when it may write. */
export function authorize(req: IncomingMessage, auth: BearerAuth): void {
  const verdict = auth.check(req);
  if (verdict === 403) throw new RecordProblem(403, null, 'writes are disabled: start kdns with --api-token-file to enable them');
  if (verdict === 401) throw new RecordProblem(401, null, 'expected the header Authorization: Bearer <token from --api-token-file>');
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new RecordProblem(413, null, `expected a body of at most ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (e) {
        reject(new RecordProblem(400, null, `expected a JSON body: ${(e as Error).message}`));
      }
    });
  });
}

function sendJson(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}
