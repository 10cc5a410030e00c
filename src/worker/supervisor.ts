// Starts and keeps the data-plane workers (lifecycle and restarts): N threads, each with its own sockets
// on the same addresses (SO_REUSEPORT through the native engine) and its view of the hub's zone image. A worker
// that dies is restarted with a fresh snapshot while the others keep answering. The other jobs live
// beside it: delta fan-out (delta-fanout.ts), requests to and from workers (worker-rpc.ts), log lines
// (log-relay.ts), metrics (worker-metrics.ts), what a worker is told (settings.ts).

import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ListenAddress } from '../config/types.js';
import type { BoundAddress } from '../engine/types.js';
import type { ForwardOptions } from '../forward/options.js';
import { allocateForwardStore } from '../forward/cache.js';
import type { TopBy, TopReport } from '../stats/top-talkers.js';
import { ConfigError } from '../errors.js';
import { rateLimitTable } from '../rate-limit/index.js';
import type { TransferPort, UpdatePort } from '../server/responder.js';
import type { Dnstap } from '../dnstap/index.js';
import { socketsForWorker, type ListenSockets } from '../takeover/sockets.js';
import { DeltaFanout } from './delta-fanout.js';
import type { ZoneHub } from './hub.js';
import { relayLogLine } from './log-relay.js';
import type { FromWorker, ToWorker } from './protocol.js';
import type { DataPlaneSettings } from './settings.js';
import { workerMetrics, type WorkerMetrics } from './worker-metrics.js';
import { answerWorker, WorkerRpc, type WorkerQuestion, type WorkerReply } from './worker-rpc.js';

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
  /** What each worker is told (dataPlaneSettings(config)). */
  settings: DataPlaneSettings;
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
  /** The hub version every answering worker has applied (0 while none answers). */
  servedVersion(): number;
  /** The socket fds every answering worker serves (what a takeover hands to the successor). */
  sockets(): ListenSockets[];
}

/** What a worker's `reply` carries (one field, by request). */

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
  private readonly rpc = new WorkerRpc();
  private readonly fanout: DeltaFanout;
  private closing = false;
  /** Set once start() has every worker up; crashes before that fail the start instead of restarting. */
  private started = false;
  private closed: Promise<void> | null = null;
  /** Workers start() means to run: how the adopted sockets are shared out. */
  private planned = 1;
  private readonly waiters = new Set<() => void>();
  private readonly metrics: WorkerMetrics;
  /** The C tables (answers, forwarded answers, negative names) exist once per server: its workers share them. */
  private readonly sharedTables = `kdns-${process.pid}-${randomUUID()}`;

  constructor(opts: DataPlaneOptions) {
    this.rateLimitTable = rateLimitTable(opts.settings.rateLimit);
    this.opts = opts;
    this.forward = opts.forward ?? null;
    this.forwardCache = this.forward === null ? null : allocateForwardStore(this.forward.cache);
    this.log = opts.log.child({ component: 'worker' });
    this.metrics = workerMetrics(opts.registry, () => this.workers(), () => opts.hub.imageStats);
    this.fanout = new DeltaFanout(opts.hub, (msg) => {
      for (const slot of this.slots) this.post(slot, msg);
    });
  }

  async start(): Promise<void> {
    const { settings } = this.opts;
    let count = Math.max(1, Math.floor(this.opts.workers));
    const distinct = this.opts.distinctPorts === true;
    if (distinct && settings.listen.some((l) => l.port !== 0)) {
      throw new RangeError('distinctPorts needs listen addresses with port 0');
    }
    // Node 20's dgram has no SO_REUSEPORT: with the node engine one worker holds the port (README.md).
    if (settings.engine === 'node' && count > 1 && !distinct) {
      this.log.warn({ workers: count }, 'the node engine cannot share a port between threads (no SO_REUSEPORT in Node 20): running 1 worker');
      count = 1;
    }
    this.planned = count;

    const first = this.newSlot(0, settings.listen);
    await this.spawn(first);
    this.bound = first.bound;
    if (count > 1 && this.engine !== 'native' && !distinct) {
      this.log.warn({ workers: count, engine: this.engine }, `the ${this.engine} engine cannot share a port between threads: running 1 worker`);
      count = 1;
    }
    // Port 0 asked the OS for a port: the others must share the very port the first one got.
    const listen = distinct ? settings.listen : first.bound.map((b) => ({ host: b.address, port: b.port }));
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

  servedVersion(): number {
    const live = this.slots.filter((s) => s.state === 'ready');
    return live.length === 0 ? 0 : Math.min(...live.map((s) => s.version));
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
    this.fanout.stop();
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
      deadline = setTimeout(() => resolve('late'), this.opts.settings.shutdownGraceMs + CLOSE_MARGIN_MS);
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
      ...this.opts.settings,
      type: 'init',
      index: slot.index,
      listen: slot.listen,
      rateLimitTable: this.rateLimitTable,
      reusePort: this.opts.distinctPorts !== true,
      counters: this.opts.countersBuffer,
      forward: this.forward,
      forwardCache: this.forwardCache,
      updates: this.opts.updates != null,
      dnstap: this.opts.dnstap?.thread(slot.index) ?? null,
      // Only the first start of each worker: a restarted one binds afresh (its adopted sockets died with it).
      adopted: this.started || slot.restarts > 0 ? [] : socketsForWorker(this.opts.adopted ?? [], slot.index, this.planned),
      transfers: this.opts.transfers != null,
      sharedTables: this.sharedTables,
    });
    this.post(slot, { type: 'snapshot', snapshot: this.fanout.snapshot() });
    return ready;
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
        if (this.slots.every((s) => s.state !== 'starting' && s.state !== 'restarting')) this.fanout.releaseSnapshot();
        this.notifyWaiters();
        return;
      case 'applied':
        slot.version = msg.version;
        if (msg.lagSeconds !== null) this.metrics.lag.observe(msg.lagSeconds);
        this.notifyWaiters();
        return;
      case 'resync':
        this.log.warn({ worker: slot.index, version: msg.version, reason: msg.reason }, 'worker asked for a snapshot');
        this.post(slot, { type: 'snapshot', snapshot: this.fanout.snapshot() });
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
        relayLogLine(this.opts.log, msg.line);
        return;
      case 'reply':
        this.rpc.onReply(msg);
        return;
      case 'update': {
        const updates = this.opts.updates;
        if (updates == null) return;
        answerWorker(worker, () => slot.worker === worker, () => updates.handle(Buffer.from(msg.message), msg.client),
          (response) => ({ type: 'update-reply', id: msg.id, response }), this.log.child({ worker: slot.index }), 'UPDATE');
        return;
      }
      case 'transfer': {
        const transfers = this.opts.transfers;
        if (transfers == null) return;
        answerWorker(worker, () => slot.worker === worker, () => transfers.handle(Buffer.from(msg.message), msg.client, msg.tcp),
          (messages) => ({ type: 'transfer-reply', id: msg.id, messages }), this.log.child({ worker: slot.index }), 'zone transfer');
        return;
      }
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
  private askAll(question: WorkerQuestion): Promise<WorkerReply[]> {
    const asked: Worker[] = [];
    for (const s of this.slots) if (s.state === 'ready' && s.worker !== null) asked.push(s.worker);
    return this.rpc.askAll(asked, question);
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

  private post(slot: Slot, msg: ToWorker): void {
    slot.worker?.postMessage(msg);
  }

  private notifyWaiters(): void {
    for (const check of [...this.waiters]) check();
  }
}
