// The takeover conversation on the claim socket (src/takeover/README.md has the sequence):
//
//   holder → successor   {"pid":N,"version":V,"takeover":true}       who holds the address (port-claim.ts)
//   successor → holder   {"takeover":{"pid":M,"channel":"kdns/takeover/M"}}
//   holder → channel     every socket fd (SCM_RIGHTS) + what each is  (native/takeover.c)
//   holder → successor   {"sent":N}                                  or {"error":"..."}: nothing was sent
//   successor            serves the sockets (both processes read them for a moment; nothing is lost)
//   successor → holder   {"serving":true}                            the holder stops reading, answers
//                                                                     what it received and exits 0
// Until "serving" arrives the holder changes nothing: a successor that fails or goes away leaves it serving.

import { closeSync } from 'node:fs';
import net from 'node:net';
import type { Logger } from 'pino';
import type { ListenAddress } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { NativeBinding } from '../engine/native-binding.js';
import { JsonLines, record } from './lines.js';
import type { ListenSockets } from './sockets.js';

/** How long each side waits for the other's next line while the hand-off is being set up. */
const STEP_TIMEOUT_MS = 10_000;
/** How long a holder waits for its successor to say it serves before it forgets the hand-off. */
const SERVING_TIMEOUT_MS = 120_000;

/** A listening socket that is not a DNS socket: a claim (one per address) or the HTTP port. */
export interface NamedSocket {
  host: string;
  port: number;
  fd: number;
}

/** What the holder hands over: fds plus where each one listens. */
export interface HandedSockets {
  listen: ListenSockets[];
  claims: NamedSocket[];
  http: NamedSocket | null;
}

/** What the holder's side needs from the running server. */
export interface HandOffSource {
  /** The DNS sockets being served now; empty with the node engine. */
  sockets(): ListenSockets[];
  /** The HTTP listener, when there is one. */
  http(): NamedSocket | null;
}

/** The successor's side once the sockets are here. */
export interface Adoption extends HandedSockets {
  holderPid: number;
  /** Tells the holder this process serves: it then stops reading, answers what it has and exits 0. */
  serving(): void;
}

/** The wire form: fd numbers replaced by indexes into the message's fd list. */
interface Payload {
  pid: number;
  listen: Array<{ host: string; port: number; udp: number; tcp: number }>;
  claims: Array<{ host: string; port: number; fd: number }>;
  http: { host: string; port: number; fd: number } | null;
}

export function channelName(pid: number): string {
  return `kdns/takeover/${pid}`;
}

// ---------------------------------------------------------------------------------------------------
// The holder's side
// ---------------------------------------------------------------------------------------------------

export interface HolderOptions {
  binding: NativeBinding | null;
  source: HandOffSource;
  claims: NamedSocket[];
  log: Logger;
  /** Called once a successor serves: the caller shuts down as on SIGTERM and exits 0. */
  takenOver(pid: number): void;
}

/** One holder of the listen addresses: answers takeover requests, one at a time. */
export class Holder {
  private busy = false;
  private done = false;

  constructor(private readonly opts: HolderOptions) {}

  async answer(lines: JsonLines, request: Record<string, unknown>): Promise<void> {
    const { log } = this.opts;
    const pid = typeof request.pid === 'number' ? request.pid : 0;
    const channel = typeof request.channel === 'string' ? request.channel : '';
    const refusal = this.refusal(channel);
    if (refusal !== null) {
      log.warn({ component: 'takeover', pid }, `takeover refused: ${refusal}`);
      lines.send({ error: refusal });
      return;
    }
    this.busy = true;
    try {
      const handed = { listen: this.opts.source.sockets(), claims: this.opts.claims, http: this.opts.source.http() };
      const { fds, payload } = encode(handed);
      const owner = this.opts.binding!.sendFds(channel, fds, payload);
      log.info({ component: 'takeover', pid: owner, sockets: fds.length }, 'takeover: sockets sent; still serving until the successor does');
      lines.send({ sent: fds.length });
      const said = record(await lines.next(SERVING_TIMEOUT_MS));
      if (said?.serving !== true) {
        log.warn({ component: 'takeover', pid: owner }, 'takeover abandoned by the successor: still serving');
        return;
      }
      this.done = true;
      log.info({ component: 'takeover', pid: owner }, 'taken over: stopping reading, answering what was received, then exiting');
      this.opts.takenOver(owner);
    } catch (err) {
      log.warn({ component: 'takeover', pid, err }, 'takeover failed: still serving');
      lines.send({ error: `the hand-off failed: ${(err as Error).message}` });
    } finally {
      this.busy = false;
    }
  }

  private refusal(channel: string): string | null {
    if (this.done) return 'this kdns has already been taken over';
    if (this.busy) return 'another takeover is in progress';
    if (this.opts.binding === null || this.opts.source.sockets().length === 0) {
      return `kdns pid ${process.pid} runs the node engine, whose sockets cannot be handed over: stop it first`;
    }
    if (!/^kdns\/takeover\/\d+$/.test(channel)) return 'no channel named';
    return null;
  }
}

function encode(handed: HandedSockets): { fds: number[]; payload: Buffer } {
  const fds: number[] = [];
  const at = (fd: number): number => fds.push(fd) - 1;
  const message: Payload = {
    pid: process.pid,
    listen: handed.listen.map((s) => ({ host: s.host, port: s.port, udp: at(s.udp), tcp: at(s.tcp) })),
    claims: handed.claims.map((c) => ({ host: c.host, port: c.port, fd: at(c.fd) })),
    http: handed.http === null ? null : { ...handed.http, fd: at(handed.http.fd) },
  };
  return { fds, payload: Buffer.from(JSON.stringify(message)) };
}

// ---------------------------------------------------------------------------------------------------
// The successor's side
// ---------------------------------------------------------------------------------------------------

/**
 * Asks the kdns holding `addr`'s claim for its sockets. Throws ConfigError (exit 2) when it cannot or will
 * not hand them over, or serves other addresses than `listen`; the holder then goes on serving.
 */
export async function requestSockets(
  binding: NativeBinding, claim: string, addr: string, listen: ListenAddress[], log: Logger,
): Promise<Adoption> {
  const conn = net.connect(claim);
  const lines = new JsonLines(conn);
  let fds: number[] = [];
  try {
    const holder = record(await lines.next(STEP_TIMEOUT_MS));
    const holderPid = typeof holder?.pid === 'number' ? holder.pid : 0;
    const who = `kdns pid ${holderPid} (${String(holder?.version ?? 'unknown version')})`;
    if (holder?.takeover !== true) throw new ConfigError(null, null, `${addr} is served by ${who}, which cannot hand over its sockets: stop it first`);
    const channel = channelName(process.pid);
    const listenFd = binding.handoffListen(channel);
    let message: { fds: number[]; payload: Buffer } | null;
    try {
      lines.send({ takeover: { pid: process.pid, channel } });
      const reply = record(await lines.next(STEP_TIMEOUT_MS));
      if (typeof reply?.error === 'string') throw new ConfigError(null, null, `${addr}: ${who} refused the takeover: ${reply.error}`);
      if (typeof reply?.sent !== 'number') throw new ConfigError(null, null, `${addr}: ${who} did not hand over its sockets`);
      message = binding.receiveFds(listenFd);
    } finally {
      binding.closeFd(listenFd);
    }
    if (message === null) throw new ConfigError(null, null, `${addr}: ${who} said it sent its sockets, but none arrived`);
    fds = message.fds;
    const handed = decode(message.payload, fds);
    const problem = mismatch(handed.listen, listen);
    if (problem !== null) throw new ConfigError(null, null, `${addr}: cannot take over ${who}: ${problem}; --takeover needs the same --listen addresses`);
    log.info({ component: 'takeover', pid: holderPid, sockets: fds.length }, 'takeover: sockets received');
    return {
      ...handed,
      holderPid,
      serving() {
        lines.send({ serving: true });
        conn.end();
      },
    };
  } catch (err) {
    for (const fd of fds) binding.closeFd(fd);
    conn.destroy();
    throw err;
  }
}

function decode(payload: Buffer, fds: number[]): HandedSockets {
  const fd = (i: unknown): number => {
    if (typeof i !== 'number' || fds[i] === undefined) throw new ConfigError(null, null, 'takeover: the running kdns sent a malformed hand-off');
    return fds[i]!;
  };
  const message = JSON.parse(payload.toString('utf8')) as Payload;
  return {
    listen: message.listen.map((s) => ({ host: s.host, port: s.port, udp: fd(s.udp), tcp: fd(s.tcp) })),
    claims: message.claims.map((c) => ({ host: c.host, port: c.port, fd: fd(c.fd) })),
    http: message.http === null ? null : { host: message.http.host, port: message.http.port, fd: fd(message.http.fd) },
  };
}

/** Why the handed sockets are not exactly the fixed addresses of `listen` (null: they are). */
function mismatch(handed: ListenSockets[], listen: ListenAddress[]): string | null {
  const key = (host: string, port: number): string => `${host} ${port}`;
  const ours = new Set(listen.filter((l) => l.port !== 0).map((l) => key(l.host, l.port)));
  const theirs = new Set(handed.map((s) => key(s.host, s.port)));
  for (const k of theirs) if (!ours.has(k)) return `it also serves ${k.replace(' ', ' port ')}`;
  for (const k of ours) if (!theirs.has(k)) return `it does not serve ${k.replace(' ', ' port ')}`;
  return null;
}

/**
 * The adopted HTTP listener when this kdns serves HTTP on the same address; otherwise it is closed here
 * and the caller binds its own (the holder's closes when it exits).
 */
export function adoptedHttpFd(adoption: Adoption | null, http: ListenAddress | null): number | null {
  const handed = adoption?.http ?? null;
  if (handed === null) return null;
  if (http !== null && http.host === handed.host && http.port === handed.port) return handed.fd;
  closeSync(handed.fd);
  return null;
}
