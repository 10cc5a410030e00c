// One kdns per DNS address. SO_REUSEPORT lets a second kdns bind beside a running one and silently split
// the traffic, so before binding a fixed port each kdns claims the address with a Linux abstract unix
// socket named after it. The kernel frees the name when the process dies (no stale lock files), and the
// name is per network namespace, as ports are. A kdns that finds the name taken asks the holder who it
// is and refuses to start (exit 2). The same socket is where `--takeover` will hand the sockets over.

import net from 'node:net';
import type { ListenAddress } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { KDNS_VERSION } from '../config/version.js';

const ASK_TIMEOUT_MS = 1000;

export interface PortClaim {
  release(): Promise<void>;
}

/** The abstract socket name for one DNS address ('\0' makes it abstract; it never touches the disk). */
export function claimName(addr: ListenAddress): string {
  return `\0kdns/dns/${addr.host}/${addr.port}`;
}

/** Claims every fixed-port address (port 0 is ephemeral, never shared); throws ConfigError when one is taken. */
export async function claimListenAddresses(addrs: ListenAddress[]): Promise<PortClaim> {
  const servers: net.Server[] = [];
  const release = async (): Promise<void> => {
    await Promise.all(servers.map((s) => new Promise<void>((done) => s.close(() => done()))));
  };
  try {
    for (const addr of addrs) {
      if (addr.port === 0) continue;
      servers.push(await claim(addr));
    }
  } catch (e) {
    await release();
    throw e;
  }
  return { release };
}

function claim(addr: ListenAddress): Promise<net.Server> {
  const server = net.createServer((conn) => {
    // Whoever asks learns who serves the address; nothing else is said on this socket yet.
    conn.end(JSON.stringify({ pid: process.pid, version: KDNS_VERSION }) + '\n');
    conn.on('error', () => { /* the asker went away */ });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EADDRINUSE') {
        reject(err);
        return;
      }
      void holderOf(addr).then((holder) => reject(new ConfigError(null, null,
        `${hostPort(addr)} is already served by kdns${holder === null ? '' : ` pid ${holder.pid} (${holder.version})`}; `
        + 'stop it first (a second kdns on the same port would split the traffic through SO_REUSEPORT)')));
    });
    server.listen(claimName(addr), () => {
      server.unref(); // the claim alone must not keep the process alive
      resolve(server);
    });
  });
}

/** Asks the kdns holding the claim who it is; null when it does not say in time. */
function holderOf(addr: ListenAddress): Promise<{ pid: number; version: string } | null> {
  return new Promise((resolve) => {
    let text = '';
    const conn = net.connect(claimName(addr));
    const timer = setTimeout(() => { conn.destroy(); resolve(null); }, ASK_TIMEOUT_MS);
    conn.setEncoding('utf8');
    conn.on('data', (chunk: string) => { text += chunk; });
    conn.on('error', () => { clearTimeout(timer); resolve(null); });
    conn.on('end', () => {
      clearTimeout(timer);
      try {
        const said = JSON.parse(text) as { pid: number; version: string };
        resolve(typeof said.pid === 'number' ? said : null);
      } catch {
        resolve(null);
      }
    });
  });
}

function hostPort(addr: ListenAddress): string {
  return addr.host.includes(':') ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}
