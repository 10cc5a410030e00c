// Picks a datagram's view from its peer address (see views.h). A handful of rules, walked in order per
// datagram that the batch loop offers to the answer caches; an IPv4-mapped IPv6 peer counts as IPv4, as
// in src/views/rules.ts and the forwarder's access list.
#include "views.h"

#include "peer.h"

#include <stdlib.h>
#include <string.h>

const char *view_table_load(view_table *t, const uint8_t *bytes, size_t len, unsigned nviews) {
  if (nviews < 1 || nviews > VIEWS_MAX) return "between 1 and 255 views";
  if (len % VIEW_RULE_SIZE != 0) return "view rules of 20 bytes each";
  size_t n = len / VIEW_RULE_SIZE;
  view_rule *rules = n == 0 ? NULL : malloc(n * sizeof *rules);
  if (n > 0 && rules == NULL) return "memory for the view rules";
  for (size_t i = 0; i < n; i++) {
    const uint8_t *b = bytes + i * VIEW_RULE_SIZE;
    view_rule *r = &rules[i];
    r->view = b[0];
    r->negate = b[1];
    r->family = b[2];
    r->prefix = b[3];
    memcpy(r->addr, b + 4, 16);
    int bad = r->view >= nviews - 1 || r->negate > 1 || (r->family != 4 && r->family != 6) ||
              r->prefix > (r->family == 4 ? 32 : 128) || (i > 0 && r->view < rules[i - 1].view);
    if (bad) {
      free(rules);
      return "view rules in view order with a view index below the default view's, family 4|6 and a prefix that fits";
    }
  }
  t->nviews = nviews;
  t->nrules = (unsigned)n;
  t->rules = rules;
  return NULL;
}

void view_table_free(view_table *t) {
  free(t->rules);
  t->rules = NULL;
  t->nrules = 0;
}

unsigned view_pick(const view_table *t, int family_v6, const uint8_t *peer16) {
  const uint8_t *addr;
  uint8_t family = peer_unmapped(peer16, family_v6, &addr);
  for (unsigned i = 0; i < t->nrules; i++) {
    const view_rule *r = &t->rules[i];
    if (r->family != family || !peer_prefix_equal(r->addr, addr, r->prefix)) continue;
    if (!r->negate) return r->view;
    // A "!" element that matches: not this view; go on with the next view's rules.
    while (i + 1 < t->nrules && t->rules[i + 1].view == r->view) i++;
  }
  return t->nviews - 1;
}
