// The "plain dgram" reference: the DNS server most people would write in Node in an afternoon, done
// sensibly. One `dgram` socket, one 'message' event per packet, the question read into a string key,
// a Map of prebuilt answers (every name and type of the zone encoded at start, misses encoded once and
// kept), a copy with the ID and RD patched, one send per answer. The kdns node engine must beat it
// (target ≥ 1.3×): that is the value of its query slots, byte lookups and batching.
//
//   node dist/bench/baseline/dgram-map.js --port P --zone FILE [--origin cluster.local]
//
// Reads the subset of master-file syntax that bench/zones/generate.ts writes: absolute names, one
// record per line, `name ttl IN type rdata`. No EDNS: answers over 512 bytes go out as TC.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import dnsPacket from 'dns-packet';

type Rr = dnsPacket.Answer;

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    zone: { type: 'string' },
    origin: { type: 'string', default: 'cluster.local' },
  },
});
if (!values.port || !values.zone) {
  process.stderr.write('usage: node dist/bench/baseline/dgram-map.js --port P --zone FILE [--origin O]\n');
  process.exit(2);
}
const ORIGIN = values.origin!.replace(/\.$/, '').toLowerCase();
const TYPE_CODES: Record<string, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33 };
const NXDOMAIN = 3;
const REFUSED = 5;

function parseRecord(line: string): Rr | undefined {
  const f = line.trim().split(/\s+/);
  if (f.length < 5 || f[0]!.startsWith(';')) return undefined;
  const name = f[0]!.replace(/\.$/, '').toLowerCase();
  const ttl = Number(f[1]);
  const type = f[3]!.toUpperCase();
  const d = f.slice(4);
  const abs = (s: string): string => s.replace(/\.$/, '');
  switch (type) {
    case 'A': case 'AAAA': return { name, ttl, type, data: d[0]! } as Rr;
    case 'NS': case 'CNAME': case 'PTR': return { name, ttl, type, data: abs(d[0]!) } as Rr;
    case 'TXT': return { name, ttl, type: 'TXT', data: d.join(' ').replace(/^"|"$/g, '') };
    case 'SRV': return { name, ttl, type: 'SRV', data: { priority: +d[0]!, weight: +d[1]!, port: +d[2]!, target: abs(d[3]!) } };
    case 'SOA': return {
      name, ttl, type: 'SOA',
      data: { mname: abs(d[0]!), rname: abs(d[1]!), serial: +d[2]!, refresh: +d[3]!, retry: +d[4]!, expire: +d[5]!, minimum: +d[6]! },
    };
    default: return undefined;
  }
}

// name → type code → records; plus every name that exists (owners and empty non-terminals).
const rrsets = new Map<string, Map<number, Rr[]>>();
const existing = new Set<string>();
let soa: Rr | undefined;
for (const line of readFileSync(values.zone, 'utf8').split('\n')) {
  const rr = parseRecord(line);
  if (!rr) continue;
  const code = TYPE_CODES[rr.type]!;
  if (rr.type === 'SOA') soa = rr;
  let byType = rrsets.get(rr.name);
  if (!byType) rrsets.set(rr.name, (byType = new Map()));
  let list = byType.get(code);
  if (!list) byType.set(code, (list = []));
  list.push(rr);
  for (let n = rr.name; n.length >= ORIGIN.length; n = n.slice(n.indexOf('.') + 1)) {
    existing.add(n);
    if (n.indexOf('.') < 0) break;
  }
}

/** dns-packet names types by mnemonic, and any other code as UNKNOWN_<code>. */
function typeName(code: number): string {
  for (const [name, c] of Object.entries(TYPE_CODES)) if (c === code) return name;
  return 'UNKNOWN_' + code;
}

function encode(name: string, qtype: number, rcode: number, answers: Rr[], authorities: Rr[]): Buffer {
  const question = { name, type: typeName(qtype) as dnsPacket.RecordType, class: 'IN' as const };
  const aa = rcode === REFUSED ? 0 : dnsPacket.AUTHORITATIVE_ANSWER;
  const full = dnsPacket.encode({ type: 'response', id: 0, flags: aa | rcode, questions: [question], answers, authorities });
  if (full.length <= 512) return full;
  return dnsPacket.encode({ type: 'response', id: 0, flags: aa | dnsPacket.TRUNCATED_RESPONSE | rcode, questions: [question] });
}

function build(name: string, qtype: number): Buffer {
  if (name !== ORIGIN && !name.endsWith('.' + ORIGIN)) return encode(name, qtype, REFUSED, [], []);
  const hit = rrsets.get(name)?.get(qtype);
  if (hit) return encode(name, qtype, 0, hit, []);
  return encode(name, qtype, existing.has(name) ? 0 : NXDOMAIN, [], soa ? [soa] : []);
}

const answers = new Map<string, Buffer>();
for (const [name, byType] of rrsets) for (const code of byType.keys()) answers.set(name + '|' + code, build(name, code));

const sock = dgram.createSocket('udp4');

function onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
  if (msg.length < 17 || (msg[2]! & 0x80) !== 0) return;
  let off = 12;
  let name = '';
  for (;;) {
    const len = msg[off];
    if (len === undefined || len > 63 || off + 1 + len + 4 > msg.length) return;
    if (len === 0) break;
    const label = msg.toString('latin1', off + 1, off + 1 + len).toLowerCase();
    name = name.length === 0 ? label : name + '.' + label;
    off += 1 + len;
  }
  const qtype = msg.readUInt16BE(off + 1);
  const key = name + '|' + qtype;
  let answer = answers.get(key);
  if (answer === undefined) {
    answer = build(name, qtype);
    if (answers.size < 200_000) answers.set(key, answer);
  }
  const out = Buffer.allocUnsafe(answer.length);
  answer.copy(out);
  out[0] = msg[0]!;
  out[1] = msg[1]!;
  out[2] = out[2]! | (msg[2]! & 0x01);
  sock.send(out, rinfo.port, rinfo.address);
}

sock.on('message', onMessage);
sock.on('error', (err) => { process.stderr.write(`dgram-map: ${err.message}\n`); process.exit(1); });
sock.bind(Number(values.port), '127.0.0.1', () => {
  sock.setRecvBufferSize(8 << 20);
  sock.setSendBufferSize(8 << 20);
  process.stdout.write(JSON.stringify({ msg: 'serving', port: Number(values.port), answers: answers.size }) + '\n');
});
const stop = (): void => { sock.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
