// dnstap for a running kdns: one ring per data-plane thread (each thread's DnstapRecorder writes its own),
// one output on the main thread that encodes and writes, and kdns_dnstap_frames_total{result}.

import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { KdnsConfig } from '../config/types.js';
import { KDNS_VERSION } from '../config/version.js';
import { DnstapOutput } from './output.js';
import type { DnstapThreadSettings } from './recorder.js';
import { ringBuffer } from './ring.js';
import { openSink } from './sinks.js';

export { dnstapRecorder, type DnstapThreadSettings } from './recorder.js';

export interface Dnstap {
  /** Settings for data-plane thread `index` (a restarted worker gets the same ring). */
  thread(index: number): DnstapThreadSettings;
  /** Call after the data plane has stopped: the last records are written, then the stream is ended. */
  close(): Promise<void>;
}

/** Null when `--dnstap` is not set. Opens the file (or starts connecting to the socket) now. */
export function startDnstap(config: KdnsConfig, log: Logger, registry: Registry, threads: number): Dnstap | null {
  if (config.dnstap === null) return null;
  const rings = Array.from({ length: threads }, () => ringBuffer(config.dnstapBuffer));
  const dnstapLog = log.child({ component: 'dnstap' });
  const output = new DnstapOutput(
    rings, openSink(config.dnstap, dnstapLog), { identity: hostname(), version: `kdns ${KDNS_VERSION}` }, config.dnstapBuffer, dnstapLog,
  );
  new Counter({
    name: 'kdns_dnstap_frames_total',
    help: 'dnstap frames: written to the file or socket, or dropped (a full queue, a collector not connected or not keeping up).',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ result: 'written' }, output.written);
      this.inc({ result: 'dropped' }, output.dropped);
    },
  });
  dnstapLog.info({ output: config.dnstap, sample: config.dnstapSample, threads }, 'dnstap on');
  return {
    thread: (index) => ({ ring: rings[index]!, sampleEvery: config.dnstapSample }),
    close: () => output.close(),
  };
}

