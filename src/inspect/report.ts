// The inspection report of the cluster DNS: what an operator would otherwise find out one `kubectl` and
// one `dig` at a time. Each section lists problems (empty: fine). ExternalName targets are resolved
// through kdns itself, so "does not resolve" means exactly what a pod would get.

import { Resolver } from 'node:dns/promises';
import type { ClusterZone } from '../sources/kubernetes/cluster-zone.js';
import type { SlimService } from '../sources/kubernetes/objects.js';
import { counted, groupsOf } from './cluster-objects.js';

export interface ReportSection {
  title: string;
  items: string[];
  /** A fact worth showing even when nothing is wrong (e.g. when the zone last changed). */
  note?: string;
}

export interface ReportDeps {
  cluster: ClusterZone | null;
  /** Forward upstreams and whether each is up. */
  upstreams(): Promise<Array<{ upstream: string; up: boolean }>>;
  /** host:port of kdns's own DNS listener, for resolving ExternalName targets; null: not resolved. */
  dnsServer(): string | null;
  /** When kdns started (ms since the epoch): a zone never synced is stale since then. */
  startedAt: number;
}

/** At most this many ExternalName targets are resolved per report, so a report stays quick. */
const MAX_EXTERNAL = 50;

export async function buildReport(deps: ReportDeps): Promise<ReportSection[]> {
  const upstreams = await deps.upstreams();
  const down: ReportSection = { title: 'Forward upstreams down', items: upstreams.filter((u) => !u.up).map((u) => u.upstream) };
  const cluster = deps.cluster;
  if (cluster === null) return [{ title: 'Cluster zone', items: [], note: 'no cluster source configured' }, down];
  const view = cluster.state.view();
  const services = [...view.services.values()].sort((a, b) => (a.ns + a.name < b.ns + b.name ? -1 : 1));
  return [
    zoneSection(cluster, deps.startedAt),
    { title: 'Services without ready endpoints', items: services.filter((s) => s.type !== 'ExternalName' && readyCount(view, s) === 0).map(ref) },
    { title: 'ExternalName targets that do not resolve', items: await unresolved(services, deps.dnsServer()) },
    { title: 'Endpoint hostnames that collide', items: services.flatMap((s) => collisions(view, s)) },
    { title: 'Objects skipped', items: cluster.skipped.list().map((o) => `${o.object}: ${o.problem}`) },
    down,
  ];
}

function ref(svc: SlimService): string {
  return `${svc.ns}/${svc.name}`;
}

function zoneSection(cluster: ClusterZone, startedAt: number): ReportSection {
  const title = `Cluster zone ${cluster.state.zone}`;
  if (!cluster.synced || cluster.syncedAt === null) {
    const since = new Date(startedAt).toISOString();
    const age = cluster.snapshotAge;
    return {
      title,
      items: [age === null
        ? `stale since ${since}: not synced with its source yet (answers SERVFAIL)`
        : `stale since ${since}: not synced with its source yet; answering from the --state-dir snapshot saved ${Math.round(age)} s ago`],
    };
  }
  const changed = cluster.changedAt === null ? 'no change since' : `last change ${new Date(cluster.changedAt).toISOString()}`;
  return { title, items: [], note: `synced ${new Date(cluster.syncedAt).toISOString()}, ${changed}` };
}

function readyCount(view: ReturnType<ClusterZone['state']['view']>, svc: SlimService): number {
  let n = 0;
  for (const { group } of groupsOf(view, svc).sources) for (const ep of group.endpoints) if (counted(svc, ep)) n++;
  return n;
}

/** Hostnames that name more than one endpoint of a Service (their A records merge: clients get both). */
function collisions(view: ReturnType<ClusterZone['state']['view']>, svc: SlimService): string[] {
  const byHost = new Map<string, string[]>();
  for (const { group } of groupsOf(view, svc).sources) {
    for (const ep of group.endpoints) {
      if (ep.hostname === '' || !counted(svc, ep)) continue;
      const list = byHost.get(ep.hostname) ?? [];
      list.push(ep.addresses.join(','));
      byHost.set(ep.hostname, list);
    }
  }
  return [...byHost].filter(([, eps]) => eps.length > 1).map(([host, eps]) => `${ref(svc)}: hostname ${host} on ${eps.join(' and ')}`);
}

async function unresolved(services: SlimService[], server: string | null): Promise<string[]> {
  const external = services.filter((s) => s.type === 'ExternalName').slice(0, MAX_EXTERNAL);
  if (external.length === 0 || server === null) return [];
  const resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([server]);
  const verdicts = await Promise.all(external.map(async (svc) => {
    const target = svc.externalName.replace(/\.$/, '');
    const problems: string[] = [];
    for (const family of ['resolve4', 'resolve6'] as const) {
      try {
        await resolver[family](target);
        return null; // one family is enough
      } catch (err) {
        problems.push((err as NodeJS.ErrnoException).code ?? 'error');
      }
    }
    return `${ref(svc)} → ${svc.externalName}: ${[...new Set(problems)].join(', ')}`;
  }));
  return verdicts.filter((v): v is string => v !== null);
}
