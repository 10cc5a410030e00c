// The upstream link: the UDP side of forwarding, moved out of Node's dgram. Each forwarded query gets a
// fresh connected socket (Linux autobinds it to a random ephemeral port: RFC 5452's random source port),
// registered in the link's epoll set. The socket is made ahead of need: a small pool per upstream of sockets
// already connected and never used, refilled after the batch callback or once the loop's current turn is
// over, so a query's path is only send and epoll_ctl; one uv_poll_t watches that epoll fd on the thread's loop, and on
// readability the answers of up to `batch` sockets are read into preallocated slots and handed to
// JavaScript with one call. JavaScript keeps all DNS logic (matching, timeouts, retries, TCP fallback):
// after the call the link closes every delivered socket unless JavaScript set KEEP (an answer that did
// not match its query: the socket waits on).
//
//   upstreamCreate(inBuf, meta, batchSize, callback) → link
//   upstreamSend(link, token, family, port, addr16, msg, length) → fd | -errno
//   upstreamClose(link, fd, token) → 0 | -ENOENT
//   upstreamStop(link)
//   liveUpstreams() → links whose native state is not released (all threads)
//
// Lifetime as the UDP engine's (kdns_native.c): a running link holds itself, its buffers and its callback;
// upstreamStop (or the environment's cleanup hook) stops it; the uv close callback drops the references and
// the finalizer frees the memory once the handle object is collected too.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <node_api.h>
#include <uv.h>

#include "upstream.h"
#include "napi_glue.h"
#include "napi_props.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// Links allocated and not yet freed, across all threads (liveUpstreams()).
static int live_links = 0;

static napi_value live_upstreams(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_create_int32(env, __atomic_load_n(&live_links, __ATOMIC_RELAXED), &r);
  return r;
}

#ifdef __linux__
#include <sys/epoll.h>

// header fields (uint32, wrap at 2^32)
#define U_ABI 0           // KDNS_ABI_VERSION
#define U_COUNT 1         // slots in the batch handed to JavaScript
#define U_SENT 2          // queries the kernel accepted
#define U_RECEIVED 3      // datagrams read (a truncated one too)
#define U_SEND_ERRORS 4   // upstreamSend failures
#define U_RECV_ERRORS 5   // receive errors other than EAGAIN and ECONNREFUSED
#define U_OPEN 6          // sockets open now (a gauge)
#define U_TRUNCATED 7     // datagrams longer than a slot
#define U_READY 8         // sockets connected and waiting in the ready pools (a gauge)
#define U_OPENED_INLINE 9 // sends that found no ready socket and opened one on the query's path
// slot fields
#define US_TOKEN 0 // upstreamSend's token
#define US_LEN 1   // bytes in the slot, or -errno (-ECONNREFUSED: port unreachable; -EMSGSIZE: longer than the slot)
#define US_KEEP 2  // C presets 0; JavaScript sets 1 to keep the socket open and waiting
#define US_FD 3    // the socket

#define MIN_SLOT 512
#define MAX_ROUNDS 16

// Ready pools: upstreams with a pool per link (a further upstream opens its sockets inline), the sockets a
// pool keeps at first, and the most it grows to when sends find it empty (each an idle fd until used).
#define POOL_UPSTREAMS 16
#define POOL_START 4
#define POOL_MAX 64

// Marks upstreamCreate handles, distinct from the UDP engine's and the caches'.
static const napi_type_tag UPSTREAM_TAG = {0x6b646e7375707374ULL, 0x7265616d6c6e6b38ULL};

/** One entry per fd number: whether it is one of our open sockets, and for which exchange. */
typedef struct {
  uint32_t gen; // bumped at every open: a delivered slot never closes a later socket that got the same fd
  int32_t token;
  uint8_t open;
} up_socket;

/** A socket handed to JavaScript in the current batch. */
typedef struct {
  int fd;
  uint32_t gen;
} up_delivered;

/**
 * Sockets connected to one upstream and never used: a send takes one, so only send and epoll_ctl stay on
 * the query's path. Each is still used for one query only (a fresh random source port per query).
 */
typedef struct {
  uint8_t family; // 4|6; 0: an unused entry
  uint16_t port;
  uint8_t addr[16];
  uint8_t wanted;  // fewer than target: refill off the path
  uint8_t ran_dry; // a send since the last refill found it empty: double target at the next refill
  uint8_t filled;  // refilled once: before that, an empty pool says nothing about its size
  unsigned target; // POOL_START..POOL_MAX
  unsigned count;
  int fds[POOL_MAX]; // a stack: the last made is taken first
} up_pool;

typedef struct upstream_link {
  uv_poll_t poll;   // watches ep
  uv_check_t check; // refills the pools after a loop turn in which a send wanted it; started only then
  int handles;      // uv handles not yet closed (poll, check): on_closed releases at 0
  int never_started; // upstreamCreate failed before the handle was made: closing just frees
  batch_js js;    // the handle, the callback, the async context, the cleanup hook
  int ep;
  int stopped, closed, finalized; // as udp_engine's: stop ran, uv close ran, handle collected
  unsigned batch;
  size_t slot;
  uint8_t *in;
  int32_t *meta;      // slot fields
  uint32_t *counters; // the same memory: header counters
  up_socket *sockets; // indexed by fd, grown on demand
  size_t nsockets;
  struct epoll_event *events; // batch
  up_delivered *delivered;    // batch
  napi_ref in_ref, meta_ref;
  up_pool pools[POOL_UPSTREAMS];
  unsigned npools;
  int refill_pending; // some pool is wanted: the check handle runs
} upstream_link;

static void link_free(upstream_link *l) {
  __atomic_fetch_sub(&live_links, 1, __ATOMIC_RELAXED);
  free(l->sockets);
  free(l->events);
  free(l->delivered);
  free(l);
}

static int is_open(const upstream_link *l, int fd) {
  return fd >= 0 && (size_t)fd < l->nsockets && l->sockets[fd].open;
}

/** Closes one of our open sockets (close also takes it out of the epoll set: we never dup them). */
static void close_socket(upstream_link *l, int fd) {
  l->sockets[fd].open = 0;
  close(fd);
  l->counters[U_OPEN]--;
}

/** Grows the fd table to hold fd. Returns 0 when out of memory. */
static int reserve_socket(upstream_link *l, int fd) {
  if ((size_t)fd < l->nsockets) return 1;
  size_t n = l->nsockets < 64 ? 64 : l->nsockets;
  while (n <= (size_t)fd) n *= 2;
  up_socket *grown = realloc(l->sockets, n * sizeof *grown);
  if (grown == NULL) return 0;
  memset(grown + l->nsockets, 0, (n - l->nsockets) * sizeof *grown);
  l->sockets = grown;
  l->nsockets = n;
  return 1;
}

static void maybe_free(upstream_link *l) {
  if (l->closed && l->finalized) link_free(l);
}

static void on_closed(uv_handle_t *h) {
  upstream_link *l = (upstream_link *)h->data;
  if (--l->handles > 0) return; // the other handle's close callback comes later
  if (l->never_started) {
    link_free(l);
    return;
  }
  // A create that failed half way made only some of these.
  if (l->in_ref != NULL) napi_delete_reference(l->js.env, l->in_ref);
  if (l->meta_ref != NULL) napi_delete_reference(l->js.env, l->meta_ref);
  l->closed = 1;
  batch_js_release(&l->js); // the handle's reference last
  maybe_free(l);
}

/** Closes both uv handles; on_closed runs once the last one's close callback has. */
static void close_handles(upstream_link *l) {
  l->handles = 2;
  uv_close((uv_handle_t *)&l->poll, on_closed);
  uv_close((uv_handle_t *)&l->check, on_closed);
}

/** Closes every socket waiting in the ready pools. */
static void close_ready(upstream_link *l) {
  for (unsigned p = 0; p < l->npools; p++) {
    up_pool *pool = &l->pools[p];
    while (pool->count > 0) close(pool->fds[--pool->count]);
  }
  l->counters[U_READY] = 0;
}

/** Stops polling, closes every socket and the epoll fd now; the handles' memory goes next loop turn. */
static void link_stop(upstream_link *l) {
  if (l->stopped) return;
  l->stopped = 1;
  uv_poll_stop(&l->poll);
  uv_check_stop(&l->check);
  for (size_t fd = 0; fd < l->nsockets; fd++) {
    if (l->sockets[fd].open) close_socket(l, (int)fd);
  }
  close_ready(l);
  if (l->ep >= 0) close(l->ep);
  l->ep = -1;
  close_handles(l);
}

static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle; // on_closed removes it
  link_stop((upstream_link *)arg);
}

static void on_handle_finalized(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  upstream_link *l = (upstream_link *)data;
  l->finalized = 1;
  maybe_free(l);
}

/** Reads one datagram of the socket behind `ev` into slot `i`. Returns 0 when there was none (no slot used). */
static int fill_slot(upstream_link *l, const struct epoll_event *ev, unsigned i) {
  int fd = (int)(uint32_t)ev->data.u64;
  int32_t token = (int32_t)(uint32_t)(ev->data.u64 >> 32);
  if (!is_open(l, fd) || l->sockets[fd].token != token) return 0; // cannot happen: closing unregisters
  ssize_t r;
  int eintr = 0;
  do {
    r = recv(fd, l->in + (size_t)i * l->slot, l->slot, MSG_DONTWAIT | MSG_TRUNC);
  } while (r < 0 && errno == EINTR && ++eintr < MAX_EINTR);
  int32_t len;
  if (r >= 0) {
    l->counters[U_RECEIVED]++;
    if ((size_t)r > l->slot) {
      l->counters[U_TRUNCATED]++;
      len = -EMSGSIZE;
    } else {
      len = (int32_t)r;
    }
  } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
    return 0;
  } else {
    // A connected UDP socket reports the upstream's ICMP port unreachable as ECONNREFUSED: a fact about the
    // upstream, not a receive error of ours.
    if (errno != ECONNREFUSED) l->counters[U_RECV_ERRORS]++;
    len = -errno;
  }
  int32_t *m = l->meta + UP_HEADER + (size_t)i * UP_STRIDE;
  m[US_TOKEN] = token;
  m[US_LEN] = len;
  m[US_KEEP] = 0;
  m[US_FD] = fd;
  l->delivered[i] = (up_delivered){fd, l->sockets[fd].gen};
  return 1;
}

/** After a batch: closes each delivered socket JavaScript did not KEEP (and did not close itself meanwhile). */
static void release_delivered(upstream_link *l, unsigned filled) {
  for (unsigned i = 0; i < filled; i++) {
    if (l->meta[UP_HEADER + (size_t)i * UP_STRIDE + US_KEEP] != 0) continue;
    up_delivered d = l->delivered[i];
    if (is_open(l, d.fd) && l->sockets[d.fd].gen == d.gen) close_socket(l, d.fd);
  }
}

/** A socket connected to `to` (the kernel picked its random port), not in the epoll set; -errno on failure. */
static int open_connected(upstream_link *l, const any_addr *to, socklen_t to_len) {
  int fd = socket(to->sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  // connect autobinds a random ephemeral port (RFC 5452) and makes the kernel drop datagrams from anyone
  // but the upstream, and report its ICMP port unreachable as ECONNREFUSED.
  int err = 0;
  if (connect(fd, &to->sa, to_len) < 0) err = errno;
  else if (!reserve_socket(l, fd)) err = ENOMEM;
  if (err != 0) {
    close(fd);
    return -err;
  }
  return fd;
}

static size_t addr_bytes(int family) {
  return family == 4 ? 4 : 16;
}

/** The pool of an upstream, made (empty) at its first send; NULL when POOL_UPSTREAMS pools exist already. */
static up_pool *pool_for(upstream_link *l, int family, int port, const uint8_t *addr) {
  for (unsigned p = 0; p < l->npools; p++) {
    up_pool *pool = &l->pools[p];
    if (pool->family == family && pool->port == port && memcmp(pool->addr, addr, addr_bytes(family)) == 0) return pool;
  }
  if (l->npools == POOL_UPSTREAMS) return NULL;
  up_pool *pool = &l->pools[l->npools++];
  pool->family = (uint8_t)family;
  pool->port = (uint16_t)port;
  memcpy(pool->addr, addr, addr_bytes(family));
  pool->target = POOL_START;
  return pool;
}

/**
 * Tops every wanted pool up to its target, doubled first (up to POOL_MAX) if a send found it empty since
 * the last refill. Runs off any query's path: after a batch callback, or in the check phase.
 */
static void refill_pools(upstream_link *l) {
  l->refill_pending = 0;
  uv_check_stop(&l->check);
  if (l->stopped) return;
  for (unsigned p = 0; p < l->npools; p++) {
    up_pool *pool = &l->pools[p];
    if (!pool->wanted) continue;
    pool->wanted = 0;
    if (pool->ran_dry) pool->target = pool->target * 2 > POOL_MAX ? POOL_MAX : pool->target * 2;
    pool->ran_dry = 0;
    pool->filled = 1;
    any_addr to;
    socklen_t to_len = peer_sockaddr(&to, pool->family, pool->port, pool->addr, 0);
    while (pool->count < pool->target) {
      int fd = open_connected(l, &to, to_len);
      if (fd < 0) break; // out of fds, or no route: the next send opens inline and reports why
      pool->fds[pool->count++] = fd;
      l->counters[U_READY]++;
    }
  }
}

static void on_check(uv_check_t *check) {
  refill_pools((upstream_link *)check->data);
}

/** Marks the pool for a refill, which runs after this loop turn's callbacks unless a batch does it first. */
static void want_refill(upstream_link *l, up_pool *pool) {
  pool->wanted = 1;
  if (l->refill_pending) return;
  l->refill_pending = 1;
  uv_check_start(&l->check, on_check);
}

static void on_readable(uv_poll_t *poll, int status, int events) {
  upstream_link *l = (upstream_link *)poll->data;
  if (l->stopped || status < 0 || !(events & UV_READABLE)) return;
  for (int round = 0; round < MAX_ROUNDS; round++) {
    int n;
    int eintr = 0;
    do {
      n = epoll_wait(l->ep, l->events, (int)l->batch, 0);
    } while (n < 0 && errno == EINTR && ++eintr < MAX_EINTR);
    if (n <= 0) break;
    // Level-triggered: one datagram per socket per round; a socket with more queued is reported again.
    unsigned filled = 0;
    for (int k = 0; k < n; k++) filled += (unsigned)fill_slot(l, &l->events[k], filled);
    if (filled > 0) {
      l->counters[U_COUNT] = filled;
      int ok = batch_js_call(&l->js, filled);
      if (l->stopped) return; // upstreamStop inside the callback closed everything
      release_delivered(l, filled); // after a throw too: leak no socket
      if (!ok) break;
    }
    if ((unsigned)n < l->batch) break; // every ready socket was read: skip the epoll_wait that says 0
  }
  // The answers are out and their sockets closed: now is off every query's path.
  if (l->refill_pending) refill_pools(l);
}

/** Allocates a link with its epoll fd and per-batch arrays; NULL (errno set) on failure. */
static upstream_link *link_alloc(unsigned batch) {
  upstream_link *l = calloc(1, sizeof *l);
  if (l == NULL) return NULL;
  __atomic_fetch_add(&live_links, 1, __ATOMIC_RELAXED);
  l->batch = batch;
  l->events = calloc(batch, sizeof *l->events);
  l->delivered = calloc(batch, sizeof *l->delivered);
  l->ep = epoll_create1(EPOLL_CLOEXEC);
  if (l->events == NULL || l->delivered == NULL || l->ep < 0) {
    int err = l->ep < 0 ? errno : ENOMEM;
    if (l->ep >= 0) close(l->ep);
    link_free(l);
    errno = err;
    return NULL;
  }
  return l;
}

// upstreamCreate(inBuf, meta, batchSize 1-1024, callback(count)) → link
static napi_value upstream_create(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  size_t argc = 4;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *in = NULL;
  int32_t *meta = NULL;
  size_t in_len = 0, meta_len = 0;
  int32_t batch = 0;
  napi_valuetype cb_type = napi_undefined;
  if (argc < 4 || !get_buffer(env, argv[0], &in, &in_len) || !get_int32_array(env, argv[1], &meta, &meta_len) ||
      napi_get_value_int32(env, argv[2], &batch) != napi_ok || batch < 1 || batch > MAX_BATCH ||
      napi_typeof(env, argv[3], &cb_type) != napi_ok || cb_type != napi_function) {
    return throw_type(env, "upstreamCreate(inBuf: Buffer, meta: Int32Array, batchSize 1-1024, callback)");
  }
  size_t slot = in_len / (size_t)batch;
  if (slot < MIN_SLOT) return throw_type(env, "upstreamCreate: inBuf needs at least 512 bytes per slot");
  if (meta_len < (size_t)UP_HEADER + (size_t)batch * UP_STRIDE) return throw_type(env, "upstreamCreate: meta is too short for batchSize");

  upstream_link *l = link_alloc((unsigned)batch);
  if (l == NULL) return throw_code(env, "upstreamCreate", errno);
  l->js.env = env;
  l->slot = slot;
  l->in = in;
  l->meta = meta;
  l->counters = (uint32_t *)meta;
  uv_loop_t *loop = NULL;
  int rc = napi_get_uv_event_loop(env, &loop) != napi_ok || loop == NULL ? UV_EINVAL : uv_poll_init(loop, &l->poll, l->ep);
  if (rc != 0) {
    close(l->ep);
    link_free(l);
    return throw_code(env, "upstreamCreate uv_poll_init", -rc);
  }
  l->poll.data = l;
  uv_check_init(loop, &l->check); // cannot fail
  l->check.data = l;
  uv_unref((uv_handle_t *)&l->check); // a pending refill must not keep the loop alive
  memset(l->counters, 0, UP_HEADER * sizeof(uint32_t));
  l->counters[U_ABI] = KDNS_ABI_VERSION;

  // Any step below may fail (a pending exception, a dying environment): a half-made link must not poll,
  // so a failure stops it (on_closed releases what was made) and throws.
  napi_value handle;
  if (napi_create_external(env, l, on_handle_finalized, NULL, &handle) != napi_ok) {
    // The poll handle watching the epoll fd is closed first, the fd after it (libuv's order); the link's
    // memory goes in the handles' close callbacks, on a later loop turn.
    int ep = l->ep;
    l->ep = -1;
    l->never_started = 1;
    close_handles(l);
    close(ep);
    return throw_type(env, "upstreamCreate: cannot create the handle");
  }
  int made = napi_create_reference(env, argv[0], 1, &l->in_ref) == napi_ok && // C writes into these
             napi_create_reference(env, argv[1], 1, &l->meta_ref) == napi_ok &&
             batch_js_hold(&l->js, env, handle, &UPSTREAM_TAG, argv[3], "kdns:upstream", on_env_cleanup, l);
  if (!made) {
    link_stop(l);
    return throw_type(env, "upstreamCreate: Node-API refused a reference (is the environment shutting down?)");
  }
  rc = uv_poll_start(&l->poll, UV_READABLE, on_readable);
  if (rc != 0) {
    link_stop(l);
    return throw_code(env, "upstreamCreate uv_poll_start", -rc);
  }
  // The link alone does not keep the thread's loop alive: a query in flight has its timeout timer in
  // JavaScript, which does; an idle link must not stop a worker (or a test) from ending.
  uv_unref((uv_handle_t *)&l->poll);
  return handle;
}

/** Reads argv (up to *argc) and the link in argv[0]; NULL after throwing a TypeError. */
static upstream_link *link_arg(napi_env env, napi_callback_info info, napi_value *argv, size_t *argc) {
  return (upstream_link *)handle_args(env, info, argv, argc, &UPSTREAM_TAG, "upstreamCreate");
}

static napi_value int_result(napi_env env, int32_t v) {
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}

/**
 * Takes a ready socket connected to the upstream (or opens one: none ready, or no pool), registers it for
 * `token` and sends msg. Returns the fd or -errno (nothing left open).
 */
static int send_query(upstream_link *l, int32_t token, int family, int port, const uint8_t *addr, const uint8_t *msg, size_t len) {
  up_pool *pool = pool_for(l, family, port, addr);
  int fd;
  if (pool != NULL && pool->count > 0) {
    fd = pool->fds[--pool->count];
    l->counters[U_READY]--;
  } else {
    if (pool != NULL && pool->filled) pool->ran_dry = 1; // a burst: the pool was too small
    l->counters[U_OPENED_INLINE]++;
    any_addr to;
    socklen_t to_len = peer_sockaddr(&to, family, port, addr, 0);
    fd = open_connected(l, &to, to_len);
  }
  if (pool != NULL) want_refill(l, pool); // not here: set-up stays off the query's path
  if (fd < 0) return fd;
  int err = 0;
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = ((uint64_t)(uint32_t)token << 32) | (uint32_t)fd};
  if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0) err = errno;
  if (err == 0) {
    ssize_t r;
    int eintr = 0;
    do {
      r = send(fd, msg, len, MSG_DONTWAIT);
    } while (r < 0 && errno == EINTR && ++eintr < MAX_EINTR);
    if (r < 0) err = errno;
  }
  if (err != 0) {
    close(fd); // also leaves the epoll set
    return -err;
  }
  up_socket *s = &l->sockets[fd];
  s->gen++;
  s->token = token;
  s->open = 1;
  return fd;
}

// upstreamSend(link, token, family 4|6, port, addr16, msg, length) → fd | -errno; -EBADF after upstreamStop.
static napi_value upstream_send(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  size_t argc = 7;
  upstream_link *l = link_arg(env, info, argv, &argc);
  if (l == NULL) return NULL;
  int32_t token = 0, family = 0, port = 0, length = -1;
  uint8_t *addr = NULL, *msg = NULL;
  size_t addr_len = 0, msg_len = 0;
  if (argc < 7 || napi_get_value_int32(env, argv[1], &token) != napi_ok || napi_get_value_int32(env, argv[2], &family) != napi_ok ||
      napi_get_value_int32(env, argv[3], &port) != napi_ok || !get_buffer(env, argv[4], &addr, &addr_len) ||
      !get_buffer(env, argv[5], &msg, &msg_len) || napi_get_value_int32(env, argv[6], &length) != napi_ok ||
      (family != 4 && family != 6) || port < 1 || port > 65535 || addr_len < 16 || length < 0 || (size_t)length > msg_len) {
    return throw_type(env, "upstreamSend(link, token: int32, family 4|6, port 1-65535, addr: Buffer(16), msg: Buffer, length)");
  }
  if (l->stopped) return int_result(env, -EBADF);
  int fd = send_query(l, token, family, port, addr, msg, (size_t)length);
  if (fd < 0) {
    l->counters[U_SEND_ERRORS]++;
  } else {
    l->counters[U_SENT]++;
    l->counters[U_OPEN]++;
  }
  return int_result(env, fd);
}

// upstreamClose(link, fd, token) → 0 | -ENOENT: JavaScript gave up on an exchange (timeout, cancel).
static napi_value upstream_close(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = 3;
  upstream_link *l = link_arg(env, info, argv, &argc);
  if (l == NULL) return NULL;
  int32_t fd = -1, token = 0;
  if (argc < 3 || napi_get_value_int32(env, argv[1], &fd) != napi_ok || napi_get_value_int32(env, argv[2], &token) != napi_ok) {
    return throw_type(env, "upstreamClose(link, fd, token)");
  }
  // The token guards against closing a socket that now serves another exchange on a reused fd.
  if (l->stopped || !is_open(l, fd) || l->sockets[fd].token != token) return int_result(env, -ENOENT);
  close_socket(l, fd);
  return int_result(env, 0);
}

// upstreamStop(link): idempotent; safe inside the callback (nothing more is delivered).
static napi_value upstream_stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  upstream_link *l = link_arg(env, info, argv, &argc);
  if (l != NULL) link_stop(l);
  return NULL;
}

#define LINUX_ONLY(fn) fn
#else // not Linux: no epoll. Every function but liveUpstreams throws ENOSYS; forwarding keeps Node's dgram.

static napi_value unsupported(napi_env env, napi_callback_info info) {
  (void)info;
  return throw_code(env, "the upstream link needs Linux (epoll)", ENOSYS);
}
#define LINUX_ONLY(fn) unsupported
#endif

void register_upstream_api(napi_env env, napi_value exports) {
  prop_fn(env, exports, "upstreamCreate", LINUX_ONLY(upstream_create));
  prop_fn(env, exports, "upstreamSend", LINUX_ONLY(upstream_send));
  prop_fn(env, exports, "upstreamClose", LINUX_ONLY(upstream_close));
  prop_fn(env, exports, "upstreamStop", LINUX_ONLY(upstream_stop));
  prop_fn(env, exports, "liveUpstreams", live_upstreams);
}
