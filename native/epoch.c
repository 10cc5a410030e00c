// Epoch-based reclamation (Fraser 2004, in its simplest form). The domain has a global epoch, starting at 1,
// and one announcement per reader slot, 0 while the reader is outside. A reader copies the global epoch into
// its slot, then (after a full fence) reads; a writer that unlinks an object tags it with the current epoch
// and bumps the epoch. An object tagged r is freed once every slot is 0 or holds an epoch > r: such a reader
// announced after the bump, so (fences on both sides) it cannot have seen the object.
//
// The one race: a reader loads epoch r, the writer bumps it and scans the slots before the reader's store
// lands. The reader therefore re-reads the epoch after its fence and starts over when it moved; by the
// fences, either the writer's scan sees the reader's store or the reader sees the writer's bump.

#include "epoch.h"

#include <stdatomic.h>
#include <stdlib.h>

#define ENTER_TRIES 16 // a writer storm makes a reader give up for one batch (JavaScript answers)

typedef struct retired {
  struct retired *next;
  uint64_t epoch;
  void *p;
  epoch_free_fn fn;
  size_t bytes;
} retired;

typedef struct {
  _Atomic uint64_t epoch;
  char pad[64 - sizeof(uint64_t)]; // one cache line each: readers never share a line
} reader_slot;

struct epoch_domain {
  _Atomic uint64_t epoch;
  reader_slot readers[EPOCH_MAX_READERS];
  uint8_t used[EPOCH_MAX_READERS];
  retired *list; // newest first
  size_t retired_bytes;
};

epoch_domain *epoch_new(void) {
  epoch_domain *d = calloc(1, sizeof *d);
  if (d != NULL) atomic_init(&d->epoch, 1);
  return d;
}

static void release(retired *r) {
  if (r->fn != NULL) r->fn(r->p);
  else free(r->p);
  free(r);
}

void epoch_free(epoch_domain *d) {
  if (d == NULL) return;
  for (retired *r = d->list, *next; r != NULL; r = next) {
    next = r->next;
    release(r);
  }
  free(d);
}

int epoch_join(epoch_domain *d) {
  for (int i = 0; i < EPOCH_MAX_READERS; i++) {
    if (!d->used[i]) {
      d->used[i] = 1;
      atomic_store(&d->readers[i].epoch, 0);
      return i;
    }
  }
  return -1;
}

void epoch_leave(epoch_domain *d, int slot) {
  if (slot < 0 || slot >= EPOCH_MAX_READERS) return;
  atomic_store(&d->readers[slot].epoch, 0);
  d->used[slot] = 0;
}

int epoch_first_reader(const epoch_domain *d) {
  for (int i = 0; i < EPOCH_MAX_READERS; i++) if (d->used[i]) return i;
  return -1;
}

void epoch_retire(epoch_domain *d, void *p, epoch_free_fn fn, size_t bytes) {
  if (p == NULL) return;
  retired *r = malloc(sizeof *r);
  if (r == NULL) {
    // No memory to defer the free: leak the object rather than free what a reader may hold.
    return;
  }
  r->epoch = atomic_load(&d->epoch);
  r->p = p;
  r->fn = fn;
  r->bytes = bytes;
  r->next = d->list;
  d->list = r;
  d->retired_bytes += bytes;
}

void epoch_reclaim(epoch_domain *d) {
  if (d->list == NULL) return;
  atomic_fetch_add(&d->epoch, 1); // seq_cst: what was retired before is tagged below the new epoch
  atomic_thread_fence(memory_order_seq_cst);
  uint64_t oldest = UINT64_MAX; // the lowest epoch a reader inside announced
  for (int i = 0; i < EPOCH_MAX_READERS; i++) {
    if (!d->used[i]) continue;
    uint64_t e = atomic_load(&d->readers[i].epoch);
    if (e != 0 && e < oldest) oldest = e;
  }
  // The list is newest first, tags never grow along it: free the tail from the first object tagged < oldest.
  retired **link = &d->list;
  while (*link != NULL && (*link)->epoch >= oldest) link = &(*link)->next;
  retired *r = *link;
  *link = NULL;
  for (retired *next; r != NULL; r = next) {
    next = r->next;
    d->retired_bytes -= r->bytes;
    release(r);
  }
}

size_t epoch_retired_bytes(const epoch_domain *d) {
  return d->retired_bytes;
}

int epoch_enter(epoch_domain *d, int slot) {
  if (slot < 0) return 0;
  _Atomic uint64_t *mine = &d->readers[slot].epoch;
  for (int k = 0; k < ENTER_TRIES; k++) {
    uint64_t e = atomic_load(&d->epoch);
    atomic_store(mine, e);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&d->epoch) == e) return 1;
  }
  atomic_store_explicit(mine, 0, memory_order_release);
  return 0;
}

void epoch_exit(epoch_domain *d, int slot) {
  atomic_store_explicit(&d->readers[slot].epoch, 0, memory_order_release);
}
