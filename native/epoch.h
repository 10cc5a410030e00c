// Epoch-based reclamation for the process-global tables (answer_cache.c, negative.c): readers (the batch loops
// of every worker thread) never lock and never block; writers, serialized by the table's own mutex, unlink
// what they replace and hand it here, and it is freed once no reader can still hold a pointer to it.
#ifndef KDNS_EPOCH_H
#define KDNS_EPOCH_H

#include <stddef.h>
#include <stdint.h>

#define EPOCH_MAX_READERS 128 // views (threads) per table; a view beyond it answers nothing in C

typedef struct epoch_domain epoch_domain;
typedef void (*epoch_free_fn)(void *p);

epoch_domain *epoch_new(void);
/** Frees everything still retired; no reader may be inside. */
void epoch_free(epoch_domain *d);

// Writer side: the caller holds the table's writer mutex for all of these.
/** A reader slot for a new view, or -1 when all are taken. */
int epoch_join(epoch_domain *d);
void epoch_leave(epoch_domain *d, int slot);
/** The lowest slot in use (-1: none). */
int epoch_first_reader(const epoch_domain *d);
/** `p` is unreachable for new readers: free it (with `fn`, else free()) once the readers that could see it left. */
void epoch_retire(epoch_domain *d, void *p, epoch_free_fn fn, size_t bytes);
/** Frees what no reader can hold any more; call after a write. */
void epoch_reclaim(epoch_domain *d);
/** Bytes retired and not yet freed. */
size_t epoch_retired_bytes(const epoch_domain *d);

// Reader side, lock-free: only the thread that owns `slot`.
/** Announces the reader; returns 0 (the caller must not read) when writers kept moving the epoch. */
int epoch_enter(epoch_domain *d, int slot);
void epoch_exit(epoch_domain *d, int slot);

#endif
