// One table from API kind to converter and ClusterState calls, shared by the live watch and the
// manifests source so both feed the state the same way.

import type { ClusterState } from './cluster-state.js';
import {
  toEndpoints, toEndpointSlice, toNamespace, toPod, toService,
  type SlimEndpoints, type SlimEndpointSlice, type SlimNamespace, type SlimPod, type SlimService,
} from './objects.js';

export type KindName = 'Namespace' | 'Service' | 'EndpointSlice' | 'Endpoints' | 'Pod';

export interface KindHandler {
  /** Slim object, an error string for a bad object, or null for one DNS ignores (FQDN slices). */
  convert(obj: unknown): object | string | null;
  upsert(state: ClusterState, slim: object): void;
  remove(state: ClusterState, ns: string, name: string): void;
}

export const KINDS: Readonly<Record<KindName, KindHandler>> = {
  Namespace: {
    convert: toNamespace,
    upsert: (s, o) => s.upsertNamespace(o as SlimNamespace),
    remove: (s, _ns, name) => s.deleteNamespace(name),
  },
  Service: {
    convert: toService,
    upsert: (s, o) => s.upsertService(o as SlimService),
    remove: (s, ns, name) => s.deleteService(ns, name),
  },
  EndpointSlice: {
    convert: toEndpointSlice,
    upsert: (s, o) => s.upsertEndpointSlice(o as SlimEndpointSlice),
    remove: (s, ns, name) => s.deleteEndpointSlice(ns, name),
  },
  Endpoints: {
    convert: toEndpoints,
    upsert: (s, o) => s.upsertEndpoints(o as SlimEndpoints),
    remove: (s, ns, name) => s.deleteEndpoints(ns, name),
  },
  Pod: {
    convert: toPod,
    upsert: (s, o) => s.upsertPod(o as SlimPod),
    remove: (s, ns, name) => s.deletePod(ns, name),
  },
};

export function isKindName(kind: unknown): kind is KindName {
  return typeof kind === 'string' && Object.prototype.hasOwnProperty.call(KINDS, kind);
}

/** Namespace and name of a slim object of any kind (namespaces have no namespace). */
export function slimRef(slim: object): { ns: string; name: string } {
  const o = slim as { ns?: string; name: string };
  return { ns: o.ns ?? '', name: o.name };
}
