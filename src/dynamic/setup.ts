// Wiring of the dynamic zones for main.ts: the clash checks that need the whole config, the HTTP hook
// of the REST API and the port that takes RFC 2136 UPDATEs from the responders.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { KdnsConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { BearerAuth } from '../http/auth.js';
import type { UpdatePort } from '../server/responder.js';
import type { ZoneWriter } from '../worker/zone-writer.js';
import type { ZoneSet } from '../zone/index.js';
import { handleApi } from './api.js';
import { UpdateHandler } from './update.js';
import { DynamicZones } from './zones.js';

export interface DynamicSetup {
  zones: DynamicZones;
  /** For the responders; null without dynamic zones (UPDATE then answers NOTIMP). */
  updates: UpdatePort | null;
  api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
}

export interface DynamicWiring {
  /** The zones already served (zone files, the cluster zone once added): no dynamic zone may clash. */
  served: ZoneSet;
  writer: ZoneWriter;
  auth: BearerAuth;
  /** Resolves once every worker serves the latest change, so a client that was told "done" sees it. */
  settled?: () => Promise<unknown>;
}

/** Opens the configured dynamic zones (none is fine). Throws ConfigError on a clash, SourceError on bad state. */
export function startDynamicZones(config: KdnsConfig, log: Logger, w: DynamicWiring): DynamicSetup {
  const clusterOrigin = config.clusterDomain + '.';
  for (const origin of config.dynamicZones) {
    if (w.served.get(origin) !== undefined) {
      throw new ConfigError(config.configFile, null, `dynamic zone ${origin} is also loaded from a zone file`);
    }
    if (origin === clusterOrigin) {
      throw new ConfigError(config.configFile, null, `dynamic zone ${origin} is the cluster domain`);
    }
  }
  const origins = [...new Set(config.dynamicZones)];
  const zones = new DynamicZones({ origins, stateDir: config.stateDir, writer: w.writer, log });
  const handler = new UpdateHandler({
    zones, keys: config.tsigKeys, log: log.child({ component: 'dynamic' }), servesStatic: (origin) => w.served.get(origin) !== undefined,
  });
  const updates: UpdatePort | null = origins.length === 0 ? null : {
    async handle(message, client) {
      const response = handler.handle(message, client);
      await w.settled?.();
      return response;
    },
  };
  return {
    zones,
    updates,
    api: (req, res, url) => handleApi(req, res, url, { zones, auth: w.auth, settled: w.settled }),
  };
}
