/*
 * rawgen: an open-loop, paced sender of raw (mostly hostile) DNS datagrams for loopback soak tests.
 *
 *   rawgen --port P --corpus FILE --count N --rate PPS --max-seconds S
 *          [--server 127.0.0.1] [--sources K] [--batch B] [--seed X] [--samples FILE] [--sample-every M]
 *
 * The corpus (written by bench/hostile/corpus.ts) is "KHC1", a u32 record count (LE), then records of
 * u16 length (LE), u16 nonce offset (LE, 0xffff for none), u8 category, and the datagram bytes. Records
 * are sent in order, round robin, until N datagrams or S seconds. Before each send the 16-bit ID (when the
 * datagram has one) is set from a per-socket counter, and when the record has a nonce offset, 8 lower-case
 * hex digits of a 32-bit bijective mix of the send counter are written there: a "random-name" record
 * asks a different name every time for the first 2^32 sends.
 *
 * K sockets (default 64), each bound to its own address drawn from 127.0.0.0/8 (the whole block is local
 * on Linux), so the server sees many "clients" the way it would see spoofed sources. Sending is paced: a
 * batch of B with sendmmsg, then ppoll until the next batch is due, reading whatever came back. Responses
 * are checked lightly here (length >= 12, QR set, header rcode 0-5) and counted per category of the
 * datagram that carried their ID (when it was sent less than 2 s before; older ones are counted as
 * "unmatched"); an answer to a datagram that had QR=1 is counted as an error; every
 * M-th response (and every bad one) is appended to --samples as u16 length + bytes, for a full parse by
 * the caller.
 *
 * Bounded: at most 100,000,000 datagrams and 3,600 seconds; only loopback targets (127.0.0.0/8).
 * Prints one JSON object on stdout.
 *
 * Build: gcc -O2 -o rawgen rawgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 256
#define MAX_SOCKETS 256
#define MAX_CATEGORIES 32
#define PKT_MAX 65535
#define RESP_MAX 65536
#define BAD_SAMPLES 10
/* A response is matched to the datagram that last used its ID only when it comes back within this long:
 * IDs repeat on a socket every 65,536 sends, and a stale answer must not be blamed on a newer datagram. */
#define MATCH_MS 2000

typedef struct {
  uint32_t off; /* into the corpus bytes */
  uint16_t len;
  uint16_t nonce;
  uint8_t cat;
} record_t;

typedef struct {
  int fd;
  uint16_t next_id;
  uint8_t qr[65536];        /* 1 when the last datagram sent with this ID had QR=1 */
  uint8_t cat[65536];       /* category of the last datagram sent with this ID */
  uint32_t sent_ms[65536];  /* when it was sent, ms since the start (+1; 0 = never) */
} sock_t;

static uint8_t *corpus;
static record_t *records;
static uint32_t nrecords;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* murmur3's finalizer: a bijection on 32 bits, so distinct counters give distinct nonces. */
static uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

static int load_corpus(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); return -1; }
  if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return -1; }
  long size = ftell(f);
  rewind(f);
  if (size < 8) { fclose(f); return -1; }
  corpus = malloc((size_t)size);
  if (!corpus || fread(corpus, 1, (size_t)size, f) != (size_t)size) { fclose(f); return -1; }
  fclose(f);
  if (memcmp(corpus, "KHC1", 4) != 0) return -1;
  uint32_t n = (uint32_t)corpus[4] | ((uint32_t)corpus[5] << 8) | ((uint32_t)corpus[6] << 16) | ((uint32_t)corpus[7] << 24);
  records = calloc(n ? n : 1, sizeof *records);
  if (!records) return -1;
  size_t o = 8;
  for (uint32_t i = 0; i < n; i++) {
    if (o + 5 > (size_t)size) return -1;
    record_t *r = &records[i];
    r->len = (uint16_t)(corpus[o] | (corpus[o + 1] << 8));
    r->nonce = (uint16_t)(corpus[o + 2] | (corpus[o + 3] << 8));
    r->cat = corpus[o + 4];
    r->off = (uint32_t)(o + 5);
    o += 5 + r->len;
    if (o > (size_t)size || r->cat >= MAX_CATEGORIES) return -1;
    if (r->nonce != 0xffff && (uint32_t)r->nonce + 8 > r->len) return -1;
  }
  nrecords = n;
  return n > 0 ? 0 : -1;
}

static void usage(void) {
  fprintf(stderr,
          "usage: rawgen --port P --corpus FILE --count N --rate PPS --max-seconds S\n"
          "              [--server 127.0.0.1] [--sources K] [--batch B] [--seed X] [--samples FILE] [--sample-every M]\n");
}

static void json_hex(FILE *out, const uint8_t *p, unsigned len) {
  static const char *HEX = "0123456789abcdef";
  fputc('"', out);
  for (unsigned i = 0; i < len && i < 80; i++) { fputc(HEX[p[i] >> 4], out); fputc(HEX[p[i] & 15], out); }
  fputc('"', out);
}

int main(int argc, char **argv) {
  const char *server = "127.0.0.1", *cfile = NULL, *sfile = NULL;
  int port = 0, nsock = 64, batch = 32;
  double rate = 50000, max_seconds = 600;
  uint64_t count = 0, sample_every = 1000;
  uint32_t seed = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) { usage(); return 2; }
    if (!strcmp(a, "--server")) server = v;
    else if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--corpus")) cfile = v;
    else if (!strcmp(a, "--count")) count = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--rate")) rate = atof(v);
    else if (!strcmp(a, "--max-seconds")) max_seconds = atof(v);
    else if (!strcmp(a, "--sources")) nsock = atoi(v);
    else if (!strcmp(a, "--batch")) batch = atoi(v);
    else if (!strcmp(a, "--seed")) seed = (uint32_t)strtoul(v, NULL, 10);
    else if (!strcmp(a, "--samples")) sfile = v;
    else if (!strcmp(a, "--sample-every")) sample_every = strtoull(v, NULL, 10);
    else { usage(); return 2; }
    i++;
  }
  if (!cfile || port <= 0 || port > 65535 || count == 0 || count > 100000000ull || !(rate >= 1) || rate > 10e6 ||
      !(max_seconds > 0) || max_seconds > 3600 || nsock < 1 || nsock > MAX_SOCKETS || batch < 1 || batch > MAX_BATCH ||
      sample_every == 0) {
    usage();
    return 2;
  }
  struct sockaddr_in dst;
  memset(&dst, 0, sizeof dst);
  if (inet_pton(AF_INET, server, &dst.sin_addr) != 1 || (ntohl(dst.sin_addr.s_addr) >> 24) != 127) {
    fprintf(stderr, "rawgen: refusing %s: only IPv4 loopback targets (127.0.0.0/8)\n", server);
    return 2;
  }
  dst.sin_family = AF_INET;
  dst.sin_port = htons((uint16_t)port);
  if (load_corpus(cfile) != 0) { fprintf(stderr, "rawgen: %s is not a usable corpus\n", cfile); return 2; }
  FILE *samples = sfile ? fopen(sfile, "wb") : NULL;
  if (sfile && !samples) { perror(sfile); return 1; }

  static sock_t socks[MAX_SOCKETS];
  struct pollfd pfds[MAX_SOCKETS];
  uint32_t addr_state = seed * 2654435761u + 1;
  for (int s = 0; s < nsock; s++) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0) { perror("socket"); return 1; }
    int buf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    /* Source 127.a.b.c (a, b, c in 1..254): a different "client" per socket, inside loopback. */
    struct sockaddr_in src;
    memset(&src, 0, sizeof src);
    src.sin_family = AF_INET;
    addr_state = fmix32(addr_state + (uint32_t)s);
    uint32_t a = 1 + (addr_state & 0xff) % 254, b = 1 + ((addr_state >> 8) & 0xff) % 254, c = 1 + ((addr_state >> 16) & 0xff) % 254;
    src.sin_addr.s_addr = htonl((127u << 24) | (a << 16) | (b << 8) | c);
    if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0 || connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0) {
      perror("bind/connect");
      return 1;
    }
    socks[s].fd = fd;
    socks[s].next_id = (uint16_t)fmix32((uint32_t)s + seed);
    pfds[s].fd = fd;
    pfds[s].events = POLLIN;
  }

  static uint8_t outbuf[MAX_BATCH][1500];
  static uint8_t inbuf[MAX_BATCH][RESP_MAX / 16];
  static uint8_t bigout[PKT_MAX];
  struct mmsghdr smsg[MAX_BATCH], rmsg[MAX_BATCH];
  struct iovec siov[MAX_BATCH], riov[MAX_BATCH];
  memset(smsg, 0, sizeof smsg);
  memset(rmsg, 0, sizeof rmsg);
  for (int i = 0; i < MAX_BATCH; i++) {
    smsg[i].msg_hdr.msg_iov = &siov[i];
    smsg[i].msg_hdr.msg_iovlen = 1;
    riov[i].iov_base = inbuf[i];
    riov[i].iov_len = sizeof inbuf[i];
    rmsg[i].msg_hdr.msg_iov = &riov[i];
    rmsg[i].msg_hdr.msg_iovlen = 1;
  }

  uint64_t sent = 0, send_errors = 0, bytes_sent = 0, responses = 0, bytes_received = 0, truncated = 0;
  uint64_t bad_short = 0, bad_qr0 = 0, bad_rcode = 0, answered_qr1 = 0, sampled = 0, max_response = 0, unmatched = 0;
  uint64_t rcodes[16] = {0}, cat_sent[MAX_CATEGORIES] = {0}, cat_resp[MAX_CATEGORIES] = {0};
  uint64_t cat_bytes_in[MAX_CATEGORIES] = {0}, cat_bytes_out[MAX_CATEGORIES] = {0};
  uint8_t bad_buf[BAD_SAMPLES][80];
  unsigned bad_len[BAD_SAMPLES];
  int nbad = 0;
  uint32_t ri = 0;
  int si = 0;
  const uint64_t start = now_ns();
  const uint64_t deadline = start + (uint64_t)(max_seconds * 1e9);
  uint64_t stopped_at = 0, drain_end = 0;

  for (;;) {
    uint64_t now = now_ns();
    if (!stopped_at && (sent >= count || now >= deadline)) {
      stopped_at = now;
      drain_end = now + 1000000000ull; /* one second for the last answers */
    }
    if (stopped_at && now >= drain_end) break;
    uint64_t due = start + (uint64_t)((double)sent * 1e9 / rate);
    int sending = !stopped_at && now >= due;
    if (sending) {
      sock_t *sk = &socks[si];
      si = (si + 1) % nsock;
      uint64_t left = count - sent;
      unsigned n = left < (uint64_t)batch ? (unsigned)left : (unsigned)batch;
      unsigned k = 0;
      uint8_t qr[MAX_BATCH], cat[MAX_BATCH];
      uint16_t ids[MAX_BATCH];
      for (unsigned i = 0; i < n; i++, k++) {
        const record_t *r = &records[ri];
        if (++ri == nrecords) ri = 0;
        /* Datagrams above an MTU (the corpus has a few) go alone, through one big buffer. */
        uint8_t *p = r->len <= sizeof outbuf[0] ? outbuf[k] : (k == 0 ? bigout : NULL);
        if (!p) { ri = ri == 0 ? nrecords - 1 : ri - 1; break; }
        memcpy(p, corpus + r->off, r->len);
        uint16_t id = sk->next_id++;
        if (r->len >= 2) { p[0] = (uint8_t)(id >> 8); p[1] = (uint8_t)id; }
        if (r->nonce != 0xffff) {
          static const char *HEX = "0123456789abcdef";
          uint32_t v = fmix32((uint32_t)(sent + k) ^ seed);
          for (int d = 0; d < 8; d++) p[r->nonce + d] = (uint8_t)HEX[(v >> (28 - 4 * d)) & 15];
        }
        siov[k].iov_base = p;
        siov[k].iov_len = r->len;
        ids[k] = id;
        qr[k] = r->len >= 3 && (p[2] & 0x80);
        cat[k] = r->cat;
        if (p == bigout) { k++; break; }
      }
      int m = sendmmsg(sk->fd, smsg, k, 0);
      uint32_t sent_ms = (uint32_t)((now_ns() - start) / 1000000ull) + 1;
      if (m < 0) { send_errors += k; m = 0; } /* ECONNREFUSED after an ICMP, ENOBUFS: counted, not retried */
      else if ((unsigned)m < k) send_errors += k - (unsigned)m;
      for (unsigned i = 0; i < k; i++) {
        if (i < (unsigned)m) {
          sk->qr[ids[i]] = qr[i];
          sk->cat[ids[i]] = cat[i];
          sk->sent_ms[ids[i]] = sent_ms;
          bytes_sent += siov[i].iov_len;
          cat_bytes_out[cat[i]] += siov[i].iov_len;
        }
        cat_sent[cat[i]]++;
      }
      sent += k;
    }
    /* Read what is there (after every batch too: a sender behind its pace must still read); wait, at
     * most until the next batch is due, only when nothing was there and nothing is due. */
    struct timespec zero = {0, 0};
    int got = 0;
    if (ppoll(pfds, (nfds_t)nsock, &zero, NULL) > 0) for (int s = 0; s < nsock; s++) {
      if (!(pfds[s].revents & POLLIN)) continue;
      sock_t *sk = &socks[s];
      int r = recvmmsg(sk->fd, rmsg, (unsigned)batch, MSG_DONTWAIT, NULL);
      if (r <= 0) continue;
      got = 1;
      for (int i = 0; i < r; i++) {
        const uint8_t *p = inbuf[i];
        unsigned len = rmsg[i].msg_len;
        int bad = 0;
        responses++;
        bytes_received += len;
        if (len > max_response) max_response = len;
        if (len < 12) { bad_short++; bad = 1; }
        else {
          uint16_t id = (uint16_t)((p[0] << 8) | p[1]);
          uint32_t now_ms = (uint32_t)((now_ns() - start) / 1000000ull) + 1;
          if (sk->sent_ms[id] != 0 && now_ms - sk->sent_ms[id] <= MATCH_MS) {
            cat_resp[sk->cat[id]]++;
            cat_bytes_in[sk->cat[id]] += len;
            if (sk->qr[id]) answered_qr1++;
          } else unmatched++;
          if (!(p[2] & 0x80)) { bad_qr0++; bad = 1; }
          if ((p[3] & 0x0f) > 5) { bad_rcode++; bad = 1; }
          rcodes[p[3] & 0x0f]++;
          if (p[2] & 0x02) truncated++;
        }
        if (bad && nbad < BAD_SAMPLES) {
          bad_len[nbad] = len < 80 ? len : 80;
          memcpy(bad_buf[nbad], p, bad_len[nbad]);
          nbad++;
        }
        if (samples && (bad || responses % sample_every == 0) && len <= 65535) {
          uint8_t h[2] = {(uint8_t)(len & 0xff), (uint8_t)(len >> 8)};
          fwrite(h, 1, 2, samples);
          fwrite(p, 1, len, samples);
          sampled++;
        }
      }
    }
    if (got || sending) continue;
    now = now_ns();
    uint64_t until = stopped_at ? drain_end : start + (uint64_t)((double)sent * 1e9 / rate);
    if (until > now) {
      uint64_t wait = until - now;
      if (wait > 5000000ull) wait = 5000000ull;
      struct timespec ts = {(time_t)(wait / 1000000000ull), (long)(wait % 1000000000ull)};
      ppoll(pfds, (nfds_t)nsock, &ts, NULL);
    }
  }
  if (samples) fclose(samples);

  double period = (double)(stopped_at - start) / 1e9;
  if (period <= 0) period = 1e-9;
  printf("{\"sent\":%llu,\"seconds\":%.3f,\"sendRate\":%.0f,\"sendErrors\":%llu,\"bytesSent\":%llu,\"responses\":%llu,"
         "\"bytesReceived\":%llu,\"maxResponse\":%llu,\"truncated\":%llu,\"answeredQr1\":%llu,\"badShort\":%llu,"
         "\"badQr0\":%llu,\"badRcode\":%llu,\"sampled\":%llu,\"unmatched\":%llu,\"sources\":%d,\"rcodes\":[",
         (unsigned long long)sent, period, (double)sent / period, (unsigned long long)send_errors,
         (unsigned long long)bytes_sent, (unsigned long long)responses, (unsigned long long)bytes_received,
         (unsigned long long)max_response, (unsigned long long)truncated, (unsigned long long)answered_qr1,
         (unsigned long long)bad_short, (unsigned long long)bad_qr0, (unsigned long long)bad_rcode,
         (unsigned long long)sampled, (unsigned long long)unmatched, nsock);
  for (int i = 0; i < 16; i++) printf("%s%llu", i ? "," : "", (unsigned long long)rcodes[i]);
  printf("],\"categories\":[");
  for (int i = 0; i < MAX_CATEGORIES; i++) {
    printf("%s{\"sent\":%llu,\"responses\":%llu,\"bytesOut\":%llu,\"bytesIn\":%llu}", i ? "," : "",
           (unsigned long long)cat_sent[i], (unsigned long long)cat_resp[i], (unsigned long long)cat_bytes_out[i],
           (unsigned long long)cat_bytes_in[i]);
  }
  printf("],\"badSamples\":[");
  for (int i = 0; i < nbad; i++) { if (i) putchar(','); json_hex(stdout, bad_buf[i], bad_len[i]); }
  printf("]}\n");
  for (int s = 0; s < nsock; s++) close(socks[s].fd);
  return 0;
}
