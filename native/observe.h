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

/** What both rings (observation, dnstap) hold of their JavaScript Buffer. */
typedef struct ring_buffer {
  uint8_t *base; // NULL: detached (the ring's feature is off for this engine)
  uint32_t capacity; // in the ring's own units: records (observation), data bytes (dnstap)
  napi_ref ref;      // keeps the Buffer alive while the engine holds it
} ring_buffer;

/** Drops the reference and detaches (on detach, re-attach and engine teardown), for either ring. */
void ring_release(napi_env env, ring_buffer *r);

typedef struct observe_ring {
  ring_buffer buf; // capacity: records
} observe_ring;

/** Attaches `buffer` (a Buffer, or null/undefined to detach); 0 with a pending TypeError when it is unusable. */
int observe_attach(napi_env env, observe_ring *r, napi_value buffer);
/**
 * One answered query: `q` is the query (its name at offset 12, uncompressed: the answer cache checked it),
 * `resp` the response. Cheap when the query is not sampled: a countdown and a return.
 */
void observe_answer(observe_ring *r, const uint8_t *q, size_t qlen, const uint8_t *resp, int family, const uint8_t *addr);

/*
 * The dnstap ring (src/dnstap/ring.ts: the constants here must match it): a single-producer single-consumer
 * ring in a SharedArrayBuffer, written by this thread (C for the answers it makes, JavaScript for the rest;
 * never at once) and drained by the main thread. A header of TAP_HEADER bytes (int32 slots), then the data
 * area; positions are byte offsets into it, and a zero length word means "continue at the start".
 */
#define TAP_HEADER 64
#define TAP_HEAD 0    // producer's position (stored with release; the consumer loads it)
#define TAP_TAIL 1    // consumer's position
#define TAP_DROPPED 2 // records that did not fit (added atomically)
#define TAP_SEEN 3    // exchanges since the last sampled one: shared by C and JavaScript, so 1 in N is exact
// record: u32 length | u8 type | u8 protocol | u8 family | u8 0 | u16 port | u16 message length | f64 time ms | 16 address bytes | message
#define TAP_R_TYPE 4
#define TAP_R_PROTO 5
#define TAP_R_FAMILY 6
#define TAP_R_PORT 8
#define TAP_R_MSGLEN 10
#define TAP_R_TIME 12
#define TAP_R_ADDR 20
#define TAP_RECORD_HEADER 36
// dnstap values (src/dnstap/recorder.ts)
#define TAP_CLIENT_QUERY 5
#define TAP_CLIENT_RESPONSE 6
#define TAP_SOCKET_UDP 1
#define TAP_FAMILY_INET 1
#define TAP_FAMILY_INET6 2

typedef struct tap_ring {
  ring_buffer buf; // capacity: bytes of the data area
  uint32_t every;  // log one exchange in EVERY
} tap_ring;

/** Attaches `buffer` (a Buffer over the ring's SharedArrayBuffer, or null to detach); 0 with a pending TypeError. */
int tap_attach(napi_env env, tap_ring *r, napi_value buffer, uint32_t every);
/** Wall-clock milliseconds (dnstap times), read once per batch while a ring is attached. */
double tap_now_ms(void);
/**
 * One exchange answered in C: counts it against the sampling rate and, when sampled, appends its query and
 * response records (each dropped and counted when it does not fit). `port` in host order.
 */
void tap_exchange(tap_ring *r, const uint8_t *q, size_t qlen, const uint8_t *resp, size_t rlen, int family, const uint8_t *addr,
                  int port, double time_ms);

#endif
