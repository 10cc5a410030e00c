// The hand-off channel of `kdns --takeover` (src/takeover): the running kdns passes its listening sockets
// to its successor with SCM_RIGHTS over a Linux abstract unix socket. Node can pass handles only to its own
// children (child_process IPC), never to an unrelated process, hence these three functions:
//
//   handoffListen(name)            → fd    the successor's channel, `\0name`, listening (non-blocking)
//   sendFds(name, fds, payload)    → pid   the running kdns connects to it and sends the fds and a payload
//                                          in one message; refuses (EPERM) a channel of another user
//   receiveFds(listenFd)           → { fds, payload } | null   the successor takes it (null: not sent yet)
//
// Everything is non-blocking and finishes at once: the sender writes one small message into a socket that
// is already listening (the kernel queues it with the connection), and the receiver reads it only after the
// sender has said, on the claim socket, that it was sent.

#include <node_api.h>
#include <uv.h>

#include "takeover.h"
#include "napi_glue.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

// The kernel's own limit of descriptors in one SCM_RIGHTS message (SCM_MAX_FD).
#define MAX_FDS 253
#define MAX_PAYLOAD 65536
#define MAX_NAME 100

/** The abstract address `\0name`; returns its length, 0 when the name is empty or too long. */
static socklen_t abstract_addr(napi_env env, napi_value jname, struct sockaddr_un *addr) {
  char name[MAX_NAME + 1];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, jname, name, sizeof name, &len) != napi_ok || len == 0 || len >= MAX_NAME) return 0;
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  memcpy(addr->sun_path + 1, name, len); // sun_path[0] = 0: abstract, never a file
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
}

/** Reads `wanted` arguments, the first a channel name, into argv and addr; 0 when they are missing or bad. */
static socklen_t channel_args(napi_env env, napi_callback_info info, size_t wanted, napi_value *argv, struct sockaddr_un *addr) {
  size_t argc = wanted;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  return argc < wanted ? 0 : abstract_addr(env, argv[0], addr);
}

// handoffListen(name): a listening, non-blocking, close-on-exec unix stream socket at `\0name`.
static napi_value handoff_listen(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct sockaddr_un addr;
  socklen_t len = channel_args(env, info, 1, argv, &addr);
  if (len == 0) return throw_type(env, "expected a channel name (1-99 bytes)");
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_code(env, "handoffListen socket", errno);
  if (bind(fd, (struct sockaddr *)&addr, len) < 0 || listen(fd, 4) < 0) {
    int err = errno;
    close(fd);
    return throw_code(env, "handoffListen bind", err);
  }
  napi_value r;
  napi_create_int32(env, fd, &r);
  return r;
}

// sendFds(name, fds, payload): connects to the channel, checks that its owner is this user, sends the fds
// (dup'ed into the message by the kernel: ours stay open) with the payload bytes, closes. Returns the pid
// that listens on the channel (SO_PEERCRED), for the caller to compare with the pid it was told.
static napi_value send_fds(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  struct sockaddr_un addr;
  socklen_t addr_len = channel_args(env, info, 3, argv, &addr);
  if (addr_len == 0) return throw_type(env, "expected sendFds(name, fds, payload)");
  uint32_t count = 0;
  bool is_array = false;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[1], &count) != napi_ok ||
      count == 0 || count > MAX_FDS) {
    return throw_type(env, "expected 1-253 fds");
  }
  int fds[MAX_FDS];
  for (uint32_t i = 0; i < count; i++) {
    napi_value v;
    if (napi_get_element(env, argv[1], i, &v) != napi_ok || napi_get_value_int32(env, v, &fds[i]) != napi_ok || fds[i] < 0) {
      return throw_type(env, "fds must be non-negative integers");
    }
  }
  void *payload = NULL;
  size_t payload_len = 0;
  bool is_buffer = false;
  if (napi_is_buffer(env, argv[2], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[2], &payload, &payload_len) != napi_ok || payload_len == 0 || payload_len > MAX_PAYLOAD) {
    return throw_type(env, "payload must be a Buffer of 1-65536 bytes");
  }

  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (sock < 0) return throw_code(env, "sendFds socket", errno);
  // A unix connect to a listening socket completes at once (or EAGAIN when its backlog is full).
  if (connect(sock, (struct sockaddr *)&addr, addr_len) < 0) {
    int err = errno;
    close(sock);
    return throw_code(env, "sendFds connect", err);
  }
  // Anyone in the network namespace can name an abstract socket: hand sockets only to our own user.
  struct ucred peer;
  socklen_t peer_len = sizeof peer;
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &peer, &peer_len) < 0 || peer.uid != geteuid()) {
    close(sock);
    return throw_code(env, "sendFds: the channel belongs to another user", EPERM);
  }

  size_t control_len = CMSG_SPACE(sizeof(int) * count);
  char *control = calloc(1, control_len);
  if (control == NULL) {
    close(sock);
    return throw_code(env, "sendFds", ENOMEM);
  }
  struct iovec iov = {.iov_base = payload, .iov_len = payload_len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = control_len};
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int) * count);
  memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * count);
  ssize_t sent = sendmsg(sock, &msg, MSG_NOSIGNAL);
  int err = errno;
  free(control);
  close(sock); // what was sent stays queued for the reader
  if (sent < 0) return throw_code(env, "sendFds sendmsg", err);
  // A unix stream socket takes a message this small whole (its buffer is far larger than 64 KiB + fds).
  if ((size_t)sent != payload_len) return throw_code(env, "sendFds: message cut short", EMSGSIZE);
  napi_value r;
  napi_create_int32(env, peer.pid, &r);
  return r;
}

/** Closes every fd of an SCM_RIGHTS message (a message we will not use must not leak them). */
static void close_received(struct msghdr *msg) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int *got = (int *)CMSG_DATA(c);
    for (size_t i = 0; i < n; i++) close(got[i]);
  }
}

// receiveFds(listenFd): accepts the sender's connection and reads its one message: { fds, payload }, or
// null when nothing has connected yet. The fds arrive close-on-exec.
static napi_value receive_fds(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  int listen_fd = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_int32(env, argv[0], &listen_fd) != napi_ok || listen_fd < 0) return throw_type(env, "expected fd");
  int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (conn < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      napi_value null;
      napi_get_null(env, &null);
      return null;
    }
    return throw_code(env, "receiveFds accept", errno);
  }
  char *payload = malloc(MAX_PAYLOAD);
  size_t control_len = CMSG_SPACE(sizeof(int) * MAX_FDS);
  char *control = calloc(1, control_len);
  if (payload == NULL || control == NULL) {
    free(payload);
    free(control);
    close(conn);
    return throw_code(env, "receiveFds", ENOMEM);
  }
  // The sender wrote the whole message and closed before it said so: one blocking read takes it.
  struct iovec iov = {.iov_base = payload, .iov_len = MAX_PAYLOAD};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = control_len};
  ssize_t got = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
  int err = errno;
  close(conn);
  if (got <= 0 || (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) != 0) {
    if (got > 0) close_received(&msg);
    free(payload);
    free(control);
    return throw_code(env, "receiveFds recvmsg", got < 0 ? err : got == 0 ? ENODATA : EMSGSIZE);
  }
  napi_value result, jfds, jpayload;
  napi_create_object(env, &result);
  napi_create_array(env, &jfds);
  uint32_t n = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int *fds = (int *)CMSG_DATA(c);
    for (size_t i = 0; i < k; i++) {
      napi_value v;
      napi_create_int32(env, fds[i], &v);
      napi_set_element(env, jfds, n++, v);
    }
  }
  napi_create_buffer_copy(env, (size_t)got, payload, NULL, &jpayload);
  free(payload);
  free(control);
  napi_set_named_property(env, result, "fds", jfds);
  napi_set_named_property(env, result, "payload", jpayload);
  return result;
}

void register_takeover_api(napi_env env, napi_value exports) {
  const struct {
    const char *name;
    napi_callback fn;
  } table[] = {{"handoffListen", handoff_listen}, {"sendFds", send_fds}, {"receiveFds", receive_fds}};
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    napi_value f;
    napi_create_function(env, table[i].name, NAPI_AUTO_LENGTH, table[i].fn, NULL, &f);
    napi_set_named_property(env, exports, table[i].name, f);
  }
}
