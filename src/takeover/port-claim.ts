// One kdns per DNS address. SO_REUSEPORT lets a second kdns bind beside a running one and silently split
// the traffic, so before binding a fixed port each kdns claims the address with a Linux abstract unix
// socket named after it. The kernel frees the name when the process dies (no stale lock files), and the
// name is per network namespace, as ports are. A kdns that finds the name taken asks the holder who it
// is and refuses to start (exit 2), or, with --takeover, asks it for its sockets (hand-off.ts).

import net from 'node:net';
import type { Logger } from 'pino';
import type { EngineName, ListenAddress } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { KDNS_VERSION } from '../config/version.js';
import { loadNative, nativeUnavailableReason } from '../engine/native-binding.js';
import { Holder, requestSockets, type Adoption, type HolderOptions, type NamedSocket } from './hand-off.js';
import { JsonLines, record } from './lines.js';
import { listeningFd } from './sockets.js';

const ASK_TIMEOUT_MS = 1000;
/** How long an asker may stay connected without saying what it wants. */
const IDLE_TIMEOUT_MS = 10_000;

export interface PortClaim {
  release(): Promise<void>;
  /** With --takeover, the sockets of the kdns taken over (not yet told this one serves); else null. */
  readonly adoption: Adoption | null;
  /** From now on a `kdns --takeover` may take the sockets over; `takenOver` runs once it serves. */
  serveTakeovers(opts: Omit<HolderOptions, 'claims'>): void;
}

export interface ClaimOptions {
  /** --takeover: a held address is taken over instead of refused. */
  takeover: boolean;
  engine: EngineName;
  log: Logger;
}

/** Who answers takeover requests on the claim sockets: nobody until the server runs. */
interface ClaimState {
  holder: Holder | null;
}

/** The abstract socket name for one DNS address ('\0' makes it abstract; it never touches the disk). */
export function claimName(addr: ListenAddress): string {
  return `\0kdns/dns/${addr.host}/${addr.port}`;
}

/**
 * Claims every fixed-port address (port 0 is ephemeral, never shared). A taken one throws ConfigError, or
 * with `takeover` is taken over: the holder's sockets, claims included, come in `adoption`.
 */
export async function claimListenAddresses(addrs: ListenAddress[], opts: ClaimOptions): Promise<PortClaim> {
  const state: ClaimState = { holder: null };
  const claimed: Array<{ server: net.Server; addr: ListenAddress }> = [];
  let adoption: Adoption | null = null;
  const release = async (): Promise<void> => {
    await Promise.all(claimed.map(({ server }) => new Promise<void>((done) => server.close(() => done()))));
  };
  try {
    for (const addr of addrs) {
      if (addr.port === 0) continue;
      const server = await claim(addr, state);
      if (server !== null) {
        claimed.push({ server, addr });
        continue;
      }
      // Taken. The successor of a kdns takes over all its addresses at once, its claims included.
      if (!opts.takeover) throw await takenError(addr);
      if (claimed.length > 0) {
        throw new ConfigError(null, null, `--takeover: ${hostPort(addr)} is served by another kdns, but ${hostPort(claimed[0]!.addr)} is not: `
          + 'the kdns taken over must serve the same --listen addresses');
      }
      adoption = await takeOver(addr, addrs, opts);
      for (const c of adoption.claims) claimed.push({ server: await adoptClaim(c.fd, state), addr: c });
      break;
    }
  } catch (e) {
    await release();
    throw e;
  }
  if (opts.takeover && adoption === null) {
    opts.log.info({ component: 'takeover' }, 'takeover: no kdns serves these addresses; starting afresh');
  }
  return {
    release,
    adoption,
    serveTakeovers(holder) {
      const claims: NamedSocket[] = claimed.flatMap(({ server, addr }) => {
        const fd = listeningFd(server);
        return fd === null ? [] : [{ host: addr.host, port: addr.port, fd }];
      });
      state.holder = new Holder({ ...holder, claims });
    },
  };
}

async function takeOver(addr: ListenAddress, addrs: ListenAddress[], opts: ClaimOptions): Promise<Adoption> {
  if (opts.engine === 'node') {
    throw new ConfigError(null, null, `--takeover needs the native engine: the node engine's dgram sockets cannot adopt a socket (${hostPort(addr)} is served)`);
  }
  const binding = loadNative();
  if (binding === null) throw new ConfigError(null, null, `--takeover needs the native engine, which is not available: ${nativeUnavailableReason()}`);
  return requestSockets(binding, claimName(addr), hostPort(addr), addrs, opts.log);
}

/** Who asks learns who serves the address; a successor may then ask for the sockets. */
function answerAsker(conn: net.Socket, state: ClaimState): void {
  const lines = new JsonLines(conn);
  lines.send({ pid: process.pid, version: KDNS_VERSION, takeover: true });
  void lines.next(IDLE_TIMEOUT_MS).then(async (asked) => {
    const request = record(record(asked)?.takeover);
    if (request !== null) {
      if (state.holder === null) lines.send({ error: `kdns pid ${process.pid} is still starting` });
      else await state.holder.answer(lines, request);
    }
    conn.end();
  });
}

function listenClaim(server: net.Server, target: string | { fd: number }): Promise<net.Server | null> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve(null);
      else reject(err);
    });
    const onListening = (): void => {
      server.unref(); // the claim alone must not keep the process alive
      resolve(server);
    };
    if (typeof target === 'string') server.listen(target, onListening);
    else server.listen(target, onListening);
  });
}

function claimServer(state: ClaimState): net.Server {
  return net.createServer((conn) => {
    conn.on('error', () => { /* the asker went away */ });
    answerAsker(conn, state);
  });
}

/** The claim socket, or null when another process holds the name. */
function claim(addr: ListenAddress, state: ClaimState): Promise<net.Server | null> {
  return listenClaim(claimServer(state), claimName(addr));
}

/** A claim socket handed over by the kdns taken over. */
async function adoptClaim(fd: number, state: ClaimState): Promise<net.Server> {
  return (await listenClaim(claimServer(state), { fd }))!;
}

async function takenError(addr: ListenAddress): Promise<ConfigError> {
  const holder = await holderOf(addr);
  return new ConfigError(null, null,
    `${hostPort(addr)} is already served by kdns${holder === null ? '' : ` pid ${holder.pid} (${holder.version})`}; `
    + 'stop it first, or start this one with --takeover (a second kdns on the same port would split the traffic through SO_REUSEPORT)');
}

/** Asks the kdns holding the claim who it is; null when it does not say in time. */
async function holderOf(addr: ListenAddress): Promise<{ pid: number; version: string } | null> {
  const conn = net.connect(claimName(addr));
  conn.on('error', () => { /* reported as null below */ });
  const said = record(await new JsonLines(conn).next(ASK_TIMEOUT_MS));
  conn.destroy();
  return typeof said?.pid === 'number' ? { pid: said.pid, version: String(said.version) } : null;
}

function hostPort(addr: ListenAddress): string {
  return addr.host.includes(':') ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}
