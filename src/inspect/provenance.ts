// Which Kubernetes objects a cluster-zone name comes from: the Service of `<svc>.<ns>.svc.<zone>` (and of
// its SRV names), the EndpointSlice (or Endpoints) and Pod of `<host>.<svc>.<ns>.svc.<zone>`, the Pods of
// `<ip>.<ns>.pod.<zone>`. Read-only, from ClusterState.view(); the naming rules themselves are in
// src/sources/kubernetes/naming.ts.

import type { ClusterView } from '../sources/kubernetes/cluster-state.js';
import { dashedIp, undashIp } from '../sources/kubernetes/ip.js';
import type { SlimService } from '../sources/kubernetes/objects.js';
import { counted, groupsOf, podsWithIp } from './cluster-objects.js';

export interface Provenance {
  kind: 'Namespace' | 'Service' | 'EndpointSlice' | 'Endpoints' | 'Pod';
  namespace: string;
  name: string;
  detail: string;
}

/** The objects behind `name` (a key) in the cluster zone `zone` (a key); empty for any other name. */
export function provenanceOf(view: ClusterView, zone: string, name: string): Provenance[] {
  if (!name.endsWith('.' + zone)) return [];
  const labels = name.slice(0, name.length - zone.length - 1).split('.');
  const tree = labels.pop();
  if (tree === 'pod' && labels.length === 2) return podName(view, labels[1]!, labels[0]!);
  if (tree !== 'svc' || labels.length < 2) return [];
  const ns = labels.pop()!;
  const svcName = labels.pop()!;
  const svc = view.services.get(`${ns}/${svcName}`);
  if (svc === undefined) return [];
  const service: Provenance = { kind: 'Service', namespace: ns, name: svcName, detail: describeService(svc) };
  if (labels.length === 0) return [service];
  if (labels.length === 2 && labels[0]!.startsWith('_') && labels[1]!.startsWith('_')) {
    const port = svc.ports.find((p) => `_${p.name}` === labels[0] && `_${p.protocol}` === labels[1]);
    return [{ ...service, detail: port === undefined ? 'endpoint port' : `port ${port.name} ${port.port}/${port.protocol}` }];
  }
  if (labels.length !== 1) return [service];
  return [service, ...endpointHost(view, svc, labels[0]!)];
}

function describeService(svc: SlimService): string {
  if (svc.type === 'ExternalName') return `ExternalName → ${svc.externalName}`;
  return svc.headless ? 'headless' : `${svc.type} ${svc.clusterIPs.join(', ')}`;
}

/** The endpoints named `host` (their hostname, else their dashed IP) and the pods holding their IPs. */
function endpointHost(view: ClusterView, svc: SlimService, host: string): Provenance[] {
  const out: Provenance[] = [];
  for (const { kind, name, group } of groupsOf(view, svc).sources) {
    for (const ep of group.endpoints) {
      if (!counted(svc, ep)) continue;
      const named = ep.hostname !== '' ? ep.hostname === host : ep.addresses.some((ip) => dashedIp(ip) === host);
      if (!named) continue;
      out.push({ kind, namespace: svc.ns, name, detail: `endpoint ${ep.addresses.join(', ')}${ep.hostname ? ` hostname ${ep.hostname}` : ''}` });
      for (const ip of ep.addresses) {
        for (const pod of podsWithIp(view, svc.ns, ip)) out.push({ kind: 'Pod', namespace: svc.ns, name: pod, detail: ip });
      }
    }
  }
  return out;
}

function podName(view: ClusterView, ns: string, label: string): Provenance[] {
  const ip = undashIp(label);
  if (ip === null) return [];
  const pods = podsWithIp(view, ns, ip.ip);
  // Without a Pod index (insecure mode) the record is synthesized from the label alone.
  if (pods.length === 0) return [{ kind: 'Namespace', namespace: '', name: ns, detail: `synthesized from the label (${ip.ip})` }];
  return pods.map((pod) => ({ kind: 'Pod', namespace: ns, name: pod, detail: ip.ip }));
}
