// What the two batch handles (the UDP engine in kdns_native.c, the upstream link in upstream.c) share: the
// ABI version they write into meta, argument readers, peer socket addresses, the tagged handle check and
// the one JavaScript call per batch.
#ifndef KDNS_BATCH_IO_H
#define KDNS_BATCH_IO_H

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
/** A Buffer's bytes; 0 when `v` is not a Buffer. */
int get_buffer(napi_env env, napi_value v, uint8_t **data, size_t *len);
/** An Int32Array's or Uint32Array's elements (the same memory either way); 0 when `v` is neither. */
int get_int32_array(napi_env env, napi_value v, int32_t **data, size_t *len);
/** The C state behind an external made by us with `tag`; NULL (nothing thrown) when `v` is anything else. */
void *tagged_external(napi_env env, napi_value v, const napi_type_tag *tag);
/**
 * The socket address of a peer as meta holds it: family 4|6, port in host order, 16 address bytes in
 * network order (IPv4 in the first 4) and the IPv6 scope id. Returns its length.
 */
socklen_t peer_sockaddr(any_addr *a, int family, int port, const uint8_t *addr16, uint32_t scope);
/**
 * Calls callback(count) through node::MakeCallback in a handle scope (so promise jobs and nextTicks run
 * after it, as after any I/O callback). A throw goes to 'uncaughtException', like one from an event
 * handler. Returns 0 when the callback threw or could not be called.
 */
int call_batch_callback(napi_env env, napi_async_context actx, napi_ref cb_ref, unsigned count);

#endif
