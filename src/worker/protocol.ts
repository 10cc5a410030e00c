// The messages between the control plane (main thread) and the data-plane workers.
//
// Zone data does not travel in messages: the hub writes it into the zone image (src/zone/image.ts, two
// SharedArrayBuffers every worker reads in place). Snapshots carry the image's buffers (shared, not
// copied), the zones' ids and readiness; deltas carry versions, readiness and the names that changed,
// so each worker drops the compiled answers that depended on them.

import type { ListenAddress } from '../config/types.js';
import type { DataPlaneSettings } from './settings.js';
import type { BoundAddress } from '../engine/types.js';
import type { ForwardOptions } from '../forward/options.js';
import type { DnstapThreadSettings } from '../dnstap/recorder.js';
import type { TopBy, TopReport } from '../stats/top-talkers.js';
import type { ZoneImage } from '../zone/image.js';

/**
 * Exact-match local data, consulted before the zones in this order: hosts files (replaced whole on
 * reload), then the cluster's reverse (PTR) names (changed one RRset at a time).
 */
export const LOCAL_STORES = ['hosts', 'reverse'] as const;
export type LocalStore = (typeof LOCAL_STORES)[number];

/** The image zone id of local store LOCAL_STORES[index]; served zones get ids above these. */
export function localStoreId(index: number): number {
  return index + 1;
}

// ---------------------------------------------------------------------------------------------------
// Deltas and snapshots
// ---------------------------------------------------------------------------------------------------

/** Wall-clock milliseconds with sub-millisecond precision, comparable between threads of one process. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

interface DeltaBase {
  /** The hub's version after this delta; consecutive deltas differ by exactly 1. */
  version: number;
  /** When the hub emitted it (nowMs()), for kdns_worker_delta_apply_seconds. */
  at: number;
}

export type Delta = DeltaBase & (
  /**
   * A zone served from now on; its names are in the image under `id`. `view`: a zone only that view
   * serves (src/views), kept apart from the zones every view may see.
   */
  | { kind: 'add-zone'; origin: string; id: number; ready: boolean; view?: string }
  | { kind: 'remove-zone'; origin: string }
  /** Names of zone `origin` whose data or existence changed (Zone.apply's change set). */
  | { kind: 'changes'; origin: string; names: string[] }
  | { kind: 'ready'; origin: string; ready: boolean }
  /** Local store `store` (LOCAL_STORES): replaced whole, or these names changed. */
  | { kind: 'local'; store: LocalStore; replace: boolean; names: string[] }
  /** Local store `store` has not synced the names below these roots (LocalNames.unsyncedBelow); [] once it has. */
  | { kind: 'local-unsynced'; store: LocalStore; below: string[] }
  /** The hub rebuilt the image (compaction, or it was full): read this one from now on. */
  | { kind: 'image'; image: ZoneImage }
);

export interface ZoneSnapshot {
  origin: string;
  /** The zone's id in the image. */
  id: number;
  /** A zone only this view serves (src/views); absent for the shared zones. */
  view?: string;
  ready: boolean;
}

/** What a starting or recovering worker attaches to: the current image, at this version. */
export interface Snapshot {
  version: number;
  image: ZoneImage;
  zones: ZoneSnapshot[];
  /** Each local store's unsyncedBelow, in LOCAL_STORES order. */
  localUnsynced: string[][];
}

// ---------------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------------

import type { ListenSockets } from '../takeover/sockets.js';

/** Everything a worker needs to serve: the data-plane settings (settings.ts) and its own place; sent once, first. */
export interface InitMessage extends DataPlaneSettings {
  type: 'init';
  /** Worker index = its counter slot. */
  index: number;
  /** This worker's addresses (after the first worker: the concrete ports it bound). */
  listen: ListenAddress[];
  /** The rate-limit buckets all workers share (null: rate limiting off). */
  rateLimitTable: SharedArrayBuffer | null;
  /** Bind with SO_REUSEPORT (several workers on one port). */
  reusePort: boolean;
  counters: SharedArrayBuffer;
  /** Each worker runs its own forwarder (upstream sockets, health) with these options; null: REFUSED. */
  forward: ForwardOptions | null;
  /** The process's one forward cache store (src/forward/shared-store.ts), the same for every worker; null without forwarding. */
  forwardCache: SharedArrayBuffer | null;
  /** RFC 2136 UPDATE messages go to the main thread (`update` → `update-reply`); false: NOTIMP. */
  updates: boolean;
  /** dnstap: this worker's ring and sampling (src/dnstap); null: off. */
  dnstap: DnstapThreadSettings | null;
  /** Sockets handed over by the kdns this one takes over, for this worker to serve (src/takeover). */
  adopted: ListenSockets[];
  /** AXFR/IXFR queries go to the main thread (`transfer` → `transfer-reply`); false: REFUSED. */
  transfers: boolean;
  /** Name of the native addon's C tables every worker of this server shares (native/answer_cache.c). */
  sharedTables: string;
}

/** Main → worker. The worker binds after its first snapshot, so it never answers from an empty replica. */
export type ToWorker =
  | InitMessage
  | { type: 'snapshot'; snapshot: Snapshot }
  /** Every delta emitted within one event-loop turn, in version order. */
  | { type: 'delta'; deltas: Delta[] }
  /** Stop reading, answer what was received (within the shutdown grace period), exit 0. */
  | { type: 'close' }
  /** Tests only: throw from the message handler, as a bug in the worker would. */
  | { type: 'crash' }
  /** A question the worker answers with `reply` carrying the same id (scrapes, cache flushes). */
  | { type: 'request'; id: number; what: 'metrics' | 'flush-cache' }
  /** SIGHUP reload: forward with these routes from now on (Forwarder.reconfigure); `reply` acknowledges. */
  | { type: 'request'; id: number; what: 'reconfigure-forward'; forward: ForwardOptions }
  /** This worker's top talkers of list `by` (src/stats), its `n` heaviest keys. */
  | { type: 'request'; id: number; what: 'top'; by: TopBy; n: number }
  /** The main thread's response to the worker's `update` with this id (null: send nothing). */
  | { type: 'update-reply'; id: number; response: Uint8Array | null }
  /** The main thread's messages for the worker's `transfer` with this id (null: send nothing). */
  | { type: 'transfer-reply'; id: number; messages: Uint8Array[] | null };

export type WorkerRequest = Extract<ToWorker, { type: 'request' }>;

/** Omit over each member of a union (plain Omit would merge the members into one shape). */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Worker → main. */
export type FromWorker =
  /** Bound and answering; `engine` is the engine actually used ('auto' resolved). */
  | { type: 'ready'; bound: BoundAddress[]; engine: string; version: number; sockets: ListenSockets[] }
  /**
   * Replica is at `version`. After deltas, `lagSeconds` = applied time − emit time of the oldest delta in
   * the batch; null after a snapshot.
   */
  | { type: 'applied'; version: number; lagSeconds: number | null }
  /** The replica saw a version gap (or could not apply a delta) and needs a fresh snapshot. */
  | { type: 'resync'; version: number; reason: string }
  /** A failure; `fatal` ones end the worker (start-up: bind errors). */
  | { type: 'error'; message: string; code: string | null; fatal: boolean }
  /** One pino JSON line, re-logged by the main thread's logger. */
  | { type: 'log'; line: string }
  /** The answer to a `request`: metrics as prom-client JSON, or the number of cache entries flushed. */
  | { type: 'reply'; id: number; metrics?: unknown[]; flushed?: number; top?: TopReport }
  /** An RFC 2136 UPDATE message from `client`, for the dynamic zones the main thread owns. */
  | { type: 'update'; id: number; message: Uint8Array; client: string }
  /** An AXFR/IXFR query from `client` (src/transfer, on the main thread, where the zone truth is). */
  | { type: 'transfer'; id: number; message: Uint8Array; client: string; tcp: boolean };
