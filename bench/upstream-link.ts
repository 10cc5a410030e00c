// The client side of a forwarded exchange, without DNS: what one UDP query to an upstream and its answer cost
// the forwarding thread in CPU, through the addon's upstream link (native/upstream.c: a connected socket per
// query in one epoll set, answers in batches) against Node's dgram (a socket per query, as src/forward did).
// The echo upstream runs in a child process, so only the client's CPU is counted (process.cpuUsage).
// Run: `node dist/bench/upstream-link.js [--exchanges 20000] [--window 64] [--reps 3]`; the two are
// interleaved per repetition, and the line to quote is the ratio of the medians measured in the same run.

import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { loadNative, nativeUnavailableReason, UP_HEADER, UP_STRIDE, type NativeBinding } from '../src/engine/native-binding.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number): number => Number(args[args.indexOf(name) + 1] ?? 0) || fallback;
const EXCHANGES = Math.min(arg('--exchanges', 20_000), 1_000_000);
const WINDOW = Math.min(arg('--window', 64), 1024);
const REPS = Math.min(arg('--reps', 3), 20);
const RUN_TIMEOUT_MS = 60_000;
const ADDR = Buffer.from([127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const QUERY = Buffer.alloc(40, 1); // a typical query's size

const ECHO = `const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(0, '127.0.0.1', () => console.log(s.address().port));`;

/** Keeps WINDOW exchanges in flight through the link until EXCHANGES have come back. */
function viaLink(b: NativeBinding, port: number): Promise<void> {
  return new Promise((resolve) => {
    const batch = WINDOW;
    let sent = 0;
    let done = 0;
    const link = b.upstreamCreate(Buffer.alloc(batch * 512), new Int32Array(UP_HEADER + batch * UP_STRIDE), batch, (n) => {
      done += n;
      for (let i = 0; i < n && sent < EXCHANGES; i++) b.upstreamSend(link, sent++, 4, port, ADDR, QUERY, QUERY.length);
      if (done >= EXCHANGES) {
        b.upstreamStop(link);
        resolve();
      }
    });
    while (sent < WINDOW) b.upstreamSend(link, sent++, 4, port, ADDR, QUERY, QUERY.length);
  });
}

/** The same with a connected dgram socket per exchange. */
function viaDgram(port: number): Promise<void> {
  return new Promise((resolve) => {
    let sent = 0;
    let done = 0;
    const one = (): void => {
      const s = dgram.createSocket('udp4');
      s.once('message', () => {
        s.close();
        done++;
        if (sent < EXCHANGES) {
          sent++;
          one();
        } else if (done === EXCHANGES) {
          resolve();
        }
      });
      s.connect(port, '127.0.0.1', () => s.send(QUERY));
    };
    for (; sent < WINDOW; sent++) one();
  });
}

/** CPU µs of this process per exchange for one run (bounded by RUN_TIMEOUT_MS). */
async function measure(run: () => Promise<void>): Promise<number> {
  const before = process.cpuUsage();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('run timed out (lost datagrams?)')), RUN_TIMEOUT_MS); });
  try {
    await Promise.race([run(), timeout]);
  } finally {
    clearTimeout(timer);
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / EXCHANGES;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const b = loadNative();
  if (b === null) throw new Error(`native addon unavailable: ${nativeUnavailableReason()}`);
  const echo = spawn(process.execPath, ['-e', ECHO], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = (await once(echo.stdout, 'data')) as [Buffer];
    const port = Number(line.toString().trim());
    const link: number[] = [];
    const node: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      link.push(await measure(() => viaLink(b, port)));
      node.push(await measure(() => viaDgram(port)));
      console.log(`rep ${rep + 1}: link ${link.at(-1)!.toFixed(1)} µs CPU/exchange, dgram ${node.at(-1)!.toFixed(1)}`);
    }
    console.log(`${EXCHANGES} exchanges, ${WINDOW} in flight: link ${median(link).toFixed(1)} µs, dgram ${median(node).toFixed(1)} µs ` +
      `(dgram / link = ${(median(node) / median(link)).toFixed(2)}x)`);
  } finally {
    echo.kill();
  }
}

await main();
