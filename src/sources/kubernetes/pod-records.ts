// Pod records (`a-b-c-d.<ns>.pod.<zone>`) in `insecure` mode, answered from a zone alone. They are infinite in
// number, so they are synthesized, not stored; the only state they need is whether the namespace is known,
// which the zone itself carries as the `<ns>.pod.<zone>` existence mark. That makes the rule usable in a
// worker's replica, where the main thread's ClusterState is out of reach.

import type { RrSet } from '../../dns/types.js';
import type { Zone } from '../../zone/index.js';
import { podRecord } from './naming.js';

export interface PodRecordSettings {
  zone: string; // key form, "cluster.local."
  ttl: number;
}

/** A synthesizer for `zone` (which must be the cluster zone) answering insecure-mode pod records. */
export function insecurePodSynthesizer(zone: Pick<Zone, 'nodeExists'>, settings: PodRecordSettings): (qname: string) => RrSet[] | null {
  const options = { zone: settings.zone, ttl: settings.ttl, serial: 0 };
  const namespaceKnown = (ns: string): boolean => zone.nodeExists(`${ns}.pod.${settings.zone}`);
  return (qname) => podRecord(options, qname, namespaceKnown);
}

/** Pod names are made by rule strictly below `pod.<zone>` (naming.ts podRecord): Zone.synthesizedBelow. */
export function podRecordsRoot(zone: string): string {
  return `pod.${zone}`;
}
