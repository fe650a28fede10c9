/* test_partition.c — the room of a partition's queue of polled events (partition.c):
 * a burst's room is given back at the next batch, even when the partition gets no events
 * then. Only rejected messages are queued, so nothing reads Redis (store NULL). */
#include <criterion/criterion.h>
#include <stddef.h>

#include "fixtures.h"
#include "partition.h"

static struct partition *queue_partition(struct config *cfg)
{
    struct partition_meta meta = {.epoch = 1, .tiers = {.week = TIER_WEEK_NONE}};
    fixture_config(cfg);
    cfg->n_topics = 1;
    meta.offset[0] = -1;
    struct partition *p = partition_new(0, cfg, &meta);
    cr_assert_not_null(p);
    return p;
}

/* One batch: n messages queued (rejected ones), applied, then the per-batch trim. */
static void queue_batch(struct partition *p, const struct config *cfg, int64_t *offset, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct queued_event *q = partition_enqueue(p, 0, (*offset)++);
        cr_assert_not_null(q);
        q->rejected = true;
    }
    cr_assert_eq(partition_process(p, cfg, NULL), 0);
    cr_assert_eq(p->n_queued, 0);
    partition_trim_queue(p);
}

Test(partition_queue, burst_room_returned_at_next_idle_batch)
{
    struct config cfg;
    struct partition *p = queue_partition(&cfg);
    int64_t offset = 0;

    queue_batch(p, &cfg, &offset, 5000);
    cr_assert_geq(p->queue_cap, 5000, "the burst's batch keeps its room (cap %zu)", p->queue_cap);
    cr_assert_eq(p->applied_offset[0], 5000);

    queue_batch(p, &cfg, &offset, 0); /* a batch without events for p */
    cr_assert_leq(p->queue_cap, 128, "room after an idle batch: %zu events", p->queue_cap);
    partition_free(p);
}

Test(partition_queue, steady_batches_keep_their_room)
{
    struct config cfg;
    struct partition *p = queue_partition(&cfg);
    int64_t offset = 0;

    queue_batch(p, &cfg, &offset, 1000);
    size_t cap = p->queue_cap;
    for (int b = 0; b < 5; b++) {
        queue_batch(p, &cfg, &offset, 700);
        cr_assert_eq(p->queue_cap, cap, "batch %d: cap %zu, was %zu", b, p->queue_cap, cap);
    }
    /* a quarter of the room or less: given back, down to twice what the batch used */
    queue_batch(p, &cfg, &offset, 100);
    cr_assert_eq(p->queue_cap, 200);
    cr_assert_eq(p->applied_offset[0], offset);
    partition_free(p);
}

Test(partition_queue, trim_keeps_unapplied_events)
{
    struct config cfg;
    struct partition *p = queue_partition(&cfg);
    int64_t offset = 0;

    queue_batch(p, &cfg, &offset, 5000);
    for (int i = 0; i < 3; i++)
        partition_enqueue(p, 0, offset++)->rejected = true;
    partition_trim_queue(p); /* events still queued (e.g. a full outbox): nothing shrinks */
    cr_assert_geq(p->queue_cap, 5000);
    cr_assert_eq(p->n_queued, 3);
    cr_assert_eq(p->queue[2].offset, 5002);
    partition_free(p);
}
