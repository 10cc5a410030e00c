import t from 'tap';
import { Worker } from 'node:worker_threads';
import { Registry } from 'prom-client';
import { TYPE_A, TYPE_AAAA, TYPE_CAA, TYPE_DS, TYPE_SRV } from '../dns/constants.js';
import {
  DnsCounters, DROP_MALFORMED, DROP_QR_SET, DURATION_BOUNDS, FAMILY_V4, FAMILY_V6, PROTO_TCP, PROTO_UDP, SLOT_BYTES,
  TCP_CLOSED_EVICTED, TCP_CLOSED_IDLE,
} from './dns-counters.js';
import { registerDnsMetrics, serverLabel } from './dns-collector.js';
import { createRegistry } from './registry.js';

function line(text: string, prefix: string): string | undefined {
  return text.split('\n').find((l) => l.startsWith(prefix));
}

t.test('buckets are 25µs doubling, exact decimals', async (t) => {
  t.equal(DURATION_BOUNDS[0], 0.000025);
  t.equal(DURATION_BOUNDS[10], 0.0256);
  t.equal(DURATION_BOUNDS[DURATION_BOUNDS.length - 1], 6.5536);
  t.equal(SLOT_BYTES % 64, 0, 'slots are whole cache lines');
});

t.test('slots of several workers are summed at scrape time', async (t) => {
  const sab = DnsCounters.bufferFor(2);
  const w0 = new DnsCounters(sab, 0);
  const w1 = new DnsCounters(sab, 1);
  w0.request(PROTO_UDP, FAMILY_V4, TYPE_A);
  w1.request(PROTO_UDP, FAMILY_V4, TYPE_A);
  w1.request(PROTO_TCP, FAMILY_V6, TYPE_SRV);
  w1.request(PROTO_UDP, FAMILY_V4, TYPE_DS); // not a bucket of its own
  w1.request(PROTO_UDP, FAMILY_V4, 65535);
  w0.request(PROTO_UDP, FAMILY_V6, TYPE_CAA);
  w0.request(PROTO_UDP, FAMILY_V6, TYPE_AAAA);
  w0.response(0, 0.00001); // first bucket
  w1.response(3, 0.0003); // le 0.0004
  w1.response(16, 100); // +Inf, BADVERS
  w0.response(4095, 0.001); // rcode beyond the table
  w0.dropped(DROP_MALFORMED);
  w1.dropped(DROP_MALFORMED);
  w1.dropped(DROP_QR_SET);
  w1.dropped(99);
  w0.tcpClosed(TCP_CLOSED_IDLE);
  w1.tcpClosed(TCP_CLOSED_IDLE);
  w1.tcpClosed(TCP_CLOSED_EVICTED);
  w1.tcpClosed(99); // not counted

  const registry = new Registry();
  registerDnsMetrics(registry, sab, 2, { server: serverLabel([{ host: '127.0.0.1', port: 5353 }, { host: '::1', port: 53 }]) });
  const text = await registry.metrics();
  const s = 'server="dns://127.0.0.1:5353,[::1]:53",zone="."';
  t.equal(line(text, `kdns_dns_requests_total{${s},proto="udp",family="1",type="A"}`)?.split(' ')[1], '2');
  t.equal(line(text, `kdns_dns_requests_total{${s},proto="tcp",family="2",type="SRV"}`)?.split(' ')[1], '1');
  t.equal(line(text, `kdns_dns_requests_total{${s},proto="udp",family="1",type="other"}`)?.split(' ')[1], '2');
  t.ok(line(text, `kdns_dns_requests_total{${s},proto="udp",family="2",type="CAA"} 1`));
  t.ok(line(text, `kdns_dns_requests_total{${s},proto="udp",family="2",type="AAAA"} 1`));
  t.notOk(line(text, `kdns_dns_requests_total{${s},proto="tcp",family="1"`), 'no zero series');
  t.ok(line(text, `kdns_dns_responses_total{${s},rcode="NOERROR",plugin=""} 1`));
  t.ok(line(text, `kdns_dns_responses_total{${s},rcode="NXDOMAIN",plugin=""} 1`));
  t.ok(line(text, `kdns_dns_responses_total{${s},rcode="BADVERS",plugin=""} 1`));
  t.ok(line(text, `kdns_dns_responses_total{${s},rcode="other",plugin=""} 1`));
  t.ok(line(text, '# TYPE kdns_dns_request_duration_seconds histogram'));
  t.ok(line(text, `kdns_dns_request_duration_seconds_bucket{${s},le="0.000025"} 1`));
  t.ok(line(text, `kdns_dns_request_duration_seconds_bucket{${s},le="0.0002"} 1`));
  t.ok(line(text, `kdns_dns_request_duration_seconds_bucket{${s},le="0.0004"} 2`));
  t.ok(line(text, `kdns_dns_request_duration_seconds_bucket{${s},le="0.0016"} 3`));
  t.ok(line(text, `kdns_dns_request_duration_seconds_bucket{${s},le="6.5536"} 3`));
  t.ok(line(text, `kdns_dns_request_duration_seconds_bucket{${s},le="+Inf"} 4`));
  t.ok(line(text, `kdns_dns_request_duration_seconds_count{${s}} 4`));
  const sum = Number(line(text, `kdns_dns_request_duration_seconds_sum{${s}}`)?.split(' ')[1]);
  t.ok(Math.abs(sum - 100.00131) < 1e-9, `sum ${sum}`);
  t.ok(line(text, 'kdns_dns_dropped_total{reason="malformed"} 2'));
  t.ok(line(text, 'kdns_dns_dropped_total{reason="qr-set"} 1'));
  t.ok(line(text, 'kdns_dns_dropped_total{reason="other"} 1'));
  t.ok(line(text, 'kdns_tcp_connections_closed_total{reason="idle"} 2'));
  t.ok(line(text, 'kdns_tcp_connections_closed_total{reason="evicted"} 1'));
  t.notOk(line(text, `kdns_tcp_connections_closed_total{reason="deadline"}`), 'no zero series');

  w0.request(PROTO_UDP, FAMILY_V4, TYPE_A);
  const again = await registry.metrics();
  t.equal(line(again, `kdns_dns_requests_total{${s},proto="udp",family="1",type="A"}`)?.split(' ')[1], '3', 'live, not cached');
});

t.test('a slot outside the buffer is refused at construction', async (t) => {
  const sab = DnsCounters.bufferFor(1);
  t.throws(() => new DnsCounters(sab, 1), RangeError);
  t.throws(() => new DnsCounters(sab, -1), RangeError);
});

t.test('a worker thread counts into its slot without messages', async (t) => {
  const sab = DnsCounters.bufferFor(2);
  const url = new URL('./dns-counters.js', import.meta.url).href;
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    import(${JSON.stringify(url)}).then((m) => {
      const c = new m.DnsCounters(workerData.sab, 1);
      for (let i = 0; i < 1000; i++) c.request(0, 0, 1);
      parentPort.postMessage('done');
    });`;
  const worker = new Worker(code, { eval: true, workerData: { sab } });
  await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
  await worker.terminate();
  const registry = new Registry();
  registerDnsMetrics(registry, sab, 2);
  const text = await registry.metrics();
  t.ok(line(text, 'kdns_dns_requests_total{server="dns://",zone=".",proto="udp",family="1",type="A"} 1000'));
});

t.test('createRegistry has default metrics and build info', async (t) => {
  const registry = createRegistry();
  const text = await registry.metrics();
  t.match(text, /^process_cpu_user_seconds_total /m);
  t.match(text, /^nodejs_heap_size_total_bytes /m);
  t.match(text, /^kdns_build_info\{version="\d+\.\d+\.\d+[^"]*",nodeversion="v\d+/m);
});
