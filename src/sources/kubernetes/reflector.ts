// List-then-watch for one API kind that keeps no API objects. client-node's informer (ListWatch) holds
// every object it ever delivered, in full, to tell an update from an add and to find deletions on a
// relist; at 10,000 EndpointSlices that cache was the main thread's largest structure, and DNS already
// keeps the slim form it needs in ClusterState. This keeps only `namespace/name → resourceVersion`.
//
// It behaves as ListWatch does, event for event: `connect` on every (re)start; a list (in pages, each
// applied as it arrives, as one batch of changes, so at most one page of full objects is alive) when there is no resourceVersion
// to watch from; a watch from the last resourceVersion seen; a cleanly ended watch re-watches; 410 Gone
// (as an error or an ERROR event) lists again; any other error stops it and goes to `error`.

import { Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { PageFn } from './list-page.js';

export interface ReflectorHandlers {
  /** An object not seen before ('added') or at a resourceVersion other than the last one delivered. */
  upsert(o: KubernetesObject, type: 'added' | 'modified'): void;
  /** An object delivered before is gone (on a relist only `metadata.namespace` and `.name` are set). */
  remove(o: KubernetesObject): void;
  /** Runs `apply` (the deliveries of one list page) so that their changes leave as one batch. */
  batch(apply: () => void): void;
  /** Each (re)start that lists or watches (the first one is no restart). */
  connect(): void;
  /** The list or watch failed other than with 410; the reflector stopped until start() is called again. */
  error(err: unknown): void;
}

/** Objects per list page, as client-go's reflector asks: bounded responses on large clusters. */
export const LIST_PAGE_SIZE = 500;
/** Pages per list at most: a server that keeps handing out continue tokens cannot keep us listing forever. */
const MAX_PAGES = 100_000;

function keyOf(o: KubernetesObject): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

function isGone(err: unknown): boolean {
  const e = err as { statusCode?: number; code?: number } | null;
  return e !== null && typeof e === 'object' && (e.statusCode === 410 || e.code === 410);
}

export class Reflector {
  /** Every object delivered and not deleted: its key → the resourceVersion delivered (undefined if it had none). */
  private readonly versions = new Map<string, string | undefined>();
  private resourceVersion = '';
  private request: AbortController | undefined;
  private stopped = false;
  /** True once a full list has been applied. */
  listed = false;

  constructor(
    private readonly kc: KubeConfig,
    private readonly path: string,
    private readonly fetchPage: PageFn,
    private readonly on: ReflectorHandlers,
  ) {}

  /** Resolves once the list (when one was needed) is applied and the watch is open, or on failure. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.run(null);
  }

  stop(): void {
    this.stopped = true;
    this.abort();
  }

  private abort(): void {
    this.request?.abort();
    this.request = undefined;
  }

  /** The watch ended (err null: cleanly) or never started: go on from where we are. */
  private async run(err: unknown): Promise<void> {
    this.abort();
    if (isGone(err)) this.resourceVersion = '';
    else if (err) {
      this.on.error(err);
      return;
    }
    if (this.stopped) return;
    this.on.connect();
    if (this.resourceVersion === '') {
      try {
        await this.list();
      } catch (listErr) {
        this.on.error(listErr);
        return;
      }
    }
    this.request = await new Watch(this.kc).watch(
      this.path, { resourceVersion: this.resourceVersion },
      (phase: string, obj: KubernetesObject) => this.event(phase, obj),
      (doneErr: unknown) => void this.run(doneErr),
    );
  }

  /**
   * A full list in pages (one consistent snapshot: every page is at the list's resourceVersion, which the
   * watch starts from), then a delete for every object delivered before that the list no longer holds.
   */
  private async list(): Promise<void> {
    const listedKeys = new Set<string>();
    let cont: string | undefined;
    let resourceVersion = '';
    for (let pages = 0; pages < MAX_PAGES; pages++) {
      const page = await this.fetchPage({ limit: LIST_PAGE_SIZE, continue: cont });
      this.on.batch(() => {
        for (const item of page.items) {
          listedKeys.add(keyOf(item));
          this.deliver(item);
        }
      });
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      cont = page.metadata?.continue || undefined;
      if (cont === undefined) break;
    }
    this.on.batch(() => {
      for (const key of [...this.versions.keys()]) {
        if (listedKeys.has(key)) continue;
        const cut = key.indexOf('/');
        this.forget({ metadata: { namespace: key.slice(0, cut) || undefined, name: key.slice(cut + 1) } });
      }
    });
    this.resourceVersion = resourceVersion;
    this.listed = true;
  }

  private event(phase: string, obj: KubernetesObject): void {
    switch (phase) {
      case 'ERROR':
        // The watch ends after this; its end lists again.
        if ((obj as { code?: number }).code === 410) this.resourceVersion = '';
        return;
      case 'ADDED':
      case 'MODIFIED':
        this.deliver(obj);
        break;
      case 'DELETED':
        this.forget(obj);
        break;
      // BOOKMARK: only the resourceVersion below.
    }
    this.resourceVersion = obj.metadata?.resourceVersion ?? '';
  }

  /** Hands `obj` on unless it is the version delivered last (a relist repeats unchanged objects). */
  private deliver(obj: KubernetesObject): void {
    const key = keyOf(obj);
    const rv = obj.metadata?.resourceVersion ?? undefined;
    const known = this.versions.has(key);
    if (known && rv !== undefined && this.versions.get(key) === rv) return;
    this.versions.set(key, rv);
    this.on.upsert(obj, known ? 'modified' : 'added');
  }

  private forget(obj: KubernetesObject): void {
    if (this.versions.delete(keyOf(obj))) this.on.remove(obj);
  }
}
