/*
 * udpgen: a batching DNS-over-UDP load generator for loopback benchmarks.
 *
 *   udpgen --server 127.0.0.1 --port P --queries FILE [--duration S] [--max-queries N]
 *          [--sockets K] [--window W] [--batch B] [--timeout-ms T] [--random-label 1]
 *
 * The query file has one "name type" per line (blank lines and '#' comments skipped); queries are
 * sent in file order, round robin, without EDNS, RD set. K connected sockets each keep up to W
 * queries outstanding and move packets B at a time with sendmmsg/recvmmsg. Each socket numbers its
 * queries sequentially, so the 16-bit ID is the index of a ring that holds the send time: a
 * response's latency costs one subtraction, and the oldest outstanding query is at the ring's tail,
 * which is where timeouts are found.
 *
 * With --random-label 1 every query gets one more label in front of its name, `r` and 12 hex digits never
 * sent before in this run (a counter through a bijection, offset by a per-run seed): a random-name flood
 * ("water torture"), every query a new name that the server cannot have cached.
 *
 * Bounded: sending stops after S seconds (at most 600) or N queries, whichever comes first; then
 * outstanding queries get T milliseconds to come back. Only loopback targets are accepted
 * (127.0.0.0/8 or ::1): anything else is refused.
 *
 * Prints one JSON object: sent, received, qps (responses per second of the sending period),
 * timeouts, late (answers after their timeout), sendErrors, rcodes, truncated, latency percentiles
 * in microseconds (closed loop, so they include queueing inside the window).
 *
 * Build: gcc -O2 -o udpgen udpgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PKT_MAX 300
#define RANDOM_LABEL 13 /* 'r' + 12 hex digits */
#define RESP_MAX 4096
#define MAX_BATCH 256
#define MAX_SOCKETS 64
#define RING 65536
#define HIST_US 100000 /* 1 µs buckets up to 100 ms, then one overflow bucket */

typedef struct {
  uint8_t bytes[PKT_MAX];
  uint16_t len;
} query_t;

typedef struct {
  int fd;
  uint32_t head, tail; /* next sequence number to send; oldest not yet resolved */
  uint64_t *sent_at;   /* ns, indexed by ID */
  uint8_t *inflight;
} sock_t;

static query_t *queries;
static size_t nqueries, cap_queries;
static uint64_t hist[HIST_US + 1];

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int qtype_code(const char *t) {
  static const struct { const char *name; int code; } TYPES[] = {
    {"A", 1}, {"NS", 2}, {"CNAME", 5}, {"SOA", 6}, {"PTR", 12}, {"MX", 15}, {"TXT", 16},
    {"AAAA", 28}, {"SRV", 33}, {"NAPTR", 35}, {"DS", 43}, {"DNSKEY", 48}, {"HTTPS", 65}, {"ANY", 255}};
  for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
    if (!strcasecmp(t, TYPES[i].name)) return TYPES[i].code;
  if (!strncasecmp(t, "TYPE", 4) && isdigit((unsigned char)t[4])) {
    long v = strtol(t + 4, NULL, 10);
    if (v > 0 && v < 65536) return (int)v;
  }
  return -1;
}

/* Encode "name type" into a query with ID 0; returns 0 or -1 when the line is not usable. */
static int encode_query(const char *name, const char *type, query_t *q) {
  int code = qtype_code(type);
  if (code < 0) return -1;
  uint8_t *p = q->bytes;
  memset(p, 0, 12);
  p[2] = 0x01; /* RD */
  p[5] = 1;    /* QDCOUNT */
  int off = 12;
  const char *s = name;
  if (!strcmp(s, ".")) s = "";
  while (*s) {
    const char *dot = strchr(s, '.');
    size_t l = dot ? (size_t)(dot - s) : strlen(s);
    if (l == 0 || l > 63 || off + 1 + (int)l > 12 + 254) return -1;
    p[off++] = (uint8_t)l;
    for (size_t i = 0; i < l; i++) p[off++] = (uint8_t)s[i];
    s += l;
    if (*s == '.') s++;
  }
  p[off++] = 0;
  p[off++] = (uint8_t)(code >> 8);
  p[off++] = (uint8_t)code;
  p[off++] = 0;
  p[off++] = 1; /* IN */
  q->len = (uint16_t)off;
  return 0;
}

static int load_queries(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) { perror(path); return -1; }
  char line[1024], name[512], type[64];
  int lineno = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    char *s = line;
    while (isspace((unsigned char)*s)) s++;
    if (*s == 0 || *s == '#') continue;
    if (sscanf(s, "%511s %63s", name, type) != 2) {
      fprintf(stderr, "udpgen: %s:%d: expected \"name type\"\n", path, lineno);
      fclose(f);
      return -1;
    }
    if (nqueries == cap_queries) {
      cap_queries = cap_queries ? cap_queries * 2 : 1024;
      queries = realloc(queries, cap_queries * sizeof *queries);
      if (!queries) { fclose(f); return -1; }
    }
    if (encode_query(name, type, &queries[nqueries]) != 0) {
      fprintf(stderr, "udpgen: %s:%d: cannot encode \"%s %s\"\n", path, lineno, name, type);
      fclose(f);
      return -1;
    }
    nqueries++;
  }
  fclose(f);
  return nqueries ? 0 : -1;
}

/* The query with a label no earlier query of this run had in front of its name; returns its length. */
static size_t random_query(uint8_t *out, const query_t *q, uint64_t seq) {
  static const char HEX[] = "0123456789abcdef";
  uint64_t v = (seq * 0x9e3779b97f4bULL) & 0xffffffffffffULL; /* odd multiplier: a bijection mod 2^48 */
  memcpy(out, q->bytes, 12);
  out[12] = RANDOM_LABEL;
  out[13] = 'r';
  for (int i = 0; i < 12; i++) out[14 + i] = (uint8_t)HEX[(v >> (44 - 4 * i)) & 0xf];
  memcpy(out + 13 + RANDOM_LABEL, q->bytes + 12, (size_t)q->len - 12);
  return (size_t)q->len + 1 + RANDOM_LABEL;
}

static double percentile(uint64_t total, double p) {
  if (total == 0) return 0;
  uint64_t want = (uint64_t)((double)total * p);
  if (want >= total) want = total - 1;
  uint64_t seen = 0;
  for (int i = 0; i <= HIST_US; i++) {
    seen += hist[i];
    if (seen > want) return (double)i;
  }
  return (double)HIST_US;
}

static void usage(void) {
  fprintf(stderr,
          "usage: udpgen --server 127.0.0.1 --port P --queries FILE [--duration S] [--max-queries N]\n"
          "              [--sockets K] [--window W] [--batch B] [--timeout-ms T] [--random-label 1]\n");
}

int main(int argc, char **argv) {
  const char *server = "127.0.0.1", *qfile = NULL;
  int port = 0, nsock = 4, window = 64, batch = 32, timeout_ms = 1000, random_label = 0;
  double duration = 3;
  uint64_t max_queries = 100000000ull;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) { usage(); return 2; }
    if (!strcmp(a, "--server")) server = v;
    else if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--queries")) qfile = v;
    else if (!strcmp(a, "--duration")) duration = atof(v);
    else if (!strcmp(a, "--max-queries")) max_queries = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--sockets")) nsock = atoi(v);
    else if (!strcmp(a, "--window")) window = atoi(v);
    else if (!strcmp(a, "--batch")) batch = atoi(v);
    else if (!strcmp(a, "--timeout-ms")) timeout_ms = atoi(v);
    else if (!strcmp(a, "--random-label")) random_label = atoi(v) != 0;
    else { usage(); return 2; }
    i++;
  }
  if (!qfile || port <= 0 || port > 65535 || nsock < 1 || nsock > MAX_SOCKETS || window < 1 ||
      window > 32768 || batch < 1 || batch > MAX_BATCH || timeout_ms < 1 || timeout_ms > 60000 ||
      !(duration > 0) || duration > 600 || max_queries == 0 || max_queries > 10000000000ull) {
    usage();
    return 2;
  }

  /* Loopback only. */
  struct sockaddr_storage dst;
  socklen_t dstlen;
  int family;
  memset(&dst, 0, sizeof dst);
  struct sockaddr_in *d4 = (struct sockaddr_in *)&dst;
  struct sockaddr_in6 *d6 = (struct sockaddr_in6 *)&dst;
  if (inet_pton(AF_INET, server, &d4->sin_addr) == 1) {
    if ((ntohl(d4->sin_addr.s_addr) >> 24) != 127) {
      fprintf(stderr, "udpgen: refusing %s: only loopback targets (127.0.0.0/8, ::1)\n", server);
      return 2;
    }
    d4->sin_family = AF_INET;
    d4->sin_port = htons((uint16_t)port);
    dstlen = sizeof *d4;
    family = AF_INET;
  } else if (inet_pton(AF_INET6, server, &d6->sin6_addr) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&d6->sin6_addr)) {
      fprintf(stderr, "udpgen: refusing %s: only loopback targets (127.0.0.0/8, ::1)\n", server);
      return 2;
    }
    d6->sin6_family = AF_INET6;
    d6->sin6_port = htons((uint16_t)port);
    dstlen = sizeof *d6;
    family = AF_INET6;
  } else {
    fprintf(stderr, "udpgen: --server must be a literal loopback address, got %s\n", server);
    return 2;
  }

  if (load_queries(qfile) != 0) { fprintf(stderr, "udpgen: no usable queries in %s\n", qfile); return 2; }

  sock_t socks[MAX_SOCKETS];
  struct pollfd pfds[MAX_SOCKETS];
  for (int s = 0; s < nsock; s++) {
    int fd = socket(family, SOCK_DGRAM, 0);
    if (fd < 0) { perror("socket"); return 1; }
    int buf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    if (connect(fd, (struct sockaddr *)&dst, dstlen) != 0) { perror("connect"); return 1; }
    socks[s].fd = fd;
    socks[s].head = socks[s].tail = (uint32_t)(s * 7919u); /* different IDs per socket */
    socks[s].sent_at = calloc(RING, sizeof(uint64_t));
    socks[s].inflight = calloc(RING, 1);
    if (!socks[s].sent_at || !socks[s].inflight) return 1;
    pfds[s].fd = fd;
    pfds[s].events = POLLIN;
  }

  static uint8_t outbuf[MAX_BATCH][PKT_MAX];
  static uint8_t inbuf[MAX_BATCH][RESP_MAX];
  struct mmsghdr smsg[MAX_BATCH], rmsg[MAX_BATCH];
  struct iovec siov[MAX_BATCH], riov[MAX_BATCH];
  memset(smsg, 0, sizeof smsg);
  memset(rmsg, 0, sizeof rmsg);
  for (int i = 0; i < MAX_BATCH; i++) {
    siov[i].iov_base = outbuf[i];
    smsg[i].msg_hdr.msg_iov = &siov[i];
    smsg[i].msg_hdr.msg_iovlen = 1;
    riov[i].iov_base = inbuf[i];
    riov[i].iov_len = RESP_MAX;
    rmsg[i].msg_hdr.msg_iov = &riov[i];
    rmsg[i].msg_hdr.msg_iovlen = 1;
  }

  uint64_t sent = 0, received = 0, received_in_window = 0, timeouts = 0, late = 0, send_errors = 0;
  uint64_t truncated = 0, rcodes[16] = {0};
  size_t qi = 0;
  uint64_t label_seq = now_ns(); /* the per-run seed */
  const uint64_t timeout_ns = (uint64_t)timeout_ms * 1000000ull;
  const uint64_t start = now_ns();
  const uint64_t send_end = start + (uint64_t)(duration * 1e9);
  const uint64_t drain_end_max = send_end + timeout_ns + 100000000ull;
  uint64_t stopped_at = 0, drain_end = drain_end_max;
  int sending = 1;

  for (;;) {
    uint64_t now = now_ns();
    if (sending && (now >= send_end || sent >= max_queries)) {
      sending = 0;
      stopped_at = now;
      drain_end = now + timeout_ns;
    }
    if (!sending) {
      int left = 0;
      for (int s = 0; s < nsock; s++) left |= socks[s].head != socks[s].tail;
      if (!left || now >= drain_end || now >= drain_end_max) break;
    }
    int progress = 0;
    for (int s = 0; s < nsock; s++) {
      sock_t *sk = &socks[s];
      if (sending) {
        uint32_t room = (uint32_t)window - (sk->head - sk->tail);
        uint64_t budget = max_queries - sent;
        uint32_t n = room < (uint32_t)batch ? room : (uint32_t)batch;
        if (budget < n) n = (uint32_t)budget;
        if (n > 0) {
          for (uint32_t i = 0; i < n; i++) {
            const query_t *q = &queries[qi];
            if (++qi == nqueries) qi = 0;
            uint16_t id = (uint16_t)(sk->head + i);
            if (random_label) {
              siov[i].iov_len = random_query(outbuf[i], q, label_seq++);
            } else {
              memcpy(outbuf[i], q->bytes, q->len);
              siov[i].iov_len = q->len;
            }
            outbuf[i][0] = (uint8_t)(id >> 8);
            outbuf[i][1] = (uint8_t)id;
          }
          int k = sendmmsg(sk->fd, smsg, n, MSG_DONTWAIT);
          if (k < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNREFUSED) send_errors++;
            k = 0;
          }
          uint64_t t = now_ns();
          for (int i = 0; i < k; i++) {
            uint16_t id = (uint16_t)(sk->head + (uint32_t)i);
            sk->sent_at[id] = t;
            sk->inflight[id] = 1;
          }
          /* Queries that were not sent are taken again next round. */
          qi = (qi + nqueries - (n - (uint32_t)k) % nqueries) % nqueries;
          sk->head += (uint32_t)k;
          sent += (uint64_t)k;
          if (k > 0) progress = 1;
        }
      }
      int r = recvmmsg(sk->fd, rmsg, (unsigned)batch, MSG_DONTWAIT, NULL);
      if (r > 0) {
        uint64_t t = now_ns();
        progress = 1;
        for (int i = 0; i < r; i++) {
          const uint8_t *p = inbuf[i];
          if (rmsg[i].msg_len < 12 || !(p[2] & 0x80)) continue;
          uint16_t id = (uint16_t)((p[0] << 8) | p[1]);
          if (!sk->inflight[id]) { late++; continue; }
          sk->inflight[id] = 0;
          received++;
          if (sending) received_in_window++;
          rcodes[p[3] & 0x0f]++;
          if (p[2] & 0x02) truncated++;
          uint64_t us = (t - sk->sent_at[id]) / 1000;
          hist[us < HIST_US ? us : HIST_US]++;
        }
      }
      /* Advance the tail past answered queries; expire the ones that waited too long. */
      uint64_t t = now_ns();
      while (sk->tail != sk->head) {
        uint16_t id = (uint16_t)sk->tail;
        if (sk->inflight[id]) {
          if (t - sk->sent_at[id] < timeout_ns) break;
          sk->inflight[id] = 0;
          timeouts++;
        }
        sk->tail++;
      }
    }
    if (!progress) poll(pfds, (nfds_t)nsock, 1);
  }

  double period = (double)(stopped_at - start) / 1e9;
  if (period <= 0) period = 1e-9;
  uint64_t hist_total = 0, hist_sum = 0;
  for (int i = 0; i <= HIST_US; i++) { hist_total += hist[i]; hist_sum += hist[i] * (uint64_t)i; }
  printf("{\"sent\":%llu,\"received\":%llu,\"qps\":%.0f,\"seconds\":%.3f,\"timeouts\":%llu,\"late\":%llu,"
         "\"sendErrors\":%llu,\"truncated\":%llu,\"rcodes\":{\"noerror\":%llu,\"formerr\":%llu,"
         "\"servfail\":%llu,\"nxdomain\":%llu,\"notimp\":%llu,\"refused\":%llu},"
         "\"latencyUs\":{\"mean\":%.1f,\"p50\":%.0f,\"p99\":%.0f,\"p999\":%.0f}}\n",
         (unsigned long long)sent, (unsigned long long)received, (double)received_in_window / period, period,
         (unsigned long long)timeouts, (unsigned long long)late, (unsigned long long)send_errors,
         (unsigned long long)truncated, (unsigned long long)rcodes[0], (unsigned long long)rcodes[1],
         (unsigned long long)rcodes[2], (unsigned long long)rcodes[3], (unsigned long long)rcodes[4],
         (unsigned long long)rcodes[5], hist_total ? (double)hist_sum / (double)hist_total : 0.0,
         percentile(hist_total, 0.5), percentile(hist_total, 0.99), percentile(hist_total, 0.999));
  for (int s = 0; s < nsock; s++) close(socks[s].fd);
  return 0;
}
