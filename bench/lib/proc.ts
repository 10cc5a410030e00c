// Processes the bench starts: spawn, wait until serving, CPU time from /proc, stop by PID.
// Every child is tracked in one list so that an error or a signal still stops all of them.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, readFileSync, readdirSync } from 'node:fs';

const CLK_TCK = 100; // USER_HZ on Linux; /proc/PID/stat counts in these ticks

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  output: string[]; // last lines of stdout+stderr, for error messages
  exited: boolean;
}

const running = new Set<Proc>();
/** PIDs of the run() commands still going (load generators), so that a signal stops them too. */
const commands = new Set<number>();

export function start(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Proc {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { name, child, pid: child.pid ?? -1, output: [], exited: false };
  const keep = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.length === 0) continue;
      p.output.push(line);
      if (p.output.length > 40) p.output.shift();
    }
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.on('exit', () => { p.exited = true; running.delete(p); });
  child.on('error', (err) => { p.output.push(String(err)); p.exited = true; running.delete(p); });
  running.add(p);
  return p;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Stop one process by its PID: SIGTERM, then SIGKILL after `graceMs`. */
export async function stop(p: Proc, graceMs = 3000): Promise<void> {
  if (p.exited) return;
  try { process.kill(p.pid, 'SIGTERM'); } catch { return; }
  const until = Date.now() + graceMs;
  while (!p.exited && Date.now() < until) await sleep(20);
  if (!p.exited) {
    try { process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ }
    const hard = Date.now() + 2000;
    while (!p.exited && Date.now() < hard) await sleep(20);
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => stop(p)));
}

/** Synchronous last resort (process 'exit' handler): SIGKILL every child still tracked, by PID. */
export function killAllNow(): void {
  for (const p of running) {
    try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  for (const pid of commands) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
}

/** The last lines of a process's output, JSON log lines cut down to their message and error. */
export function tail(p: Proc, n = 3): string {
  return p.output.slice(-n).map((line) => {
    if (!line.startsWith('{')) return line;
    try {
      const j = JSON.parse(line) as { msg?: string; err?: { message?: string } };
      return [j.msg, j.err?.message].filter(Boolean).join(': ');
    } catch { return line; }
  }).join(' | ');
}

/** Resolves when a line of output contains `text`, or rejects on exit or timeout. */
export async function waitForOutput(p: Proc, text: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (p.output.some((l) => l.includes(text))) return;
    if (p.exited) throw new Error(`${p.name} exited: ${tail(p)}`);
    await sleep(50);
  }
  throw new Error(`${p.name}: no "${text}" within ${timeoutMs} ms: ${tail(p)}`);
}

/** A query for `name`/`type` with ID 0x4242, RD off, no EDNS. */
export function probeQuery(name: string, type: number): Buffer {
  const parts = name.replace(/\.$/, '').split('.');
  const buf = Buffer.alloc(12 + parts.reduce((n, l) => n + l.length + 1, 0) + 5);
  buf.writeUInt16BE(0x4242, 0);
  buf.writeUInt16BE(1, 4);
  let off = 12;
  for (const l of parts) { buf[off++] = l.length; off += buf.write(l, off, 'latin1'); }
  buf[off++] = 0;
  buf.writeUInt16BE(type, off);
  buf.writeUInt16BE(1, off + 2);
  return buf;
}

/** Resolves with the rcode once the server on 127.0.0.1:port answers `name` (SOA), polling. */
export async function waitForDns(p: Proc, port: number, name: string, timeoutMs: number): Promise<number> {
  const sock = dgram.createSocket('udp4');
  const query = probeQuery(name, 6);
  let rcode = -1;
  sock.on('message', (msg) => { if (msg.length >= 12 && msg.readUInt16BE(0) === 0x4242) rcode = msg[3]! & 0x0f; });
  sock.on('error', () => { /* ECONNREFUSED until it binds */ });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  try {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (p.exited) throw new Error(`${p.name} exited: ${tail(p)}`);
      sock.send(query, port, '127.0.0.1');
      await sleep(100);
      if (rcode >= 0) return rcode;
    }
    throw new Error(`${p.name}: no DNS answer on port ${port} within ${timeoutMs} ms: ${tail(p)}`);
  } finally {
    sock.close();
  }
}

function descendants(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const tasks = `/proc/${out[i]}/task`;
    if (!existsSync(tasks)) continue;
    for (const tid of readdirSync(tasks)) {
      try {
        for (const c of readFileSync(`${tasks}/${tid}/children`, 'utf8').split(/\s+/)) if (c) out.push(Number(c));
      } catch { /* the thread ended */ }
    }
  }
  return out;
}

/** CPU seconds (user + system) used so far by `pid` and every process below it (NSD forks). */
/** Resident memory of a process (VmRSS), MiB; NaN when it is gone. */
export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

export function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of descendants(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // fields 14 and 15: utime, stime
    } catch { /* gone */ }
  }
  return ticks / CLK_TCK;
}

/** Runs a command to completion with a hard time limit; resolves with its stdout, stderr and code. */
export function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) commands.add(child.pid);
    child.on('exit', () => { if (child.pid !== undefined) commands.delete(child.pid); });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => { if (out.length < 100_000) out.push(c); });
    child.stderr.on('data', (c: Buffer) => { if (err.length < 1000) err.push(c); });
    const timer = setTimeout(() => { try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone */ } }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); resolve({ code: 127, stdout: '', stderr: String(e) }); });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}
