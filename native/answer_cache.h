// The native answer cache: one copy per process of the responders' tables of compiled answers, so the UDP
// batch engines of every worker thread answer table hits in C, without calling JavaScript (see
// answer_cache.c and README.md). An answer_cache is one thread's view of a process-global store.
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

/** One network of an access list: family 4 or 6, prefix length, address in network order. */
typedef struct acl_rule {
  uint8_t family;
  uint8_t prefix;
  uint8_t addr[16];
} acl_rule;

#define ACL_MAX 256
#define HIT_KINDS 3

// Default bounds (cacheCreate without them): far above what the responder keeps (it clears its table at
// 200,000 answers), so the C copy is never the smaller one by default.
#define ANSWER_CACHE_DEFAULT_ENTRIES 262144u
#define ANSWER_CACHE_DEFAULT_BYTES ((size_t)256 << 20)

#define ANSWER_CACHE_KEY_MAX 127

/**
 * A view of the store named `share_key` in this process, made with these bounds by the first view that asks
 * for it (hard bounds: at most `max_entries` entries and `max_bytes` bytes of names and templates; an insert
 * that would pass either first removes entries from the sweep cursor on, and an answer larger than
 * `max_bytes` is not stored). NULL or "" makes a store of its own. Every view is used by one thread only;
 * views of one store may live in any number of threads (at most EPOCH_MAX_READERS read in C).
 */
answer_cache *answer_cache_new(int recursion_available, unsigned max_udp_payload, const char *share_key, uint32_t max_entries,
                               size_t max_bytes);
/** Stores alive in the process (for leak tests). */
unsigned answer_cache_live_stores(void);
/** Detaches the view: its entries leave the store (see answer_cache.c), the store goes with its last view. */
void answer_cache_free(answer_cache *c);

/**
 * Makes this a cache of forwarded answers: entries are keyed by qtype and the query's DO, CD and AD bits
 * (answer_cache_variant), expire, are served only to clients the access list allows, and count their hits
 * by kind into hit_counts[kind]. `advertised_udp` goes in the OPT (the forwarder's, not the zone's).
 */
void answer_cache_make_forwarded(answer_cache *c, unsigned advertised_udp, const acl_rule *rules, unsigned nrules,
                                 double *hit_counts);

/** The variant key bits of a forwarded answer: DO << 2 | CD << 1 | (DO or AD). */
unsigned answer_cache_variant(int dnssec_ok, int checking_disabled, int authentic_data);

/**
 * Inserts or replaces the answer for (lower-case wire name, qtype, variant). `deadline_ns` (uv_hrtime
 * clock; 0 = never) ends its use; `kind` (< HIT_KINDS, or 255) is the hit counter it feeds.
 * Returns 0, or -1 when out of memory.
 */
int answer_cache_set(answer_cache *c, const uint8_t *name, unsigned name_len, unsigned qtype, unsigned variant,
                     const uint8_t *answer, size_t answer_len, uint64_t deadline_ns, unsigned kind, uint64_t now_ns);
/** Removes the entry if this view inserted it (any entry in a forwarded store). Returns 1 when it did. */
int answer_cache_delete(answer_cache *c, const uint8_t *name, unsigned name_len, unsigned qtype, unsigned variant);
/** Removes every entry this view inserted (every entry of a forwarded store). */
void answer_cache_clear(answer_cache *c);
/**
 * Makes this view the one that feeds the store's negative table, unless another view already does; returns
 * whether it is (then and until it is freed: the table is emptied when its feeder goes).
 */
int answer_cache_claim_negative(answer_cache *c);
/**
 * Locks the store for a change of its table of zone names for negative answers (negative.h), created on
 * first use; a query the store misses is offered to it. Returns NULL, unlocked, for a forwarded view or
 * when out of memory; else answer_cache_negative_end must follow.
 */
struct negative_table *answer_cache_negative_begin(answer_cache *c);
void answer_cache_negative_end(answer_cache *c);
/**
 * Opens (open = 1) or closes a batch of negative changes spanning several calls (negative_write_begin):
 * readers answer no negative from the store while one is open. -1 for a forwarded view.
 */
int answer_cache_negative_batch(answer_cache *c, int open);

typedef struct answer_cache_stats {
  size_t entries, bytes; // bytes: names, templates, the slot array and what waits for readers to leave
  int shared;  // the store has a share key
  int primary; // this view has the lowest reader slot (one view per store reports its size)
  unsigned views;
  size_t negative_names, negative_zones, negative_bytes;
} answer_cache_stats;
answer_cache_stats answer_cache_stats_of(answer_cache *c);

/**
 * Readers (the batch loop) call answer_cache_answer_udp only between these: begin returns 0 when the view
 * cannot read now (no reader slot, or writers kept moving the epoch): answer nothing from it then.
 */
int answer_cache_read_begin(answer_cache *c);
void answer_cache_read_end(answer_cache *c);

/** The counters hits are reported to (the plan is copied). */
void answer_cache_set_counters(answer_cache *c, const counter_plan *plan);
counter_plan *answer_cache_counters(answer_cache *c);

/**
 * Answers the query q[0..len) into out (room for out_cap bytes) when it is a plain standard query whose
 * answer is cached (and, for forwarded answers, not expired and the peer `peer16` — 16 address bytes, IPv4
 * in the first 4 — is allowed) and fits the client's UDP size: returns the answer's length and counts it.
 * Returns 0 for everything else, which JavaScript then answers (misses, errors, truncation, odd queries).
 */
size_t answer_cache_answer_udp(answer_cache *c, const uint8_t *q, size_t len, uint8_t *out, size_t out_cap, int family_v6,
                               const uint8_t *peer16, uint64_t now_ns);

/** Adds `answered` responses that took `nanos` in all to the duration histogram. */
void answer_cache_count_duration(answer_cache *c, unsigned answered, uint64_t nanos);
/** Counts answers the kernel did not take. */
void answer_cache_count_send_drops(answer_cache *c, unsigned dropped);

#endif
