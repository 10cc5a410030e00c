// udpStart's cache arguments (views_napi.c): one answer cache and its forwarded cache, or, with views
// (src/views), one of each per view and the rules that pick a datagram's view from its peer.
#ifndef KDNS_VIEWS_NAPI_H
#define KDNS_VIEWS_NAPI_H

#include <node_api.h>

#include "answer_cache.h"
#include "views.h"

typedef struct view_caches {
  unsigned n;            // views, the default last; 1 without views; 0: no cache (JavaScript answers all)
  answer_cache **caches; // n, none NULL
  answer_cache **fwds;   // n, NULL where a view has no forwarded answers
  answer_cache **live;   // 2n, for one batch: each cache, then each forwarded one, that this thread could enter (else NULL)
  napi_ref *refs;        // 2n: each cache's handle, then each forwarded one's (NULL where none), held while the engine runs
  view_table table;      // the rules; empty without views
} view_caches;

/**
 * Reads `cache` (a cache, an array of them, null or undefined), `fwd` (the same, entries may be null) and
 * `rules` (a Buffer of view rules; needed with arrays). Returns NULL on success, else what was expected
 * (nothing is kept then). Makes no references: view_caches_hold does.
 */
const char *view_caches_read(napi_env env, napi_value cache, napi_value fwd, napi_value rules, view_caches *out);
/** References every cache handle read, so none is collected while the engine runs; 0 when Node-API refused one. */
int view_caches_hold(napi_env env, view_caches *vc, napi_value cache, napi_value fwd);
/** Deletes the references (on the engine's thread, when it closes). */
void view_caches_release(napi_env env, view_caches *vc);
/** Frees the arrays and the rules (the references must be released first). */
void view_caches_free(view_caches *vc);

/**
 * Enters every view's tables as a reader for one batch (answer_cache_read_begin); a table that cannot be
 * entered now is NULL in `live` until view_caches_read_end. Returns whether any table was entered.
 */
int view_caches_read_begin(view_caches *vc);
/** Leaves the tables view_caches_read_begin entered. */
void view_caches_read_end(view_caches *vc);

/** The entered caches a datagram from this peer is offered to (either may be NULL). Between read_begin and read_end. */
static inline answer_cache *view_caches_pick(const view_caches *vc, int family_v6, const uint8_t *peer16, answer_cache **fwd) {
  unsigned v = vc->n > 1 ? view_pick(&vc->table, family_v6, peer16) : 0;
  *fwd = vc->live[vc->n + v];
  return vc->live[v];
}

#endif
