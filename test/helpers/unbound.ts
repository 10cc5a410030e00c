// Runs unbound as a real DNS-over-TLS server (RFC 7858) for forwarding tests: loopback only, on a free
// port, in the foreground (-d) with a config written here (no chroot, no user switch, no pid file), and
// authoritative for the local-zone/local-data lines the caller gives. Everything else is refused
// (`local-zone: "." refuse`), so it never queries the internet. Its statistics come from unbound-control on
// a second loopback port. Bounded start-up; the child never outlives the test process.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import dnsPacket from 'dns-packet';
import { query } from './dns-client.js';
import { freePort } from './named.js';
import { childStopper } from './stop-child.js';

export const UNBOUND_BIN = process.env.KDNS_UNBOUND ?? '/usr/sbin/unbound';
export const UNBOUND_CONTROL_BIN = process.env.KDNS_UNBOUND_CONTROL ?? '/usr/sbin/unbound-control';

export interface UnboundTlsOptions {
  dir: string;
  keyFile: string;
  certFile: string;
  /** The CA that signed certFile, and the name it carries: used to tell when unbound answers. */
  caFile: string;
  serverName: string;
  /** `local-zone: ...` / `local-data: ...` lines; the first local-data name is the start-up probe. */
  zoneLines: string[];
  probeName: string;
  /** A fixed port (to restart a stopped unbound where its clients expect it); default: a free one. */
  port?: number;
}

export interface UnboundHandle {
  port: number;
  pid: number;
  /** unbound-control stats_noreset as numbers (`num.query.tls`, `total.num.queries`, ...). */
  stats(): Record<string, number>;
  /** TCP connections established to unbound's port right now (server side, from `ss`). */
  establishedConnections(): number;
  log(): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** One DNS-over-TLS query on a fresh connection, verified against `caFile` for `serverName`. */
export function dotQuery(port: number, caFile: string, serverName: string, packet: Buffer, timeoutMs = 1000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, servername: serverName, ca: readFileSync(caFile, 'utf8') });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('DoT query timed out')); }, timeoutMs);
    sock.on('error', (err) => { clearTimeout(timer); reject(err); });
    sock.on('secureConnect', () => {
      const frame = Buffer.alloc(2 + packet.length);
      frame.writeUInt16BE(packet.length, 0);
      packet.copy(frame, 2);
      sock.write(frame);
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        clearTimeout(timer);
        sock.end();
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    });
  });
}

function config(o: UnboundTlsOptions, port: number, controlPort: number): string {
  return [
    'server:',
    `  interface: 127.0.0.1@${port}`,
    `  tls-port: ${port}`,
    `  tls-service-key: "${o.keyFile}"`,
    `  tls-service-pem: "${o.certFile}"`,
    '  chroot: ""',
    '  username: ""',
    `  directory: "${o.dir}"`,
    '  pidfile: ""',
    '  use-syslog: no',
    '  logfile: ""',
    '  do-daemonize: no',
    '  num-threads: 1',
    '  do-ip6: no',
    '  verbosity: 1',
    '  extended-statistics: yes',
    '  access-control: 127.0.0.0/8 allow',
    '  module-config: "iterator"',
    '  local-zone: "." refuse',
    ...o.zoneLines.map((l) => '  ' + l),
    'remote-control:',
    '  control-enable: yes',
    '  control-interface: 127.0.0.1',
    `  control-port: ${controlPort}`,
    '  control-use-cert: no',
    '',
  ].join('\n');
}

export async function startUnboundTls(o: UnboundTlsOptions, startTimeoutMs = 15_000): Promise<UnboundHandle> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 2; attempt++) { // a free port may be taken before unbound binds it
    const port = o.port ?? await freePort();
    const controlPort = await freePort();
    const confFile = path.join(o.dir, `unbound-${port}.conf`);
    writeFileSync(confFile, config(o, port, controlPort));
    try {
      return await launch(o, port, confFile, startTimeoutMs);
    } catch (err) {
      lastErr = err;
    }
  }
  throw lastErr;
}

async function launch(o: UnboundTlsOptions, port: number, confFile: string, startTimeoutMs: number): Promise<UnboundHandle> {
  const probe = dnsPacket.encode({ type: 'query', id: 99, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: o.probeName }] });
  return launchWith(port, confFile, startTimeoutMs, () => dotQuery(port, o.caFile, o.serverName, probe), 'DNS over TLS');
}

export interface ForwardingUnboundOptions {
  dir: string;
  /** unbound's num-threads. */
  threads: number;
  /** The zone it forwards (e.g. `ops.cna`) and where to (a loopback port); everything else is refused. */
  zone: string;
  upstreamPort: number;
  /** A name in `zone` the upstream answers: unbound is up once it answers it. */
  probeName: string;
}

/** unbound as a plain UDP forwarder of one zone to a loopback upstream (the cache beside kdns's in a test). */
export async function startForwardingUnbound(o: ForwardingUnboundOptions, startTimeoutMs = 15_000): Promise<UnboundHandle> {
  const port = await freePort();
  const controlPort = await freePort();
  const confFile = path.join(o.dir, `unbound-forward-${port}.conf`);
  writeFileSync(confFile, [
    'server:', `  interface: 127.0.0.1@${port}`, '  chroot: ""', '  username: ""', `  directory: "${o.dir}"`, '  pidfile: ""',
    '  use-syslog: no', '  logfile: ""', '  do-daemonize: no', `  num-threads: ${o.threads}`, '  do-ip6: no', '  verbosity: 1',
    '  access-control: 127.0.0.0/8 allow', '  module-config: "iterator"', '  do-not-query-localhost: no',
    '  local-zone: "." refuse', `  local-zone: "${o.zone}." transparent`,
    'forward-zone:', `  name: "${o.zone}."`, `  forward-addr: 127.0.0.1@${o.upstreamPort}`,
    'remote-control:', '  control-enable: yes', '  control-interface: 127.0.0.1', `  control-port: ${controlPort}`, '  control-use-cert: no', '',
  ].join('\n'));
  const probe = dnsPacket.encode({ type: 'query', id: 98, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: o.probeName }] });
  return launchWith(port, confFile, startTimeoutMs, () => query(port, probe, { timeoutMs: 500, attempts: 1 }), 'UDP');
}

async function launchWith(port: number, confFile: string, startTimeoutMs: number, answers: () => Promise<Buffer>, what: string): Promise<UnboundHandle> {
  const child = spawn(UNBOUND_BIN, ['-d', '-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let log = '';
  const onData = (s: string): void => { if (log.length < 1_000_000) log += s; };
  child.stdout!.setEncoding('utf8').on('data', onData);
  child.stderr!.setEncoding('utf8').on('data', onData);
  const { exited, stop } = childStopper(child, 5000, () => live.delete(child));
  const deadline = Date.now() + startTimeoutMs;
  while (Date.now() < deadline && !exited()) {
    try {
      await answers();
      return {
        port, pid: child.pid!, stop, log: () => log,
        stats: () => {
          const out = execFileSync(UNBOUND_CONTROL_BIN, ['-c', confFile, 'stats_noreset'], { encoding: 'utf8', timeout: 10_000 });
          const stats: Record<string, number> = {};
          for (const line of out.split('\n')) {
            const eq = line.indexOf('=');
            if (eq > 0) stats[line.slice(0, eq)] = Number(line.slice(eq + 1));
          }
          return stats;
        },
        establishedConnections: () => execFileSync('ss', ['-tnH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8', timeout: 10_000 })
          .split('\n').filter((l) => l.trim() !== '').length,
      };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await stop();
  throw new Error(`unbound did not answer ${what} on port ${port} within ${startTimeoutMs} ms; log:\n${log.slice(-2000)}`);
}
