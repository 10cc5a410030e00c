// Node-API glue for the native answer cache (answer_cache.c): create, set, delete, clear, stats, counters.
// The ABI is in README.md ("The answer cache"). Every call must come from the thread that created the view;
// views of one shared store may live in many threads (the store is process-global, answer_cache.c).

#include "answer_cache_napi.h"
#include "napi_props.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct cache_box {
  answer_cache *cache; // NULL once the thread's environment was torn down (on_env_cleanup)
  napi_env env;
  napi_ref counters_ref; // the Float64Array the counters point into, kept alive with the cache
  napi_ref hits_ref;     // the Float64Array forwarded hits are counted in
} cache_box;

static napi_value throw_arg(napi_env env, const char *msg) {
  napi_throw_type_error(env, "KDNS_NATIVE_ARGUMENT", msg);
  return NULL;
}

// A thread that ends (a worker stops or crashes) may not collect its handles: its views leave their stores
// here, so the store drops the entries nobody would invalidate any more. The finalizer then only frees the box.
static void on_env_cleanup(void *data) {
  cache_box *box = (cache_box *)data;
  answer_cache_free(box->cache);
  box->cache = NULL;
}

static void on_cache_finalized(napi_env env, void *data, void *hint) {
  (void)hint;
  cache_box *box = (cache_box *)data;
  if (box->counters_ref != NULL) napi_delete_reference(env, box->counters_ref);
  if (box->hits_ref != NULL) napi_delete_reference(env, box->hits_ref);
  if (box->cache != NULL) {
    napi_remove_env_cleanup_hook(env, on_env_cleanup, box);
    answer_cache_free(box->cache);
  }
  free(box);
}

/**
 * Points *ref at v (strongly), releasing what it held. Returns 0, changing nothing, when Node-API refuses:
 * the caller must then not let C write into memory that nothing keeps alive.
 */
static int replace_reference(napi_env env, napi_ref *ref, napi_value v) {
  napi_ref made = NULL;
  if (napi_create_reference(env, v, 1, &made) != napi_ok) return 0;
  if (*ref != NULL) napi_delete_reference(env, *ref);
  *ref = made;
  return 1;
}

static cache_box *box_of(napi_env env, napi_value v) {
  napi_valuetype t;
  void *data = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &data) != napi_ok) {
    return NULL;
  }
  // Externals of other kinds (a UDP handle) carry a different struct: the tag tells them apart.
  bool tagged = false;
  if (napi_check_object_type_tag(env, v, &CACHE_TAG, &tagged) != napi_ok || !tagged) return NULL;
  return (cache_box *)data;
}

static cache_box *only_cache_arg(napi_env env, napi_callback_info info, napi_value *argv, size_t *argc);

answer_cache *cache_from_value(napi_env env, napi_value v) {
  cache_box *box = box_of(env, v);
  return box == NULL ? NULL : box->cache;
}

answer_cache *cache_from_only_arg(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  return argc >= 1 ? cache_from_value(env, argv[0]) : NULL;
}

/** The share key argument: a string of 1-127 bytes, or absent/undefined/null (a private store). */
static int share_key_arg(napi_env env, napi_value *argv, size_t argc, size_t i, char *key) {
  key[0] = '\0';
  if (argc <= i) return 1;
  napi_valuetype t;
  napi_typeof(env, argv[i], &t);
  if (t == napi_undefined || t == napi_null) return 1;
  size_t len = 0;
  if (t != napi_string || napi_get_value_string_utf8(env, argv[i], NULL, 0, &len) != napi_ok || len < 1 ||
      len > ANSWER_CACHE_KEY_MAX) {
    return 0;
  }
  napi_get_value_string_utf8(env, argv[i], key, ANSWER_CACHE_KEY_MAX + 1, &len);
  return 1;
}

static int optional_uint(napi_env env, napi_value *argv, size_t argc, size_t i, double max, double fallback, double *out,
                         const char *usage);

// cacheCreate(recursionAvailable: boolean, maxUdpPayload: number, maxEntries?, maxBytes?, shareKey?) → cache
static napi_value cache_create(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  size_t argc = 5;
  char key[ANSWER_CACHE_KEY_MAX + 1];
  bool ra = false;
  int32_t max_udp = 0;
  double max_entries, max_bytes;
  static const char usage[] =
      "cacheCreate(recursionAvailable: boolean, maxUdpPayload: 512-65535, maxEntries?: 1-16777216, maxBytes?: 1-2^40, shareKey?: string of 1-127 bytes)";
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_get_value_bool(env, argv[0], &ra) != napi_ok || napi_get_value_int32(env, argv[1], &max_udp) != napi_ok ||
      max_udp < 512 || max_udp > 65535) {
    return throw_arg(env, usage);
  }
  if (!optional_uint(env, argv, argc, 2, 16777216, ANSWER_CACHE_DEFAULT_ENTRIES, &max_entries, usage) ||
      !optional_uint(env, argv, argc, 3, 1099511627776.0, (double)ANSWER_CACHE_DEFAULT_BYTES, &max_bytes, usage)) {
    return NULL;
  }
  if (max_entries < 1 || max_bytes < 1 || !share_key_arg(env, argv, argc, 4, key)) return throw_arg(env, usage);
  cache_box *box = calloc(1, sizeof *box);
  if (box == NULL || (box->cache = answer_cache_new(ra, (unsigned)max_udp, key, (uint32_t)max_entries, (size_t)max_bytes)) == NULL) {
    free(box);
    napi_throw_error(env, "ENOMEM", "cacheCreate: out of memory");
    return NULL;
  }
  napi_value handle;
  if (napi_create_external(env, box, on_cache_finalized, NULL, &handle) != napi_ok) {
    answer_cache_free(box->cache);
    free(box);
    return throw_arg(env, "cacheCreate: cannot create the handle");
  }
  box->env = env;
  if (napi_add_env_cleanup_hook(env, on_env_cleanup, box) != napi_ok) return throw_arg(env, "cacheCreate: cannot watch the thread's end");
  // Untagged, box_of refuses it everywhere: the finalizer still frees it.
  if (napi_type_tag_object(env, handle, &CACHE_TAG) != napi_ok) return throw_arg(env, "cacheCreate: cannot tag the handle");
  return handle;
}

/** Reads (cache, name: Buffer, nameLength, qtype) from argv; returns 0 after throwing. */
static int name_args(napi_env env, napi_value *argv, size_t argc, cache_box **box, uint8_t **name, unsigned *name_len,
                     unsigned *qtype) {
  void *data = NULL;
  size_t buf_len = 0;
  int32_t len = 0, type = 0;
  bool is_buf = false;
  *box = argc >= 4 ? box_of(env, argv[0]) : NULL;
  if (*box == NULL || (*box)->cache == NULL || napi_is_buffer(env, argv[1], &is_buf) != napi_ok || !is_buf ||
      napi_get_buffer_info(env, argv[1], &data, &buf_len) != napi_ok || napi_get_value_int32(env, argv[2], &len) != napi_ok ||
      napi_get_value_int32(env, argv[3], &type) != napi_ok || len < 1 || len > 255 || (size_t)len > buf_len || type < 0 ||
      type > 65535) {
    throw_arg(env, "expected (cache, name: Buffer, nameLength 1-255, qtype 0-65535, ...)");
    return 0;
  }
  *name = (uint8_t *)data;
  *name_len = (unsigned)len;
  *qtype = (unsigned)type;
  return 1;
}

/** An optional non-negative integer argument (default when absent or undefined); 0 after throwing `usage`. */
static int optional_uint(napi_env env, napi_value *argv, size_t argc, size_t i, double max, double fallback, double *out,
                         const char *usage) {
  *out = fallback;
  if (argc <= i) return 1;
  napi_valuetype t;
  napi_typeof(env, argv[i], &t);
  if (t == napi_undefined) return 1;
  if (t != napi_number || napi_get_value_double(env, argv[i], out) != napi_ok || !(*out >= 0 && *out <= max)) {
    throw_arg(env, usage);
    return 0;
  }
  return 1;
}

// cacheSet(cache, name, nameLength, qtype, answer: Buffer, variant = 0, validMs = 0 (forever), kind = 255):
// the answer template (ID 0, RD and CD clear, no OPT) for the name.
static napi_value cache_set(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  size_t argc = 8;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  cache_box *box;
  uint8_t *name, *answer = NULL;
  unsigned name_len, qtype;
  if (!name_args(env, argv, argc, &box, &name, &name_len, &qtype)) return NULL;
  void *data = NULL;
  size_t answer_len = 0;
  bool is_buf = false;
  if (argc < 5 || napi_is_buffer(env, argv[4], &is_buf) != napi_ok || !is_buf ||
      napi_get_buffer_info(env, argv[4], &data, &answer_len) != napi_ok) {
    return throw_arg(env, "cacheSet(cache, name, nameLength, qtype, answer: Buffer, variant?, validMs?, kind?)");
  }
  answer = (uint8_t *)data;
  // A template starts with a header and the question; anything shorter or longer than a message is a bug.
  if (answer_len < 12 + (size_t)name_len + 4 || answer_len > 65535) {
    return throw_arg(env, "cacheSet: answer must be a DNS message with the question (16+ bytes, at most 65535)");
  }
  double variant, valid_ms, kind;
  static const char usage[] = "cacheSet: variant 0-7, validMs 0-86400000 and kind 0-255 are optional numbers";
  if (!optional_uint(env, argv, argc, 5, 7, 0, &variant, usage) || !optional_uint(env, argv, argc, 6, 86400000, 0, &valid_ms, usage) ||
      !optional_uint(env, argv, argc, 7, 255, 255, &kind, usage)) {
    return NULL;
  }
  uint64_t now = uv_hrtime();
  uint64_t deadline = valid_ms > 0 ? now + (uint64_t)(valid_ms * 1e6) : 0;
  if (answer_cache_set(box->cache, name, name_len, qtype, (unsigned)variant, answer, answer_len, deadline, (unsigned)kind, now) < 0) {
    napi_throw_error(env, "ENOMEM", "cacheSet: out of memory");
  }
  return NULL;
}

// cacheDelete(cache, name, nameLength, qtype, variant = 0) → boolean
static napi_value cache_delete(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  size_t argc = 5;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  cache_box *box;
  uint8_t *name;
  unsigned name_len, qtype;
  double variant;
  if (!name_args(env, argv, argc, &box, &name, &name_len, &qtype) ||
      !optional_uint(env, argv, argc, 4, 7, 0, &variant, "cacheDelete: variant 0-7 is an optional number")) {
    return NULL;
  }
  napi_value r;
  napi_get_boolean(env, answer_cache_delete(box->cache, name, name_len, qtype, (unsigned)variant) == 1, &r);
  return r;
}

// cacheMakeForwarded(cache, advertisedUdp, acl: Buffer of 18-byte rules, hits: Float64Array(3)): see
// answer_cache_make_forwarded. A rule is family (4|6), prefix length, 16 address bytes (IPv4 in the first 4).
static napi_value cache_make_forwarded(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  size_t argc = 4;
  cache_box *box = only_cache_arg(env, info, argv, &argc);
  if (box == NULL) return NULL;
  int32_t udp = 0;
  void *acl = NULL, *hits = NULL;
  size_t acl_len = 0, hits_len = 0;
  bool is_buf = false, is_ta = false;
  napi_typedarray_type ta;
  if (argc >= 4) napi_is_typedarray(env, argv[3], &is_ta);
  if (argc < 4 || napi_get_value_int32(env, argv[1], &udp) != napi_ok || udp < 512 || udp > 65535 ||
      napi_is_buffer(env, argv[2], &is_buf) != napi_ok || !is_buf || napi_get_buffer_info(env, argv[2], &acl, &acl_len) != napi_ok ||
      acl_len % 18 != 0 || acl_len / 18 > ACL_MAX || !is_ta ||
      napi_get_typedarray_info(env, argv[3], &ta, &hits_len, &hits, NULL, NULL) != napi_ok || ta != napi_float64_array ||
      hits_len < HIT_KINDS) {
    return throw_arg(env, "cacheMakeForwarded(cache, advertisedUdp 512-65535, acl: Buffer of 18-byte rules (at most 256), hits: Float64Array(3))");
  }
  acl_rule rules[ACL_MAX];
  const uint8_t *a = (const uint8_t *)acl;
  unsigned n = (unsigned)(acl_len / 18);
  for (unsigned i = 0; i < n; i++, a += 18) {
    if ((a[0] != 4 && a[0] != 6) || a[1] > (a[0] == 4 ? 32 : 128)) return throw_arg(env, "cacheMakeForwarded: a rule is family 4|6, a prefix length that fits, 16 bytes");
    rules[i].family = a[0];
    rules[i].prefix = a[1];
    memcpy(rules[i].addr, a + 2, 16);
  }
  if (!replace_reference(env, &box->hits_ref, argv[3])) return throw_arg(env, "cacheMakeForwarded: cannot keep the hit counts");
  answer_cache_make_forwarded(box->cache, (unsigned)udp, rules, n, (double *)hits);
  return NULL;
}

static cache_box *only_cache_arg(napi_env env, napi_callback_info info, napi_value *argv, size_t *argc) {
  napi_get_cb_info(env, info, argc, argv, NULL, NULL);
  cache_box *box = *argc >= 1 ? box_of(env, argv[0]) : NULL;
  if (box == NULL || box->cache == NULL) throw_arg(env, "expected a cache from cacheCreate");
  return box == NULL || box->cache == NULL ? NULL : box;
}

// cacheClear(cache)
static napi_value cache_clear(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  cache_box *box = only_cache_arg(env, info, argv, &argc);
  if (box != NULL) answer_cache_clear(box->cache);
  return NULL;
}



// cacheStats(cache) → { entries, bytes, shared, primary, views }: of the store the view belongs to.
static napi_value cache_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  cache_box *box = only_cache_arg(env, info, argv, &argc);
  if (box == NULL) return NULL;
  answer_cache_stats st = answer_cache_stats_of(box->cache);
  napi_value obj;
  napi_create_object(env, &obj);
  prop_number(env, obj, "entries", (double)st.entries);
  prop_number(env, obj, "bytes", (double)st.bytes);
  prop_bool(env, obj, "shared", st.shared);
  prop_bool(env, obj, "primary", st.primary);
  prop_number(env, obj, "views", st.views);
  return obj;
}

// cacheClaimNegative(cache) → boolean: whether this view feeds the store's negative table (see answer_cache.h).
static napi_value cache_claim_negative(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  cache_box *box = only_cache_arg(env, info, argv, &argc);
  if (box == NULL) return NULL;
  napi_value r;
  napi_get_boolean(env, answer_cache_claim_negative(box->cache) != 0, &r);
  return r;
}

// cacheClose(cache): the view leaves its store now (its answers go, see answer_cache_free); later calls with
// it throw. Idempotent.
static napi_value cache_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  cache_box *box = argc >= 1 ? box_of(env, argv[0]) : NULL;
  if (box == NULL) return throw_arg(env, "expected a cache from cacheCreate");
  if (box->cache != NULL) {
    napi_remove_env_cleanup_hook(env, on_env_cleanup, box);
    answer_cache_free(box->cache);
    box->cache = NULL;
  }
  return NULL;
}

// cacheLiveStores() → number of stores alive in the process (leak tests).
static napi_value cache_live_stores(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_create_uint32(env, answer_cache_live_stores(), &r);
  return r;
}

// Plan layout (Int32Array), written by DnsCounters.nativePlan() in src/metrics/dns-counters.ts:
enum {
  P_REQ_OFF, P_NTYPES, P_RESP_OFF, P_RCODE_SLOTS, P_DUR_OFF, P_NBOUNDS, P_DUR_SUM, P_DROP_SEND, P_TYPE_TABLE, P_FIXED
};

/** Fills *k from (values: Float64Array, plan: Int32Array); every index checked against values. */
static int read_plan(napi_env env, napi_value values, napi_value plan_v, counter_plan *k) {
  napi_typedarray_type t1, t2;
  size_t f_len = 0, p_len = 0;
  void *f = NULL, *p = NULL;
  bool ta1 = false, ta2 = false;
  napi_is_typedarray(env, values, &ta1);
  napi_is_typedarray(env, plan_v, &ta2);
  if (!ta1 || !ta2 || napi_get_typedarray_info(env, values, &t1, &f_len, &f, NULL, NULL) != napi_ok ||
      napi_get_typedarray_info(env, plan_v, &t2, &p_len, &p, NULL, NULL) != napi_ok || t1 != napi_float64_array ||
      t2 != napi_int32_array || p_len < P_FIXED) {
    return 0;
  }
  const int32_t *plan = (const int32_t *)p;
  for (int i = 0; i < P_FIXED; i++) if (plan[i] < 0) return 0;
  uint32_t ntypes = (uint32_t)plan[P_NTYPES], nbounds = (uint32_t)plan[P_NBOUNDS], table = (uint32_t)plan[P_TYPE_TABLE];
  if (ntypes < 1 || nbounds > 32 || table > 260 || p_len < P_FIXED + nbounds + table) return 0;
  if ((size_t)plan[P_REQ_OFF] + 2 * ntypes > f_len || (size_t)plan[P_RESP_OFF] + 16 > f_len ||
      (size_t)plan[P_RCODE_SLOTS] < 16 || (size_t)plan[P_DUR_OFF] + nbounds + 1 > f_len ||
      (size_t)plan[P_DUR_SUM] >= f_len || (size_t)plan[P_DROP_SEND] >= f_len) {
    return 0;
  }
  k->f = (double *)f;
  k->f_len = f_len;
  k->req_off = (uint32_t)plan[P_REQ_OFF];
  k->ntypes = ntypes;
  k->resp_off = (uint32_t)plan[P_RESP_OFF];
  k->dur_off = (uint32_t)plan[P_DUR_OFF];
  k->nbounds = nbounds;
  k->dur_sum = (uint32_t)plan[P_DUR_SUM];
  k->drop_send = (uint32_t)plan[P_DROP_SEND];
  k->type_table = table;
  for (uint32_t i = 0; i < nbounds; i++) k->bounds_us[i] = plan[P_FIXED + i];
  for (uint32_t i = 0; i < table; i++) {
    int32_t b = plan[P_FIXED + nbounds + i];
    if (b < 0 || (uint32_t)b >= ntypes) return 0;
    k->type_bucket[i] = (uint8_t)b;
  }
  return 1;
}

// cacheSetCounters(cache, values: Float64Array, plan: Int32Array): where answered queries are counted.
static napi_value cache_set_counters(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = 3;
  cache_box *box = only_cache_arg(env, info, argv, &argc);
  if (box == NULL) return NULL;
  counter_plan plan = {0};
  if (argc < 3 || !read_plan(env, argv[1], argv[2], &plan)) {
    return throw_arg(env, "cacheSetCounters(cache, values: Float64Array, plan: Int32Array as DnsCounters.nativePlan())");
  }
  if (!replace_reference(env, &box->counters_ref, argv[1])) return throw_arg(env, "cacheSetCounters: cannot keep the counters");
  answer_cache_set_counters(box->cache, &plan);
  return NULL;
}


void register_cache_api(napi_env env, napi_value exports) {
  prop_fn(env, exports, "cacheCreate", cache_create);
  prop_fn(env, exports, "cacheSet", cache_set);
  prop_fn(env, exports, "cacheDelete", cache_delete);
  prop_fn(env, exports, "cacheClear", cache_clear);
  prop_fn(env, exports, "cacheStats", cache_stats);
  prop_fn(env, exports, "cacheSetCounters", cache_set_counters);
  prop_fn(env, exports, "cacheMakeForwarded", cache_make_forwarded);
  prop_fn(env, exports, "cacheClaimNegative", cache_claim_negative);
  prop_fn(env, exports, "cacheLiveStores", cache_live_stores);
  prop_fn(env, exports, "cacheClose", cache_close);
}
