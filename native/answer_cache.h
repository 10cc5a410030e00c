// The native answer cache: a per-thread copy of the responder's table of compiled answers, so the UDP
// batch engine answers table hits in C, without calling JavaScript (see answer_cache.c and README.md).
#ifndef KDNS_ANSWER_CACHE_H
#define KDNS_ANSWER_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct answer_cache answer_cache;

/** Where the packet counters of one thread live (src/metrics/dns-counters.ts) and how they are laid out. */
typedef struct counter_plan {
  double *f;          // the thread's Float64Array slot; NULL: nothing is counted
  size_t f_len;       // its length in doubles (every index below was checked against it)
  uint32_t req_off;   // requests: req_off + (proto * 2 + family) * ntypes + type bucket
  uint32_t ntypes;
  uint32_t resp_off;  // responses: resp_off + rcode
  uint32_t dur_off;   // duration buckets, nbounds + 1 of them (+Inf last)
  uint32_t nbounds;
  uint32_t dur_sum;   // seconds, summed
  uint32_t drop_send; // answers the kernel did not take
  int32_t bounds_us[32];
  uint8_t type_bucket[260]; // qtype → bucket, for qtype < type_table
  uint32_t type_table;
} counter_plan;

answer_cache *answer_cache_new(int recursion_available, unsigned max_udp_payload);
void answer_cache_free(answer_cache *c);

/** Inserts or replaces the answer for (lower-case wire name, qtype). Returns 0, or -1 when out of memory. */
int answer_cache_set(answer_cache *c, const uint8_t *name, unsigned name_len, unsigned qtype, const uint8_t *answer,
                     size_t answer_len);
/** Returns 1 when the entry was there. */
int answer_cache_delete(answer_cache *c, const uint8_t *name, unsigned name_len, unsigned qtype);
void answer_cache_clear(answer_cache *c);
size_t answer_cache_count(const answer_cache *c);
size_t answer_cache_bytes(const answer_cache *c);

/** The counters hits are reported to (the plan is copied). */
void answer_cache_set_counters(answer_cache *c, const counter_plan *plan);
counter_plan *answer_cache_counters(answer_cache *c);

/**
 * Answers the query q[0..len) into out (room for out_cap bytes) when it is a plain standard query whose
 * answer is cached and fits the client's UDP size: returns the answer's length and counts the query.
 * Returns 0 for everything else, which JavaScript then answers (misses, errors, truncation, odd queries).
 */
size_t answer_cache_answer_udp(answer_cache *c, const uint8_t *q, size_t len, uint8_t *out, size_t out_cap, int family_v6);

/** Adds `answered` responses that took `nanos` in all to the duration histogram. */
void answer_cache_count_duration(answer_cache *c, unsigned answered, uint64_t nanos);
/** Counts answers the kernel did not take. */
void answer_cache_count_send_drops(answer_cache *c, unsigned dropped);

#endif
