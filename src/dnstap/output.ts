// The consumer side, on the main thread: every DRAIN_MS it empties each data-plane thread's ring, encodes
// the records as dnstap messages (protobufjs), frames them and hands them to the sink in one write.
// Frames are dropped, and counted, while the sink is not ready or holds more than `backlogLimit` bytes:
// a stuck collector costs the log, never memory or the packet path.

import type { Logger } from 'pino';
import { RingConsumer, type RingRecord } from './ring.js';
import { DnstapEncoder, type DnstapIdentity } from './schema.js';
import type { FrameSink } from './sinks.js';

const DRAIN_MS = 20;

export class DnstapOutput {
  private readonly rings: RingConsumer[];
  private readonly sink: FrameSink;
  private readonly encoder: DnstapEncoder;
  private readonly backlogLimit: number;
  private readonly timer: NodeJS.Timeout;
  private readonly log: Logger;
  private readonly batch: Uint8Array[] = [];
  private batchBytes = 0;
  private accepting = false;
  /** Frames handed to the sink. */
  written = 0;
  /** Frames dropped here (sink not ready or backed up); the rings count their own. */
  private droppedHere = 0;
  private readonly collect: (r: RingRecord) => void;

  constructor(rings: SharedArrayBuffer[], sink: FrameSink, who: DnstapIdentity, backlogLimit: number, log: Logger) {
    this.rings = rings.map((sab) => new RingConsumer(sab));
    this.sink = sink;
    this.encoder = new DnstapEncoder(who);
    this.backlogLimit = backlogLimit;
    this.log = log;
    this.collect = (r) => this.take(r);
    this.timer = setInterval(() => this.drain(), DRAIN_MS).unref();
  }

  /** Every frame dropped so far: in the rings (full) and here (sink not ready or backed up). */
  get dropped(): number {
    let n = this.droppedHere;
    for (const ring of this.rings) n += ring.dropped;
    return n;
  }

  /** Moves everything the rings hold now to the sink (or to the drop count). */
  drain(): void {
    this.accepting = this.sink.ready && this.sink.backlog <= this.backlogLimit;
    try {
      for (const ring of this.rings) ring.drain(this.collect);
    } catch (err) {
      this.log.error({ err }, 'dnstap: encoding failed');
    }
    if (this.batch.length > 0) this.flush();
  }

  private take(r: RingRecord): void {
    if (!this.accepting) {
      this.droppedHere++;
      return;
    }
    const payload = this.encoder.encode(r);
    this.batch.push(payload);
    this.batchBytes += 4 + payload.length;
  }

  private flush(): void {
    const out = Buffer.allocUnsafe(this.batchBytes);
    let at = 0;
    for (const payload of this.batch) {
      out.writeUInt32BE(payload.length, at);
      out.set(payload, at + 4);
      at += 4 + payload.length;
    }
    this.sink.write(out);
    this.written += this.batch.length;
    this.batch.length = 0;
    this.batchBytes = 0;
  }

  /** After the data plane stopped: the last records, then STOP (and FINISH on a socket). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.drain();
    await this.sink.close();
  }
}
