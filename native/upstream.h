// The upstream link (upstream.c): the per-query UDP sockets of forwarded queries (made ahead of need in a
// ready pool per upstream), one epoll set per thread, answers handed to JavaScript in batches. Layout in
// native/README.md ("Upstream link").
#ifndef KDNS_UPSTREAM_H
#define KDNS_UPSTREAM_H

#include <node_api.h>

// meta (Int32Array or Uint32Array): UP_HEADER uint32 counters, then UP_STRIDE int32 per slot.
#define UP_HEADER 10
#define UP_STRIDE 4

/** Adds upstreamCreate, upstreamSend, upstreamClose, upstreamStop and liveUpstreams to exports. */
void register_upstream_api(napi_env env, napi_value exports);

#endif
