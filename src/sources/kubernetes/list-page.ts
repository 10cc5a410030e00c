// One page of a list, read as plain JSON. client-node's generated list calls run every page through
// ObjectSerializer, which rebuilds each object as model classes (Date objects, renamed fields) after
// JSON.parse; that doubled the time to read a page (500 EndpointSlices: 551 ms to parse 20 pages,
// 1082 ms to parse and deserialize) and the converters in objects.ts read plain objects anyway.
// client-node still does everything but the parsing: the server URL, TLS and client certificates,
// bearer tokens and exec/OIDC plugins (KubeConfig.applySecurityAuthentication), and the request
// itself (its fetch library), so a kubeconfig works here exactly as it does for its own calls.

import {
  ApiException, HttpMethod, IsomorphicFetchHttpLibrary, ServerConfiguration, type KubeConfig, type KubernetesObject,
} from '@kubernetes/client-node';

/** A list response as the API server sends it (`metadata.continue`, not the model's `_continue`). */
export interface ListPage {
  items: KubernetesObject[];
  metadata?: { resourceVersion?: string; continue?: string };
}
export type PageFn = (p: { limit: number; continue?: string }) => Promise<ListPage>;

const http = new IsomorphicFetchHttpLibrary();

/**
 * Lists `path` (e.g. `/api/v1/services`) one page at a time. An answer other than 200 throws client-node's
 * ApiException (`code` = the HTTP status, so 410 Gone reads the same as from its own calls); a body that
 * is not a list throws too.
 */
export function jsonPages(kc: KubeConfig, path: string): PageFn {
  return async ({ limit, continue: cont }) => {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig: no current cluster');
    const request = new ServerConfiguration(cluster.server, {}).makeRequestContext(path, HttpMethod.GET);
    request.setHeaderParam('Accept', 'application/json');
    request.setQueryParam('limit', String(limit));
    if (cont !== undefined) request.setQueryParam('continue', cont);
    await kc.applySecurityAuthentication(request);
    const response = await http.send(request).toPromise();
    const body = await response.body.text();
    if (response.httpStatusCode !== 200) {
      throw new ApiException(response.httpStatusCode, `list ${path}: HTTP ${response.httpStatusCode}`, body, response.headers);
    }
    const page = JSON.parse(body) as ListPage;
    if (page === null || typeof page !== 'object' || !Array.isArray(page.items)) {
      throw new Error(`list ${path}: the answer is not a list (no items array)`);
    }
    return page;
  };
}
