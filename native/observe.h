// Top-talker samples of the queries the batch loop answers in C (observe.c). See native/README.md,
// "Observation ring".
#ifndef KDNS_OBSERVE_H
#define KDNS_OBSERVE_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

// The ring is a JavaScript Buffer: a header of uint32 fields, then `capacity` records of OBS_STRIDE bytes.
#define OBS_HEADER 32
#define OBS_COUNT 0     // records written since JavaScript last drained (JS resets it to 0)
#define OBS_EVERY 1     // record one query in EVERY (0 counts as 1); set by JavaScript
#define OBS_COUNTDOWN 2 // queries left until the next record (C's own)
#define OBS_LOST 3      // weight of samples that found the ring full (JS resets it)
#define OBS_STRIDE 280
// record fields (byte offsets)
#define OBS_R_WEIGHT 0 // uint32: the EVERY in force when it was taken
#define OBS_R_FAMILY 4 // 4 or 6
#define OBS_R_RCODE 5  // the response's rcode (low 4 bits of byte 3)
#define OBS_R_NAMELEN 6
#define OBS_R_ADDR 8  // 16 bytes, network order (IPv4 in the first 4)
#define OBS_R_NAME 24 // the query's wire name as the client spelled it, at most 255 bytes

typedef struct observe_ring {
  uint8_t *base; // NULL: observation is off
  uint32_t capacity;
  napi_ref ref; // keeps the Buffer alive while the engine holds it
} observe_ring;

/** Attaches `buffer` (a Buffer, or null/undefined to detach); 0 with a pending TypeError when it is unusable. */
int observe_attach(napi_env env, observe_ring *r, napi_value buffer);
/** Releases the reference (engine teardown). */
void observe_release(napi_env env, observe_ring *r);
/**
 * One answered query: `q` is the query (its name at offset 12, uncompressed: the answer cache checked it),
 * `resp` the response. Cheap when the query is not sampled: a countdown and a return.
 */
void observe_answer(observe_ring *r, const uint8_t *q, size_t qlen, const uint8_t *resp, int family, const uint8_t *addr);

#endif
