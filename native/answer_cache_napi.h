// Node-API functions of the native answer cache (answer_cache_napi.c).
#ifndef KDNS_ANSWER_CACHE_NAPI_H
#define KDNS_ANSWER_CACHE_NAPI_H

#include <node_api.h>

#include "answer_cache.h"

// Marks cache externals, so a UDP handle (or any other external) passed where a cache belongs is refused.
static const napi_type_tag CACHE_TAG = {0x6b646e7363616368ULL, 0x65616e7377657273ULL};

/** Adds cacheCreate, cacheSet, cacheDelete, cacheClear, cacheStats and cacheSetCounters to exports. */
void register_cache_api(napi_env env, napi_value exports);

/** The cache behind a value from cacheCreate, or NULL (no exception) for anything else. */
answer_cache *cache_from_value(napi_env env, napi_value v);
/** The cache behind a call's only argument, or NULL (no exception). */
answer_cache *cache_from_only_arg(napi_env env, napi_callback_info info);

#endif
