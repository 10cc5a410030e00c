// Packet fuzzing over the wire with fast-check: random byte strings and mutated valid queries
// (bit flips, truncation, insertion, count fields, label lengths, pointer loops) over UDP, in
// small bursts so no kernel buffer overflows, and over TCP. Every response must be a well-formed
// DNS response to the packet it answers; the server must survive and still answer correctly.
import t from 'tap';
import fc from 'fast-check';
import { startKdns, wireArgs } from '../helpers/kdns-process.js';
import { buildQuery as buildNamedQuery, check, frame, TcpClient, UdpClient } from '../wire/clients.js';
import {
  ALLOWED_RCODES, buildQuery, CLASSES, MUTATION_KINDS, mutateAll, NAMES, TYPES, type Mutation, type QuerySpec,
} from './mutate.js';

const UDP_PACKETS = Number(process.env.KDNS_FUZZ_UDP ?? 20_000);
const TCP_PACKETS = Number(process.env.KDNS_FUZZ_TCP ?? 3_000);
const SEED = Number(process.env.KDNS_FUZZ_SEED ?? 0x6b646e73);
const BURST = 50;
const TCP_BATCH = 5;
const TIME_BUDGET_MS = 40_000;

const kdns = await startKdns(wireArgs(), { t });
/** The tail of what kdns printed: shown when it died. */
const tail = (): { stdout: string; stderr: string } => ({ stdout: kdns.stdout().slice(-3000), stderr: kdns.stderr().slice(-3000) });
t.comment(`fuzz seed ${SEED} (set KDNS_FUZZ_SEED to replay)`);

// ---- arbitraries ------------------------------------------------------------------------------
const specArb: fc.Arbitrary<QuerySpec> = fc.record({
  id: fc.constant(0),
  name: fc.nat(NAMES.length - 1),
  caseMask: fc.nat(),
  type: fc.nat(TYPES.length - 1),
  cls: fc.nat(CLASSES.length - 1),
  flags: fc.oneof({ weight: 4, arbitrary: fc.constant(0x0100) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) }),
  edns: fc.option(
    fc.record({
      size: fc.constantFrom(0, 1, 511, 512, 1232, 4096, 65535),
      version: fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }),
      flags: fc.constantFrom(0, 0x8000, 0xffff),
      options: fc.oneof(
        { weight: 4, arbitrary: fc.constant(Buffer.alloc(0)) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)) },
      ),
    }),
    { freq: 2 },
  ),
});
const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom(...MUTATION_KINDS),
  a: fc.integer({ min: 0, max: 0xffff }),
  b: fc.integer({ min: 0, max: 0xffff }),
});

interface Sample {
  bytes: Buffer;
  /** Unmutated, QR=0 and at least a header: the server must answer it. */
  mustAnswer: boolean;
  /** Largest allowed UDP response for unmutated queries (512 without EDNS). */
  maxSize: number;
  what: string;
}

const packetArb: fc.Arbitrary<Sample> = fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 600 }).map((u): Sample => ({
    bytes: Buffer.from(u), mustAnswer: false, maxSize: 65535, what: 'random bytes',
  })) },
  { weight: 4, arbitrary: fc.tuple(specArb, fc.array(mutationArb, { maxLength: 4 })).map(([spec, muts]): Sample => {
    const bytes = mutateAll(buildQuery(spec), muts);
    const clean = muts.length === 0 && (spec.flags & 0x8000) === 0;
    return {
      bytes,
      mustAnswer: clean,
      maxSize: muts.length > 0 ? 65535 : spec.edns ? Math.max(512, spec.edns.size) : 512,
      what: `query ${JSON.stringify({ ...spec, edns: spec.edns && { ...spec.edns, options: spec.edns.options.toString('hex') } })} mutations ${JSON.stringify(muts)}`,
    };
  }) },
);

// ---- bookkeeping shared by UDP and TCP --------------------------------------------------------
interface Sent { sample: Sample; answered: number }
const sentById = new Map<number, Sent>();
let nextId = 1;
const stats = { udpSent: 0, udpAnswers: 0, mustAnswer: 0, mustAnswered: 0, tcpSent: 0, tcpAnswers: 0, tcpCloses: 0 };
const rcodes = new Map<number, number>();

/** Gives the packet a fresh ID (when it has room for one) and remembers what was sent under it. */
function register(sample: Sample): Buffer {
  const id = nextId;
  nextId = nextId === 0xffff ? 1 : nextId + 1;
  const b = Buffer.from(sample.bytes);
  if (b.length >= 2) b.writeUInt16BE(id, 0);
  sentById.set(id, { sample, answered: 0 });
  return b;
}

/** Checks one response; returns a problem description or null. */
function judge(res: Buffer, transport: 'udp' | 'tcp'): string | null {
  const r = check(res);
  if (!r.ok) return `${transport}: malformed response (${r.why}): ${res.toString('hex').slice(0, 200)}`;
  const sent = sentById.get(r.id);
  if (!sent) return `${transport}: response with an ID nobody asked (${r.id})`;
  sent.answered++;
  const q = sent.sample.bytes;
  rcodes.set(r.rcode, (rcodes.get(r.rcode) ?? 0) + 1);
  if (sent.answered > 1) return `${transport}: answered twice: ${sent.sample.what}`;
  if (!r.qr) return `${transport}: QR=0 in a response to ${sent.sample.what}`;
  if (!ALLOWED_RCODES.has(r.rcode)) return `${transport}: rcode ${r.rcode} for ${sent.sample.what}`;
  if (q.length >= 3 && (q[2]! & 0x80) !== 0) return `${transport}: answered a QR=1 packet: ${sent.sample.what} (${q.toString('hex')})`;
  if (transport === 'udp' && res.length > sent.sample.maxSize) return `udp: ${res.length} bytes > ${sent.sample.maxSize} for ${sent.sample.what}`;
  if (sent.sample.mustAnswer && r.opcode !== ((q[2]! >> 3) & 0xf)) return `${transport}: opcode not echoed for ${sent.sample.what}`;
  return null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const problems: string[] = [];
const unanswered: string[] = [];
const udpIds: number[] = [];
const started = Date.now();

t.test(`UDP: ~${UDP_PACKETS} fuzzed packets in bursts of ${BURST}`, async (t) => {
  const udp = new UdpClient(kdns.port);
  await udp.bind();
  let lastArrival = Date.now();
  // Every datagram lands in `stray` (no query() waiters); watch it grow for the quiet period.
  udp.sock.on('message', () => { lastArrival = Date.now(); });
  let drained = 0;
  const drain = (): string[] => {
    const out: string[] = [];
    while (drained < udp.stray.length) {
      stats.udpAnswers++;
      const p = judge(udp.stray[drained++]!, 'udp');
      if (p) out.push(p);
    }
    return out;
  };
  await fc.assert(
    fc.asyncProperty(fc.array(packetArb, { minLength: BURST - 10, maxLength: BURST + 10 }), async (burst) => {
      const sentIds: number[] = [];
      for (const s of burst) {
        const b = register(s);
        if (b.length >= 2) sentIds.push(b.readUInt16BE(0));
        await udp.send(b).catch(() => undefined); // EMSGSIZE etc. are the client's problem
        stats.udpSent++;
      }
      // Wait for quiet: 15 ms without a datagram, at most 1 s.
      const t0 = Date.now();
      lastArrival = Date.now();
      while (Date.now() - lastArrival < 15 && Date.now() - t0 < 1000) await sleep(5);
      const found = drain();
      udpIds.push(...sentIds);
      if (found.length > 0) {
        problems.push(...found.slice(0, 5));
        return false;
      }
      return kdns.alive();
    }),
    { numRuns: Math.ceil(UDP_PACKETS / BURST), seed: SEED, interruptAfterTimeLimit: TIME_BUDGET_MS * 0.6, endOnFailure: true },
  ).catch((e: Error) => {
    t.fail(`UDP fuzz: ${e.message.slice(0, e.message.indexOf('Counterexample')).trim()}`, { problems: problems.slice(0, 10) });
  });
  await sleep(300);
  const late = drain();
  t.same(late, [], 'late responses are well-formed too');
  // Counted at the end, so an answer that came after its burst's quiet period still counts.
  for (const qid of udpIds) {
    const s = sentById.get(qid)!;
    if (!s.sample.mustAnswer) continue;
    stats.mustAnswer++;
    if (s.answered > 0) stats.mustAnswered++;
    else if (unanswered.length < 20) unanswered.push(`${s.sample.what} ${s.sample.bytes.toString('hex')}`);
  }
  t.same(problems, [], 'no bad responses over UDP');
  t.ok(stats.udpSent >= Math.min(UDP_PACKETS * 0.8, 15_000), `sent ${stats.udpSent} packets`);
  t.ok(stats.mustAnswer > 0 && stats.mustAnswered / stats.mustAnswer >= 0.99,
    `clean queries answered: ${stats.mustAnswered}/${stats.mustAnswer}`, { unanswered });
  t.ok(kdns.alive(), 'kdns alive after the UDP fuzz', tail());
  const ok = check((await udp.query(buildNamedQuery('www.example.test', 'A', { id: 0 }), 2000)) ?? Buffer.alloc(0));
  t.equal(ok.rcode, 0, 'valid UDP query answered after the fuzz');
  t.same((ok.packet?.answers ?? []).map((a) => (a as { data?: unknown }).data), ['192.0.2.20'], 'with the right address');
  udp.close();
});

t.test(`TCP: ~${TCP_PACKETS} fuzzed messages, ${TCP_BATCH} per write plus a valid sentinel`, async (t) => {
  let conn = new TcpClient(kdns.port);
  await conn.connected;
  let consumed = 0;
  let sentinelsAnswered = 0;
  const tcpProblems: string[] = [];
  const reconnect = async (): Promise<void> => {
    conn.destroy();
    stats.tcpCloses++;
    conn = new TcpClient(kdns.port);
    consumed = 0;
    await conn.connected;
  };
  await fc.assert(
    fc.asyncProperty(fc.array(packetArb, { minLength: TCP_BATCH, maxLength: TCP_BATCH }), async (batch) => {
      if (conn.closed) await reconnect();
      const frames: Buffer[] = [];
      for (const s of batch) {
        const b = register(s);
        if (b.length > 65535) continue;
        frames.push(frame(b));
        stats.tcpSent++;
      }
      const sentinel = register({ bytes: buildNamedQuery('www.example.test', 'A', { id: 0 }), mustAnswer: true, maxSize: 65535, what: 'sentinel' });
      const sentinelId = sentinel.readUInt16BE(0);
      frames.push(frame(sentinel));
      await conn.write(Buffer.concat(frames)).catch(() => undefined);
      // Until the sentinel's answer arrives or the server closes the connection (allowed after junk).
      const t0 = Date.now();
      let gotSentinel = false;
      while (!gotSentinel && !conn.closed && Date.now() - t0 < 3000) {
        await conn.waitFor(consumed + 1, 3000 - (Date.now() - t0));
        while (consumed < conn.messages.length) {
          const m = conn.messages[consumed++]!;
          stats.tcpAnswers++;
          if (m.length >= 2 && m.readUInt16BE(0) === sentinelId) gotSentinel = true;
          const p = judge(m, 'tcp');
          if (p) tcpProblems.push(p);
        }
      }
      if (gotSentinel) sentinelsAnswered++;
      else if (!conn.closed) tcpProblems.push(`tcp: sentinel unanswered on an open connection after: ${batch.map((s) => s.what).join(' | ')}`);
      return tcpProblems.length === 0 && kdns.alive();
    }),
    { numRuns: Math.ceil(TCP_PACKETS / TCP_BATCH), seed: SEED + 1, interruptAfterTimeLimit: TIME_BUDGET_MS * 0.3, endOnFailure: true },
  ).catch((e: Error) => {
    t.fail(`TCP fuzz: ${e.message.slice(0, e.message.indexOf('Counterexample')).trim()}`, { problems: tcpProblems.slice(0, 10) });
  });
  conn.destroy();
  t.same(tcpProblems.slice(0, 10), [], 'no bad responses over TCP');
  t.ok(stats.tcpSent >= Math.min(TCP_PACKETS, 2000), `sent ${stats.tcpSent} messages`);
  t.ok(sentinelsAnswered > 0, `sentinels answered: ${sentinelsAnswered}, connections closed by the server: ${stats.tcpCloses}`);
  const c = new TcpClient(kdns.port);
  await c.connected;
  const ok = check((await c.query(buildNamedQuery('big.example.test', 'A', { id: 9 }))) ?? Buffer.alloc(0));
  t.equal(ok.rcode, 0, 'valid TCP query answered after the fuzz');
  t.equal(ok.packet?.answers?.length, 100, 'with the whole RRset');
  c.destroy();
});

t.test('after the fuzz', async (t) => {
  t.comment(`stats ${JSON.stringify(stats)} rcodes ${JSON.stringify(Object.fromEntries(rcodes))} in ${Date.now() - started} ms`);
  t.ok(kdns.alive(), 'process alive', tail());
  t.equal(await kdns.stop(), 0, 'clean SIGTERM exit');
});
