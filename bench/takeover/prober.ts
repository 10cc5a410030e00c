// A 1 ms prober: one UDP query a millisecond, each with its own ID, counted answered or lost (no answer
// within the timeout). The longest run of lost probes, in probes, is the gap a client saw.
import dgram from 'node:dgram';
import { probeQuery } from '../lib/proc.js';

export interface ProbeResult {
  sent: number;
  answered: number;
  lost: number;
  /** Longest run of consecutive lost probes (≈ ms without an answer). */
  longestGap: number;
}

export class Prober {
  private readonly sock = dgram.createSocket('udp4');
  private readonly query: Buffer;
  /** Per probe: 0 waiting, 1 answered, 2 lost. */
  private readonly state: Uint8Array;
  private sent = 0;
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(private readonly port: number, name: string, private readonly max: number, private readonly timeoutMs: number) {
    this.query = probeQuery(name, 1);
    this.state = new Uint8Array(max);
    this.sock.on('message', (msg) => {
      if (msg.length < 12) return;
      const id = msg.readUInt16BE(0);
      // IDs wrap at 65536: the probe with this ID is the latest one sent, still waiting.
      for (let i = this.sent - 1; i >= 0 && i >= this.sent - 65536; i--) {
        if ((i & 0xffff) === id) {
          if (this.state[i] === 0) this.state[i] = 1;
          return;
        }
      }
    });
    this.sock.on('error', () => { /* ICMP unreachable while nothing listens: that probe is lost */ });
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.sock.bind(0, '127.0.0.1', r));
    this.running = true;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running && this.sent < this.max) {
      const i = this.sent++;
      this.query.writeUInt16BE(i & 0xffff, 0);
      this.sock.send(this.query, this.port, '127.0.0.1');
      setTimeout(() => { if (this.state[i] === 0) this.state[i] = 2; }, this.timeoutMs);
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /** Stops sending, waits out the last timeouts, and counts. */
  async stop(): Promise<ProbeResult> {
    this.running = false;
    await this.loop;
    await new Promise((r) => setTimeout(r, this.timeoutMs + 50));
    this.sock.close();
    let answered = 0;
    let run = 0;
    let longestGap = 0;
    for (let i = 0; i < this.sent; i++) {
      if (this.state[i] === 1) {
        answered++;
        run = 0;
      } else {
        run++;
        longestGap = Math.max(longestGap, run);
      }
    }
    return { sent: this.sent, answered, lost: this.sent - answered, longestGap };
  }
}
