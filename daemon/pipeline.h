/* pipeline.h — the daemon's work, one batch at a time:
 *   poll up to a batch of messages -> decode (rejects counted, logged, dead-lettered)
 *   -> per partition: load missing customers, apply rules -> one MULTI/EXEC per partition
 *   -> commit offsets to Kafka for lag tools -> sweep due timers -> deliver the outbox.
 * It owns the consumer, the store, the outbox and the partitions; it borrows the config,
 * which the caller may replace between batches with pipeline_reload, and the metrics
 * registry and health state, which it keeps up to date (docs/metrics.md). */
#ifndef CW_PIPELINE_H
#define CW_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "event.h"
#include "health.h"
#include "metrics.h"

struct pipeline_stats {
    uint64_t messages;
    uint64_t rejected[REJ__COUNT];
    uint64_t applied;
    uint64_t duplicates;
    uint64_t alerts;
    uint64_t commits;
    uint64_t commit_failures;
    uint64_t fenced;
    uint64_t timers_fired;
    uint64_t delivered;        /* outbox entries delivered, summed over the sinks */
    uint64_t dead_letter_failures;
};

struct pipeline;

/* Connects nothing yet; registers its metrics in m (before the HTTP server starts: the
 * registry's families are fixed from then on). m and h are borrowed and must outlive the
 * pipeline. Returns NULL with a message in err on a setup error. */
struct pipeline *pipeline_new(struct config *cfg, struct metrics *m, struct health *h, char *err,
                              size_t err_len);
/* Waits (with back-off, calling *stop between attempts) until Redis answers. Returns 0,
 * or -1 if *stop became true first. */
int pipeline_wait_store(struct pipeline *pl, volatile const int *stop);
/* Subscribes; from now on partitions are assigned. */
int pipeline_start(struct pipeline *pl, char *err, size_t err_len);
/* One batch. Returns 0, or -1 when only a restart can recover (a fatal Kafka error, a
 * fenced partition, Redis lost committed writes): the reason is logged; the caller stops
 * and exits non-zero, and pipeline_stop then commits nothing more. */
int pipeline_run_once(struct pipeline *pl);
/* Applies the reloadable parts of `next` (rules, levels, logging, timer interval) and
 * frees it. Settings that need a restart are reported and left unchanged. */
void pipeline_reload(struct pipeline *pl, struct config *next);
/* Finishes what was polled, commits, drains the outbox for up to drain_ms, leaves the
 * group. Returns 0 when everything polled was committed. */
int pipeline_stop(struct pipeline *pl, int drain_ms);
void pipeline_free(struct pipeline *pl); /* accepts NULL */
/* Counters since start; valid until the next call into pl. */
const struct pipeline_stats *pipeline_stats(struct pipeline *pl);
int pipeline_partitions(const struct pipeline *pl);

#endif
