// Small DNS clients for the over-the-wire tests: raw UDP and TCP exchanges (bytes in, bytes out),
// a strict response check, and dig/kdig runners that parse the presentation output.
import dgram from 'node:dgram';
import net from 'node:net';
import { execFile } from 'node:child_process';
import dnsPacket from 'dns-packet';

export const OPT_TYPE = 41;

/** Builds a query with dns-packet; `edns` adds an OPT (udp size, DO bit, options). */
export function buildQuery(
  name: string,
  type: string,
  opts: { id?: number; rd?: boolean; cls?: string; edns?: { size?: number; do?: boolean; version?: number; options?: dnsPacket.PacketOpt[] } | false } = {},
): Buffer {
  const additionals: dnsPacket.Answer[] = [];
  if (opts.edns) {
    additionals.push({
      type: 'OPT',
      name: '.',
      udpPayloadSize: opts.edns.size ?? 1232,
      flags: opts.edns.do ? dnsPacket.DNSSEC_OK : 0,
      ednsVersion: opts.edns.version ?? 0,
      options: opts.edns.options ?? [],
    } as unknown as dnsPacket.Answer);
  }
  return dnsPacket.encode({
    type: 'query',
    id: opts.id ?? 0x1234,
    flags: opts.rd === false ? 0 : dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as dnsPacket.RecordType, class: (opts.cls ?? 'IN') as dnsPacket.RecordClass }],
    additionals,
  });
}

/** One UDP socket that matches answers by ID; unmatched datagrams are kept in `stray`. */
export class UdpClient {
  readonly sock = dgram.createSocket('udp4');
  readonly stray: Buffer[] = [];
  private waiting = new Map<number, (b: Buffer) => void>();

  constructor(readonly port: number, readonly host = '127.0.0.1') {
    this.sock.on('message', (msg) => {
      const id = msg.length >= 2 ? msg.readUInt16BE(0) : -1;
      const w = this.waiting.get(id);
      if (w) {
        this.waiting.delete(id);
        w(msg);
      } else {
        this.stray.push(msg);
      }
    });
  }

  async bind(): Promise<void> {
    await new Promise<void>((resolve) => this.sock.bind(0, '127.0.0.1', resolve));
    this.sock.setRecvBufferSize(4 * 1024 * 1024);
  }

  send(buf: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.sock.send(buf, this.port, this.host, (e) => (e ? reject(e) : resolve())));
  }

  /** Sends `buf` and resolves the datagram whose ID matches (the first two bytes), or null on timeout. */
  async query(buf: Buffer, timeoutMs = 2000): Promise<Buffer | null> {
    const id = buf.length >= 2 ? buf.readUInt16BE(0) : -2;
    const p = new Promise<Buffer | null>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(null);
      }, timeoutMs);
      this.waiting.set(id, (b) => {
        clearTimeout(timer);
        resolve(b);
      });
    });
    await this.send(buf);
    return p;
  }

  close(): void {
    this.sock.close();
  }
}

/** Frames messages for TCP (2-byte length prefix, RFC 1035 4.2.2). */
export function frame(msg: Buffer): Buffer {
  const out = Buffer.alloc(msg.length + 2);
  out.writeUInt16BE(msg.length, 0);
  msg.copy(out, 2);
  return out;
}

/** A TCP connection that splits the byte stream back into messages. */
export class TcpClient {
  readonly sock: net.Socket;
  readonly messages: Buffer[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  private listeners: Array<() => void> = [];
  readonly connected: Promise<void>;
  readonly closedAt: Promise<number>;

  constructor(port: number, host = '127.0.0.1') {
    this.sock = net.connect(port, host);
    this.sock.setNoDelay(true);
    this.connected = new Promise((resolve, reject) => {
      this.sock.once('connect', resolve);
      this.sock.once('error', reject);
    });
    this.sock.on('error', () => { /* reported through `closed` */ });
    this.sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 2) {
        const len = this.buf.readUInt16BE(0);
        if (this.buf.length < len + 2) break;
        this.messages.push(this.buf.subarray(2, 2 + len));
        this.buf = this.buf.subarray(2 + len);
      }
      this.notify();
    });
    this.closedAt = new Promise((resolve) => {
      this.sock.once('close', () => {
        this.closed = true;
        this.notify();
        resolve(Date.now());
      });
    });
  }

  private notify(): void {
    const l = this.listeners;
    this.listeners = [];
    for (const f of l) f();
  }

  write(data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.sock.write(data, (e) => (e ? reject(e) : resolve())));
  }

  /** Waits until `n` messages have arrived in total (or the connection closed, or timeout). */
  async waitFor(n: number, timeoutMs = 3000): Promise<Buffer[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < n && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.listeners.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.messages.slice(0, n);
  }

  /** Sends one framed message and returns the next message to arrive (or null). */
  async query(msg: Buffer, timeoutMs = 3000): Promise<Buffer | null> {
    const want = this.messages.length + 1;
    // A server may close on us (after junk); that shows as `closed` and a null answer.
    if (this.closed) return null;
    await this.write(frame(msg)).catch(() => undefined);
    const got = await this.waitFor(want, timeoutMs);
    return got.length >= want ? got[want - 1]! : null;
  }

  destroy(): void {
    this.sock.destroy();
  }
}

export interface Checked {
  ok: boolean;
  why: string;
  id: number;
  qr: boolean;
  opcode: number;
  tc: boolean;
  aa: boolean;
  rd: boolean;
  /** Extended rcode: header low 4 bits plus the OPT TTL's upper 8 bits shifted by 4. */
  rcode: number;
  optCount: number;
  packet: dnsPacket.Packet | null;
}

/** Decodes a response strictly: dns-packet must read every byte, at most one OPT. */
export function check(buf: Buffer): Checked {
  const r: Checked = {
    ok: false, why: '', id: -1, qr: false, opcode: -1, tc: false, aa: false, rd: false, rcode: -1, optCount: 0, packet: null,
  };
  if (buf.length < 12) {
    r.why = `short message (${buf.length} bytes)`;
    return r;
  }
  const flags = buf.readUInt16BE(2);
  r.id = buf.readUInt16BE(0);
  r.qr = (flags & 0x8000) !== 0;
  r.opcode = (flags >> 11) & 0xf;
  r.aa = (flags & 0x0400) !== 0;
  r.tc = (flags & 0x0200) !== 0;
  r.rd = (flags & 0x0100) !== 0;
  r.rcode = flags & 0xf;
  let p: dnsPacket.Packet;
  try {
    p = dnsPacket.decode(buf);
  } catch (e) {
    r.why = `does not decode: ${(e as Error).message}`;
    return r;
  }
  const used = (dnsPacket.decode as unknown as { bytes: number }).bytes;
  if (used !== buf.length) {
    r.why = `decoded ${used} of ${buf.length} bytes (counts do not match the contents)`;
    return r;
  }
  r.packet = p;
  const opts = (p.additionals ?? []).filter((a) => a.type === 'OPT') as Array<dnsPacket.Answer & { extendedRcode: number }>;
  r.optCount = opts.length;
  if (opts.length > 1) {
    r.why = `${opts.length} OPT records`;
    return r;
  }
  if (opts[0]) r.rcode |= opts[0].extendedRcode << 4;
  r.ok = true;
  return r;
}

/** The OPT record of a decoded packet, if any. */
export function optOf(p: dnsPacket.Packet | null): (dnsPacket.Answer & {
  udpPayloadSize: number; extendedRcode: number; ednsVersion: number; flags: number; flag_do: boolean;
  options: Array<{ code: number; data?: Buffer }>;
}) | undefined {
  return (p?.additionals ?? []).find((a) => a.type === 'OPT') as never;
}

export interface DigResult {
  code: number;
  raw: string;
  status: string;
  id: number;
  flags: string[];
  counts: Record<string, number>;
  question: string[];
  answer: string[][];
  authority: string[][];
  additional: string[][];
  /** The EDNS pseudosection line(s), lower-cased. */
  edns: string;
}

/** Runs dig or kdig against 127.0.0.1:port and parses its output (both formats). */
export function runDig(bin: 'dig' | 'kdig', port: number, args: string[], timeoutMs = 8000): Promise<DigResult> {
  const full = ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=2', ...args];
  if (bin === 'kdig') {
    // kdig spells retries +retry=N (tries = retry + 1).
    full.splice(full.indexOf('+tries=1'), 1, '+retry=0');
  }
  return new Promise((resolve) => {
    execFile(bin, full, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 99) : 0;
      resolve(parseDig(code, stdout + (stderr ? `\n;; STDERR: ${stderr}` : '')));
    });
  });
}

export function parseDig(code: number, raw: string): DigResult {
  const r: DigResult = {
    code, raw, status: '', id: -1, flags: [], counts: {}, question: [], answer: [], authority: [], additional: [], edns: '',
  };
  let section = '';
  for (const line0 of raw.split('\n')) {
    const line = line0.trim();
    if (line === '') continue;
    const hdr = /status:\s*([A-Z0-9]+)[;,]\s*id:\s*(\d+)/.exec(line);
    if (hdr) {
      r.status = hdr[1]!;
      r.id = Number(hdr[2]);
      continue;
    }
    const fl = /^;;\s*flags:([^;]*);(.*)$/i.exec(line);
    if (fl) {
      r.flags = fl[1]!.trim().split(/\s+/).filter(Boolean).map((s) => s.toLowerCase());
      for (const m of fl[2]!.matchAll(/([A-Z]+):\s*(\d+)/g)) r.counts[m[1]!] = Number(m[2]);
      continue;
    }
    // dig: ";; ANSWER SECTION:", ";; OPT PSEUDOSECTION:"; kdig: ";; EDNS PSEUDOSECTION:".
    const sec = /^;;\s*([A-Z ]+?)\s*(SECTION|PSEUDOSECTION):/.exec(line);
    if (sec) {
      section = sec[2] === 'PSEUDOSECTION' ? 'EDNS' : sec[1]!.trim();
      continue;
    }
    if (section === 'EDNS') {
      if (line.startsWith(';')) r.edns += `${line.toLowerCase()}\n`;
      continue;
    }
    if (section === 'QUESTION') {
      const q = line.replace(/^;+\s*/, '');
      if (q) r.question.push(q);
      continue;
    }
    if (line.startsWith(';')) continue;
    const fields = line.split(/\s+/);
    if (section === 'ANSWER') r.answer.push(fields);
    else if (section === 'AUTHORITY') r.authority.push(fields);
    else if (section === 'ADDITIONAL') r.additional.push(fields);
  }
  return r;
}

/** "name ttl class type rdata..." → "type rdata" (name and TTL left out), for easy comparison. */
export function rdataOf(rows: string[][], type?: string): string[] {
  return rows.filter((f) => !type || f[3] === type).map((f) => f.slice(4).join(' '));
}
