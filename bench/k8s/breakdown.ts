// Where kdns's memory goes for a synthetic cluster, structure by structure, without a server or threads:
// the same objects as scale.js's cluster are converted and fed to a ClusterState, then the main thread's
// hub (zone + reverse store + the shared zone image), and one worker's view of the image are built in
// this isolate; the JS heap (plus ArrayBuffer backing stores) is measured after a full GC at each step.
//
//   node --expose-gc dist/bench/k8s/breakdown.js [--services 10000] [--endpoints 100000] [--headless 0.5]
//
// Prints a markdown table (MiB of JS heap each structure adds, and what it holds). RSS, thread overhead
// and the C tables are scale.js's job; this answers "which structure", not "how much RSS".

import { getHeapStatistics } from 'node:v8';
import { ClusterState } from '../../src/sources/kubernetes/cluster-state.js';
import { KINDS, isKindName } from '../../src/sources/kubernetes/kinds.js';
import { LIST_PAGE_SIZE } from '../../src/sources/kubernetes/reflector.js';
import { isAtOrBelow } from '../../src/dns/name.js';
import type { RrSetChange } from '../../src/dns/types.js';
import { ZoneHub } from '../../src/worker/hub.js';
import { Replica } from '../../src/worker/replica.js';
import { Zone } from '../../src/zone/index.js';
import type { TestApiServer } from '../../test/k8s-api/server.js';
import { SyntheticCluster } from './cluster.js';

const MiB = 1024 * 1024;

function parseArgs(argv: string[]): { services: number; endpoints: number; headless: number } {
  const a = { services: 10000, endpoints: 100000, headless: 0.5 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]!.replace(/^--/, '') as keyof typeof a;
    if (!(key in a) || argv[i + 1] === undefined) throw new Error(`usage: breakdown.js [--services N] [--endpoints M] [--headless F]; bad '${argv[i]}'`);
    a[key] = Number(argv[i + 1]);
  }
  return a;
}

/** JS heap used plus ArrayBuffer backing stores (Buffers, packed arrays), after a full GC. */
function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc');
  gc();
  gc();
  return getHeapStatistics().used_heap_size + process.memoryUsage().arrayBuffers;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const rows: Array<[string, number, string]> = [];
  const start = heapUsed();
  let last = start;
  /** Adds a row for what the heap gained since the previous step (or since `from`). */
  const step = (what: string, holds: string, from = last): void => {
    const now = heapUsed();
    rows.push([what, now - from, holds]);
    process.stderr.write(`${what}: ${((now - last) / MiB).toFixed(1)} MiB\n`);
    last = now;
  };

  // The API objects, as the API server would send them (JSON-shaped, not client-node's model classes).
  let objects: Array<[string, unknown]> = [];
  const collector = { create: (kind: string, obj: unknown) => objects.push([kind, obj]) } as unknown as TestApiServer;
  const counts = new SyntheticCluster(collector, args).populate();
  step('API objects (for scale)', 'what a cache of full objects holds (client-node\'s informer did)');

  const origin = 'cluster.local.';
  const state = new ClusterState({ zone: origin });
  const slims: Array<[string, object]> = [];
  for (const [kind, obj] of objects) {
    if (!isKindName(kind)) continue;
    const slim = KINDS[kind].convert(obj);
    if (slim !== null && typeof slim !== 'string') slims.push([kind, slim]);
  }
  objects = [];
  // Measured from the start, not from the API objects: slim objects share strings with them.
  step('slim objects (API objects dropped)', 'what DNS keeps of each object (objects.ts)', start);
  // CPU time (not wall time: it holds on a shared machine) to apply every object, in pages as the live source does.
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < slims.length; i += LIST_PAGE_SIZE) {
    state.batch(() => {
      for (const [kind, slim] of slims.slice(i, i + LIST_PAGE_SIZE)) if (isKindName(kind)) KINDS[kind].upsert(state, slim);
    });
  }
  const cpu = process.cpuUsage(cpuBefore);
  const applyCpuMs = (cpu.user + cpu.system) / 1000;
  slims.length = 0;
  const rrsets = state.stats().rrsets;
  // ClusterState without the slim objects (counted above), before the zone shares its RRsets.
  step('ClusterState', 'indexes, published keys, PTR references, its RRsets (RRset objects and RDATA)');

  const hub = new ZoneHub();
  const zone = new Zone(origin);
  zone.ready = false;
  hub.adoptZone(zone);
  const inZone: RrSetChange[] = [];
  const reverse: RrSetChange[] = [];
  for (const c of state.initial()) (isAtOrBelow(c.op === 'upsert' ? c.rrset.name : c.name, origin) ? inZone : reverse).push(c);
  hub.apply(origin, inZone);
  hub.applyLocal('reverse', reverse);
  hub.setReady(origin, true);
  const image = hub.imageStats;
  step('hub: zone + reverse store + zone image', `nodes and names (RRset objects shared with ClusterState); the image: ${(image.bytes / MiB).toFixed(1)} MiB of SharedArrayBuffers (${(image.used / MiB).toFixed(1)} MiB of heap written, ${image.rebuilds} rebuilds while it grew)`);

  const replica = new Replica({ needSnapshot: () => undefined });
  replica.applySnapshot(hub.snapshot());
  step('one worker view', 'its zone and store readers over the shared image (no copy of the data)');

  console.log(`cluster: ${JSON.stringify(counts)}, ${rrsets} RRsets; ClusterState applied them in ${applyCpuMs.toFixed(0)} ms of CPU`);
  console.log('\n| structure | JS heap MiB | bytes/RRset | holds |\n|---|---|---|---|');
  for (const [what, bytes, holds] of rows) {
    console.log(`| ${what} | ${(bytes / MiB).toFixed(1)} | ${Math.round(bytes / rrsets)} | ${holds} |`);
  }
  // Keep everything alive until the end of the measurement.
  if (replica.version < 0 || state.zone === '') console.log('unreachable');
}

main();
