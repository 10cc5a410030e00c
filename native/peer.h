// Peer addresses as the batch loop holds them (16 bytes, IPv4 in the first 4), matched against networks:
// shared by the forwarded cache's access list (answer_cache.c) and the view rules (views.c), which must
// both count an IPv4-mapped IPv6 peer as IPv4, as src/forward/acl.ts and src/views/rules.ts do.
#ifndef KDNS_PEER_H
#define KDNS_PEER_H

#include <stdint.h>
#include <string.h>

/** Whether the first `bits` bits of a and b are equal. */
static inline int peer_prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits) {
  unsigned whole = bits / 8, rest = bits % 8;
  if (memcmp(a, b, whole) != 0) return 0;
  if (rest == 0) return 1;
  uint8_t mask = (uint8_t)(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

/** The peer's family (4|6) and address bytes, an IPv4-mapped IPv6 peer (::ffff:a.b.c.d) as IPv4. */
static inline uint8_t peer_unmapped(const uint8_t *peer16, int family_v6, const uint8_t **addr) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  *addr = peer16;
  if (!family_v6) return 4;
  if (memcmp(peer16, mapped, 12) != 0) return 6;
  *addr = peer16 + 12;
  return 4;
}

#endif
