// Both engines bind a listen address the same way: UDP first, then TCP on the port UDP got. With port 0
// the kernel's ephemeral UDP port may already be taken for TCP, so that case tries again with a new one.

export const BIND_ATTEMPTS = 20;

/** Binds UDP then TCP on the same port; `closeUdp` undoes a UDP bind whose TCP partner failed. */
export async function bindUdpThenTcp<U, T>(
  port: number,
  bindUdp: (port: number) => Promise<{ socket: U; port: number }> | { socket: U; port: number },
  bindTcp: (port: number) => Promise<T> | T,
  closeUdp: (udp: U) => void,
): Promise<{ udp: U; tcp: T; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const udp = await bindUdp(port);
    try {
      return { udp: udp.socket, tcp: await bindTcp(udp.port), port: udp.port };
    } catch (err) {
      closeUdp(udp.socket);
      if (port !== 0 || attempt + 1 >= BIND_ATTEMPTS || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
}
