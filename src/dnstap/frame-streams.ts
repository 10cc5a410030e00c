// Frame Streams (farsightsec/fstrm's protocol), the container dnstap travels in. A data frame is a
// 32-bit big-endian length and that many bytes; a control frame is an escape (length 0), its own length,
// a control type and fields (only CONTENT_TYPE here). A file is START, data frames, STOP; a socket adds a
// handshake: writer READY → reader ACCEPT → writer START ... writer STOP → reader FINISH.

export const CONTROL_ACCEPT = 0x01;
export const CONTROL_START = 0x02;
export const CONTROL_STOP = 0x03;
export const CONTROL_READY = 0x04;
export const CONTROL_FINISH = 0x05;
const FIELD_CONTENT_TYPE = 0x01;
/** A control frame longer than this is not one we or any writer would send (fstrm caps it at 512). */
const MAX_CONTROL = 512;

export const DNSTAP_CONTENT_TYPE = 'protobuf:dnstap.Dnstap';

/** A control frame with the escape in front; content types only on the frames that carry them. */
export function controlFrame(type: number, contentTypes: readonly string[] = []): Buffer {
  const fields = contentTypes.map((t) => Buffer.from(t, 'ascii'));
  const bodyLength = 4 + fields.reduce((n, f) => n + 8 + f.length, 0);
  const out = Buffer.alloc(8 + bodyLength);
  out.writeUInt32BE(0, 0);
  out.writeUInt32BE(bodyLength, 4);
  out.writeUInt32BE(type, 8);
  let at = 12;
  for (const f of fields) {
    out.writeUInt32BE(FIELD_CONTENT_TYPE, at);
    out.writeUInt32BE(f.length, at + 4);
    f.copy(out, at + 8);
    at += 8 + f.length;
  }
  return out;
}

export type Frame =
  | { kind: 'control'; type: number; contentTypes: string[] }
  | { kind: 'data'; payload: Buffer };

/**
 * Incremental reader for either direction of a stream: `push` bytes as they arrive, get the frames that
 * are complete. Malformed control frames throw (a peer that is not speaking Frame Streams).
 */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  push(bytes: Buffer): Frame[] {
    this.pending = this.pending.length === 0 ? bytes : Buffer.concat([this.pending, bytes]);
    const frames: Frame[] = [];
    for (;;) {
      const frame = this.next();
      if (frame === null) return frames;
      frames.push(frame);
    }
  }

  private next(): Frame | null {
    const p = this.pending;
    if (p.length < 4) return null;
    const length = p.readUInt32BE(0);
    if (length > 0) {
      if (p.length < 4 + length) return null;
      this.pending = p.subarray(4 + length);
      return { kind: 'data', payload: p.subarray(4, 4 + length) };
    }
    if (p.length < 8) return null;
    const controlLength = p.readUInt32BE(4);
    if (controlLength < 4 || controlLength > MAX_CONTROL) throw new Error(`frame streams: control frame of ${controlLength} bytes`);
    if (p.length < 8 + controlLength) return null;
    this.pending = p.subarray(8 + controlLength);
    return parseControl(p.subarray(8, 8 + controlLength));
  }
}

function parseControl(body: Buffer): Frame {
  const type = body.readUInt32BE(0);
  const contentTypes: string[] = [];
  let at = 4;
  while (at + 8 <= body.length) {
    const field = body.readUInt32BE(at);
    const length = body.readUInt32BE(at + 4);
    if (at + 8 + length > body.length) throw new Error('frame streams: control field runs past its frame');
    if (field === FIELD_CONTENT_TYPE) contentTypes.push(body.toString('ascii', at + 8, at + 8 + length));
    at += 8 + length;
  }
  if (at !== body.length) throw new Error('frame streams: trailing bytes in a control frame');
  return { kind: 'control', type, contentTypes };
}

