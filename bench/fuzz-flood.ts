// Flood a running kdns with random and mutated packets over loopback UDP, paced, then check that it
// still answers. Not a benchmark of speed: a soak test of the packet path's robustness.
//
//   node dist/bench/fuzz-flood.js --port 5353 [--host 127.0.0.1] [--count 1000000] [--seed N]
//        [--rate 50000] [--burst 64] [--max-seconds 600]
//
// Pacing: bursts of --burst packets, with sleeps so the average send rate stays at or below --rate
// packets per second. Every response is checked (QR=1, an ID we sent, a known rcode, well-formed);
// the summary counts what came back. Exit 0 when the server is still answering correctly and no
// bad response was seen, 1 otherwise.
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import { check, buildQuery as buildNamedQuery } from '../test/wire/clients.js';
import { ALLOWED_RCODES, prng, randomPacket } from '../test/fuzz/mutate.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    count: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: String(Date.now() & 0x7fffffff) },
    rate: { type: 'string', default: '50000' },
    burst: { type: 'string', default: '64' },
    'max-seconds': { type: 'string', default: '600' },
    'check-name': { type: 'string', default: 'www.example.test' },
  },
});
if (!values.port) {
  process.stderr.write('usage: node dist/bench/fuzz-flood.js --port P [--count N] [--seed S] [--rate PPS] [--max-seconds S]\n');
  process.exit(2);
}
const PORT = Number(values.port);
const HOST = values.host!;
const COUNT = Math.max(0, Math.min(Number(values.count), 100_000_000));
const SEED = Number(values.seed);
const RATE = Math.max(100, Number(values.rate));
const BURST = Math.max(1, Math.min(Number(values.burst), 1024));
const MAX_MS = Math.max(1, Number(values['max-seconds'])) * 1000;

const sock = dgram.createSocket('udp4');
await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
sock.setRecvBufferSize(8 * 1024 * 1024);
sock.setSendBufferSize(8 * 1024 * 1024);

const rand = prng(SEED);
// Which IDs are in flight, and whether each carried QR=1 (must not be answered).
const sentQr = new Uint8Array(65536);
const counts = { sent: 0, sendErrors: 0, responses: 0, bad: 0, answeredQr1: 0 };
const rcodes = new Map<number, number>();
const badSamples: string[] = [];
let checkAnswer: ((b: Buffer) => void) | null = null;
const CHECK_ID = 0; // fuzz IDs run 1..65535

sock.on('message', (msg) => {
  if (msg.length >= 2 && msg.readUInt16BE(0) === CHECK_ID && checkAnswer) {
    checkAnswer(msg);
    return;
  }
  counts.responses++;
  const r = check(msg);
  if (!r.ok || !r.qr || !ALLOWED_RCODES.has(r.rcode)) {
    counts.bad++;
    if (badSamples.length < 10) badSamples.push(`${r.ok ? `qr=${r.qr} rcode=${r.rcode}` : r.why}: ${msg.toString('hex').slice(0, 160)}`);
    return;
  }
  rcodes.set(r.rcode, (rcodes.get(r.rcode) ?? 0) + 1);
  if (sentQr[r.id] === 1) counts.answeredQr1++;
});

function send(b: Buffer): Promise<void> {
  return new Promise((resolve) => sock.send(b, PORT, HOST, (e) => {
    if (e) counts.sendErrors++;
    resolve();
  }));
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function probe(): Promise<{ ok: boolean; detail: string }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const q = buildNamedQuery(values['check-name']!, 'A', { id: CHECK_ID });
    const res = await new Promise<Buffer | null>((resolve) => {
      const timer = setTimeout(() => { checkAnswer = null; resolve(null); }, 2000);
      checkAnswer = (b) => { clearTimeout(timer); checkAnswer = null; resolve(b); };
      void send(q);
    });
    if (res) {
      const r = check(res);
      return { ok: r.ok && r.rcode === 0 && (r.packet?.answers?.length ?? 0) > 0, detail: `rcode ${r.rcode}, ${r.packet?.answers?.length ?? 0} answers` };
    }
  }
  return { ok: false, detail: 'no answer to 3 attempts' };
}

const before = await probe();
if (!before.ok) {
  process.stderr.write(`kdns at ${HOST}:${PORT} does not answer ${values['check-name']} A before the flood (${before.detail})\n`);
  process.exit(1);
}

const t0 = Date.now();
let id = 1;
let lastReport = t0;
while (counts.sent < COUNT && Date.now() - t0 < MAX_MS) {
  const n = Math.min(BURST, COUNT - counts.sent);
  const pending: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const p = randomPacket(rand, id);
    if (p.length >= 2) p.writeUInt16BE(id, 0);
    sentQr[id] = p.length >= 3 && (p[2]! & 0x80) !== 0 ? 1 : 0;
    id = id === 0xffff ? 1 : id + 1;
    pending.push(send(p));
    counts.sent++;
  }
  await Promise.all(pending);
  // Pace: never get ahead of RATE packets per second.
  const ahead = (counts.sent / RATE) * 1000 - (Date.now() - t0);
  if (ahead > 1) await sleep(ahead);
  else await new Promise<void>((r) => setImmediate(r));
  if (Date.now() - lastReport > 5000) {
    lastReport = Date.now();
    process.stderr.write(`.. ${counts.sent} sent, ${counts.responses} responses, ${counts.bad} bad\n`);
  }
}
const elapsed = (Date.now() - t0) / 1000;
await sleep(500); // let the last answers arrive
const after = await probe();
sock.close();

const summary = {
  target: `${HOST}:${PORT}`,
  seed: SEED,
  sent: counts.sent,
  seconds: Number(elapsed.toFixed(1)),
  sendRate: Math.round(counts.sent / elapsed),
  responses: counts.responses,
  responseRatio: Number((counts.responses / Math.max(1, counts.sent)).toFixed(3)),
  rcodes: Object.fromEntries(rcodes),
  badResponses: counts.bad,
  answeredQr1: counts.answeredQr1,
  sendErrors: counts.sendErrors,
  stillAnswers: after.ok,
  finalCheck: after.detail,
  badSamples,
};
process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
process.exit(after.ok && counts.bad === 0 && counts.answeredQr1 === 0 ? 0 : 1);
