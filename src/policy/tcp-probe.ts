// One health check: can a TCP connection to address:port be opened within the timeout? The connection
// is closed at once (ContainerDNS's scanner did the same); nothing is sent.

import { connect } from 'node:net';

export type Probe = (host: string, port: number, timeoutMs: number) => Promise<boolean>;

export const tcpProbe: Probe = (host, port, timeoutMs) => new Promise((resolve) => {
  const socket = connect({ host, port });
  const done = (ok: boolean): void => {
    clearTimeout(timer);
    socket.removeAllListeners();
    socket.on('error', () => {}); // a late error after destroy must not be unhandled
    socket.destroy();
    resolve(ok);
  };
  const timer = setTimeout(() => done(false), timeoutMs);
  socket.once('connect', () => done(true));
  socket.once('error', () => done(false));
});
