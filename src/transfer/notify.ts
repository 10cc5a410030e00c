// NOTIFY (RFC 1996) to the configured secondaries when a zone's serial moves: one UDP message per
// secondary, resent until the secondary acknowledges it (same ID, QR set), at most MAX_ATTEMPTS times
// with a doubling wait (RFC 1996 §3.6). A newer serial replaces the NOTIFY still being resent for the
// same zone and secondary, so a busy zone keeps one message in flight per secondary.

import dgram from 'node:dgram';
import { randomId16 } from '../util/random-ids.js';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { ListenAddress } from '../config/types.js';
import { CLASS_IN, FLAG_AA, FLAG_QR, OPCODE_SHIFT, TYPE_SOA } from '../dns/constants.js';
import { keyToWire } from '../dns/name.js';
import type { RrSet } from '../dns/types.js';
import { MessageWriter } from '../dns/writer.js';

export const OPCODE_NOTIFY = 4;
const MAX_ATTEMPTS = 5;
const FIRST_WAIT_MS = 1000;

export interface NotifyOutcome {
  origin: string;
  target: string;
  acknowledged: boolean;
}

interface InFlight {
  id: number;
  key: string;
  target: ListenAddress;
  message: Buffer;
  attempts: number;
  timer: NodeJS.Timeout | null;
}

export class Notifier {
  private readonly targets: readonly ListenAddress[];
  private readonly log: Logger;
  private readonly onOutcome: (outcome: NotifyOutcome) => void;
  private readonly sockets = new Map<4 | 6, dgram.Socket>();
  /** By ID, and by "origin target" (the one being resent for that pair). */
  private readonly byId = new Map<number, InFlight>();
  private readonly byKey = new Map<string, InFlight>();
  private readonly writer = new MessageWriter();

  constructor(targets: readonly ListenAddress[], log: Logger, onOutcome: (outcome: NotifyOutcome) => void = () => {}) {
    this.targets = targets;
    this.log = log;
    this.onOutcome = onOutcome;
  }

  /** Tells every secondary that `origin` is now at this SOA. */
  notify(origin: string, soa: RrSet): void {
    for (const target of this.targets) {
      const key = origin + ' ' + target.host + '#' + target.port;
      const older = this.byKey.get(key);
      if (older !== undefined) this.forget(older);
      const id = this.freeId();
      const flight: InFlight = { id, key, target, message: this.message(id, origin, soa), attempts: 0, timer: null };
      this.byId.set(id, flight);
      this.byKey.set(key, flight);
      this.send(flight);
    }
  }

  close(): void {
    for (const flight of [...this.byId.values()]) this.forget(flight);
    for (const socket of this.sockets.values()) socket.close();
    this.sockets.clear();
  }

  private message(id: number, origin: string, soa: RrSet): Buffer {
    const w = this.writer;
    w.reset();
    w.writeQuestion(keyToWire(origin), 0, TYPE_SOA, CLASS_IN);
    // The SOA in the answer section is a hint the secondary may use (RFC 1996 §3.7).
    w.writeRr({ name: origin, type: TYPE_SOA, class: CLASS_IN, ttl: soa.ttl, rdata: soa.rdatas[0]! });
    w.writeHeader(id, (OPCODE_NOTIFY << OPCODE_SHIFT) | FLAG_AA, 1, 1, 0, 0);
    return w.toBuffer();
  }

  private freeId(): number {
    for (;;) {
      const id = randomId16();
      if (!this.byId.has(id)) return id;
    }
  }

  private send(flight: InFlight): void {
    flight.attempts++;
    const { host, port } = flight.target;
    this.socket(isIP(host) === 6 ? 6 : 4).send(flight.message, port, host);
    const wait = FIRST_WAIT_MS * 2 ** (flight.attempts - 1);
    flight.timer = setTimeout(() => this.retry(flight), wait);
    flight.timer.unref();
  }

  private retry(flight: InFlight): void {
    flight.timer = null;
    if (flight.attempts < MAX_ATTEMPTS) {
      this.send(flight);
      return;
    }
    this.forget(flight);
    const [origin, target] = flight.key.split(' ') as [string, string];
    this.log.warn({ zone: origin, secondary: target, attempts: flight.attempts }, 'NOTIFY not acknowledged');
    this.onOutcome({ origin, target, acknowledged: false });
  }

  private forget(flight: InFlight): void {
    if (flight.timer !== null) clearTimeout(flight.timer);
    flight.timer = null;
    this.byId.delete(flight.id);
    if (this.byKey.get(flight.key) === flight) this.byKey.delete(flight.key);
  }

  private socket(family: 4 | 6): dgram.Socket {
    let socket = this.sockets.get(family);
    if (socket === undefined) {
      socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
      socket.on('message', (msg, rinfo) => this.onReply(msg, rinfo));
      socket.on('error', (err) => this.log.warn({ err }, 'NOTIFY socket error'));
      socket.unref();
      this.sockets.set(family, socket);
    }
    return socket;
  }

  /** An acknowledgement: our ID, QR set, opcode NOTIFY, from the secondary we sent it to. */
  private onReply(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length < 12) return;
    const flight = this.byId.get(msg.readUInt16BE(0));
    if (flight === undefined) return;
    const flags = msg.readUInt16BE(2);
    if ((flags & FLAG_QR) === 0 || ((flags >> OPCODE_SHIFT) & 0xf) !== OPCODE_NOTIFY) return;
    if (rinfo.port !== flight.target.port || rinfo.address !== flight.target.host) return;
    this.forget(flight);
    const [origin, target] = flight.key.split(' ') as [string, string];
    this.log.debug({ zone: origin, secondary: target, rcode: flags & 0xf }, 'NOTIFY acknowledged');
    this.onOutcome({ origin, target, acknowledged: true });
  }
}
