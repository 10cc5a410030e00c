// A Kubernetes API server for tests, in one process on loopback. It speaks the real list/watch
// protocol for the five resources kdns watches, so the live source can be tested with the real
// client libraries (client-node, client-go), including the failure paths a real control plane
// produces: dropped watches, compacted history (410 Expired), paging and timeouts.
// It keeps objects in memory, numbers every write with one global resourceVersion, and keeps a
// bounded history of events so watches can resume from an older version.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { listOptionProblems } from './list-options.js';
import { matchFields, matchLabels, parseSelector, type Selector } from './selectors.js';

export type KObject = {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
};

interface Resource {
  plural: string;
  singular: string;
  kind: string;
  group: string; // '' for core
  namespaced: boolean;
  shortNames: string[];
}

const RESOURCES: Resource[] = [
  { plural: 'namespaces', singular: 'namespace', kind: 'Namespace', group: '', namespaced: false, shortNames: ['ns'] },
  { plural: 'services', singular: 'service', kind: 'Service', group: '', namespaced: true, shortNames: ['svc'] },
  { plural: 'endpoints', singular: 'endpoints', kind: 'Endpoints', group: '', namespaced: true, shortNames: ['ep'] },
  { plural: 'pods', singular: 'pod', kind: 'Pod', group: '', namespaced: true, shortNames: ['po'] },
  { plural: 'endpointslices', singular: 'endpointslice', kind: 'EndpointSlice', group: 'discovery.k8s.io', namespaced: true, shortNames: [] },
];
const DISCOVERY_GROUP = 'discovery.k8s.io';
/** The bookmark annotation that ends a watch-list's initial events. */
export const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';
const VERBS = ['get', 'list', 'watch'];

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
interface HistoryEvent {
  rv: number;
  type: EventType;
  resource: Resource;
  obj: KObject;
  prev: KObject | undefined;
}

interface Watcher {
  resource: Resource;
  namespace: string | null;
  labels: Selector;
  fields: Selector;
  res: http.ServerResponse;
  bookmarks: boolean;
  timer: NodeJS.Timeout | undefined;
}

export interface TestApiServerOptions {
  port?: number; // default: any free port
  historyLimit?: number; // events kept for resuming watches (default 1000)
  bookmarkIntervalMs?: number; // periodic BOOKMARK to watches that asked for them (default 0 = only sendBookmarks())
}

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
}

function apiVersionOf(r: Resource): string {
  return r.group === '' ? 'v1' : `${r.group}/v1`;
}

function keyOf(ns: string | undefined, name: string): string {
  return `${ns ?? ''}/${name}`;
}

function status(code: number, reason: string, message: string): object {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export class TestApiServer {
  readonly requests: RequestRecord[] = [];
  private readonly server: http.Server;
  private readonly store = new Map<string, Map<string, KObject>>(); // plural → ns/name → object
  private readonly history: HistoryEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  private rv = 1000;
  private compactedRv = 1000; // events at or before this RV are gone
  private uidCounter = 0;
  private readonly historyLimit: number;
  private readonly bookmarkTimer: NodeJS.Timeout | undefined;
  private heldLists: Array<() => void> | null = null; // see pauseLists()
  private boundPort = 0;

  private constructor(opts: TestApiServerOptions) {
    this.historyLimit = opts.historyLimit ?? 1000;
    for (const r of RESOURCES) this.store.set(r.plural, new Map());
    this.server = http.createServer((req, res) => this.handle(req, res));
    if (opts.bookmarkIntervalMs) this.bookmarkTimer = setInterval(() => this.sendBookmarks(), opts.bookmarkIntervalMs);
  }

  static async start(opts: TestApiServerOptions = {}): Promise<TestApiServer> {
    const s = new TestApiServer(opts);
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject);
      s.server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    s.boundPort = (s.server.address() as AddressInfo).port;
    return s;
  }

  /** The port it listens on (kept across stop() and restart()). */
  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get resourceVersion(): string {
    return String(this.rv);
  }

  /** A kubeconfig (as a plain object) pointing at this server, for KubeConfig.loadFromOptions. */
  kubeconfig(): object {
    return {
      clusters: [{ name: 'test', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'test' }],
      contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
      currentContext: 'test',
    };
  }

  /** The same as a kubeconfig YAML/JSON file (JSON is YAML), for client-go and kubectl. */
  kubeconfigFile(): string {
    return JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'test',
      clusters: [{ name: 'test', cluster: { server: this.url } }],
      users: [{ name: 'test', user: {} }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'test' } }],
    });
  }

  // ---- mutation and fault injection, for tests ----

  create(kind: string, obj: KObject): KObject {
    const r = this.resource(kind);
    const o = this.normalize(r, obj);
    const objects = this.store.get(r.plural)!;
    const key = keyOf(o.metadata.namespace, o.metadata.name);
    if (objects.has(key)) throw new Error(`${r.kind} ${key} already exists`);
    o.metadata.uid = `uid-${++this.uidCounter}`;
    o.metadata.creationTimestamp = new Date().toISOString();
    return this.write(r, 'ADDED', o, undefined);
  }

  update(kind: string, obj: KObject): KObject {
    const r = this.resource(kind);
    const o = this.normalize(r, obj);
    const key = keyOf(o.metadata.namespace, o.metadata.name);
    const prev = this.store.get(r.plural)!.get(key);
    if (!prev) throw new Error(`${r.kind} ${key} not found`);
    o.metadata.uid = prev.metadata.uid;
    o.metadata.creationTimestamp = prev.metadata.creationTimestamp;
    return this.write(r, 'MODIFIED', o, prev);
  }

  /** Create or update. */
  apply(kind: string, obj: KObject): KObject {
    const r = this.resource(kind);
    const o = this.normalize(r, obj);
    return this.store.get(r.plural)!.has(keyOf(o.metadata.namespace, o.metadata.name)) ? this.update(kind, obj) : this.create(kind, obj);
  }

  delete(kind: string, obj: { metadata: { name: string; namespace?: string } }): KObject {
    const r = this.resource(kind);
    const ns = r.namespaced ? obj.metadata.namespace ?? 'default' : undefined;
    const key = keyOf(ns, obj.metadata.name);
    const prev = this.store.get(r.plural)!.get(key);
    if (!prev) throw new Error(`${r.kind} ${key} not found`);
    // The DELETED event carries the last state stamped with the deletion's resourceVersion.
    const last = structuredClone(prev);
    return this.write(r, 'DELETED', last, prev);
  }

  get(kind: string, namespace: string | undefined, name: string): KObject | undefined {
    const r = this.resource(kind);
    return this.store.get(r.plural)!.get(keyOf(r.namespaced ? namespace ?? 'default' : undefined, name));
  }

  /** Ends every watch stream: cleanly (the client re-watches from its last RV) or by resetting the socket. */
  dropWatches(opts: { abrupt?: boolean } = {}): number {
    const n = this.watchers.size;
    for (const w of [...this.watchers]) {
      this.endWatch(w);
      if (opts.abrupt) w.res.socket?.destroy();
      else w.res.end();
    }
    return n;
  }

  /**
   * Holds every list request (not watches, not GETs of one object) until resumeLists(): a control
   * plane that is slow to answer, so tests can see a client before its first sync.
   */
  pauseLists(): void {
    this.heldLists ??= [];
  }

  /** Answers the held list requests (with the state at this moment) and stops holding new ones. */
  resumeLists(): void {
    const held = this.heldLists ?? [];
    this.heldLists = null;
    for (const answer of held) answer();
  }

  /** List requests waiting for resumeLists(). */
  get heldListCount(): number {
    return this.heldLists?.length ?? 0;
  }

  /** Forgets all history: a watch or a continue token from any older RV now gets 410 Expired. */
  compactHistory(): void {
    this.history.length = 0;
    this.compactedRv = this.rv;
  }

  /** Sends a BOOKMARK at the current RV to every watch that allowed bookmarks. */
  sendBookmarks(): void {
    for (const w of this.watchers) if (w.bookmarks) this.writeEvent(w, 'BOOKMARK', this.bookmark(w.resource));
  }

  watchCount(kind?: string): number {
    if (kind === undefined) return this.watchers.size;
    const r = this.resource(kind);
    return [...this.watchers].filter((w) => w.resource === r).length;
  }

  /** Resolves once at least `n` watches (of `kind`, if given) are open; polls, tests only. */
  async waitForWatches(n: number, kind?: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.watchCount(kind) < n) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} watches (have ${this.watchCount(kind)})`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /**
   * Goes down like an API server process: every connection reset, the port closed. Objects, history
   * and the resourceVersion stay (etcd keeps them), so restart() is an API server restarted over the
   * same etcd.
   */
  async stop(): Promise<void> {
    for (const w of [...this.watchers]) {
      this.endWatch(w);
      w.res.socket?.destroy();
    }
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** Listens again on the port it had before stop(). */
  async restart(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.boundPort, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    if (this.bookmarkTimer) clearInterval(this.bookmarkTimer);
    this.heldLists = null;
    for (const w of [...this.watchers]) {
      this.endWatch(w);
      w.res.end();
    }
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // ---- internals ----

  private resource(kind: string): Resource {
    const k = kind.toLowerCase();
    const r = RESOURCES.find((x) => x.plural === k || x.kind.toLowerCase() === k || x.singular === k);
    if (!r) throw new Error(`unknown kind ${kind}`);
    return r;
  }

  private normalize(r: Resource, obj: KObject): KObject {
    const o = structuredClone(obj);
    o.apiVersion = apiVersionOf(r);
    o.kind = r.kind;
    o.metadata = { ...o.metadata };
    if (r.namespaced) o.metadata.namespace = o.metadata.namespace || 'default';
    else delete o.metadata.namespace;
    return o;
  }

  private write(r: Resource, type: EventType, obj: KObject, prev: KObject | undefined): KObject {
    obj.metadata.resourceVersion = String(++this.rv);
    const objects = this.store.get(r.plural)!;
    const key = keyOf(obj.metadata.namespace, obj.metadata.name);
    if (type === 'DELETED') objects.delete(key);
    else objects.set(key, obj);
    this.history.push({ rv: this.rv, type, resource: r, obj, prev });
    while (this.history.length > this.historyLimit) this.compactedRv = this.history.shift()!.rv;
    for (const w of this.watchers) if (w.resource === r && this.matches(w, obj)) this.writeEvent(w, type, obj);
    return structuredClone(obj);
  }

  private matches(w: { resource: Resource; namespace: string | null; labels: Selector; fields: Selector }, obj: KObject): boolean {
    if (w.namespace !== null && obj.metadata.namespace !== w.namespace) return false;
    return matchLabels(w.labels, obj.metadata.labels ?? {}) &&
      matchFields(w.fields, { 'metadata.name': obj.metadata.name, 'metadata.namespace': obj.metadata.namespace ?? '' });
  }

  private bookmark(r: Resource, annotations?: Record<string, string>): object {
    return { kind: r.kind, apiVersion: apiVersionOf(r), metadata: { resourceVersion: String(this.rv), ...(annotations ? { annotations } : {}) } };
  }

  private writeEvent(w: Watcher, type: string, object: object): void {
    w.res.write(JSON.stringify({ type, object }) + '\n');
  }

  private endWatch(w: Watcher): void {
    if (w.timer) clearTimeout(w.timer);
    this.watchers.delete(w);
  }

  /** The objects of `r` as they were at `rv` (undoing newer history), or null if that is compacted. */
  private objectsAt(r: Resource, rv: number): Map<string, KObject> | null {
    if (rv < this.compactedRv) return null;
    const objects = new Map(this.store.get(r.plural)!);
    for (let i = this.history.length - 1; i >= 0 && this.history[i]!.rv > rv; i--) {
      const e = this.history[i]!;
      if (e.resource !== r) continue;
      const key = keyOf(e.obj.metadata.namespace, e.obj.metadata.name);
      if (e.prev) objects.set(key, e.prev);
      else objects.delete(key);
    }
    return objects;
  }

  private send(res: http.ServerResponse, code: number, body: object): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const query = Object.fromEntries(url.searchParams);
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query });
    if (req.method !== 'GET') {
      this.send(res, 405, status(405, 'MethodNotAllowed', `${req.method} is not supported by the test API server`));
      return;
    }
    const parts = url.pathname.split('/').filter((p) => p !== '');
    try {
      if (this.discovery(parts, res)) return;
      this.resourceRequest(parts, query, req, res);
    } catch (err) {
      this.send(res, 400, status(400, 'BadRequest', (err as Error).message));
    }
  }

  private resourceList(group: string): object {
    return {
      kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group === '' ? 'v1' : `${group}/v1`,
      resources: RESOURCES.filter((r) => r.group === group).map((r) => ({
        name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: VERBS,
        ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
      })),
    };
  }

  /** /version, /api, /apis and the resource lists; true when it answered. */
  private discovery(parts: string[], res: http.ServerResponse): boolean {
    const path = '/' + parts.join('/');
    const groupVersion = { groupVersion: `${DISCOVERY_GROUP}/v1`, version: 'v1' };
    const group = { name: DISCOVERY_GROUP, versions: [groupVersion], preferredVersion: groupVersion };
    switch (path) {
      case '/version':
        this.send(res, 200, {
          major: '1', minor: '31', gitVersion: 'v1.31.0-kdns-test', gitCommit: '0000000000000000000000000000000000000000',
          gitTreeState: 'clean', buildDate: '2024-08-13T00:00:00Z', goVersion: 'go1.22.5', compiler: 'gc', platform: 'linux/amd64',
        });
        return true;
      case '/healthz': case '/livez': case '/readyz':
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
        return true;
      case '/api':
        this.send(res, 200, {
          kind: 'APIVersions', versions: ['v1'],
          serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${this.port}` }],
        });
        return true;
      case '/api/v1':
        this.send(res, 200, this.resourceList(''));
        return true;
      case '/apis':
        this.send(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [group] });
        return true;
      case `/apis/${DISCOVERY_GROUP}`:
        this.send(res, 200, { kind: 'APIGroup', apiVersion: 'v1', ...group });
        return true;
      case `/apis/${DISCOVERY_GROUP}/v1`:
        this.send(res, 200, this.resourceList(DISCOVERY_GROUP));
        return true;
      default:
        return false;
    }
  }

  private resourceRequest(parts: string[], query: Record<string, string>, req: http.IncomingMessage, res: http.ServerResponse): void {
    // /api/v1/... or /apis/<group>/v1/...
    let rest: string[];
    let group: string;
    if (parts[0] === 'api' && parts[1] === 'v1') {
      group = '';
      rest = parts.slice(2);
    } else if (parts[0] === 'apis' && parts[2] === 'v1') {
      group = parts[1]!;
      rest = parts.slice(3);
    } else {
      this.send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    let namespace: string | null = null;
    // "namespaces/<ns>/<plural>[/<name>]" is namespaced; "namespaces[/<name>]" is the Namespace resource.
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1]!;
      rest = rest.slice(2);
    }
    const r = RESOURCES.find((x) => x.group === group && x.plural === rest[0]);
    if (!r || rest.length > 2 || (namespace !== null && !r.namespaced)) {
      this.send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    if (rest.length === 2) {
      const obj = this.store.get(r.plural)!.get(keyOf(r.namespaced ? namespace ?? '' : undefined, rest[1]!));
      if (obj) this.send(res, 200, obj);
      else this.send(res, 404, status(404, 'NotFound', `${r.plural} "${rest[1]}" not found`));
      return;
    }
    const filter = {
      resource: r, namespace,
      labels: parseSelector(query.labelSelector ?? '', 'label'),
      fields: parseSelector(query.fieldSelector ?? '', 'field'),
    };
    const watch = query.watch === 'true' || query.watch === '1';
    const problems = listOptionProblems(query, watch);
    if (problems.length > 0) {
      this.send(res, 422, status(422, 'Invalid', `ListOptions.meta.k8s.io "" is invalid: ${problems.join(', ')}`));
      return;
    }
    if (watch) this.watch(filter, query, req, res);
    else if (this.heldLists) this.heldLists.push(() => this.list(filter, query, res));
    else this.list(filter, query, res);
  }

  private list(f: { resource: Resource; namespace: string | null; labels: Selector; fields: Selector }, query: Record<string, string>, res: http.ServerResponse): void {
    const r = f.resource;
    let atRv = this.rv;
    let after = '';
    if (query.continue) {
      let token: { rv: number; after: string };
      try {
        token = JSON.parse(Buffer.from(query.continue, 'base64url').toString()) as { rv: number; after: string };
      } catch {
        this.send(res, 400, status(400, 'BadRequest', 'continue key is not valid'));
        return;
      }
      ({ rv: atRv, after } = token);
    } else if (query.resourceVersionMatch === 'Exact' && query.resourceVersion) {
      atRv = Number(query.resourceVersion);
    }
    const objects = this.objectsAt(r, atRv);
    if (!objects) {
      this.send(res, 410, status(410, 'Expired', query.continue
        ? 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.'
        : `Timeout: Too large resource version or too old resource version: ${atRv}`));
      return;
    }
    const items = [...objects.entries()].filter(([k, o]) => k > after && this.matches(f, o)).sort(([a], [b]) => (a < b ? -1 : 1));
    const limit = Number(query.limit ?? 0);
    const page = limit > 0 ? items.slice(0, limit) : items;
    const metadata: Record<string, unknown> = { resourceVersion: String(atRv) };
    if (page.length < items.length) {
      metadata.continue = Buffer.from(JSON.stringify({ rv: atRv, after: page[page.length - 1]![0] })).toString('base64url');
      metadata.remainingItemCount = items.length - page.length;
    }
    this.send(res, 200, { kind: `${r.kind}List`, apiVersion: apiVersionOf(r), metadata, items: page.map(([, o]) => o) });
  }

  private watch(f: { resource: Resource; namespace: string | null; labels: Selector; fields: Selector }, query: Record<string, string>, req: http.IncomingMessage, res: http.ServerResponse): void {
    const r = f.resource;
    const from = query.resourceVersion ?? '';
    // sendInitialEvents (validated with resourceVersionMatch=NotOlderThan): true streams the state as
    // ADDED events, false starts after it; unset keeps the legacy rule (state only for RV unset or "0").
    const initialEvents = query.sendInitialEvents === undefined ? from === '' || from === '0' : query.sendInitialEvents === 'true';
    if (query.sendInitialEvents !== undefined && Number(from) > this.rv) {
      // Not older than a version this server has not reached: a real one waits ~3 s for it, then says so.
      this.send(res, 504, {
        ...status(504, 'Timeout', `Too large resource version: ${from}, current: ${this.rv}`),
        details: { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 },
      });
      return;
    }
    const w: Watcher = { ...f, res, bookmarks: query.allowWatchBookmarks === 'true', timer: undefined };
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    if (initialEvents) {
      // The current state as synthetic ADDED events; for watch-list clients (client-go ≥ 0.35) a
      // BOOKMARK at that state's RV, annotated as the end of the initial events, is their "synced".
      // NotOlderThan an older or compacted RV is satisfied by the current state too.
      const current = [...this.store.get(r.plural)!.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
      for (const [, o] of current) if (this.matches(f, o)) this.writeEvent(w, 'ADDED', o);
      if (query.sendInitialEvents === 'true' && w.bookmarks) this.writeEvent(w, 'BOOKMARK', this.bookmark(r, { [INITIAL_EVENTS_END]: 'true' }));
    } else if (from !== '' && from !== '0') {
      // Resume after that version (sendInitialEvents unset or false): replay what came since.
      const rv = Number(from);
      if (!Number.isInteger(rv) || rv < this.compactedRv) {
        // What a real API server does: a 200 stream carrying one ERROR event, then the end.
        this.writeEvent(w, 'ERROR', status(410, 'Expired', `too old resource version: ${from} (${this.compactedRv})`));
        res.end();
        return;
      }
      for (const e of this.history) if (e.rv > rv && e.resource === r && this.matches(f, e.obj)) this.writeEvent(w, e.type, e.obj);
    }
    this.watchers.add(w);
    const timeout = Number(query.timeoutSeconds ?? 0);
    if (timeout > 0) {
      w.timer = setTimeout(() => {
        this.endWatch(w);
        res.end();
      }, timeout * 1000);
    }
    req.on('close', () => this.endWatch(w));
  }
}
