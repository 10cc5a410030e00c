// Requests between the main thread and the workers. Main → workers: a question every answering worker
// replies to (metrics scrape, cache flush, forward reconfiguration), each bounded by a timeout so a stuck
// worker is left out rather than blocking a scrape. Workers → main: RFC 2136 UPDATE messages, which the
// main thread's dynamic zones answer, and AXFR/IXFR queries, which its transfer service answers.

import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { DistributiveOmit, FromWorker, ToWorker, WorkerRequest } from './protocol.js';

/** How long a worker has to answer a request before it is left out. */
const REPLY_TIMEOUT_MS = 1000;

export type WorkerReply = Omit<Extract<FromWorker, { type: 'reply' }>, 'type' | 'id'>;
export type WorkerQuestion = DistributiveOmit<WorkerRequest, 'type' | 'id'>;

export class WorkerRpc {
  private requestId = 0;
  private readonly replies = new Map<number, (reply: WorkerReply) => void>();

  /** Asks each of `workers`; a worker that does not reply in time contributes `{}`. */
  askAll(workers: Worker[], question: WorkerQuestion): Promise<WorkerReply[]> {
    return Promise.all(workers.map((worker) => new Promise<WorkerReply>((resolve) => {
      const id = ++this.requestId;
      const timer = setTimeout(() => {
        this.replies.delete(id);
        resolve({});
      }, REPLY_TIMEOUT_MS);
      this.replies.set(id, (reply) => {
        clearTimeout(timer);
        this.replies.delete(id);
        resolve(reply);
      });
      worker.postMessage({ type: 'request', id, ...question } satisfies ToWorker);
    })));
  }

  /** A worker's `reply` message. */
  onReply(msg: Extract<FromWorker, { type: 'reply' }>): void {
    this.replies.get(msg.id)?.(msg);
  }
}

/**
 * Runs `handle` for a message a worker handed over (an UPDATE, a zone transfer) and posts `reply(result)`
 * back, unless `current()` says the worker was replaced meanwhile (its client then times out and retries,
 * as after any lost datagram). A failure is logged as `<what> failed` and answered with null (silence).
 */
export function answerWorker<T>(
  worker: Worker, current: () => boolean, handle: () => Promise<T | null>, reply: (result: T | null) => ToWorker,
  log: Logger, what: string,
): void {
  void handle().catch((err: unknown) => {
    log.error({ err }, `${what} failed`);
    return null;
  }).then((result) => {
    if (current()) worker.postMessage(reply(result));
  });
}
