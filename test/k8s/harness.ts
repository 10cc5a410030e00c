// Shared pieces of the over-the-wire Kubernetes tests: load the fixture cluster into the test API
// server, start kdns against it (or against the same objects as manifests), ask one question over UDP
// or TCP and print the response as zone-file lines, scrape /metrics, and poll with a bound.
import { readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import dnsPacket from 'dns-packet';
import { parseAllDocuments } from 'yaml';
import { TestApiServer, type KObject } from '../k8s-api/server.js';
import { fixture, startKdns, type KdnsProcess } from '../helpers/kdns-process.js';
import { buildQuery, TcpClient, UdpClient } from '../wire/clients.js';

export const CLUSTER_DIR = fixture('k8s', 'cluster');

/** Every object of every YAML file in `dir`, in file order. */
export function fixtureObjects(dir = CLUSTER_DIR): KObject[] {
  const out: KObject[] = [];
  for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const doc of parseAllDocuments(readFileSync(path.join(dir, file), 'utf8'))) {
      const v = doc.toJS() as KObject | null;
      if (v) out.push(v);
    }
  }
  return out;
}

export async function apiServerWith(objects: KObject[]): Promise<TestApiServer> {
  const server = await TestApiServer.start();
  for (const o of objects) server.create(o.kind!, o);
  return server;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Writes the server's kubeconfig to a temporary file removed at teardown. */
export function kubeconfigFile(server: TestApiServer, t: Teardown): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kdns-k8s-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'kubeconfig');
  writeFileSync(file, server.kubeconfigFile());
  return file;
}

export function kdnsArgs(source: string[], extra: string[] = []): string[] {
  return ['--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--no-forward', '--log-level', 'info', ...source, ...extra];
}

export async function startLive(server: TestApiServer, t: Teardown, extra: string[] = []): Promise<KdnsProcess> {
  return startKdns(kdnsArgs(['--kubeconfig', kubeconfigFile(server, t)], extra), { t });
}

export async function startOffline(dir: string, t: Teardown, extra: string[] = []): Promise<KdnsProcess> {
  return startKdns(kdnsArgs(['--manifests', dir], extra), { t });
}

// ---- answers as text ----

export interface Answer {
  rcode: string;
  aa: boolean;
  answer: string[];
  authority: string[];
  additional: string[];
  /** SOA serials seen (they are the process start time, so the lines print `<serial>`). */
  serials: number[];
}

function ipv6(text: string): string {
  // dns-packet prints AAAA its own way; the URL parser gives the RFC 5952 form.
  return new URL(`http://[${text}]/`).hostname.slice(1, -1);
}

function abs(name: string): string {
  return name === '' || name === '.' ? '.' : `${name}.`;
}

function rrLine(rr: dnsPacket.Answer, serials: number[]): string {
  const head = `${abs(rr.name)} ${(rr as { ttl?: number }).ttl ?? 0} ${rr.type}`;
  const d = (rr as { data: unknown }).data;
  switch (rr.type) {
    case 'A': return `${head} ${d as string}`;
    case 'AAAA': return `${head} ${ipv6(d as string)}`;
    case 'CNAME': case 'PTR': case 'NS': return `${head} ${abs(d as string)}`;
    case 'SRV': {
      const s = d as dnsPacket.SrvData;
      return `${head} ${s.priority ?? 0} ${s.weight ?? 0} ${s.port} ${abs(s.target)}`;
    }
    case 'TXT': return `${head} ${(d as Buffer[]).map((b) => JSON.stringify(b.toString())).join(' ')}`;
    case 'SOA': {
      const s = d as Required<dnsPacket.SoaData>;
      serials.push(s.serial);
      return `${head} ${abs(s.mname)} ${abs(s.rname)} <serial> ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`;
    }
    default: return `${head} ?`;
  }
}

/** Records of one RRset keep no order on the wire: sort within each run of equal owner and type. */
export function sortRuns(lines: string[]): string[] {
  const out: string[] = [];
  let run: string[] = [];
  const key = (l: string): string => {
    const f = l.split(' ');
    return `${f[0]} ${f[2]}`;
  };
  for (const l of lines) {
    if (run.length > 0 && key(run[0]!) !== key(l)) {
      out.push(...run.sort());
      run = [];
    }
    run.push(l);
  }
  out.push(...run.sort());
  return out;
}

export function decodeAnswer(buf: Buffer): Answer {
  const p = dnsPacket.decode(buf);
  const serials: number[] = [];
  const lines = (rrs: dnsPacket.Answer[] | undefined): string[] =>
    (rrs ?? []).filter((r) => r.type !== 'OPT').map((r) => rrLine(r, serials));
  return {
    rcode: (p as { rcode?: string }).rcode ?? 'NOERROR',
    aa: ((p.flags ?? 0) & dnsPacket.AUTHORITATIVE_ANSWER) !== 0,
    answer: sortRuns(lines(p.answers)),
    authority: lines(p.authorities).sort(),
    additional: lines(p.additionals).sort(),
    serials,
  };
}

/** One client pair per kdns: a UDP socket and a persistent TCP connection. */
export class Asker {
  private id = 1;
  private udp: UdpClient | null = null;
  private tcp: TcpClient | null = null;
  constructor(private readonly port: number) {}

  async ask(qname: string, qtype: string, proto: 'udp' | 'tcp'): Promise<Answer> {
    this.id = (this.id % 0xfffe) + 1;
    const q = buildQuery(qname, qtype, { id: this.id });
    let buf: Buffer | null;
    if (proto === 'udp') {
      if (!this.udp) {
        this.udp = new UdpClient(this.port);
        await this.udp.bind();
      }
      buf = await this.udp.query(q, 2000);
    } else {
      if (!this.tcp || this.tcp.closed) {
        this.tcp = new TcpClient(this.port);
        await this.tcp.connected;
      }
      buf = await this.tcp.query(q, 2000);
    }
    if (!buf) throw new Error(`no ${proto} answer for ${qname} ${qtype}`);
    return decodeAnswer(buf);
  }

  close(): void {
    this.udp?.close();
    this.tcp?.destroy();
  }
}

// ---- HTTP ----

export function httpGet(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath} timed out`)));
    req.on('error', reject);
  });
}

/** Prometheus text → value of the sample whose name and labels match exactly (labels in any order). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) got[l[1]!] = l[2]!;
    const want = Object.entries(labels);
    if (want.length !== Object.keys(got).length || !want.every(([k, v]) => got[k] === v)) continue;
    return Number(m[3]);
  }
  return undefined;
}

// ---- polling ----

/** Polls `probe` until `ok` holds, every 20 ms, for at most `timeoutMs`; returns the last value and the time taken. */
export async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 1000): Promise<{ ok: boolean; value: T; ms: number }> {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (ok(value)) return { ok: true, value, ms: Date.now() - start };
    if (Date.now() - start > timeoutMs) return { ok: false, value, ms: Date.now() - start };
    await new Promise((r) => setTimeout(r, 20));
  }
}
