// Read-only questions about the cluster objects kdns holds (ClusterState.view()): a Service's endpoint
// groups the way the naming rules pick them (its EndpointSlices, else its legacy Endpoints), and which
// endpoints count as ready.

import type { ClusterView } from '../sources/kubernetes/cluster-state.js';
import type { EndpointGroup, SlimEndpoint, SlimService } from '../sources/kubernetes/objects.js';

export interface Groups {
  /** Where the groups came from: "EndpointSlice ns/a, ns/b", "Endpoints ns/svc", or none. */
  sources: Array<{ kind: 'EndpointSlice' | 'Endpoints'; name: string; group: EndpointGroup }>;
}

export function groupsOf(view: ClusterView, svc: SlimService): Groups {
  const key = `${svc.ns}/${svc.name}`;
  const slices = view.slices.get(key);
  if (slices !== undefined && slices.size > 0) {
    return { sources: [...slices.values()].map((s) => ({ kind: 'EndpointSlice' as const, name: s.name, group: s.group })) };
  }
  const legacy = view.endpoints.get(key);
  return { sources: (legacy?.groups ?? []).map((group) => ({ kind: 'Endpoints' as const, name: svc.name, group })) };
}

export function counted(svc: SlimService, ep: SlimEndpoint): boolean {
  return ep.ready || svc.publishNotReadyAddresses;
}

/** Pods in `ns` holding `ip` (pods are held only with --kubernetes-pods verified). */
export function podsWithIp(view: ClusterView, ns: string, ip: string): string[] {
  const out: string[] = [];
  for (const pod of view.pods.values()) if (pod.ns === ns && pod.podIPs.includes(ip)) out.push(pod.name);
  return out;
}
