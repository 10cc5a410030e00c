// JSON lines over the claim socket: the holder's identity, the takeover request and the replies. Small
// messages, one conversation per connection, each side waiting for the next line with a deadline.

import type net from 'node:net';

/** The longest line either side accepts: every message of the conversation is far shorter. */
const MAX_LINE = 4096;

export class JsonLines {
  private buffered = '';
  private waiting: ((line: unknown) => void) | null = null;
  private ended = false;
  private readonly queue: unknown[] = [];

  constructor(private readonly conn: net.Socket) {
    conn.setEncoding('utf8');
    conn.on('data', (chunk: string) => this.take(chunk));
    conn.on('end', () => this.finish());
    conn.on('close', () => this.finish());
    conn.on('error', () => this.finish());
  }

  /** The next line as parsed JSON; null when the peer ends, sends something else, or says nothing in time. */
  next(timeoutMs: number): Promise<unknown> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        resolve(null);
      }, timeoutMs);
      this.waiting = (line) => {
        clearTimeout(timer);
        this.waiting = null;
        resolve(line);
      };
    });
  }

  send(message: object): void {
    if (!this.conn.destroyed) this.conn.write(JSON.stringify(message) + '\n');
  }

  private take(chunk: string): void {
    this.buffered += chunk;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      this.deliver(parse(line));
    }
    if (this.buffered.length > MAX_LINE) {
      this.conn.destroy();
      this.finish();
    }
  }

  private deliver(line: unknown): void {
    if (this.waiting !== null) this.waiting(line);
    else this.queue.push(line);
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.waiting?.(null);
  }
}

function parse(line: string): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return null;
  }
}

/** `value` as a record of unknown fields, or null. */
export function record(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : null;
}
