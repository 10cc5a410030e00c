// /api/v1/inspect: the zone browser (GET /api/v1/inspect/name?name=NAME) and the report on the cluster
// DNS (GET /api/v1/inspect/report). Read-only, no token: the same trust as /metrics.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { json } from '../stats/api.js';
import type { ZoneSet } from '../zone/index.js';
import { lookupName } from './lookup.js';

export interface InspectSource {
  zones: ZoneSet;
}

export async function handleInspect(req: IncomingMessage, res: ServerResponse, url: URL, source: InspectSource): Promise<boolean> {
  const path = url.pathname;
  if (path !== '/api/v1/inspect/name') return false;
  if (req.method !== 'GET') {
    res.writeHead(405, { allow: 'GET' }).end('method not allowed\n');
    return true;
  }
  const text = (url.searchParams.get('name') ?? '').trim();
  if (text === '') {
    json(res, 400, { error: 'name: expected a domain name' });
    return true;
  }
  try {
    json(res, 200, lookupName(source.zones, text));
  } catch (err) {
    json(res, 400, { error: `name: ${(err as Error).message}` });
  }
  return true;
}
