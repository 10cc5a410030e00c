// The TCP half of the hostile-traffic campaign, run as its own process (thousands of sockets here must not
// delay the campaign's control prober): connections a client never closes, one-byte drips, a length
// prefix of 65,535 and then silence, half-closes with queries pending, pipelined garbage and connect-reset
// churn, all to one loopback port, for a bounded time. Prints one JSON summary on stdout.
//
//   node dist/bench/hostile/tcp-abuse.js --port P --seconds S --cluster-name N --forwarded-name N
//        [--idle 2500] [--drip 50] [--huge 100] [--half-closed 40] [--garbage 10] [--churn 200]
//
// Idle, drip and huge-prefix connections are opened once and held until the end, ignoring the server's
// FIN (how many the server closed, and after how long, is the finding). Half-close, garbage and churn come
// in rounds every 5 s.
import net from 'node:net';
import { parseArgs } from 'node:util';
import { check, frame } from '../../test/wire/clients.js';
import { onMessages } from './control.js';
import { query } from './corpus.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    seconds: { type: 'string', default: '60' },
    'cluster-name': { type: 'string' },
    'forwarded-name': { type: 'string' },
    idle: { type: 'string', default: '2500' },
    drip: { type: 'string', default: '50' },
    huge: { type: 'string', default: '100' },
    'half-closed': { type: 'string', default: '40' },
    garbage: { type: 'string', default: '10' },
    churn: { type: 'string', default: '200' },
  },
});
const bounded = (v: string | undefined, max: number): number => Math.max(0, Math.min(Math.floor(Number(v) || 0), max));
const PORT = Number(values.port);
const SECONDS = Math.max(1, Math.min(Number(values.seconds) || 60, 3600));
if (!PORT || !values['cluster-name'] || !values['forwarded-name']) {
  process.stderr.write('usage: tcp-abuse --port P --seconds S --cluster-name N --forwarded-name N [...]\n');
  process.exit(2);
}
const HOST = '127.0.0.1';
const END = Date.now() + SECONDS * 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What happened to a group of connections held open by the client. */
interface Held {
  wanted: number;
  opened: number;
  connectErrors: number;
  closedByServer: number;
  /** Seconds from connect to the server's close, for those it closed. */
  lifetimes: number[];
  answers: number;
}

function held(wanted: number): Held {
  return { wanted, opened: 0, connectErrors: 0, closedByServer: 0, lifetimes: [], answers: 0 };
}

const live = new Set<net.Socket>();
let ending = false;

/**
 * Connects; resolves with the socket, or null on error or after 3 s. The client is hostile: it ignores the
 * server's FIN (allowHalfOpen) and keeps its own side open, as a client holding slots would. Counts answers
 * and the server's FIN or reset in `h`.
 */
function open(h: Held): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const s = net.connect({ port: PORT, host: HOST, allowHalfOpen: true });
    const timer = setTimeout(() => { s.destroy(); h.connectErrors++; resolve(null); }, 3000);
    let t0 = 0;
    let closed = false;
    const serverClosed = (): void => {
      if (closed || ending) return;
      closed = true;
      h.closedByServer++;
      h.lifetimes.push(Number(((Date.now() - t0) / 1000).toFixed(1)));
    };
    s.on('connect', () => {
      clearTimeout(timer);
      t0 = Date.now();
      h.opened++;
      live.add(s);
      resolve(s);
    });
    onMessages(s, () => { h.answers++; });
    s.on('error', () => { /* a reset shows as close */ });
    s.on('end', serverClosed);
    s.on('close', () => {
      live.delete(s);
      if (t0 === 0) { clearTimeout(timer); h.connectErrors++; resolve(null); return; }
      serverClosed();
    });
  });
}

/** Opens `n` connections, at most 100 connecting at once. */
async function openMany(n: number, h: Held): Promise<net.Socket[]> {
  const out: net.Socket[] = [];
  for (let i = 0; i < n && Date.now() < END; i += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => open(h)));
    for (const s of batch) if (s) out.push(s);
  }
  return out;
}

// ---- held connections -----------------------------------------------------------------------------------

const idle = held(bounded(values.idle, 20_000));
const drip = held(bounded(values.drip, 1000));
const huge = held(bounded(values.huge, 1000));

/** One byte per second of a framed query, over and over, on each connection, until the end. */
async function dripLoop(socks: net.Socket[], msg: Buffer): Promise<void> {
  let i = 0;
  while (Date.now() < END) {
    const byte = msg.subarray(i % msg.length, (i % msg.length) + 1);
    for (const s of socks) if (!s.destroyed) s.write(byte);
    i++;
    await sleep(1000);
  }
}

// ---- rounds ---------------------------------------------------------------------------------------------

// Of the connections missing an answer: closedEmpty, the server closed without answering anything (e.g. over its
// connection cap); closedShort, it closed after some answers (e.g. the cluster one, not the forwarded one);
// timedOut, still open and not answered within 5 s.
const halfClosed = {
  asked: 0, answered: 0, clusterAsked: 0, clusterAnswered: 0, forwardedAsked: 0, forwardedAnswered: 0, wrong: 0, connectErrors: 0,
  closedEmpty: 0, closedShort: 0, timedOut: 0,
};
const garbage = { connections: 0, bytesSent: 0, responses: 0, badResponses: 0, closedByServer: 0, connectErrors: 0 };
const churn = { attempted: 0, connected: 0, connectErrors: 0 };

/** Writes `data` (or ends the write side after it) and collects framed messages for up to `waitMs`. */
function exchange(data: Buffer, halfClose: boolean, waitMs: number): Promise<{ messages: Buffer[]; closedByServer: boolean } | null> {
  return new Promise((resolve) => {
    const s = net.connect(PORT, HOST);
    const messages: Buffer[] = [];
    let connected = false;
    let closedByServer = false;
    const finish = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(connected ? { messages, closedByServer } : null);
    };
    const timer = setTimeout(finish, waitMs);
    s.on('connect', () => {
      connected = true;
      if (halfClose) s.end(data); else s.write(data);
    });
    onMessages(s, (m) => messages.push(m));
    s.on('error', () => { /* shows as close */ });
    s.on('end', () => { closedByServer = true; });
    s.on('close', () => { closedByServer = true; finish(); });
  });
}

function answersWith(m: Buffer, id: number): boolean {
  const c = check(m);
  return c.ok && c.qr && c.id === id && c.rcode === 0 && (c.packet?.answers?.length ?? 0) > 0;
}

async function halfCloseRound(n: number, clusterQ: Buffer, forwardedQ: Buffer): Promise<void> {
  await Promise.all(Array.from({ length: n }, async (_, i) => {
    const a = Buffer.from(clusterQ);
    const b = Buffer.from(forwardedQ);
    a.writeUInt16BE(2 * i + 1, 0);
    b.writeUInt16BE(2 * i + 2, 0);
    const r = await exchange(Buffer.concat([frame(a), frame(b)]), true, 5000);
    if (!r) { halfClosed.connectErrors++; return; }
    if (r.messages.length < 2) {
      if (!r.closedByServer) halfClosed.timedOut++;
      else if (r.messages.length === 0) halfClosed.closedEmpty++;
      else halfClosed.closedShort++;
    }
    halfClosed.asked += 2;
    halfClosed.clusterAsked++;
    halfClosed.forwardedAsked++;
    for (const m of r.messages) {
      const id = m.length >= 2 ? m.readUInt16BE(0) : -1;
      if (id === 2 * i + 1 && answersWith(m, id)) halfClosed.clusterAnswered++;
      else if (id === 2 * i + 2 && answersWith(m, id)) halfClosed.forwardedAnswered++;
      else { halfClosed.wrong++; continue; }
      halfClosed.answered++;
    }
  }));
}

function randomBytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(Math.random() * 256);
  return b;
}

/** 100 framed messages of random content, then 4 KiB of unframed junk, on each connection. */
async function garbageRound(n: number): Promise<void> {
  await Promise.all(Array.from({ length: n }, async () => {
    const parts: Buffer[] = [];
    for (let k = 0; k < 100; k++) parts.push(frame(randomBytes(Math.floor(Math.random() * 600))));
    parts.push(randomBytes(4096));
    const data = Buffer.concat(parts);
    const r = await exchange(data, false, 2000);
    if (!r) { garbage.connectErrors++; return; }
    garbage.connections++;
    garbage.bytesSent += data.length;
    garbage.responses += r.messages.length;
    for (const m of r.messages) { const c = check(m); if (!c.ok || !c.qr) garbage.badResponses++; }
    if (r.closedByServer) garbage.closedByServer++;
  }));
}

/** Connections reset (RST) as soon as they are established. */
async function churnRound(n: number): Promise<void> {
  await Promise.all(Array.from({ length: n }, () => new Promise<void>((resolve) => {
    churn.attempted++;
    const s = net.connect(PORT, HOST);
    const timer = setTimeout(() => { s.destroy(); churn.connectErrors++; resolve(); }, 3000);
    s.on('connect', () => { clearTimeout(timer); churn.connected++; s.resetAndDestroy(); resolve(); });
    s.on('error', () => { clearTimeout(timer); resolve(); });
  })));
}

async function main(): Promise<void> {
  const clusterQ = query(values['cluster-name']!, 1);
  const forwardedQ = query(values['forwarded-name']!, 1);
  const t0 = Date.now();
  let openSeconds = NaN;
  // The rounds start at once, beside the held connections being opened (which can take most of a short run).
  const holding = (async (): Promise<void> => {
    const hugeSocks = await openMany(huge.wanted, huge);
    for (const s of hugeSocks) s.write(Buffer.concat([Buffer.from([0xff, 0xff]), randomBytes(16)]));
    const dripSocks = await openMany(drip.wanted, drip);
    const dripping = dripLoop(dripSocks, frame(clusterQ));
    await openMany(idle.wanted, idle);
    openSeconds = (Date.now() - t0) / 1000;
    await dripping;
  })();
  let rounds = 0;
  while (Date.now() + 4000 < END) {
    rounds++;
    const round = Date.now();
    await Promise.all([
      halfCloseRound(bounded(values['half-closed'], 1000), clusterQ, forwardedQ),
      garbageRound(bounded(values.garbage, 200)),
      churnRound(bounded(values.churn, 5000)),
    ]);
    await sleep(Math.max(0, Math.min(5000 - (Date.now() - round), END - Date.now())));
  }
  await holding;
  const stillOpen = { idle: 0 };
  ending = true;
  stillOpen.idle = live.size;
  for (const s of live) s.destroy();
  const summarize = (h: Held): Record<string, unknown> => ({
    wanted: h.wanted, opened: h.opened, connectErrors: h.connectErrors, closedByServer: h.closedByServer, answers: h.answers,
    lifetimeSeconds: h.lifetimes.length ? { min: Math.min(...h.lifetimes), max: Math.max(...h.lifetimes) } : null,
  });
  process.stdout.write(JSON.stringify({
    seconds: Number(((Date.now() - t0) / 1000).toFixed(1)),
    openSeconds: Number(openSeconds.toFixed(1)),
    rounds,
    heldOpenAtEnd: stillOpen.idle,
    idle: summarize(idle),
    drip: summarize(drip),
    hugePrefix: summarize(huge),
    halfClosed,
    garbage,
    churn,
  }) + '\n');
}

main().catch((err) => {
  process.stderr.write(`tcp-abuse: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
