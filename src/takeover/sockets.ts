// The DNS sockets a takeover moves: per listen address, each engine's UDP socket and TCP listener (one pair
// per worker thread, all in one SO_REUSEPORT group). The successor must read every one of them: a socket of
// the group that stays open unread keeps getting its share of the packets, and would lose them.

/** One engine's sockets for one listen address, as fd numbers of the process that holds them. */
export interface ListenSockets {
  host: string;
  port: number;
  udp: number;
  tcp: number;
}

/**
 * The sockets worker `index` of `workers` adopts: every `workers`-th pair, so all of them are read
 * whatever the two processes' worker counts (a worker may get several pairs per address, or none, and
 * then binds a fresh socket into the same group).
 */
export function socketsForWorker(adopted: readonly ListenSockets[], index: number, workers: number): ListenSockets[] {
  return adopted.filter((_, i) => i % workers === index);
}

/** The adopted pairs of one listen address. */
export function socketsFor(adopted: readonly ListenSockets[], host: string, port: number): ListenSockets[] {
  return adopted.filter((s) => s.host === host && s.port === port);
}

/**
 * The fd of a listening server (the claim, HTTP), to hand over. Node has no public API for it; the handle
 * of a listening TCP or pipe server carries it on Unix. null when it is not there.
 */
export function listeningFd(server: { readonly _handle?: unknown } | object): number | null {
  const handle = (server as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}
