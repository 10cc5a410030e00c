// The native answer cache. The responder (src/server/responder.ts) compiles every answer it serves into a
// template once and keeps it in its AnswerTable; this is a copy of those tables in C memory, kept in step by
// the responders (set on compile, delete when a name the answer depended on changes, clear on any wholesale
// invalidation). The UDP batch engine asks it first: a plain query whose answer is here is copied, patched
// (ID, RD, CD, RA, the client's spelling of the name, our OPT) and counted without a JavaScript call.
// Anything else (a miss, a message that needs truncation, an unusual query, a forwarded name) is left to
// JavaScript untouched, so this file only has to be right about the common case, and exactly as strict.
//
// One table per process, not per thread: a *store* (the entries, the negative table) is found by its share
// key in a process-global registry, and each thread that uses it holds a *view* (answer_cache: its counters,
// hit counts, ACL, RA and UDP sizes, and its reader slot). Readers (every worker's batch loop) take no lock:
// they announce themselves in the store's epoch domain (epoch.c) for a batch, load the slot array and the
// entries with acquire loads and read only entries that are never changed after they are published. Writers
// take the store's mutex; a replaced or removed entry, and a slot array that grew, are retired to the epoch
// domain and freed once no reader can hold them. So a reader sees a whole entry or none, never a torn one;
// while a writer moves entries (deletion shifts a run back), a reader may miss an entry that is there, and
// then JavaScript answers, which is always right.
//
// Each entry remembers the view that inserted it (its owner), whose responder tracks what it depends on. A
// view deletes and clears only its own entries: the responder that owns an entry is the one that drops it
// when a name it depended on changes, and every responder sees every change. When a view goes (its thread
// ends), its entries go too, since nothing would invalidate them any more.

#include "answer_cache.h"
#include "epoch.h"
#include "peer.h"
#include "negative.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define HEADER 12
#define MAX_NAME 255
#define MAX_LABEL 63
#define TYPE_OPT 41
#define OPT_SIZE 11
#define MIN_UDP 512
#define INITIAL_CAPACITY 64 // power of two
#define SWEEP_SLOTS_PER_SET 8
#define NO_OWNER 255

typedef struct entry { // immutable once published
  uint32_t hash;
  uint32_t type_key; // qtype | variant << 16
  uint64_t deadline_ns; // 0: never expires
  uint8_t name_len;
  uint8_t rcode;
  uint8_t kind; // hit counter, or 255
  uint8_t owner; // reader slot of the view that inserted it
  uint32_t answer_len;
  uint8_t bytes[]; // name_len bytes of lower-case wire name, then the answer template
} entry;

typedef struct slot_array {
  uint32_t mask;
  _Atomic(entry *) slots[]; // open addressing, linear probing; NULL = empty
} slot_array;

typedef struct answer_store {
  pthread_mutex_t lock; // writers only
  epoch_domain *epoch;
  _Atomic(slot_array *) table;
  _Atomic uint32_t count;
  _Atomic(negative_table *) negative; // authoritative stores: created by the first negative write
  // Writer-only (under lock):
  size_t bytes; // names + templates
  uint32_t max_entries;
  size_t max_bytes;
  uint32_t cursor; // next slot the sweep looks at; eviction takes the first entry from here
  int negative_writer; // reader slot of the view that feeds the negative table, -1: none
  // Registry (under registry_lock):
  unsigned refs;
  char key[ANSWER_CACHE_KEY_MAX + 1]; // "" : private to one view
  struct answer_store *next;
} answer_store;

struct answer_cache {
  answer_store *store;
  int slot; // reader slot in the store's epoch domain, also the owner mark of its entries; -1: none left
  uint8_t ra; // 0x80 when the responder sets RA (it forwards), else 0
  unsigned max_udp;  // the client's EDNS size is clamped to this
  unsigned opt_udp;  // and this goes in our OPT
  counter_plan counters;
  // Forwarded answers only (answer_cache_make_forwarded):
  int forwarded;
  acl_rule acl[ACL_MAX];
  unsigned nacl;
  double *hit_counts;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static answer_store *registry;
static _Atomic unsigned live_stores;

static uint32_t fnv1a_step(uint32_t h, uint8_t c) {
  return (h ^ c) * 0x01000193u;
}

// FNV-1a's low bits are weak for similar short names; the MurmurHash3 finaliser spreads them (as in JS).
static uint32_t home_slot(uint32_t h, uint32_t mask) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h & mask;
}

static uint32_t hash_name(const uint8_t *name, unsigned len) {
  uint32_t h = 0x811c9dc5u;
  for (unsigned i = 0; i < len; i++) h = fnv1a_step(h, name[i]);
  return h;
}

static slot_array *slots_new(uint32_t capacity) {
  slot_array *a = calloc(1, sizeof *a + capacity * sizeof a->slots[0]);
  if (a != NULL) a->mask = capacity - 1;
  return a;
}

static size_t entry_size(const entry *e) {
  return (size_t)e->name_len + e->answer_len;
}

static entry *slot_get(const slot_array *a, uint32_t i) {
  return atomic_load_explicit(&a->slots[i], memory_order_acquire);
}

static void slot_put(slot_array *a, uint32_t i, entry *e) {
  atomic_store_explicit(&a->slots[i], e, memory_order_release);
}

static answer_store *store_new(const char *key, uint32_t max_entries, size_t max_bytes) {
  answer_store *s = calloc(1, sizeof *s);
  slot_array *a = slots_new(INITIAL_CAPACITY);
  epoch_domain *d = epoch_new();
  if (s == NULL || a == NULL || d == NULL || pthread_mutex_init(&s->lock, NULL) != 0) {
    free(s);
    free(a);
    epoch_free(d);
    return NULL;
  }
  s->epoch = d;
  atomic_init(&s->table, a);
  s->max_entries = max_entries > 0 ? max_entries : 1;
  s->max_bytes = max_bytes;
  s->negative_writer = -1;
  strncpy(s->key, key, ANSWER_CACHE_KEY_MAX);
  atomic_fetch_add(&live_stores, 1);
  return s;
}

static void store_free(answer_store *s) {
  slot_array *a = atomic_load(&s->table);
  for (uint32_t i = 0; i <= a->mask; i++) free(atomic_load_explicit(&a->slots[i], memory_order_relaxed));
  free(a);
  negative_free(atomic_load(&s->negative));
  epoch_free(s->epoch);
  pthread_mutex_destroy(&s->lock);
  free(s);
  atomic_fetch_sub(&live_stores, 1);
}

unsigned answer_cache_live_stores(void) {
  return atomic_load(&live_stores);
}

static void store_lock(answer_store *s) {
  pthread_mutex_lock(&s->lock);
}

/** Frees what readers have left, then lets the next writer in. */
static void store_unlock(answer_store *s) {
  epoch_reclaim(s->epoch);
  pthread_mutex_unlock(&s->lock);
}

answer_cache *answer_cache_new(int recursion_available, unsigned max_udp_payload, const char *share_key, uint32_t max_entries,
                               size_t max_bytes) {
  answer_cache *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->ra = recursion_available ? 0x80 : 0;
  c->max_udp = max_udp_payload;
  c->opt_udp = max_udp_payload;
  const char *key = share_key == NULL ? "" : share_key;
  pthread_mutex_lock(&registry_lock);
  answer_store *s = NULL;
  if (key[0] != '\0') {
    for (s = registry; s != NULL && strcmp(s->key, key) != 0; s = s->next) {}
  }
  if (s == NULL && (s = store_new(key, max_entries, max_bytes)) != NULL && key[0] != '\0') {
    s->next = registry;
    registry = s;
  }
  if (s != NULL) {
    s->refs++;
    store_lock(s);
    c->slot = epoch_join(s->epoch);
    store_unlock(s);
  }
  pthread_mutex_unlock(&registry_lock);
  if (s == NULL) {
    free(c);
    return NULL;
  }
  c->store = s;
  return c;
}

void answer_cache_make_forwarded(answer_cache *c, unsigned advertised_udp, const acl_rule *rules, unsigned nrules,
                                 double *hit_counts) {
  c->forwarded = 1;
  c->ra = 0x80;
  c->opt_udp = advertised_udp;
  c->nacl = nrules < ACL_MAX ? nrules : ACL_MAX;
  memcpy(c->acl, rules, c->nacl * sizeof *rules);
  c->hit_counts = hit_counts;
}

unsigned answer_cache_variant(int dnssec_ok, int checking_disabled, int authentic_data) {
  return (dnssec_ok ? 4u : 0u) | (checking_disabled ? 2u : 0u) | (dnssec_ok || authentic_data ? 1u : 0u);
}

/** The access list, as src/forward/acl.ts decides it: an IPv4-mapped IPv6 peer counts as IPv4. */
static int acl_allows(const answer_cache *c, const uint8_t *peer16, int family_v6) {
  const uint8_t *addr;
  uint8_t family = peer_unmapped(peer16, family_v6, &addr);
  for (unsigned i = 0; i < c->nacl; i++) {
    if (c->acl[i].family == family && peer_prefix_equal(c->acl[i].addr, addr, c->acl[i].prefix)) return 1;
  }
  return 0;
}

/**
 * Slot of (name, type_key) in `a`, or -1; the entry found in *found (a reader must use this pointer, not the
 * slot, which a writer may refill meanwhile). Safe for readers and writers.
 */
static long find(const slot_array *a, const uint8_t *name, unsigned name_len, uint32_t hash, uint32_t type_key,
                 const entry **found) {
  uint32_t i = home_slot(hash, a->mask);
  // Bounded: the load stays at most one half, so the run ends at an empty slot (a reader racing a writer
  // may see a run one entry longer, still bounded by the array).
  for (uint32_t k = 0; k <= a->mask; k++, i = (i + 1) & a->mask) {
    const entry *e = slot_get(a, i);
    if (e == NULL) break;
    if (e->hash == hash && e->type_key == type_key && e->name_len == name_len && memcmp(e->bytes, name, name_len) == 0) {
      *found = e;
      return (long)i;
    }
  }
  return -1;
}

static slot_array *table_of(answer_store *s) {
  return atomic_load_explicit(&s->table, memory_order_acquire);
}

/** Replaces the slot array by `a` (already filled) and retires the old one (not its entries). */
static void publish(answer_store *s, slot_array *a) {
  slot_array *old = table_of(s);
  atomic_store_explicit(&s->table, a, memory_order_release);
  epoch_retire(s->epoch, old, NULL, sizeof *old + (old->mask + 1) * sizeof old->slots[0]);
  s->cursor &= a->mask;
}

static void place(slot_array *a, entry *e) {
  uint32_t i = home_slot(e->hash, a->mask);
  while (slot_get(a, i) != NULL) i = (i + 1) & a->mask;
  slot_put(a, i, e);
}

static int grow(answer_store *s) {
  slot_array *old = table_of(s);
  slot_array *a = slots_new((old->mask + 1) * 2);
  if (a == NULL) return -1;
  for (uint32_t k = 0; k <= old->mask; k++) {
    entry *e = slot_get(old, k);
    if (e != NULL) place(a, e);
  }
  publish(s, a);
  return 0;
}

/** Unlinks the entry in `slot`, closes the gap without ever emptying a slot a run still needs, retires it. */
static void remove_at(answer_store *s, uint32_t slot) {
  slot_array *a = table_of(s);
  entry *gone = slot_get(a, slot);
  s->bytes -= entry_size(gone);
  atomic_fetch_sub_explicit(&s->count, 1, memory_order_relaxed);
  // Backward-shift deletion (Knuth 6.4, algorithm R): later entries of the run move up, no tombstones. The
  // hole is overwritten by the entry that moves into it, and only the last hole is emptied: a reader sees
  // an entry twice for a moment, or misses one (JavaScript then answers), never a wrong one.
  uint32_t hole = slot;
  for (uint32_t j = hole;;) {
    j = (j + 1) & a->mask;
    entry *e = slot_get(a, j);
    if (e == NULL) break;
    uint32_t home = home_slot(e->hash, a->mask);
    int stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    slot_put(a, hole, e);
    hole = j;
  }
  slot_put(a, hole, NULL);
  epoch_retire(s->epoch, gone, NULL, entry_size(gone));
}

/** Removes the first entry at or after the cursor (the table is not empty). */
static void evict_one(answer_store *s) {
  slot_array *a = table_of(s);
  while (slot_get(a, s->cursor) == NULL) s->cursor = (s->cursor + 1) & a->mask; // ends: count > 0
  remove_at(s, s->cursor); // an entry of the run may shift into the cursor's slot: it goes next
}

/** Frees the expired entries among the next `slots` slots from the cursor. */
static void sweep(answer_store *s, uint64_t now_ns, unsigned slots) {
  // Bounded by `slots`. A removal keeps the cursor where it is: the next entry of the run shifts into it.
  for (unsigned k = 0; k < slots && atomic_load_explicit(&s->count, memory_order_relaxed) > 0; k++) {
    slot_array *a = table_of(s);
    const entry *e = slot_get(a, s->cursor);
    if (e != NULL && e->deadline_ns != 0 && now_ns >= e->deadline_ns) remove_at(s, s->cursor);
    else s->cursor = (s->cursor + 1) & a->mask;
  }
}

static int insert(answer_store *s, entry *e) {
  size_t size = entry_size(e);
  const entry *old = NULL;
  long found = find(table_of(s), e->bytes, e->name_len, e->hash, e->type_key, &old);
  if (found >= 0) remove_at(s, (uint32_t)found); // a replacement is a removal and an insert
  if (size > s->max_bytes) {
    free(e); // larger than the whole table may be: JavaScript answers it
    return 0;
  }
  while (atomic_load_explicit(&s->count, memory_order_relaxed) > 0 &&
         (atomic_load_explicit(&s->count, memory_order_relaxed) + 1 > s->max_entries || s->bytes + size > s->max_bytes)) {
    evict_one(s);
  }
  uint32_t count = atomic_load_explicit(&s->count, memory_order_relaxed);
  if ((count + 1) * 2 > table_of(s)->mask + 1 && grow(s) < 0) {
    free(e);
    return -1;
  }
  place(table_of(s), e);
  atomic_store_explicit(&s->count, count + 1, memory_order_relaxed);
  s->bytes += size;
  return 0;
}

int answer_cache_set(answer_cache *c, const uint8_t *name, unsigned name_len, unsigned qtype, unsigned variant,
                     const uint8_t *answer, size_t answer_len, uint64_t deadline_ns, unsigned kind, uint64_t now_ns) {
  // A view without a reader slot (more views than EPOCH_MAX_READERS) could not delete its answers (the
  // owner mark is the slot): it sets none, so nothing it compiled can go stale in the table.
  if (c->slot < 0 && !c->forwarded) return 0;
  entry *e = malloc(sizeof *e + name_len + answer_len);
  if (e == NULL) return -1;
  e->hash = hash_name(name, name_len);
  e->type_key = (uint32_t)qtype | (uint32_t)variant << 16;
  e->deadline_ns = deadline_ns;
  e->name_len = (uint8_t)name_len;
  e->rcode = answer[3] & 0x0f;
  e->kind = kind < HIT_KINDS ? (uint8_t)kind : 255;
  e->owner = c->slot >= 0 ? (uint8_t)c->slot : NO_OWNER;
  e->answer_len = (uint32_t)answer_len;
  memcpy(e->bytes, name, name_len);
  memcpy(e->bytes + name_len, answer, answer_len);
  answer_store *s = c->store;
  store_lock(s);
  // Each insert frees what expired in the next few slots: a pass over the table at most every
  // (capacity + expired entries) / 8 inserts, so expired answers go even when their names are never asked again.
  sweep(s, now_ns, SWEEP_SLOTS_PER_SET);
  int r = insert(s, e);
  store_unlock(s);
  return r;
}

/** Whether view c may remove e: its owner, or anyone in a forwarded table (entries there depend on no name). */
static int may_remove(const answer_cache *c, const entry *e) {
  return c->forwarded || e->owner == c->slot;
}

int answer_cache_delete(answer_cache *c, const uint8_t *name, unsigned name_len, unsigned qtype, unsigned variant) {
  answer_store *s = c->store;
  store_lock(s);
  slot_array *a = table_of(s);
  const entry *e = NULL;
  long found = find(a, name, name_len, hash_name(name, name_len), (uint32_t)qtype | (uint32_t)variant << 16, &e);
  int removed = found >= 0 && may_remove(c, e);
  if (removed) remove_at(s, (uint32_t)found);
  store_unlock(s);
  return removed;
}

/** Rebuilds the slot array without the entries view c may remove (all of them for a forwarded view). */
static void clear_locked(answer_cache *c) {
  answer_store *s = c->store;
  slot_array *old = table_of(s);
  uint32_t count = atomic_load_explicit(&s->count, memory_order_relaxed);
  uint32_t capacity = INITIAL_CAPACITY;
  while (capacity < count * 2) capacity *= 2; // what stays still fits at load one half
  slot_array *a = slots_new(capacity);
  if (a == NULL) {
    // No memory for a new array: remove one by one instead (each removal is safe for readers).
    for (uint32_t i = 0; i <= old->mask;) {
      entry *e = slot_get(old, i);
      if (e != NULL && may_remove(c, e)) remove_at(s, i); // something may shift into i: look again
      else i++;
    }
    return;
  }
  for (uint32_t i = 0; i <= old->mask; i++) {
    entry *e = slot_get(old, i);
    if (e == NULL) continue;
    if (!may_remove(c, e)) {
      place(a, e);
      continue;
    }
    s->bytes -= entry_size(e);
    count--;
    epoch_retire(s->epoch, e, NULL, entry_size(e));
  }
  publish(s, a);
  atomic_store_explicit(&s->count, count, memory_order_relaxed);
}

void answer_cache_clear(answer_cache *c) {
  store_lock(c->store);
  clear_locked(c);
  store_unlock(c->store);
}

void answer_cache_free(answer_cache *c) {
  if (c == NULL) return;
  answer_store *s = c->store;
  pthread_mutex_lock(&registry_lock);
  store_lock(s);
  // Nothing would drop this view's answers when their names change: they go now.
  if (!c->forwarded && c->slot >= 0) clear_locked(c);
  if (s->negative_writer == c->slot && s->negative_writer >= 0) {
    // Nobody keeps the name sets current any more: C must not answer from them until a new feeder starts.
    s->negative_writer = -1;
    negative_table *t = atomic_load(&s->negative);
    if (t != NULL) {
      negative_clear(t);
      negative_write_abandon(t); // a batch its feeder left open ends here
    }
  }
  epoch_leave(s->epoch, c->slot);
  store_unlock(s);
  int last = --s->refs == 0;
  if (last && s->key[0] != '\0') {
    answer_store **link = &registry;
    while (*link != s) link = &(*link)->next;
    *link = s->next;
  }
  pthread_mutex_unlock(&registry_lock);
  if (last) store_free(s);
  free(c);
}

int answer_cache_claim_negative(answer_cache *c) {
  answer_store *s = c->store;
  if (c->forwarded || c->slot < 0) return 0;
  store_lock(s);
  if (s->negative_writer < 0) s->negative_writer = c->slot;
  int mine = s->negative_writer == c->slot;
  store_unlock(s);
  return mine;
}

negative_table *answer_cache_negative_begin(answer_cache *c) {
  answer_store *s = c->store;
  if (c->forwarded) return NULL;
  store_lock(s);
  negative_table *t = atomic_load_explicit(&s->negative, memory_order_relaxed);
  if (t == NULL && (t = negative_new(s->epoch)) != NULL) atomic_store_explicit(&s->negative, t, memory_order_release);
  if (t == NULL) store_unlock(s);
  else negative_write_begin(t);
  return t;
}

void answer_cache_negative_end(answer_cache *c) {
  negative_write_end(atomic_load_explicit(&c->store->negative, memory_order_relaxed));
  store_unlock(c->store);
}

int answer_cache_negative_batch(answer_cache *c, int open) {
  negative_table *t = answer_cache_negative_begin(c);
  if (t == NULL) return -1;
  if (open) negative_write_begin(t); // stays open after the unlock below, until the call that closes it
  else negative_write_end(t);
  answer_cache_negative_end(c);
  return 0;
}

answer_cache_stats answer_cache_stats_of(answer_cache *c) {
  answer_store *s = c->store;
  answer_cache_stats st;
  pthread_mutex_lock(&registry_lock); // refs
  st.views = s->refs;
  pthread_mutex_unlock(&registry_lock);
  store_lock(s);
  slot_array *a = table_of(s);
  st.entries = atomic_load_explicit(&s->count, memory_order_relaxed);
  st.bytes = s->bytes + (size_t)(a->mask + 1) * sizeof a->slots[0] + epoch_retired_bytes(s->epoch);
  st.shared = s->key[0] != '\0';
  st.primary = epoch_first_reader(s->epoch) == c->slot;
  negative_table *t = atomic_load_explicit(&s->negative, memory_order_relaxed);
  st.negative_names = t == NULL ? 0 : negative_names(t);
  st.negative_zones = t == NULL ? 0 : negative_zones(t);
  st.negative_bytes = t == NULL ? 0 : negative_bytes(t);
  store_unlock(s);
  return st;
}

void answer_cache_set_counters(answer_cache *c, const counter_plan *plan) {
  c->counters = *plan;
}

counter_plan *answer_cache_counters(answer_cache *c) {
  return &c->counters;
}

int answer_cache_read_begin(answer_cache *c) {
  return epoch_enter(c->store->epoch, c->slot);
}

void answer_cache_read_end(answer_cache *c) {
  epoch_exit(c->store->epoch, c->slot);
}

/** Whether the EDNS options in q[p..end) are (code, length, data) triples that fill it exactly. */
static int options_well_formed(const uint8_t *q, size_t p, size_t end) {
  while (p < end) {
    if (p + 4 > end) return 0;
    p += 4 + (size_t)((q[p + 2] << 8) | q[p + 3]);
  }
  return p == end;
}

static void count_answer(counter_plan *k, unsigned qtype, int family_v6, unsigned rcode) {
  if (k->f == NULL) return;
  unsigned bucket = qtype < k->type_table ? k->type_bucket[qtype] : k->ntypes - 1;
  k->f[k->req_off + (unsigned)family_v6 * k->ntypes + bucket] += 1; // proto UDP is 0
  k->f[k->resp_off + rcode] += 1;
}

size_t answer_cache_answer_udp(answer_cache *c, const uint8_t *q, size_t len, uint8_t *out, size_t out_cap, int family_v6,
                               const uint8_t *peer16, uint64_t now_ns) {
  answer_store *s = c->store;
  negative_table *negative = atomic_load_explicit(&s->negative, memory_order_acquire);
  if ((atomic_load_explicit(&s->count, memory_order_relaxed) == 0 && negative == NULL) || len < HEADER + 5) return 0;
  // A standard query (QR 0, opcode QUERY), one question, nothing else but perhaps one OPT.
  if ((q[2] & 0xf8) != 0 || q[4] != 0 || q[5] != 1 || (q[6] | q[7] | q[8] | q[9] | q[10]) != 0 || q[11] > 1) return 0;
  uint8_t name[MAX_NAME];
  unsigned n = 0;
  uint32_t hash = 0x811c9dc5u;
  size_t pos = HEADER;
  // Bounded: every turn consumes a label and n is capped at MAX_NAME. No compression in a question.
  for (;;) {
    if (pos >= len) return 0;
    unsigned label = q[pos];
    if (label > MAX_LABEL || n + label + 1 > MAX_NAME || pos + 1 + label > len) return 0;
    for (size_t p = pos, end = pos + 1 + label; p < end; p++) {
      uint8_t ch = q[p];
      if (ch >= 'A' && ch <= 'Z') ch += 0x20;
      name[n++] = ch;
      hash = fnv1a_step(hash, ch);
    }
    pos += 1 + label;
    if (label == 0) break;
  }
  if (pos + 4 > len) return 0;
  unsigned qtype = (unsigned)((q[pos] << 8) | q[pos + 1]);
  if (q[pos + 2] != 0 || q[pos + 3] != 1) return 0; // class IN only
  pos += 4;
  int has_opt = 0;
  unsigned limit = MIN_UDP;
  uint8_t do_bit = 0;
  if (q[11] == 1) {
    // The OPT: root owner, EDNS version 0, well-formed options, the last bytes of the message.
    if (pos + OPT_SIZE > len || q[pos] != 0 || q[pos + 1] != 0 || q[pos + 2] != TYPE_OPT || q[pos + 6] != 0) return 0;
    size_t rd = pos + OPT_SIZE;
    if (rd + (size_t)((q[pos + 9] << 8) | q[pos + 10]) != len || !options_well_formed(q, rd, len)) return 0;
    unsigned udp = (unsigned)((q[pos + 3] << 8) | q[pos + 4]);
    has_opt = 1;
    limit = udp < MIN_UDP ? MIN_UDP : udp;
    if (limit > c->max_udp) limit = c->max_udp;
    do_bit = q[pos + 7] & 0x80;
  } else if (pos != len) {
    return 0;
  }
  uint32_t type_key = qtype;
  if (c->forwarded) type_key |= answer_cache_variant(do_bit != 0, (q[3] & 0x10) != 0, (q[3] & 0x20) != 0) << 16;
  size_t room = has_opt ? (limit > OPT_SIZE ? limit - OPT_SIZE : 0) : limit;
  if (room + OPT_SIZE > out_cap) room = out_cap > OPT_SIZE ? out_cap - OPT_SIZE : 0;
  size_t m;
  unsigned rcode;
  const entry *e = NULL;
  const slot_array *a = table_of(s);
  if (find(a, name, n, hash, type_key, &e) >= 0) {
    // Expired: JavaScript answers, and installs the next one if it may (a reader never writes; the sweep frees it).
    if (e->deadline_ns != 0 && now_ns >= e->deadline_ns) return 0;
    if (c->forwarded && !acl_allows(c, peer16, family_v6)) return 0; // refused, in JavaScript
    m = e->answer_len;
    if (m > room) return 0; // truncation is JavaScript's job
    memcpy(out, e->bytes + n, m);
    rcode = e->rcode;
  } else if (negative == NULL || (m = negative_answer(negative, name, n, qtype, out, room, &rcode)) == 0) {
    return 0;
  }
  out[0] = q[0];
  out[1] = q[1];
  out[2] |= q[2] & 0x01;             // RD is the client's
  out[3] |= (q[3] & 0x10) | c->ra; // CD too; RA is ours
  memcpy(out + HEADER, q + HEADER, n); // the client's spelling of the name
  if (has_opt) {
    uint8_t *o = out + m;
    o[0] = 0;
    o[1] = 0;
    o[2] = TYPE_OPT;
    o[3] = (uint8_t)(c->opt_udp >> 8);
    o[4] = (uint8_t)c->opt_udp;
    o[5] = 0; // extended rcode
    o[6] = 0; // version
    o[7] = do_bit; // echo DO (RFC 3225), clear the rest
    o[8] = 0;
    o[9] = 0;
    o[10] = 0;
    unsigned ar = (unsigned)((out[10] << 8) | out[11]) + 1;
    out[10] = (uint8_t)(ar >> 8);
    out[11] = (uint8_t)ar;
    m += OPT_SIZE;
  }
  count_answer(&c->counters, qtype, family_v6, rcode);
  if (c->hit_counts != NULL && e != NULL && e->kind < HIT_KINDS) c->hit_counts[e->kind] += 1;
  return m;
}

void answer_cache_count_duration(answer_cache *c, unsigned answered, uint64_t nanos) {
  counter_plan *k = &c->counters;
  if (k->f == NULL || answered == 0) return;
  // Like the JS path: the batch's cost per query, in whole microseconds, decides the bucket.
  int64_t micros = (int64_t)((nanos / answered + 500) / 1000);
  unsigned b = 0;
  while (b < k->nbounds && micros > k->bounds_us[b]) b++;
  k->f[k->dur_off + b] += answered;
  k->f[k->dur_sum] += (double)nanos * 1e-9;
}

void answer_cache_count_send_drops(answer_cache *c, unsigned dropped) {
  counter_plan *k = &c->counters;
  if (k->f != NULL) k->f[k->drop_send] += dropped;
}
