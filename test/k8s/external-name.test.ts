// An ExternalName Service whose target lies outside the cluster zone: with forwarding on, kdns answers
// the CNAME and the target's addresses in one response (the spec's ExternalName example), fetched from
// the upstream (a real dnsmasq here); with --no-forward it answers the CNAME alone.

import t from 'tap';
import dnsPacket from 'dns-packet';
import { startKdns } from '../helpers/kdns-process.js';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { query } from '../helpers/dns-client.js';

const MANIFESTS = 'deploy/demo/cluster'; // holds ExternalName shop/search → www.example.com

function ask(name: string, type: string, id: number): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as 'A', class: 'IN' }] });
}

function records(msg: dnsPacket.Packet): string[] {
  return (msg.answers ?? []).map((a) => `${a.name} ${a.type} ${String((a as { data: unknown }).data)}`);
}

t.test('ExternalName target outside the zone is chased through the forwarder', async (t) => {
  const upstream = await startDnsmasq(['--host-record=www.example.com,192.0.2.34'], 'www.example.com');
  t.teardown(() => upstream.stop());
  for (const workers of ['1', '2']) {
    const kdns = await startKdns(['--listen', '127.0.0.1:0', '--http', 'none', '--workers', workers,
      '--manifests', MANIFESTS, `--server=127.0.0.1#${upstream.port}`]);
    for (const tcp of [false, true]) {
      const msg = dnsPacket.decode(await query(kdns.port, ask('Search.Shop.svc.cluster.local', 'A', 77), { tcp }));
      t.equal(msg.id, 77, `workers ${workers} tcp ${tcp}: ID`);
      t.equal((msg as { rcode?: string }).rcode, 'NOERROR');
      t.equal(msg.questions?.[0]?.name, 'Search.Shop.svc.cluster.local', 'question echoed with the client\'s case');
      // The CNAME's owner is the question name, written as a pointer to it: the client's spelling comes back
      // there too, as in every answer kdns compiles.
      t.same(records(msg), [
        'Search.Shop.svc.cluster.local CNAME www.example.com',
        'www.example.com A 192.0.2.34',
      ], `workers ${workers} tcp ${tcp}: CNAME then the target's address`);
      t.ok((msg.flags ?? 0) & dnsPacket.RECURSION_AVAILABLE, 'RA set');
    }
    t.equal(await kdns.stop(), 0);
  }
  t.ok(upstream.queriesFor('www.example.com', 'A') >= 1, 'the target was asked upstream');
});

t.test('with --no-forward the CNAME is answered alone', async (t) => {
  const kdns = await startKdns(['--listen', '127.0.0.1:0', '--http', 'none', '--manifests', MANIFESTS, '--no-forward']);
  const msg = dnsPacket.decode(await query(kdns.port, ask('search.shop.svc.cluster.local', 'A', 5)));
  t.equal((msg as { rcode?: string }).rcode, 'NOERROR');
  t.same(records(msg), ['search.shop.svc.cluster.local CNAME www.example.com']);
  t.equal(await kdns.stop(), 0);
});
