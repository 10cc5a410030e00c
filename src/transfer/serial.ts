// SOA serials (RFC 1982 arithmetic) for zones kdns gives a moving serial: the cluster zone, whose data
// comes without one, gets a new serial per batch of changes so secondaries see that it moved.

import type { RrSet } from '../dns/types.js';

/** The SERIAL field of SOA RDATA (uncompressed: the five numbers are its last 20 bytes). */
export function soaSerial(rdata: Buffer): number {
  return rdata.readUInt32BE(rdata.length - 20);
}

/** The same SOA RRset with another serial (a copy: RRsets handed to zones are never changed in place). */
export function withSerial(soa: RrSet, serial: number): RrSet {
  const rdata = Buffer.from(soa.rdatas[0]!);
  rdata.writeUInt32BE(serial >>> 0, rdata.length - 20);
  return { ...soa, rdatas: [rdata] };
}

/** RFC 1982 §3.2: `a` is before `b` in serial number arithmetic (32 bits). */
export function serialBefore(a: number, b: number): boolean {
  const diff = (b - a) >>> 0;
  return diff !== 0 && diff < 0x80000000;
}

/**
 * The serial after `current`: the clock in Unix seconds when that is ahead of it (so a restarted kdns,
 * which starts from the clock, stays ahead of what its secondaries hold as long as it made fewer than
 * one change a second on average), otherwise `current + 1`.
 */
export function nextSerial(current: number, nowSeconds: number): number {
  const clock = nowSeconds >>> 0;
  return serialBefore(current, clock) ? clock : (current + 1) >>> 0;
}
