// kdns native addon: SO_REUSEPORT sockets and a batched UDP packet path for the native engine.
//
// Node-API only (plus libuv from the same headers), so one build works on every Node >= 20 and in every
// worker thread. The ABI (buffer and meta layout, return codes, threading) is documented in README.md;
// the constants below are the ones it names, and the addon exports them so the TypeScript side can check.
//
// The UDP path: a uv_poll_t watches the socket on the calling thread's event loop. On readability we
// receive up to `batch` datagrams with one recvmmsg into preallocated slots, call JavaScript once with the
// count, then send every answer it wrote with one sendmmsg to the peers we stored, and read again until the
// socket is empty or we have done MAX_ROUNDS batches (so one busy socket cannot starve the loop).

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <node_api.h>
#include <uv.h>

#include "answer_cache_napi.h"
#include "views_napi.h"
#include "negative_napi.h"
#include "takeover.h"
#include "upstream.h"
#include "observe.h"
#include "napi_props.h"
#include "napi_glue.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#if defined(__linux__) && !defined(KDNS_NO_MMSG)
#define KDNS_HAVE_MMSG 1
#else
#define KDNS_HAVE_MMSG 0
#endif

// meta (Int32Array or Uint32Array): a header of counters, then one record per slot. The counters are
// uint32_t in C (unsigned arithmetic wraps at 2^32, as the README promises; int32_t overflow would be UB),
// the slot fields int32_t (IN_LEN may be -1); both views alias the same memory, which C allows for the
// signed and unsigned variants of one type.
#define META_HEADER 16
#define META_STRIDE 9
// header fields
#define H_ABI 0          // KDNS_ABI_VERSION, written by udpStart
#define H_COUNT 1        // datagrams in the batch being handed to JavaScript
#define H_RX_PACKETS 2   // datagrams received (wraps at 2^32)
#define H_TX_PACKETS 3   // answers the kernel accepted
#define H_RX_TRUNCATED 4 // datagrams larger than an input slot, dropped
#define H_TX_DROPPED 5   // answers dropped because the send buffer was full (EAGAIN/ENOBUFS)
#define H_TX_ERRORS 6    // answers the kernel refused for another reason (EMSGSIZE, bad peer...)
#define H_BATCHES 7      // JavaScript calls
#define H_WAKEUPS 8      // poll wake-ups
#define H_RX_ERRORS 9    // receive errors other than EAGAIN
#define H_OUT_INVALID 10 // slots whose out length was negative or larger than an output slot
#define H_NATIVE 11      // queries answered from the answer cache, without JavaScript
// slot fields
#define S_IN_LEN 0  // bytes received in the slot; 0 when the datagram was truncated (dropped), -1 answered in C
#define S_OUT_LEN 1 // bytes of answer JavaScript wrote to the output slot; 0 sends nothing
#define S_FAMILY 2  // 4 or 6
#define S_PORT 3    // peer port, host order
#define S_ADDR 4    // 4 int32 = 16 bytes: the peer address in network order (IPv4 uses the first 4)
#define S_SCOPE 8   // IPv6 scope id (interface index) of a link-local peer; 0 otherwise

// Marks udpStart handles: udpStop(cache) or any other external must throw, not be read as an engine.
static const napi_type_tag UDP_TAG = {0x6b646e7375647068ULL, 0x616e646c65763031ULL};
#define MAX_ROUNDS 16

typedef struct udp_engine {
  uv_poll_t poll;
  int fd;
  int stopped;   // udpStop (or environment teardown) ran: nothing may touch the fd any more
  int closed;    // the uv close callback ran: the poll handle's memory is ours again
  int finalized; // the JS handle object was collected: nobody can call us any more
  unsigned batch;
  size_t in_slot, out_slot;
  uint8_t *in, *out;
  int32_t *meta;      // slot fields
  uint32_t *counters; // the same memory: header counters
  batch_js js;        // the handle, the callback, the async context, the cleanup hook
  napi_ref in_ref, out_ref, meta_ref;
  // Compiled authoritative answers and forwarded ones (expiring, access-listed), one pair per view (src/views),
  // or one pair without views; views.n 0: every datagram goes to JavaScript.
  view_caches views;
  answer_cache *cache; // views.caches[0] or NULL: where the packet counters are counted (every view's are the same)
  observe_ring obs;    // top-talker samples of the answers made in C (udpObserve); base NULL: off
  tap_ring tap;        // dnstap records of the exchanges answered in C (udpTap); base NULL: off
  struct sockaddr_storage *peers;
  socklen_t *peer_lens;
#if KDNS_HAVE_MMSG
  struct mmsghdr *rmsgs, *smsgs;
  struct iovec *riov, *siov;
#endif
} udp_engine;

// ---------------------------------------------------------------------------------------------------------
// Errors: like Node's own system errors (code = errno name, errno, syscall), so callers can match on code.

static napi_value throw_errno(napi_env env, const char *syscall, const char *host, int port, int err) {
  char msg[256], text[128], name[64];
  uv_err_name_r(-err, name, sizeof name); // uv_err_name allocates (and leaks) for an unknown code
  // Worker threads bind concurrently: strerror's buffer is shared, uv_strerror_r writes into ours.
  uv_strerror_r(-err, text, sizeof text);
  snprintf(msg, sizeof msg, "%s %s %s:%d: %s", syscall, name, host, port, text);
  napi_value jmsg, jcode, error, jerrno, jsyscall;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jmsg);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &jcode);
  napi_create_error(env, jcode, jmsg, &error);
  napi_create_int32(env, -err, &jerrno);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &jsyscall);
  napi_set_named_property(env, error, "errno", jerrno);
  napi_set_named_property(env, error, "syscall", jsyscall);
  napi_throw(env, error);
  return NULL;
}

// ---------------------------------------------------------------------------------------------------------
// Sockets

/** host must be an IP literal (config accepts addresses only). Returns the sockaddr length or 0. */
static socklen_t parse_addr(const char *host, int port, any_addr *addr) {
  memset(addr, 0, sizeof *addr);
  if (inet_pton(AF_INET, host, &addr->v4.sin_addr) == 1) {
    addr->v4.sin_family = AF_INET;
    addr->v4.sin_port = htons((uint16_t)port);
    return sizeof addr->v4;
  }
  if (inet_pton(AF_INET6, host, &addr->v6.sin6_addr) == 1) {
    addr->v6.sin6_family = AF_INET6;
    addr->v6.sin6_port = htons((uint16_t)port);
    return sizeof addr->v6;
  }
  return 0;
}

static int set_nonblock_cloexec(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -1;
  int fdl = fcntl(fd, F_GETFD);
  if (fdl < 0 || fcntl(fd, F_SETFD, fdl | FD_CLOEXEC) < 0) return -1;
  return 0;
}

/** Creates and binds a socket; on failure returns -1 with *err and *syscall set and nothing left open. */
static int open_bound(int type, const any_addr *addr, socklen_t len, int reuse_port, int *err, const char **syscall) {
  int one = 1;
  int fd = socket(addr->sa.sa_family, type, 0);
  if (fd < 0) {
    *err = errno;
    *syscall = "socket";
    return -1;
  }
  if (set_nonblock_cloexec(fd) < 0) goto fail_fcntl;
  if (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) goto fail_opt;
  if (reuse_port) {
#ifdef SO_REUSEPORT
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) goto fail_opt;
#else
    errno = ENOTSUP;
    goto fail_opt;
#endif
  }
  if (addr->sa.sa_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) goto fail_opt;
  if (bind(fd, &addr->sa, len) < 0) {
    *err = errno;
    *syscall = "bind";
    close(fd);
    return -1;
  }
  return fd;
fail_fcntl:
  *err = errno;
  *syscall = "fcntl";
  close(fd);
  return -1;
fail_opt:
  *err = errno;
  *syscall = "setsockopt";
  close(fd);
  return -1;
}

static int bound_port(int fd) {
  any_addr a;
  socklen_t len = sizeof a;
  if (getsockname(fd, &a.sa, &len) < 0) return -1;
  return ntohs(a.sa.sa_family == AF_INET6 ? a.v6.sin6_port : a.v4.sin_port);
}

static napi_value fd_result(napi_env env, int fd, int port) {
  napi_value obj, jfd, jport;
  napi_create_object(env, &obj);
  napi_create_int32(env, fd, &jfd);
  napi_create_int32(env, port, &jport);
  napi_set_named_property(env, obj, "fd", jfd);
  napi_set_named_property(env, obj, "port", jport);
  return obj;
}

/** Reads (host: string, port: number, reusePort: boolean) from argv. Returns 0 on a thrown error. */
static int socket_args(napi_env env, napi_value *argv, size_t argc, char *host, size_t hostcap, int *port, int *reuse) {
  size_t hostlen = 0;
  bool b = false;
  if (argc < 3 || napi_get_value_string_utf8(env, argv[0], host, hostcap, &hostlen) != napi_ok ||
      napi_get_value_int32(env, argv[1], port) != napi_ok || napi_get_value_bool(env, argv[2], &b) != napi_ok) {
    throw_type(env, "expected (host: string, port: number, reusePort: boolean, ...)");
    return 0;
  }
  if (*port < 0 || *port > 65535) {
    throw_type(env, "port must be 0-65535");
    return 0;
  }
  *reuse = b ? 1 : 0;
  return 1;
}

/**
 * Asks for a receive buffer of `bytes`: SO_RCVBUFFORCE when we may (CAP_NET_ADMIN, e.g. root), which ignores
 * net.core.rmem_max, else SO_RCVBUF, which the kernel caps at rmem_max. Returns what the kernel then reports
 * (it doubles the request to cover its bookkeeping), or -1.
 */
static int raise_receive_buffer(int fd, int bytes) {
#ifdef SO_RCVBUFFORCE
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) < 0)
#endif
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes); // capped, never refused for size
  int got = 0;
  socklen_t got_len = sizeof got;
  return getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &got_len) == 0 ? got : -1;
}

// createUdpSocket(host, port, reusePort, receiveBuffer = 0) → { fd, port, receiveBuffer }: receiveBuffer > 0
// raises SO_RCVBUF (raise_receive_buffer); the result's receiveBuffer is the kernel's SO_RCVBUF either way.
static napi_value create_udp_socket(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  size_t argc = 4;
  char host[64];
  int port = 0, reuse = 0, err = 0, rcvbuf = 0;
  const char *syscall = "";
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!socket_args(env, argv, argc, host, sizeof host, &port, &reuse)) return NULL;
  napi_valuetype t = napi_undefined;
  if (argc >= 4 && (napi_typeof(env, argv[3], &t) != napi_ok ||
                    (t != napi_undefined && (napi_get_value_int32(env, argv[3], &rcvbuf) != napi_ok || rcvbuf < 0)))) {
    return throw_type(env, "receiveBuffer must be a byte count 0-2147483647");
  }
  any_addr addr;
  socklen_t len = parse_addr(host, port, &addr);
  if (len == 0) return throw_type(env, "host must be an IPv4 or IPv6 address");
  int fd = open_bound(SOCK_DGRAM, &addr, len, reuse, &err, &syscall);
  if (fd < 0) return throw_errno(env, syscall, host, port, err);
  int got = 0;
  if (rcvbuf > 0) {
    got = raise_receive_buffer(fd, rcvbuf);
  } else {
    socklen_t got_len = sizeof got;
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &got_len) < 0) got = -1;
  }
  napi_value result = fd_result(env, fd, bound_port(fd)), jgot;
  napi_create_int32(env, got, &jgot);
  napi_set_named_property(env, result, "receiveBuffer", jgot);
  return result;
}

// createTcpListener(host, port, reusePort, backlog) → { fd, port }; the fd is listening and non-blocking.
static napi_value create_tcp_listener(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  size_t argc = 4;
  char host[64];
  int port = 0, reuse = 0, err = 0, backlog = 511;
  const char *syscall = "";
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!socket_args(env, argv, argc, host, sizeof host, &port, &reuse)) return NULL;
  if (argc >= 4 && napi_get_value_int32(env, argv[3], &backlog) != napi_ok) return throw_type(env, "backlog must be a number");
  any_addr addr;
  socklen_t len = parse_addr(host, port, &addr);
  if (len == 0) return throw_type(env, "host must be an IPv4 or IPv6 address");
  int fd = open_bound(SOCK_STREAM, &addr, len, reuse, &err, &syscall);
  if (fd < 0) return throw_errno(env, syscall, host, port, err);
  if (listen(fd, backlog > 0 ? backlog : 511) < 0) {
    err = errno;
    close(fd);
    return throw_errno(env, "listen", host, port, err);
  }
  return fd_result(env, fd, bound_port(fd));
}

// closeFd(fd): for sockets that were created but never handed over (a failed start).
static napi_value close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  int fd = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return throw_type(env, "expected fd");
  napi_value r;
  napi_create_int32(env, close(fd) == 0 ? 0 : -errno, &r);
  return r;
}

// ---------------------------------------------------------------------------------------------------------
// The UDP batch engine

// Engines allocated and not yet freed, across all threads: a diagnostic for leak tests (liveEngines()).
static int live_engines = 0;

static void engine_free(udp_engine *e) {
  __atomic_fetch_sub(&live_engines, 1, __ATOMIC_RELAXED);
  free(e->peers);
  free(e->peer_lens);
  view_caches_free(&e->views);
#if KDNS_HAVE_MMSG
  free(e->rmsgs);
  free(e->smsgs);
  free(e->riov);
  free(e->siov);
#endif
  free(e);
}

/** Copies the peer of slot i into meta (family, port, address) for JavaScript. */
static void export_peer(udp_engine *e, unsigned i) {
  int32_t *m = e->meta + META_HEADER + i * META_STRIDE;
  const any_addr *a = (const any_addr *)&e->peers[i];
  if (a->sa.sa_family == AF_INET6) {
    m[S_FAMILY] = 6;
    m[S_PORT] = ntohs(a->v6.sin6_port);
    memcpy(&m[S_ADDR], &a->v6.sin6_addr, 16);
    m[S_SCOPE] = (int32_t)a->v6.sin6_scope_id; // answers to fe80::/10 peers need the interface back
  } else {
    m[S_FAMILY] = 4;
    m[S_PORT] = ntohs(a->v4.sin_port);
    memset(&m[S_ADDR], 0, 16);
    memcpy(&m[S_ADDR], &a->v4.sin_addr, 4);
    m[S_SCOPE] = 0;
  }
}

/** Receives up to one batch. Returns the number of datagrams (0 when the socket is empty or failed). */
static unsigned recv_batch(udp_engine *e) {
  unsigned n = 0;
#if KDNS_HAVE_MMSG
  for (unsigned i = 0; i < e->batch; i++) {
    e->rmsgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    e->rmsgs[i].msg_hdr.msg_flags = 0;
  }
  int r = -1;
  for (int tries = 0; tries < MAX_EINTR; tries++) {
    r = recvmmsg(e->fd, e->rmsgs, e->batch, MSG_DONTWAIT, NULL);
    if (r >= 0 || errno != EINTR) break;
  }
  if (r < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) e->counters[H_RX_ERRORS]++;
    return 0;
  }
  n = (unsigned)r;
  for (unsigned i = 0; i < n; i++) {
    int32_t *m = e->meta + META_HEADER + i * META_STRIDE;
    e->peer_lens[i] = e->rmsgs[i].msg_hdr.msg_namelen;
    if (e->rmsgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
      m[S_IN_LEN] = 0;
      e->counters[H_RX_TRUNCATED]++;
    } else {
      m[S_IN_LEN] = (int32_t)e->rmsgs[i].msg_len;
    }
  }
#else
  while (n < e->batch) {
    socklen_t alen = sizeof(struct sockaddr_storage);
    ssize_t r = recvfrom(e->fd, e->in + (size_t)n * e->in_slot, e->in_slot, MSG_DONTWAIT | MSG_TRUNC,
                         (struct sockaddr *)&e->peers[n], &alen);
    if (r < 0) {
      if (errno == EINTR) continue; // bounded: a signal per call cannot repeat forever in practice
      if (errno != EAGAIN && errno != EWOULDBLOCK) e->counters[H_RX_ERRORS]++;
      break;
    }
    int32_t *m = e->meta + META_HEADER + n * META_STRIDE;
    e->peer_lens[n] = alen;
    if ((size_t)r > e->in_slot) {
      m[S_IN_LEN] = 0;
      e->counters[H_RX_TRUNCATED]++;
    } else {
      m[S_IN_LEN] = (int32_t)r;
    }
    n++;
  }
#endif
  for (unsigned i = 0; i < n; i++) {
    export_peer(e, i);
    e->meta[META_HEADER + i * META_STRIDE + S_OUT_LEN] = 0;
  }
  e->counters[H_RX_PACKETS] += n;
  return n;
}

static int is_full(int err) {
  return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS;
}

// Answers that did not leave: in meta for JavaScript, and in the packet counters when the cache has them
// (then JavaScript does not count them again).
static void count_tx_dropped(udp_engine *e, unsigned k) {
  e->counters[H_TX_DROPPED] += k;
  if (e->cache != NULL) answer_cache_count_send_drops(e->cache, k);
}

static void count_tx_error(udp_engine *e) {
  e->counters[H_TX_ERRORS]++;
  if (e->cache != NULL) answer_cache_count_send_drops(e->cache, 1);
}

/** One datagram with sendto, counted. Returns 0, or -errno (a full socket buffer counts as dropped). */
static int send_one(udp_engine *e, const void *buf, size_t len, const struct sockaddr *to, socklen_t to_len) {
  ssize_t r;
  int eintr = 0;
  do {
    r = sendto(e->fd, buf, len, MSG_DONTWAIT, to, to_len);
  } while (r < 0 && errno == EINTR && ++eintr < MAX_EINTR);
  if (r >= 0) {
    e->counters[H_TX_PACKETS]++;
    return 0;
  }
  int err = errno;
  if (is_full(err)) count_tx_dropped(e, 1);
  else count_tx_error(e);
  return -err;
}

#if KDNS_HAVE_MMSG
/**
 * Sends msgs[0, m) with sendmmsg, continuing after a partial send and skipping a message the kernel refuses
 * on its own. Returns how many the kernel accepted; when the socket buffer fills, the rest are dropped and
 * counted and *full is set.
 */
static unsigned send_mmsg_all(udp_engine *e, struct mmsghdr *msgs, unsigned m, int *full) {
  unsigned done = 0, accepted = 0;
  int eintr = 0;
  // Each pass sends at least one message, skips one that failed on its own, or stops: bounded by m + MAX_EINTR.
  while (done < m) {
    int r = sendmmsg(e->fd, msgs + done, m - done, MSG_DONTWAIT);
    if (r > 0) {
      done += (unsigned)r;
      accepted += (unsigned)r;
      e->counters[H_TX_PACKETS] += (uint32_t)r;
      continue;
    }
    if (r < 0 && errno == EINTR && ++eintr < MAX_EINTR) continue;
    if (r < 0 && is_full(errno)) {
      count_tx_dropped(e, m - done);
      *full = 1;
      break;
    }
    count_tx_error(e); // the first remaining message cannot be sent (EMSGSIZE, EACCES...): skip it
    done++;
  }
  return accepted;
}

/** Points msg at one datagram (iov) for peer `to`. */
static void fill_mmsg(struct mmsghdr *msg, struct iovec *iov, void *base, size_t len, void *to, socklen_t to_len) {
  iov->iov_base = base;
  iov->iov_len = len;
  struct msghdr *h = &msg->msg_hdr;
  h->msg_name = to;
  h->msg_namelen = to_len;
  h->msg_iov = iov;
  h->msg_iovlen = 1;
  h->msg_control = NULL;
  h->msg_controllen = 0;
  h->msg_flags = 0;
}
#endif

/** The bytes of answer JavaScript wrote for slot i; 0 when none (a length outside the slot is counted). */
static size_t answer_len(udp_engine *e, unsigned i) {
  int32_t len = e->meta[META_HEADER + i * META_STRIDE + S_OUT_LEN];
  if (len < 0 || (size_t)len > e->out_slot) {
    e->counters[H_OUT_INVALID]++;
    return 0;
  }
  return (size_t)len;
}

/** Sends the answers JavaScript wrote for slots [0, n). */
static void send_batch(udp_engine *e, unsigned n) {
#if KDNS_HAVE_MMSG
  unsigned m = 0;
  for (unsigned i = 0; i < n; i++) {
    size_t len = answer_len(e, i);
    if (len == 0) continue;
    fill_mmsg(&e->smsgs[m], &e->siov[m], e->out + (size_t)i * e->out_slot, len, &e->peers[i], e->peer_lens[i]);
    m++;
  }
  int full = 0;
  send_mmsg_all(e, e->smsgs, m, &full);
#else
  for (unsigned i = 0; i < n; i++) {
    size_t len = answer_len(e, i);
    if (len == 0) continue;
    int r = send_one(e, e->out + (size_t)i * e->out_slot, len, (struct sockaddr *)&e->peers[i], e->peer_lens[i]);
    if (r < 0 && is_full(-r)) { // counted for slot i; the rest of the batch is dropped too
      for (unsigned j = i + 1; j < n; j++) {
        if (answer_len(e, j) > 0) count_tx_dropped(e, 1);
      }
      break;
    }
  }
#endif
}

/**
 * Answers what it can of slots [0, n) from the answer cache: those get OUT_LEN set and IN_LEN -1.
 * Returns how many slots are left for JavaScript.
 */
static unsigned answer_natively(udp_engine *e, unsigned n) {
  uint64_t started = uv_hrtime();
  double wall_ms = e->tap.buf.base != NULL ? tap_now_ms() : 0; // dnstap's time of every exchange of the batch
  unsigned answered = 0;
  // The tables are process-global: announce this thread as a reader of each view's for the batch (no lock;
  // a table it cannot enter now answers nothing in this batch, JavaScript does).
  int any = view_caches_read_begin(&e->views);
  for (unsigned i = 0; i < n && any; i++) {
    int32_t *m = e->meta + META_HEADER + i * META_STRIDE;
    if (m[S_IN_LEN] <= 0) continue;
    const uint8_t *q = e->in + (size_t)i * e->in_slot;
    uint8_t *out = e->out + (size_t)i * e->out_slot;
    const uint8_t *peer = (const uint8_t *)&m[S_ADDR];
    int v6 = m[S_FAMILY] == 6;
    answer_cache *fwd;
    answer_cache *cache = view_caches_pick(&e->views, v6, peer, &fwd);
    size_t len = cache == NULL ? 0 : answer_cache_answer_udp(cache, q, (size_t)m[S_IN_LEN], out, e->out_slot, v6, peer, started);
    if (len == 0 && fwd != NULL) len = answer_cache_answer_udp(fwd, q, (size_t)m[S_IN_LEN], out, e->out_slot, v6, peer, started);
    if (len == 0) continue;
    m[S_OUT_LEN] = (int32_t)len;
    if (e->obs.buf.base != NULL) observe_answer(&e->obs, q, (size_t)m[S_IN_LEN], out, m[S_FAMILY], peer);
    if (e->tap.buf.base != NULL) tap_exchange(&e->tap, q, (size_t)m[S_IN_LEN], out, len, m[S_FAMILY], peer, m[S_PORT], wall_ms);
    m[S_IN_LEN] = -1;
    answered++;
  }
  view_caches_read_end(&e->views);
  if (answered > 0) {
    answer_cache_count_duration(e->cache, answered, uv_hrtime() - started);
    e->counters[H_NATIVE] += answered;
  }
  return n - answered;
}

static void on_readable(uv_poll_t *poll, int status, int events) {
  udp_engine *e = (udp_engine *)poll->data;
  if (e->stopped) return;
  e->counters[H_WAKEUPS]++;
  if (status < 0 || !(events & UV_READABLE)) {
    e->counters[H_RX_ERRORS]++;
    return;
  }
  for (int round = 0; round < MAX_ROUNDS; round++) {
    unsigned n = recv_batch(e);
    if (n == 0) break;
    unsigned for_js = e->cache != NULL ? answer_natively(e, n) : n;
    if (for_js > 0) {
      e->counters[H_COUNT] = n;
      e->counters[H_BATCHES]++;
      if (!batch_js_call(&e->js, n)) break;
      // udpStop may have run inside the callback; the fd is then closed and the answers are not sent.
      if (e->stopped) break;
    }
    send_batch(e, n);
    if (n < e->batch) break; // the socket is (very likely) empty: skip the recvmmsg that says EAGAIN
  }
}

/** The close callback of a poll handle whose engine never got a JavaScript handle: nothing else owns it. */
static void on_never_started(uv_handle_t *h) {
  engine_free((udp_engine *)h->data);
}

static void maybe_free(udp_engine *e) {
  if (e->closed && e->finalized) engine_free(e);
}

static void on_closed(uv_handle_t *h) {
  udp_engine *e = (udp_engine *)h->data;
  napi_env env = e->js.env;
  // A start that failed half way made only some of these.
  napi_ref refs[] = {e->in_ref, e->out_ref, e->meta_ref};
  for (size_t k = 0; k < sizeof refs / sizeof refs[0]; k++) {
    if (refs[k] != NULL) napi_delete_reference(env, refs[k]);
  }
  view_caches_release(env, &e->views);
  ring_release(env, &e->obs.buf);
  ring_release(env, &e->tap.buf);
  e->closed = 1;
  batch_js_release(&e->js); // the handle's reference last
  maybe_free(e);
}

/** Stops polling and closes the fd now; the uv handle's memory is released on the next loop turn. */
static void engine_stop(udp_engine *e) {
  if (e->stopped) return;
  e->stopped = 1;
  uv_poll_stop(&e->poll); // removes the fd from epoll, so closing it below is safe
  if (e->fd >= 0) close(e->fd);
  e->fd = -1;
  uv_close((uv_handle_t *)&e->poll, on_closed);
}

/** The worker (or process) is going away without udpStop: close the same way. */
static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  udp_engine *e = (udp_engine *)arg;
  (void)handle; // on_closed removes it
  engine_stop(e);
}

static void on_handle_finalized(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  udp_engine *e = (udp_engine *)data;
  e->finalized = 1;
  maybe_free(e);
}

// udpStart(fd, batchSize, inBuf, outBuf, meta, callback, cache?, forwardedCache?, viewRules?) → handle; with
// views, cache and forwardedCache are arrays (one per view) and viewRules picks the view (views_napi.h).
static napi_value udp_start(napi_env env, napi_callback_info info) {
  napi_value argv[9] = {NULL};
  size_t argc = 9;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd = -1, batch = 0;
  uint8_t *in = NULL, *out = NULL;
  size_t in_len = 0, out_len = 0;
  if (argc < 6 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_get_value_int32(env, argv[1], &batch) != napi_ok || batch < 1 || batch > MAX_BATCH) {
    return throw_type(env, "udpStart(fd, batchSize 1-1024, inBuf, outBuf, meta, callback)");
  }
  if (!get_buffer(env, argv[2], &in, &in_len) || !get_buffer(env, argv[3], &out, &out_len)) {
    return throw_type(env, "inBuf and outBuf must be Buffers");
  }
  size_t meta_len = 0;
  int32_t *meta_data = NULL;
  if (!get_int32_array(env, argv[4], &meta_data, &meta_len)) return throw_type(env, "meta must be an Int32Array or Uint32Array");
  napi_valuetype cb_type;
  napi_typeof(env, argv[5], &cb_type);
  if (cb_type != napi_function) return throw_type(env, "callback must be a function");
  size_t in_slot = in_len / (size_t)batch, out_slot = out_len / (size_t)batch;
  if (in_slot < 512 || out_slot < 512) return throw_type(env, "inBuf and outBuf need at least 512 bytes per slot");
  if (meta_len < (size_t)(META_HEADER + batch * META_STRIDE)) return throw_type(env, "meta is too short for batchSize");
  view_caches views;
  const char *bad = view_caches_read(env, argv[6], argv[7], argv[8], &views); // missing arguments stay NULL
  if (bad != NULL) return throw_type(env, bad);

  udp_engine *e = calloc(1, sizeof *e);
  if (e == NULL) {
    view_caches_free(&views);
    return throw_errno(env, "udpStart", "-", 0, ENOMEM);
  }
  __atomic_fetch_add(&live_engines, 1, __ATOMIC_RELAXED);
  e->js.env = env;
  e->fd = fd;
  e->batch = (unsigned)batch;
  e->in = in;
  e->out = out;
  e->in_slot = in_slot;
  e->out_slot = out_slot;
  e->meta = meta_data;
  e->counters = (uint32_t *)meta_data;
  e->views = views;
  e->cache = views.n > 0 ? views.caches[0] : NULL;
  e->peers = calloc((size_t)batch, sizeof *e->peers);
  e->peer_lens = calloc((size_t)batch, sizeof *e->peer_lens);
  int alloc_ok = e->peers != NULL && e->peer_lens != NULL;
#if KDNS_HAVE_MMSG
  e->rmsgs = calloc((size_t)batch, sizeof *e->rmsgs);
  e->smsgs = calloc((size_t)batch, sizeof *e->smsgs);
  e->riov = calloc((size_t)batch, sizeof *e->riov);
  e->siov = calloc((size_t)batch, sizeof *e->siov);
  alloc_ok = alloc_ok && e->rmsgs && e->smsgs && e->riov && e->siov;
  if (alloc_ok) {
    for (unsigned i = 0; i < e->batch; i++) {
      e->riov[i].iov_base = in + (size_t)i * in_slot;
      e->riov[i].iov_len = in_slot;
      e->rmsgs[i].msg_hdr.msg_name = &e->peers[i];
      e->rmsgs[i].msg_hdr.msg_iov = &e->riov[i];
      e->rmsgs[i].msg_hdr.msg_iovlen = 1;
    }
  }
#endif
  if (!alloc_ok) {
    engine_free(e);
    return throw_errno(env, "udpStart", "-", 0, ENOMEM);
  }
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == NULL) {
    engine_free(e);
    return throw_type(env, "no event loop");
  }
  int rc = uv_poll_init_socket(loop, &e->poll, fd);
  if (rc != 0) {
    engine_free(e);
    return throw_errno(env, "uv_poll_init", "-", fd, -rc);
  }
  e->poll.data = e;
  memset(e->counters, 0, META_HEADER * sizeof(uint32_t));
  e->counters[H_ABI] = KDNS_ABI_VERSION;

  // Every step below can fail (a pending exception, a dying environment): a half-made engine must not
  // poll, so any failure stops it again (on_closed releases what was made) and throws.
  napi_value handle;
  if (napi_create_external(env, e, on_handle_finalized, NULL, &handle) != napi_ok) {
    uv_close((uv_handle_t *)&e->poll, on_never_started);
    return throw_type(env, "udpStart: cannot create the handle");
  }
  int made = napi_create_reference(env, argv[2], 1, &e->in_ref) == napi_ok && // the buffers outlive the poll handle
             napi_create_reference(env, argv[3], 1, &e->out_ref) == napi_ok &&
             napi_create_reference(env, argv[4], 1, &e->meta_ref) == napi_ok &&
             view_caches_hold(env, &e->views, argv[6], argv[7]) && // the caches too
             batch_js_hold(&e->js, env, handle, &UDP_TAG, argv[5], "kdns:udp", on_env_cleanup, e);
  if (!made) {
    e->fd = -1; // the fd stays the caller's, as after every other failure
    engine_stop(e);
    return throw_type(env, "udpStart: Node-API refused a reference (is the environment shutting down?)");
  }
  rc = uv_poll_start(&e->poll, UV_READABLE, on_readable);
  if (rc != 0) {
    int err = -rc;
    e->fd = -1; // a failed start leaves the fd with the caller, as every other failure does
    engine_stop(e);
    return throw_errno(env, "uv_poll_start", "-", fd, err);
  }
  return handle;
}

/** Reads argv (up to *argc) and the engine in argv[0]; NULL after throwing a TypeError. */
static udp_engine *handle_arg(napi_env env, napi_callback_info info, napi_value *argv, size_t *argc) {
  return (udp_engine *)handle_args(env, info, argv, argc, &UDP_TAG, "udpStart");
}

// udpStop(handle): idempotent. The fd is closed when it returns.
static napi_value udp_stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  udp_engine *e = handle_arg(env, info, argv, &argc);
  if (e == NULL) return NULL;
  engine_stop(e);
  return NULL;
}

// udpPause(handle): stops reading (no more batches) but keeps the fd open, so udpSendTo still sends the
// answers computed later (on shutdown: forwarded queries in flight). udpStop closes it. Idempotent.
static napi_value udp_pause(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  udp_engine *e = handle_arg(env, info, argv, &argc);
  if (e == NULL) return NULL;
  if (!e->stopped) uv_poll_stop(&e->poll);
  return NULL;
}

// udpSendTo(handle, buf, length, family, port, addr16, scope = 0) → 0 or -errno. For answers computed after
// their batch (the slot's peer is gone by then, so the caller keeps family, port, the 16 address bytes and
// the IPv6 scope id from meta).
static napi_value udp_send_to(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  size_t argc = 7;
  udp_engine *e = handle_arg(env, info, argv, &argc);
  if (e == NULL) return NULL;
  uint8_t *buf = NULL, *addr = NULL;
  size_t buf_len = 0, addr_len = 0;
  int32_t len = 0, family = 0, port = 0;
  if (argc < 6 || !get_buffer(env, argv[1], &buf, &buf_len) || napi_get_value_int32(env, argv[2], &len) != napi_ok ||
      napi_get_value_int32(env, argv[3], &family) != napi_ok || napi_get_value_int32(env, argv[4], &port) != napi_ok ||
      !get_buffer(env, argv[5], &addr, &addr_len) || addr_len < 16 || len < 0 || (size_t)len > buf_len ||
      (family != 4 && family != 6) || port < 0 || port > 65535) {
    return throw_type(env, "udpSendTo(handle, buf, length, family 4|6, port, addr: Buffer(16), scope?)");
  }
  uint32_t scope = 0;
  napi_valuetype scope_type = napi_undefined;
  if (argc >= 7 && (napi_typeof(env, argv[6], &scope_type) != napi_ok ||
                    (scope_type != napi_undefined && napi_get_value_uint32(env, argv[6], &scope) != napi_ok))) {
    return throw_type(env, "udpSendTo: scope must be an interface index");
  }
  napi_value r;
  if (e->stopped) {
    napi_create_int32(env, -EBADF, &r);
    return r;
  }
  any_addr a;
  socklen_t alen = peer_sockaddr(&a, family, port, addr, scope);
  napi_create_int32(env, send_one(e, buf, (size_t)len, &a.sa, alen), &r);
  return r;
}

// udpSendMany's meta: one record of MANY_STRIDE int32 per message.
#define MANY_STRIDE 9
#define M_OFFSET 0 // where the message starts in buf
#define M_LENGTH 1 // its bytes
#define M_FAMILY 2 // the peer, as in the engine's meta: 4 or 6
#define M_PORT 3
#define M_ADDR 4  // 16 bytes
#define M_SCOPE 8 // IPv6 scope id
// Messages built per sendmmsg: their headers live on the stack (about 7 KiB), never in the engine's arrays,
// which the batch in progress may still need when udpSendMany is called from inside the callback.
#define MANY_CHUNK 64

/** Whether every record of meta is a message that lies in buf and a peer udpSendTo would take. */
static int many_valid(const int32_t *meta, unsigned count, size_t buf_len) {
  for (unsigned i = 0; i < count; i++) {
    const int32_t *m = meta + (size_t)i * MANY_STRIDE;
    if (m[M_OFFSET] < 0 || m[M_LENGTH] < 0 || (size_t)m[M_OFFSET] + (size_t)m[M_LENGTH] > buf_len ||
        (m[M_FAMILY] != 4 && m[M_FAMILY] != 6) || m[M_PORT] < 0 || m[M_PORT] > 65535) {
      return 0;
    }
  }
  return 1;
}

/** Sends records [0, count) of meta (validated). Returns how many the kernel accepted. */
static unsigned send_many(udp_engine *e, uint8_t *buf, const int32_t *meta, unsigned count) {
  unsigned accepted = 0;
  for (unsigned start = 0; start < count;) {
    unsigned k = count - start < MANY_CHUNK ? count - start : MANY_CHUNK;
#if KDNS_HAVE_MMSG
    struct mmsghdr msgs[MANY_CHUNK];
    struct iovec iov[MANY_CHUNK];
    any_addr to[MANY_CHUNK];
#endif
    for (unsigned j = 0; j < k; j++) {
      const int32_t *m = meta + (size_t)(start + j) * MANY_STRIDE;
      uint8_t *msg = buf + m[M_OFFSET];
#if KDNS_HAVE_MMSG
      socklen_t to_len = peer_sockaddr(&to[j], m[M_FAMILY], m[M_PORT], (const uint8_t *)&m[M_ADDR], (uint32_t)m[M_SCOPE]);
      fill_mmsg(&msgs[j], &iov[j], msg, (size_t)m[M_LENGTH], &to[j], to_len);
#else
      any_addr to;
      socklen_t to_len = peer_sockaddr(&to, m[M_FAMILY], m[M_PORT], (const uint8_t *)&m[M_ADDR], (uint32_t)m[M_SCOPE]);
      int r = send_one(e, msg, (size_t)m[M_LENGTH], &to.sa, to_len);
      if (r == 0) accepted++;
      if (r < 0 && is_full(-r)) { // counted for this one; the rest are dropped too
        count_tx_dropped(e, count - (start + j + 1));
        return accepted;
      }
#endif
    }
#if KDNS_HAVE_MMSG
    int full = 0;
    accepted += send_mmsg_all(e, msgs, k, &full);
    if (full) {
      count_tx_dropped(e, count - (start + k));
      return accepted;
    }
#endif
    start += k;
  }
  return accepted;
}

// udpSendMany(handle, buf, meta, count) → messages the kernel accepted, or -EBADF after udpStop. The
// forwarded answers computed outside a batch, sent together: one sendmmsg per MANY_CHUNK instead of a
// sendto each. Works after udpPause, like udpSendTo.
static napi_value udp_send_many(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  size_t argc = 4;
  udp_engine *e = handle_arg(env, info, argv, &argc);
  if (e == NULL) return NULL;
  uint8_t *buf = NULL;
  int32_t *meta = NULL;
  size_t buf_len = 0, meta_len = 0;
  int32_t count = -1;
  if (argc < 4 || !get_buffer(env, argv[1], &buf, &buf_len) || !get_int32_array(env, argv[2], &meta, &meta_len) ||
      napi_get_value_int32(env, argv[3], &count) != napi_ok || count < 0 || count > MAX_BATCH ||
      meta_len < (size_t)count * MANY_STRIDE) {
    return throw_type(env, "udpSendMany(handle, buf: Buffer, meta: Int32Array (9 per message), count 0-1024)");
  }
  if (!many_valid(meta, (unsigned)count, buf_len)) {
    return throw_type(env, "udpSendMany: a message lies outside buf, or its family, port is not 4|6, 0-65535");
  }
  napi_value r;
  napi_create_int32(env, e->stopped ? -EBADF : (int32_t)send_many(e, buf, meta, (unsigned)count), &r);
  return r;
}

// udpObserve(handle, ring | null): sample the answers made in C into `ring` (observe.h); null stops.
static napi_value udp_observe(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  udp_engine *e = handle_arg(env, info, argv, &argc);
  if (e == NULL) return NULL;
  if (argc < 2 || e->stopped) return NULL;
  observe_attach(env, &e->obs, argv[1]);
  return NULL;
}

// udpTap(handle, ring | null, every): log the exchanges answered in C, one in `every`, into the dnstap ring
// (observe.h); null stops.
static napi_value udp_tap(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = 3;
  udp_engine *e = handle_arg(env, info, argv, &argc);
  if (e == NULL) return NULL;
  uint32_t every = 1;
  if (argc < 3 || napi_get_value_uint32(env, argv[2], &every) != napi_ok || every < 1) {
    return throw_type(env, "udpTap(handle, ring: Buffer | null, every >= 1)");
  }
  if (e->stopped) return NULL;
  tap_attach(env, &e->tap, argv[1], every);
  return NULL;
}

// liveEngines() → engines whose memory is not yet released (all threads). For tests.
static napi_value live_engines_fn(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_create_int32(env, __atomic_load_n(&live_engines, __ATOMIC_RELAXED), &r);
  return r;
}

// ---------------------------------------------------------------------------------------------------------


NAPI_MODULE_INIT() {
  prop_fn(env, exports, "createUdpSocket", create_udp_socket);
  prop_fn(env, exports, "createTcpListener", create_tcp_listener);
  prop_fn(env, exports, "closeFd", close_fd);
  prop_fn(env, exports, "udpStart", udp_start);
  prop_fn(env, exports, "udpPause", udp_pause);
  prop_fn(env, exports, "udpStop", udp_stop);
  prop_fn(env, exports, "udpSendTo", udp_send_to);
  prop_fn(env, exports, "udpSendMany", udp_send_many);
  prop_fn(env, exports, "liveEngines", live_engines_fn);
  prop_fn(env, exports, "udpObserve", udp_observe);
  prop_fn(env, exports, "udpTap", udp_tap);
  register_cache_api(env, exports);
  register_negative_api(env, exports);
  register_takeover_api(env, exports);
  register_upstream_api(env, exports);
  napi_value abi;
  napi_create_object(env, &abi);
  prop_int(env, abi, "version", KDNS_ABI_VERSION);
  prop_int(env, abi, "metaHeader", META_HEADER);
  prop_int(env, abi, "metaStride", META_STRIDE);
  prop_int(env, abi, "maxBatch", MAX_BATCH);
  prop_int(env, abi, "mmsg", KDNS_HAVE_MMSG);
  prop_int(env, abi, "upHeader", UP_HEADER);
  prop_int(env, abi, "upStride", UP_STRIDE);
  napi_set_named_property(env, exports, "abi", abi);
  return exports;
}
