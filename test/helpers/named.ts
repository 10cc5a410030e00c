// Runs BIND 9 (named) as a reference authoritative server for differential tests.
// The configuration mirrors the choices kdns makes: authoritative only, no recursion, EDNS 1232,
// no cookies, no NOTIFY, additional data but no NS in authority for positive answers
// (minimal-responses no-auth). Everything named writes lives in one temp dir removed by stop().
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dnsPacket from 'dns-packet';
import { query } from './dns-client.js';

export const NAMED_BIN = process.env.KDNS_NAMED ?? '/usr/sbin/named';
export const NAMED_CHECKCONF_BIN = process.env.KDNS_NAMED_CHECKCONF ?? '/usr/bin/named-checkconf';

export interface NamedZone {
  /** The zone file (a primary's content; a secondary's copy is written here). */
  file: string;
  origin: string;
  /** A secondary zone: transferred from this primary (zone transfers, NOTIFY accepted from it). */
  primary?: { host: string; port: number };
}

export interface NamedHandle {
  port: number;
  pid: number;
  dir: string;
  /** Stops named (SIGTERM, then SIGKILL after a grace period) and removes its temp dir. */
  stop(): Promise<void>;
  /** The last 20,000 characters named logged. */
  log(): string;
}

const live = new Set<ChildProcess>();
// Last resort: never leave a named behind when the test process itself goes away.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** A loopback port free for both TCP and UDP right now (named binds both). Bounded tries. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const sock = dgram.createSocket('udp4');
      sock.once('error', () => resolve(false));
      sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('freePort: no port free for both TCP and UDP after 20 tries');
}

function absOrigin(origin: string): string {
  return origin.endsWith('.') ? origin : origin + '.';
}

function quote(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

/** What a test adds to the standard named: statements inside `options { }` and the thread count (`-n`). */
export interface NamedExtras {
  /** e.g. `rate-limit { responses-per-second 10; };` */
  options?: string[];
  /** Worker threads (`named -n`); one keeps answers to one socket in the order of the queries. */
  threads?: number;
  /** Listen on this port instead of a free one picked here (a primary must know it to NOTIFY). */
  port?: number;
}

/** The named.conf text for these zones in `dir`, listening on 127.0.0.1#port only. */
export function namedConf(dir: string, port: number, zones: NamedZone[], answerCookie = true, extraOptions: string[] = []): string {
  const lines = [
    'options {',
    `  directory ${quote(dir)};`,
    `  pid-file ${quote(path.join(dir, 'named.pid'))};`,
    `  session-keyfile ${quote(path.join(dir, 'session.key'))};`,
    `  managed-keys-directory ${quote(dir)};`,
    `  dump-file ${quote(path.join(dir, 'named_dump.db'))};`,
    `  statistics-file ${quote(path.join(dir, 'named.stats'))};`,
    `  listen-on port ${port} { 127.0.0.1; };`,
    '  listen-on-v6 { none; };',
    '  recursion no;',
    '  minimal-responses no-auth;',
    '  minimal-any no;',
    '  edns-udp-size 1232;',
    '  max-udp-size 1232;',
    '  notify no;',
    '  dnssec-validation no;',
    ...(answerCookie ? ['  answer-cookie no;'] : []),
    ...extraOptions.map((o) => `  ${o}`),
    '};',
    'controls { };',
  ];
  for (const z of zones) {
    const file = `file ${quote(path.resolve(z.file))};`;
    lines.push(z.primary === undefined
      ? `zone ${quote(absOrigin(z.origin))} { type primary; ${file} };`
      : `zone ${quote(absOrigin(z.origin))} { type secondary; primaries { ${z.primary.host} port ${z.primary.port}; }; ${file} };`);
  }
  return lines.join('\n') + '\n';
}

function soaQuery(origin: string): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: 4242,
    flags: 0,
    questions: [{ type: 'SOA', class: 'IN', name: absOrigin(origin).replace(/\.$/, '') || '.' }],
  });
}

/** Starts named on a free loopback port and resolves once it answers SOA for the first zone. */
export async function startNamed(zones: NamedZone[], opts: { startTimeoutMs?: number } & NamedExtras = {}): Promise<NamedHandle> {
  if (zones.length === 0) throw new Error('startNamed: at least one zone is needed');
  const dir = mkdtempSync(path.join(tmpdir(), 'kdns-named-'));
  try {
    // Two tries: the free port we picked may be taken by someone else before named binds it.
    let lastErr: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      const port = opts.port ?? await freePort();
      try {
        return await launch(dir, port, zones, opts.startTimeoutMs ?? 15000, opts);
      } catch (err) {
        lastErr = err;
      }
    }
    throw lastErr;
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function launch(dir: string, port: number, zones: NamedZone[], startTimeoutMs: number, extras: NamedExtras): Promise<NamedHandle> {
  const confPath = path.join(dir, 'named.conf');
  let conf = namedConf(dir, port, zones, true, extras.options);
  writeFileSync(confPath, conf);
  const check = spawnSync(NAMED_CHECKCONF_BIN, [confPath], { encoding: 'utf8', timeout: 10000 });
  if (check.status !== 0 && /answer-cookie/.test(check.stdout + check.stderr)) {
    conf = namedConf(dir, port, zones, false, extras.options); // older named without answer-cookie
    writeFileSync(confPath, conf);
  }
  const threads = extras.threads === undefined ? [] : ['-n', String(extras.threads)];
  const child: ChildProcess = spawn(NAMED_BIN, ['-g', ...threads, '-c', confPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  live.add(child);
  let log = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => {
    log = (log + s).slice(-20000);
  });
  let exited: number | null = null;
  const exitPromise = new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      exited = code ?? (signal ? 128 : 1);
      resolve(exited);
    });
  });
  const stop = async (): Promise<void> => {
    if (exited === null && child.pid !== undefined) {
      child.kill('SIGTERM');
      const t = setTimeout(() => {
        if (exited === null) child.kill('SIGKILL');
      }, 5000);
      await exitPromise;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + startTimeoutMs;
  const probe = soaQuery(zones[0].origin);
  while (Date.now() < deadline) {
    if (exited !== null) break;
    try {
      const res = dnsPacket.decode(await query(port, probe, { timeoutMs: 300, attempts: 1 }));
      if (((res.flags ?? 0) & 0xf) === 0 && (res.answers ?? []).some((a) => a.type === 'SOA')) {
        // Zones load in order; the last one loaded means all of them are.
        const last = dnsPacket.decode(await query(port, soaQuery(zones[zones.length - 1].origin), { timeoutMs: 1000 }));
        if (((last.flags ?? 0) & 0xf) === 0) return { port, pid: child.pid as number, dir, stop, log: () => log };
      }
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const why = exited !== null ? `exited with ${exited}` : `did not answer within ${startTimeoutMs} ms`;
  await stopKeepingDir(child, exitPromise, () => exited);
  throw new Error(`named ${why}; last log lines:\n${log.split('\n').slice(-25).join('\n')}`);
}

async function stopKeepingDir(child: ChildProcess, exitPromise: Promise<number>, exited: () => number | null): Promise<void> {
  if (exited() !== null) return;
  child.kill('SIGKILL');
  await exitPromise;
}
