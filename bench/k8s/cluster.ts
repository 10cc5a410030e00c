// A synthetic cluster for the scale bench: N Services over namespaces of 100, M endpoints spread
// evenly over them in EndpointSlices of at most 100, and a churn generator that rewrites one
// endpoint of a headless Service per change (so the change is visible in that Service's A answer).

import type { KObject, TestApiServer } from '../../test/k8s-api/server.js';

export interface ClusterShape {
  services: number;
  endpoints: number;
  /** Share of Services that are headless (0–1); churn needs at least one. */
  headless: number;
}

export interface ChangeTarget {
  /** The owner name to ask (A), lower case, trailing dot. */
  qname: string;
  /** The address that must appear in the answer once the change is programmed. */
  ip: string;
}

const SLICE_MAX = 100;
const PER_NAMESPACE = 100;

function ipv4(base: number, n: number): string {
  const v = (base + n) >>> 0;
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}
const CLUSTER_IP_BASE = (10 << 24) | (96 << 16); // 10.96.0.0/12
const POD_IP_BASE = (10 << 24) | (128 << 16); // 10.128.0.0/9: 8 M addresses

export interface SliceRef {
  ns: string;
  name: string;
  service: string;
}

export class SyntheticCluster {
  readonly headlessSlices: SliceRef[] = [];
  private nextPodIp = 0;
  private churnIndex = 0;

  constructor(private readonly server: TestApiServer, private readonly shape: ClusterShape, private readonly zone = 'cluster.local') {}

  /** Creates every object; returns the counts. */
  populate(): { namespaces: number; services: number; slices: number; endpoints: number } {
    const { services, endpoints, headless } = this.shape;
    const namespaces = Math.max(1, Math.ceil(services / PER_NAMESPACE));
    for (let i = 0; i < namespaces; i++) this.server.create('Namespace', { metadata: { name: `ns-${i}` } });
    const headlessEvery = headless > 0 ? Math.max(1, Math.round(1 / headless)) : 0;
    let slices = 0;
    let placed = 0;
    for (let s = 0; s < services; s++) {
      const ns = `ns-${Math.floor(s / PER_NAMESPACE)}`;
      const name = `svc-${s}`;
      const isHeadless = headlessEvery > 0 && s % headlessEvery === 0;
      this.server.create('Service', {
        metadata: { name, namespace: ns },
        spec: {
          type: 'ClusterIP',
          clusterIP: isHeadless ? 'None' : ipv4(CLUSTER_IP_BASE, s + 1),
          ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }],
        },
      });
      // Spread M endpoints evenly: the first (M mod N) Services get one more.
      const count = Math.floor(endpoints / services) + (s < endpoints % services ? 1 : 0);
      for (let k = 0; k * SLICE_MAX < count; k++) {
        const n = Math.min(SLICE_MAX, count - k * SLICE_MAX);
        const slice = this.slice(ns, `${name}-${k}`, name, n);
        this.server.create('EndpointSlice', slice);
        if (isHeadless) this.headlessSlices.push({ ns, name: `${name}-${k}`, service: name });
        slices++;
        placed += n;
      }
    }
    return { namespaces, services, slices, endpoints: placed };
  }

  private slice(ns: string, name: string, service: string, n: number): KObject {
    const eps = [];
    for (let i = 0; i < n; i++) eps.push({ addresses: [ipv4(POD_IP_BASE, this.nextPodIp++)], conditions: { ready: true } });
    return {
      metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': 'bench' } },
      addressType: 'IPv4',
      endpoints: eps,
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    };
  }

  /**
   * One EndpointSlice change: the first endpoint of the next headless slice (round robin) gets a
   * fresh address. Returns what to ask and what to expect, or null when there is no headless slice.
   */
  change(): ChangeTarget | null {
    if (this.headlessSlices.length === 0) return null;
    const ref = this.headlessSlices[this.churnIndex++ % this.headlessSlices.length]!;
    const current = this.server.get('EndpointSlice', ref.ns, ref.name) as KObject & { endpoints: { addresses: string[] }[] };
    const ip = ipv4(POD_IP_BASE, this.nextPodIp++);
    const next = structuredClone(current);
    next.endpoints[0] = { ...next.endpoints[0], addresses: [ip] };
    this.server.update('EndpointSlice', next);
    return { qname: `${ref.service}.${ref.ns}.svc.${this.zone}.`, ip };
  }
}
