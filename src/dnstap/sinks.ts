// Where frames go: a file (START ... STOP) or a Frame Streams reader on a unix socket (READY/ACCEPT/START
// ... STOP/FINISH), reconnecting when the reader goes away. A sink says how many bytes it has not yet
// handed to the kernel (`backlog`), so the output can drop instead of queueing without bound.

import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import net from 'node:net';
import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import {
  CONTROL_ACCEPT, CONTROL_FINISH, CONTROL_READY, CONTROL_START, CONTROL_STOP, DNSTAP_CONTENT_TYPE, FrameReader, controlFrame,
} from './frame-streams.js';

export interface FrameSink {
  /** True when data frames can be written now (a socket sink between START and STOP). */
  readonly ready: boolean;
  /** Bytes written but not yet taken by the kernel. */
  readonly backlog: number;
  write(frames: Buffer): void;
  /** Ends the stream properly (STOP; on a socket, waits for FINISH a short while). */
  close(): Promise<void>;
}

const RECONNECT_MS = 1000;
const FINISH_WAIT_MS = 2000;

/** `unix:PATH` or a file path; the file is created (truncated) now, so a bad path fails the start. */
export function openSink(target: string, log: Logger): FrameSink {
  if (target.startsWith('unix:')) return new UnixSink(target.slice(5), log);
  return new FileSink(target);
}

class FileSink implements FrameSink {
  readonly ready = true;
  private readonly stream: WriteStream;

  constructor(path: string) {
    let fd: number;
    try {
      fd = openSync(path, 'w');
    } catch (err) {
      throw new ConfigError(null, null, `--dnstap: cannot write ${path}: ${(err as Error).message}`);
    }
    this.stream = createWriteStream('', { fd });
    this.stream.write(controlFrame(CONTROL_START, [DNSTAP_CONTENT_TYPE]));
  }

  get backlog(): number {
    return this.stream.writableLength;
  }

  write(frames: Buffer): void {
    this.stream.write(frames);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.stream.end(controlFrame(CONTROL_STOP), () => resolve());
    });
  }
}

/** kdns is the Frame Streams writer; the collector (e.g. `dnstap -u PATH`, fstrm_capture) listens. */
class UnixSink implements FrameSink {
  private socket: net.Socket | null = null;
  private started = false;
  private closing = false;
  private retry: NodeJS.Timeout | null = null;
  private finished: (() => void) | null = null;
  private readonly path: string;
  private readonly log: Logger;

  constructor(path: string, log: Logger) {
    this.path = path;
    this.log = log;
    this.connect();
  }

  get ready(): boolean {
    return this.started;
  }

  get backlog(): number {
    return this.socket?.writableLength ?? 0;
  }

  private connect(): void {
    this.retry = null;
    const socket = net.createConnection(this.path);
    this.socket = socket;
    const reader = new FrameReader();
    socket.on('connect', () => socket.write(controlFrame(CONTROL_READY, [DNSTAP_CONTENT_TYPE])));
    socket.on('data', (bytes: Buffer) => {
      try {
        for (const frame of reader.push(bytes)) {
          if (frame.kind !== 'control') throw new Error('data frame from the reader');
          if (frame.type === CONTROL_ACCEPT && !this.started) {
            if (!frame.contentTypes.includes(DNSTAP_CONTENT_TYPE) && frame.contentTypes.length > 0) throw new Error('reader does not accept dnstap');
            socket.write(controlFrame(CONTROL_START, [DNSTAP_CONTENT_TYPE]));
            this.started = true;
            this.log.info({ path: this.path }, 'dnstap: connected');
          } else if (frame.type === CONTROL_FINISH) {
            this.finished?.();
          }
        }
      } catch (err) {
        this.log.warn({ path: this.path, err }, 'dnstap: reader broke the protocol');
        socket.destroy();
      }
    });
    socket.on('error', (err) => this.log.debug({ path: this.path, err }, 'dnstap: socket error'));
    socket.on('close', () => {
      if (this.socket === socket) {
        if (this.started) this.log.warn({ path: this.path }, 'dnstap: reader went away; frames are dropped until it is back');
        this.started = false;
        this.socket = null;
      }
      this.finished?.();
      if (!this.closing) this.retry = setTimeout(() => this.connect(), RECONNECT_MS).unref();
    });
  }

  write(frames: Buffer): void {
    if (this.started) this.socket?.write(frames);
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.retry !== null) clearTimeout(this.retry);
    const socket = this.socket;
    if (socket === null) return;
    if (this.started) {
      const finished = new Promise<void>((resolve) => {
        this.finished = resolve;
        setTimeout(resolve, FINISH_WAIT_MS).unref();
      });
      socket.write(controlFrame(CONTROL_STOP));
      await finished;
    }
    socket.destroy();
  }
}
