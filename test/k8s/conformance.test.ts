// Kubernetes DNS-Based Service Discovery (schema 1.1.0) over the wire: one table of questions and the
// exact responses (rcode, answer, additional as zone-file lines; the authority is derived: the SOA for
// NXDOMAIN and NODATA), asked over UDP and TCP of kdns fed by the test API server (live, client-node
// informers) and of kdns reading the same objects as manifests (offline, on the node engine), in each
// pod mode. Offline must answer exactly what live answers. The fixture cluster is test/fixtures/k8s/cluster/*.yaml.
// Last: SERVFAIL (never NXDOMAIN) and /ready 503 while the API server holds its list responses.
import t, { type Test } from 'tap';
import { startKdns, type KdnsProcess } from '../helpers/kdns-process.js';
import {
  apiServerWith, Asker, CLUSTER_DIR, fixtureObjects, httpGet, kdnsArgs, kubeconfigFile, startLive, until, type Answer,
} from './harness.js';

const TTL = 5; // --kubernetes-ttl
const ZONE = 'cluster.local';

/** [qname, qtype, rcode, answer, additional, authority (default: the SOA when the answer is empty)] */
type Case = [qname: string, qtype: string, rcode: string, answer: string[], additional?: string[], authority?: string[]];

const soa = (zone = ZONE): string =>
  `${zone}. ${TTL} SOA ns.dns.${zone}. hostmaster.${zone}. <serial> 7200 1800 86400 ${TTL}`;
const NODATA: string[] = [];
const V6_40 = '0.4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.0.d.f.ip6.arpa.';
const V6_50 = '0.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.0.d.f.ip6.arpa.';
const V6_244_10 = '0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.4.4.2.0.0.0.d.f.ip6.arpa.';
const V6_244_11 = '1.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.4.4.2.0.0.0.d.f.ip6.arpa.';
const V6_244_3_1 = '1.0.0.0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.4.4.2.0.0.0.d.f.ip6.arpa.';

const WEB_A = 'web.default.svc.cluster.local. 5 A 10.96.0.20';
const DB_A = [
  'db.default.svc.cluster.local. 5 A 10.244.2.10',
  'db.default.svc.cluster.local. 5 A 10.244.2.11',
  'db.default.svc.cluster.local. 5 A 10.244.2.13',
];

const CASES: Case[] = [
  // The apex, the schema version, and the empty non-terminals.
  ['cluster.local.', 'SOA', 'NOERROR', [soa()]],
  // The NS target has an address (CoreDNS ns.go): the Services selecting kdns's own address, else that
  // address itself; here nothing selects 127.0.0.1, the address kdns listens on.
  ['cluster.local.', 'NS', 'NOERROR', ['cluster.local. 5 NS ns.dns.cluster.local.'], ['ns.dns.cluster.local. 5 A 127.0.0.1']],
  ['ns.dns.cluster.local.', 'A', 'NOERROR', ['ns.dns.cluster.local. 5 A 127.0.0.1']],
  ['ns.dns.cluster.local.', 'AAAA', 'NOERROR', NODATA],
  ['NS.DNS.cluster.local.', 'A', 'NOERROR', ['NS.DNS.cluster.local. 5 A 127.0.0.1']],
  ['cluster.local.', 'A', 'NOERROR', NODATA],
  ['dns-version.cluster.local.', 'TXT', 'NOERROR', ['dns-version.cluster.local. 28800 TXT "1.1.0"']],
  ['dns-version.cluster.local.', 'A', 'NOERROR', NODATA],
  ['svc.cluster.local.', 'A', 'NOERROR', NODATA],
  ['svc.cluster.local.', 'SRV', 'NOERROR', NODATA],
  ['pod.cluster.local.', 'A', 'NOERROR', NODATA],
  ['default.svc.cluster.local.', 'A', 'NOERROR', NODATA],
  ['quiet.svc.cluster.local.', 'A', 'NOERROR', NODATA], // a Namespace without Services
  ['prod.svc.cluster.local.', 'TXT', 'NOERROR', NODATA],
  ['nons.svc.cluster.local.', 'A', 'NXDOMAIN', []],
  ['x.cluster.local.', 'A', 'NXDOMAIN', []],
  ['web.default.cluster.local.', 'A', 'NXDOMAIN', []], // neither svc nor pod
  ['web.default.foo.cluster.local.', 'A', 'NXDOMAIN', []],
  ['default.cluster.local.', 'A', 'NXDOMAIN', []],

  // ClusterIP Service: A, no AAAA, SRV for the named port only (with the A as additional).
  ['web.default.svc.cluster.local.', 'A', 'NOERROR', [WEB_A]],
  ['web.default.svc.cluster.local.', 'AAAA', 'NOERROR', NODATA],
  ['web.default.svc.cluster.local.', 'TXT', 'NOERROR', NODATA],
  ['web.default.svc.cluster.local.', 'SOA', 'NOERROR', NODATA],
  ['web.default.svc.cluster.local.', 'ANY', 'NOERROR', [WEB_A]],
  ['_http._tcp.web.default.svc.cluster.local.', 'SRV', 'NOERROR',
    ['_http._tcp.web.default.svc.cluster.local. 5 SRV 0 100 80 web.default.svc.cluster.local.'], [WEB_A]],
  ['_http._tcp.web.default.svc.cluster.local.', 'A', 'NOERROR', NODATA],
  ['_tcp.web.default.svc.cluster.local.', 'SRV', 'NOERROR', NODATA],
  ['_statsd._udp.web.default.svc.cluster.local.', 'SRV', 'NOERROR',
    ['_statsd._udp.web.default.svc.cluster.local. 5 SRV 0 100 9000 web.default.svc.cluster.local.'], [WEB_A]],
  ['_udp.web.default.svc.cluster.local.', 'SRV', 'NOERROR', NODATA],
  ['_http._udp.web.default.svc.cluster.local.', 'SRV', 'NXDOMAIN', []],
  ['_9000._udp.web.default.svc.cluster.local.', 'SRV', 'NXDOMAIN', []],
  ['_https._tcp.web.default.svc.cluster.local.', 'SRV', 'NXDOMAIN', []],
  // A ClusterIP Service's ready endpoints have names too (dashed IP); a not-ready one has none.
  ['10-244-1-5.web.default.svc.cluster.local.', 'A', 'NOERROR', ['10-244-1-5.web.default.svc.cluster.local. 5 A 10.244.1.5']],
  ['10-244-1-6.web.default.svc.cluster.local.', 'A', 'NXDOMAIN', []],
  ['a.b.web.default.svc.cluster.local.', 'A', 'NXDOMAIN', []], // too many labels
  ['x.10-244-1-5.web.default.svc.cluster.local.', 'A', 'NXDOMAIN', []],
  ['nosuch.default.svc.cluster.local.', 'A', 'NXDOMAIN', []],
  ['web.nons.svc.cluster.local.', 'A', 'NXDOMAIN', []],
  ['web.prod.svc.cluster.local.', 'A', 'NOERROR', ['web.prod.svc.cluster.local. 5 A 10.96.1.20']],
  ['_http._tcp.web.prod.svc.cluster.local.', 'SRV', 'NXDOMAIN', []], // its one port is unnamed: no SRV
  ['_udp.web.prod.svc.cluster.local.', 'SRV', 'NXDOMAIN', []],
  ['_9000._udp.web.prod.svc.cluster.local.', 'SRV', 'NXDOMAIN', []],
  ['api.prod.svc.cluster.local.', 'A', 'NOERROR', ['api.prod.svc.cluster.local. 5 A 10.96.1.10']],
  ['_grpc._tcp.api.prod.svc.cluster.local.', 'SRV', 'NOERROR',
    ['_grpc._tcp.api.prod.svc.cluster.local. 5 SRV 0 100 9000 api.prod.svc.cluster.local.'],
    ['api.prod.svc.cluster.local. 5 A 10.96.1.10']],
  ['web-alt.default.svc.cluster.local.', 'A', 'NOERROR', ['web-alt.default.svc.cluster.local. 5 A 10.96.0.21']],
  ['10-244-1-5.web-alt.default.svc.cluster.local.', 'A', 'NOERROR', ['10-244-1-5.web-alt.default.svc.cluster.local. 5 A 10.244.1.5']],
  // No endpoints: the ClusterIP still resolves.
  ['empty.default.svc.cluster.local.', 'A', 'NOERROR', ['empty.default.svc.cluster.local. 5 A 10.96.0.30']],
  ['_http._tcp.empty.default.svc.cluster.local.', 'SRV', 'NOERROR',
    ['_http._tcp.empty.default.svc.cluster.local. 5 SRV 0 100 80 empty.default.svc.cluster.local.'],
    ['empty.default.svc.cluster.local. 5 A 10.96.0.30']],
  // Dual stack, IPv6 only.
  ['dual.default.svc.cluster.local.', 'A', 'NOERROR', ['dual.default.svc.cluster.local. 5 A 10.96.0.40']],
  ['dual.default.svc.cluster.local.', 'AAAA', 'NOERROR', ['dual.default.svc.cluster.local. 5 AAAA fd00:96::40']],
  ['_https._tcp.dual.default.svc.cluster.local.', 'SRV', 'NOERROR',
    ['_https._tcp.dual.default.svc.cluster.local. 5 SRV 0 100 443 dual.default.svc.cluster.local.'],
    ['dual.default.svc.cluster.local. 5 A 10.96.0.40', 'dual.default.svc.cluster.local. 5 AAAA fd00:96::40']],
  ['v6only.default.svc.cluster.local.', 'AAAA', 'NOERROR', ['v6only.default.svc.cluster.local. 5 AAAA fd00:96::50']],
  ['v6only.default.svc.cluster.local.', 'A', 'NOERROR', NODATA],
  ['_http._tcp.v6only.default.svc.cluster.local.', 'SRV', 'NOERROR',
    ['_http._tcp.v6only.default.svc.cluster.local. 5 SRV 0 100 80 v6only.default.svc.cluster.local.'],
    ['v6only.default.svc.cluster.local. 5 AAAA fd00:96::50']],
  // SRV per protocol.
  ['_dns._udp.multi.default.svc.cluster.local.', 'SRV', 'NOERROR',
    ['_dns._udp.multi.default.svc.cluster.local. 5 SRV 0 100 53 multi.default.svc.cluster.local.'],
    ['multi.default.svc.cluster.local. 5 A 10.96.0.60']],
  ['_dns-tcp._tcp.multi.default.svc.cluster.local.', 'SRV', 'NOERROR',
    ['_dns-tcp._tcp.multi.default.svc.cluster.local. 5 SRV 0 100 53 multi.default.svc.cluster.local.'],
    ['multi.default.svc.cluster.local. 5 A 10.96.0.60']],
  ['_assoc._sctp.multi.default.svc.cluster.local.', 'SRV', 'NOERROR',
    ['_assoc._sctp.multi.default.svc.cluster.local. 5 SRV 0 100 7777 multi.default.svc.cluster.local.'],
    ['multi.default.svc.cluster.local. 5 A 10.96.0.60']],
  ['_dns._tcp.multi.default.svc.cluster.local.', 'SRV', 'NXDOMAIN', []],
  ['_dns-tcp._udp.multi.default.svc.cluster.local.', 'SRV', 'NXDOMAIN', []],

  // PTR: cluster IPs (v4, v6) and ready endpoint IPs; unknown reverse names are not ours (REFUSED
  // with --no-forward: they would be forwarded).
  ['20.0.96.10.in-addr.arpa.', 'PTR', 'NOERROR', ['20.0.96.10.in-addr.arpa. 5 PTR web.default.svc.cluster.local.']],
  ['30.0.96.10.in-addr.arpa.', 'PTR', 'NOERROR', ['30.0.96.10.in-addr.arpa. 5 PTR empty.default.svc.cluster.local.']],
  ['10.1.96.10.in-addr.arpa.', 'PTR', 'NOERROR', ['10.1.96.10.in-addr.arpa. 5 PTR api.prod.svc.cluster.local.']],
  ['40.0.96.10.in-addr.arpa.', 'PTR', 'NOERROR', ['40.0.96.10.in-addr.arpa. 5 PTR dual.default.svc.cluster.local.']],
  [V6_40, 'PTR', 'NOERROR', [`${V6_40} 5 PTR dual.default.svc.cluster.local.`]],
  [V6_50, 'PTR', 'NOERROR', [`${V6_50} 5 PTR v6only.default.svc.cluster.local.`]],
  ['5.1.244.10.in-addr.arpa.', 'PTR', 'NOERROR', [
    '5.1.244.10.in-addr.arpa. 5 PTR 10-244-1-5.web-alt.default.svc.cluster.local.',
    '5.1.244.10.in-addr.arpa. 5 PTR 10-244-1-5.web.default.svc.cluster.local.',
  ]],
  ['10.2.244.10.in-addr.arpa.', 'PTR', 'NOERROR', ['10.2.244.10.in-addr.arpa. 5 PTR db-0.db.default.svc.cluster.local.']],
  ['11.2.244.10.in-addr.arpa.', 'PTR', 'NOERROR', ['11.2.244.10.in-addr.arpa. 5 PTR 10-244-2-11.db.default.svc.cluster.local.']],
  [V6_244_10, 'PTR', 'NOERROR', [`${V6_244_10} 5 PTR db6-0.db6.default.svc.cluster.local.`]],
  [V6_244_11, 'PTR', 'NOERROR', [`${V6_244_11} 5 PTR fd00-244--11.db6.default.svc.cluster.local.`]],
  ['1.3.244.10.in-addr.arpa.', 'PTR', 'NOERROR', ['1.3.244.10.in-addr.arpa. 5 PTR mix-0.mix.default.svc.cluster.local.']],
  [V6_244_3_1, 'PTR', 'NOERROR', [`${V6_244_3_1} 5 PTR mix-0.mix.default.svc.cluster.local.`]],
  ['1.5.244.10.in-addr.arpa.', 'PTR', 'NOERROR', ['1.5.244.10.in-addr.arpa. 5 PTR pub-0.pub.default.svc.cluster.local.']],
  ['7.6.244.10.in-addr.arpa.', 'PTR', 'NOERROR', ['7.6.244.10.in-addr.arpa. 5 PTR mypod.sub.default.svc.cluster.local.']],
  ['6.1.244.10.in-addr.arpa.', 'PTR', 'REFUSED', []], // not-ready endpoint
  ['12.2.244.10.in-addr.arpa.', 'PTR', 'REFUSED', []],
  ['1.4.244.10.in-addr.arpa.', 'PTR', 'REFUSED', []],
  ['1.1.1.1.in-addr.arpa.', 'PTR', 'REFUSED', []],
  ['in-addr.arpa.', 'SOA', 'REFUSED', []],

  // Headless: every ready endpoint (merged over slices, deduplicated), names by hostname or dashed IP.
  ['db.default.svc.cluster.local.', 'A', 'NOERROR', DB_A],
  ['DB.Default.SVC.cluster.local.', 'A', 'NOERROR', DB_A.map((l) => l.replace('db.default.svc', 'DB.Default.SVC'))],
  ['db.default.svc.cluster.local.', 'AAAA', 'NOERROR', NODATA],
  ['db-0.db.default.svc.cluster.local.', 'A', 'NOERROR', ['db-0.db.default.svc.cluster.local. 5 A 10.244.2.10']],
  ['10-244-2-11.db.default.svc.cluster.local.', 'A', 'NOERROR', ['10-244-2-11.db.default.svc.cluster.local. 5 A 10.244.2.11']],
  ['10-244-2-13.db.default.svc.cluster.local.', 'A', 'NOERROR', ['10-244-2-13.db.default.svc.cluster.local. 5 A 10.244.2.13']],
  ['10-244-2-10.db.default.svc.cluster.local.', 'A', 'NXDOMAIN', []], // named by its hostname instead
  ['db-2.db.default.svc.cluster.local.', 'A', 'NXDOMAIN', []], // not ready
  ['10-244-2-12.db.default.svc.cluster.local.', 'A', 'NXDOMAIN', []],
  ['_pg._tcp.db.default.svc.cluster.local.', 'SRV', 'NOERROR', [
    '_pg._tcp.db.default.svc.cluster.local. 5 SRV 0 100 5432 10-244-2-11.db.default.svc.cluster.local.',
    '_pg._tcp.db.default.svc.cluster.local. 5 SRV 0 100 5432 10-244-2-13.db.default.svc.cluster.local.',
    '_pg._tcp.db.default.svc.cluster.local. 5 SRV 0 100 5432 db-0.db.default.svc.cluster.local.',
  ], [
    '10-244-2-11.db.default.svc.cluster.local. 5 A 10.244.2.11',
    '10-244-2-13.db.default.svc.cluster.local. 5 A 10.244.2.13',
    'db-0.db.default.svc.cluster.local. 5 A 10.244.2.10',
  ]],
  ['_tcp.db.default.svc.cluster.local.', 'SRV', 'NOERROR', NODATA],
  ['_9187._tcp.db.default.svc.cluster.local.', 'SRV', 'NXDOMAIN', []], // unnamed endpoint port
  ['db6.default.svc.cluster.local.', 'AAAA', 'NOERROR', [
    'db6.default.svc.cluster.local. 5 AAAA fd00:244::10', 'db6.default.svc.cluster.local. 5 AAAA fd00:244::11',
  ]],
  ['db6.default.svc.cluster.local.', 'A', 'NOERROR', NODATA],
  ['db6-0.db6.default.svc.cluster.local.', 'AAAA', 'NOERROR', ['db6-0.db6.default.svc.cluster.local. 5 AAAA fd00:244::10']],
  ['fd00-244--11.db6.default.svc.cluster.local.', 'AAAA', 'NOERROR', ['fd00-244--11.db6.default.svc.cluster.local. 5 AAAA fd00:244::11']],
  ['_pg._tcp.db6.default.svc.cluster.local.', 'SRV', 'NOERROR', [
    '_pg._tcp.db6.default.svc.cluster.local. 5 SRV 0 100 5432 db6-0.db6.default.svc.cluster.local.',
    '_pg._tcp.db6.default.svc.cluster.local. 5 SRV 0 100 5432 fd00-244--11.db6.default.svc.cluster.local.',
  ], [
    'db6-0.db6.default.svc.cluster.local. 5 AAAA fd00:244::10',
    'fd00-244--11.db6.default.svc.cluster.local. 5 AAAA fd00:244::11',
  ]],
  ['mix.default.svc.cluster.local.', 'A', 'NOERROR', ['mix.default.svc.cluster.local. 5 A 10.244.3.1']],
  ['mix.default.svc.cluster.local.', 'AAAA', 'NOERROR', ['mix.default.svc.cluster.local. 5 AAAA fd00:244::3:1']],
  ['mix-0.mix.default.svc.cluster.local.', 'A', 'NOERROR', ['mix-0.mix.default.svc.cluster.local. 5 A 10.244.3.1']],
  ['mix-0.mix.default.svc.cluster.local.', 'AAAA', 'NOERROR', ['mix-0.mix.default.svc.cluster.local. 5 AAAA fd00:244::3:1']],
  // No ready endpoint, or no slice at all: NXDOMAIN for the service and everything below it.
  ['nready.default.svc.cluster.local.', 'A', 'NXDOMAIN', []],
  ['nready.default.svc.cluster.local.', 'AAAA', 'NXDOMAIN', []],
  ['nready-0.nready.default.svc.cluster.local.', 'A', 'NXDOMAIN', []],
  ['_http._tcp.nready.default.svc.cluster.local.', 'SRV', 'NXDOMAIN', []],
  ['noslice.default.svc.cluster.local.', 'A', 'NXDOMAIN', []],
  // publishNotReadyAddresses publishes a not-ready endpoint.
  ['pub.default.svc.cluster.local.', 'A', 'NOERROR', ['pub.default.svc.cluster.local. 5 A 10.244.5.1']],
  ['pub-0.pub.default.svc.cluster.local.', 'A', 'NOERROR', ['pub-0.pub.default.svc.cluster.local. 5 A 10.244.5.1']],
  // Pod hostname + subdomain (a headless Service named like the subdomain).
  ['mypod.sub.default.svc.cluster.local.', 'A', 'NOERROR', ['mypod.sub.default.svc.cluster.local. 5 A 10.244.6.7']],
  ['sub.default.svc.cluster.local.', 'A', 'NOERROR', ['sub.default.svc.cluster.local. 5 A 10.244.6.7']],

  // ExternalName: the CNAME; a target in the cluster zone is chased, one outside is not.
  ['ext.default.svc.cluster.local.', 'A', 'NOERROR', ['ext.default.svc.cluster.local. 5 CNAME www.example.com.'], [], []],
  ['ext.default.svc.cluster.local.', 'AAAA', 'NOERROR', ['ext.default.svc.cluster.local. 5 CNAME www.example.com.'], [], []],
  ['ext.default.svc.cluster.local.', 'CNAME', 'NOERROR', ['ext.default.svc.cluster.local. 5 CNAME www.example.com.'], [], []],
  ['EXT.default.svc.cluster.local.', 'A', 'NOERROR', ['EXT.default.svc.cluster.local. 5 CNAME www.example.com.'], [], []],
  ['x.ext.default.svc.cluster.local.', 'A', 'NXDOMAIN', []],
  ['_http._tcp.ext.default.svc.cluster.local.', 'SRV', 'NXDOMAIN', []],
  ['alias.default.svc.cluster.local.', 'A', 'NOERROR', ['alias.default.svc.cluster.local. 5 CNAME web.default.svc.cluster.local.', WEB_A]],
  ['alias.default.svc.cluster.local.', 'AAAA', 'NOERROR',
    ['alias.default.svc.cluster.local. 5 CNAME web.default.svc.cluster.local.'], [], [soa()]],
  ['alias-db.prod.svc.cluster.local.', 'A', 'NOERROR', ['alias-db.prod.svc.cluster.local. 5 CNAME db.default.svc.cluster.local.', ...DB_A]],

  // The query's spelling comes back in the owner names (and in the SOA of negative answers).
  ['WeB.DeFault.svc.Cluster.LOCAL.', 'A', 'NOERROR', ['WeB.DeFault.svc.Cluster.LOCAL. 5 A 10.96.0.20']],
  ['WeB.DeFault.svc.Cluster.LOCAL.', 'AAAA', 'NOERROR', NODATA],
  ['NoSuch.DeFault.svc.Cluster.LOCAL.', 'A', 'NXDOMAIN', []],
  ['_HTTP._Tcp.web.default.svc.cluster.local.', 'SRV', 'NOERROR',
    ['_HTTP._Tcp.web.default.svc.cluster.local. 5 SRV 0 100 80 web.default.svc.cluster.local.'], [WEB_A]],
  ['CLUSTER.LOCAL.', 'SOA', 'NOERROR', [soa('CLUSTER.LOCAL')]],
  ['DNS-Version.cluster.local.', 'TXT', 'NOERROR', ['DNS-Version.cluster.local. 28800 TXT "1.1.0"']],
];

type PodMode = 'disabled' | 'insecure' | 'verified';
type PodExpect = [rcode: string, answer: string[]];
const NX: PodExpect = ['NXDOMAIN', []];
const ND: PodExpect = ['NOERROR', NODATA];
const a = (name: string, ip: string): PodExpect => ['NOERROR', [`${name} 5 ${ip.includes(':') ? 'AAAA' : 'A'} ${ip}`]];

/** IP-based pod records per --kubernetes-pods mode (fixture pods: 40-pods.yaml). */
const POD_CASES: Array<[qname: string, qtype: string, expect: Record<PodMode, PodExpect>]> = [
  ['10-244-1-5.default.pod.cluster.local.', 'A', {
    disabled: NX, insecure: a('10-244-1-5.default.pod.cluster.local.', '10.244.1.5'), verified: a('10-244-1-5.default.pod.cluster.local.', '10.244.1.5'),
  }],
  ['10-99-99-99.default.pod.cluster.local.', 'A', { disabled: NX, insecure: a('10-99-99-99.default.pod.cluster.local.', '10.99.99.99'), verified: NX }],
  ['10-244-7-9.default.pod.cluster.local.', 'A', { disabled: NX, insecure: a('10-244-7-9.default.pod.cluster.local.', '10.244.7.9'), verified: NX }], // Succeeded
  ['10-244-7-1.default.pod.cluster.local.', 'A', {
    disabled: NX, insecure: a('10-244-7-1.default.pod.cluster.local.', '10.244.7.1'), verified: a('10-244-7-1.default.pod.cluster.local.', '10.244.7.1'),
  }],
  ['fd00-244--7-1.default.pod.cluster.local.', 'AAAA', {
    disabled: NX, insecure: a('fd00-244--7-1.default.pod.cluster.local.', 'fd00:244::7:1'), verified: a('fd00-244--7-1.default.pod.cluster.local.', 'fd00:244::7:1'),
  }],
  ['10-244-8-1.default.pod.cluster.local.', 'A', { disabled: NX, insecure: a('10-244-8-1.default.pod.cluster.local.', '10.244.8.1'), verified: NX }], // pod is in prod
  ['10-244-8-1.prod.pod.cluster.local.', 'A', {
    disabled: NX, insecure: a('10-244-8-1.prod.pod.cluster.local.', '10.244.8.1'), verified: a('10-244-8-1.prod.pod.cluster.local.', '10.244.8.1'),
  }],
  ['10-244-1-5.DEFAULT.pod.cluster.local.', 'A', {
    disabled: NX, insecure: a('10-244-1-5.DEFAULT.pod.cluster.local.', '10.244.1.5'), verified: a('10-244-1-5.DEFAULT.pod.cluster.local.', '10.244.1.5'),
  }],
  ['10-244-1-5.default.pod.cluster.local.', 'AAAA', { disabled: NX, insecure: ND, verified: ND }],
  ['10-244-1-5.default.pod.cluster.local.', 'TXT', { disabled: NX, insecure: ND, verified: ND }],
  ['default.pod.cluster.local.', 'A', { disabled: NX, insecure: ND, verified: ND }],
  ['quiet.pod.cluster.local.', 'A', { disabled: NX, insecure: ND, verified: ND }],
  ['nons.pod.cluster.local.', 'A', { disabled: NX, insecure: NX, verified: NX }],
  ['10-244-1-5.nons.pod.cluster.local.', 'A', { disabled: NX, insecure: NX, verified: NX }],
  ['x.10-244-1-5.default.pod.cluster.local.', 'A', { disabled: NX, insecure: NX, verified: NX }],
  ['notanip.default.pod.cluster.local.', 'A', { disabled: NX, insecure: NX, verified: NX }],
  // CoreDNS 1.15: a leading-zero octet does not parse as an IPv4 address, so no A record (not 10.244.1.5).
  ['010-244-1-5.default.pod.cluster.local.', 'A', { disabled: NX, insecure: NX, verified: NX }],
  ['10-244-1-05.default.pod.cluster.local.', 'A', { disabled: NX, insecure: NX, verified: NX }],
];

const MODES: PodMode[] = ['disabled', 'insecure', 'verified'];

function casesFor(mode: PodMode): Case[] {
  return [...CASES, ...POD_CASES.map(([q, type, e]): Case => [q, type, e[mode][0], e[mode][1]])];
}

interface Expected {
  rcode: string;
  aa: boolean;
  answer: string[];
  authority: string[];
  additional: string[];
}

function expected([qname, , rcode, answer, additional, authority]: Case): Expected {
  const inZone = qname.toLowerCase().endsWith(`.${ZONE}.`) || qname.toLowerCase() === `${ZONE}.`;
  const ours = rcode === 'NOERROR' || rcode === 'NXDOMAIN';
  // Negative answers carry the SOA, its owner spelled as the query spelled the zone.
  const zoneSpelled = qname.slice(qname.length - ZONE.length - 1, -1);
  const auth = authority ?? (ours && inZone && answer.length === 0 ? [soa(zoneSpelled)] : []);
  return { rcode, aa: ours, answer: [...answer], authority: [...auth].sort(), additional: [...(additional ?? [])].sort() };
}

const shown = (r: Answer): Expected => ({ rcode: r.rcode, aa: r.aa, answer: r.answer, authority: r.authority, additional: r.additional });

t.ok(casesFor('insecure').length >= 100, `at least 100 cases (${casesFor('insecure').length})`);

// `npm run test:real-k8s` runs this file against a real control plane holding the same fixture objects
// (test/real-k8s/run.ts): then "live" is that API server, reached with the kubeconfig it gives.
const REAL_KUBECONFIG = process.env.KDNS_REAL_K8S_KUBECONFIG;
const server = REAL_KUBECONFIG === undefined ? await apiServerWith(fixtureObjects()) : null;
if (server !== null) t.teardown(() => server.close());
const kubeconfig = REAL_KUBECONFIG ?? kubeconfigFile(server!, t);
// Verified pod mode watches Pods, which the shipped RBAC leaves commented out: against a real control plane
// it runs as a second service account that has that rule too.
const kubeconfigFor = (mode: PodMode): string =>
  (mode === 'verified' ? process.env.KDNS_REAL_K8S_KUBECONFIG_VERIFIED : undefined) ?? kubeconfig;

const args = (mode: PodMode): string[] => ['--kubernetes-ttl', String(TTL), '--kubernetes-pods', mode];

/** Asks every case over UDP and TCP; returns the responses by "qname type proto". */
async function runTable(t: Test, kdns: KdnsProcess, mode: PodMode): Promise<Map<string, Expected>> {
  const ready = await until(() => httpGet(kdns.httpPort!, '/ready'), (r) => r.status === 200, 10_000);
  t.equal(ready.value.status, 200, 'ready once synced', { stdout: kdns.stdout().slice(-3000) });
  const asker = new Asker(kdns.port);
  t.teardown(() => asker.close());
  const got = new Map<string, Expected>();
  const serials = new Set<number>();
  for (const c of casesFor(mode)) {
    const want = expected(c);
    for (const proto of ['udp', 'tcp'] as const) {
      const r = await asker.ask(c[0], c[1], proto);
      for (const s of r.serials) serials.add(s);
      got.set(`${c[0]} ${c[1]} ${proto}`, shown(r));
      t.same(shown(r), want, `${c[0]} ${c[1]} over ${proto}`);
    }
  }
  // The SOA serial is the process start time (Unix seconds), one value for the whole zone.
  t.equal(serials.size, 1, 'one SOA serial');
  const serial = [...serials][0]!;
  t.ok(Math.abs(serial - Date.now() / 1000) < 600, `serial ${serial} is the start time`);
  return got;
}

for (const mode of MODES) {
  t.test(`pods ${mode}: live and manifests`, async (t) => {
    // Two processes at a time: the machine has two cores.
    const [live, offline] = await Promise.all([
      startKdns(kdnsArgs(['--kubeconfig', kubeconfigFor(mode)], args(mode)), { t, timeoutMs: 60_000 }),
      // Offline on the node engine (one worker), live on the default (native worker threads where built):
      // equal answers also mean equal engines.
      startKdns(kdnsArgs(['--manifests', CLUSTER_DIR], [...args(mode), '--engine', 'node']), { t, timeoutMs: 60_000 }),
    ]);
    let fromLive = new Map<string, Expected>();
    let fromManifests = new Map<string, Expected>();
    await t.test(REAL_KUBECONFIG === undefined ? 'live (test API server)' : 'live (real control plane)', async (t) => {
      fromLive = await runTable(t, live, mode);
    });
    await t.test('offline (--manifests)', async (t) => {
      fromManifests = await runTable(t, offline, mode);
    });
    t.ok(fromLive.size > 0, 'live answered');
    t.same(Object.fromEntries(fromManifests), Object.fromEntries(fromLive), 'manifests answer exactly what live answers');
    await Promise.all([live.stop(), offline.stop()]);
  });
}

// Holding list responses needs the test API server; the real control plane run leaves this test out.
if (REAL_KUBECONFIG === undefined) t.test('SERVFAIL and not ready until the first lists arrive', async (t) => {
  const slow = await apiServerWith(fixtureObjects());
  t.teardown(() => slow.close());
  slow.pauseLists();
  const kdns = await startLive(slow, t, args('insecure'));
  // Namespaces, Services and EndpointSlices are listed (Pods only in verified mode).
  const held = await until(async () => slow.heldListCount, (n) => n >= 3, 5000);
  t.ok(held.ok, `kdns asked for its lists (${held.value} held)`);
  const asker = new Asker(kdns.port);
  t.teardown(() => asker.close());
  const names: Array<[string, string]> = [
    ['web.default.svc.cluster.local.', 'A'], ['nosuch.default.svc.cluster.local.', 'A'], ['nons.svc.cluster.local.', 'A'],
    ['_http._tcp.web.default.svc.cluster.local.', 'SRV'], ['db.default.svc.cluster.local.', 'A'], ['cluster.local.', 'SOA'],
    ['10-244-1-5.default.pod.cluster.local.', 'A'], ['dns-version.cluster.local.', 'TXT'],
    ['20.0.96.10.in-addr.arpa.', 'PTR'], // reverse names are not loaded yet either
  ];
  for (const [q, type] of names) {
    for (const proto of ['udp', 'tcp'] as const) {
      const r = await asker.ask(q, type, proto);
      t.equal(r.rcode, 'SERVFAIL', `${q} ${type} over ${proto} before sync`);
      t.same(r.answer, [], 'no answer before sync');
    }
  }
  t.equal((await httpGet(kdns.httpPort!, '/ready')).status, 503, '/ready 503 before sync');
  t.equal((await httpGet(kdns.httpPort!, '/health')).status, 200, '/health 200 while serving');
  // Still SERVFAIL a little later: nothing times out into NXDOMAIN.
  await new Promise((r) => setTimeout(r, 300));
  t.equal((await asker.ask('nosuch.default.svc.cluster.local.', 'A', 'udp')).rcode, 'SERVFAIL', 'still SERVFAIL while lists are held');

  slow.resumeLists();
  const ready = await until(() => httpGet(kdns.httpPort!, '/ready'), (r) => r.status === 200, 5000);
  t.ok(ready.ok, `/ready 200 after the lists (${ready.ms} ms)`);
  t.same((await asker.ask('web.default.svc.cluster.local.', 'A', 'udp')).answer, [WEB_A], 'answers after sync');
  t.same((await asker.ask('web.default.svc.cluster.local.', 'A', 'tcp')).answer, [WEB_A], 'answers after sync over tcp');
  t.equal((await asker.ask('nosuch.default.svc.cluster.local.', 'A', 'udp')).rcode, 'NXDOMAIN', 'NXDOMAIN only after sync');
  t.equal((await asker.ask('db.default.svc.cluster.local.', 'A', 'tcp')).answer.length, 3, 'headless after sync');
  t.equal((await asker.ask('20.0.96.10.in-addr.arpa.', 'PTR', 'udp')).answer.length, 1, 'PTR after sync');
});
