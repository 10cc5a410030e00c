// The messages of a transfer: records in order, cut into messages of about 16 KiB (as bind9 and Knot
// do: small enough to interleave with other connections, large enough that headers cost nothing), the
// question in the first one only (RFC 5936 §2.2.1), names compressed within each message.

import { FLAG_AA, FLAG_QR, FLAG_RD, HEADER_SIZE, RCODE_NOERROR } from '../dns/constants.js';
import type { Rr } from '../dns/types.js';
import { MessageWriter } from '../dns/writer.js';
import type { TransferQuery } from './query.js';

/** A message is closed once it passes this many bytes. */
export const MESSAGE_TARGET = 16 * 1024;

// One writer per thread, reused: encoding is synchronous.
const writer = new MessageWriter();

/** The answer `records`, in order, over as many messages as they need (at least one). */
export function transferMessages(query: TransferQuery, records: readonly Rr[]): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  do {
    start(query, out.length === 0);
    let count = 0;
    while (i < records.length && writer.offset < MESSAGE_TARGET) {
      if (!writer.writeRr(records[i]!)) {
        if (count === 0) throw new RangeError(`a record of ${records[i]!.name} does not fit in a DNS message`);
        break;
      }
      count++;
      i++;
    }
    writer.writeHeader(query.id, flags(query, RCODE_NOERROR), out.length === 0 ? 1 : 0, count, 0, 0);
    out.push(writer.toBuffer());
  } while (i < records.length);
  return out;
}

/** Header and question with this rcode (REFUSED, NOTAUTH, SERVFAIL, FORMERR...). */
export function errorResponse(query: TransferQuery, rcode: number): Buffer {
  start(query, true);
  writer.writeHeader(query.id, flags(query, rcode) & ~FLAG_AA, 1, 0, 0, 0);
  return writer.toBuffer();
}

function start(query: TransferQuery, withQuestion: boolean): void {
  writer.reset();
  if (withQuestion) writer.writeQuestion(query.qnameWire, 0, query.qtype, query.qclass);
  else writer.offset = HEADER_SIZE;
}

function flags(query: TransferQuery, rcode: number): number {
  return FLAG_QR | FLAG_AA | (query.rd ? FLAG_RD : 0) | rcode;
}
