// A Frame Streams reader on a unix socket, as a dnstap collector is (fstrm_capture, `dnstap -u`): it
// answers READY with ACCEPT and STOP with FINISH, keeps the data frames, and can write them out as a
// dnstap file for dnstap-read, which reads files only. `stall` stops reading after the handshake, as a
// collector that cannot keep up does.
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import {
  CONTROL_ACCEPT, CONTROL_FINISH, CONTROL_READY, CONTROL_START, CONTROL_STOP, DNSTAP_CONTENT_TYPE, FrameReader, controlFrame,
  type Frame,
} from '../../src/dnstap/frame-streams.js';

export interface FstrmReceiver {
  /** Control frames in the order they came (type and content types). */
  readonly controls: Array<{ type: number; contentTypes: string[] }>;
  readonly payloads: Buffer[];
  /** Resolves once START has arrived (the writer is sending data). */
  started: Promise<void>;
  /** Resolves once STOP has arrived and FINISH was sent. */
  finished: Promise<void>;
  /** The frames as a dnstap file: START, the data frames, STOP. */
  writeFile(path: string): void;
  close(): Promise<void>;
}

export async function startFstrmReceiver(path: string, opts: { stall?: boolean } = {}): Promise<FstrmReceiver> {
  const controls: Array<{ type: number; contentTypes: string[] }> = [];
  const payloads: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  let onStart: () => void = () => {};
  let onFinish: () => void = () => {};
  const started = new Promise<void>((resolve) => { onStart = resolve; });
  const finished = new Promise<void>((resolve) => { onFinish = resolve; });
  const handle = (socket: net.Socket, frame: Frame): void => {
    if (frame.kind === 'data') {
      payloads.push(Buffer.from(frame.payload));
      return;
    }
    controls.push({ type: frame.type, contentTypes: frame.contentTypes });
    if (frame.type === CONTROL_READY) socket.write(controlFrame(CONTROL_ACCEPT, [DNSTAP_CONTENT_TYPE]));
    if (frame.type === CONTROL_START) {
      onStart();
      if (opts.stall === true) socket.pause();
    }
    if (frame.type === CONTROL_STOP) {
      socket.write(controlFrame(CONTROL_FINISH));
      onFinish();
    }
  };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const reader = new FrameReader();
    socket.on('data', (bytes: Buffer) => {
      for (const frame of reader.push(bytes)) handle(socket, frame);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return {
    controls, payloads, started, finished,
    writeFile(file: string): void {
      const frames = payloads.map((p) => {
        const length = Buffer.alloc(4);
        length.writeUInt32BE(p.length);
        return Buffer.concat([length, p]);
      });
      writeFileSync(file, Buffer.concat([controlFrame(CONTROL_START, [DNSTAP_CONTENT_TYPE]), ...frames, controlFrame(CONTROL_STOP)]));
    },
    close(): Promise<void> {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
