// Wiring of the dynamic zones for main.ts: the clash checks that need the whole config, and the HTTP
// hook of the REST API.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { KdnsConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { BearerAuth } from '../http/auth.js';
import type { ZoneWriter } from '../worker/zone-writer.js';
import type { ZoneSet } from '../zone/index.js';
import { handleApi } from './api.js';
import { DynamicZones } from './zones.js';

/** Opens the configured dynamic zones (none is fine) beside the zones already served. */
export function startDynamicZones(config: KdnsConfig, log: Logger, served: ZoneSet, writer: ZoneWriter): DynamicZones {
  const clusterOrigin = config.clusterDomain + '.';
  for (const origin of config.dynamicZones) {
    if (served.get(origin) !== undefined) {
      throw new ConfigError(config.configFile, null, `dynamic zone ${origin} is also loaded from a zone file`);
    }
    if (origin === clusterOrigin) {
      throw new ConfigError(config.configFile, null, `dynamic zone ${origin} is the cluster domain`);
    }
  }
  const origins = [...new Set(config.dynamicZones)];
  return new DynamicZones({ origins, stateDir: config.stateDir, writer, log });
}

export function dynamicApi(zones: DynamicZones, auth: BearerAuth) {
  return (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => handleApi(req, res, url, { zones, auth });
}
