// The observation ring: what top talkers (src/stats) need of the queries answered in C, which JavaScript
// never sees otherwise. One record per EVERY answered queries (weight EVERY) into a Buffer JavaScript
// drains on a timer, on the same thread, so there is no lock: C appends while the ring has room and
// counts the weight of what did not fit; JavaScript reads COUNT records and resets COUNT to 0.
#include "observe.h"

#include <string.h>
#include <time.h>

/** A ring Buffer argument, as both attach functions take it. */
typedef struct ring_arg {
  uint8_t *data;
  size_t len;
  napi_ref ref;
} ring_arg;

/**
 * Reads `buffer`: 0 with a pending TypeError (`what` names the ring) when it is not a Buffer of at least
 * `min_len` bytes aligned to `align`, or no reference can be made; -1 for null/undefined (detach); 1 with
 * `out` filled and a strong reference taken.
 */
static int ring_buffer_arg(napi_env env, napi_value buffer, size_t min_len, uintptr_t align, const char *what, ring_arg *out) {
  napi_valuetype t;
  if (napi_typeof(env, buffer, &t) != napi_ok) return 0;
  if (t == napi_undefined || t == napi_null) return -1;
  bool is_buf = false;
  void *p = NULL;
  size_t len = 0;
  if (napi_is_buffer(env, buffer, &is_buf) != napi_ok || !is_buf || napi_get_buffer_info(env, buffer, &p, &len) != napi_ok ||
      len < min_len || ((uintptr_t)p & (align - 1)) != 0) {
    napi_throw_type_error(env, "KDNS_NATIVE_ARGUMENT", what);
    return 0;
  }
  if (napi_create_reference(env, buffer, 1, &out->ref) != napi_ok) {
    napi_throw_type_error(env, "KDNS_NATIVE_ARGUMENT", "ring: Node-API refused a reference");
    return 0;
  }
  out->data = (uint8_t *)p;
  out->len = len;
  return 1;
}

void ring_release(napi_env env, ring_buffer *r) {
  if (r->ref != NULL) napi_delete_reference(env, r->ref);
  r->ref = NULL;
  r->base = NULL;
  r->capacity = 0;
}

/** Lets go of the ring's old Buffer and holds the one in `a` (taken by ring_buffer_arg) instead. */
static void ring_hold(napi_env env, ring_buffer *r, const ring_arg *a, uint32_t capacity) {
  ring_release(env, r);
  r->ref = a->ref;
  r->base = a->data;
  r->capacity = capacity;
}

int observe_attach(napi_env env, observe_ring *r, napi_value buffer) {
  ring_arg a;
  int got = ring_buffer_arg(env, buffer, OBS_HEADER + OBS_STRIDE, 4, "the observation ring must be a 4-byte aligned Buffer of at least one record", &a);
  if (got == 0) return 0;
  if (got < 0) {
    ring_release(env, &r->buf);
    return 1;
  }
  ring_hold(env, &r->buf, &a, (uint32_t)((a.len - OBS_HEADER) / OBS_STRIDE));
  return 1;
}

void observe_answer(observe_ring *r, const uint8_t *q, size_t qlen, const uint8_t *resp, int family, const uint8_t *addr) {
  uint32_t *h = (uint32_t *)r->buf.base;
  if (h[OBS_COUNTDOWN] > 1) {
    h[OBS_COUNTDOWN]--;
    return;
  }
  uint32_t every = h[OBS_EVERY] == 0 ? 1 : h[OBS_EVERY];
  h[OBS_COUNTDOWN] = every;
  uint32_t n = h[OBS_COUNT];
  if (n >= r->buf.capacity) {
    h[OBS_LOST] += every;
    return;
  }
  // The name's length: labels up to the root label, within the datagram and 255 bytes.
  size_t at = 12, end = qlen < 12 + 255 ? qlen : 12 + 255;
  while (at < end && q[at] != 0 && q[at] < 64) at += (size_t)q[at] + 1;
  if (at >= end || q[at] != 0) return; // cannot happen for a query the cache answered; never read past it
  size_t name_len = at + 1 - 12;
  uint8_t *rec = r->buf.base + OBS_HEADER + (size_t)n * OBS_STRIDE;
  memcpy(rec + OBS_R_WEIGHT, &every, 4);
  rec[OBS_R_FAMILY] = (uint8_t)family;
  rec[OBS_R_RCODE] = resp[3] & 0x0f;
  rec[OBS_R_NAMELEN] = (uint8_t)name_len;
  memcpy(rec + OBS_R_ADDR, addr, 16);
  memcpy(rec + OBS_R_NAME, q + 12, name_len);
  h[OBS_COUNT] = n + 1;
}

// ---------------------------------------------------------------------------------------------------------
// The dnstap ring: the same records src/dnstap/ring.ts RingProducer.put writes, for the exchanges answered
// in C, so dnstap no longer needs every datagram to go through JavaScript. Little-endian fields are written
// byte by byte (the JavaScript side reads them with readUInt32LE and friends on any host).

int tap_attach(napi_env env, tap_ring *r, napi_value buffer, uint32_t every) {
  ring_arg a;
  // The JavaScript side makes it of 64 + 4,096 bytes or more, a multiple of 4 (src/dnstap/ring.ts ringBuffer).
  int got = ring_buffer_arg(env, buffer, TAP_HEADER + 4096, 8,
                            "the dnstap ring must be an 8-byte aligned Buffer of 64 + 4096 or more bytes, a multiple of 4", &a);
  if (got == 0) return 0;
  if (got > 0 && ((a.len & 3) != 0 || a.len > 0x7fffffff)) {
    napi_delete_reference(env, a.ref);
    napi_throw_type_error(env, "KDNS_NATIVE_ARGUMENT", "the dnstap ring must be an 8-byte aligned Buffer of 64 + 4096 or more bytes, a multiple of 4");
    return 0;
  }
  if (got < 0) {
    ring_release(env, &r->buf);
    return 1;
  }
  ring_hold(env, &r->buf, &a, (uint32_t)(a.len - TAP_HEADER));
  r->every = every == 0 ? 1 : every;
  return 1;
}

double tap_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void put_le16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v) {
  put_le16(p, v & 0xffff);
  put_le16(p + 2, v >> 16);
}

/** RingProducer.put in C: false (and DROPPED + 1) when the record does not fit. */
static int tap_put(tap_ring *r, int type, int family, const uint8_t *addr, int port, double time_ms, const uint8_t *msg, size_t len) {
  int32_t *h = (int32_t *)r->buf.base;
  uint8_t *d = r->buf.base + TAP_HEADER;
  uint32_t cap = r->buf.capacity;
  uint32_t need = (uint32_t)((TAP_RECORD_HEADER + len + 3) & ~(size_t)3);
  uint32_t tail = (uint32_t)__atomic_load_n(&h[TAP_TAIL], __ATOMIC_ACQUIRE);
  uint32_t head = (uint32_t)h[TAP_HEAD]; // ours: this thread is the only producer
  uint32_t used = head >= tail ? head - tail : cap - tail + head;
  uint32_t free_bytes = cap - used - 4;
  int wraps = head + need > cap;
  if (len > 0xffff || (wraps ? cap - head + need : need) > free_bytes) {
    __atomic_fetch_add(&h[TAP_DROPPED], 1, __ATOMIC_RELAXED);
    return 0;
  }
  if (wraps) {
    put_le32(d + head, 0);
    head = 0;
  }
  uint8_t *rec = d + head;
  put_le32(rec, need);
  rec[TAP_R_TYPE] = (uint8_t)type;
  rec[TAP_R_PROTO] = TAP_SOCKET_UDP;
  rec[TAP_R_FAMILY] = (uint8_t)(family == 6 ? TAP_FAMILY_INET6 : TAP_FAMILY_INET);
  rec[TAP_R_FAMILY + 1] = 0;
  put_le16(rec + TAP_R_PORT, (uint32_t)port);
  put_le16(rec + TAP_R_MSGLEN, (uint32_t)len);
  uint64_t bits;
  memcpy(&bits, &time_ms, 8);
  put_le32(rec + TAP_R_TIME, (uint32_t)bits);
  put_le32(rec + TAP_R_TIME + 4, (uint32_t)(bits >> 32));
  memcpy(rec + TAP_R_ADDR, addr, 16);
  memcpy(rec + TAP_RECORD_HEADER, msg, len);
  head += need;
  if (head == cap) head = 0;
  __atomic_store_n(&h[TAP_HEAD], (int32_t)head, __ATOMIC_RELEASE); // the record before the position
  return 1;
}

void tap_exchange(tap_ring *r, const uint8_t *q, size_t qlen, const uint8_t *resp, size_t rlen, int family, const uint8_t *addr,
                  int port, double time_ms) {
  int32_t *h = (int32_t *)r->buf.base;
  if ((uint32_t)++h[TAP_SEEN] < r->every) return;
  h[TAP_SEEN] = 0;
  // Both are attempted, as in JavaScript: every exchange logged is two frames, written or dropped.
  tap_put(r, TAP_CLIENT_QUERY, family, addr, port, time_ms, q, qlen);
  tap_put(r, TAP_CLIENT_RESPONSE, family, addr, port, time_ms, resp, rlen);
}
