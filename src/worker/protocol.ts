// The messages between the control plane (main thread) and the data-plane workers, and the packed form
// in which RRsets cross the thread boundary.
//
// Why packed: structured clone turns every Buffer into its own Uint8Array and copies the *whole*
// ArrayBuffer behind it (a pooled 8 KiB slab for a 4-byte A record). A snapshot of 10^5 RRsets would
// cost 10^5 objects and slabs. Packed, one message carries a few typed arrays, one byte array of all
// RDATA and the owner names as strings; the worker rebuilds Buffers as views into that one array.

import type { ListenAddress } from '../config/types.js';
import type { DataPlaneSettings } from './settings.js';
import type { BoundAddress } from '../engine/types.js';
import type { ForwardOptions } from '../forward/options.js';
import type { DnstapThreadSettings } from '../dnstap/recorder.js';
import type { TopBy, TopReport } from '../stats/top-talkers.js';
import type { Rr, RrSet, RrSetChange } from '../dns/types.js';

// ---------------------------------------------------------------------------------------------------
// Packed records
// ---------------------------------------------------------------------------------------------------

export const OP_UPSERT = 0;
export const OP_DELETE = 1;
/** Numbers per entry in `PackedRecords.nums`: op, type, class, ttl, rdata count. */
const STRIDE = 5;

/**
 * A list of RRset changes (or RRsets, or single records) as plain arrays. Entry i has owner
 * `names[i]` and `nums[i*5 .. i*5+5)` = op, type, class, ttl, count; its `count` RDATAs follow one
 * another in `data`, their lengths in `lens` (all entries' lengths, in order).
 */
export interface PackedRecords {
  names: string[];
  nums: Uint32Array;
  lens: Uint32Array;
  data: Uint8Array;
}

export function packChanges(changes: readonly RrSetChange[]): PackedRecords {
  const names: string[] = new Array(changes.length);
  const nums = new Uint32Array(changes.length * STRIDE);
  let rdataCount = 0;
  let bytes = 0;
  for (const c of changes) {
    if (c.op === 'upsert') {
      rdataCount += c.rrset.rdatas.length;
      for (const r of c.rrset.rdatas) bytes += r.length;
    }
  }
  const lens = new Uint32Array(rdataCount);
  const data = new Uint8Array(bytes);
  let li = 0;
  let off = 0;
  for (let i = 0; i < changes.length; i++) {
    const c = changes[i]!;
    const n = i * STRIDE;
    if (c.op === 'upsert') {
      const s = c.rrset;
      names[i] = s.name;
      nums[n] = OP_UPSERT;
      nums[n + 1] = s.type;
      nums[n + 2] = s.class;
      nums[n + 3] = s.ttl;
      nums[n + 4] = s.rdatas.length;
      for (const r of s.rdatas) {
        lens[li++] = r.length;
        data.set(r, off);
        off += r.length;
      }
    } else {
      names[i] = c.name;
      nums[n] = OP_DELETE;
      nums[n + 1] = c.type;
    }
  }
  return { names, nums, lens, data };
}

export function packRrSets(rrsets: readonly RrSet[]): PackedRecords {
  return packChanges(rrsets.map((rrset) => ({ op: 'upsert', rrset })));
}

/** Single records (hosts data keep a TTL per record) as one-RDATA entries. */
export function packRecords(records: readonly Rr[]): PackedRecords {
  return packRrSets(records.map((r) => ({ name: r.name, type: r.type, class: r.class, ttl: r.ttl, rdatas: [r.rdata] })));
}

/** The changes back; RDATAs are Buffer views into `p.data` (no copy). */
export function unpackChanges(p: PackedRecords): RrSetChange[] {
  const out: RrSetChange[] = new Array(p.names.length);
  const buf = Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength);
  let li = 0;
  let off = 0;
  for (let i = 0; i < p.names.length; i++) {
    const n = i * STRIDE;
    const name = p.names[i]!;
    if (p.nums[n] === OP_DELETE) {
      out[i] = { op: 'delete', name, type: p.nums[n + 1]! };
      continue;
    }
    const count = p.nums[n + 4]!;
    const rdatas: Buffer[] = new Array(count);
    for (let k = 0; k < count; k++) {
      const len = p.lens[li++]!;
      rdatas[k] = buf.subarray(off, off + len);
      off += len;
    }
    out[i] = { op: 'upsert', rrset: { name, type: p.nums[n + 1]!, class: p.nums[n + 2]!, ttl: p.nums[n + 3]!, rdatas } };
  }
  return out;
}

export function unpackRrSets(p: PackedRecords): RrSet[] {
  return unpackChanges(p).map((c) => {
    if (c.op !== 'upsert') throw new TypeError('packed RRsets hold a delete');
    return c.rrset;
  });
}

export function unpackRecords(p: PackedRecords): Rr[] {
  const out: Rr[] = [];
  for (const s of unpackRrSets(p)) {
    for (const rdata of s.rdatas) out.push({ name: s.name, type: s.type, class: s.class, ttl: s.ttl, rdata });
  }
  return out;
}

/**
 * Exact-match local data, consulted before the zones in this order: hosts files (replaced whole on
 * reload), then the cluster's reverse (PTR) names (changed one RRset at a time).
 */
export const LOCAL_STORES = ['hosts', 'reverse'] as const;
export type LocalStore = (typeof LOCAL_STORES)[number];

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
  /** `view`: a zone only that view serves (src/views), kept apart from the zones every view may see. */
  | { kind: 'add-zone'; origin: string; ready: boolean; rrsets: PackedRecords; view?: string }
  | { kind: 'remove-zone'; origin: string }
  | { kind: 'changes'; origin: string; changes: PackedRecords }
  | { kind: 'ready'; origin: string; ready: boolean }
  /** Local store `store` (see LOCAL_STORES in hub.ts): replaced by these records, or these RRset changes. */
  | { kind: 'local'; store: LocalStore; replace: boolean; changes: PackedRecords }
  /** Local store `store` has not synced the names below these roots (LocalNames.unsyncedBelow); [] once it has. */
  | { kind: 'local-unsynced'; store: LocalStore; below: string[] }
);

export interface ZoneSnapshot {
  origin: string;
  /** A zone only this view serves (src/views); absent for the shared zones. */
  view?: string;
  ready: boolean;
  /** Every RRset, plus type-0 upserts for names marked as existing without data. */
  rrsets: PackedRecords;
}

export interface Snapshot {
  version: number;
  zones: ZoneSnapshot[];
  /** Each local store's records, in LOCAL_STORES order. */
  local: PackedRecords[];
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
