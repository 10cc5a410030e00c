// udpStart's cache arguments, single or one per view (see views_napi.h and README.md, "Views").
#include "views_napi.h"

#include "answer_cache_napi.h"

#include <stdlib.h>
#include <string.h>

static int is_nothing(napi_env env, napi_value v) {
  napi_valuetype t;
  if (v == NULL) return 1;
  napi_typeof(env, v, &t);
  return t == napi_null || t == napi_undefined;
}

static int is_array(napi_env env, napi_value v) {
  bool a = false;
  return v != NULL && napi_is_array(env, v, &a) == napi_ok && a;
}

/** Element i of `list` (an array) or `list` itself (i == 0, a single value). */
static napi_value element(napi_env env, napi_value list, unsigned i) {
  if (!is_array(env, list)) return list;
  napi_value v = NULL;
  if (napi_get_element(env, list, i, &v) != napi_ok) return NULL;
  return v;
}

static int alloc_arrays(view_caches *vc, unsigned n) {
  vc->n = n;
  vc->caches = calloc(n, sizeof *vc->caches);
  vc->fwds = calloc(n, sizeof *vc->fwds);
  vc->live = calloc(2 * (size_t)n, sizeof *vc->live);
  vc->refs = calloc(2 * (size_t)n, sizeof *vc->refs);
  return vc->caches != NULL && vc->fwds != NULL && vc->live != NULL && vc->refs != NULL;
}

const char *view_caches_read(napi_env env, napi_value cache, napi_value fwd, napi_value rules, view_caches *out) {
  memset(out, 0, sizeof *out);
  if (is_nothing(env, cache)) return is_nothing(env, fwd) ? NULL : "a forwarded cache needs the answer cache too";
  int many = is_array(env, cache);
  uint32_t n = 1;
  if (many && (napi_get_array_length(env, cache, &n) != napi_ok || n < 1 || n > VIEWS_MAX)) return "1 to 255 caches, one per view";
  if (!is_nothing(env, fwd) && is_array(env, fwd) != many) return "the forwarded caches as the caches: one, or an array of one per view";
  uint32_t nf = n;
  if (many && !is_nothing(env, fwd) && (napi_get_array_length(env, fwd, &nf) != napi_ok || nf != n)) return "one forwarded cache (or null) per view";
  if (!alloc_arrays(out, n)) {
    view_caches_free(out);
    return "memory for the view caches";
  }
  for (unsigned i = 0; i < n; i++) {
    out->caches[i] = cache_from_value(env, element(env, cache, i));
    napi_value f = is_nothing(env, fwd) ? NULL : element(env, fwd, i);
    if (!is_nothing(env, f) && (out->fwds[i] = cache_from_value(env, f)) == NULL) out->caches[i] = NULL;
    if (out->caches[i] == NULL) {
      view_caches_free(out);
      return "cache must come from cacheCreate";
    }
  }
  const char *bad = NULL;
  if (many) {
    bool is_buf = false;
    void *data = NULL;
    size_t len = 0;
    if (rules == NULL || napi_is_buffer(env, rules, &is_buf) != napi_ok || !is_buf || napi_get_buffer_info(env, rules, &data, &len) != napi_ok) {
      bad = "a Buffer of view rules with an array of caches";
    } else {
      bad = view_table_load(&out->table, (const uint8_t *)data, len, n);
    }
  }
  if (bad != NULL) view_caches_free(out);
  return bad;
}

int view_caches_hold(napi_env env, view_caches *vc, napi_value cache, napi_value fwd) {
  for (unsigned i = 0; i < vc->n; i++) {
    if (napi_create_reference(env, element(env, cache, i), 1, &vc->refs[i]) != napi_ok) return 0;
    if (vc->fwds[i] != NULL && napi_create_reference(env, element(env, fwd, i), 1, &vc->refs[vc->n + i]) != napi_ok) return 0;
  }
  return 1;
}

int view_caches_read_begin(view_caches *vc) {
  int any = 0;
  for (unsigned i = 0; i < 2 * vc->n; i++) {
    answer_cache *c = i < vc->n ? vc->caches[i] : vc->fwds[i - vc->n];
    vc->live[i] = c != NULL && answer_cache_read_begin(c) ? c : NULL;
    any |= vc->live[i] != NULL;
  }
  return any;
}

void view_caches_read_end(view_caches *vc) {
  for (unsigned i = 0; i < 2 * vc->n; i++) {
    if (vc->live[i] != NULL) answer_cache_read_end(vc->live[i]);
    vc->live[i] = NULL;
  }
}

void view_caches_release(napi_env env, view_caches *vc) {
  for (unsigned i = 0; vc->refs != NULL && i < 2 * vc->n; i++) {
    if (vc->refs[i] != NULL) napi_delete_reference(env, vc->refs[i]);
    vc->refs[i] = NULL;
  }
}

void view_caches_free(view_caches *vc) {
  free(vc->caches);
  free(vc->fwds);
  free(vc->live);
  free(vc->refs);
  view_table_free(&vc->table);
  memset(vc, 0, sizeof *vc);
}
