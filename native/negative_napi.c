// Node-API glue for the negative-answer table (negative.c) of an answer cache's store: zones, names, stats.
// The ABI is in README.md ("Negative answers"). Every call must come from the thread that created the view;
// each change holds the store's writer lock (answer_cache_negative_begin/end).

#include "negative_napi.h"

#include "answer_cache_napi.h"
#include "negative.h"
#include "napi_props.h"

#include <stdlib.h>

static napi_value throw_arg(napi_env env, const char *msg) {
  napi_throw_type_error(env, "KDNS_NATIVE_ARGUMENT", msg);
  return NULL;
}

static void throw_nomem(napi_env env, const char *fn) {
  napi_throw_error(env, "ENOMEM", fn);
}

/** argv[i] as a Buffer's bytes; null and undefined give NULL with *ok = 1 when `nullable`. */
static int buffer_arg(napi_env env, napi_value v, int nullable, uint8_t **data, size_t *len) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  *data = NULL;
  *len = 0;
  if (nullable && (t == napi_null || t == napi_undefined)) return 1;
  bool is_buf = false;
  void *d = NULL;
  if (napi_is_buffer(env, v, &is_buf) != napi_ok || !is_buf || napi_get_buffer_info(env, v, &d, len) != napi_ok) return 0;
  *data = (uint8_t *)d;
  return 1;
}

/**
 * Reads up to `want` arguments into argv; returns the negative table of the cache in argv[0] (created on
 * first use) with the store locked (table_done unlocks), or NULL after throwing when there are fewer than
 * `want` or argv[0] is not such a cache.
 */
static negative_table *table_call(napi_env env, napi_callback_info info, napi_value *argv, size_t want, answer_cache **c) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  *c = argc >= want ? cache_from_value(env, argv[0]) : NULL;
  if (*c == NULL) {
    throw_arg(env, "expected an authoritative cache from cacheCreate, then the documented arguments");
    return NULL;
  }
  negative_table *t = answer_cache_negative_begin(*c);
  if (t == NULL) throw_arg(env, "a forwarded cache has no negative answers (or out of memory)");
  return t;
}

static napi_value table_done(answer_cache *c, napi_value result) {
  answer_cache_negative_end(c);
  return result;
}

// negativeClear(cache): forgets every zone and name.
static napi_value negative_clear_fn(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  answer_cache *c;
  negative_table *t = table_call(env, info, argv, 1, &c);
  if (t == NULL) return NULL;
  negative_clear(t);
  return table_done(c, NULL);
}

// negativeZone(cache, apex: Buffer, nxdomain, nxdomainSoa, nodata: Buffer | null, conflicts: Buffer)
static napi_value negative_zone_fn(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  answer_cache *c;
  negative_table *t = table_call(env, info, argv, 6, &c);
  if (t == NULL) return NULL;
  uint8_t *apex, *conflicts, *tpl[NEG_TEMPLATES];
  size_t apex_len, conflicts_len, tpl_len[NEG_TEMPLATES];
  int ok = buffer_arg(env, argv[1], 0, &apex, &apex_len) && buffer_arg(env, argv[5], 0, &conflicts, &conflicts_len);
  int usable = 1;
  for (int k = 0; ok && k < NEG_TEMPLATES; k++) {
    ok = buffer_arg(env, argv[2 + k], 1, &tpl[k], &tpl_len[k]);
    if (tpl[k] == NULL) usable = 0;
  }
  if (!ok || apex_len < 1 || apex_len > 255) {
    return table_done(c, throw_arg(env, "negativeZone(cache, apex: Buffer (1-255 bytes), nxdomain, nxdomainSoa, nodata: Buffer | null, conflicts: Buffer)"));
  }
  if (negative_set_zone(t, apex, (unsigned)apex_len, usable ? (const uint8_t *const *)tpl : NULL, tpl_len, conflicts, conflicts_len) < 0) {
    throw_nomem(env, "negativeZone: out of memory");
  }
  return table_done(c, NULL);
}

// negativeNames(cache, records: Buffer) → number: records of [name length][wire name][flags][n][n × qtype
// (16-bit big-endian)]; flags 0 removes the name. Returns how many were applied.
static napi_value negative_names_fn(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  answer_cache *c;
  negative_table *t = table_call(env, info, argv, 2, &c);
  if (t == NULL) return NULL;
  uint8_t *r;
  size_t len;
  if (!buffer_arg(env, argv[1], 0, &r, &len)) return table_done(c, throw_arg(env, "negativeNames(cache, records: Buffer)"));
  uint16_t types[255];
  unsigned applied = 0;
  // Bounded: each record consumes at least 3 bytes.
  for (size_t p = 0; p < len; applied++) {
    unsigned name_len = r[p];
    if (name_len < 1 || p + 1 + name_len + 2 > len) return table_done(c, throw_arg(env, "negativeNames: a record is cut short"));
    const uint8_t *name = r + p + 1;
    unsigned flags = r[p + 1 + name_len], ntypes = r[p + 2 + name_len];
    p += 3 + name_len;
    if (p + 2 * (size_t)ntypes > len) return table_done(c, throw_arg(env, "negativeNames: a record is cut short"));
    for (unsigned i = 0; i < ntypes; i++) types[i] = (uint16_t)((r[p + 2 * i] << 8) | r[p + 2 * i + 1]);
    p += 2 * (size_t)ntypes;
    if (negative_set_name(t, name, name_len, flags, types, ntypes) < 0) {
      throw_nomem(env, "negativeNames: out of memory");
      return table_done(c, NULL);
    }
  }
  napi_value result;
  napi_create_uint32(env, applied, &result);
  return table_done(c, result);
}

// negativeStats(cache) → { names, zones, bytes }
static napi_value negative_stats_fn(napi_env env, napi_callback_info info) {
  answer_cache *c = cache_from_only_arg(env, info);
  if (c == NULL) return throw_arg(env, "negativeStats(cache)");
  answer_cache_stats st = answer_cache_stats_of(c);
  napi_value obj;
  napi_create_object(env, &obj);
  prop_number(env, obj, "names", (double)st.negative_names);
  prop_number(env, obj, "zones", (double)st.negative_zones);
  prop_number(env, obj, "bytes", (double)st.negative_bytes);
  return obj;
}

/** negativeBegin(cache) / negativeEnd(cache): a batch of changes readers never see half applied. */
static napi_value batch_call(napi_env env, napi_callback_info info, int open) {
  answer_cache *c = cache_from_only_arg(env, info);
  if (c == NULL || answer_cache_negative_batch(c, open) < 0) return throw_arg(env, "expected an authoritative cache from cacheCreate");
  return NULL;
}

static napi_value negative_begin_fn(napi_env env, napi_callback_info info) {
  return batch_call(env, info, 1);
}

static napi_value negative_end_fn(napi_env env, napi_callback_info info) {
  return batch_call(env, info, 0);
}

void register_negative_api(napi_env env, napi_value exports) {
  const napi_property_descriptor fns[] = {
    {"negativeClear", NULL, negative_clear_fn, NULL, NULL, NULL, napi_enumerable, NULL},
    {"negativeZone", NULL, negative_zone_fn, NULL, NULL, NULL, napi_enumerable, NULL},
    {"negativeNames", NULL, negative_names_fn, NULL, NULL, NULL, napi_enumerable, NULL},
    {"negativeStats", NULL, negative_stats_fn, NULL, NULL, NULL, napi_enumerable, NULL},
    {"negativeBegin", NULL, negative_begin_fn, NULL, NULL, NULL, napi_enumerable, NULL},
    {"negativeEnd", NULL, negative_end_fn, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
}
