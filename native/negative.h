// Negative answers in C: for the zones kdns is authoritative for, the set of names that exist (and where C
// must not decide), so a query for a name that does not exist (NXDOMAIN) or lacks the asked type (NODATA)
// is answered by the UDP batch engine from the zone's SOA template, without JavaScript (see negative.c).
#ifndef KDNS_NEGATIVE_H
#define KDNS_NEGATIVE_H

#include <stddef.h>
#include <stdint.h>

#include "epoch.h"

typedef struct negative_table negative_table;

// What a name is (flags of a name record; 0 removes the name).
#define NEG_EXISTS 1  // a node of its zone (data, mark or empty non-terminal)
#define NEG_LOCAL 2   // local data (hosts, cluster PTRs) answered before the zones: JavaScript's
#define NEG_BARRIER 4 // C decides nothing at or below it (delegation, wildcard parent, synthesized names)
#define NEG_APEX 8    // a zone apex (the zone list says whether its negative answers may be synthesized)
#define NEG_MAX_TYPES 32 // a name with more types is sent without them (and NEG_TYPES_UNKNOWN)
#define NEG_TYPES_UNKNOWN 16

// Templates of a zone, each a whole message compiled by JavaScript for the apex as qname.
#define NEG_NXDOMAIN 0     // NXDOMAIN, SOA in authority with TTL min(SOA TTL, MINIMUM)
#define NEG_NXDOMAIN_SOA 1 // NXDOMAIN for qtype SOA (TTL 0: bind's zero-no-soa-ttl)
#define NEG_NODATA 2       // NOERROR, SOA in authority
#define NEG_TEMPLATES 3

/**
 * An empty table whose replaced parts go to `epoch` (the store's). Writers (every function below but
 * negative_answer and the counts) must be serialized by the caller; negative_answer may run in any thread
 * at the same time, inside epoch_enter/epoch_exit.
 */
negative_table *negative_new(epoch_domain *epoch);
void negative_free(negative_table *t);
/**
 * Opens (nests) a batch of changes: until the outermost negative_write_end, readers answer nothing from the
 * table, so they never see a batch half applied. negative_write_abandon closes every open batch.
 */
void negative_write_begin(negative_table *t);
void negative_write_end(negative_table *t);
void negative_write_abandon(negative_table *t);
/** Forgets every zone and name. */
void negative_clear(negative_table *t);

/**
 * Adds or replaces the zone at `apex` (lower-case wire). `templates` NULL (or a template that does not parse)
 * keeps the zone but synthesizes nothing in it. `conflicts` holds wire labels (length byte + bytes,
 * lower-case): when the label of the qname just left of the apex is one of them, the SOA's names would
 * compress differently than in the template, so JavaScript answers. Returns 0, or -1 when out of memory.
 */
int negative_set_zone(negative_table *t, const uint8_t *apex, unsigned apex_len, const uint8_t *const templates[NEG_TEMPLATES],
                      const size_t template_lens[NEG_TEMPLATES], const uint8_t *conflicts, size_t conflicts_len);

/** Sets (flags ≠ 0) or removes (flags 0) a name. Returns 0, or -1 when out of memory. */
int negative_set_name(negative_table *t, const uint8_t *name, unsigned name_len, unsigned flags, const uint16_t *types,
                      unsigned ntypes);

size_t negative_names(const negative_table *t);
size_t negative_zones(const negative_table *t);
size_t negative_bytes(const negative_table *t);

/**
 * Writes the negative answer for the lower-case wire `name` (n bytes) and qtype into out: header (ID 0, RD
 * and CD clear), the question with the lower-case name, the SOA. Returns its length (0 when C must not
 * decide, or it would exceed `room`) and the rcode in *rcode.
 */
size_t negative_answer(const negative_table *t, const uint8_t *name, unsigned n, unsigned qtype, uint8_t *out, size_t room,
                       unsigned *rcode);

#endif
