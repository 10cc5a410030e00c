// `--kubernetes-pods verified` over the wire with two data-plane workers: a pod's record follows the pod
// (Pending without an IP → NXDOMAIN, Running with one → A, deleted → NXDOMAIN again) in every worker,
// because pod records are zone data carried by the hub's deltas like any other record. Each answer is
// asked from many fresh source ports (SO_REUSEPORT spreads them over the workers) and twice per port (the
// second may come from the native engine's C tables, which must follow the change too). Then insecure
// mode, unchanged: any IP in a known namespace, whatever the pods.
import t from 'tap';
import type { KObject } from '../k8s-api/server.js';
import { buildQuery, TcpClient, UdpClient } from '../wire/clients.js';
import { apiServerWith, decodeAnswer, httpGet, startLive, until } from './harness.js';

const NAME = '10-244-3-7.default.pod.cluster.local.';
const PORTS = 12;
const VISIBLE_MS = 5000; // a bounded poll: the deltas reach every worker in milliseconds, but this machine is shared

const pod = (phase: string, ip?: string): KObject => ({
  metadata: { name: 'web-0', namespace: 'default' },
  status: { phase, ...(ip === undefined ? {} : { podIP: ip, podIPs: [{ ip }] }) },
});

let nextId = 1;
/** The answers to `qname` A from PORTS fresh sockets, each asked twice, plus one over TCP: "rcode A…" lines. */
async function fromEveryPort(port: number, qname: string): Promise<string[]> {
  const out: string[] = [];
  const asked = Array.from({ length: PORTS }, async () => {
    const udp = new UdpClient(port);
    await udp.bind();
    try {
      for (let i = 0; i < 2; i++) {
        nextId = (nextId % 0xfffe) + 1;
        const raw = await udp.query(buildQuery(qname, 'A', { id: nextId }), 2000);
        out.push(raw === null ? 'timeout' : line(raw));
      }
    } finally {
      udp.close();
    }
  });
  await Promise.all(asked);
  const tcp = new TcpClient(port);
  await tcp.connected;
  const raw = await tcp.query(buildQuery(qname, 'A', { id: 7 }), 2000);
  tcp.destroy();
  out.push(raw === null ? 'timeout' : line(raw));
  return out;
}

function line(raw: Buffer): string {
  const r = decodeAnswer(raw);
  return [r.rcode, ...r.answer].join(' | ');
}

const all = (want: string) => (got: string[]): boolean => got.every((l) => l === want);

t.test('verified: Pending → Running → deleted, in every worker', async (t) => {
  const server = await apiServerWith([
    { kind: 'Namespace', metadata: { name: 'default' } },
  ]);
  t.teardown(() => server.close());
  server.create('Pod', pod('Pending'));
  const kdns = await startLive(server, t, ['--kubernetes-pods', 'verified', '--kubernetes-ttl', '5', '--workers', '2']);
  const serving = JSON.parse(kdns.stdout().split('\n').find((l) => l.includes('"msg":"serving"'))!) as { workers: number; engine: string };
  t.equal(serving.workers, serving.engine === 'node' ? 1 : 2, `${serving.workers} worker thread(s) on the ${serving.engine} engine`);
  t.equal((await until(() => httpGet(kdns.httpPort!, '/ready'), (r) => r.status === 200, 10_000)).value.status, 200, 'synced');

  const nx = 'NXDOMAIN';
  const a = `NOERROR | ${NAME} 5 A 10.244.3.7`;
  t.same(await fromEveryPort(kdns.port, NAME), Array(2 * PORTS + 1).fill(nx), 'Pending, no IP: NXDOMAIN from every port');

  server.update('Pod', pod('Running', '10.244.3.7'));
  const running = await until(() => fromEveryPort(kdns.port, NAME), all(a), VISIBLE_MS);
  t.ok(running.ok, `Running with an IP: A from every port within ${VISIBLE_MS} ms (${running.ms} ms): ${running.value.join(', ')}`);
  t.same(await fromEveryPort(kdns.port, '10-244-3-8.default.pod.cluster.local.'), Array(2 * PORTS + 1).fill(nx), 'an IP no pod holds: NXDOMAIN');

  server.delete('Pod', { metadata: { name: 'web-0', namespace: 'default' } });
  const deleted = await until(() => fromEveryPort(kdns.port, NAME), all(nx), VISIBLE_MS);
  t.ok(deleted.ok, `deleted: NXDOMAIN again from every port within ${VISIBLE_MS} ms (${deleted.ms} ms): ${deleted.value.join(', ')}`);
});

t.test('insecure: any IP in a known namespace, whatever the pods', async (t) => {
  const server = await apiServerWith([{ kind: 'Namespace', metadata: { name: 'default' } }]);
  t.teardown(() => server.close());
  server.create('Pod', pod('Pending'));
  const kdns = await startLive(server, t, ['--kubernetes-pods', 'insecure', '--kubernetes-ttl', '5', '--workers', '2']);
  t.equal((await until(() => httpGet(kdns.httpPort!, '/ready'), (r) => r.status === 200, 10_000)).value.status, 200, 'synced');
  t.same(await fromEveryPort(kdns.port, NAME), Array(2 * PORTS + 1).fill(`NOERROR | ${NAME} 5 A 10.244.3.7`), 'echoed without a pod');
  t.same(await fromEveryPort(kdns.port, '10-244-3-7.nons.pod.cluster.local.'), Array(2 * PORTS + 1).fill('NXDOMAIN'), 'unknown namespace: NXDOMAIN');
});
