// A worker's views: one Responder per configured view, each over that view's zones, plus the default
// view's responder (everything, as without views). Each responder has its own compiled-answer table and
// its own native mirrors, so one view's answers are never another's; the engines ask `forText` /
// `forBytes` which responder a client's query goes to.

import type { LocalReader } from '../server/local-names.js';
import type { Responder } from '../server/responder.js';
import type { ZoneReader, ZoneSet, ZoneSetReader } from '../zone/index.js';
import { LOCAL_STORES } from '../worker/protocol.js';
import { DEFAULT_VIEW, ViewMatcher, type ViewDefinition } from './rules.js';
import { viewSet, ViewZoneSet } from './zones.js';

/** What a view's responder is built from; the worker supplies the rest (forwarder, CHAOS, policies...). */
export type ResponderFactory = (zones: ZoneSetReader, local: LocalReader[], forward: boolean) => Responder;

/** The replica's parts a view reads (src/worker/replica.ts). */
export interface ReplicaZones {
  zones: ZoneSetReader;
  local: LocalReader[];
  viewZones: Map<string, ZoneSet<ZoneReader>>;
}

export class ClientViews {
  readonly matcher: ViewMatcher;
  /** By view index: the configured views in order, then the default view. */
  readonly responders: readonly Responder[];
  /** By view index, as `responders`: each view's name (DEFAULT_VIEW last). */
  readonly names: readonly string[];

  constructor(views: readonly ViewDefinition[], responders: readonly Responder[]) {
    if (responders.length !== views.length + 1) throw new RangeError('one responder per view, plus the default view\'s');
    this.matcher = new ViewMatcher(views);
    this.responders = responders;
    this.names = [...views.map((v) => v.name), DEFAULT_VIEW];
  }

  forText(address: string): Responder {
    return this.responders[this.matcher.pickText(address)]!;
  }

  /** `bytes[offset..+16)`: the client's address as a native meta slot holds it, `family` 4 or 6. */
  forBytes(family: number, bytes: Uint8Array, offset: number): Responder {
    return this.responders[this.matcher.pickBytes(family, bytes, offset)]!;
  }

  /** The replica's AnswerCache: a change reaches every view's table (a view without the name drops nothing). */
  invalidate(): void {
    for (const r of this.responders) r.invalidate();
  }

  invalidateNames(keys: string[]): void {
    for (const r of this.responders) r.invalidateNames(keys);
  }
}

/**
 * The views of `views` over `replica`, `fallback` being the default view's responder; null without views
 * (the engines then use `fallback` alone and pay nothing per query). `clusterZone`: the cluster zone's
 * origin when one is served.
 */
export function clientViews(
  views: readonly ViewDefinition[], clusterZone: string | null, replica: ReplicaZones, make: ResponderFactory, fallback: Responder,
): ClientViews | null {
  if (views.length === 0) return null;
  const reverse = replica.local[LOCAL_STORES.indexOf('reverse')]!;
  const responders = views.map((v) => {
    const shared = new Set(v.dynamicZones);
    if (v.cluster && clusterZone !== null) shared.add(clusterZone);
    const zones = new ViewZoneSet(viewSet(replica.viewZones, v.name), replica.zones, shared);
    // Hosts files belong to the default view; the cluster's reverse names go with the cluster zone.
    return make(zones, v.cluster ? [reverse] : [], v.forward);
  });
  return new ClientViews(views, [...responders, fallback]);
}
