// /api/v1/inspect: the zone browser (GET /api/v1/inspect/name?name=NAME: the RRsets at a name and, in
// the cluster zone, the objects they come from) and the report on the cluster DNS
// (GET /api/v1/inspect/report). Read-only, no token: the same trust as /metrics.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { json } from '../stats/api.js';
import type { ZoneSet } from '../zone/index.js';
import { lookupName } from './lookup.js';
import { provenanceOf } from './provenance.js';
import { buildReport, type ReportDeps } from './report.js';

export interface InspectSource extends ReportDeps {
  zones: ZoneSet;
}

const PATHS = new Set(['/api/v1/inspect/name', '/api/v1/inspect/report']);

export async function handleInspect(req: IncomingMessage, res: ServerResponse, url: URL, source: InspectSource): Promise<boolean> {
  const path = url.pathname;
  if (!PATHS.has(path)) return false;
  if (req.method !== 'GET') {
    res.writeHead(405, { allow: 'GET' }).end('method not allowed\n');
    return true;
  }
  if (path === '/api/v1/inspect/report') {
    json(res, 200, { sections: await buildReport(source) });
    return true;
  }
  const text = (url.searchParams.get('name') ?? '').trim();
  if (text === '') {
    json(res, 400, { error: 'name: expected a domain name' });
    return true;
  }
  let view;
  try {
    view = lookupName(source.zones, text);
  } catch (err) {
    json(res, 400, { error: `name: ${(err as Error).message}` });
    return true;
  }
  const cluster = source.cluster;
  const provenance = cluster === null ? [] : provenanceOf(cluster.state.view(), cluster.state.zone, view.name);
  json(res, 200, { ...view, provenance });
  return true;
}
