// Small Node-API helpers every glue file uses to build its result objects and exports.
#ifndef KDNS_NAPI_PROPS_H
#define KDNS_NAPI_PROPS_H

#include <node_api.h>

static inline void prop_number(napi_env env, napi_value obj, const char *name, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, obj, name, n);
}

static inline void prop_int(napi_env env, napi_value obj, const char *name, int v) {
  napi_value n;
  napi_create_int32(env, v, &n);
  napi_set_named_property(env, obj, name, n);
}

static inline void prop_bool(napi_env env, napi_value obj, const char *name, int v) {
  napi_value b;
  napi_get_boolean(env, v != 0, &b);
  napi_set_named_property(env, obj, name, b);
}

static inline void prop_fn(napi_env env, napi_value obj, const char *name, napi_callback fn) {
  napi_value f;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f);
  napi_set_named_property(env, obj, name, f);
}

#endif
