/* partition.h — the state of one input partition this instance owns: its customers in
 * memory, the events polled but not yet applied, and what the next commit must write.
 *
 * Events are queued with partition_enqueue as they are polled; partition_process loads
 * the customers it lacks from Redis (one pipeline), applies the events in order and
 * formats the alerts; partition_commit writes it all in one MULTI/EXEC. If Redis fails,
 * nothing is lost: queued events stay queued and changed state stays marked for the next
 * commit, which carries the offsets of exactly what was applied. */
#ifndef CW_PARTITION_H
#define CW_PARTITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerts.h"
#include "config.h"
#include "customer_table.h"
#include "event.h"
#include "store.h"
#include "late_buffer.h"
#include "mute.h"
#include "tiers.h"

/* A polled message waiting to be applied: an event, or a rejected message whose offset
 * still has to be passed in order. */
struct queued_event {
    int topic;      /* index in cfg->topics */
    int64_t offset; /* Kafka offset */
    bool rejected;
    struct event ev;
};

struct partition_stats {
    uint64_t applied;
    uint64_t duplicates;
    uint64_t late; /* arrived later than engine.lateness allows: applied out of order */
    uint64_t commits; /* transactions that reached Redis */
    /* alerts committed to the outbox, by rule, level and status (0 resolved, 1 firing) */
    uint64_t alerts_written[RULE__COUNT][LEVEL_ALARM + 1][2];
};

struct partition {
    int32_t id;
    int64_t epoch;
    size_t n_topics;
    int64_t *next_offset;    /* per topic: next offset to accept from Kafka, -1 = any */
    int64_t *applied_offset; /* per topic: next offset after what is applied, -1 = none */
    int64_t *committed_offset; /* per topic: what Redis holds after our last commit */
    int64_t clock_ms;        /* partition clock: latest event time seen (applied or held) */
    struct late_buffer held; /* events held back for engine.lateness (late_buffer.h) */
    struct tier_cutoffs tiers; /* derived tiers (tiers.h), committed with the offsets */
    struct customer_table *customers;
    /* every customer of the partition is in `customers` (none only in Redis): true for a
     * partition that had nothing stored when claimed and after a tier scan that loaded
     * them all; false once the cache is dropped. A reload's re-evaluation then needs no
     * SCAN of Redis. */
    bool cache_complete;
    /* every customer is in `customers` or, with its spend, in `spend_idx` (tiers.h): the
     * weekly tier cut-offs need no SCAN of Redis. True when cache_complete, and kept when
     * the cache is dropped (its customers' spend goes to the index) */
    bool tiers_complete;
    struct spend_index *spend_idx;
    /* customers kept in memory between batches (this partition's share of
     * engine.max_cached_customers, set by the pipeline) */
    size_t max_cached;
    struct customer **dirty; /* changed since the last commit */
    size_t n_dirty, dirty_cap;
    struct alert_list alerts; /* formatted, waiting for the commit */
    struct queued_event *queue; /* owned; room trimmed by partition_trim_queue */
    size_t n_queued, queue_cap;
    size_t queue_used; /* events the last partition_process applied, for the trim */
    bool uncommitted; /* applied changes (or offsets) not yet in Redis */
    char rescan_cursor[32]; /* re-evaluation of every customer after a reload; "" = none */
    uint64_t rescanned;
    /* P:{pN}:risk lists every customer at risk. False for a partition whose state was
     * written before the at-risk set existed: a rescan (risk_rebuild) then writes the
     * customers at risk, and its end sets it; the commits write "@risk" once it is set. */
    bool risk_indexed;
    bool risk_rebuild;
    /* operators' silences and acknowledgements (mute.h), read at claim and refreshed by
     * partition_mute_refresh; what they change is written by the next commit */
    struct mute_set mute;
    uint64_t mute_sig;               /* what was last logged about them */
    struct alert_list mute_scratch; /* a held notice being formatted */
    struct partition_stats stats;
};

/* A new partition object after a successful store_claim. Free with partition_free. */
struct partition *partition_new(int32_t id, const struct config *cfg,
                                const struct partition_meta *meta);
void partition_free(struct partition *p); /* accepts NULL */

/* Returns a slot for the message at (topic, offset), or NULL if that offset was already
 * applied (a re-delivery). The caller fills ev or sets rejected. Out of memory aborts:
 * nothing is committed that was not applied, and a restart resumes from Redis. */
struct queued_event *partition_enqueue(struct partition *p, int topic, int64_t offset);

/* Applies all queued events, in event-time order within engine.lateness: each event is
 * held until the partition clock (the latest event time seen) minus lateness reaches its
 * time, then applied with the other held events in (time, topic, offset) order. Returns
 * 0, or -1 when Redis failed: loading customers, or reading every customer to derive the
 * week's tier cut-offs; the events not yet applied or held stay queued (those before stay
 * applied, to be committed). */
int partition_process(struct partition *p, const struct config *cfg, struct store *store);

/* Gives back the queue's room that p's last batch did not need. Called once per batch
 * for every partition, including those that got no events (a burst's room would
 * otherwise stay until the partition's next events: with many partitions, most of the
 * daemon's memory). Keeps queued events. */
void partition_trim_queue(struct partition *p);

/* Applies the held events due by now_ms (the watermark: the clock minus lateness), then
 * fires timers due at now_ms for up to `max` customers of p listed due in Redis.
 * Returns the number of customers advanced, or -1 on a Redis error. */
int partition_sweep(struct partition *p, const struct config *cfg, struct store *store,
                    int64_t now_ms, size_t max);

/* Forgets p's tier cut-offs, so that the next event recomputes them (after a reload). */
void partition_reset_tiers(struct partition *p);

/* Starts re-evaluating every customer of p (see partition_rescan). */
void partition_start_rescan(struct partition *p);
/* One step of re-evaluating every customer of p at now_ms (after thresholds changed):
 * up to `max` customers from Redis, plus, on the first step, all cached ones. Returns 1
 * while the rescan goes on, 0 when it is done (or none is running), -1 on a Redis error. */
int partition_rescan(struct partition *p, const struct config *cfg, struct store *store,
                     int64_t now_ms, size_t max);

/* Reads p's silences and acknowledgements again (P:{pN}:silence, P:{pN}:ack) and ends the
 * silences over at wall time now_ms: their held notices and a re-send of the customer's
 * firing alerts (dated clock_ms, the sweep's event clock) go to the outbox with the next
 * commit (mute.h). Returns 0, or -1 on a Redis error (retry later). */
int partition_mute_refresh(struct partition *p, const struct config *cfg, struct store *store,
                           int64_t now_ms, int64_t clock_ms);

/* Commits what was applied. Returns 0 (or 0 with nothing to do), -1 on a Redis error
 * (retry later), STORE_FENCED when another instance owns the partition. *alerts_written
 * is set to the number of outbox entries written. */
int partition_commit(struct partition *p, struct store *store, size_t *alerts_written);
/* True when Redis holds exactly what this partition last committed (same epoch, same
 * offsets): false after Redis lost writes (restart without persistence, failover). */
bool partition_matches(const struct partition *p, const struct partition_meta *meta);

#endif
