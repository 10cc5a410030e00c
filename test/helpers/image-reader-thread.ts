// A worker thread that reads one name of a zone image while the main thread rewrites it (src/zone/image.test.ts).
// Every version the writer publishes is self-consistent: an A RRset whose RDATAs all equal [g, g, g, g]
// and a TXT RRset holding g, for generation g. A torn read (half of one version, half of another, or a
// record read before it was written) breaks that. The thread reads until it sees generation `last`, or
// gives up after `maxReads`, and posts what it saw.

import { parentPort, workerData } from 'node:worker_threads';
import { ImageZone, ZoneImageReader, type ZoneImage } from '../../src/zone/index.js';
import { TYPE_A, TYPE_TXT } from '../../src/dns/constants.js';

interface Job {
  image: ZoneImage;
  zoneId: number;
  origin: string;
  name: string;
  last: number;
  maxReads: number;
  /** Int32Array over a SharedArrayBuffer: [0] set to 1 once this thread reads, [1] its reads so far. */
  started: SharedArrayBuffer;
}

const job = workerData as Job;
const zone = new ImageZone(job.origin, job.zoneId, true, { reader: new ZoneImageReader(job.image) });
const started = new Int32Array(job.started);
let reads = 0;
let torn = 0;
let absent = 0;
const generations = new Set<number>();
let last = -1;
while (reads < job.maxReads && last !== job.last) {
  if (reads === 0) {
    Atomics.store(started, 0, 1);
    Atomics.notify(started, 0);
  }
  reads++;
  Atomics.store(started, 1, reads);
  const node = zone.node(job.name);
  if (node === undefined) {
    absent++;
    continue;
  }
  const a = node.rrsets.find((r) => r.type === TYPE_A);
  const txt = node.rrsets.find((r) => r.type === TYPE_TXT);
  const g = a?.rdatas[0]?.[0];
  const consistent = a !== undefined && txt !== undefined && g !== undefined && a.rdatas.length === 8 &&
    a.rdatas.every((r) => r.length === 4 && r.every((b) => b === g)) && txt.rdatas[0]![1] === g;
  if (!consistent) torn++;
  else {
    generations.add(g);
    last = g;
  }
}
parentPort!.postMessage({ reads, torn, absent, generations: generations.size, last });
