// The dnstap protobuf schema (dnstap.proto beside this file, shipped in the package) loaded once with
// protobufjs, and the one encoding kdns needs: a ring record → a serialized Dnstap message.

import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { RingRecord } from './ring.js';
import { CLIENT_QUERY, CLIENT_RESPONSE, FAMILY_INET, FORWARDER_QUERY } from './recorder.js';

/** Compiled to dist/src/dnstap/schema.js; the .proto stays in src/dnstap. */
const PROTO_FILE = fileURLToPath(new URL('../../../src/dnstap/dnstap.proto', import.meta.url));
const DNSTAP_MESSAGE = 1;

let dnstapType: protobuf.Type | null = null;

/** Parsed on first use, so a kdns without --dnstap never reads the schema. */
function schema(): protobuf.Type {
  dnstapType ??= protobuf.loadSync(PROTO_FILE).lookupType('dnstap.Dnstap');
  return dnstapType;
}

/** Who wrote the log, in every frame (dnstap-read prints both). */
export interface DnstapIdentity {
  identity: string;
  version: string;
}

export class DnstapEncoder {
  private readonly identity: Buffer;
  private readonly version: Buffer;
  private readonly type = schema();

  constructor(who: DnstapIdentity) {
    this.identity = Buffer.from(who.identity);
    this.version = Buffer.from(who.version);
  }

  /** One Dnstap message for a record: queries carry query time and message, responses response time and message. */
  encode(r: RingRecord): Uint8Array {
    const isQuery = r.type === CLIENT_QUERY || r.type === FORWARDER_QUERY;
    const isClient = r.type === CLIENT_QUERY || r.type === CLIENT_RESPONSE;
    const address = r.family === FAMILY_INET ? r.address.subarray(0, 4) : r.address;
    const seconds = Math.floor(r.timeMs / 1000);
    const nanos = Math.min(999_999_999, Math.round((r.timeMs - seconds * 1000) * 1e6));
    const message: Record<string, unknown> = { type: r.type, socketFamily: r.family, socketProtocol: r.protocol };
    // The client is the querying side; an upstream is the responding side (dnstap's convention).
    if (isClient) {
      message.queryAddress = address;
      message.queryPort = r.port;
    } else {
      message.responseAddress = address;
      message.responsePort = r.port;
    }
    if (isQuery) {
      message.queryTimeSec = seconds;
      message.queryTimeNsec = nanos;
      message.queryMessage = r.message;
    } else {
      message.responseTimeSec = seconds;
      message.responseTimeNsec = nanos;
      message.responseMessage = r.message;
    }
    return this.type.encode({ identity: this.identity, version: this.version, type: DNSTAP_MESSAGE, message }).finish();
  }
}

/** Parses one data frame's payload back into an object (tests, diagnosis). */
export function decodeDnstap(payload: Uint8Array): Record<string, unknown> {
  const type = schema();
  return type.toObject(type.decode(payload), { enums: String, longs: Number, bytes: Buffer }) as Record<string, unknown>;
}
