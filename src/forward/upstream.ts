// One upstream server: how a query gets there and back, and whether the server is usable.
// UDP uses a fresh connected socket per query (opened just ahead of need, ready-sockets.ts): the kernel
// picks a random source port and drops datagrams from any other address or port, and with a random ID that makes blind spoofing a 32-bit guess
// (RFC 5452). Answers are also matched on ID and question; anything else is ignored, not fatal.
// TCP goes over one reused, pipelined connection. Health is passive (down after N consecutive failures)
// with an active probe (`. NS`) that brings a down server back. In-flight queries are capped: past the
// cap the caller moves on or answers SERVFAIL, never queues.

import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { CLASS_IN, TYPE_NS } from '../dns/constants.js';
import { buildUpstreamQuery, matchesQuery, questionEndOf } from './message.js';
import type { ForwardMetrics } from './metrics.js';
import { TcpChannel } from './tcp-channel.js';
import { closeQuietly, openSocket, ReadySockets } from './ready-sockets.js';

/** A usable answer (any rcode), or why there is none. */
export type UpstreamOutcome = Buffer | 'timeout' | 'error' | 'busy';

export interface UpstreamSettings {
  maxInFlight: number;
  failuresBeforeDown: number;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  tcpIdleTimeoutMs: number;
}

const ROOT_WIRE = Buffer.from([0]);
/** Sockets kept open ahead of queries per upstream; the first query fills the pool (no fds held before). */
const READY_SOCKETS = 4;

export class Upstream {
  readonly host: string;
  readonly port: number;
  /** `host#port`, dnsmasq's spelling; the `to` label of the metrics. */
  readonly name: string;
  inFlight = 0;
  consecutiveFailures = 0;
  healthy = true;
  /** Set by the loop guard; a disabled upstream is never used again in this process. */
  disabled = false;
  requests = 0;
  failures = 0;
  private tcp: TcpChannel | null = null;
  /** UDP sockets opened ahead, one per query (ready-sockets.ts). */
  private readonly readySockets: ReadySockets;
  /** Cancels for UDP exchanges in progress, so close() ends them at once instead of at their timeouts. */
  private readonly live = new Set<() => void>();
  private probeTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly settings: UpstreamSettings;
  private readonly metrics: ForwardMetrics;
  private readonly log: Logger;

  constructor(host: string, port: number, settings: UpstreamSettings, metrics: ForwardMetrics, log: Logger) {
    this.host = host;
    this.port = port;
    this.name = host + '#' + port;
    this.settings = settings;
    this.metrics = metrics;
    this.log = log;
    this.readySockets = new ReadySockets(host, port, READY_SOCKETS);
    metrics.healthy.labels(this.name).set(1);
  }

  /** True when a query may be sent now without passing the in-flight cap. */
  hasCapacity(): boolean {
    return this.inFlight < this.settings.maxInFlight;
  }

  /** Sends one query (our own message, which this may re-ID for TCP) and waits up to `timeoutMs`. */
  async exchange(msg: Buffer, useTcp: boolean, timeoutMs: number): Promise<UpstreamOutcome> {
    if (this.closed) return 'error';
    if (!this.hasCapacity()) {
      this.metrics.maxConcurrentRejects.labels(this.name).inc();
      return 'busy';
    }
    this.inFlight++;
    this.requests++;
    this.metrics.requests.labels(this.name, useTcp ? 'tcp' : 'udp').inc();
    const started = performance.now();
    let result: UpstreamOutcome;
    try {
      result = useTcp
        ? await this.viaTcp(msg, timeoutMs)
        : await udpExchange(this.host, this.port, msg, timeoutMs, this.live, this.readySockets.take());
    } finally {
      this.inFlight--;
    }
    if (typeof result === 'string') {
      this.failures++;
      this.metrics.failures.labels(this.name, result).inc();
      this.noteFailure();
    } else {
      this.metrics.duration.labels(this.name).observe((performance.now() - started) / 1000);
      this.metrics.responses.labels(this.name, rcodeLabel(result[3]! & 0x0f)).inc();
      this.noteSuccess();
    }
    return result;
  }

  private viaTcp(msg: Buffer, timeoutMs: number): Promise<UpstreamOutcome> {
    if (this.tcp === null || this.tcp.closed) this.tcp = new TcpChannel(this.host, this.port, this.settings.tcpIdleTimeoutMs);
    return this.tcp.query(msg, timeoutMs);
  }

  /** A server that answers anything is alive; SERVFAIL is the upstream's verdict on a name, not on itself. */
  private noteSuccess(): void {
    this.consecutiveFailures = 0;
    if (!this.healthy) this.markUp('answered a query');
  }

  private noteFailure(): void {
    this.consecutiveFailures++;
    if (this.healthy && this.consecutiveFailures >= this.settings.failuresBeforeDown) {
      this.healthy = false;
      this.metrics.healthy.labels(this.name).set(0);
      this.log.warn({ upstream: this.name, failures: this.consecutiveFailures }, 'upstream down: probing it until it answers');
      this.startProbing();
    }
  }

  private markUp(why: string): void {
    this.healthy = true;
    this.consecutiveFailures = 0;
    if (!this.disabled) this.metrics.healthy.labels(this.name).set(1);
    this.stopProbing();
    this.log.info({ upstream: this.name }, 'upstream up again: ' + why);
  }

  private startProbing(): void {
    if (this.probeTimer !== null || this.closed) return;
    this.probeTimer = setInterval(() => void this.probe(), this.settings.probeIntervalMs);
    this.probeTimer.unref();
  }

  private stopProbing(): void {
    if (this.probeTimer !== null) clearInterval(this.probeTimer);
    this.probeTimer = null;
  }

  /** `. NS` over UDP; any matching answer, whatever its rcode, means the server is back. */
  private async probe(): Promise<void> {
    if (this.healthy || this.closed) return;
    const q = buildUpstreamQuery(randomInt(0, 65536), ROOT_WIRE, TYPE_NS, CLASS_IN, false, false);
    const r = await udpExchange(this.host, this.port, q, this.settings.probeTimeoutMs, this.live);
    if (this.healthy || this.closed) return;
    if (typeof r === 'string') this.metrics.healthcheckFailures.labels(this.name).inc();
    else this.markUp('answered a health probe');
  }

  /** One UDP exchange outside the counting and health logic (the loop guard's probe). */
  rawUdp(msg: Buffer, timeoutMs: number): Promise<UpstreamOutcome> {
    if (this.closed) return Promise.resolve('error');
    return udpExchange(this.host, this.port, msg, timeoutMs, this.live);
  }

  /** The loop guard found that this server sends our queries back to us. */
  disable(): void {
    this.disabled = true;
    this.metrics.healthy.labels(this.name).set(0);
    this.stopProbing();
  }

  close(): void {
    this.closed = true;
    this.stopProbing();
    this.tcp?.shutdown();
    this.tcp = null;
    this.readySockets.close();
    for (const cancel of [...this.live]) cancel();
  }
}

function rcodeLabel(rcode: number): string {
  switch (rcode) {
    case 0: return 'NOERROR';
    case 1: return 'FORMERR';
    case 2: return 'SERVFAIL';
    case 3: return 'NXDOMAIN';
    case 4: return 'NOTIMP';
    case 5: return 'REFUSED';
    default: return 'RCODE' + rcode;
  }
}

/**
 * One UDP exchange on a fresh connected socket (`ready`: one opened ahead for this query, else opened
 * here). Resolves with the first datagram that matches `msg` (ID and question), 'timeout', or 'error'
 * (ICMP unreachable, send failure). The socket is closed when it resolves.
 */
export function udpExchange(
  host: string, port: number, msg: Buffer, timeoutMs: number, live?: Set<() => void>, ready: dgram.Socket | null = null,
): Promise<UpstreamOutcome> {
  return new Promise((resolve) => {
    const sock = ready ?? openSocket(host);
    const qEnd = questionEndOf(msg);
    let done = false;
    const finish = (r: UpstreamOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      live?.delete(cancel);
      closeQuietly(sock);
      resolve(r);
    };
    const cancel = (): void => finish('error');
    live?.add(cancel);
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    sock.on('error', () => finish('error'));
    sock.on('message', (data: Buffer, rinfo: dgram.RemoteInfo) => {
      // The socket is connected, so the kernel already filters; checking again costs nothing.
      if (rinfo.port !== port || (rinfo.family === 'IPv4' && !sameHost(rinfo.address, host))) return;
      if (matchesQuery(data, msg, qEnd)) finish(data);
    });
    const send = (): void => {
      if (done) return;
      sock.send(msg, (err) => { if (err) finish('error'); });
    };
    if (ready !== null) send();
    else sock.connect(port, host, send);
  });
}

function sameHost(a: string, b: string): boolean {
  return a === b || a === '::ffff:' + b || b === '::ffff:' + a;
}
