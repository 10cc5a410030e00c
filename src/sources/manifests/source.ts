// Offline mode: the cluster zone from a directory of Kubernetes manifests. Every *.yaml|*.yml|*.json
// in the directory (not below it) is read at start; on change (fs.watch, debounced) the directory is
// read again, unchanged files are reused, and only the objects that appeared, changed or vanished
// are applied to the ClusterState, which in turn emits only the RRsets that differ.

import type { SkippedObjects } from '../../inspect/skipped.js';
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ClusterState } from '../kubernetes/cluster-state.js';
import { KINDS } from '../kubernetes/kinds.js';
import { parseManifest, type ManifestObject } from './parse.js';

/** The subset of a pino logger this source uses. */
export interface SourceLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ManifestsSource {
  close(): void;
  readonly synced: boolean;
  /** Re-reads the directory now (what the debounced watcher calls). */
  reload(): Promise<void>;
}

export interface ManifestsOptions {
  debounceMs?: number; // default 100: editors write a file in several steps
  /** Skipped objects and why, for the inspection report (src/inspect). */
  skipped?: SkippedObjects;
}

const MANIFEST_FILE = /\.(ya?ml|json)$/i;

interface FileEntry {
  mtimeMs: number;
  size: number;
  objects: ManifestObject[];
}

interface Applied {
  kind: ManifestObject['kind'];
  json: string; // the slim object serialized: cheap change detection
  slim: object;
}

export async function startManifestsSource(dir: string, state: ClusterState, log: SourceLog, opts: ManifestsOptions = {}): Promise<ManifestsSource> {
  const files = new Map<string, FileEntry>();
  const applied = new Map<string, Applied>();
  let synced = false;
  let closed = false;
  let running: Promise<void> | null = null;
  let again = false;

  async function readFiles(): Promise<void> {
    const names = (await readdir(dir, { withFileTypes: true }))
      .filter((d) => (d.isFile() || d.isSymbolicLink()) && MANIFEST_FILE.test(d.name))
      .map((d) => d.name)
      .sort();
    for (const gone of [...files.keys()].filter((f) => !names.includes(f))) files.delete(gone);
    for (const name of names) {
      const file = path.join(dir, name);
      try {
        const st = await stat(file);
        const prev = files.get(name);
        if (prev && prev.mtimeMs === st.mtimeMs && prev.size === st.size) continue;
        const parsed = parseManifest(await readFile(file, 'utf8'), file);
        opts.skipped?.clearPrefix(file + '#');
        for (const problem of parsed.problems) {
          log.warn({ file, problem }, 'manifest object skipped');
          opts.skipped?.add(problem.slice(0, problem.indexOf(': ')), problem.slice(problem.indexOf(': ') + 2));
        }
        if (parsed.syntaxError) {
          // Often a file caught half-written: keep what it held before rather than drop live names.
          log.warn({ file, problem: parsed.syntaxError }, prev ? 'manifest unreadable, keeping its previous objects' : 'manifest unreadable, skipped');
          if (prev) continue;
        }
        files.set(name, { mtimeMs: st.mtimeMs, size: st.size, objects: parsed.objects });
      } catch (err) {
        log.warn({ file, err }, 'manifest file unreadable');
        files.delete(name);
      }
    }
  }

  function applyDiff(): void {
    const wanted = new Map<string, ManifestObject>();
    for (const entry of files.values()) {
      for (const o of entry.objects) {
        const dup = wanted.get(o.key);
        if (dup) log.warn({ object: o.key, first: dup.where, second: o.where }, 'duplicate object, the later one wins');
        wanted.set(o.key, o);
      }
    }
    let upserts = 0;
    let deletes = 0;
    for (const [key, a] of applied) {
      if (wanted.has(key)) continue;
      const [, ns, name] = key.split('/') as [string, string, string];
      KINDS[a.kind].remove(state, ns, name);
      applied.delete(key);
      deletes++;
    }
    for (const [key, o] of wanted) {
      const json = JSON.stringify(o.slim);
      if (applied.get(key)?.json === json) continue;
      KINDS[o.kind].upsert(state, o.slim);
      applied.set(key, { kind: o.kind, json, slim: o.slim });
      upserts++;
    }
    log.info({ dir, objects: applied.size, upserts, deletes }, 'manifests loaded');
  }

  /** Runs one reload at a time; a change during a reload schedules exactly one more. */
  async function reload(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await readFiles();
        if (!closed) applyDiff();
      } while (again && !closed);
    })();
    try {
      await running;
    } finally {
      running = null;
    }
  }

  await reload();
  synced = true;

  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        reload().catch((err: unknown) => log.warn({ dir, err }, 'manifests reload failed'));
      }, opts.debounceMs ?? 100);
    });
    watcher.on('error', (err) => log.warn({ dir, err }, 'manifests watch failed; no more reloads'));
  } catch (err) {
    log.warn({ dir, err }, 'cannot watch the manifests directory; changes need a restart');
  }

  return {
    close(): void {
      closed = true;
      if (timer) clearTimeout(timer);
      watcher?.close();
    },
    get synced() {
      return synced;
    },
    reload,
  };
}
