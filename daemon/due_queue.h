/* due_queue.h — a min-heap of (due time, customer id): the timer queue of the in-memory
 * store (replay). Earliest due first; equal due times are ordered by customer id (strcmp),
 * so the order never depends on insertion history.
 *
 * Deletion is lazy: when a customer's next due time changes, push the new one and leave
 * the old entry in place; whoever pops an entry checks it against the customer's current
 * next_due_ms and skips it when they differ. due_queue_compact() drops such stale entries.
 *
 * The queue does not copy ids: an entry borrows `id`, which must stay valid while the entry
 * is queued (customer_table keeps c->id valid until the customer is removed; compact the
 * queue with a `live` callback that rejects a customer before removing it). */
#ifndef CW_DUE_QUEUE_H
#define CW_DUE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct due_entry {
    int64_t due_ms;
    const char *id; /* borrowed */
    void *item;     /* borrowed: what the entry is for (replay: the customer), may be NULL */
};

struct due_queue {
    struct due_entry *e; /* owned heap array */
    size_t n, cap;
};

void due_queue_init(struct due_queue *q);
/* Frees the entries (not `q` itself, not the ids). Accepts NULL. */
void due_queue_free(struct due_queue *q);
/* Returns 0, or -1 on ENOMEM (the queue is unchanged). */
int due_queue_push(struct due_queue *q, int64_t due_ms, const char *id, void *item);
/* Copies the earliest entry into *out; false when the queue is empty. */
bool due_queue_peek(const struct due_queue *q, struct due_entry *out);
/* Removes the earliest entry into *out (may be NULL); false when the queue is empty. */
bool due_queue_pop(struct due_queue *q, struct due_entry *out);
static inline size_t due_queue_size(const struct due_queue *q)
{
    return q->n;
}
/* Keeps only the entries for which live(ctx, entry) returns true, then restores the heap. */
void due_queue_compact(struct due_queue *q, bool (*live)(void *ctx, const struct due_entry *e),
                       void *ctx);

#endif
