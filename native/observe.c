// The observation ring: what top talkers (src/stats) need of the queries answered in C, which JavaScript
// never sees otherwise. One record per EVERY answered queries (weight EVERY) into a Buffer JavaScript
// drains on a timer, on the same thread, so there is no lock: C appends while the ring has room and
// counts the weight of what did not fit; JavaScript reads COUNT records and resets COUNT to 0.
#include "observe.h"

#include <string.h>

int observe_attach(napi_env env, observe_ring *r, napi_value buffer) {
  napi_valuetype t;
  if (napi_typeof(env, buffer, &t) != napi_ok) return 0;
  if (t == napi_undefined || t == napi_null) {
    observe_release(env, r);
    return 1;
  }
  bool is_buf = false;
  void *p = NULL;
  size_t len = 0;
  if (napi_is_buffer(env, buffer, &is_buf) != napi_ok || !is_buf || napi_get_buffer_info(env, buffer, &p, &len) != napi_ok ||
      len < OBS_HEADER + OBS_STRIDE || ((uintptr_t)p & 3) != 0) {
    napi_throw_type_error(env, "KDNS_NATIVE_ARGUMENT", "the observation ring must be a 4-byte aligned Buffer of at least one record");
    return 0;
  }
  napi_ref ref;
  if (napi_create_reference(env, buffer, 1, &ref) != napi_ok) {
    napi_throw_type_error(env, "KDNS_NATIVE_ARGUMENT", "observation ring: Node-API refused a reference");
    return 0;
  }
  observe_release(env, r);
  r->ref = ref;
  r->base = (uint8_t *)p;
  r->capacity = (uint32_t)((len - OBS_HEADER) / OBS_STRIDE);
  return 1;
}

void observe_release(napi_env env, observe_ring *r) {
  if (r->ref != NULL) napi_delete_reference(env, r->ref);
  r->ref = NULL;
  r->base = NULL;
  r->capacity = 0;
}

void observe_answer(observe_ring *r, const uint8_t *q, size_t qlen, const uint8_t *resp, int family, const uint8_t *addr) {
  uint32_t *h = (uint32_t *)r->base;
  if (h[OBS_COUNTDOWN] > 1) {
    h[OBS_COUNTDOWN]--;
    return;
  }
  uint32_t every = h[OBS_EVERY] == 0 ? 1 : h[OBS_EVERY];
  h[OBS_COUNTDOWN] = every;
  uint32_t n = h[OBS_COUNT];
  if (n >= r->capacity) {
    h[OBS_LOST] += every;
    return;
  }
  // The name's length: labels up to the root label, within the datagram and 255 bytes.
  size_t at = 12, end = qlen < 12 + 255 ? qlen : 12 + 255;
  while (at < end && q[at] != 0 && q[at] < 64) at += (size_t)q[at] + 1;
  if (at >= end || q[at] != 0) return; // cannot happen for a query the cache answered; never read past it
  size_t name_len = at + 1 - 12;
  uint8_t *rec = r->base + OBS_HEADER + (size_t)n * OBS_STRIDE;
  memcpy(rec + OBS_R_WEIGHT, &every, 4);
  rec[OBS_R_FAMILY] = (uint8_t)family;
  rec[OBS_R_RCODE] = resp[3] & 0x0f;
  rec[OBS_R_NAMELEN] = (uint8_t)name_len;
  memcpy(rec + OBS_R_ADDR, addr, 16);
  memcpy(rec + OBS_R_NAME, q + 12, name_len);
  h[OBS_COUNT] = n + 1;
}
