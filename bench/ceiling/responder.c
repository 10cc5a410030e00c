/*
 * The machine's packet ceiling: a UDP responder that does nothing but move packets.
 *
 *   responder --port P [--threads N] [--batch B]
 *
 * Binds 127.0.0.1:P (one SO_REUSEPORT socket per thread), receives queries in batches with
 * recvmmsg and answers every one of them with the same prebuilt A record (10.0.0.1, TTL 30):
 * the query's ID, RD bit and question are echoed, the answer's owner is a pointer to the
 * question. No lookup at all, so whatever a real server reaches is a fraction of this.
 * Packets that are not a plain one-question query are dropped. Runs until SIGTERM/SIGINT.
 *
 * Build: gcc -O2 -pthread -o responder responder.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BATCH 256
#define PKT_MAX 512
#define HDR 12

/* Answer record appended after the echoed question: pointer to offset 12, A, IN, TTL 30, 10.0.0.1. */
static const uint8_t ANSWER_RR[] = {0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
                                    0x00, 0x1e, 0x00, 0x04, 10,   0,    0,    1};

static int g_port = 0;
static int g_batch = 64;
static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

/* Length of the question (name + type + class) starting at offset 12, or -1 when malformed. */
static int question_len(const uint8_t *p, int len) {
  int off = HDR;
  while (off < len) {
    uint8_t l = p[off];
    if (l == 0) {
      off += 1;
      if (off + 4 > len) return -1;
      return off + 4 - HDR;
    }
    if (l & 0xc0) return -1; /* no compression in a question we answer */
    off += 1 + l;
  }
  return -1;
}

static int open_socket(void) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) { perror("socket"); return -1; }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  int buf = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  struct timeval tv = {0, 200000}; /* wake up to notice a stop request */
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)g_port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) { perror("bind"); close(fd); return -1; }
  return fd;
}

static void *serve(void *arg) {
  int fd = (int)(intptr_t)arg;
  static __thread uint8_t in[MAX_BATCH][PKT_MAX];
  static __thread uint8_t out[MAX_BATCH][PKT_MAX + sizeof ANSWER_RR];
  static __thread struct sockaddr_in peers[MAX_BATCH];
  struct mmsghdr rmsg[MAX_BATCH], smsg[MAX_BATCH];
  struct iovec riov[MAX_BATCH], siov[MAX_BATCH];
  memset(rmsg, 0, sizeof rmsg);
  memset(smsg, 0, sizeof smsg);
  for (int i = 0; i < g_batch; i++) {
    riov[i].iov_base = in[i];
    riov[i].iov_len = PKT_MAX;
    rmsg[i].msg_hdr.msg_iov = &riov[i];
    rmsg[i].msg_hdr.msg_iovlen = 1;
    rmsg[i].msg_hdr.msg_name = &peers[i];
    rmsg[i].msg_hdr.msg_namelen = sizeof peers[i];
  }
  while (!g_stop) {
    for (int i = 0; i < g_batch; i++) rmsg[i].msg_hdr.msg_namelen = sizeof peers[i];
    int n = recvmmsg(fd, rmsg, (unsigned)g_batch, MSG_WAITFORONE, NULL);
    if (n <= 0) {
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { perror("recvmmsg"); break; }
      continue;
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
      const uint8_t *q = in[i];
      int len = (int)rmsg[i].msg_len;
      if (len < HDR + 5 || (q[2] & 0x80) || q[4] != 0 || q[5] != 1) continue;
      int ql = question_len(q, len);
      if (ql < 0) continue;
      uint8_t *r = out[m];
      r[0] = q[0];
      r[1] = q[1];
      r[2] = (uint8_t)(0x84 | (q[2] & 0x01)); /* QR, AA, RD echoed */
      r[3] = 0;
      r[4] = 0; r[5] = 1;  /* QDCOUNT */
      r[6] = 0; r[7] = 1;  /* ANCOUNT */
      r[8] = r[9] = r[10] = r[11] = 0;
      memcpy(r + HDR, q + HDR, (size_t)ql);
      memcpy(r + HDR + ql, ANSWER_RR, sizeof ANSWER_RR);
      siov[m].iov_base = r;
      siov[m].iov_len = (size_t)(HDR + ql) + sizeof ANSWER_RR;
      smsg[m].msg_hdr.msg_iov = &siov[m];
      smsg[m].msg_hdr.msg_iovlen = 1;
      smsg[m].msg_hdr.msg_name = &peers[i];
      smsg[m].msg_hdr.msg_namelen = rmsg[i].msg_hdr.msg_namelen;
      m++;
    }
    int done = 0;
    while (done < m) {
      int s = sendmmsg(fd, smsg + done, (unsigned)(m - done), 0);
      if (s <= 0) break; /* full buffer: drop the rest, as a server would */
      done += s;
    }
  }
  close(fd);
  return NULL;
}

int main(int argc, char **argv) {
  int threads = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc) g_port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--batch") && i + 1 < argc) g_batch = atoi(argv[++i]);
    else { fprintf(stderr, "usage: responder --port P [--threads N] [--batch B]\n"); return 2; }
  }
  if (g_port <= 0 || g_port > 65535 || threads < 1 || threads > 64 || g_batch < 1 || g_batch > MAX_BATCH) {
    fprintf(stderr, "responder: bad arguments\n");
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  pthread_t tids[64];
  int fds[64];
  for (int t = 0; t < threads; t++) {
    fds[t] = open_socket();
    if (fds[t] < 0) return 1;
  }
  fprintf(stderr, "{\"msg\":\"serving\",\"port\":%d,\"threads\":%d}\n", g_port, threads);
  for (int t = 1; t < threads; t++) pthread_create(&tids[t], NULL, serve, (void *)(intptr_t)fds[t]);
  serve((void *)(intptr_t)fds[0]);
  for (int t = 1; t < threads; t++) pthread_join(tids[t], NULL);
  return 0;
}
