// Whether one upstream is worth sending queries to. Passive: consecutive failures mark it down, and a
// failure that says nobody is there (ICMP port unreachable → ECONNREFUSED, a certificate that does not
// verify) marks it down at once, since asking again cannot help. Active: while down, a probe (the
// upstream's `. NS` query) runs in the background, one at a time, with the wait doubling from
// `probeIntervalMs` up to `probeMaxIntervalMs`; the first answer of any rcode brings it back. Queries never
// go to a down upstream (forwarder.ts), so a dead one costs a probe per interval, not a send per query.

import type { Logger } from 'pino';

/** Why an upstream exchange got no usable answer; the `reason` label of the failure metric. */
export type FailureReason = 'timeout' | 'refused' | 'tls' | 'error';

/** Failures that no retry fixes soon: nothing listening on the port, a certificate that does not verify. */
function downAtOnce(reason: FailureReason): boolean {
  return reason === 'refused' || reason === 'tls';
}

export interface HealthSettings {
  failuresBeforeDown: number;
  probeIntervalMs: number;
  probeMaxIntervalMs: number;
}

export interface HealthHooks {
  /** One probe exchange; true when the upstream answered (any rcode). */
  probe(): Promise<boolean>;
  /** The up/down state changed (metrics). */
  changed(up: boolean): void;
}

export class UpstreamHealth {
  healthy = true;
  consecutiveFailures = 0;
  private probeTimer: NodeJS.Timeout | null = null;
  private probeDelayMs: number;
  private stopped = false;
  private readonly name: string;
  private readonly settings: HealthSettings;
  private readonly hooks: HealthHooks;
  private readonly log: Logger;

  constructor(name: string, settings: HealthSettings, hooks: HealthHooks, log: Logger) {
    this.name = name;
    this.settings = settings;
    this.hooks = hooks;
    this.log = log;
    this.probeDelayMs = settings.probeIntervalMs;
  }

  /** A server that answers anything is alive; SERVFAIL is the upstream's verdict on a name, not on itself. */
  noteSuccess(): void {
    this.consecutiveFailures = 0;
    if (!this.healthy) this.markUp('answered a query');
  }

  /** `detail` (an error code or message) goes into the log line of the transition to down. */
  noteFailure(reason: FailureReason, detail?: string): void {
    this.consecutiveFailures++;
    if (!this.healthy || this.stopped) return;
    if (!downAtOnce(reason) && this.consecutiveFailures < this.settings.failuresBeforeDown) return;
    this.healthy = false;
    this.hooks.changed(false);
    this.log.warn({ upstream: this.name, reason, detail, failures: this.consecutiveFailures },
      reason === 'tls'
        ? 'upstream down: TLS certificate verification failed; probing it until it answers'
        : 'upstream down: probing it until it answers');
    this.probeDelayMs = this.settings.probeIntervalMs;
    this.scheduleProbe();
  }

  /** No more probes (the upstream is disabled or closed). */
  stop(): void {
    this.stopped = true;
    if (this.probeTimer !== null) clearTimeout(this.probeTimer);
    this.probeTimer = null;
  }

  private markUp(why: string): void {
    this.healthy = true;
    this.consecutiveFailures = 0;
    if (this.probeTimer !== null) clearTimeout(this.probeTimer);
    this.probeTimer = null;
    this.hooks.changed(true);
    this.log.info({ upstream: this.name }, 'upstream up again: ' + why);
  }

  /** One probe after the current delay; a failed one doubles the delay (capped) and schedules the next. */
  private scheduleProbe(): void {
    if (this.probeTimer !== null || this.stopped) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      void this.hooks.probe().then((answered) => {
        if (this.healthy || this.stopped) return;
        if (answered) {
          this.markUp('answered a health probe');
          return;
        }
        this.probeDelayMs = Math.min(this.probeDelayMs * 2, Math.max(this.settings.probeMaxIntervalMs, this.settings.probeIntervalMs));
        this.scheduleProbe();
      });
    }, this.probeDelayMs);
    this.probeTimer.unref();
  }
}
