// The live source: one list/watch (reflector.ts) per kind (Namespaces, Services, EndpointSlices, and Pods
// in verified pod mode), each object converted to its slim form on arrival and fed to ClusterState; no API
// object outlives its event. client-node still does the configuration, authentication and requests;
// list pages and watch events are read as plain JSON (list-page.ts), never as client-node's model classes.
// The watch is kept apart from the naming rules: this file knows the API, not DNS.
// The reflector re-watches by itself after a cleanly closed stream and relists after 410; on any other
// error it stops, so we restart it here (retry-policy.ts says when).

import type { SkippedObjects } from '../../inspect/skipped.js';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { ClusterState } from './cluster-state.js';
import { KINDS, slimRef, type KindName } from './kinds.js';
import { loadInClusterConfig } from './in-cluster.js';
import type { EventType, KubernetesObserver } from './metrics.js';
import { jsonPages } from './list-page.js';
import { Reflector } from './reflector.js';
import { RetryPolicy } from './retry-policy.js';

export interface WatchLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface KubernetesSourceOptions {
  state: ClusterState;
  log: WatchLog;
  kubeconfig?: string; // a kubeconfig file (--kubeconfig)
  inCluster?: boolean; // the pod's service account (--in-cluster); ConfigError outside a pod
  kubeConfig?: KubeConfig; // already loaded (tests)
  retryMs?: number; // first restart delay after an error answer from the API server (default 500, doubling to 30 s)
  /** Where endpoints come from: 'endpointslices' (default) or legacy v1 'endpoints'. */
  endpointsApi?: 'endpointslices' | 'endpoints';
  observer?: KubernetesObserver; // metrics
  /** Skipped objects and why, for the inspection report (src/inspect). */
  skipped?: SkippedObjects;
}

export interface KubernetesSource {
  readonly synced: boolean;
  /** Resolves once every kind has been listed once (the zone may leave SERVFAIL mode). */
  readonly whenSynced: Promise<void>;
  close(): void;
}

/** Exactly the configuration asked for: never client-node's silent fallbacks (~/.kube/config, localhost:8080). */
function loadConfig(opts: KubernetesSourceOptions): KubeConfig {
  if (opts.kubeConfig) return opts.kubeConfig;
  if (opts.inCluster) return allowPlainHttp(loadInClusterConfig());
  if (!opts.kubeconfig) throw new Error('startKubernetesSource: no kubeconfig, kubeConfig or inCluster given');
  const kc = new KubeConfig();
  kc.loadFromFile(opts.kubeconfig);
  return allowPlainHttp(kc);
}

/**
 * client-node refuses an `http://` server unless the cluster entry says skipTLSVerify, although there
 * is no TLS to verify; a kubeconfig written for `kubectl proxy` (http://127.0.0.1:8001) would then
 * never sync. Mark plain-HTTP clusters so, and leave https clusters untouched.
 */
function allowPlainHttp(kc: KubeConfig): KubeConfig {
  if (!kc.clusters.some((c) => c.server.startsWith('http:') && !c.skipTLSVerify)) return kc;
  kc.loadFromOptions({
    clusters: kc.clusters.map((c) => (c.server.startsWith('http:') ? { ...c, skipTLSVerify: true } : c)),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  return kc;
}

/** Where each kind is listed and watched, across all namespaces. */
const PATHS: Readonly<Record<KindName, string>> = {
  Namespace: '/api/v1/namespaces',
  Service: '/api/v1/services',
  EndpointSlice: '/apis/discovery.k8s.io/v1/endpointslices',
  Endpoints: '/api/v1/endpoints',
  Pod: '/api/v1/pods',
};

export function startKubernetesSource(opts: KubernetesSourceOptions): KubernetesSource {
  const { state, log, observer } = opts;
  const kc = loadConfig(opts);
  // EndpointSlices by default (no 1000-address cap, dual stack); legacy v1 Endpoints only when asked for,
  // for clusters or proxies that do not serve discovery.k8s.io/v1.
  const endpointsKind: KindName = opts.endpointsApi === 'endpoints' ? 'Endpoints' : 'EndpointSlice';
  const kinds: KindName[] = ['Namespace', 'Service', endpointsKind, ...(state.podMode === 'verified' ? ['Pod' as const] : [])];
  const pending = new Set<KindName>(kinds);
  let closed = false;
  let markSynced: () => void = () => undefined;
  const whenSynced = new Promise<void>((resolve) => (markSynced = resolve));
  const stops: Array<() => void> = [];

  for (const kind of kinds) {
    const handler = KINDS[kind];
    // Keys of objects applied to the state, so an object that turns invalid is withdrawn, not kept stale.
    const applied = new Set<string>();
    const retry = new RetryPolicy({ baseMs: opts.retryMs });
    const keyOf = (o: KubernetesObject): { ns: string; name: string; key: string } => {
      const ns = o.metadata?.namespace ?? '';
      const name = o.metadata?.name ?? '';
      return { ns, name, key: `${ns}/${name}` };
    };
    // The state applies each change synchronously, down to the answers the responder serves, so the
    // time from the callback's entry to its return is the programming latency.
    const upsert = (o: KubernetesObject, type: EventType): void => {
      const received = performance.now();
      retry.reset(); // events flow again
      observer?.event(kind, type);
      const slim = handler.convert(o);
      const { ns, name, key } = keyOf(o);
      if (slim === null || typeof slim === 'string') {
        if (typeof slim === 'string') {
          log.warn({ kind, object: key, problem: slim }, 'object skipped');
          observer?.rejected(kind);
          opts.skipped?.add(`${kind} ${key}`, slim);
        } else opts.skipped?.clear(`${kind} ${key}`);
        if (applied.delete(key)) handler.remove(state, ns, name);
        observer?.applied(received);
        return;
      }
      const ref = slimRef(slim);
      applied.add(`${ref.ns}/${ref.name}`);
      handler.upsert(state, slim);
      observer?.applied(received);
    };
    const remove = (o: KubernetesObject): void => {
      const received = performance.now();
      retry.reset(); // events flow again
      observer?.event(kind, 'deleted');
      const { ns, name, key } = keyOf(o);
      if (applied.delete(key)) handler.remove(state, ns, name);
      observer?.applied(received);
    };

    // client-node's informer would keep every object in full; the reflector keeps only their versions.
    let connects = 0;
    const path = PATHS[kind];
    const reflector = new Reflector(kc, path, jsonPages(kc, path), {
      upsert,
      remove,
      // A list page's changes go to the hub as one delta (the sync sends ~40 instead of ~20,000).
      batch: (apply) => state.batch(apply),
      // Said each time it (re)opens the list/watch: the first is no restart.
      connect: () => {
        if (connects++ > 0) observer?.watchRestarted(kind);
      },
      error: (err) => onError(err),
    });

    let timer: NodeJS.Timeout | undefined;
    const start = async (): Promise<void> => {
      await reflector.start();
      if (reflector.listed && pending.delete(kind)) {
        log.info({ kind, objects: applied.size }, 'initial list applied');
        if (pending.size === 0) markSynced();
      }
    };
    const onError = (err: unknown): void => {
      if (closed) return;
      const retryMs = retry.next(err);
      log.warn({ kind, err: String(err), retryMs }, 'watch failed, restarting');
      timer = setTimeout(() => void start(), retryMs);
    };
    stops.push(() => {
      if (timer) clearTimeout(timer);
      reflector.stop();
    });
    void start();
  }

  return {
    get synced() {
      return pending.size === 0;
    },
    whenSynced,
    close(): void {
      closed = true;
      for (const stop of stops) stop();
    },
  };
}
