// Wiring for main.ts: the transfer service when --transfer-to or --notify asks for one, and the
// wrappers that journal the cluster zone and the dynamic zones (unchanged sinks and writers without it).

import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { KdnsConfig } from '../config/types.js';
import type { ClusterSink } from '../sources/kubernetes/cluster-zone.js';
import type { ZoneWriter } from '../worker/zone-writer.js';
import type { ZoneSet } from '../zone/index.js';
import { TransferService } from './service.js';
import { transferSink, transferWriter } from './tracking.js';

/** Null unless transfers are allowed to someone or secondaries are to be notified. */
export function startTransfers(
  config: KdnsConfig, log: Logger, zones: ZoneSet, registry?: Registry, settled?: () => Promise<unknown>,
): TransferService | null {
  if (config.transferTo.length === 0 && config.notify.length === 0) return null;
  return new TransferService({
    zones, allow: config.transferTo, notify: config.notify, log: log.child({ component: 'transfer' }), registry, settled,
  });
}

export function withTransferSink(sink: ClusterSink, transfers: TransferService | null): ClusterSink {
  return transfers === null ? sink : transferSink(sink, transfers);
}

export function withTransferWriter(writer: ZoneWriter, transfers: TransferService | null): ZoneWriter {
  return transfers === null ? writer : transferWriter(writer, transfers);
}
