// A worker thread running its own NativeEngine with reusePort (the shape of a kdns data-plane worker), for
// workers.test.ts. Messages in: 'stats', 'close'. Out: { ready, port }, { stats }, { closed }.
import { parentPort, workerData } from 'node:worker_threads';
import { NativeEngine } from '../../src/engine/native.js';
import { engineOptions } from './setup.js';

const { port } = workerData as { port: number };
const engine = new NativeEngine({ ...engineOptions(), listen: [{ host: '127.0.0.1', port }], reusePort: true });
const [addr] = await engine.start();
parentPort!.postMessage({ ready: true, port: addr!.port });
parentPort!.on('message', (m: string) => {
  if (m === 'stats') parentPort!.postMessage({ stats: engine.udpStats });
  if (m === 'close') void engine.close().then(() => parentPort!.postMessage({ closed: true }));
});
