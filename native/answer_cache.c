// The native answer cache. The responder (src/server/responder.ts) compiles every answer it serves into a
// template once and keeps it in its AnswerTable; this is a copy of that table in C memory, kept in step by
// the responder (set on compile, delete when a name the answer depended on changes, clear on any wholesale
// invalidation). The UDP batch engine asks it first: a plain query whose answer is here is copied, patched
// (ID, RD, CD, RA, the client's spelling of the name, our OPT) and counted without a JavaScript call.
// Anything else (a miss, a message that needs truncation, an unusual query, a forwarded name) is left to
// JavaScript untouched, so this file only has to be right about the common case, and exactly as strict.

#include "answer_cache.h"
#include "peer.h"
#include "negative.h"

#include <stdlib.h>
#include <string.h>

#define HEADER 12
#define MAX_NAME 255
#define MAX_LABEL 63
#define TYPE_OPT 41
#define OPT_SIZE 11
#define MIN_UDP 512
#define INITIAL_CAPACITY 64 // power of two

typedef struct entry {
  uint32_t hash;
  uint32_t type_key; // qtype | variant << 16
  uint64_t deadline_ns; // 0: never expires
  uint8_t name_len;
  uint8_t rcode;
  uint8_t kind; // hit counter, or 255
  uint32_t answer_len;
  uint8_t bytes[]; // name_len bytes of lower-case wire name, then the answer template
} entry;

struct answer_cache {
  entry **slots; // open addressing, linear probing; NULL = empty
  uint32_t mask;
  uint32_t count;
  size_t bytes;
  uint8_t ra; // 0x80 when the responder sets RA (it forwards), else 0
  unsigned max_udp;  // the client's EDNS size is clamped to this
  unsigned opt_udp;  // and this goes in our OPT
  counter_plan counters;
  // Hard bounds (answer_cache_set_limits): an insert past either evicts at the sweep cursor first.
  uint32_t max_entries;
  size_t max_bytes; // names + templates, as answer_cache_bytes counts them (without the slot array)
  uint32_t cursor;  // next slot the sweep looks at; eviction takes the first entry from here
  // Forwarded answers only (answer_cache_make_forwarded):
  int forwarded;
  acl_rule acl[ACL_MAX];
  unsigned nacl;
  double *hit_counts;
  // Authoritative answers only: negative answers synthesized from the zones' name sets (negative.c).
  negative_table *negative;
};

static void remove_at(answer_cache *c, uint32_t slot);
static void evict_one(answer_cache *c);

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

answer_cache *answer_cache_new(int recursion_available, unsigned max_udp_payload) {
  answer_cache *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->slots = calloc(INITIAL_CAPACITY, sizeof *c->slots);
  if (c->slots == NULL) {
    free(c);
    return NULL;
  }
  c->mask = INITIAL_CAPACITY - 1;
  c->ra = recursion_available ? 0x80 : 0;
  c->max_udp = max_udp_payload;
  c->opt_udp = max_udp_payload;
  c->max_entries = ANSWER_CACHE_DEFAULT_ENTRIES;
  c->max_bytes = ANSWER_CACHE_DEFAULT_BYTES;
  return c;
}

void answer_cache_set_limits(answer_cache *c, uint32_t max_entries, size_t max_bytes) {
  c->max_entries = max_entries > 0 ? max_entries : 1;
  c->max_bytes = max_bytes;
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

static void free_entries(answer_cache *c) {
  for (uint32_t i = 0; i <= c->mask; i++) free(c->slots[i]);
  c->count = 0;
  c->bytes = 0;
}

void answer_cache_free(answer_cache *c) {
  if (c == NULL) return;
  negative_free(c->negative);
  free_entries(c);
  free(c->slots);
  free(c);
}

/** Slot of (name, type_key), or -1. */
static long find(const answer_cache *c, const uint8_t *name, unsigned name_len, uint32_t hash, uint32_t type_key) {
  uint32_t i = home_slot(hash, c->mask);
  // Bounded: the load stays at most one half, so the run ends at an empty slot.
  for (entry *e; (e = c->slots[i]) != NULL; i = (i + 1) & c->mask) {
    if (e->hash == hash && e->type_key == type_key && e->name_len == name_len && memcmp(e->bytes, name, name_len) == 0) {
      return (long)i;
    }
  }
  return -1;
}

static int grow(answer_cache *c) {
  uint32_t capacity = (c->mask + 1) * 2;
  entry **slots = calloc(capacity, sizeof *slots);
  if (slots == NULL) return -1;
  for (uint32_t k = 0; k <= c->mask; k++) {
    entry *e = c->slots[k];
    if (e == NULL) continue;
    uint32_t i = home_slot(e->hash, capacity - 1);
    while (slots[i] != NULL) i = (i + 1) & (capacity - 1);
    slots[i] = e;
  }
  free(c->slots);
  c->slots = slots;
  c->mask = capacity - 1;
  c->cursor &= c->mask;
  return 0;
}

int answer_cache_set(answer_cache *c, const uint8_t *name, unsigned name_len, unsigned qtype, unsigned variant,
                     const uint8_t *answer, size_t answer_len, uint64_t deadline_ns, unsigned kind) {
  entry *e = malloc(sizeof *e + name_len + answer_len);
  if (e == NULL) return -1;
  e->hash = hash_name(name, name_len);
  e->type_key = (uint32_t)qtype | (uint32_t)variant << 16;
  e->deadline_ns = deadline_ns;
  e->name_len = (uint8_t)name_len;
  e->rcode = answer[3] & 0x0f;
  e->kind = kind < HIT_KINDS ? (uint8_t)kind : 255;
  e->answer_len = (uint32_t)answer_len;
  memcpy(e->bytes, name, name_len);
  memcpy(e->bytes + name_len, answer, answer_len);
  long found = find(c, name, name_len, e->hash, e->type_key);
  if (found >= 0) remove_at(c, (uint32_t)found); // a replacement is a removal and an insert
  size_t size = name_len + answer_len;
  if (size > c->max_bytes) {
    free(e); // larger than the whole table may be: JavaScript answers it
    return 0;
  }
  while (c->count > 0 && (c->count + 1 > c->max_entries || c->bytes + size > c->max_bytes)) evict_one(c);
  if ((c->count + 1) * 2 > c->mask + 1 && grow(c) < 0) {
    free(e);
    return -1;
  }
  uint32_t i = home_slot(e->hash, c->mask);
  while (c->slots[i] != NULL) i = (i + 1) & c->mask;
  c->slots[i] = e;
  c->count++;
  c->bytes += size;
  return 0;
}

/** Removes the first entry at or after the cursor (the table is not empty). */
static void evict_one(answer_cache *c) {
  while (c->slots[c->cursor] == NULL) c->cursor = (c->cursor + 1) & c->mask; // ends: count > 0
  remove_at(c, c->cursor); // an entry of the run may shift into the cursor's slot: it goes next
}

void answer_cache_sweep(answer_cache *c, uint64_t now_ns, unsigned slots) {
  // Bounded by `slots`. A removal keeps the cursor where it is: the next entry of the run shifts into it.
  for (unsigned k = 0; k < slots && c->count > 0; k++) {
    const entry *e = c->slots[c->cursor];
    if (e != NULL && e->deadline_ns != 0 && now_ns >= e->deadline_ns) remove_at(c, c->cursor);
    else c->cursor = (c->cursor + 1) & c->mask;
  }
}

/** Frees the entry in `slot` and closes the gap. */
static void remove_at(answer_cache *c, uint32_t slot) {
  uint32_t hole = slot;
  c->bytes -= c->slots[hole]->name_len + c->slots[hole]->answer_len;
  free(c->slots[hole]);
  c->count--;
  // Backward-shift deletion (Knuth 6.4, algorithm R): later entries of the run move up, no tombstones.
  for (uint32_t j = hole;;) {
    j = (j + 1) & c->mask;
    entry *e = c->slots[j];
    if (e == NULL) break;
    uint32_t home = home_slot(e->hash, c->mask);
    int stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    c->slots[hole] = e;
    hole = j;
  }
  c->slots[hole] = NULL;
}

int answer_cache_delete(answer_cache *c, const uint8_t *name, unsigned name_len, unsigned qtype, unsigned variant) {
  long found = find(c, name, name_len, hash_name(name, name_len), (uint32_t)qtype | (uint32_t)variant << 16);
  if (found < 0) return 0;
  remove_at(c, (uint32_t)found);
  return 1;
}

void answer_cache_clear(answer_cache *c) {
  free_entries(c);
  memset(c->slots, 0, (size_t)(c->mask + 1) * sizeof *c->slots);
}

negative_table *answer_cache_negative(answer_cache *c) {
  if (c->negative == NULL && !c->forwarded) c->negative = negative_new();
  return c->negative;
}

size_t answer_cache_count(const answer_cache *c) {
  return c->count;
}

size_t answer_cache_bytes(const answer_cache *c) {
  return c->bytes + (size_t)(c->mask + 1) * sizeof *c->slots;
}

void answer_cache_set_counters(answer_cache *c, const counter_plan *plan) {
  c->counters = *plan;
}

counter_plan *answer_cache_counters(answer_cache *c) {
  return &c->counters;
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
  if ((c->count == 0 && c->negative == NULL) || len < HEADER + 5) return 0;
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
  long slot = find(c, name, n, hash, type_key);
  if (slot >= 0) {
    e = c->slots[slot];
    if (e->deadline_ns != 0 && now_ns >= e->deadline_ns) {
      remove_at(c, (uint32_t)slot); // JavaScript answers, and installs the next one if it may
      return 0;
    }
    if (c->forwarded && !acl_allows(c, peer16, family_v6)) return 0; // refused, in JavaScript
    m = e->answer_len;
    if (m > room) return 0; // truncation is JavaScript's job
    memcpy(out, e->bytes + n, m);
    rcode = e->rcode;
  } else if (c->negative == NULL || (m = negative_answer(c->negative, name, n, qtype, out, room, &rcode)) == 0) {
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
