// Measures programming latency: from the API write to the first DNS answer that shows it. Each change
// is probed over UDP until its address appears: every millisecond at first, backing off to every
// 20 ms for changes that take long (so a slow server is not also flooded), until a deadline.

import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import * as dnsPacket from 'dns-packet';
import type { ChangeTarget } from './cluster.js';

interface Pending {
  target: ChangeTarget;
  changedAt: number;
  nextProbeAt: number;
}

export interface LatencyResult {
  changes: number;
  visible: number;
  timedOut: number;
  probes: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export class Prober {
  private readonly socket = dgram.createSocket('udp4');
  private readonly pending = new Set<Pending>();
  private readonly byId = new Map<number, Pending>();
  private readonly latencies: number[] = [];
  private nextId = 1;
  private changes = 0;
  private timedOut = 0;
  private probes = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly host: string, private readonly port: number, private readonly deadlineMs = 5000) {
    this.socket.on('message', (msg) => this.onAnswer(msg));
    this.timer = setInterval(() => this.tick(), 1);
  }

  /** Call right after the API write. */
  track(target: ChangeTarget): void {
    const now = performance.now();
    const p: Pending = { target, changedAt: now, nextProbeAt: now };
    this.changes++;
    this.pending.add(p);
    this.send(p, now);
  }

  get outstanding(): number {
    return this.pending.size;
  }

  private send(p: Pending, now: number): void {
    const id = this.nextId;
    this.nextId = this.nextId === 0xffff ? 1 : this.nextId + 1;
    this.byId.set(id, p);
    const age = now - p.changedAt;
    p.nextProbeAt = now + Math.min(20, 1 + age / 20);
    this.probes++;
    const q = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: p.target.qname.slice(0, -1) }] });
    this.socket.send(q, this.port, this.host);
  }

  private tick(): void {
    const now = performance.now();
    for (const p of this.pending) {
      if (now - p.changedAt > this.deadlineMs) {
        this.pending.delete(p);
        this.timedOut++;
      } else if (now >= p.nextProbeAt) {
        this.send(p, now);
      }
    }
  }

  private onAnswer(msg: Buffer): void {
    const now = performance.now();
    let packet: dnsPacket.Packet;
    try {
      packet = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const p = this.byId.get(packet.id ?? -1);
    if (p === undefined) return;
    this.byId.delete(packet.id!);
    if (!this.pending.has(p)) return;
    if ((packet.answers ?? []).some((a) => a.type === 'A' && a.data === p.target.ip)) {
      this.pending.delete(p);
      this.latencies.push(now - p.changedAt);
    }
  }

  /** Waits until nothing is pending (each change resolves or times out), then closes. */
  async finish(): Promise<LatencyResult> {
    while (this.pending.size > 0) await new Promise((r) => setTimeout(r, 10));
    clearInterval(this.timer);
    this.socket.close();
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const q = (f: number): number | null => (sorted.length === 0 ? null : round(sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))]!));
    return {
      changes: this.changes, visible: sorted.length, timedOut: this.timedOut, probes: this.probes,
      p50Ms: q(0.5), p99Ms: q(0.99), maxMs: sorted.length ? round(sorted[sorted.length - 1]!) : null,
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
