// The servers compared: how each is found, configured (in a temp dir) and started on a loopback port
// with the same zone file. Each start returns a running Proc, or throws with the reason it could not
// run; the caller records that peer as "not available".
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { start, stop, tail, waitForDns, waitForOutput, type Proc } from './proc.js';
import { DNSTAP_PEER } from './dnstap.js';

export interface PeerContext {
  root: string;      // repository root (for dist/)
  dir: string;       // this peer's temp dir
  bin: string;       // where the bench's C programs were built
  zone: string;      // zone file path
  origin: string;    // zone origin, no trailing dot
  port: number;
  workers: number;
  pin: string | undefined; // taskset core list, or undefined for unpinned
}

export interface Peer {
  id: string;
  label: string;
  /** Why this peer cannot run on this machine, or undefined when it can. */
  missing(ctx: PeerContext): string | undefined;
  start(ctx: PeerContext): Promise<Proc>;
  /** False when the peer has no multi-worker mode (the 2-worker table shows it as n/a). */
  multiWorker: boolean;
}

const READY_MS = 60_000;

function which(cmd: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin', '/usr/local/sbin'])) {
    const p = join(d, cmd);
    if (d && existsSync(p)) return p;
  }
  return undefined;
}

export function corednsPath(): string | undefined {
  const gopath = process.env.GOPATH ?? join(process.env.HOME ?? '/root', 'go');
  const p = join(gopath, 'bin', 'coredns');
  return existsSync(p) ? p : which('coredns');
}

function launch(ctx: PeerContext, name: string, cmd: string, args: string[], env?: NodeJS.ProcessEnv): Proc {
  return ctx.pin ? start(name, 'taskset', ['-c', ctx.pin, cmd, ...args], env) : start(name, cmd, args, env);
}

/** Runs the readiness checks; a process that never became ready is stopped (by its PID) before the error. */
async function ready(p: Proc, check: () => Promise<unknown>): Promise<Proc> {
  try {
    await check();
    return p;
  } catch (err) {
    await stop(p);
    throw err;
  }
}

/**
 * A kdns peer; a variant (dnstap on, top talkers on) has its own id and label and adds flags (it replaces
 * `--http none`). Without an HTTP port top talkers are off (nothing could read them).
 */
function kdns(engine: 'node' | 'native', variant?: { id: string; label: string; args(ctx: PeerContext): string[] }): Peer {
  const id = variant?.id ?? `kdns-${engine}`;
  return {
    id,
    label: variant?.label ?? `kdns (${engine} engine)`,
    multiWorker: true,
    missing: (ctx) => (existsSync(join(ctx.root, 'dist/src/cli.js')) ? undefined : 'dist/src/cli.js not built (npx tsc -p .)'),
    async start(ctx) {
      const p = launch(ctx, id, process.execPath, [
        join(ctx.root, 'dist/src/cli.js'), '--listen', `127.0.0.1:${ctx.port}`, '--zone-file', `${ctx.zone}@${ctx.origin}`,
        '--no-forward', '--engine', engine, '--workers', String(ctx.workers), ...(variant?.args(ctx) ?? ['--http', 'none']),
      ]);
      return ready(p, async () => {
        await waitForOutput(p, '"msg":"serving"', READY_MS);
        await waitForDns(p, ctx.port, ctx.origin, READY_MS);
        // A server that falls back to another engine is not the engine we were asked to measure.
        const serving = p.output.find((l) => l.includes('"msg":"serving"')) ?? '';
        const other = serving.includes('"engine":"') && !serving.includes(`"engine":"${engine}"`);
        if (other || (engine === 'native' && p.output.some((l) => /fall(ing)? ?back/i.test(l)))) {
          throw new Error(`kdns did not run the ${engine} engine: ` + tail(p));
        }
      });
    },
  };
}

const ceiling: Peer = {
  id: 'ceiling',
  label: 'C ceiling (recvmmsg)',
  multiWorker: true,
  missing: (ctx) => (existsSync(join(ctx.bin, 'responder')) ? undefined : 'responder not built (gcc missing?)'),
  async start(ctx) {
    const p = launch(ctx, 'ceiling', join(ctx.bin, 'responder'), ['--port', String(ctx.port), '--threads', String(ctx.workers)]);
    return ready(p, () => waitForDns(p, ctx.port, ctx.origin, READY_MS));
  },
};

const dgramMap: Peer = {
  id: 'dgram',
  label: 'plain Node dgram + Map',
  multiWorker: false,
  missing: (ctx) => (existsSync(join(ctx.root, 'dist/bench/baseline/dgram-map.js')) ? undefined : 'dist/bench/baseline/dgram-map.js not built'),
  async start(ctx) {
    const p = launch(ctx, 'dgram', process.execPath, [
      join(ctx.root, 'dist/bench/baseline/dgram-map.js'), '--port', String(ctx.port), '--zone', ctx.zone, '--origin', ctx.origin,
    ]);
    return ready(p, async () => {
      await waitForOutput(p, '"msg":"serving"', READY_MS);
      await waitForDns(p, ctx.port, ctx.origin, READY_MS);
    });
  },
};

/** An authoritative-only named.conf serving `zoneFile` as `origin` on 127.0.0.1:port; returns its path. */
export function writeNamedConf(dir: string, port: number, origin: string, zoneFile: string): string {
  const conf = join(dir, 'named.conf');
  writeFileSync(conf, [
    'options {',
    `  directory "${dir}";`,
    '  pid-file none;',
    `  session-keyfile "${dir}/session.key";`,
    `  managed-keys-directory "${dir}";`,
    `  listen-on port ${port} { 127.0.0.1; };`,
    '  listen-on-v6 { none; };',
    '  recursion no;',
    '  minimal-responses yes;',
    '  notify no;',
    '  dnssec-validation no;',
    '  querylog no;',
    '};',
    'controls { };',
    `zone "${origin}" { type primary; file "${zoneFile}"; };`,
    '',
  ].join('\n'));
  return conf;
}

const bind9: Peer = {
  id: 'bind9',
  label: 'BIND 9 (named)',
  multiWorker: true,
  missing: () => (which('named') ? undefined : 'named not installed (apt-get install bind9)'),
  async start(ctx) {
    const conf = writeNamedConf(ctx.dir, ctx.port, ctx.origin, ctx.zone);
    const p = launch(ctx, 'bind9', which('named')!, ['-g', '-n', String(ctx.workers), '-c', conf]);
    return ready(p, () => waitForDns(p, ctx.port, ctx.origin, READY_MS));
  },
};

const knot: Peer = {
  id: 'knot',
  label: 'Knot DNS (knotd)',
  multiWorker: true,
  missing: () => (which('knotd') ? undefined : 'knotd not installed (apt-get install knot)'),
  async start(ctx) {
    const conf = join(ctx.dir, 'knot.conf');
    mkdirSync(join(ctx.dir, 'storage'), { recursive: true });
    writeFileSync(conf, [
      'server:',
      `    rundir: "${ctx.dir}"`,
      `    listen: 127.0.0.1@${ctx.port}`,
      `    udp-workers: ${ctx.workers}`,
      '    tcp-workers: 1',
      '    background-workers: 1',
      'database:',
      `    storage: "${ctx.dir}/storage"`,
      'log:',
      '  - target: stderr',
      '    any: warning',
      'template:',
      '  - id: default',
      `    storage: "${ctx.dir}/storage"`,
      '    zonefile-sync: -1',
      '    journal-content: none',
      'zone:',
      `  - domain: ${ctx.origin}`,
      `    file: "${ctx.zone}"`,
      '',
    ].join('\n'));
    const p = launch(ctx, 'knot', which('knotd')!, ['-c', conf]);
    return ready(p, () => waitForDns(p, ctx.port, ctx.origin, READY_MS));
  },
};

const nsd: Peer = {
  id: 'nsd',
  label: 'NSD',
  multiWorker: true,
  missing: () => (which('nsd') ? undefined : 'nsd not installed (apt-get install nsd)'),
  async start(ctx) {
    const conf = join(ctx.dir, 'nsd.conf');
    writeFileSync(conf, [
      'server:',
      `  ip-address: 127.0.0.1@${ctx.port}`,
      `  port: ${ctx.port}`,
      '  do-ip6: no',
      `  server-count: ${ctx.workers}`,
      `  reuseport: ${ctx.workers > 1 ? 'yes' : 'no'}`,
      '  username: ""',
      '  chroot: ""',
      '  database: ""',
      `  zonesdir: "${ctx.dir}"`,
      `  pidfile: "${ctx.dir}/nsd.pid"`,
      `  xfrdfile: "${ctx.dir}/xfrd.state"`,
      `  zonelistfile: "${ctx.dir}/zone.list"`,
      `  logfile: "${ctx.dir}/nsd.log"`,
      '  verbosity: 0',
      '  rrl-ratelimit: 0',
      '  rrl-whitelist-ratelimit: 0',
      'remote-control:',
      '  control-enable: no',
      'zone:',
      `  name: ${ctx.origin}`,
      `  zonefile: "${ctx.zone}"`,
      '',
    ].join('\n'));
    const p = launch(ctx, 'nsd', which('nsd')!, ['-d', '-c', conf]);
    return ready(p, () => waitForDns(p, ctx.port, ctx.origin, READY_MS));
  },
};

const coredns: Peer = {
  id: 'coredns',
  label: 'CoreDNS (file plugin)',
  multiWorker: true,
  missing: () => (corednsPath() ? undefined : 'coredns not installed (bench/setup.sh: go install github.com/coredns/coredns@v1.15.0)'),
  async start(ctx) {
    const conf = join(ctx.dir, 'Corefile');
    writeFileSync(conf, `${ctx.origin}:${ctx.port} {\n    bind 127.0.0.1\n    file ${ctx.zone} ${ctx.origin}\n}\n`);
    const env = { ...process.env, GOMAXPROCS: String(ctx.workers) };
    const p = launch(ctx, 'coredns', corednsPath()!, ['-conf', conf, '-quiet'], env);
    return ready(p, () => waitForDns(p, ctx.port, ctx.origin, READY_MS));
  },
};

/** In the order the tables show them. */
/**
 * kdns native logging every query and answer as dnstap to a file in its temp dir, /metrics on an ephemeral
 * port for the frame counts (bench/lib/dnstap.ts).
 */
const kdnsDnstap = kdns('native', {
  id: DNSTAP_PEER,
  label: 'kdns (native engine, dnstap on)',
  args: (ctx) => ['--dnstap', join(ctx.dir, 'kdns.dnstap'), '--http', '127.0.0.1:0', '--top-talkers=false'],
});

/**
 * kdns native with the HTTP port and top talkers on, measured in the same interleaved rounds as `kdns-native`,
 * so their ratio is the cost of top talkers on the hot path (issue 14, item 6).
 */
const kdnsTop = kdns('native', {
  id: 'kdns-native-top',
  label: 'kdns (native engine, top talkers on)',
  args: () => ['--http', '127.0.0.1:0', '--top-talkers=true'],
});

/** kdns native with the HTTP port but top talkers off: separates the HTTP server's cost from top talkers'. */
const kdnsHttp = kdns('native', {
  id: 'kdns-native-http',
  label: 'kdns (native engine, HTTP on, top talkers off)',
  args: () => ['--http', '127.0.0.1:0', '--top-talkers=false'],
});

/**
 * kdns native with three views none of whose networks holds the load generator (127.0.0.1): every datagram
 * walks all their rules in C (native/views.c) and is answered from the default view's tables, the worst
 * case of the pick; against kdns-native it is the cost of views on the hot path (issue 13, item 4).
 */
const kdnsViews = kdns('native', {
  id: 'kdns-native-views',
  label: 'kdns (native engine, 3 views, client in the default view)',
  args: () => [
    '--http', 'none',
    '--view', 'name=office,match-clients=!10.9.0.0/16,match-clients=10.0.0.0/8,match-clients=fd00::/8',
    '--view', 'name=lab,match-clients=192.168.0.0/16',
    '--view', 'name=guests,match-clients=172.16.0.0/12,forward=false',
  ],
});

export const PEERS: Peer[] = [kdns('native'), kdnsDnstap, kdnsHttp, kdnsTop, kdnsViews, kdns('node'), dgramMap, bind9, knot, nsd, coredns, ceiling];
