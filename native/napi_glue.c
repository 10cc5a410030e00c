// Node-API helpers the glue files share (napi_glue.h).
#include "napi_glue.h"

#include <stdio.h>
#include <string.h>
#include <uv.h>

napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "KDNS_NATIVE_ARGUMENT", msg);
  return NULL;
}

napi_value throw_code(napi_env env, const char *what, int err) {
  char msg[200], text[128], name[64];
  uv_err_name_r(-err, name, sizeof name);
  uv_strerror_r(-err, text, sizeof text); // strerror's buffer is shared between threads
  snprintf(msg, sizeof msg, "%s: %s", what, text);
  napi_throw_error(env, name, msg);
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

void *handle_args(napi_env env, napi_callback_info info, napi_value *argv, size_t *argc, const napi_type_tag *tag, const char *maker) {
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, NULL, NULL) != napi_ok || *argc < 1 || (data = tagged_external(env, argv[0], tag)) == NULL) {
    char msg[80];
    snprintf(msg, sizeof msg, "expected a handle from %s", maker);
    throw_type(env, msg);
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

int batch_js_hold(batch_js *js, napi_env env, napi_value handle, const napi_type_tag *tag, napi_value callback, const char *name,
                  napi_async_cleanup_hook hook, void *arg) {
  napi_value resource, jname;
  js->env = env;
  int made = napi_type_tag_object(env, handle, tag) == napi_ok &&
             napi_create_reference(env, handle, 1, &js->self_ref) == napi_ok && // a running poller is never collected
             napi_create_reference(env, callback, 1, &js->cb_ref) == napi_ok &&
             napi_create_object(env, &resource) == napi_ok &&
             napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &jname) == napi_ok &&
             napi_async_init(env, resource, jname, &js->actx) == napi_ok;
  return made && napi_add_async_cleanup_hook(env, hook, arg, &js->cleanup) == napi_ok;
}

void batch_js_release(batch_js *js) {
  napi_env env = js->env;
  if (js->cb_ref != NULL) napi_delete_reference(env, js->cb_ref);
  js->cb_ref = NULL;
  if (js->actx != NULL) napi_async_destroy(env, js->actx);
  js->actx = NULL;
  napi_async_cleanup_hook_handle hook = js->cleanup;
  js->cleanup = NULL;
  // The last strong reference goes last: the finalizer may then run (later, never from here).
  if (js->self_ref != NULL) {
    napi_delete_reference(env, js->self_ref);
    js->self_ref = NULL;
  }
  if (hook != NULL) napi_remove_async_cleanup_hook(hook);
}

int batch_js_call(const batch_js *js, unsigned count) {
  napi_env env = js->env;
  napi_handle_scope scope;
  int ok = 1;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return 0;
  napi_value cb = NULL, recv, argv[1], result;
  napi_status st = napi_get_reference_value(env, js->cb_ref, &cb);
  if (st == napi_ok && cb == NULL) st = napi_generic_failure; // cannot happen: the reference is strong
  if (st == napi_ok) st = napi_get_global(env, &recv);
  if (st == napi_ok) st = napi_create_uint32(env, count, &argv[0]);
  if (st == napi_ok) st = napi_make_callback(env, js->actx, recv, cb, 1, argv, &result);
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
