// Which settings a SIGHUP reload applies while serving, and which wait for a restart. Pure: a reload
// calls `reloadable(current, next)` and gets the config to serve from now on plus the names of the
// settings it had to leave as they were (logged "needs restart", never a failure).

import type { KdnsConfig } from '../config/types.js';
import { defaultForwardOptions, type ForwardOptions } from '../forward/options.js';

/**
 * Applied by a reload: the data kdns serves and where forwarded names go. Zones and hosts are re-read
 * even when these settings did not change (the files may have).
 */
export const LIVE_SETTINGS = [
  'zoneFiles', 'hosts', 'hostsTtl', 'routes', 'defaultUpstreams', 'resolvConf', 'addresses', 'filterAaaa',
] as const satisfies readonly (keyof KdnsConfig)[];

/** The `forward:` tunables a running forwarder takes (Forwarder.reconfigure). */
export const LIVE_FORWARD_SETTINGS = [
  'policy', 'timeoutMs', 'attempts', 'localTtl', 'filterAaaa', 'addresses',
] as const satisfies readonly (keyof ForwardOptions)[];

/**
 * Everything else needs a restart: sockets (listen, tcp, http), threads and engine, what the responder
 * and the cluster source are built with, the log, and the forward cache, access list and upstream
 * tunables (the access list is copied into the native engine, and the cache is sized once).
 */
export interface Reloadable {
  /** `current` with every live setting taken from `next`. */
  config: KdnsConfig;
  /** Config keys (as in kdns.yaml) that differ in `next` but wait for a restart. */
  needsRestart: string[];
}

export function reloadable(current: KdnsConfig, next: KdnsConfig): Reloadable {
  const config: KdnsConfig = { ...current };
  const target = config as unknown as Record<string, unknown>;
  for (const key of LIVE_SETTINGS) target[key] = next[key];
  const needsRestart: string[] = [];
  for (const key of Object.keys(current) as (keyof KdnsConfig)[]) {
    if (key === 'forward' || (LIVE_SETTINGS as readonly string[]).includes(key)) continue;
    if (!same(current[key], next[key])) needsRestart.push(settingName(key));
  }
  const forward = reloadableForward(current.forward, next.forward);
  config.forward = forward.options;
  needsRestart.push(...forward.needsRestart);
  return { config, needsRestart };
}

/** The forward section: live tunables from `next`, the rest kept (null stands for the defaults). */
function reloadableForward(current: ForwardOptions | null, next: ForwardOptions | null): { options: ForwardOptions | null; needsRestart: string[] } {
  if (current === null && next === null) return { options: null, needsRestart: [] };
  const before = current ?? defaultForwardOptions();
  const after = next ?? defaultForwardOptions();
  const options: ForwardOptions = { ...before };
  const target = options as unknown as Record<string, unknown>;
  for (const key of LIVE_FORWARD_SETTINGS) target[key] = after[key];
  const needsRestart: string[] = [];
  for (const key of Object.keys(before) as (keyof ForwardOptions)[]) {
    if ((LIVE_FORWARD_SETTINGS as readonly string[]).includes(key)) continue;
    if (!same(before[key], after[key])) needsRestart.push('forward.' + settingName(key));
  }
  return { options, needsRestart };
}

/** Settings are plain data (strings, numbers, arrays, records): equal when their JSON is. */
function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Fields whose kdns.yaml key is not their kebab-case name (lists named after one item). */
const KEY_OF_FIELD: Record<string, string> = { dynamicZones: 'dynamic-zone', tsigKeys: 'tsig-key' };

/** camelCase field → the key of kdns.yaml (maxUdpPayload → max-udp-payload, timeoutMs → timeout). */
function settingName(key: string): string {
  return KEY_OF_FIELD[key] ?? key.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}
