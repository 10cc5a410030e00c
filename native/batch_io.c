// Helpers shared by the UDP batch engine and the upstream link (batch_io.h).
#include "batch_io.h"

#include <string.h>

napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "KDNS_NATIVE_ARGUMENT", msg);
  return NULL;
}

int get_buffer(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is_buf = false;
  if (napi_is_buffer(env, v, &is_buf) != napi_ok || !is_buf) return 0;
  void *p = NULL;
  if (napi_get_buffer_info(env, v, &p, len) != napi_ok) return 0;
  *data = (uint8_t *)p;
  return 1;
}

int get_int32_array(napi_env env, napi_value v, int32_t **data, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  void *p = NULL;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, len, &p, NULL, NULL) != napi_ok ||
      (type != napi_int32_array && type != napi_uint32_array)) {
    return 0;
  }
  *data = (int32_t *)p;
  return 1;
}

void *tagged_external(napi_env env, napi_value v, const napi_type_tag *tag) {
  napi_valuetype t;
  bool tagged = false;
  void *data = NULL;
  // The tag tells our handles apart (a cache from cacheCreate is an external too, over another struct).
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_check_object_type_tag(env, v, tag, &tagged) != napi_ok ||
      !tagged || napi_get_value_external(env, v, &data) != napi_ok) {
    return NULL;
  }
  return data;
}

socklen_t peer_sockaddr(any_addr *a, int family, int port, const uint8_t *addr16, uint32_t scope) {
  memset(a, 0, sizeof *a);
  if (family == 6) {
    a->v6.sin6_family = AF_INET6;
    a->v6.sin6_port = htons((uint16_t)port);
    memcpy(&a->v6.sin6_addr, addr16, 16);
    a->v6.sin6_scope_id = scope; // a link-local peer is reachable only through its interface
    return sizeof a->v6;
  }
  a->v4.sin_family = AF_INET;
  a->v4.sin_port = htons((uint16_t)port);
  memcpy(&a->v4.sin_addr, addr16, 4);
  return sizeof a->v4;
}

int call_batch_callback(napi_env env, napi_async_context actx, napi_ref cb_ref, unsigned count) {
  napi_handle_scope scope;
  int ok = 1;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return 0;
  napi_value cb = NULL, recv, argv[1], result;
  napi_status st = napi_get_reference_value(env, cb_ref, &cb);
  if (st == napi_ok && cb == NULL) st = napi_generic_failure; // cannot happen: the reference is strong
  if (st == napi_ok) st = napi_get_global(env, &recv);
  if (st == napi_ok) st = napi_create_uint32(env, count, &argv[0]);
  if (st == napi_ok) st = napi_make_callback(env, actx, recv, cb, 1, argv, &result);
  if (st != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      // Like an exception thrown from an event handler: 'uncaughtException', which by default exits.
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
    ok = 0;
  }
  napi_close_handle_scope(env, scope);
  return ok;
}
