// The campaign's control queries: real names with known answers, asked over UDP and over a fresh TCP
// connection (as a resolver falling back after TC would), once a second each while the attack runs.
// Each one is right (NOERROR, exactly the expected address), wrong, or a timeout.
import dgram from 'node:dgram';
import net from 'node:net';
import { check, frame } from '../../test/wire/clients.js';
import { query } from './corpus.js';

/** Calls `onMessage` with each DNS message of a TCP stream (2-byte length prefix each). */
export function onMessages(s: net.Socket, onMessage: (m: Buffer) => void): void {
  let stream = Buffer.alloc(0);
  s.on('data', (d: Buffer) => {
    stream = Buffer.concat([stream, d]);
    while (stream.length >= 2 && stream.length >= 2 + stream.readUInt16BE(0)) {
      onMessage(stream.subarray(2, 2 + stream.readUInt16BE(0)));
      stream = stream.subarray(2 + stream.readUInt16BE(0));
    }
  });
}

export interface ControlTarget {
  label: string; // e.g. "cluster" or "forwarded"
  name: string;
  address: string; // the A record it must answer
}

export interface ControlStats {
  label: string;
  transport: 'udp' | 'tcp';
  asked: number;
  right: number;
  wrong: number;
  timeouts: number;
  latenciesMs: number[];
  wrongSamples: string[];
  /** Seconds since the campaign started, of each timeout (to line them up with the phases). */
  timeoutAt: number[];
}

const TIMEOUT_MS = 2000;

function verdict(msg: Buffer, id: number, address: string): string | null {
  const c = check(msg);
  if (!c.ok) return `malformed: ${c.why}`;
  if (!c.qr || c.id !== id) return `qr=${c.qr} id=${c.id}, expected ${id}`;
  if (c.rcode !== 0) return `rcode ${c.rcode}`;
  if (c.tc) return 'TC set';
  const a = (c.packet?.answers ?? []).flatMap((r) => (r.type === 'A' ? [String(r.data)] : []));
  if (a.length !== 1 || a[0] !== address) return `A ${JSON.stringify(a)}, expected ${address}`;
  return null;
}

function udpAsk(sock: dgram.Socket, port: number, q: Buffer, id: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const onMessage = (m: Buffer): void => {
      if (m.length < 2 || m.readUInt16BE(0) !== id) return;
      clearTimeout(timer);
      sock.off('message', onMessage);
      resolve(m);
    };
    const timer = setTimeout(() => { sock.off('message', onMessage); resolve(null); }, TIMEOUT_MS);
    sock.on('message', onMessage);
    sock.send(q, port, '127.0.0.1');
  });
}

function tcpAsk(port: number, q: Buffer): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const done = (m: Buffer | null): void => { clearTimeout(timer); s.destroy(); resolve(m); };
    const timer = setTimeout(() => done(null), TIMEOUT_MS);
    s.on('connect', () => s.write(frame(q)));
    onMessages(s, done);
    s.on('error', () => { /* the close resolves */ });
    s.on('close', () => done(null));
  });
}

/** Asks every target over UDP and TCP once a second until stop() is called. */
export class ControlProber {
  readonly stats: ControlStats[] = [];
  private readonly sock = dgram.createSocket('udp4');
  private readonly t0 = Date.now();
  private nextId = 1;
  private running = true;
  private loop: Promise<void> | null = null;

  constructor(private readonly port: number, private readonly targets: ControlTarget[]) {
    for (const t of targets) {
      for (const transport of ['udp', 'tcp'] as const) {
        this.stats.push({ label: t.label, transport, asked: 0, right: 0, wrong: 0, timeouts: 0, latenciesMs: [], wrongSamples: [], timeoutAt: [] });
      }
    }
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.sock.bind(0, '127.0.0.1', r));
    this.sock.on('error', () => { /* an ICMP error: the query times out */ });
    this.loop = this.run();
  }

  private async ask(t: ControlTarget, s: ControlStats): Promise<void> {
    const id = this.nextId;
    this.nextId = this.nextId === 0xffff ? 1 : this.nextId + 1;
    const q = query(t.name, 1);
    q.writeUInt16BE(id, 0);
    const t1 = performance.now();
    s.asked++;
    const m = s.transport === 'udp' ? await udpAsk(this.sock, this.port, q, id) : await tcpAsk(this.port, q);
    if (!m) {
      s.timeouts++;
      s.timeoutAt.push(Math.round((Date.now() - this.t0) / 1000));
      return;
    }
    s.latenciesMs.push(performance.now() - t1);
    const bad = verdict(m, id, t.address);
    if (bad === null) s.right++;
    else {
      s.wrong++;
      if (s.wrongSamples.length < 5) s.wrongSamples.push(bad);
    }
  }

  /** A round every second, not waiting for the last one: a timed-out query does not delay the next. */
  private async run(): Promise<void> {
    const pending = new Set<Promise<void>>();
    while (this.running) {
      for (const s of this.stats) {
        const p = this.ask(this.targets.find((t) => t.label === s.label)!, s);
        pending.add(p);
        void p.finally(() => pending.delete(p));
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    await Promise.all(pending);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.sock.close();
  }
}
