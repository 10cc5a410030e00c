// What the campaign watches on the server while it is attacked: resident memory (VmRSS sampled every
// second, and the kernel's own peak VmHWM), the kernel's drop counter of the server's UDP listening
// sockets (/proc/net/udp, matched by socket inode to the process), and a few /metrics counters (worker
// restarts, the server's own receive-drop counter when it has one).
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** VmRSS and VmHWM of `pid` in KiB, or null when the process is gone. */
export function memoryKiB(pid: number): { rss: number; hwm: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: field('VmRSS'), hwm: field('VmHWM') };
  } catch {
    return null;
  }
}

function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) out.add(m[1]!);
      } catch { /* closed meanwhile */ }
    }
  } catch { /* gone */ }
  return out;
}

export interface UdpSocketDrops {
  sockets: number; // the process's UDP sockets bound to the port
  drops: number; // their kernel drop counters, summed
}

/**
 * Kernel drop counters of the UDP sockets `pid` has bound to local `port` (IPv4 and IPv6 tables), by
 * socket inode. One read of /proc/net/udp can miss a socket or list it twice (the kernel walks the table
 * in pages while the forwarder opens and closes a socket per upstream query), hence the map: a caller
 * merges reads per inode, keeping the largest value (the counters only grow).
 */
export function udpDropsByInode(pid: number, port: number): Map<string, number> {
  const inodes = socketInodes(pid);
  const out = new Map<string, number>();
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try { text = readFileSync(table, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      // sl local rem st tx_queue:rx_queue tr:tm retrnsmt uid timeout inode ref pointer drops
      const f = line.trim().split(/\s+/);
      if (f.length < 13 || !f[1]!.endsWith(`:${portHex}`) || !inodes.has(f[9]!)) continue;
      out.set(f[9]!, Math.max(out.get(f[9]!) ?? 0, Number(f[12])));
    }
  }
  return out;
}

/** The sum of every sample of `name` in Prometheus text (labels ignored), or null when absent. */
export function metricSum(text: string, name: string): number | null {
  let sum: number | null = null;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) sum = (sum ?? 0) + v;
  }
  return sum;
}

export async function scrape(httpPort: number): Promise<string | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(3000) });
    return res.ok ? await res.text() : null;
  } catch {
    return null;
  }
}

export interface Sample {
  t: number; // seconds since the start
  rssKiB: number;
  drops: number;
}

/** Samples memory and UDP drops every second until stop(). */
export class Observer {
  readonly samples: Sample[] = [];
  peakRssKiB = 0;
  hwmKiB = 0;
  /** The largest drop counter seen per socket inode (see udpDropsByInode). */
  private readonly drops = new Map<string, number>();
  private readonly t0 = Date.now();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly pid: number, private readonly port: number) {}

  sample(): void {
    const m = memoryKiB(this.pid);
    if (!m) return;
    for (const [inode, n] of udpDropsByInode(this.pid, this.port)) this.drops.set(inode, Math.max(this.drops.get(inode) ?? 0, n));
    this.peakRssKiB = Math.max(this.peakRssKiB, m.rss);
    this.hwmKiB = Math.max(this.hwmKiB, m.hwm);
    this.samples.push({ t: Math.round((Date.now() - this.t0) / 1000), rssKiB: m.rss, drops: this.udpDrops().drops });
  }

  udpDrops(): UdpSocketDrops {
    let drops = 0;
    for (const n of this.drops.values()) drops += n;
    return { sockets: this.drops.size, drops };
  }

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), 1000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.sample();
  }
}
