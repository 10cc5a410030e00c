// Views (src/views): which view's answer cache a datagram is answered from, picked by its peer address with
// the same rules, in the same order, as src/views/rules.ts ViewMatcher.
#ifndef KDNS_VIEWS_H
#define KDNS_VIEWS_H

#include <stddef.h>
#include <stdint.h>

/** One element of a view's match-clients, as ViewMatcher.wireRules writes it (20 bytes). */
typedef struct view_rule {
  uint8_t view;   // index of the view it belongs to; rules of one view are consecutive, views in order
  uint8_t negate; // 1: a matching peer is not in this view (bind's "!")
  uint8_t family; // 4 or 6
  uint8_t prefix; // bits
  uint8_t addr[16];
} view_rule;

#define VIEW_RULE_SIZE 20
#define VIEWS_MAX 255

typedef struct view_table {
  unsigned nviews; // configured views + the default view (the last index, which has no rules)
  unsigned nrules;
  view_rule *rules;
} view_table;

/**
 * Reads `len` bytes of rules for `nviews` views (the last being the default). Returns NULL on success, else
 * what was wrong (nothing allocated then). `t` must be zeroed or freed before.
 */
const char *view_table_load(view_table *t, const uint8_t *bytes, size_t len, unsigned nviews);
void view_table_free(view_table *t);
/** The peer's view: the first view with a matching rule that is not negated; else the default view. */
unsigned view_pick(const view_table *t, int family_v6, const uint8_t *peer16);

#endif
