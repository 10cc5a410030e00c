// One data-plane thread's dnstap records on their way to the writer: a single-producer single-consumer
// ring in a SharedArrayBuffer. The thread answering queries writes a record (a few header fields and the
// message bytes) and moves `head`; the main thread reads from `tail` on a timer. Nothing blocks: when the
// ring is full the record is dropped and counted, so a slow writer never slows the packet path.
// The native engine's C batch loop is a second writer on the same thread (native/observe.c tap_put, the
// same layout): the two never run at once, and both take the position from the header, never a copy.
// Positions are byte offsets into the data area; the writer keeps 4 bytes free so head never reaches tail
// from behind. A record that does not fit before the end leaves a zero length there ("go to the start").

const HEAD = 0;
const TAIL = 1;
const DROPPED = 2;
/** Exchanges since the last sampled one, shared with C on the same thread (so one in N is exact across both). */
const SEEN = 3;
/** Int32 slots before the data (one cache line). */
const HEADER_BYTES = 64;

/** Record layout: u32 length | u8 type | u8 protocol | u8 family | u8 unused | u16 port | u16 message length | f64 time | 16 address bytes | message. */
const R_TYPE = 4;
const R_PROTO = 5;
const R_FAMILY = 6;
const R_PORT = 8;
const R_MSGLEN = 10;
const R_TIME = 12;
const R_ADDR = 20;
export const RECORD_HEADER = 36;

export const MIN_RING_BYTES = 4096;

/** The shared memory of one ring; `bytes` is rounded down to a multiple of 4. */
export function ringBuffer(bytes: number): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER_BYTES + Math.max(MIN_RING_BYTES, bytes & ~3));
}

/** One record as the consumer sees it; views into the ring, valid only during the callback. */
export interface RingRecord {
  type: number;
  protocol: number;
  family: number;
  port: number;
  timeMs: number;
  address: Buffer;
  message: Buffer;
}

export class RingProducer {
  private readonly header: Int32Array;
  private readonly data: Buffer;
  private readonly capacity: number;
  /** The whole ring (header and data) as a Buffer, for the C writer (udpTap). */
  readonly shared: Buffer;

  constructor(sab: SharedArrayBuffer) {
    this.header = new Int32Array(sab, 0, HEADER_BYTES / 4);
    this.data = Buffer.from(sab, HEADER_BYTES);
    this.capacity = this.data.length;
    this.shared = Buffer.from(sab);
  }

  /** Counts one exchange; true for every `every`-th (the counter lives in the ring, shared with C). */
  sample(every: number): boolean {
    const h = this.header;
    if (++h[SEEN]! < every) return false;
    h[SEEN] = 0;
    return true;
  }

  /**
   * Appends one record, or counts a drop when it does not fit. `address` holds 16 bytes from `addressAt`
   * (IPv4 in the first 4). Returns false when dropped.
   */
  put(
    type: number, protocol: number, family: number, address: Uint8Array, addressAt: number, port: number, timeMs: number,
    message: Buffer, length: number,
  ): boolean {
    const need = (RECORD_HEADER + length + 3) & ~3;
    const cap = this.capacity;
    const tail = Atomics.load(this.header, TAIL);
    // From the header: C may have appended since (a restarted worker also resumes where the last one left).
    let head = this.header[HEAD]!;
    const used = head >= tail ? head - tail : cap - tail + head;
    const free = cap - used - 4;
    const wraps = head + need > cap;
    if ((wraps ? cap - head + need : need) > free || length > 0xffff) {
      Atomics.add(this.header, DROPPED, 1);
      return false;
    }
    const d = this.data;
    if (wraps) {
      d.writeUInt32LE(0, head);
      head = 0;
    }
    d.writeUInt32LE(need, head);
    d[head + R_TYPE] = type;
    d[head + R_PROTO] = protocol;
    d[head + R_FAMILY] = family;
    d.writeUInt16LE(port, head + R_PORT);
    d.writeUInt16LE(length, head + R_MSGLEN);
    d.writeDoubleLE(timeMs, head + R_TIME);
    for (let i = 0; i < 16; i++) d[head + R_ADDR + i] = address[addressAt + i]!;
    message.copy(d, head + RECORD_HEADER, 0, length);
    head += need;
    if (head === cap) head = 0;
    Atomics.store(this.header, HEAD, head);
    return true;
  }
}

export class RingConsumer {
  private readonly header: Int32Array;
  private readonly data: Buffer;
  private readonly capacity: number;
  private readonly record: RingRecord = {
    type: 0, protocol: 0, family: 0, port: 0, timeMs: 0, address: Buffer.alloc(0), message: Buffer.alloc(0),
  };

  constructor(sab: SharedArrayBuffer) {
    this.header = new Int32Array(sab, 0, HEADER_BYTES / 4);
    this.data = Buffer.from(sab, HEADER_BYTES);
    this.capacity = this.data.length;
  }

  /** Records the producer dropped because the ring was full, since it was made. */
  get dropped(): number {
    return Atomics.load(this.header, DROPPED) >>> 0;
  }

  /** Hands every record written so far to `each`, in order, then frees their space. Returns how many. */
  drain(each: (r: RingRecord) => void): number {
    const head = Atomics.load(this.header, HEAD);
    let tail = Atomics.load(this.header, TAIL);
    const d = this.data;
    const r = this.record;
    let n = 0;
    while (tail !== head) {
      const length = d.readUInt32LE(tail);
      if (length === 0) {
        tail = 0;
        continue;
      }
      r.type = d[tail + R_TYPE]!;
      r.protocol = d[tail + R_PROTO]!;
      r.family = d[tail + R_FAMILY]!;
      r.port = d.readUInt16LE(tail + R_PORT);
      r.timeMs = d.readDoubleLE(tail + R_TIME);
      r.address = d.subarray(tail + R_ADDR, tail + R_ADDR + 16);
      r.message = d.subarray(tail + RECORD_HEADER, tail + RECORD_HEADER + d.readUInt16LE(tail + R_MSGLEN));
      each(r);
      n++;
      tail += length;
      if (tail === this.capacity) tail = 0;
    }
    Atomics.store(this.header, TAIL, tail);
    return n;
  }
}
