// Everything the HTTP port serves besides /metrics /health /ready: the /api/v1 REST API of the dynamic
// zones, the stats API, the inspection API and the dashboard that reads them. One function, tried in turn.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpDeps } from '../http/server.js';
import { handleStats, type StatsSource } from '../stats/api.js';
import { handleInspect, type InspectSource } from '../inspect/api.js';
import { handleDashboard } from './serve.js';

export interface DashboardDeps {
  /** The dynamic zones' REST API (src/dynamic), if any. */
  api?: HttpDeps['api'];
  stats: StatsSource;
  inspect: InspectSource;
}

export function dashboardRoutes(deps: DashboardDeps): NonNullable<HttpDeps['api']> {
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    // Ours first: the dynamic zones' API answers every other /api/v1 path (with 404 when unknown).
    if (await handleStats(req, res, url, deps.stats)) return true;
    if (await handleInspect(req, res, url, deps.inspect)) return true;
    if (deps.api !== undefined && await deps.api(req, res, url)) return true;
    return handleDashboard(req, res, url);
  };
}
