// Starts and keeps the data-plane workers: N threads, each with its own sockets on the same addresses
// (SO_REUSEPORT through the native engine) and its own replica of the hub. Every worker gets the hub's
// snapshot, then every delta, batched per event-loop turn. A worker that dies is restarted with a fresh
// snapshot while the others keep answering.

import { rateLimitTable } from '../rate-limit/index.js';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { KdnsConfig, ListenAddress } from '../config/types.js';
import type { BoundAddress } from '../engine/types.js';
import type { ForwardOptions } from '../forward/options.js';
import { allocateForwardStore } from '../forward/cache.js';
import { topTalkersOn, type TopBy, type TopReport } from '../stats/top-talkers.js';
import { ConfigError } from '../errors.js';
import type { ZoneHub } from './hub.js';
import type { Delta, DistributiveOmit, FromWorker, Snapshot, ToWorker, WorkerRequest } from './protocol.js';
import type { TransferPort, UpdatePort } from '../server/responder.js';
import type { Dnstap } from '../dnstap/index.js';
import { socketsForWorker, type ListenSockets } from '../takeover/sockets.js';

const WORKER_URL = new URL('./data-plane.js', import.meta.url);
/**
 * A data-plane thread allocates little once its replica is built (answers are copies of compiled bytes), but
 * V8 sizes each isolate's young generation for the burst of the initial sync and keeps it: ~30-40 MiB a
 * worker at 10k Services (bench/k8s/README.md). A small one costs more, cheaper scavenges during that burst.
 */
const WORKER_YOUNG_GENERATION_MB = 4;
/** A worker gets the shutdown grace period plus this to exit on its own; then the thread is terminated. */
const CLOSE_MARGIN_MS = 2000;
const RESTART_DELAY_MS = 100;
const RESTART_DELAY_MAX_MS = 5000;

export interface DataPlaneOptions {
  workers: number;
  hub: ZoneHub;
  config: KdnsConfig;
  log: Logger;
  /** DnsCounters.bufferFor(workers): worker i counts in slot i (a restarted worker keeps its slot). */
  countersBuffer: SharedArrayBuffer;
  /** Where kdns_worker_* metrics go; none when absent. */
  registry?: Registry;
  /**
   * Each worker binds its own ephemeral port instead of sharing one (listen ports must be 0). For tests
   * of several workers on the node engine, which cannot share a port; `bound` is worker 0's.
   */
  distinctPorts?: boolean;
  /** Options of the per-worker forwarder (forwardOptionsFor(config, ...)); absent or null: no forwarding. */
  forward?: ForwardOptions | null;
  /** Where workers send RFC 2136 UPDATE messages (the dynamic zones); absent: they answer NOTIMP. */
  updates?: UpdatePort | null;
  /** Where workers send AXFR/IXFR queries (src/transfer); absent: they answer REFUSED. */
  transfers?: TransferPort | null;
  /** First restart delay; doubles on each failure before a worker gets ready again. */

  restartDelayMs?: number;
  /** dnstap (src/dnstap): each worker's ring; absent or null: off. */
  dnstap?: Dnstap | null;
  /** Sockets handed over by the kdns this one takes over: shared out among the first workers (src/takeover). */
  adopted?: readonly ListenSockets[];
}

export interface WorkerStatus {
  index: number;
  state: 'starting' | 'ready' | 'restarting' | 'closing' | 'closed';
  bound: BoundAddress[];
  /** Hub version the worker last reported applied (snapshot or delta). */
  version: number;
  restarts: number;
  threadId: number;
}

export interface DataPlane {
  /** The addresses every worker serves (worker 0's with distinctPorts). */
  readonly bound: BoundAddress[];
  /** Engine the workers use ('native' or 'node'). */
  readonly engine: string;
  /** Closes every worker gracefully (TCP drained); resolves when all threads have exited. */
  close(): Promise<void>;
  /** Workers currently answering. */
  workers(): number;
  status(): WorkerStatus[];
  /**
   * Ends worker `index` abruptly (tests, drills): `terminate` stops the thread, `throw` makes it throw
   * an uncaught exception as a bug would. Either way it is restarted like any crash.
   */
  kill(index: number, how?: 'terminate' | 'throw'): Promise<void>;
  /** Every answering worker's own metrics (forwarder, cache) as prom-client JSON, for aggregation. */
  workerMetrics(): Promise<unknown[][]>;
  /** Every answering worker's top talkers of list `by` (none when top talkers are off). */
  topTalkers(by: TopBy, n: number): Promise<TopReport[]>;
  /** Flushes every worker's forwarder cache; resolves with the entries dropped in total. */
  flushCaches(): Promise<number>;
  /**
   * SIGHUP reload: every worker forwards with these options from now on (a restarted one gets them in its
   * init); resolves once every answering worker has acknowledged (or a second has passed).
   */
  reconfigureForward(forward: ForwardOptions): Promise<void>;
  /** Resolves true once every answering worker has applied hub `version`, false after `timeoutMs`. */
  synced(version: number, timeoutMs?: number): Promise<boolean>;
  /** The socket fds every answering worker serves (what a takeover hands to the successor). */
  sockets(): ListenSockets[];
}

/** What a worker's `reply` carries (one field, by request). */
type WorkerReply = Omit<Extract<FromWorker, { type: 'reply' }>, 'type' | 'id'>;

interface Slot {
  index: number;
  worker: Worker | null;
  state: WorkerStatus['state'];
  bound: BoundAddress[];
  version: number;
  restarts: number;
  failures: number;
  listen: ListenAddress[];
  /** Its engine's socket fds, from `ready`. */
  sockets: ListenSockets[];
  timer: NodeJS.Timeout | null;
  /** Settles the start-up promise of this thread (first ready, or death before it). */
  onReady: ((err: Error | null) => void) | null;
}

function clusterConfigured(config: KdnsConfig): boolean {
  return config.kubeconfig !== null || config.inCluster || config.manifests !== null;
}

export async function startDataPlane(opts: DataPlaneOptions): Promise<DataPlane> {
  const dp = new Supervisor(opts);
  try {
    await dp.start();
  } catch (err) {
    await dp.close();
    throw err;
  }
  return dp;
}

class Supervisor implements DataPlane {
  bound: BoundAddress[] = [];
  engine = 'node';
  private readonly opts: DataPlaneOptions;
  private readonly log: Logger;
  /** What a worker's forwarder is built with: the start-up options, then each reload's. */
  private forward: ForwardOptions | null;
  /** One forward cache for every worker, restarted ones included (a reload keeps the cache's bounds). */
  private readonly forwardCache: SharedArrayBuffer | null;
  private readonly slots: Slot[] = [];
  /** One bucket table for every worker, restarted ones included: a client's limits outlive a worker. */
  private readonly rateLimitTable: SharedArrayBuffer | null;
  private requestId = 0;
  private readonly replies = new Map<number, (reply: WorkerReply) => void>();
  private pending: Delta[] = [];
  private flushScheduled = false;
  private unsubscribe: (() => void) | null = null;
  private closing = false;
  /** Set once start() has every worker up; crashes before that fail the start instead of restarting. */
  private started = false;
  private closed: Promise<void> | null = null;
  /** Workers start() means to run: how the adopted sockets are shared out. */
  private planned = 1;
  private cachedSnapshot: Snapshot | null = null;
  private readonly waiters = new Set<() => void>();
  private readonly metrics: {
    restarts: Counter;
    lag: Histogram;
  };

  constructor(opts: DataPlaneOptions) {
    this.rateLimitTable = rateLimitTable(opts.config.rateLimit);
    this.opts = opts;
    this.forward = opts.forward ?? null;
    this.forwardCache = this.forward === null ? null : allocateForwardStore(this.forward.cache);
    this.log = opts.log.child({ component: 'worker' });
    const registers = opts.registry === undefined ? [] : [opts.registry];
    const self = this;
    this.metrics = {
      restarts: new Counter({
        name: 'kdns_worker_restarts_total',
        help: 'Data-plane worker threads restarted after a crash.',
        registers,
      }),
      lag: new Histogram({
        name: 'kdns_worker_delta_apply_seconds',
        help: 'Time from a zone change on the main thread to its delta applied in a worker replica.',
        buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        registers,
      }),
    };
    new Gauge({
      name: 'kdns_worker_threads',
      help: 'Data-plane worker threads currently answering.',
      registers,
      collect() {
        this.set(self.workers());
      },
    });
  }

  async start(): Promise<void> {
    const { config } = this.opts;
    let count = Math.max(1, Math.floor(this.opts.workers));
    const distinct = this.opts.distinctPorts === true;
    if (distinct && config.listen.some((l) => l.port !== 0)) {
      throw new RangeError('distinctPorts needs listen addresses with port 0');
    }
    if (config.engine === 'node' && count > 1 && !distinct) {
      this.log.warn({ workers: count }, 'the node engine cannot share a port between threads (no SO_REUSEPORT in Node 20): running 1 worker');
      count = 1;
    }
    this.unsubscribe = this.opts.hub.subscribe((d) => this.onDelta(d));
    this.planned = count;

    const first = this.newSlot(0, config.listen);
    await this.spawn(first);
    this.bound = first.bound;
    if (count > 1 && this.engine !== 'native' && !distinct) {
      this.log.warn({ workers: count, engine: this.engine }, `the ${this.engine} engine cannot share a port between threads: running 1 worker`);
      count = 1;
    }
    // Port 0 asked the OS for a port: the others must share the very port the first one got.
    const listen = distinct ? config.listen : first.bound.map((b) => ({ host: b.address, port: b.port }));
    const rest: Promise<void>[] = [];
    for (let i = 1; i < count; i++) rest.push(this.spawn(this.newSlot(i, listen)));
    await Promise.all(rest);
    this.started = true;
    this.log.info({ workers: count, engine: this.engine, listen: this.bound }, 'data plane started');
  }

  workers(): number {
    let n = 0;
    for (const s of this.slots) if (s.state === 'ready') n++;
    return n;
  }

  status(): WorkerStatus[] {
    return this.slots.map((s) => ({
      index: s.index, state: s.state, bound: s.bound, version: s.version, restarts: s.restarts,
      threadId: s.worker?.threadId ?? -1,
    }));
  }

  async kill(index: number, how: 'terminate' | 'throw' = 'terminate'): Promise<void> {
    const w = this.slots[index]?.worker;
    if (w == null) throw new RangeError(`no running worker ${index}`);
    if (how === 'terminate') {
      await w.terminate();
      return;
    }
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    w.postMessage({ type: 'crash' } satisfies ToWorker);
    await exited;
  }

  synced(version: number, timeoutMs = 5000): Promise<boolean> {
    return new Promise((resolve) => {
      const check = (): void => {
        const live = this.slots.filter((s) => s.state === 'ready');
        if (live.length > 0 && live.every((s) => s.version >= version)) finish(true);
      };
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(ok);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  close(): Promise<void> {
    if (this.closed === null) this.closed = this.closeAll();
    return this.closed;
  }

  private async closeAll(): Promise<void> {
    this.closing = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    await Promise.all(this.slots.map((s) => this.closeSlot(s)));
  }

  private async closeSlot(slot: Slot): Promise<void> {
    if (slot.timer !== null) clearTimeout(slot.timer);
    slot.timer = null;
    const w = slot.worker;
    if (w === null) {
      slot.state = 'closed';
      return;
    }
    slot.state = 'closing';
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    this.post(slot, { type: 'close' });
    let deadline: NodeJS.Timeout | null = null;
    const late = new Promise<'late'>((resolve) => {
      deadline = setTimeout(() => resolve('late'), this.opts.config.shutdownGraceMs + CLOSE_MARGIN_MS);
    });
    if ((await Promise.race([exited, late])) === 'late') {
      this.log.warn({ worker: slot.index }, 'worker did not drain in time: terminating it');
      await w.terminate();
    }
    clearTimeout(deadline!);
    slot.state = 'closed';
  }

  private newSlot(index: number, listen: ListenAddress[]): Slot {
    const slot: Slot = {
      index, worker: null, state: 'starting', bound: [], version: -1, restarts: 0, failures: 0, listen, sockets: [],
      timer: null, onReady: null,
    };
    this.slots[index] = slot;
    return slot;
  }

  /** Starts the slot's thread: init, the current snapshot, then deltas as they come. Resolves when bound. */
  private spawn(slot: Slot): Promise<void> {
    const { config } = this.opts;
    const worker = new Worker(WORKER_URL, { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
    slot.worker = worker;
    slot.state = 'starting';
    const ready = new Promise<void>((resolve, reject) => {
      slot.onReady = (err) => (err === null ? resolve() : reject(err));
    });
    worker.on('message', (msg: FromWorker) => this.onMessage(slot, worker, msg));
    worker.on('error', (err) => {
      if (slot.worker !== worker) return;
      this.log.error({ worker: slot.index, err }, 'worker failed');
      slot.onReady?.(err);
      slot.onReady = null;
    });
    worker.on('exit', (code) => this.onExit(slot, worker, code));
    this.post(slot, {
      type: 'init',
      index: slot.index,
      listen: slot.listen,
      tcp: config.tcp,
      shutdownGraceMs: config.shutdownGraceMs,
      rateLimit: config.rateLimit,
      rateLimitTable: this.rateLimitTable,
      maxUdpPayload: config.maxUdpPayload,
      udpBuffer: config.udpBuffer,
      chaos: config.chaos,
      engine: config.engine,
      reusePort: this.opts.distinctPorts !== true,
      counters: this.opts.countersBuffer,
      logLevel: config.logLevel,
      forward: this.forward,
      forwardCache: this.forwardCache,
      // Pod records are a rule, not data: the worker rebuilds it (insecure mode only; verified stays in-process).
      podRecords: config.kubernetes.pods === 'insecure' && clusterConfigured(config)
        ? { zone: config.clusterDomain + '.', ttl: config.kubernetes.ttl } : null,
      updates: this.opts.updates != null,
      policies: config.policies,
      dnstap: this.opts.dnstap?.thread(slot.index) ?? null,
      // Only the first start of each worker: a restarted one binds afresh (its adopted sockets died with it).
      adopted: this.started || slot.restarts > 0 ? [] : socketsForWorker(this.opts.adopted ?? [], slot.index, this.planned),
      transfers: this.opts.transfers != null,
      topTalkers: topTalkersOn(config) ? { clusterDomain: config.clusterDomain } : null,
    });
    this.post(slot, { type: 'snapshot', snapshot: this.snapshot() });
    return ready;
  }

  /** One snapshot per hub version, shared by every worker that starts at that version. */
  private snapshot(): Snapshot {
    const hub = this.opts.hub;
    if (this.cachedSnapshot === null || this.cachedSnapshot.version !== hub.version) this.cachedSnapshot = hub.snapshot();
    return this.cachedSnapshot;
  }

  private onMessage(slot: Slot, worker: Worker, msg: FromWorker): void {
    if (slot.worker !== worker) return;
    switch (msg.type) {
      case 'ready':
        slot.state = this.closing ? 'closing' : 'ready';
        slot.bound = msg.bound;
        slot.sockets = msg.sockets;
        slot.version = Math.max(slot.version, msg.version);
        slot.failures = 0;
        this.engine = msg.engine;
        slot.onReady?.(null);
        slot.onReady = null;
        if (slot.restarts > 0) this.log.info({ worker: slot.index, version: msg.version }, 'worker restarted and answering');
        // The snapshot is shared by workers starting together; once none is starting it is only memory
        // (tens of MiB on a large cluster), and a later restart or resync packs a fresh one anyway.
        if (this.slots.every((s) => s.state !== 'starting' && s.state !== 'restarting')) this.cachedSnapshot = null;
        this.notifyWaiters();
        return;
      case 'applied':
        slot.version = msg.version;
        if (msg.lagSeconds !== null) this.metrics.lag.observe(msg.lagSeconds);
        this.notifyWaiters();
        return;
      case 'resync':
        this.log.warn({ worker: slot.index, version: msg.version, reason: msg.reason }, 'worker asked for a snapshot');
        this.post(slot, { type: 'snapshot', snapshot: this.snapshot() });
        return;
      case 'error':
        this.log.error({ worker: slot.index, code: msg.code, fatal: msg.fatal }, msg.message);
        if (msg.fatal) {
          // A config problem found in the worker (--engine native without the addon) exits 2 like any other.
          const err = msg.code === 'KDNS_CONFIG_INVALID'
            ? new ConfigError(null, null, msg.message)
            : Object.assign(new Error(msg.message), { code: msg.code ?? undefined });
          slot.onReady?.(err);
          slot.onReady = null;
        }
        return;
      case 'log':
        this.relog(msg.line);
        return;
      case 'reply':
        this.replies.get(msg.id)?.(msg);
        return;
      case 'update':
        void this.opts.updates?.handle(Buffer.from(msg.message), msg.client).catch((err: unknown) => {
          this.log.error({ worker: slot.index, err }, 'UPDATE failed');
          return null;
        }).then((response) => {
          // The worker may have been replaced meanwhile; its client then simply times out and retries.
          if (slot.worker === worker) worker.postMessage({ type: 'update-reply', id: msg.id, response: response ?? null } satisfies ToWorker);
        });
        return;
      case 'transfer':
        void this.opts.transfers?.handle(Buffer.from(msg.message), msg.client, msg.tcp).catch((err: unknown) => {
          this.log.error({ worker: slot.index, err }, 'zone transfer failed');
          return null;
        }).then((messages) => {
          if (slot.worker === worker) worker.postMessage({ type: 'transfer-reply', id: msg.id, messages: messages ?? null } satisfies ToWorker);
        });
        return;
    }
  }

  sockets(): ListenSockets[] {
    return this.slots.filter((s) => s.state === 'ready').flatMap((s) => s.sockets);
  }

  async workerMetrics(): Promise<unknown[][]> {
    const replies = await this.askAll({ what: 'metrics' });
    return replies.map((r) => r.metrics ?? []);
  }

  async topTalkers(by: TopBy, n: number): Promise<TopReport[]> {
    const replies = await this.askAll({ what: 'top', by, n });
    return replies.flatMap((r) => (r.top === undefined ? [] : [r.top]));
  }

  async flushCaches(): Promise<number> {
    const replies = await this.askAll({ what: 'flush-cache' });
    return replies.reduce((n, r) => n + (r.flushed ?? 0), 0);
  }

  async reconfigureForward(forward: ForwardOptions): Promise<void> {
    this.forward = forward;
    await this.askAll({ what: 'reconfigure-forward', forward });
  }

  /** Asks every answering worker; a worker that does not reply within a second is left out. */
  private askAll(question: DistributiveOmit<WorkerRequest, 'type' | 'id'>): Promise<Array<WorkerReply>> {
    const asked = this.slots.filter((s) => s.state === 'ready' && s.worker !== null);
    return Promise.all(asked.map((slot) => new Promise<WorkerReply>((resolve) => {
      const id = ++this.requestId;
      const timer = setTimeout(() => {
        this.replies.delete(id);
        resolve({});
      }, 1000);
      this.replies.set(id, (reply) => {
        clearTimeout(timer);
        this.replies.delete(id);
        resolve(reply);
      });
      this.post(slot, { type: 'request', id, ...question });
    })));
  }

  private onExit(slot: Slot, worker: Worker, code: number): void {
    if (slot.worker !== worker) return;
    slot.worker = null;
    const failed = slot.onReady;
    slot.onReady = null;
    failed?.(new Error(`data-plane worker ${slot.index} exited with code ${code} before it was ready`));
    if (!this.started) {
      // At start-up a worker that cannot bind fails startDataPlane (the caller exits) rather than looping.
      slot.state = 'closed';
      return;
    }
    if (this.closing || slot.state === 'closing') {
      slot.state = 'closed';
      this.notifyWaiters();
      return;
    }
    slot.state = 'restarting';
    slot.restarts++;
    slot.failures++;
    this.metrics.restarts.inc();
    const base = this.opts.restartDelayMs ?? RESTART_DELAY_MS;
    const delay = Math.min(base * 2 ** (slot.failures - 1), RESTART_DELAY_MAX_MS);
    this.log.error({ worker: slot.index, code, restarts: slot.restarts, delayMs: delay }, 'worker exited: restarting it');
    // It comes back on the concrete addresses (the same port as the others), with a fresh snapshot.
    if (slot.bound.length > 0) slot.listen = slot.bound.map((b) => ({ host: b.address, port: b.port }));
    slot.timer = setTimeout(() => {
      slot.timer = null;
      if (this.closing) return;
      this.spawn(slot).catch(() => {
        /* logged by the handlers; onExit schedules the next attempt */
      });
    }, delay);
    this.notifyWaiters();
  }

  private onDelta(delta: Delta): void {
    this.pending.push(delta);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Every change made in this turn of the event loop goes out as one message per worker.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const deltas = this.pending;
    this.pending = [];
    if (deltas.length === 0) return;
    const msg: ToWorker = { type: 'delta', deltas };
    for (const slot of this.slots) if (slot.worker !== null) this.post(slot, msg);
  }

  private post(slot: Slot, msg: ToWorker): void {
    slot.worker?.postMessage(msg);
  }

  private notifyWaiters(): void {
    for (const check of [...this.waiters]) check();
  }

  /** Re-logs a worker's pino line through the main logger (one stream, one format). */
  private relog(line: string): void {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const { level, msg, time: _time, ...rest } = rec;
    const name = typeof level === 'number' ? LEVELS[Math.floor(level / 10)] ?? 'info' : 'info';
    this.opts.log[name](rest, typeof msg === 'string' ? msg : '');
  }
}

const LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = {
  1: 'trace', 2: 'debug', 3: 'info', 4: 'warn', 5: 'error', 6: 'fatal',
};
