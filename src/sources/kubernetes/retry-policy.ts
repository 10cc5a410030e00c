// When to restart a failed list/watch. Two kinds of failure call for different waits:
// - the API server answered with an error (5xx, 429, 403...): it is up but unhappy, so back off
//   exponentially (base doubling to 30 s) and do not add to its load;
// - nothing answered (connection refused or reset, unreachable, timed out): retrying costs the
//   server nothing, and the sooner we notice it is back the sooner changes reach DNS, so retry at
//   most 1 s apart. A single exponential backoff made changes appear 3.4–4 s after an API server
//   restart. The short wait is jittered down to half so a fleet of nodes does not reconnect in step.

/** Error codes Node and node-fetch give when no HTTP answer came back. */
const UNANSWERED = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN',
  'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_STREAM_PREMATURE_CLOSE',
]);

export const ANSWERED_MAX_MS = 30_000;
export const UNANSWERED_FIRST_MS = 250;
export const UNANSWERED_MAX_MS = 1000;

/** True when the failure means no HTTP answer came back (checks `code` on the error and its causes). */
export function isUnanswered(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && UNANSWERED.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export class RetryPolicy {
  private readonly baseMs: number;
  private answeredMs: number;
  private unansweredMs = UNANSWERED_FIRST_MS;

  constructor(opts: { baseMs?: number } = {}) {
    this.baseMs = opts.baseMs ?? 500;
    this.answeredMs = this.baseMs;
  }

  /** Milliseconds to wait before restarting after `err`. */
  next(err: unknown, random: () => number = Math.random): number {
    if (isUnanswered(err)) {
      const wait = this.unansweredMs * (0.5 + random() / 2);
      this.unansweredMs = Math.min(this.unansweredMs * 2, UNANSWERED_MAX_MS);
      return Math.round(wait);
    }
    const wait = this.answeredMs;
    this.answeredMs = Math.min(this.answeredMs * 2, ANSWERED_MAX_MS);
    return wait;
  }

  /** Events flow again: the next failure starts from the first wait. */
  reset(): void {
    this.answeredMs = this.baseMs;
    this.unansweredMs = UNANSWERED_FIRST_MS;
  }
}
