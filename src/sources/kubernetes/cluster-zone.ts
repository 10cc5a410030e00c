// Glue between the cluster state and the serving structures: the cluster zone (`<domain>.`) and an
// exact-match store for reverse names (the hub's `reverse` local store). Reverse names go to a local store
// rather than to an `in-addr.arpa.` zone, so kdns answers the PTRs it knows and every other reverse name
// falls through to the other zones or the forwarder (CoreDNS's default behaviour), instead of claiming all
// of in-addr.arpa with NXDOMAIN. Both answer SERVFAIL until the source has listed every kind once (the
// zone's `ready`, the store's `unsyncedBelow`): never NXDOMAIN from a partial view (clients cache NXDOMAIN).

import type { Logger } from 'pino';
import type { KdnsConfig } from '../../config/types.js';
import type { RrSetChange } from '../../dns/types.js';
import { isAtOrBelow } from '../../dns/name.js';
import { Zone } from '../../zone/index.js';
import { LocalNames } from '../../server/local-names.js';
import type { Registry } from 'prom-client';
import { ClusterState } from './cluster-state.js';
import { KubernetesMetrics } from './metrics.js';
import { ownAddresses } from './own-addresses.js';
import { LOCAL_STORES, type ZoneHub } from '../../worker/hub.js';
import { startManifestsSource } from '../manifests/source.js';
import { SnapshotKeeper } from './snapshot.js';
import { snapshotPath } from './snapshot-file.js';
import { SkippedObjects } from '../../inspect/skipped.js';

export interface ClusterZone {
  readonly zone: Zone;
  readonly reverse: LocalNames;
  readonly state: ClusterState;
  readonly synced: boolean;
  /** Seconds since the --state-dir snapshot being served was saved; null when the zone is live (or not served yet). */
  readonly snapshotAge: number | null;
  /** Objects skipped and why (inspection report). */
  readonly skipped: SkippedObjects;
  /** When the first full view was applied, and when the zone last changed (ms since the epoch; null: not yet). */
  readonly syncedAt: number | null;
  readonly changedAt: number | null;
  /** Resolves when the first full view has been applied and the zone answers. */
  readonly whenSynced: Promise<void>;
  /** SIGHUP: re-reads the manifests directory (the live source needs nothing: it watches). */
  reload(): Promise<void>;
  close(): void;
}

/** Where the reverse names live: what the `reverse` store holds once synced, SERVFAIL until then. */
const REVERSE_ROOTS = ['in-addr.arpa.', 'ip6.arpa.'];

/** Where the cluster's RRset changes go (the ZoneHub, through hubSink: ordered deltas to every worker). */
export interface ClusterSink {
  /**
   * The store the sink keeps the reverse names in, when it keeps them itself (the hub does): the
   * cluster zone then reads that one instead of keeping a second copy of every PTR record. Wrappers
   * pass their inner sink's on.
   */
  readonly reverse?: LocalNames;
  /** Once, before any change: the (not yet ready) zone exists. */
  adopt(zone: Zone, reverse: LocalNames): void;
  apply(zone: Zone, reverse: LocalNames, inZone: RrSetChange[], reverseChanges: RrSetChange[]): void;
  /** The first full view is in: answer from it. */
  ready(zone: Zone): void;
}

/**
 * Every change goes through the hub, which keeps the main thread's zone and the workers' replicas in step.
 * The hub's `reverse` store is the main thread's one copy of the reverse names (snapshot.ts and the
 * inspection API read it as `ClusterZone.reverse`) and what the workers get, unsynced below
 * REVERSE_ROOTS until the first full view.
 */
export function hubSink(hub: ZoneHub): ClusterSink {
  const hubReverse = hub.local[LOCAL_STORES.indexOf('reverse')]!;
  return {
    reverse: hubReverse,
    adopt(zone) {
      hub.adoptZone(zone);
      hub.setLocalUnsynced('reverse', REVERSE_ROOTS);
    },
    apply(zone, reverse, inZone, reverseChanges) {
      if (inZone.length > 0) hub.apply(zone.origin, inZone);
      if (reverseChanges.length > 0) {
        if (reverse !== hubReverse) for (const change of reverseChanges) reverse.apply(change);
        hub.applyLocal('reverse', reverseChanges);
      }
    },
    ready(zone) {
      hub.setReady(zone.origin, true);
      hub.setLocalUnsynced('reverse', []);
    },
  };
}

export function clusterSourceConfigured(config: KdnsConfig): boolean {
  return config.kubeconfig !== null || config.inCluster || config.manifests !== null;
}

export interface ClusterZoneOptions {
  /** Where the kdns_kubernetes_* metrics go (none without it). */
  registry?: Registry;
}

export async function startClusterZone(config: KdnsConfig, log: Logger, sink: ClusterSink, opts: ClusterZoneOptions = {}): Promise<ClusterZone> {
  const origin = config.clusterDomain + '.';
  const state = new ClusterState({
    zone: origin, ttl: config.kubernetes.ttl, podMode: config.kubernetes.pods, ownIps: ownAddresses(config.listen),
  });
  // Insecure-mode pod records are a rule each worker applies (src/worker/settings.ts); verified ones are data.
  const zone = new Zone(origin);
  zone.ready = false;

  const sourceLog = log.child({ component: 'kubernetes' });
  // The last-known zone (--state-dir): served while the source has not synced (snapshot.ts).
  const snapshots = config.stateDir === null ? null
    : new SnapshotKeeper({ file: snapshotPath(config.stateDir, origin), origin, log: sourceLog, registry: opts.registry });
  if (snapshots !== null) sink = snapshots.wrap(sink);
  const reverse = sink.reverse ?? new LocalNames();

  // Split each batch: names under the zone go to the zone, reverse names to the exact-match store.
  const apply = (changes: RrSetChange[]): void => {
    const inZone: RrSetChange[] = [];
    const reverseChanges: RrSetChange[] = [];
    for (const change of changes) {
      const name = change.op === 'upsert' ? change.rrset.name : change.name;
      (isAtOrBelow(name, origin) ? inZone : reverseChanges).push(change);
    }
    sink.apply(zone, reverse, inZone, reverseChanges);
  };
  sink.adopt(zone, reverse);
  const restored = snapshots?.restore() ?? false;
  apply(state.initial());
  let changedAt: number | null = null;
  state.onChange((changes) => {
    changedAt = Date.now();
    apply(changes);
  });
  if (restored) sink.ready(zone);
  const skipped = new SkippedObjects();

  let synced = false;
  const metrics = opts.registry === undefined ? undefined : new KubernetesMetrics(opts.registry, {
    synced: () => synced,
    objects: () => state.objectCounts(),
  });
  let close: () => void;
  let reload = async (): Promise<void> => {};
  let whenSourceSynced: Promise<void>;
  if (config.manifests !== null) {
    const source = await startManifestsSource(config.manifests, state, sourceLog, { skipped });
    close = () => source.close();
    reload = () => source.reload();
    whenSourceSynced = Promise.resolve();
  } else {
    // Loaded on demand: client-node is most of kdns's start-up time, and only the live source needs it.
    const { startKubernetesSource } = await import('./watch.js');
    const source = startKubernetesSource({
      state, log: sourceLog, kubeconfig: config.kubeconfig ?? undefined, inCluster: config.inCluster,
      observer: metrics, endpointsApi: config.kubernetes.endpointsApi, skipped,
    });
    close = () => source.close();
    whenSourceSynced = source.whenSynced;
  }
  let syncedAt: number | null = null;
  const whenSynced = whenSourceSynced.then(() => {
    snapshots?.sourceSynced();
    synced = true;
    syncedAt = Date.now();
    sink.ready(zone);
    sourceLog.info({ zone: origin, ...state.stats() }, 'cluster zone synced');
  });
  return {
    zone, reverse, state, whenSynced, reload, skipped,
    close() {
      close();
      snapshots?.close();
    },
    get synced() {
      return synced;
    },
    get snapshotAge() {
      return snapshots?.snapshotAge ?? null;
    },
    get syncedAt() {
      return syncedAt;
    },
    get changedAt() {
      return changedAt;
    },
  };
}

/**
 * What /ready says about the cluster zone: not ready until it answers (synced, or served from a
 * snapshot); while a snapshot is served, ready with a note saying so and how old it is.
 */
export function clusterReadiness(cluster: () => ClusterZone | null): { notReady(): string[]; note(): string | null } {
  return {
    notReady: () => {
      const c = cluster();
      return c !== null && !c.synced && c.snapshotAge === null ? ['kubernetes'] : [];
    },
    note: () => {
      const age = cluster()?.snapshotAge ?? null;
      return age === null ? null
        : `serving the cluster zone from a snapshot saved ${Math.round(age)} s ago; waiting for kubernetes to sync`;
    },
  };
}
