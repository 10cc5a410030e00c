// The observability endpoints: /health (the process serves), /ready (every source has synced),
// /metrics (Prometheus text), POST /cache/flush (the forwarder caches, for a caller with the API token)
// when forwarding is on, and whatever `api` handles (/api/v1). Plain node:http: a handful of fixed
// routes do not need a framework.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ListenAddress } from '../config/types.js';
import type { BearerAuth } from './auth.js';
import { listeningFd } from '../takeover/sockets.js';

export interface HttpDeps {
  registry: Registry;
  /** True once every source has synced; a kdns that is not ready must not get traffic. */
  isReady(): boolean;
  /** Names of what has not synced yet, for the /ready body (e.g. ["kubernetes"]). */
  notReady?(): string[];
  /** Said in /ready's body while ready, when there is something to say (e.g. serving a snapshot). */
  readyNote?(): string | null;
  log: Logger;
  /** The /metrics text when it is more than this registry (worker threads' metrics aggregated in). */
  metrics?(): Promise<{ body: string; contentType: string }>;
  /** POST /cache/flush: empties the forwarder caches; absent when kdns does not forward (404). */
  flushCache?(): Promise<number>;
  /** Who may change state (cache flush, API writes); absent: nobody (403). */
  auth?: BearerAuth;
  /** More routes (the /api/v1 REST API): true when it handled the request. */
  api?(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
}

export interface HttpServer {
  port: number;
  /** The listening socket's fd (null where Node does not expose it), for a takeover's successor. */
  fd: number | null;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(body);
}

async function handle(req: IncomingMessage, res: ServerResponse, deps: HttpDeps): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://kdns.invalid');
  if (deps.api !== undefined && await deps.api(req, res, url)) return;
  const path = url.pathname;
  if (path === '/cache/flush' && deps.flushCache !== undefined) {
    if (req.method !== 'POST') {
      send(res, 405, 'method not allowed\n', { allow: 'POST' });
      return;
    }
    const verdict = deps.auth?.check(req) ?? 403;
    if (verdict === 403) {
      send(res, 403, 'forbidden: start kdns with --api-token-file to allow cache flushes\n');
      return;
    }
    if (verdict === 401) {
      send(res, 401, 'expected the header Authorization: Bearer <token from --api-token-file>\n', { 'www-authenticate': 'Bearer realm="kdns"' });
      return;
    }
    const flushed = await deps.flushCache();
    deps.log.info({ flushed }, 'forwarder cache flushed');
    send(res, 200, JSON.stringify({ flushed }) + '\n', { 'content-type': 'application/json' });
    return;
  }
  if (path !== '/health' && path !== '/ready' && path !== '/metrics') {
    send(res, 404, 'not found\n');
    return;
  }
  if (req.method !== 'GET') {
    send(res, 405, 'method not allowed\n', { allow: 'GET' });
    return;
  }
  if (path === '/health') {
    send(res, 200, 'OK');
  } else if (path === '/ready') {
    if (deps.isReady()) {
      const note = deps.readyNote?.() ?? null;
      send(res, 200, note === null ? 'OK' : `OK: ${note}\n`);
    } else {
      const pending = deps.notReady?.() ?? [];
      send(res, 503, pending.length > 0 ? `not ready: waiting for ${pending.join(', ')} to sync\n` : 'not ready\n');
    }
  } else {
    if (deps.metrics !== undefined) {
      const { body, contentType } = await deps.metrics();
      send(res, 200, body, { 'content-type': contentType });
    } else {
      const body = await deps.registry.metrics();
      send(res, 200, body, { 'content-type': deps.registry.contentType });
    }
  }
}

/** Serves on `addr`, or on `adoptedFd` (a listener handed over by the kdns taken over, src/takeover). */
export function startHttp(addr: ListenAddress, deps: HttpDeps, adoptedFd: number | null = null): Promise<HttpServer> {
  // Callers usually pass log.child({ component: 'http' }); binding it twice would repeat the key.
  const log = deps.log.bindings().component === 'http' ? deps.log : deps.log.child({ component: 'http' });
  const server = createServer((req, res) => {
    handle(req, res, deps).catch((err: unknown) => {
      log.error({ err, url: req.url }, 'request failed');
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
  // Scrapers and probes hold keep-alive connections; close() must not wait for them.
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const listening = (): void => {
      server.off('error', reject);
      server.on('error', (err) => log.error({ err }, 'server error'));
      const port = (server.address() as AddressInfo).port;
      log.info({ host: addr.host, port }, 'serving /metrics /health /ready');
      resolve({
        port,
        fd: listeningFd(server),
        close: () => new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections();
        }),
      });
    };
    if (adoptedFd === null) server.listen(addr.port, addr.host, listening);
    else server.listen({ fd: adoptedFd }, listening);
  });
}
