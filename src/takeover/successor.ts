// What `run` (src/main.ts) does about takeovers, in two hooks around serving: which sockets and HTTP
// listener to adopt from the kdns taken over, and, once serving, telling it so and standing ready to be
// taken over in turn.

import type { Logger } from 'pino';
import type { ListenAddress } from '../config/types.js';
import { loadNative } from '../engine/native-binding.js';
import { adoptedHttpFd, type HandOffSource } from './hand-off.js';
import type { PortClaim } from './port-claim.js';
import type { ListenSockets } from './sockets.js';

/** What the engines and the HTTP server start on instead of binding (nothing when not taking over). */
export interface Adopted {
  sockets: ListenSockets[];
  httpFd: number | null;
}

export function adoptedFrom(claim: PortClaim, http: ListenAddress | null): Adopted {
  return { sockets: claim.adoption?.listen ?? [], httpFd: adoptedHttpFd(claim.adoption, http) };
}

export interface Serving {
  close(): Promise<void>;
  handOff: HandOffSource;
}

/**
 * Once `server` serves: the kdns taken over (if any) is told to stop, and a later `kdns --takeover` may
 * take this one over. `takenOver` resolves with the successor's pid once it serves; `close` then drains
 * as on SIGTERM and releases the claims.
 */
export function serveTakeovers<S extends Serving>(server: S, claim: PortClaim, log: Logger): Omit<S, 'handOff'> & { takenOver: Promise<number> } {
  claim.adoption?.serving();
  let taken!: (pid: number) => void;
  const takenOver = new Promise<number>((resolve) => { taken = resolve; });
  claim.serveTakeovers({ binding: loadNative(), source: server.handOff, log, takenOver: taken });
  const { handOff: _handOff, ...rest } = server;
  return {
    ...rest,
    takenOver,
    async close() {
      await server.close();
      await claim.release();
    },
  };
}
