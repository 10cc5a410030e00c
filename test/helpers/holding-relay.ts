// A relay the test controls, in front of a real upstream (dnsmasq): UDP and TCP on one loopback port. Every
// query goes on to the upstream over UDP at once; the answers to queries whose name `hold` matches are
// kept until the test calls release(), so a test can keep forwarded queries in flight as long as it needs
// (a shutdown, a half-close) without timers. Other answers pass straight back. Only the delay is the
// test's: the answers are the upstream's own.
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';

const UPSTREAM_TIMEOUT_MS = 5000;

export interface HoldingRelay {
  port: number;
  /** Names of the held queries seen so far, lower case, in arrival order. */
  held(): string[];
  /** The source port of every UDP query that reached the relay, in arrival order. */
  udpSourcePorts(): number[];
  /** Resolves once `n` held queries have arrived; rejects after `timeoutMs`. */
  waitHeld(n: number, timeoutMs?: number): Promise<void>;
  /** Lets every held answer (and every later one) go. */
  release(): void;
  close(): Promise<void>;
}

export async function startHoldingRelay(upstreamPort: number, hold: (name: string) => boolean): Promise<HoldingRelay> {
  const seen: string[] = [];
  const sourcePorts: number[] = [];
  let closed = false;
  let waiters: Array<() => void> = [];
  let open!: () => void;
  const gate = new Promise<void>((resolve) => { open = resolve; });

  /** The upstream's answer, after the gate when the name is held; null when the upstream is silent. */
  const relay = async (msg: Buffer): Promise<Buffer | null> => {
    let name = '';
    try {
      name = (dnsPacket.decode(msg).questions?.[0]?.name ?? '').toLowerCase();
    } catch {
      return null;
    }
    const held = hold(name);
    if (held) {
      seen.push(name);
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    }
    const answer = await askUpstream(upstreamPort, msg);
    if (held) await gate;
    return answer;
  };

  const { udp, tcp } = await bindBoth();
  const port = udp.address().port;
  udp.on('message', (msg, rinfo) => {
    sourcePorts.push(rinfo.port);
    void relay(msg).then((answer) => { if (answer !== null && !closed) udp.send(answer, rinfo.port, rinfo.address); });
  });
  const sockets = new Set<net.Socket>();
  tcp.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        void relay(msg).then((answer) => {
          if (answer === null || socket.destroyed) return;
          const framed = Buffer.alloc(answer.length + 2);
          framed.writeUInt16BE(answer.length, 0);
          answer.copy(framed, 2);
          socket.write(framed);
        });
      }
    });
  });

  return {
    port,
    held: () => [...seen],
    udpSourcePorts: () => [...sourcePorts],
    waitHeld: async (n, timeoutMs = 10_000) => {
      const until = Date.now() + timeoutMs;
      while (seen.length < n) {
        const left = until - Date.now();
        if (left <= 0) throw new Error(`relay: ${seen.length} of ${n} held queries arrived within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => { clearTimeout(timer); resolve(); });
        });
      }
    },
    release: () => open(),
    close: async () => {
      closed = true; // held answers released now are not sent: the socket closes below
      open();
      udp.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}

/** A UDP socket on an ephemeral loopback port and a TCP server on the same port (retried: TCP may find it taken). */
async function bindBoth(): Promise<{ udp: dgram.Socket; tcp: net.Server }> {
  for (let attempt = 0; ; attempt++) {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const tcp = net.createServer();
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(udp.address().port, '127.0.0.1', () => resolve(true));
    });
    if (ok) return { udp, tcp };
    udp.close();
    if (attempt === 4) throw new Error('relay: no port free for both UDP and TCP in 5 tries');
  }
}

function askUpstream(port: number, msg: Buffer): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => finish(null), UPSTREAM_TIMEOUT_MS);
    const finish = (answer: Buffer | null): void => {
      clearTimeout(timer);
      sock.close();
      resolve(answer);
    };
    sock.once('message', (answer) => finish(answer));
    sock.send(msg, port, '127.0.0.1', (err) => { if (err) finish(null); });
  });
}
