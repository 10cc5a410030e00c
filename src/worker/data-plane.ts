// The data-plane worker thread: a view of the hub's zone image, a Responder over it, and a packet engine
// bound to the shared listen addresses. Started by supervisor.ts; talks only through protocol.ts messages.
//
// Order of life: `init` (settings) → first `snapshot` → bind → post `ready`; then `delta` batches; on
// `close` the engine stops reading, answers what it received (forwarded queries too, within the shutdown
// grace period), and the thread exits 0. It binds only after the first snapshot, so it never
// answers REFUSED from an empty replica.

import { insecurePodSynthesizer, podRecordsRoot } from '../sources/kubernetes/pod-records.js';
import { parentPort } from 'node:worker_threads';
import { pino, type Logger } from 'pino';
import { Responder, type TransferPort, type UpdatePort } from '../server/responder.js';
import { DnsCounters } from '../metrics/dns.js';
import { createEngine, type PacketEngine } from '../engine/index.js';
import { Forwarder } from '../forward/forwarder.js';
import { Registry } from 'prom-client';
import { registerEngineMetrics } from '../metrics/engine-metrics.js';
import { Replica } from './replica.js';
import type { ZoneSetReader } from '../zone/index.js';
import type { LocalReader } from '../server/local-names.js';
import { TopTalkers } from '../stats/top-talkers.js';
import type { FromWorker, InitMessage, ToWorker, WorkerRequest } from './protocol.js';
import { answerOrderFor } from '../policy/answer-order.js';
import { dnstapRecorder, type DnstapRecorder } from '../dnstap/recorder.js';
import { clientViews, type ClientViews } from '../views/client-views.js';

const port = parentPort;
if (port === null) throw new Error('data-plane.ts runs as a worker thread (see supervisor.ts)');

function send(msg: FromWorker): void {
  port!.postMessage(msg);
}

let init: InitMessage | null = null;
let log: Logger | null = null;
let responder: Responder | null = null;
/** One responder per view (src/views); null without views: `responder` answers everyone. */
let views: ClientViews | null = null;
let engine: PacketEngine | null = null;
let forwarder: Forwarder | null = null;
let tap: DnstapRecorder | null = null;
let talkers: TopTalkers | null = null;
// This worker's forwarder, cache and engine metrics; the main thread aggregates every worker's on each scrape.
const forwardRegistry = new Registry();
registerEngineMetrics(forwardRegistry, { engine: () => engine });
let starting = false;
let closing = false;

const replica = new Replica({
  configureZone(zone) {
    if (init?.podRecords && zone.origin === init.podRecords.zone) {
      zone.synthesizer = insecurePodSynthesizer(zone, init.podRecords);
      zone.synthesizedBelow = podRecordsRoot(zone.origin);
    }
  },
  needSnapshot(version, reason) {
    log?.warn({ version, reason }, 'replica out of step: asking for a snapshot');
    send({ type: 'resync', version, reason });
  },
});

port.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'init':
      onInit(msg);
      return;
    case 'snapshot':
      replica.applySnapshot(msg.snapshot);
      if (engine === null && !starting && !closing) void start(); // `ready` carries the version
      else send({ type: 'applied', version: replica.version, lagSeconds: null });
      return;
    case 'delta': {
      const { applied, lagSeconds } = replica.applyDeltas(msg.deltas);
      if (applied > 0) send({ type: 'applied', version: replica.version, lagSeconds });
      return;
    }
    case 'close':
      void close();
      return;
    case 'crash':
      // Tests: an exception escaping a handler, as a bug would; the supervisor must restart us.
      throw new Error('crash requested by the supervisor (test)');
    case 'request':
      void answerRequest(msg);
      return;
    case 'update-reply': {
      const done = pendingUpdates.get(msg.id);
      pendingUpdates.delete(msg.id);
      done?.(msg.response === null ? null : Buffer.from(msg.response));
      return;
    }
    case 'transfer-reply': {
      const done = pendingTransfers.get(msg.id);
      pendingTransfers.delete(msg.id);
      done?.(msg.messages === null ? null : msg.messages.map((m) => Buffer.from(m.buffer, m.byteOffset, m.byteLength)));
      return;
    }
  }
});

// RFC 2136 UPDATEs change the dynamic zones, which the main thread owns: hand each one over and answer
// with what comes back (the change itself reaches this replica as a delta, like any other).
const pendingUpdates = new Map<number, (response: Buffer | null) => void>();
let nextUpdateId = 0;
const mainThreadUpdates: UpdatePort = {
  handle(message, client) {
    return new Promise((resolve) => {
      const id = ++nextUpdateId;
      pendingUpdates.set(id, resolve);
      send({ type: 'update', id, message, client });
    });
  },
};

// Zone transfers read the main thread's zones and journals: hand each AXFR/IXFR over the same way.
const pendingTransfers = new Map<number, (messages: Buffer[] | null) => void>();
let nextTransferId = 0;
const mainThreadTransfers: TransferPort = {
  handle(message, client, tcp) {
    return new Promise((resolve) => {
      const id = ++nextTransferId;
      pendingTransfers.set(id, resolve);
      send({ type: 'transfer', id, message, client, tcp });
    });
  },
};

/** Scrapes, flushes and reloads reach the worker's own forwarder (its cache and metrics live in this thread). */
async function answerRequest(msg: WorkerRequest): Promise<void> {
  const id = msg.id;
  switch (msg.what) {
    case 'flush-cache':
      send({ type: 'reply', id, flushed: forwarder?.flushCache() ?? 0 });
      return;
    case 'reconfigure-forward':
      if (forwarder !== null) {
        forwarder.reconfigure(msg.forward);
        // Refusals and forwarding verdicts compiled under the old routes must go too.
        (views ?? responder)?.invalidate();
        if (engine !== null) void forwarder.detectLoops();
      }
      send({ type: 'reply', id });
      return;
    case 'metrics':
      send({ type: 'reply', id, metrics: await forwardRegistry.getMetricsAsJSON() });
      return;
    case 'top':
      send({ type: 'reply', id, top: talkers?.top(msg.by, msg.n) });
      return;
  }
}

function onInit(msg: InitMessage): void {
  init = msg;
  // Log lines go to the main thread's logger, so there is one stream with one format.
  log = pino({ level: msg.logLevel, base: { component: 'data-plane', worker: msg.index } }, {
    write(line: string): void {
      send({ type: 'log', line });
    },
  });
  // No registry here: prom-client lives on the main thread.
  forwarder = msg.forward === null ? null : new Forwarder(msg.forward, log.child({ component: 'forward' }), forwardRegistry, Date.now, msg.forwardCache);
  tap = dnstapRecorder(msg.dnstap);
  forwarder?.setTap(tap);
  const answerOrder = answerOrderFor(msg.policies);
  const responderOver = (zones: ZoneSetReader, local: LocalReader[], forward: boolean): Responder => new Responder({
    zones,
    local,
    maxUdpPayload: msg.maxUdpPayload,
    chaos: msg.chaos,
    forwarder: forward ? forwarder : null,
    updates: msg.updates ? mainThreadUpdates : null,
    answerOrder,
    transfers: msg.transfers ? mainThreadTransfers : null,
  });
  responder = responderOver(replica.zones, replica.local, true);
  views = clientViews(msg.views, msg.clusterZone, replica, responderOver, responder);
  replica.attach(views ?? responder);
  talkers = msg.topTalkers === null ? null : new TopTalkers({ clusterDomain: msg.topTalkers.clusterDomain });
}

async function start(): Promise<void> {
  if (init === null || responder === null || log === null) throw new Error('snapshot before init');
  starting = true;
  try {
    // 'auto' falls back to the node engine when the addon is missing; the supervisor sees which in `ready`.
    const e = createEngine(init.engine, {
      listen: init.listen,
      tcp: init.tcp,
      shutdownGraceMs: init.shutdownGraceMs,
      rateLimit: init.rateLimit,
      rateLimitTable: init.rateLimitTable,
      responder,
      views,
      log: log.child({ component: 'engine' }),
      observer: new DnsCounters(init.counters, init.index),
      reusePort: init.reusePort,
      udpReceiveBuffer: init.udpBuffer,
      adopted: init.adopted,
      exchangeObservers: [tap, talkers].filter((o) => o !== null),
      sharedTables: init.sharedTables,
    });
    const bound = await e.start();
    engine = e;
    if (closing) {
      await e.close();
      if (forwarder !== null) await forwarder.close();
      process.exit(0);
    }
    // The native engine carries the forwarder's UDP to its upstreams in C (before the loop probes go out).
    forwarder?.setDatagramLink(e.upstreamLink?.() ?? null);
    send({ type: 'ready', bound, engine: e.name, version: replica.version, sockets: e.sockets ?? [] });
    // Each worker has its own upstreams, so each probes them for loops once it listens.
    if (forwarder !== null) void forwarder.detectLoops();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    send({ type: 'error', message: e.message, code: typeof e.code === 'string' ? e.code : null, fatal: true });
    throw err; // ends the thread with code 1; the supervisor decides what next
  } finally {
    starting = false;
  }
}

async function close(): Promise<void> {
  if (closing) return;
  closing = true;
  if (starting) return; // start() sees `closing` once bound, then drains
  if (engine !== null) await engine.close();
  if (forwarder !== null) await forwarder.close();
  process.exit(0);
}
