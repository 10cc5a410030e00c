// A worker thread with an upstream link and one exchange in flight (for upstream-link.test.ts): it sends one
// query to `port` (a server that never answers), says so, and never stops the link: the test terminates the
// thread, and the addon's environment cleanup hook must close the socket and the epoll fd.
import { parentPort, workerData } from 'node:worker_threads';
import { loadNative, UP_HEADER, UP_STRIDE } from '../../src/engine/native-binding.js';

const { port } = workerData as { port: number };
const b = loadNative()!;
const link = b.upstreamCreate(Buffer.alloc(512), new Int32Array(UP_HEADER + UP_STRIDE), 1, () => undefined);
const addr = Buffer.from([127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
parentPort!.postMessage({ fd: b.upstreamSend(link, 1, 4, port, addr, Buffer.from('query'), 5) });
