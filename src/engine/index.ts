// Engine selection: `native` where the addon loads, else `node`, and the log says which and why.

import type { EngineName } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { loadNative, nativeUnavailableReason, type NativeBinding } from './native-binding.js';
import { NativeEngine, type NativeEngineOptions } from './native.js';
import { NodeEngine } from './node.js';
import type { PacketEngine } from './types.js';

export type { PacketEngine, EngineOptions, BoundAddress, QueryObserver, ExchangeObserver } from './types.js';
export { NativeEngine, type NativeEngineOptions } from './native.js';
export { NodeEngine } from './node.js';
export { loadNative, nativeUnavailableReason } from './native-binding.js';

/**
 * `auto`: native when the addon loads, else node (logged at info with the reason). `native`: throws a
 * ConfigError (exit 2) naming the reason when the addon is not loadable. `node`: always node.
 * `reusePort` and `batchSize` apply to the native engine only.
 */
export function createEngine(kind: EngineName, opts: NativeEngineOptions): PacketEngine {
  if (kind === 'node') return new NodeEngine(opts);
  const binding = loadNative();
  return createEngineWith(kind, opts, binding, binding === null ? nativeUnavailableReason() : '');
}

/** The decision itself, given the addon (or null and why): pure, so tests can run it without an addon. */
export function createEngineWith(kind: EngineName, opts: NativeEngineOptions, binding: NativeBinding | null, reason: string): PacketEngine {
  if (kind === 'node') return new NodeEngine(opts);
  if (binding === null) {
    if (kind === 'native') throw new ConfigError(null, null, `--engine native: the native addon is not available: ${reason}`);
    opts.log.info({ component: 'engine', reason }, 'native engine unavailable: using the node engine');
    return new NodeEngine(opts);
  }
  return new NativeEngine({ ...opts, binding });
}
