// UDP receive buffers: both engines ask for `udp-buffer` bytes per socket and log what the kernel granted,
// so an operator sees at once when net.core.rmem_max (the cap without CAP_NET_ADMIN) cut the request.

import type { Logger } from 'pino';

/**
 * Logs the receive buffer of the socket at `address`. `kernelValue` is SO_RCVBUF as getsockopt reports
 * it: the kernel doubles a request to cover its own bookkeeping, so half of it is what was granted.
 */
export function logReceiveBuffer(log: Logger, address: string, requested: number, kernelValue: number): void {
  if (requested <= 0) return; // the kernel's default was asked for
  const granted = Math.floor(kernelValue / 2);
  const facts = { address, requested, granted, kernelValue };
  if (granted < requested) {
    log.warn(facts, 'udp receive buffer smaller than asked: raise net.core.rmem_max or give kdns CAP_NET_ADMIN');
  } else {
    log.info(facts, 'udp receive buffer');
  }
}
