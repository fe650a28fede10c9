/* late_buffer.h — events held back for engine.lateness, so that events arriving out of
 * order (up to that much) are applied in event-time order.
 *
 * An event with time ts is held until the partition's watermark (the latest event time
 * seen, minus lateness) reaches ts; held events are released in (ts, order) order, where
 * `order` is a tie-break fixed by the caller (the daemon: topic and offset; replay: the
 * line). An event already behind the watermark when it arrives is applied at once: it is
 * later than lateness allows, and counted as such.
 *
 * Held events are part of the partition's state: each entry is stored in Redis (sorted set
 * P:{pN}:held, score ts, member = 8-byte big-endian order + event_codec encoding) in the
 * same transaction as the offsets that consumed it, and removed in the transaction that
 * applied it. The buffer tracks what the next commit must add and remove. Pure: no I/O. */
#ifndef CW_LATE_BUFFER_H
#define CW_LATE_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

/* The watermark: events at or before it are applied (clock_ms minus lateness_ms, never
 * below INT64_MIN); a negative lateness counts as 0. */
int64_t late_watermark(int64_t clock_ms, int64_t lateness_ms);

struct late_entry {
    int64_t ts_ms;
    uint64_t order;
    bool stored;   /* in Redis (committed) */
    bool released; /* applied; freed after the commit that removes it */
    size_t len;    /* of member */
    uint8_t member[]; /* order (8 bytes, big-endian) + encoded event */
};

struct late_buffer {
    struct late_entry **heap; /* min-heap by (ts_ms, order) */
    size_t n, cap;
    struct late_entry **added; /* pushed since the last commit (maybe released since) */
    size_t n_added, added_cap;
    struct late_entry **removed; /* released since the last commit */
    size_t n_removed, removed_cap;
};

/* Holds ev (copied, encoded). Returns 0, or -1 on ENOMEM. */
int late_buffer_push(struct late_buffer *b, const struct event *ev, uint64_t order);
/* Holds an entry read back from Redis (already stored). Returns 0, or -1 when `member` is
 * not a valid member (nothing held) or on ENOMEM. */
int late_buffer_push_stored(struct late_buffer *b, int64_t ts_ms, const uint8_t *member,
                            size_t len);
size_t late_buffer_count(const struct late_buffer *b);
/* The earliest held event, decoded into *ev; false when none is held. */
bool late_buffer_peek(const struct late_buffer *b, struct event *ev);
/* Releases the earliest held event (the one late_buffer_peek shows). */
void late_buffer_pop(struct late_buffer *b);

/* What the next commit writes: every entry of `added` that is not released is added, every
 * entry of `removed` that is stored is removed. They stay valid until this call, made
 * when that commit succeeded: added entries are then stored, removed ones freed. */
void late_buffer_committed(struct late_buffer *b);

void late_buffer_free(struct late_buffer *b); /* frees everything b owns, not b */

#endif
