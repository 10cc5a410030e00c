// NativeEngine in worker threads: two workers bind one port with SO_REUSEPORT and both answer; one closes
// cleanly, the other is terminated without closing (the addon's environment cleanup hook must close its
// socket); afterwards no fd is left and the port can be bound exclusively again.
import t from 'tap';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { Client, fdCount, nativeOrFail, query } from './setup.js';

const WORKER = new URL('./worker-engine.js', import.meta.url);

async function next<T>(w: Worker, key: string): Promise<T> {
  for (let i = 0; i < 10; i++) {
    const [m] = (await once(w, 'message')) as [Record<string, unknown>];
    if (key in m) return m[key] as T;
  }
  throw new Error(`no ${key} message`);
}

const binding = nativeOrFail(t);
if (binding !== null) {
  t.test('two worker threads share a port; stop and terminate leave nothing behind', async (t) => {
    const before = fdCount();
    const one = new Worker(WORKER, { workerData: { port: 0 } });
    const port = (await next<number>(one, 'port'));
    const two = new Worker(WORKER, { workerData: { port } });
    t.equal(await next<number>(two, 'port'), port, 'second worker on the same port');

    let answered = 0;
    for (let c = 0; c < 24; c++) {
      const client = new Client();
      await client.bind();
      if ((await client.one(port, query(c + 1, 'www.example.test', 1))) !== null) answered++;
      client.close();
    }
    t.equal(answered, 24, 'every query answered');
    one.postMessage('stats');
    two.postMessage('stats');
    const [s1, s2] = [await next<{ rxPackets: number }>(one, 'stats'), await next<{ rxPackets: number }>(two, 'stats')];
    t.ok(s1.rxPackets > 0 && s2.rxPackets > 0, `both workers answered (${s1.rxPackets}/${s2.rxPackets})`);
    t.equal(s1.rxPackets + s2.rxPackets, 24);

    one.postMessage('close');
    t.equal(await next<boolean>(one, 'closed'), true, 'worker one closed its engine');
    await one.terminate();
    await two.terminate(); // no close: the environment cleanup hook closes the socket
    const u = binding.createUdpSocket('127.0.0.1', port, false);
    t.equal(u.port, port, 'UDP port free again (exclusive bind works)');
    binding.closeFd(u.fd);
    for (let i = 0; i < 50 && fdCount() !== before; i++) await new Promise((r) => setTimeout(r, 10));
    t.equal(fdCount(), before, 'no fd left by either worker');
  });
}
