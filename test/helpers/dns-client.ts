// A small DNS query client for tests: sends one wire-format query over UDP or TCP to 127.0.0.1 and
// returns the raw answer bytes. Bounded: every attempt has a timeout and the number of attempts is
// capped, so a silent server fails the test instead of hanging it.
import dgram from 'node:dgram';
import net from 'node:net';

export interface QueryOptions {
  tcp?: boolean;
  timeoutMs?: number;
  /** Attempts in total (UDP only; a TCP connection that fails is retried the same way). Default 3. */
  attempts?: number;
  host?: string;
}

export class QueryTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryTimeoutError';
  }
}

/** Sends `packet` (a complete DNS message) and resolves with the answer carrying the same ID. */
export async function query(port: number, packet: Buffer, opts: QueryOptions = {}): Promise<Buffer> {
  const attempts = Math.max(1, opts.attempts ?? 3);
  const timeoutMs = opts.timeoutMs ?? 2000;
  const host = opts.host ?? '127.0.0.1';
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return opts.tcp
        ? await queryTcpOnce(host, port, packet, timeoutMs)
        : await queryUdpOnce(host, port, packet, timeoutMs);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

function queryUdpOnce(host: string, port: number, packet: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const id = packet.readUInt16BE(0);
    let done = false;
    const finish = (err: Error | null, msg?: Buffer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(msg as Buffer);
    };
    const timer = setTimeout(
      () => finish(new QueryTimeoutError(`UDP query to ${host}:${port} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    sock.on('error', (err) => finish(err));
    sock.on('message', (msg) => {
      // Ignore stray datagrams: only an answer with our ID ends the attempt.
      if (msg.length >= 2 && msg.readUInt16BE(0) === id) finish(null, msg);
    });
    sock.send(packet, port, host, (err) => {
      if (err) finish(err);
    });
  });
}

function queryTcpOnce(host: string, port: number, packet: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection({ host, port });
    let done = false;
    let chunks: Buffer[] = [];
    let have = 0;
    const finish = (err: Error | null, msg?: Buffer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(msg as Buffer);
    };
    const timer = setTimeout(
      () => finish(new QueryTimeoutError(`TCP query to ${host}:${port} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    sock.on('error', (err) => finish(err));
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(packet.length, 0);
      sock.write(Buffer.concat([len, packet]));
    });
    sock.on('data', (data: Buffer) => {
      chunks.push(data);
      have += data.length;
      if (have < 2) return;
      const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      chunks = [all];
      const need = all.readUInt16BE(0);
      if (all.length >= need + 2) finish(null, Buffer.from(all.subarray(2, 2 + need)));
    });
    sock.on('end', () => finish(new Error(`TCP connection to ${host}:${port} closed before a full answer`)));
  });
}
