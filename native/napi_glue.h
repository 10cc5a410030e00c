// Node-API helpers the glue files share: the ABI version, argument readers, errors, peer socket addresses,
// the tagged handle check, and what a handle polled on the thread's loop holds on the JavaScript side
// (batch_js: the UDP engine in kdns_native.c and the upstream link in upstream.c).
#ifndef KDNS_NAPI_GLUE_H
#define KDNS_NAPI_GLUE_H

#include <node_api.h>

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/** The layout version of every meta array and function in native/README.md. */
#define KDNS_ABI_VERSION 8
/** The most slots (datagrams) a batch may have, and the most messages one udpSendMany takes. */
#define MAX_BATCH 1024
/** Bounded retries of a syscall a signal interrupted. */
#define MAX_EINTR 8

typedef union {
  struct sockaddr sa;
  struct sockaddr_in v4;
  struct sockaddr_in6 v6;
  struct sockaddr_storage ss;
} any_addr;

/** Throws a TypeError with code KDNS_NATIVE_ARGUMENT; returns NULL for `return throw_type(...)`. */
napi_value throw_type(napi_env env, const char *msg);
/** Throws an Error whose code is the errno name (EPERM, ECONNREFUSED, ...), "what: text"; returns NULL. */
napi_value throw_code(napi_env env, const char *what, int err);
/** A Buffer's bytes; 0 when `v` is not a Buffer. */
int get_buffer(napi_env env, napi_value v, uint8_t **data, size_t *len);
/** An Int32Array's or Uint32Array's elements (the same memory either way); 0 when `v` is neither. */
int get_int32_array(napi_env env, napi_value v, int32_t **data, size_t *len);
/** The C state behind an external made by us with `tag`; NULL (nothing thrown) when `v` is anything else. */
void *tagged_external(napi_env env, napi_value v, const napi_type_tag *tag);
/**
 * Reads up to *argc arguments into argv and returns the state of the handle in argv[0] (made with `tag`);
 * NULL after throwing a TypeError "expected a handle from `maker`".
 */
void *handle_args(napi_env env, napi_callback_info info, napi_value *argv, size_t *argc, const napi_type_tag *tag, const char *maker);
/**
 * The socket address of a peer as meta holds it: family 4|6, port in host order, 16 address bytes in
 * network order (IPv4 in the first 4) and the IPv6 scope id. Returns its length.
 */
socklen_t peer_sockaddr(any_addr *a, int family, int port, const uint8_t *addr16, uint32_t scope);

/**
 * What a running poller holds of JavaScript: its own handle (so it is never collected while it polls), the
 * callback, the async context its calls run in, and the environment cleanup hook that stops it when the
 * worker or process ends first.
 */
typedef struct batch_js {
  napi_env env;
  napi_ref self_ref, cb_ref;
  napi_async_context actx;
  napi_async_cleanup_hook_handle cleanup;
} batch_js;

/**
 * Tags `handle`, references it and `callback`, makes the async context `name`, and adds `hook(arg)` as the
 * cleanup hook (last). Returns 0 when Node-API refused a step (an environment shutting down); what was made
 * is then released by batch_js_release like the rest.
 */
int batch_js_hold(batch_js *js, napi_env env, napi_value handle, const napi_type_tag *tag, napi_value callback, const char *name,
                  napi_async_cleanup_hook hook, void *arg);
/** Releases what batch_js_hold made, the handle's reference last (its finalizer may run after, never inside). */
void batch_js_release(batch_js *js);
/**
 * Calls callback(count) through node::MakeCallback in a handle scope (so promise jobs and nextTicks run
 * after it, as after any I/O callback). A throw goes to 'uncaughtException', like one from an event
 * handler. Returns 0 when the callback threw or could not be called.
 */
int batch_js_call(const batch_js *js, unsigned count);

#endif
