// A bounded UDP burst for rate-limit tests: N queries from one socket within well under a second, then a
// sentinel query (a name with a bucket of its own) whose answer proves every earlier answer has arrived:
// servers answer one socket in order (kdns per batch, named with -n 1), so anything not in by then was dropped.
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';

export interface BurstCounts {
  answered: number;
  /** TC=1 answers: limited, told to retry over TCP. */
  slipped: number;
  dropped: number;
}

// 10 queries every 5 ms: 1,000 in about half a second, slow enough that the server's socket buffer
// (kernel default) does not overflow on a loaded machine, which would count as drops no limiter made.
const CHUNK = 10;
const CHUNK_GAP_MS = 5;
const SENTINEL_ID = 0xffff;
const SENTINEL_ATTEMPTS = 3;
const SENTINEL_WAIT_MS = 3000;

export function query(id: number, name: string, type = 'A'): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: 0, questions: [{ type: type as 'A', name }] });
}

export interface BurstOptions {
  /** Source address (any 127.0.0.0/8 address; a /24 of its own is a client block of its own). */
  source?: string;
  /**
   * Wait this long before the sentinel: for limits whose buckets refill within that time (the per-client
   * query limit), so the sentinel from the same address is answered. Waiting longer never changes a count.
   */
  sentinelAfterMs?: number;
}

/**
 * Sends `count` (≤ 65535) queries made by `make(i)` (ID i) to 127.0.0.1:port, in paced chunks so neither
 * side's socket buffer overflows, then the sentinel; counts what came back before the sentinel's answer.
 */
export async function burst(
  port: number, count: number, make: (id: number) => Buffer, sentinel: Buffer, opts: BurstOptions = {},
): Promise<BurstCounts> {
  const source = opts.source ?? '127.0.0.1';
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, source, () => resolve());
  });
  const seen = new Set<number>();
  const counts: BurstCounts = { answered: 0, slipped: 0, dropped: 0 };
  let sentinelArrived: () => void = () => {};
  const sentinelDone = new Promise<void>((resolve) => { sentinelArrived = resolve; });
  sock.on('message', (msg) => {
    if (msg.length < 12) return;
    const id = msg.readUInt16BE(0);
    if (id === SENTINEL_ID) {
      sentinelArrived();
      return;
    }
    if (id >= count || seen.has(id)) return;
    seen.add(id);
    if ((msg[2]! & 0x02) !== 0) counts.slipped++;
    else counts.answered++;
  });
  try {
    // Servers account in whole seconds of the wall clock (bind9's isc_stdtime): start just after a second
    // begins, so the burst's first queries, which decide how many are answered, never straddle a boundary.
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 10));
    for (let i = 0; i < count; i += CHUNK) {
      for (let j = i; j < Math.min(count, i + CHUNK); j++) sock.send(make(j), port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, CHUNK_GAP_MS));
    }
    if (opts.sentinelAfterMs !== undefined) await new Promise((r) => setTimeout(r, opts.sentinelAfterMs));
    const s = Buffer.from(sentinel);
    s.writeUInt16BE(SENTINEL_ID, 0);
    // Sent again if it gets no answer (a loaded machine may drop a datagram; its bucket has room for a few).
    let answered = false;
    void sentinelDone.then(() => { answered = true; });
    for (let attempt = 0; attempt < SENTINEL_ATTEMPTS && !answered; attempt++) {
      sock.send(s, port, '127.0.0.1');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([sentinelDone, new Promise((r) => { timer = setTimeout(r, SENTINEL_WAIT_MS); })]);
      clearTimeout(timer);
    }
    if (!answered) throw new Error(`no answer to the sentinel from 127.0.0.1:${port} after ${SENTINEL_ATTEMPTS} tries`);
    // Datagrams already queued on this socket ahead of the sentinel's are read in the same poll.
    await new Promise((r) => setImmediate(r));
  } finally {
    sock.close();
  }
  counts.dropped = count - counts.answered - counts.slipped;
  return counts;
}
