// One upstream server: how a query gets there and back, and whether the server is usable.
// Plain upstreams: UDP uses a fresh connected socket per query, opened in C by the native engine's datagram
// link (datagram-link.ts) when there is one, else a dgram socket opened just ahead of need (ready-sockets.ts):
// the kernel picks a random source port and drops datagrams from any other address or port, and with a
// random ID that makes blind spoofing a 32-bit guess (RFC 5452). Answers are also matched on ID and
// question; anything else is ignored, not fatal. TCP (for TCP clients and truncated answers) goes over one
// reused, pipelined connection. TLS upstreams (RFC 7858) carry every query over one long-lived, pipelined
// TLS connection whose certificate must carry the configured name. Health (upstream-health.ts): down
// after N consecutive failures or at once when refused, probed in the background until it answers.
// In-flight queries are capped: past the cap the caller moves on or answers SERVFAIL, never queues.

import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { randomId16 } from '../util/random-ids.js';
import type { Logger } from 'pino';
import type { UpstreamAddress } from '../config/types.js';
import { CLASS_IN, TYPE_NS } from '../dns/constants.js';
import { datagramTarget, type Cancellable, type DatagramLink, type DatagramTarget } from './datagram-link.js';
import { buildUpstreamQuery, matchesQuery, questionEndOf } from './message.js';
import type { ForwardMetrics, PendingCount } from './metrics.js';
import { TcpChannel } from './tcp-channel.js';
import { closeQuietly, openSocket, ReadySockets } from './ready-sockets.js';
import { UpstreamHealth, type FailureReason } from './upstream-health.js';

/** How an upstream query travels, as the upstream tap is told. */
export const UPSTREAM_UDP = 0;
export const UPSTREAM_TCP = 1;
export const UPSTREAM_TLS = 2;

/** Sees each query sent to an upstream and its answer (dnstap, src/dnstap). */
export interface UpstreamTap {
  /** Logs a query; false when sampling skips it (its answer is not logged either). */
  upstreamQuery(host: string, port: number, transport: number, msg: Buffer): boolean;
  upstreamResponse(host: string, port: number, transport: number, msg: Buffer): void;
}

/** A usable answer (any rcode), or why there is none. */
export type UpstreamOutcome = Buffer | FailureReason | 'busy';

export interface UpstreamSettings {
  maxInFlight: number;
  failuresBeforeDown: number;
  probeIntervalMs: number;
  probeMaxIntervalMs: number;
  probeTimeoutMs: number;
  tcpIdleTimeoutMs: number;
  /** Trusted CAs for TLS upstreams; undefined: Node's default list. */
  tlsCa: string[] | undefined;
}

const ROOT_WIRE = Buffer.from([0]);
/** Sockets kept open ahead of queries per upstream; the first query fills the pool (no fds held before). */
const READY_SOCKETS = 4;

/** `host#port` (dnsmasq's spelling), or `tls://host#port@name` for DNS over TLS: the metrics' label. */
export function upstreamName(a: UpstreamAddress): string {
  const hostPort = a.host + '#' + a.port;
  return a.tls === undefined ? hostPort : 'tls://' + hostPort + (a.tls.serverName === null ? '' : '@' + a.tls.serverName);
}

export class Upstream {
  readonly host: string;
  readonly port: number;
  readonly name: string;
  /** DNS over TLS: every query goes over the TLS connection, UDP never. */
  readonly tls: { serverName: string | null } | undefined;
  inFlight = 0;
  /** Set by the loop guard; a disabled upstream is never used again in this process. */
  disabled = false;
  requests = 0;
  failures = 0;
  /** TCP or TLS connections opened so far. */
  connections = 0;
  private readonly health: UpstreamHealth;
  private stream: TcpChannel | null = null;
  /** TLS session of the last connection, offered on the next one to skip a full handshake. */
  private tlsSession: Buffer | undefined;
  /** UDP sockets opened ahead, one per query (ready-sockets.ts); unused by TLS upstreams. */
  private readonly readySockets: ReadySockets;
  /** Cancels for UDP exchanges in progress, so close() ends them at once instead of at their timeouts. */
  private readonly live = new Set<Cancellable>();
  private closed = false;
  /** Query logging (set by Forwarder.setTap); null: off. */
  tap: UpstreamTap | null = null;
  /** The native datagram link (set by Forwarder.setDatagramLink); null: dgram sockets. */
  private link: DatagramLink | null = null;
  /** This upstream's address as the link takes it; null when the link cannot carry it. */
  private readonly target: DatagramTarget | null;
  private readonly settings: UpstreamSettings;
  private readonly metrics: ForwardMetrics;
  private readonly log: Logger;
  /** Counts on the query path as plain numbers (prom-client hashes label values on every inc). */
  private readonly counters: {
    requests: PendingCount[];
    responses: Array<PendingCount | undefined>;
    rtt: { observe(v: number): void };
  };

  constructor(address: UpstreamAddress, settings: UpstreamSettings, metrics: ForwardMetrics, log: Logger) {
    this.host = address.host;
    this.port = address.port;
    this.tls = address.tls;
    this.name = upstreamName(address);
    this.settings = settings;
    this.metrics = metrics;
    this.log = log;
    this.counters = {
      requests: ['udp', 'tcp', 'tls'].map((proto) => metrics.pending(metrics.requests, this.name, proto)),
      responses: [],
      rtt: metrics.rtt.labels(this.name),
    };
    this.readySockets = new ReadySockets(this.host, this.port, this.tls === undefined ? READY_SOCKETS : 0);
    this.target = this.tls === undefined ? datagramTarget(this.host, this.port) : null;
    this.health = new UpstreamHealth(this.name, settings, {
      probe: () => this.probe(),
      changed: (up) => { if (!this.disabled) metrics.up.labels(this.name).set(up ? 1 : 0); },
    }, log);
    metrics.up.labels(this.name).set(1);
  }

  /** In use: not down and not disabled by the loop guard. */
  get healthy(): boolean {
    return this.health.healthy && !this.disabled;
  }

  /** UDP queries go through `link` from now on (null: dgram sockets again); TLS upstreams never use UDP. */
  useLink(link: DatagramLink | null): void {
    this.link = this.target === null ? null : link;
    if (this.link !== null) this.readySockets.close(); // its sockets would only idle
    else if (!this.closed) this.readySockets.reopen();
  }

  /** UDP exchanges waiting for an answer (each holds a socket). */
  get udpInFlight(): number {
    return this.live.size;
  }

  /** How this upstream's UDP queries travel: the native link, or Node's dgram sockets. */
  get udpVia(): 'addon' | 'dgram' {
    return this.link !== null ? 'addon' : 'dgram';
  }

  /** True when a query may be sent now without passing the in-flight cap. */
  hasCapacity(): boolean {
    return this.inFlight < this.settings.maxInFlight;
  }

  /** Counts a query not sent because this server is at its in-flight cap. */
  noteBusy(): void {
    this.metrics.maxConcurrentRejects.labels(this.name).inc();
  }

  /**
   * Sends one query (our own message, which this may re-ID for TCP/TLS) and calls `done` once with the
   * answer or why there is none, after at most `timeoutMs` ('busy' at once past the in-flight cap).
   */
  exchange(msg: Buffer, useTcp: boolean, timeoutMs: number, done: (r: UpstreamOutcome) => void): void {
    if (this.closed) { done('error'); return; }
    if (!this.hasCapacity()) {
      this.noteBusy();
      done('busy');
      return;
    }
    this.inFlight++;
    this.requests++;
    const transport = this.tls !== undefined ? UPSTREAM_TLS : useTcp ? UPSTREAM_TCP : UPSTREAM_UDP;
    this.counters.requests[transport]!.n++;
    const started = performance.now();
    const logged = this.tap !== null && this.tap.upstreamQuery(this.host, this.port, transport, msg);
    this.send(msg, useTcp, timeoutMs, this.readySockets, (result) => {
      this.inFlight--;
      const rtt = performance.now() - started;
      if (typeof result === 'string') {
        // A failure is counted first: the next attempt must see this server's health (down: no second send)
        // and the failure's detail (the TLS error) before a retry replaces the connection.
        this.account(result, useTcp, transport, logged, rtt);
        done(result);
      } else {
        // An answer goes on to the client first; metrics, health and the log after it, off its path.
        done(result);
        this.account(result, useTcp, transport, logged, rtt);
      }
      // The next query's socket is opened now that this answer is out: never between a query and its answer.
      if (transport === UPSTREAM_UDP && this.link === null) this.readySockets.refill();
    });
  }

  /** Metrics and health for one finished exchange. */
  private account(result: Buffer | FailureReason, useTcp: boolean, transport: number, logged: boolean, rttMs: number): void {
    if (typeof result === 'string') {
      this.failures++;
      this.metrics.failures.labels(this.name, result).inc();
      // A plain upstream refusing TCP may still serve UDP, which carries nearly all its queries: that counts
      // as one failure among N, not as "nobody there".
      const healthReason = result === 'refused' && useTcp && this.tls === undefined ? 'error' : result;
      this.health.noteFailure(healthReason, this.failureDetail(result));
    } else {
      if (logged) this.tap?.upstreamResponse(this.host, this.port, transport, result);
      this.counters.rtt.observe(rttMs / 1000);
      this.responsesCounter(result[3]! & 0x0f).n++;
      this.health.noteSuccess();
    }
  }

  /** The responses counter for `rcode`, its label child looked up once. */
  private responsesCounter(rcode: number): PendingCount {
    let c = this.counters.responses[rcode];
    if (c === undefined) c = this.counters.responses[rcode] = this.metrics.pending(this.metrics.responses, this.name, rcodeLabel(rcode));
    return c;
  }

  /** The transport: TLS for a TLS upstream, else TCP when asked, else UDP (a ready socket when `ready` has one). */
  private send(msg: Buffer, useTcp: boolean, timeoutMs: number, ready: ReadySockets | null, done: (r: Buffer | FailureReason) => void): void {
    if (this.tls !== undefined || useTcp) {
      this.streamChannel().query(msg, timeoutMs).then(done, () => done('error'));
      return;
    }
    if (this.link !== null) this.link.exchange(this.target!, msg, timeoutMs, this.live, done);
    else udpExchange(this.host, this.port, msg, timeoutMs, this.live, ready?.take() ?? null, done);
  }

  private sendAsync(msg: Buffer, timeoutMs: number): Promise<Buffer | FailureReason> {
    return new Promise((resolve) => this.send(msg, false, timeoutMs, null, resolve));
  }

  /** The open connection, or a new one (a TLS upstream's is TLS; a plain upstream's is TCP). */
  private streamChannel(): TcpChannel {
    if (this.stream !== null && !this.stream.closed) return this.stream;
    this.connections++;
    this.metrics.connections.labels(this.name, this.tls !== undefined ? 'tls' : 'tcp').inc();
    const idle = this.settings.tcpIdleTimeoutMs;
    if (this.tls === undefined) {
      this.stream = new TcpChannel(net.createConnection({ host: this.host, port: this.port }), idle, false);
      return this.stream;
    }
    const socket = tls.connect({
      host: this.host, port: this.port,
      // SNI and the name checked against the certificate; without a name the certificate must carry the IP.
      servername: this.tls.serverName ?? undefined,
      ca: this.settings.tlsCa,
      session: this.tlsSession,
    });
    socket.on('session', (s: Buffer) => { this.tlsSession = s; });
    this.stream = new TcpChannel(socket, idle, true);
    return this.stream;
  }

  /** What the log line of a TLS upstream's failure says beyond the reason: the TLS or socket error. */
  private failureDetail(reason: FailureReason): string | undefined {
    if (reason === 'timeout' || this.tls === undefined || this.stream === null || this.stream.lastError === null) return undefined;
    const e = this.stream.lastError;
    return e.code === undefined ? e.message : `${e.code}: ${e.message}`;
  }

  /** `. NS` over the upstream's own transport; any matching answer, whatever its rcode, means the server is back. */
  private async probe(): Promise<boolean> {
    if (this.closed) return false;
    const q = buildUpstreamQuery(randomId16(), ROOT_WIRE, TYPE_NS, CLASS_IN, false, false);
    const started = performance.now();
    const r = await this.sendAsync(q, this.settings.probeTimeoutMs);
    if (typeof r === 'string') {
      this.metrics.healthcheckFailures.labels(this.name).inc();
      this.log.debug({ upstream: this.name, reason: r, detail: this.failureDetail(r) }, 'health probe failed');
      return false;
    }
    this.counters.rtt.observe((performance.now() - started) / 1000);
    return true;
  }

  /** One exchange outside the counting and health logic (the loop guard's probe). */
  rawExchange(msg: Buffer, timeoutMs: number): Promise<Buffer | FailureReason> {
    if (this.closed) return Promise.resolve('error');
    return this.sendAsync(msg, timeoutMs);
  }

  /** The loop guard found that this server sends our queries back to us. */
  disable(): void {
    this.disabled = true;
    this.metrics.up.labels(this.name).set(0);
    this.health.stop();
  }

  close(): void {
    this.closed = true;
    this.health.stop();
    this.stream?.shutdown();
    this.stream = null;
    this.readySockets.close();
    for (const x of [...this.live]) x.cancel();
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

/** The exchange a socket carries, found by the handlers below (shared by every socket: no closures per query). */
const EXCHANGE = Symbol('kdns.udpExchange');
type ExchangeSocket = dgram.Socket & { [EXCHANGE]?: UdpExchange };

/**
 * One UDP exchange on a fresh connected socket (`ready`: one opened ahead for this query, else opened
 * here). Calls `resolve` once with the first datagram that matches `msg` (ID and question), 'timeout', or
 * 'error' (send failure), 'refused' (ICMP port unreachable). The socket is closed when it resolves.
 */
export function udpExchange(
  host: string, port: number, msg: Buffer, timeoutMs: number, live: Set<Cancellable> | undefined, ready: dgram.Socket | null,
  resolve: (r: Buffer | FailureReason) => void,
): void {
  const sock = (ready ?? openSocket(host)) as ExchangeSocket;
  const x = new UdpExchange(sock, host, port, msg, timeoutMs, live, resolve);
  sock[EXCHANGE] = x;
  // A connected socket gets the ICMP port unreachable of an earlier send as ECONNREFUSED.
  sock.on('error', onExchangeError);
  sock.on('message', onExchangeMessage);
  if (ready !== null) x.send();
  else sock.connect(port, host, onExchangeConnected);
}

class UdpExchange implements Cancellable {
  private done = false;
  private readonly timer: NodeJS.Timeout;
  private readonly questionEnd: number;

  constructor(
    private readonly sock: ExchangeSocket,
    readonly host: string,
    readonly port: number,
    private readonly msg: Buffer,
    timeoutMs: number,
    private readonly live: Set<Cancellable> | undefined,
    private readonly resolve: (r: Buffer | FailureReason) => void,
  ) {
    this.questionEnd = questionEndOf(msg);
    this.timer = setTimeout(onExchangeTimeout, timeoutMs, this);
    live?.add(this);
  }

  send(): void {
    if (this.done) return;
    // No callback: libuv then tries the send at once (uv_udp_try_send) instead of queuing a request and
    // calling back; a failure comes as an 'error' event, handled by onExchangeError.
    this.sock.send(this.msg);
  }

  /** A datagram: the socket is connected, so the kernel already filters; checking again costs nothing. */
  message(data: Buffer, rinfo: dgram.RemoteInfo): void {
    if (rinfo.port !== this.port || (rinfo.family === 'IPv4' && !sameHost(rinfo.address, this.host))) return;
    if (matchesQuery(data, this.msg, this.questionEnd)) this.finish(data);
  }

  cancel(): void {
    this.finish('error');
  }

  finish(r: Buffer | FailureReason): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.live?.delete(this);
    this.sock[EXCHANGE] = undefined;
    this.resolve(r);
    closeQuietly(this.sock); // after the answer went on: the close is not on its path
  }
}

function onExchangeMessage(this: ExchangeSocket, data: Buffer, rinfo: dgram.RemoteInfo): void {
  this[EXCHANGE]?.message(data, rinfo);
}

function onExchangeError(this: ExchangeSocket, err: Error & { code?: string }): void {
  this[EXCHANGE]?.finish(err.code === 'ECONNREFUSED' ? 'refused' : 'error');
}

function onExchangeConnected(this: ExchangeSocket): void {
  this[EXCHANGE]?.send();
}

function onExchangeTimeout(x: UdpExchange): void {
  x.finish('timeout');
}

function sameHost(a: string, b: string): boolean {
  return a === b || a === '::ffff:' + b || b === '::ffff:' + a;
}
