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

/** The Message fields kdns sets, in one fixed shape (null: absent; protobufjs skips null fields). */
interface MessageFields {
  type: number;
  socketFamily: number;
  socketProtocol: number;
  queryAddress: Uint8Array | null;
  queryPort: number | null;
  responseAddress: Uint8Array | null;
  responsePort: number | null;
  queryTimeSec: number | null;
  queryTimeNsec: number | null;
  queryMessage: Uint8Array | null;
  responseTimeSec: number | null;
  responseTimeNsec: number | null;
  responseMessage: Uint8Array | null;
}

export class DnstapEncoder {
  private readonly type = schema();
  /** Reused for every record: one object shape, so the encoder stays monomorphic and nothing is built per record. */
  private readonly message: MessageFields = {
    type: 0, socketFamily: 0, socketProtocol: 0, queryAddress: null, queryPort: null, responseAddress: null, responsePort: null,
    queryTimeSec: null, queryTimeNsec: null, queryMessage: null, responseTimeSec: null, responseTimeNsec: null, responseMessage: null,
  };
  private readonly outer: { identity: Buffer; version: Buffer; type: number; message: MessageFields };

  constructor(who: DnstapIdentity) {
    this.outer = { identity: Buffer.from(who.identity), version: Buffer.from(who.version), type: DNSTAP_MESSAGE, message: this.message };
  }

  /** One Dnstap message for a record: queries carry query time and message, responses response time and message. */
  encode(r: RingRecord): Uint8Array {
    const isQuery = r.type === CLIENT_QUERY || r.type === FORWARDER_QUERY;
    const isClient = r.type === CLIENT_QUERY || r.type === CLIENT_RESPONSE;
    const address = r.family === FAMILY_INET ? r.address.subarray(0, 4) : r.address;
    const seconds = Math.floor(r.timeMs / 1000);
    const nanos = Math.min(999_999_999, Math.round((r.timeMs - seconds * 1000) * 1e6));
    const m = this.message;
    m.type = r.type;
    m.socketFamily = r.family;
    m.socketProtocol = r.protocol;
    // The client is the querying side; an upstream is the responding side (dnstap's convention).
    m.queryAddress = isClient ? address : null;
    m.queryPort = isClient ? r.port : null;
    m.responseAddress = isClient ? null : address;
    m.responsePort = isClient ? null : r.port;
    m.queryTimeSec = isQuery ? seconds : null;
    m.queryTimeNsec = isQuery ? nanos : null;
    m.queryMessage = isQuery ? r.message : null;
    m.responseTimeSec = isQuery ? null : seconds;
    m.responseTimeNsec = isQuery ? null : nanos;
    m.responseMessage = isQuery ? null : r.message;
    return this.type.encode(this.outer).finish();
  }
}

