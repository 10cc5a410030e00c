// Small fake DNS servers on loopback for forwarder tests: each answers UDP and TCP on one port through a
// handler that decides per query (answer, stay silent, delay, truncate), and records what it received
// so tests can count upstream queries. Not a test file itself (no .test suffix).
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';

export interface Received {
  name: string;
  type: string;
  proto: 'udp' | 'tcp';
  id: number;
  /** The DO bit of the query's OPT, or null without an OPT. */
  dnssecOk: boolean | null;
  udpSize: number | null;
  flags: number;
}

/** Returns the response bytes, or null to send nothing. May be async (a slow server). */
export type Handler = (q: dnsPacket.Packet, raw: Buffer, proto: 'udp' | 'tcp') => Buffer | null | Promise<Buffer | null>;

export interface FakeUpstream {
  port: number;
  received: Received[];
  count(name?: string, proto?: 'udp' | 'tcp'): number;
  close(): Promise<void>;
}

export async function startFake(handler: Handler, opts: { tcp?: boolean } = {}): Promise<FakeUpstream> {
  // Bounded: a few tries to find a port free for UDP and TCP at once.
  for (let i = 0; i < 10; i++) {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const port = udp.address().port;
    let server: net.Server | null = null;
    if (opts.tcp !== false) {
      server = net.createServer();
      const ok = await new Promise<boolean>((resolve) => {
        server!.once('error', () => resolve(false));
        server!.listen(port, '127.0.0.1', () => resolve(true));
      });
      if (!ok) {
        udp.close();
        continue;
      }
    }
    return wire(udp, server, port, handler);
  }
  throw new Error('startFake: no free port');
}

function wire(udp: dgram.Socket, server: net.Server | null, port: number, handler: Handler): FakeUpstream {
  const received: Received[] = [];
  const sockets = new Set<net.Socket>();
  let closed = false;
  const record = (raw: Buffer, proto: 'udp' | 'tcp'): dnsPacket.Packet | null => {
    let q: dnsPacket.Packet;
    try {
      q = dnsPacket.decode(raw);
    } catch {
      return null;
    }
    const opt = (q.additionals ?? []).find((a) => a.type === 'OPT') as { udpPayloadSize?: number; flags?: number } | undefined;
    received.push({
      name: q.questions?.[0]?.name ?? '',
      type: q.questions?.[0]?.type ?? '',
      proto,
      id: q.id ?? 0,
      dnssecOk: opt === undefined ? null : ((opt.flags ?? 0) & 0x8000) !== 0,
      udpSize: opt?.udpPayloadSize ?? null,
      flags: q.flags ?? 0,
    });
    return q;
  };
  udp.on('message', (raw, rinfo) => {
    const q = record(raw, 'udp');
    if (q === null) return;
    void Promise.resolve(handler(q, raw, 'udp')).then((resp) => {
      if (resp !== null && !closed) udp.send(resp, rinfo.port, rinfo.address);
    });
  });
  server?.on('connection', (sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const raw = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + raw.length);
        const q = record(Buffer.from(raw), 'tcp');
        if (q === null) continue;
        void Promise.resolve(handler(q, Buffer.from(raw), 'tcp')).then((resp) => {
          if (resp === null || closed || sock.destroyed) return;
          const len = Buffer.alloc(2);
          len.writeUInt16BE(resp.length);
          sock.write(Buffer.concat([len, resp]));
        });
      }
    });
  });
  return {
    port,
    received,
    count: (name, proto) => received.filter((r) => (name === undefined || r.name.toLowerCase() === name.toLowerCase()) &&
      (proto === undefined || r.proto === proto)).length,
    close: async () => {
      if (closed) return;
      closed = true;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface ReplyOptions {
  rcode?: number;
  answers?: dnsPacket.Answer[];
  authorities?: dnsPacket.Answer[];
  truncated?: boolean;
  id?: number;
  /** Echo this question name instead of the query's (to test strict matching). */
  name?: string;
}

/** A response to `q` built with dns-packet; the query's OPT is answered with one of ours. */
export function reply(q: dnsPacket.Packet, o: ReplyOptions = {}): Buffer {
  const questions = (q.questions ?? []).map((x) => ({ ...x, name: o.name ?? x.name }));
  return dnsPacket.encode({
    type: 'response',
    id: o.id ?? q.id,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (o.truncated ? dnsPacket.TRUNCATED_RESPONSE : 0) | (o.rcode ?? 0),
    questions,
    answers: o.answers ?? [],
    authorities: o.authorities ?? [],
    additionals: (q.additionals ?? []).some((a) => a.type === 'OPT')
      ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0 } as dnsPacket.Answer]
      : [],
  });
}

export function soa(zone: string, ttl: number, minimum: number): dnsPacket.Answer {
  return {
    type: 'SOA', name: zone, ttl,
    data: { mname: 'ns.' + zone, rname: 'hostmaster.' + zone, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum },
  } as dnsPacket.Answer;
}

export function a(name: string, ip: string, ttl: number): dnsPacket.Answer {
  return { type: 'A', name, ttl, data: ip } as dnsPacket.Answer;
}

/** A query as a client sends it. */
export function clientQuery(name: string, type: string, o: { id?: number; edns?: boolean; dnssecOk?: boolean; rd?: boolean } = {}): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: o.id ?? 4321,
    flags: o.rd === false ? 0 : dnsPacket.RECURSION_DESIRED,
    questions: [{ type: type as dnsPacket.RecordType, name }],
    additionals: o.edns ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: o.dnssecOk ? 0x8000 : 0 } as dnsPacket.Answer] : [],
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
