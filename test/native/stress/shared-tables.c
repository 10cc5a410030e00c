// Stress test of the process-global C tables (native/answer_cache.c, negative.c, epoch.c) without Node:
// reader threads answer queries through their own views while writer threads insert, replace, delete and
// clear through theirs, and one thread rewrites the negative name set. Built and run by shared-tables.test.ts
// (with ThreadSanitizer or AddressSanitizer when the compiler has them).
//
// What must hold, and is checked on every answer:
// - an answer is one whole entry: its payload carries a checksum of itself, so bytes of two entries (a torn
//   read, or memory freed and reused under a reader) fail it;
// - a name that is always in the negative table (replaced over and over, never removed) is never NXDOMAIN;
// - the table never holds more than its bounds.
// Every loop is bounded by a count. Prints one line: "ok ..." or "FAIL ...", exit status 0 or 1.

#include "../../../native/answer_cache.h"
#include "../../../native/negative.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAMES 256
#define MAX_ENTRIES 200
#define MAX_BYTES (48 * 1024)
static long ROUNDS = 20000; // argv[1] may lower it (the ThreadSanitizer run is slower)
#define READERS 3
#define WRITERS 2
#define PERMANENT 64
#define CHURN 2000

static _Atomic long failures, answers, negatives, reads;
static _Atomic int writers_done;
static const char *key = "stress/answers";

static uint32_t fnv(const uint8_t *p, size_t n) {
  uint32_t h = 0x811c9dc5u;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x01000193u;
  return h;
}

/** Wire name "nNNN.a.test." (or "pNN.z.test." / "cNNNN.z.test."), lower case; returns its length. */
static unsigned wire(uint8_t *out, char kind, unsigned i, const char *zone) {
  char label[16];
  unsigned n = 0, l = (unsigned)snprintf(label, sizeof label, "%c%u", kind, i);
  out[n++] = (uint8_t)l;
  memcpy(out + n, label, l);
  n += l;
  out[n++] = 1;
  out[n++] = (uint8_t)zone[0];
  memcpy(out + n, "\4test\0", 6);
  return n + 6;
}

static unsigned next_rand(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return *s >> 8;
}

/** Template: header (ID 0, QR AA, ANCOUNT 0), the question, then [len][payload][fnv(payload)]. */
static size_t make_answer(uint8_t *out, const uint8_t *name, unsigned n, unsigned *seed) {
  memset(out, 0, 12);
  out[2] = 0x84;
  out[5] = 1;
  memcpy(out + 12, name, n);
  uint8_t *p = out + 12 + n;
  p[0] = 0, p[1] = 1, p[2] = 0, p[3] = 1;
  p += 4;
  unsigned len = 8 + next_rand(seed) % 300;
  p[0] = (uint8_t)(len >> 8);
  p[1] = (uint8_t)len;
  for (unsigned i = 0; i < len; i++) p[2 + i] = (uint8_t)next_rand(seed);
  uint32_t h = fnv(p + 2, len);
  memcpy(p + 2 + len, &h, 4);
  return (size_t)(p + 2 + len + 4 - out);
}

static size_t make_query(uint8_t *q, const uint8_t *name, unsigned n, unsigned qtype) {
  memset(q, 0, 12);
  q[0] = 0x12, q[1] = 0x34, q[2] = 0x01, q[5] = 1;
  memcpy(q + 12, name, n);
  uint8_t *p = q + 12 + n;
  p[0] = (uint8_t)(qtype >> 8), p[1] = (uint8_t)qtype, p[2] = 0, p[3] = 1;
  return 12 + n + 4;
}

static void fail(const char *what, unsigned i) {
  if (atomic_fetch_add(&failures, 1) < 5) fprintf(stderr, "FAIL %s (name %u)\n", what, i);
}

static void check_answer(const uint8_t *out, size_t m, const uint8_t *name, unsigned n, unsigned i) {
  atomic_fetch_add(&answers, 1);
  if (m < 12 + n + 4 + 2 + 4 || memcmp(out + 12, name, n) != 0 || out[0] != 0x12 || out[1] != 0x34) return fail("header or name", i);
  const uint8_t *p = out + 12 + n + 4;
  unsigned len = (unsigned)(p[0] << 8 | p[1]);
  if (12 + n + 4 + 2 + len + 4 != m) return fail("length", i);
  uint32_t h;
  memcpy(&h, p + 2 + len, 4);
  if (h != fnv(p + 2, len)) fail("checksum: a torn entry", i);
}

static void *reader(void *arg) {
  (void)arg;
  answer_cache *c = answer_cache_new(0, 4096, key, MAX_ENTRIES, MAX_BYTES);
  uint8_t name[64], q[512], out[4096], peer[16] = {127, 0, 0, 1};
  unsigned seed = (unsigned)(uintptr_t)&seed;
  for (long round = 0; round < ROUNDS * 4 && !(atomic_load(&writers_done) == WRITERS + 1 && round > ROUNDS); round++) {
    if (!answer_cache_read_begin(c)) continue;
    for (int k = 0; k < 16; k++) {
      unsigned pick = next_rand(&seed);
      unsigned i, n;
      size_t len, m;
      if (pick & 1) {
        i = pick % NAMES;
        n = wire(name, 'n', i, "a");
        len = make_query(q, name, n, 1);
        m = answer_cache_answer_udp(c, q, len, out, sizeof out, 0, peer, 1);
        if (m > 0) check_answer(out, m, name, n, i);
      } else {
        i = pick % PERMANENT;
        n = wire(name, 'p', i, "z");
        len = make_query(q, name, n, 1); // p-names have TXT only: NODATA or nothing, never NXDOMAIN
        m = answer_cache_answer_udp(c, q, len, out, sizeof out, 0, peer, 1);
        if (m > 0) {
          atomic_fetch_add(&negatives, 1);
          if ((out[3] & 0x0f) == 3) fail("NXDOMAIN for a name that always exists", i);
        }
      }
      atomic_fetch_add(&reads, 1);
    }
    answer_cache_read_end(c);
  }
  answer_cache_free(c);
  return NULL;
}

static void *writer(void *arg) {
  answer_cache *c = answer_cache_new(0, 4096, key, MAX_ENTRIES, MAX_BYTES);
  uint8_t name[64], answer[1024];
  unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 1;
  for (long round = 0; round < ROUNDS; round++) {
    unsigned pick = next_rand(&seed), i = pick % NAMES, n = wire(name, 'n', i, "a");
    unsigned op = (pick >> 12) % 100;
    if (op < 70) {
      size_t len = make_answer(answer, name, n, &seed);
      if (answer_cache_set(c, name, n, 1, 0, answer, len, 0, 255, 1) < 0) fail("out of memory", i);
    } else if (op < 99) {
      answer_cache_delete(c, name, n, 1, 0);
    } else {
      answer_cache_clear(c);
    }
    answer_cache_stats st = answer_cache_stats_of(c);
    if (st.entries > MAX_ENTRIES) fail("more entries than the bound", (unsigned)st.entries);
  }
  atomic_fetch_add(&writers_done, 1);
  answer_cache_free(c);
  return NULL;
}

/** SOA negative template for apex "z.test." with rcode. */
static size_t soa_template(uint8_t *t, unsigned rcode) {
  static const uint8_t apex[] = {1, 'z', 4, 't', 'e', 's', 't', 0};
  memset(t, 0, 12);
  t[2] = 0x84, t[3] = (uint8_t)rcode, t[5] = 1, t[9] = 1;
  memcpy(t + 12, apex, sizeof apex);
  uint8_t *p = t + 12 + sizeof apex;
  p[0] = 0, p[1] = 6, p[2] = 0, p[3] = 1;
  p += 4;
  const uint8_t rr[] = {0xc0, 12, 0, 6, 0, 1, 0, 0, 0, 60, 0, 24, 0xc0, 12, 0xc0, 12};
  memcpy(p, rr, sizeof rr);
  memset(p + sizeof rr, 1, 20);
  return (size_t)(p + sizeof rr + 20 - t);
}

static void *negative_writer(void *arg) {
  (void)arg;
  answer_cache *c = answer_cache_new(0, 4096, key, MAX_ENTRIES, MAX_BYTES);
  uint8_t name[64], tpl[3][128];
  const uint8_t *tpls[3];
  size_t lens[3];
  static const unsigned rcodes[3] = {3, 3, 0};
  for (int k = 0; k < 3; k++) {
    lens[k] = soa_template(tpl[k], rcodes[k]);
    tpls[k] = tpl[k];
  }
  static const uint8_t apex[] = {1, 'z', 4, 't', 'e', 's', 't', 0};
  uint16_t apex_types[] = {6, 2}, txt[] = {16};
  unsigned seed = 99;
  for (long round = 0; round < ROUNDS / 10; round++) {
    // One batch per round, as the responder sends them (answer_cache_negative_begin opens one): a reset
    // now and then (clear, then everything again), names replaced and churned otherwise.
    negative_table *t = answer_cache_negative_begin(c);
    if (round % 50 == 0) negative_clear(t);
    negative_set_zone(t, apex, sizeof apex, tpls, lens, NULL, 0);
    negative_set_name(t, apex, sizeof apex, NEG_EXISTS | NEG_APEX, apex_types, 2);
    for (unsigned i = 0; i < PERMANENT; i++) {
      unsigned n = wire(name, 'p', i, "z");
      negative_set_name(t, name, n, NEG_EXISTS, txt, 1); // a replacement: never seen missing
    }
    for (int k = 0; k < 50; k++) { // churn: grows the table, removes names
      unsigned i = next_rand(&seed) % CHURN, n = wire(name, 'c', i, "z");
      negative_set_name(t, name, n, (next_rand(&seed) & 1) ? NEG_EXISTS : 0, txt, 1);
    }
    answer_cache_negative_end(c);
  }
  atomic_fetch_add(&writers_done, 1);
  answer_cache_free(c);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1) ROUNDS = atol(argv[1]) > 0 ? atol(argv[1]) : ROUNDS;
  pthread_t r[READERS], w[WRITERS], nw;
  // A view that lives for the whole run: the store (and its negative table) outlives every thread's view.
  answer_cache *keeper = answer_cache_new(0, 4096, key, MAX_ENTRIES, MAX_BYTES);
  if (answer_cache_claim_negative(keeper) != 1) {
    puts("FAIL the first view could not feed the negative table");
    return 1;
  }
  for (int i = 0; i < READERS; i++) pthread_create(&r[i], NULL, reader, NULL);
  for (int i = 0; i < WRITERS; i++) pthread_create(&w[i], NULL, writer, (void *)(uintptr_t)(i + 1));
  pthread_create(&nw, NULL, negative_writer, NULL);
  for (int i = 0; i < WRITERS; i++) pthread_join(w[i], NULL);
  pthread_join(nw, NULL);
  for (int i = 0; i < READERS; i++) pthread_join(r[i], NULL);
  answer_cache_stats st = answer_cache_stats_of(keeper);
  int views = (int)st.views;
  answer_cache_free(keeper);
  unsigned live = answer_cache_live_stores();
  long f = atomic_load(&failures);
  printf("%s reads=%ld answers=%ld negatives=%ld entries=%zu views=%d live=%u failures=%ld\n", f == 0 && live == 0 && views == 1 ? "ok" : "FAIL",
         atomic_load(&reads), atomic_load(&answers), atomic_load(&negatives), st.entries, views, live, f);
  return f == 0 && live == 0 && views == 1 ? 0 : 1;
}
