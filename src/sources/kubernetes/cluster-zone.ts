// Glue between the cluster state and the serving structures: the cluster zone (`<domain>.`) and an
// exact-match store for reverse names. Reverse names go to LocalNames rather than to an `in-addr.arpa.`
// zone, so kdns answers the PTRs it knows and every other reverse name falls through to the other zones
// or the forwarder (CoreDNS's default behaviour), instead of claiming all of in-addr.arpa with NXDOMAIN.
// The zone answers SERVFAIL until the source has listed every kind once: never NXDOMAIN from a partial
// view (clients cache NXDOMAIN).

import type { Logger } from 'pino';
import type { KdnsConfig } from '../../config/types.js';
import type { RrSetChange } from '../../dns/types.js';
import { isAtOrBelow } from '../../dns/name.js';
import { Zone } from '../../zone/index.js';
import { LocalNames } from '../../server/local-names.js';
import { ClusterState } from './cluster-state.js';
import { startKubernetesSource } from './watch.js';
import { startManifestsSource } from '../manifests/source.js';

export interface ClusterZone {
  readonly zone: Zone;
  readonly reverse: LocalNames;
  readonly state: ClusterState;
  readonly synced: boolean;
  /** Resolves when the first full view has been applied and the zone answers. */
  readonly whenSynced: Promise<void>;
  close(): void;
}

export interface ClusterZoneHooks {
  /** Names whose answers may have changed (zone and reverse), after each batch of changes. */
  changed(names: string[]): void;
  /** Everything may have changed (readiness flipped). */
  reset(): void;
}

export function clusterSourceConfigured(config: KdnsConfig): boolean {
  return config.kubeconfig !== null || config.inCluster || config.manifests !== null;
}

export async function startClusterZone(config: KdnsConfig, log: Logger, hooks: ClusterZoneHooks): Promise<ClusterZone> {
  const origin = config.clusterDomain + '.';
  const state = new ClusterState({ zone: origin, ttl: config.kubernetes.ttl, podMode: config.kubernetes.pods });
  const zone = new Zone(origin);
  const reverse = new LocalNames();
  zone.ready = false;
  zone.synthesizer = state.synthesizer;

  const apply = (changes: RrSetChange[]): string[] => {
    const names: string[] = [];
    zone.onChange = (name) => names.push(name);
    for (const change of changes) {
      const name = change.op === 'upsert' ? change.rrset.name : change.name;
      if (isAtOrBelow(name, origin)) zone.apply(change);
      else names.push(reverse.apply(change));
    }
    zone.onChange = null;
    return names;
  };
  apply(state.initial());
  state.onChange((changes) => hooks.changed(apply(changes)));

  const sourceLog = log.child({ component: 'kubernetes' });
  let synced = false;
  let close: () => void;
  let whenSourceSynced: Promise<void>;
  if (config.manifests !== null) {
    const source = await startManifestsSource(config.manifests, state, sourceLog);
    close = () => source.close();
    whenSourceSynced = Promise.resolve();
  } else {
    const source = startKubernetesSource({ state, log: sourceLog, kubeconfig: config.kubeconfig ?? undefined });
    close = () => source.close();
    whenSourceSynced = source.whenSynced;
  }
  const whenSynced = whenSourceSynced.then(() => {
    synced = true;
    zone.ready = true;
    hooks.reset();
    sourceLog.info({ zone: origin, ...state.stats() }, 'cluster zone synced');
  });
  return {
    zone, reverse, state, whenSynced, close,
    get synced() {
      return synced;
    },
  };
}
