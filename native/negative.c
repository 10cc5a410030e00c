// Negative answers in C. The responder (src/server/negative-feed.ts) tells this table, once per process, which
// names exist in the zones kdns serves and which ones C must leave alone, and gives each zone its negative
// answer templates (compiled by JavaScript, so the bytes are the responder's own). A query for a name below
// an apex, with no barrier between, that is not in the set is NXDOMAIN; an existing name whose types are
// known and lack the asked one (and a CNAME) is NODATA. Anything else is left to JavaScript.
//
// Why the answer equals JavaScript's: the template is the message the compiler writes for the apex as
// qname. For a longer qname the compiler writes the same SOA, its names compressed against the same
// suffixes one label-run further on, so every pointer moves by the difference in name length; the only
// exception is an SOA name that shares the qname's label left of the apex (it would then compress into the
// longer name): those `conflict` labels go to JavaScript.

#include "negative.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define HEADER 12
#define TYPE_SOA 6
#define TYPE_CNAME 5
#define TYPE_DS 43
#define TYPE_OPT 41
#define MAX_POINTERS 3 // owner, MNAME and RNAME of the one SOA
#define MAX_CONFLICTS 2
#define INITIAL_BUCKETS 64 // power of two

// Shared by every worker thread of the process (answer_cache.c's store): readers walk it without a lock
// while one writer at a time (holding the store's mutex) changes it. What a reader can reach is never
// changed in place: a name record is written whole before it is linked (release), a replaced or removed one
// is unlinked and handed to the epoch domain, which frees it once no reader can hold it (epoch.c). Growing
// and clearing build a new bucket array (new records) and publish it with one pointer store; zones likewise.

typedef struct neg_name {
  _Atomic(struct neg_name *) next; // chained: removal needs no rehash
  uint32_t hash;
  uint8_t name_len;
  uint8_t flags;
  uint8_t ntypes;
  uint8_t bytes[]; // ntypes big-endian qtypes, then the lower-case wire name
} neg_name;

typedef struct neg_buckets {
  uint32_t mask;
  _Atomic(neg_name *) heads[];
} neg_buckets;

typedef struct neg_template {
  const uint8_t *bytes; // the whole message for the apex as qname (in the zone's allocation)
  size_t len;
  size_t tail; // offset of the authority section
  uint16_t pointers[MAX_POINTERS]; // offsets of its compression pointers
  unsigned npointers;
} neg_template;

typedef struct neg_zone { // immutable once published; its templates follow it in the same allocation
  uint8_t apex[255];
  unsigned apex_len;
  int usable;
  neg_template templates[NEG_TEMPLATES];
  uint8_t conflicts[MAX_CONFLICTS][64];
  unsigned nconflicts;
  size_t size;
} neg_zone;

typedef struct neg_zones { // immutable once published
  unsigned n;
  neg_zone *z[];
} neg_zones;

struct negative_table {
  // A seqlock over batches of changes (negative_write_begin/end): odd while one is open. A reader that sees
  // it odd, or changed by the time its answer is written, answers nothing (JavaScript does): a batch is one
  // change of the zones (a name and its parent, a whole reset), never seen half applied.
  _Atomic uint32_t seq;
  unsigned depth; // open batches (writer only)
  _Atomic(neg_buckets *) names;
  _Atomic(neg_zones *) zones;
  _Atomic size_t count; // readers look at it to skip the walk of an empty table
  size_t bytes;      // names' records (writer only)
  size_t zone_bytes; // zones and templates (writer only)
  epoch_domain *epoch;
};

static uint32_t name_hash(const uint8_t *name, unsigned len) {
  uint32_t h = 0x811c9dc5u; // FNV-1a, then a finaliser so similar names spread over the low bits
  for (unsigned i = 0; i < len; i++) h = (h ^ name[i]) * 0x01000193u;
  h ^= h >> 15;
  h *= 0x2c1b3c6du;
  h ^= h >> 12;
  return h;
}

static neg_buckets *buckets_new(uint32_t capacity) {
  neg_buckets *b = calloc(1, sizeof *b + capacity * sizeof b->heads[0]);
  if (b != NULL) b->mask = capacity - 1;
  return b;
}

/** Frees a bucket array and every record chained in it (unpublished, or retired: no reader left). */
static void buckets_free_deep(void *p) {
  neg_buckets *b = p;
  for (uint32_t i = 0; i <= b->mask; i++) {
    for (neg_name *e = atomic_load_explicit(&b->heads[i], memory_order_relaxed), *next; e != NULL; e = next) {
      next = atomic_load_explicit(&e->next, memory_order_relaxed);
      free(e);
    }
  }
  free(b);
}

static void zones_free_deep(void *p) {
  neg_zones *zs = p;
  for (unsigned i = 0; i < zs->n; i++) free(zs->z[i]);
  free(zs);
}

negative_table *negative_new(epoch_domain *epoch) {
  negative_table *t = calloc(1, sizeof *t);
  neg_buckets *b = buckets_new(INITIAL_BUCKETS);
  neg_zones *zs = calloc(1, sizeof *zs);
  if (t == NULL || b == NULL || zs == NULL) {
    free(t);
    free(b);
    free(zs);
    return NULL;
  }
  atomic_init(&t->names, b);
  atomic_init(&t->zones, zs);
  t->epoch = epoch;
  return t;
}

void negative_clear(negative_table *t) {
  neg_buckets *b = buckets_new(INITIAL_BUCKETS);
  neg_zones *zs = calloc(1, sizeof *zs);
  if (b == NULL || zs == NULL) {
    free(b);
    free(zs);
    return; // out of memory: the old sets stay (still a state JavaScript sent)
  }
  neg_buckets *old = atomic_exchange(&t->names, b);
  neg_zones *old_zones = atomic_exchange(&t->zones, zs);
  epoch_retire(t->epoch, old, buckets_free_deep, t->bytes);
  epoch_retire(t->epoch, old_zones, zones_free_deep, t->zone_bytes);
  atomic_store_explicit(&t->count, 0, memory_order_relaxed);
  t->bytes = 0;
  t->zone_bytes = 0;
}

void negative_free(negative_table *t) {
  if (t == NULL) return;
  buckets_free_deep(atomic_load(&t->names));
  zones_free_deep(atomic_load(&t->zones));
  free(t);
}

static _Atomic(neg_name *) *find_link_from(_Atomic(neg_name *) *link, const uint8_t *name, unsigned len, uint32_t hash) {
  for (neg_name *e; (e = atomic_load_explicit(link, memory_order_acquire)) != NULL; link = &e->next) {
    if (e->hash == hash && e->name_len == len && memcmp(e->bytes + 2 * e->ntypes, name, len) == 0) return link;
  }
  return link;
}

static _Atomic(neg_name *) *find_link(neg_buckets *b, const uint8_t *name, unsigned len, uint32_t hash) {
  return find_link_from(&b->heads[hash & b->mask], name, len, hash);
}

void negative_write_begin(negative_table *t) {
  if (t->depth++ > 0) return;
  atomic_store_explicit(&t->seq, atomic_load_explicit(&t->seq, memory_order_relaxed) + 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_release); // odd before any change is visible
}

void negative_write_end(negative_table *t) {
  if (t->depth == 0 || --t->depth > 0) return;
  atomic_store_explicit(&t->seq, atomic_load_explicit(&t->seq, memory_order_relaxed) + 1, memory_order_release);
}

void negative_write_abandon(negative_table *t) {
  if (t->depth == 0) return;
  t->depth = 1;
  negative_write_end(t);
}

static const neg_name *find_name(neg_buckets *b, const uint8_t *name, unsigned len) {
  return atomic_load_explicit(find_link(b, name, len, name_hash(name, len)), memory_order_acquire);
}

static size_t record_size(unsigned name_len, unsigned ntypes) {
  return sizeof(neg_name) + 2 * ntypes + name_len;
}

/** Unlinks the record `link` points at, if any (a reader past it still finds its successor), and retires it. */
static void unlink_at(negative_table *t, _Atomic(neg_name *) *link, size_t *count) {
  neg_name *old = atomic_load_explicit(link, memory_order_relaxed);
  if (old == NULL) return;
  atomic_store_explicit(link, atomic_load_explicit(&old->next, memory_order_relaxed), memory_order_release);
  size_t size = record_size(old->name_len, old->ntypes);
  t->bytes -= size;
  (*count)--;
  epoch_retire(t->epoch, old, NULL, size);
}

/** A copy of every record in a table twice as large, published in one store; the old one is retired. */
static void grow(negative_table *t) {
  neg_buckets *old = atomic_load_explicit(&t->names, memory_order_relaxed);
  uint32_t capacity = (old->mask + 1) * 2;
  neg_buckets *b = buckets_new(capacity);
  if (b == NULL) return; // longer chains, still correct
  for (uint32_t i = 0; i <= old->mask; i++) {
    for (neg_name *e = atomic_load_explicit(&old->heads[i], memory_order_relaxed); e != NULL;
         e = atomic_load_explicit(&e->next, memory_order_relaxed)) {
      size_t size = record_size(e->name_len, e->ntypes);
      neg_name *copy = malloc(size);
      if (copy == NULL) {
        buckets_free_deep(b);
        return;
      }
      memcpy(copy, e, size);
      _Atomic(neg_name *) *head = &b->heads[e->hash & (capacity - 1)];
      atomic_init(&copy->next, atomic_load_explicit(head, memory_order_relaxed));
      atomic_init(head, copy);
    }
  }
  atomic_store_explicit(&t->names, b, memory_order_release);
  epoch_retire(t->epoch, old, buckets_free_deep, t->bytes);
}

int negative_set_name(negative_table *t, const uint8_t *name, unsigned name_len, unsigned flags, const uint16_t *types,
                      unsigned ntypes) {
  if (ntypes > NEG_MAX_TYPES) {
    ntypes = 0;
    flags |= NEG_TYPES_UNKNOWN;
  }
  size_t count = atomic_load_explicit(&t->count, memory_order_relaxed);
  neg_buckets *b = atomic_load_explicit(&t->names, memory_order_relaxed);
  if (flags != 0 && count + 1 > (size_t)b->mask + 1) {
    grow(t);
    b = atomic_load_explicit(&t->names, memory_order_relaxed);
  }
  uint32_t hash = name_hash(name, name_len);
  if (flags != 0) {
    // The new record goes in first, at the head, so a reader finds the name at every moment: a replacement
    // is never seen as a removal (that would be a wrong NXDOMAIN).
    neg_name *e = malloc(record_size(name_len, ntypes));
    if (e == NULL) return -1;
    e->hash = hash;
    e->name_len = (uint8_t)name_len;
    e->flags = (uint8_t)flags;
    e->ntypes = (uint8_t)ntypes;
    for (unsigned i = 0; i < ntypes; i++) {
      e->bytes[2 * i] = (uint8_t)(types[i] >> 8);
      e->bytes[2 * i + 1] = (uint8_t)types[i];
    }
    memcpy(e->bytes + 2 * ntypes, name, name_len);
    _Atomic(neg_name *) *head = &b->heads[hash & b->mask];
    atomic_init(&e->next, atomic_load_explicit(head, memory_order_relaxed));
    atomic_store_explicit(head, e, memory_order_release);
    count++;
    t->bytes += record_size(name_len, ntypes);
    // The old record, if any, is further down the chain: look from the new one's successor.
    _Atomic(neg_name *) *link = find_link_from(&e->next, name, name_len, hash);
    unlink_at(t, link, &count);
  } else {
    unlink_at(t, find_link(b, name, name_len, hash), &count);
  }
  atomic_store_explicit(&t->count, count, memory_order_relaxed);
  return 0;
}

/** Walks the name at msg[pos..len); records where it ends in a pointer. Returns the offset after it, or 0. */
static size_t walk_name(const uint8_t *msg, size_t pos, size_t len, neg_template *tp) {
  for (;;) {
    if (pos >= len) return 0;
    unsigned b = msg[pos];
    if (b == 0) return pos + 1;
    if ((b & 0xc0) == 0xc0) {
      if (pos + 1 >= len || tp->npointers == MAX_POINTERS) return 0;
      unsigned target = ((b & 0x3f) << 8) | msg[pos + 1];
      if (target < HEADER || target >= pos) return 0;
      tp->pointers[tp->npointers++] = (uint16_t)pos;
      return pos + 2;
    }
    if (b > 63) return 0;
    pos += 1 + b;
  }
}

/** Checks that `msg` is header + the apex question + one SOA in authority, and finds its pointers. */
static int parse_template(neg_template *tp, const uint8_t *msg, size_t len, unsigned apex_len) {
  size_t pos = HEADER + apex_len + 4;
  if (len < pos || msg[4] != 0 || msg[5] != 1 || (msg[6] | msg[7] | msg[10] | msg[11]) != 0 || msg[8] != 0 || msg[9] != 1) {
    return 0;
  }
  tp->tail = pos;
  tp->npointers = 0;
  pos = walk_name(msg, pos, len, tp);
  if (pos == 0 || pos + 10 > len || msg[pos] != 0 || msg[pos + 1] != TYPE_SOA) return 0;
  size_t rd_end = pos + 10 + (size_t)((msg[pos + 8] << 8) | msg[pos + 9]);
  pos = walk_name(msg, pos + 10, len, tp);
  if (pos != 0) pos = walk_name(msg, pos, len, tp);
  return pos != 0 && pos + 20 == rd_end && rd_end == len;
}

static int zone_index(const neg_zones *zs, const uint8_t *apex, unsigned apex_len) {
  for (unsigned z = 0; z < zs->n; z++) {
    if (zs->z[z]->apex_len == apex_len && memcmp(zs->z[z]->apex, apex, apex_len) == 0) return (int)z;
  }
  return -1;
}

/** A new zone record with copies of its templates in the same allocation. */
static neg_zone *zone_new(const uint8_t *apex, unsigned apex_len, const uint8_t *const templates[NEG_TEMPLATES],
                          const size_t template_lens[NEG_TEMPLATES], const uint8_t *conflicts, size_t conflicts_len) {
  size_t size = sizeof(neg_zone);
  for (int k = 0; templates != NULL && k < NEG_TEMPLATES; k++) size += template_lens[k];
  neg_zone *z = calloc(1, size);
  if (z == NULL) return NULL;
  z->size = size;
  memcpy(z->apex, apex, apex_len);
  z->apex_len = apex_len;
  z->usable = templates != NULL;
  uint8_t *at = (uint8_t *)(z + 1);
  for (int k = 0; z->usable && k < NEG_TEMPLATES; k++) {
    neg_template *tp = &z->templates[k];
    memcpy(at, templates[k], template_lens[k]);
    tp->bytes = at;
    tp->len = template_lens[k];
    at += template_lens[k];
    if (!parse_template(tp, tp->bytes, tp->len, apex_len)) z->usable = 0;
  }
  for (size_t p = 0; p < conflicts_len && z->nconflicts < MAX_CONFLICTS;) {
    unsigned l = conflicts[p];
    if (l == 0 || l > 63 || p + 1 + l > conflicts_len) {
      z->usable = 0; // we could not tell when compression differs
      break;
    }
    memcpy(z->conflicts[z->nconflicts++], conflicts + p, 1 + l);
    p += 1 + l;
  }
  return z;
}

int negative_set_zone(negative_table *t, const uint8_t *apex, unsigned apex_len, const uint8_t *const templates[NEG_TEMPLATES],
                      const size_t template_lens[NEG_TEMPLATES], const uint8_t *conflicts, size_t conflicts_len) {
  neg_zones *old = atomic_load_explicit(&t->zones, memory_order_relaxed);
  int at = zone_index(old, apex, apex_len);
  unsigned n = at >= 0 ? old->n : old->n + 1;
  neg_zone *z = zone_new(apex, apex_len, templates, template_lens, conflicts, conflicts_len);
  neg_zones *zs = malloc(sizeof *zs + n * sizeof zs->z[0]);
  if (z == NULL || zs == NULL) {
    free(z);
    free(zs);
    return -1;
  }
  zs->n = n;
  memcpy(zs->z, old->z, old->n * sizeof old->z[0]);
  neg_zone *replaced = at >= 0 ? old->z[at] : NULL;
  zs->z[at >= 0 ? (unsigned)at : old->n] = z;
  atomic_store_explicit(&t->zones, zs, memory_order_release);
  // The old array goes, and the zone it replaced; the others live on in the new array.
  epoch_retire(t->epoch, old, NULL, sizeof *old + old->n * sizeof old->z[0]);
  t->zone_bytes += z->size + sizeof zs->z[0] * (at >= 0 ? 0 : 1);
  if (replaced != NULL) {
    t->zone_bytes -= replaced->size;
    epoch_retire(t->epoch, replaced, NULL, replaced->size);
  }
  return 0;
}

size_t negative_names(const negative_table *t) {
  return atomic_load_explicit(&t->count, memory_order_relaxed);
}

size_t negative_zones(const negative_table *t) {
  return atomic_load_explicit(&t->zones, memory_order_relaxed)->n;
}

size_t negative_bytes(const negative_table *t) {
  neg_buckets *b = atomic_load_explicit(&t->names, memory_order_relaxed);
  return t->bytes + (size_t)(b->mask + 1) * sizeof b->heads[0] + t->zone_bytes;
}

static int has_type(const neg_name *e, unsigned qtype) {
  for (unsigned i = 0; i < e->ntypes; i++) {
    if ((unsigned)((e->bytes[2 * i] << 8) | e->bytes[2 * i + 1]) == qtype) return 1;
  }
  return 0;
}

/** NODATA may come from C: an existing zone name, types known, none of them the asked type or a CNAME. */
static int nodata_in_c(const neg_name *e, unsigned qtype, int at_apex) {
  if ((e->flags & (NEG_LOCAL | NEG_TYPES_UNKNOWN)) != 0) return 0;
  if (qtype == 255) return 0; // ANY picks an RRset
  if (at_apex && qtype == TYPE_DS) return 0; // a parent zone we serve may answer it
  return !has_type(e, qtype) && !has_type(e, TYPE_CNAME);
}

static size_t answer_unchecked(const negative_table *t, const uint8_t *name, unsigned n, unsigned qtype, uint8_t *out, size_t room,
                               unsigned *rcode) {
  // Refused, FORMERR or NOTIMP before any lookup (AXFR, IXFR, OPT, meta types): JavaScript's.
  if (atomic_load_explicit(&t->count, memory_order_relaxed) == 0 || qtype == TYPE_OPT || (qtype >= 128 && qtype < 255)) return 0;
  neg_buckets *names = atomic_load_explicit(&t->names, memory_order_acquire);
  const neg_zones *zones = atomic_load_explicit(&t->zones, memory_order_acquire);
  const neg_name *self = NULL;
  const neg_zone *z = NULL;
  size_t off = 0, left = 0; // the suffix being looked at, and the label just left of it
  // Bounded: each turn moves one label towards the root, which ends the loop.
  for (;;) {
    const neg_name *e = find_name(names, name + off, n - (unsigned)off);
    if (e != NULL) {
      if (e->flags & NEG_BARRIER) return 0;
      if (off == 0) self = e;
      if (e->flags & NEG_APEX) {
        int at = zone_index(zones, name + off, n - (unsigned)off);
        z = at >= 0 ? zones->z[at] : NULL;
        break;
      }
    }
    if (name[off] == 0) return 0; // in no zone: forwarded or refused
    left = off;
    off += 1 + name[off];
  }
  if (z == NULL || !z->usable) return 0;
  int exists = self != NULL && (self->flags & (NEG_EXISTS | NEG_LOCAL)) != 0;
  if (exists && !nodata_in_c(self, qtype, off == 0)) return 0;
  if (off > 0) {
    for (unsigned c = 0; c < z->nconflicts; c++) {
      if (memcmp(z->conflicts[c], name + left, 1 + (size_t)name[left]) == 0) return 0;
    }
  }
  const neg_template *tp = &z->templates[exists ? NEG_NODATA : qtype == TYPE_SOA ? NEG_NXDOMAIN_SOA : NEG_NXDOMAIN];
  size_t tail = tp->len - tp->tail;
  size_t m = HEADER + n + 4 + tail;
  if (m > room) return 0;
  memcpy(out, tp->bytes, HEADER);
  memcpy(out + HEADER, name, n);
  uint8_t *p = out + HEADER + n;
  p[0] = (uint8_t)(qtype >> 8);
  p[1] = (uint8_t)qtype;
  p[2] = 0;
  p[3] = 1; // class IN
  memcpy(p + 4, tp->bytes + tp->tail, tail);
  // Everything after the question moved by delta, and so did every pointer's target (all at or after 12).
  size_t delta = n - z->apex_len;
  for (unsigned i = 0; i < tp->npointers; i++) {
    size_t at = tp->pointers[i];
    size_t target = (size_t)(((tp->bytes[at] & 0x3f) << 8) | tp->bytes[at + 1]) + delta;
    out[at + delta] = (uint8_t)(0xc0 | target >> 8);
    out[at + delta + 1] = (uint8_t)target;
  }
  *rcode = tp->bytes[3] & 0x0f;
  return m;
}

size_t negative_answer(const negative_table *t, const uint8_t *name, unsigned n, unsigned qtype, uint8_t *out, size_t room,
                       unsigned *rcode) {
  uint32_t before = atomic_load_explicit(&t->seq, memory_order_acquire);
  if (before & 1) return 0; // a batch is being applied
  size_t m = answer_unchecked(t, name, n, qtype, out, room, rcode);
  atomic_thread_fence(memory_order_acquire);
  return atomic_load_explicit(&t->seq, memory_order_relaxed) == before ? m : 0;
}
