// The observation ring the native engine fills for the queries it answers in C (native/observe.h: the
// constants here must match it). A Buffer of a uint32 header and fixed records; this thread's C code
// appends while there is room, JavaScript drains it on a timer and resets the count. Same thread, so the
// two never run at once.

export const OBS_HEADER = 32;
export const OBS_COUNT = 0;
export const OBS_EVERY = 1;
export const OBS_LOST = 3;
export const OBS_STRIDE = 280;
export const OBS_R_WEIGHT = 0;
export const OBS_R_FAMILY = 4;
export const OBS_R_RCODE = 5;
export const OBS_R_NAMELEN = 6;
export const OBS_R_ADDR = 8;
export const OBS_R_NAME = 24;

/** One drained record: the wire name sits in `buf` at `nameOffset`. */
export interface Sample {
  buf: Buffer;
  nameOffset: number;
  family: number;
  addrOffset: number;
  rcode: number;
  weight: number;
}

export class ObservationRing {
  readonly buf: Buffer;
  private readonly header: Uint32Array;
  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
    // allocUnsafeSlow: its own 8-byte aligned memory, not a slice of Node's pool (C reads uint32s).
    this.buf = Buffer.allocUnsafeSlow(OBS_HEADER + capacity * OBS_STRIDE);
    this.buf.fill(0, 0, OBS_HEADER);
    this.header = new Uint32Array(this.buf.buffer, this.buf.byteOffset, OBS_HEADER / 4);
  }

  get every(): number {
    return this.header[OBS_EVERY]! || 1;
  }

  set every(n: number) {
    this.header[OBS_EVERY] = n;
  }

  /**
   * Hands every record to `sink` (the Sample object is reused) and empties the ring. Returns the weight the
   * ring saw: what was recorded plus what found it full.
   */
  drain(sink: (s: Sample) => void): number {
    const h = this.header;
    const n = Math.min(h[OBS_COUNT]!, this.capacity);
    const lost = h[OBS_LOST]!;
    const s: Sample = { buf: this.buf, nameOffset: 0, family: 4, addrOffset: 0, rcode: 0, weight: 0 };
    let seen = lost;
    for (let i = 0; i < n; i++) {
      const at = OBS_HEADER + i * OBS_STRIDE;
      s.weight = this.buf.readUInt32LE(at + OBS_R_WEIGHT);
      s.family = this.buf[at + OBS_R_FAMILY]!;
      s.rcode = this.buf[at + OBS_R_RCODE]!;
      s.addrOffset = at + OBS_R_ADDR;
      s.nameOffset = at + OBS_R_NAME;
      seen += s.weight;
      sink(s);
    }
    h[OBS_COUNT] = 0;
    h[OBS_LOST] = 0;
    return seen;
  }
}
