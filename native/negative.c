// Negative answers in C. The responder (src/server/negative-feed.ts) tells this table, per thread, which
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

typedef struct neg_name {
  struct neg_name *next; // chained: removal needs no rehash
  uint32_t hash;
  uint8_t name_len;
  uint8_t flags;
  uint8_t ntypes;
  uint8_t bytes[]; // ntypes big-endian qtypes, then the lower-case wire name
} neg_name;

typedef struct neg_template {
  uint8_t *bytes; // the whole message for the apex as qname
  size_t len;
  size_t tail; // offset of the authority section
  uint16_t pointers[MAX_POINTERS]; // offsets of its compression pointers
  unsigned npointers;
} neg_template;

typedef struct neg_zone {
  uint8_t apex[255];
  unsigned apex_len;
  int usable;
  neg_template templates[NEG_TEMPLATES];
  uint8_t conflicts[MAX_CONFLICTS][64];
  unsigned nconflicts;
} neg_zone;

struct negative_table {
  neg_name **buckets;
  uint32_t mask;
  size_t count;
  size_t bytes; // names' records
  neg_zone *zones;
  unsigned nzones;
};

static uint32_t name_hash(const uint8_t *name, unsigned len) {
  uint32_t h = 0x811c9dc5u; // FNV-1a, then a finaliser so similar names spread over the low bits
  for (unsigned i = 0; i < len; i++) h = (h ^ name[i]) * 0x01000193u;
  h ^= h >> 15;
  h *= 0x2c1b3c6du;
  h ^= h >> 12;
  return h;
}

negative_table *negative_new(void) {
  negative_table *t = calloc(1, sizeof *t);
  if (t == NULL) return NULL;
  t->buckets = calloc(INITIAL_BUCKETS, sizeof *t->buckets);
  if (t->buckets == NULL) {
    free(t);
    return NULL;
  }
  t->mask = INITIAL_BUCKETS - 1;
  return t;
}

static void free_zones(negative_table *t) {
  for (unsigned z = 0; z < t->nzones; z++) {
    for (int k = 0; k < NEG_TEMPLATES; k++) free(t->zones[z].templates[k].bytes);
  }
  free(t->zones);
  t->zones = NULL;
  t->nzones = 0;
}

void negative_clear(negative_table *t) {
  for (uint32_t b = 0; b <= t->mask; b++) {
    for (neg_name *e = t->buckets[b], *next; e != NULL; e = next) {
      next = e->next;
      free(e);
    }
    t->buckets[b] = NULL;
  }
  t->count = 0;
  t->bytes = 0;
  free_zones(t);
}

void negative_free(negative_table *t) {
  if (t == NULL) return;
  negative_clear(t);
  free(t->buckets);
  free(t);
}

static neg_name **find_link(const negative_table *t, const uint8_t *name, unsigned len, uint32_t hash) {
  neg_name **link = &t->buckets[hash & t->mask];
  for (; *link != NULL; link = &(*link)->next) {
    const neg_name *e = *link;
    if (e->hash == hash && e->name_len == len && memcmp(e->bytes + 2 * e->ntypes, name, len) == 0) return link;
  }
  return link;
}

static const neg_name *find_name(const negative_table *t, const uint8_t *name, unsigned len) {
  return *find_link(t, name, len, name_hash(name, len));
}

static void grow(negative_table *t) {
  uint32_t capacity = (t->mask + 1) * 2;
  neg_name **buckets = calloc(capacity, sizeof *buckets);
  if (buckets == NULL) return; // longer chains, still correct
  for (uint32_t b = 0; b <= t->mask; b++) {
    for (neg_name *e = t->buckets[b], *next; e != NULL; e = next) {
      next = e->next;
      e->next = buckets[e->hash & (capacity - 1)];
      buckets[e->hash & (capacity - 1)] = e;
    }
  }
  free(t->buckets);
  t->buckets = buckets;
  t->mask = capacity - 1;
}

static size_t record_size(unsigned name_len, unsigned ntypes) {
  return sizeof(neg_name) + 2 * ntypes + name_len;
}

int negative_set_name(negative_table *t, const uint8_t *name, unsigned name_len, unsigned flags, const uint16_t *types,
                      unsigned ntypes) {
  if (ntypes > NEG_MAX_TYPES) {
    ntypes = 0;
    flags |= NEG_TYPES_UNKNOWN;
  }
  uint32_t hash = name_hash(name, name_len);
  neg_name **link = find_link(t, name, name_len, hash);
  if (*link != NULL) {
    neg_name *old = *link;
    *link = old->next;
    t->bytes -= record_size(old->name_len, old->ntypes);
    t->count--;
    free(old);
  }
  if (flags == 0) return 0;
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
  if (t->count + 1 > (size_t)t->mask + 1) grow(t);
  neg_name **head = &t->buckets[hash & t->mask];
  e->next = *head;
  *head = e;
  t->count++;
  t->bytes += record_size(name_len, ntypes);
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

static neg_zone *zone_at(const negative_table *t, const uint8_t *apex, unsigned apex_len) {
  for (unsigned z = 0; z < t->nzones; z++) {
    if (t->zones[z].apex_len == apex_len && memcmp(t->zones[z].apex, apex, apex_len) == 0) return &t->zones[z];
  }
  return NULL;
}

int negative_set_zone(negative_table *t, const uint8_t *apex, unsigned apex_len, const uint8_t *const templates[NEG_TEMPLATES],
                      const size_t template_lens[NEG_TEMPLATES], const uint8_t *conflicts, size_t conflicts_len) {
  neg_zone *z = zone_at(t, apex, apex_len);
  if (z == NULL) {
    neg_zone *zones = realloc(t->zones, (t->nzones + 1) * sizeof *zones);
    if (zones == NULL) return -1;
    t->zones = zones;
    z = &zones[t->nzones++];
    memset(z, 0, sizeof *z);
    memcpy(z->apex, apex, apex_len);
    z->apex_len = apex_len;
  }
  z->usable = templates != NULL;
  for (int k = 0; k < NEG_TEMPLATES; k++) {
    neg_template *tp = &z->templates[k];
    free(tp->bytes);
    tp->bytes = NULL;
    if (!z->usable) continue;
    tp->bytes = malloc(template_lens[k]);
    if (tp->bytes == NULL) {
      z->usable = 0;
      return -1;
    }
    memcpy(tp->bytes, templates[k], template_lens[k]);
    tp->len = template_lens[k];
    if (!parse_template(tp, tp->bytes, tp->len, apex_len)) z->usable = 0;
  }
  z->nconflicts = 0;
  for (size_t p = 0; p < conflicts_len && z->nconflicts < MAX_CONFLICTS;) {
    unsigned l = conflicts[p];
    if (l == 0 || l > 63 || p + 1 + l > conflicts_len) {
      z->usable = 0; // we could not tell when compression differs
      break;
    }
    memcpy(z->conflicts[z->nconflicts++], conflicts + p, 1 + l);
    p += 1 + l;
  }
  return 0;
}

size_t negative_names(const negative_table *t) {
  return t->count;
}

size_t negative_zones(const negative_table *t) {
  return t->nzones;
}

size_t negative_bytes(const negative_table *t) {
  size_t b = t->bytes + (size_t)(t->mask + 1) * sizeof *t->buckets + t->nzones * sizeof(neg_zone);
  for (unsigned z = 0; z < t->nzones; z++) {
    for (int k = 0; k < NEG_TEMPLATES; k++) b += t->zones[z].templates[k].bytes == NULL ? 0 : t->zones[z].templates[k].len;
  }
  return b;
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

size_t negative_answer(const negative_table *t, const uint8_t *name, unsigned n, unsigned qtype, uint8_t *out, size_t room,
                       unsigned *rcode) {
  // Refused, FORMERR or NOTIMP before any lookup (AXFR, IXFR, OPT, meta types): JavaScript's.
  if (t->count == 0 || qtype == TYPE_OPT || (qtype >= 128 && qtype < 255)) return 0;
  const neg_name *self = NULL;
  const neg_zone *z = NULL;
  size_t off = 0, left = 0; // the suffix being looked at, and the label just left of it
  // Bounded: each turn moves one label towards the root, which ends the loop.
  for (;;) {
    const neg_name *e = find_name(t, name + off, n - (unsigned)off);
    if (e != NULL) {
      if (e->flags & NEG_BARRIER) return 0;
      if (off == 0) self = e;
      if (e->flags & NEG_APEX) {
        z = zone_at(t, name + off, n - (unsigned)off);
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
