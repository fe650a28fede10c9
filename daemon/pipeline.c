/* pipeline.c — see pipeline.h. */
#include "pipeline.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
#include "dead_letter.h"
#include "decode.h"
#include "clock.h"
#include "log.h"
#include "notify.h"
#include "outbox.h"
#include "partition.h"
#include "sink.h"
#include "store.h"

#define SWEEP_MAX 1000                /* customers advanced per partition per sweep */
#define OUTBOX_CHECK_MS 100 /* how often a full outbox's length is read again */
#define METRICS_REFRESH_MS 1000 /* how often the per-partition gauges are read */

/* What the loop keeps for one partition number. */
struct slot {
    struct partition *part;   /* owned; NULL = not ours */
    bool paused;              /* consumption paused in librdkafka */
    bool outbox_full;         /* paused until the sinks deliver (engine.max_outbox) */
    bool outbox_grew;         /* alerts written since the outbox length was last read */
    int64_t last_progress_ms; /* a message arrived, or the partition was seen idle */
    int stall_seeks;          /* re-fetches since the last message */
    struct store_backlog backlog; /* as last read (metrics; outbox_len by check_outboxes too) */
    struct partition_stats reported; /* the partition's counts already in the metrics */
    int64_t next_mute_ms;     /* silences and acknowledgements are read again then */
};

/* The daemon's metrics (docs/metrics.md), registered by pipeline_new. Counters of events
 * are updated where they happen; the others are mirrored from the modules that keep them
 * once per loop iteration (update_metrics) or, for the per-partition tables, once per
 * METRICS_REFRESH_MS (refresh_partition_metrics). */
struct pipeline_metrics {
    struct metric *consumed, *rejected, *applied, *duplicates, *late, *timers_fired;
    struct metric *alerts_written, *commits, *commit_failures, *dead_letter_failures;
    struct metric *delivered, *delivery_failures, *sink_failing; /* NULL without sinks */
    struct metric *redis_errors, *redis_reconnects, *redis_connected;
    struct metric *partitions, *paused, *customers_cached, *outbox_capacity, *ready;
    struct metric *batch_messages, *commit_seconds;
    /* tables: one row per owned partition */
    struct metric *lag, *outbox_depth, *timers_due, *timers_pending, *at_risk;
};

struct pipeline {
    struct config *cfg; /* borrowed */
    rd_kafka_t *rk;
    struct store *store;
    struct outbox *outbox;
    struct dead_letter *dlq;
    struct slot *slot; /* indexed by partition number */
    int32_t n_parts;
    int64_t next_stall_check_ms;
    int owned;
    int64_t next_sweep_ms;
    bool sweep_backlog; /* a partition had more timers due than one sweep advances */
    int64_t next_outbox_check_ms;
    uint64_t store_generation; /* Redis connection the owned partitions were checked on */
    bool fatal;                /* stop: recovery needs a restart (logged where set) */
    struct log_ratelimit *reject_rl; /* owned: one per input topic (cfg->topics) */
    struct log_ratelimit error_rl;   /* errors the consumer returns instead of messages */
    struct pipeline_stats stats;
    volatile const int *stop;
    struct pipeline_metrics m;
    bool serve_metrics;      /* metrics.listen is set: the tables are worth reading */
    int64_t next_metrics_ms; /* next refresh of the tables */
    struct health *health;   /* borrowed */
    bool assigned;           /* the group has answered our join (maybe with nothing) */
    int32_t claiming;        /* partition being claimed, waiting for Redis; else -1 */
};

/* Creates the sinks cfg turns on into sinks[0..*n): each has its own cursor (its name) in
 * every partition's outbox. Returns 0, or -1 with the reason in err (none is left). */
static int sinks_new(const struct config *cfg, struct store *store,
                     struct sink *sinks[CW_MAX_SINKS], size_t *n, char *err, size_t err_len)
{
    const char *what = NULL;
    *n = 0;
    if (cfg->alerts_topic && (sinks[(*n)++] = sink_kafka_new(cfg)) == NULL)
        what = "cannot create the Kafka alerts producer";
    else if (cfg->sink_log && (sinks[(*n)++] = sink_log_new()) == NULL)
        what = "out of memory";
    else if (cfg->sink_alertmanager.enabled &&
             (sinks[(*n)++] = sink_alertmanager_new(cfg, store)) == NULL)
        what = "cannot create the Alertmanager sink";
    else if (cfg->sink_webhook.enabled && (sinks[(*n)++] = sink_webhook_new(cfg)) == NULL)
        what = "cannot create the webhook sink";
    if (what == NULL)
        return 0;
    snprintf(err, err_len, "%s", what);
    for (size_t i = 0; i + 1 < *n; i++)
        sink_free(sinks[i]);
    *n = 0;
    return -1;
}

static const char *const status_names[2] = {"resolved", "firing"};

/* Registers the pipeline's metrics in r; -1 on ENOMEM. */
static int register_metrics(struct pipeline *pl, struct metrics *r)
{
    const struct config *cfg = pl->cfg;
    struct pipeline_metrics *m = &pl->m;
    const char *reasons[REJ__COUNT], *rules[RULE__COUNT], *levels[LEVEL_ALARM + 1],
        *sinks[CW_MAX_SINKS];
    size_t n_topics = cfg->n_topics;
    const char **topics = malloc(n_topics * sizeof *topics);
    if (topics == NULL)
        return -1;
    for (size_t t = 0; t < n_topics; t++)
        topics[t] = cfg->topics[t].name;
    for (int i = 1; i < REJ__COUNT; i++)
        reasons[i - 1] = reject_reason_name((enum reject_reason)i);
    for (int i = 0; i < RULE__COUNT; i++)
        rules[i] = rule_name((enum rule_id)i);
    for (int i = 0; i <= LEVEL_ALARM; i++)
        levels[i] = risk_level_name((enum risk_level)i);
    size_t n_sinks = outbox_sinks(pl->outbox);
    for (size_t i = 0; i < n_sinks; i++)
        sinks[i] = outbox_sink_name(pl->outbox, i);
    static const char *const pause_reasons[] = {"redis", "outbox_full"};
    const struct metric_label topic[] = {{"topic", topics, n_topics},
                                         {"reason", reasons, REJ__COUNT - 1}};
    const struct metric_label alert[] = {{"rule", rules, RULE__COUNT},
                                         {"level", levels, LEVEL_ALARM + 1},
                                         {"status", status_names, 2}};
    const struct metric_label sink[] = {{"sink", sinks, n_sinks}};
    const struct metric_label pause[] = {{"reason", pause_reasons, 2}};
    static const double batch_bounds[] = {1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
    static const double commit_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                           0.05,   0.1,   0.25,   0.5,   1,    2.5};
    static const char *const by_partition[] = {"partition"};
    static const char *const by_topic[] = {"topic", "partition"};
#define COUNTER(name, help, labels, n)                                                             \
    metrics_add(r, METRIC_COUNTER, name, help, labels, n, NULL, 0)
#define GAUGE(name, help, labels, n) metrics_add(r, METRIC_GAUGE, name, help, labels, n, NULL, 0)
    m->consumed = COUNTER("churnwatch_events_consumed_total",
                          "Messages taken from an input topic, accepted or rejected (a "
                          "re-delivery of an applied offset is not counted).",
                          topic, 1);
    m->rejected = COUNTER("churnwatch_events_rejected_total",
                          "Messages rejected by the decoder, by topic and reason.", topic, 2);
    m->applied = COUNTER("churnwatch_events_applied_total",
                         "Events applied to customer state.", NULL, 0);
    m->duplicates = COUNTER("churnwatch_events_duplicates_total",
                            "Events dropped because their event_id was seen recently.", NULL, 0);
    m->late = COUNTER("churnwatch_events_late_total",
                      "Events later than engine.lateness allows, applied out of order.", NULL, 0);
    m->timers_fired = COUNTER("churnwatch_timers_fired_total",
                              "Customers advanced by the timer sweep.", NULL, 0);
    m->alerts_written = COUNTER("churnwatch_alerts_written_total",
                                "Alert notices committed to the outbox, by rule, level and "
                                "status.",
                                alert, 3);
    m->commits = COUNTER("churnwatch_commits_total",
                         "Partition transactions (state, outbox, offsets) committed to Redis.",
                         NULL, 0);
    m->commit_failures = COUNTER("churnwatch_commit_failures_total",
                                 "Partition commits that failed (retried on the next batch).",
                                 NULL, 0);
    m->dead_letter_failures = COUNTER("churnwatch_dead_letter_failures_total",
                                      "Rejected messages that could not be copied to the "
                                      "dead-letter topic.",
                                      NULL, 0);
    if (n_sinks > 0) {
        m->delivered = COUNTER("churnwatch_alerts_delivered_total",
                               "Alerts delivered from the outbox, by sink.", sink, 1);
        m->delivery_failures = COUNTER("churnwatch_sink_delivery_failures_total",
                                       "Outbox batches a sink did not wholly deliver (retried "
                                       "with back-off).",
                                       sink, 1);
        m->sink_failing = GAUGE("churnwatch_sink_failing_seconds",
                                "How long the sink's deliveries have been failing; 0 while they "
                                "succeed.",
                                sink, 1);
    }
    m->redis_errors = COUNTER("churnwatch_redis_errors_total",
                              "Redis connections refused or lost, and error replies.", NULL, 0);
    m->redis_reconnects = COUNTER("churnwatch_redis_reconnects_total",
                                  "Connections to Redis made again after the first.", NULL, 0);
    m->redis_connected = GAUGE("churnwatch_redis_connected",
                               "1 while the daemon has a connection to Redis.", NULL, 0);
    m->partitions = GAUGE("churnwatch_partitions_assigned",
                          "Input partitions this instance owns.", NULL, 0);
    m->paused = GAUGE("churnwatch_partitions_paused",
                      "Owned partitions whose consumption is paused: Redis refused or lost a "
                      "commit, or the outbox is full (engine.max_outbox).",
                      pause, 1);
    m->customers_cached = GAUGE("churnwatch_customers_cached",
                                "Customers held in memory over the owned partitions.", NULL, 0);
    m->outbox_capacity = GAUGE("churnwatch_outbox_capacity",
                               "Undelivered alerts a partition's outbox may hold before its "
                               "consumption pauses (engine.max_outbox).",
                               NULL, 0);
    m->ready = GAUGE("churnwatch_ready",
                     "1 while /readyz answers 200: consuming, Redis connected, the outbox "
                     "draining.",
                     NULL, 0);
    m->batch_messages = metrics_add(r, METRIC_HISTOGRAM, "churnwatch_batch_messages",
                                    "Messages polled per batch (batches with any).", NULL, 0,
                                    batch_bounds, sizeof batch_bounds / sizeof *batch_bounds);
    m->commit_seconds = metrics_add(r, METRIC_HISTOGRAM, "churnwatch_commit_duration_seconds",
                                    "Time to commit one partition's batch to Redis (WATCH, "
                                    "MULTI ... EXEC).",
                                    NULL, 0, commit_bounds,
                                    sizeof commit_bounds / sizeof *commit_bounds);
    m->lag = metrics_add_table(r, "churnwatch_consumer_lag_messages",
                               "Messages in the partition not yet committed to Redis: the high "
                               "watermark last seen by the consumer minus the stored offset.",
                               by_topic, 2);
    m->outbox_depth = metrics_add_table(r, "churnwatch_outbox_depth",
                                        "Alerts in the partition's outbox not yet delivered by "
                                        "every sink.",
                                        by_partition, 1);
    m->timers_due = metrics_add_table(r, "churnwatch_timers_due",
                                      "Customers of the partition with a timer due at the "
                                      "sweep's clock, not yet swept.",
                                      by_partition, 1);
    m->timers_pending = metrics_add_table(r, "churnwatch_timers_pending",
                                          "Customers of the partition with a timer pending in "
                                          "Redis (due now or later).",
                                          by_partition, 1);
    m->at_risk = metrics_add_table(r, "churnwatch_customers_at_risk",
                                   "Customers of the partition at risk (a score above 0, a "
                                   "level above ok or a firing alert): what churnwatch top "
                                   "lists.",
                                   by_partition, 1);
#undef COUNTER
#undef GAUGE
    free(topics);
    if (!m->consumed || !m->rejected || !m->applied || !m->duplicates || !m->late ||
        !m->timers_fired || !m->alerts_written || !m->commits || !m->commit_failures ||
        !m->dead_letter_failures || (n_sinks > 0 && (!m->delivered || !m->delivery_failures ||
                                                     !m->sink_failing)) ||
        !m->redis_errors || !m->redis_reconnects || !m->redis_connected || !m->partitions ||
        !m->paused || !m->customers_cached || !m->outbox_capacity || !m->ready ||
        !m->batch_messages || !m->commit_seconds || !m->lag || !m->outbox_depth ||
        !m->timers_due || !m->timers_pending || !m->at_risk)
        return -1;
    metric_set(m->outbox_capacity, 0, (double)cfg->max_outbox);
    return 0;
}

struct pipeline *pipeline_new(struct config *cfg, struct metrics *m, struct health *h, char *err,
                              size_t err_len)
{
    struct pipeline *pl = calloc(1, sizeof *pl);
    if (pl == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    pl->cfg = cfg;
    pl->reject_rl = calloc(cfg->n_topics ? cfg->n_topics : 1, sizeof *pl->reject_rl);
    if (pl->reject_rl == NULL) {
        snprintf(err, err_len, "out of memory");
        free(pl);
        return NULL;
    }
    for (size_t t = 0; t < cfg->n_topics; t++)
        log_ratelimit_init(&pl->reject_rl[t], 5, 20);
    pl->health = h;
    pl->claiming = -1;
    pl->serve_metrics = cfg->metrics_listen != NULL;
    log_ratelimit_init(&pl->error_rl, 1, 5);
    pl->store = store_new(cfg);
    if (pl->store == NULL) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    struct sink *sinks[CW_MAX_SINKS];
    size_t n;
    if (sinks_new(cfg, pl->store, sinks, &n, err, err_len) < 0)
        goto fail;
    pl->outbox = outbox_new(pl->store, sinks, n);
    if (pl->outbox == NULL) {
        snprintf(err, err_len, "out of memory");
        for (size_t i = 0; i < n; i++)
            sink_free(sinks[i]);
        goto fail;
    }
    int failed;
    pl->dlq = dead_letter_new(cfg, &failed);
    if (failed) {
        snprintf(err, err_len, "cannot create the dead-letter producer");
        goto fail;
    }
    if (register_metrics(pl, m) < 0) {
        snprintf(err, err_len, "out of memory (metrics)");
        goto fail;
    }
    return pl;
fail:
    pipeline_free(pl);
    return NULL;
}

/* Publishes what /readyz answers (health.h). */
static void publish_health(struct pipeline *pl)
{
    struct readiness r = {
        .stopping = pl->stop && *pl->stop,
        .redis_connected = store_connected(pl->store),
        .subscribed = pl->rk != NULL,
        .assigned = pl->assigned,
        .claiming = pl->claiming,
        .outbox_full = -1,
    };
    for (int32_t i = 0; i < pl->n_parts && r.outbox_full < 0; i++)
        if (pl->slot[i].part && pl->slot[i].outbox_full)
            r.outbox_full = i;
    int64_t now = clock_mono_ms();
    for (size_t i = 0; i < outbox_sinks(pl->outbox); i++) {
        int64_t since = outbox_failing_since(pl->outbox, i);
        if (since > 0 && (r.failing_sink == NULL || now - since > r.sink_failing_ms)) {
            r.failing_sink = outbox_sink_name(pl->outbox, i);
            r.sink_failing_ms = now - since;
        }
    }
    char reason[256];
    bool ready = readiness_check(&r, reason, sizeof reason);
    health_set_not_ready(pl->health, ready ? NULL : reason);
    metric_set(pl->m.ready, 0, ready ? 1 : 0);
}

/* The loop, or one of its waits, is turning: ping systemd's watchdog, beat for /healthz
 * and say whether we are ready. */
static void alive(struct pipeline *pl)
{
    notify_watchdog();
    health_beat(pl->health);
    publish_health(pl);
}

int pipeline_wait_store(struct pipeline *pl, volatile const int *stop)
{
    pl->stop = stop;
    while (!*stop) {
        if (store_connect(pl->store) == 0)
            return 0;
        alive(pl);
        notify_status("waiting for Redis");
        clock_sleep_ms(100);
    }
    return -1;
}

static int topic_index(const struct config *cfg, const char *name)
{
    const struct topic_config *t = config_topic(cfg, name);
    return t ? (int)(t - cfg->topics) : -1;
}

static void fenced(struct pipeline *pl, int32_t i);

static struct partition *owned(struct pipeline *pl, int32_t p)
{
    return p >= 0 && p < pl->n_parts ? pl->slot[p].part : NULL;
}

static int ensure_slots(struct pipeline *pl, int32_t p)
{
    if (p < pl->n_parts)
        return 0;
    struct slot *slot = realloc(pl->slot, (size_t)(p + 1) * sizeof *slot);
    if (slot == NULL)
        return -1;
    memset(slot + pl->n_parts, 0, (size_t)(p + 1 - pl->n_parts) * sizeof *slot);
    pl->slot = slot;
    pl->n_parts = p + 1;
    return 0;
}

/* engine.max_cached_customers bounds the customers in memory over all partitions this
 * instance owns: each keeps an equal share (at least 100). */
static size_t cache_share(const struct pipeline *pl)
{
    size_t share = pl->cfg->max_cached_customers / (size_t)(pl->owned > 0 ? pl->owned : 1);
    return share < 100 ? 100 : share;
}

/* Adds to the metrics what p counted since they last heard of it (its events applied by
 * the sweep included). */
static void report_partition(struct pipeline *pl, const struct partition *p)
{
    struct partition_stats *last = &pl->slot[p->id].reported;
    const struct partition_stats *now = &p->stats;
    metric_add(pl->m.applied, 0, now->applied - last->applied);
    metric_add(pl->m.duplicates, 0, now->duplicates - last->duplicates);
    metric_add(pl->m.late, 0, now->late - last->late);
    for (int r = 0; r < RULE__COUNT; r++)
        for (int l = 0; l <= LEVEL_ALARM; l++)
            for (int f = 0; f < 2; f++)
                if (now->alerts_written[r][l][f] != last->alerts_written[r][l][f])
                    metric_add(pl->m.alerts_written, ((size_t)r * (LEVEL_ALARM + 1) + l) * 2 + f,
                               now->alerts_written[r][l][f] - last->alerts_written[r][l][f]);
    *last = *now;
}

/* Applies queued events of p and commits. Returns 0, -1 (Redis: retry), STORE_FENCED. */
static int flush_partition(struct pipeline *pl, struct partition *p)
{
    if (pl->fatal)
        return -1; /* what memory holds can no longer be trusted to match Redis */
    struct partition_stats before = p->stats;
    p->max_cached = cache_share(pl);
    if (partition_process(p, pl->cfg, pl->store) < 0)
        return -1;
    pl->stats.applied += p->stats.applied - before.applied;
    pl->stats.duplicates += p->stats.duplicates - before.duplicates;
    size_t alerts;
    int64_t start_us = clock_mono_us();
    int rc = partition_commit(p, pl->store, &alerts);
    if (rc == 0 && p->stats.commits > before.commits) {
        metric_observe(pl->m.commit_seconds, 0, (double)(clock_mono_us() - start_us) / 1e6);
        pl->stats.alerts += alerts;
        if (alerts) {
            outbox_mark_pending(pl->outbox, p->id);
            pl->slot[p->id].outbox_grew = true;
        }
        /* for lag tools only: the offsets that count are the ones just written to Redis */
        consumer_commit(pl->rk, pl->cfg, p->id, p->applied_offset);
        pl->stats.commits++;
    } else if (rc != 0) {
        pl->stats.commit_failures++;
    }
    report_partition(pl, p);
    return rc;
}

static void drop_partition(struct pipeline *pl, int32_t p)
{
    if (owned(pl, p) == NULL)
        return;
    partition_free(pl->slot[p].part);
    pl->slot[p].part = NULL;
    pl->owned--;
    outbox_partition_remove(pl->outbox, p);
}

/* Between two tries of a Redis read that claiming a partition needs: false when the daemon
 * is stopping (give up), else feeds the watchdog and waits 200 ms. */
static bool claim_retry(struct pipeline *pl)
{
    if (pl->stop && *pl->stop)
        return false;
    alive(pl);
    clock_sleep_ms(200);
    return true;
}

static void on_assign(struct pipeline *pl, rd_kafka_topic_partition_list_t *parts)
{
    struct partition *p = NULL;
    pl->assigned = true;
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int t = topic_index(pl->cfg, tp->topic);
        if (t < 0 || ensure_slots(pl, tp->partition) < 0)
            continue;
        p = owned(pl, tp->partition);
        if (p == NULL) {
            struct partition_meta meta;
            /* Claiming needs Redis; without it we cannot know where to start. */
            pl->claiming = tp->partition;
            while (store_claim(pl->store, tp->partition, &meta) < 0)
                if (!claim_retry(pl))
                    goto stopping;
            p = partition_new(tp->partition, pl->cfg, &meta);
            if (p == NULL) {
                log_error("partition %" PRId32 ": out of memory", tp->partition);
                abort();
            }
            /* events held back for engine.lateness are part of what Redis holds */
            while (store_load_held(pl->store, tp->partition, &p->held) < 0) {
                late_buffer_free(&p->held);
                if (!claim_retry(pl))
                    goto stopping;
            }
            /* silences, acknowledgements and what silences kept back (mute.h) */
            while (store_mute_read(pl->store, tp->partition, &p->mute, true) < 0) {
                mute_set_free(&p->mute);
                if (!claim_retry(pl))
                    goto stopping;
            }
            pl->claiming = -1;
            pl->slot[tp->partition].part = p;
            memset(&pl->slot[tp->partition].reported, 0, sizeof pl->slot[tp->partition].reported);
            memset(&pl->slot[tp->partition].backlog, 0, sizeof pl->slot[tp->partition].backlog);
            pl->slot[tp->partition].next_mute_ms = 0;
            pl->owned++;
            outbox_partition_add(pl->outbox, tp->partition);
            pl->slot[tp->partition].last_progress_ms = clock_mono_ms();
            pl->slot[tp->partition].stall_seeks = 0;
            log_info("partition %" PRId32 ": assigned, epoch %" PRId64, tp->partition,
                     meta.epoch);
        }
        tp->offset = p->next_offset[t] >= 0 ? p->next_offset[t] : RD_KAFKA_OFFSET_STORED;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(pl->rk, parts);
    if (err)
        log_error("kafka: assign: %s", rd_kafka_err2str(err));
    return;
stopping:
    partition_free(p); /* the one being claimed (NULL before partition_new) */
    pl->claiming = -1;
    rd_kafka_assign(pl->rk, NULL); /* librdkafka waits for an assign call: answer with nothing */
}

static void on_revoke(struct pipeline *pl, rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        int32_t id = parts->elems[i].partition;
        struct partition *p = owned(pl, id);
        if (p == NULL)
            continue;
        /* Best effort: whatever is not committed now is redone by the next owner. */
        if (flush_partition(pl, p) != 0)
            log_warn("partition %" PRId32 ": revoked with uncommitted work; the next owner "
                     "redoes it from the offsets in Redis",
                     id);
        log_info("partition %" PRId32 ": revoked", id);
        drop_partition(pl, id);
    }
    /* librdkafka 2.0.2 keeps an application pause across unassign and a later assign of
     * the same partition: undo ours now, or a returning partition would never fetch. */
    for (int32_t id = 0; id < pl->n_parts; id++)
        if (pl->slot[id].paused && owned(pl, id) == NULL) {
            consumer_pause(pl->rk, pl->cfg, id, false);
            pl->slot[id].paused = false;
            pl->slot[id].outbox_full = false;
        }
    rd_kafka_assign(pl->rk, NULL);
}

static void rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    (void)rk;
    struct pipeline *pl = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        on_assign(pl, parts);
    else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
        on_revoke(pl, parts);
    else {
        log_error("kafka: rebalance: %s", rd_kafka_err2str(err));
        on_revoke(pl, parts);
    }
}

int pipeline_start(struct pipeline *pl, char *err, size_t err_len)
{
    pl->rk = consumer_new(pl->cfg, rebalance, pl, err, err_len);
    return pl->rk ? 0 : -1;
}

/* What a topic's reject lines are, for their rate limit's summary. */
static void reject_source(const struct config *cfg, size_t t, char *buf, size_t len)
{
    snprintf(buf, len, "topic %s: rejected messages", cfg->topics[t].name);
}

/* Message m of input topic t is rejected: counted, logged (rate-limited per topic, so
 * that one topic's flood of bad messages does not hide another's), dead-lettered. */
static void reject(struct pipeline *pl, int t, const rd_kafka_message_t *m,
                   enum reject_reason why, const char *msg)
{
    pl->stats.rejected[why]++;
    if (why > REJ_NONE && why < REJ__COUNT)
        metric_add(pl->m.rejected, (size_t)t * (REJ__COUNT - 1) + (size_t)(why - 1), 1);
    const char *topic = rd_kafka_topic_name(m->rkt);
    char source[300];
    struct log_field f[] = {LOG_STR("topic", topic), LOG_INT("partition", m->partition),
                            LOG_INT("offset", m->offset),
                            LOG_STR("reason", reject_reason_name(why))};
    reject_source(pl->cfg, (size_t)t, source, sizeof source);
    log_limited_fields(&pl->reject_rl[t], source, LOG_LVL_WARN, f, 4,
                       "%s/%" PRId32 "/%" PRId64 ": rejected (%s): %s", topic, m->partition,
                       m->offset, reject_reason_name(why), msg);
    dead_letter_send(pl->dlq, topic, m->partition, m->offset, why, m->key, m->key_len, m->payload,
                     m->len);
}

/* True (with a reason in msg) when ev is dated more than engine.max_future ahead of the
 * wall clock, read once per batch (`now`). */
static bool too_far_ahead(const struct config *cfg, const struct event *ev, int64_t now,
                          char *msg, size_t len)
{
    if (cfg->max_future_ms <= 0)
        return false;
    if (ev->ts_ms <= now || ev->ts_ms - now <= cfg->max_future_ms)
        return false;
    char ts[32];
    format_rfc3339(ev->ts_ms, ts);
    snprintf(msg, len, "ts %s is more than engine.max_future (%.1f h) ahead of the clock",
             ts, (double)cfg->max_future_ms / 3600000.0);
    return true;
}

/* Returns -1 on a fatal error. now_wall and now_mono are the clocks read once per batch. */
static int handle_message(struct pipeline *pl, rd_kafka_message_t *m, int64_t now_wall,
                          int64_t now_mono)
{
    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
            char why[512];
            rd_kafka_fatal_error(pl->rk, why, sizeof why);
            log_error("kafka: fatal error: %s", why);
            return -1;
        }
        log_limited(&pl->error_rl, "kafka consumer", LOG_LVL_WARN, "kafka: %s",
                    rd_kafka_message_errstr(m));
        return 0;
    }
    struct partition *p = owned(pl, m->partition);
    int t = topic_index(pl->cfg, rd_kafka_topic_name(m->rkt));
    if (p == NULL || t < 0)
        return 0; /* not ours (any more) */
    struct queued_event *q = partition_enqueue(p, t, m->offset);
    if (q == NULL)
        return 0; /* already applied: a re-delivery */
    pl->stats.messages++;
    metric_add(pl->m.consumed, (size_t)t, 1);
    pl->slot[m->partition].last_progress_ms = now_mono;
    pl->slot[m->partition].stall_seeks = 0;
    enum reject_reason why;
    char msg[256];
    if (decode_event(&pl->cfg->topics[t], pl->cfg->max_message_bytes, m->payload, m->len, &q->ev,
                     &why, msg, sizeof msg) < 0) {
        q->rejected = true;
        reject(pl, t, m, why, msg);
    } else if (too_far_ahead(pl->cfg, &q->ev, now_wall, msg, sizeof msg)) {
        /* one such event would move its partition's event clock years ahead and fire
         * every timer of every customer there */
        q->rejected = true;
        reject(pl, t, m, REJ_BAD_TIMESTAMP, msg);
    }
    return 0;
}

static void set_paused(struct pipeline *pl, int32_t p, bool pause)
{
    if (pl->slot[p].paused == pause)
        return; /* resuming a partition that is not paused can rewind it */
    consumer_pause(pl->rk, pl->cfg, p, pause);
    pl->slot[p].paused = pause;
}

/* The clock partition p's timers are swept at: the partition clock or, with clock: wall,
 * the wall clock if later, trailing by engine.lateness, so that an event that arrives late
 * (up to that much) is still applied before the timers it could prevent. */
static int64_t sweep_clock(const struct pipeline *pl, const struct partition *p)
{
    return late_watermark(clock_partition_now(p->clock_ms, pl->cfg->clock == CLOCK_WALL),
                          pl->cfg->lateness_ms);
}

static void sweep_timers(struct pipeline *pl)
{
    int64_t now = clock_mono_ms();
    if (now < pl->next_sweep_ms)
        return;
    pl->sweep_backlog = false;
    for (int32_t i = 0; i < pl->n_parts; i++) {
        struct partition *p = pl->slot[i].part;
        if (p == NULL || pl->slot[i].paused)
            continue;
        int64_t clock = sweep_clock(pl, p);
        if (now >= pl->slot[i].next_mute_ms) { /* operators' silences and acks, mute.h */
            pl->slot[i].next_mute_ms = now + pl->cfg->timer_interval_ms;
            if (partition_mute_refresh(p, pl->cfg, pl->store, clock_wall_ms(), clock) < 0)
                continue;
        }
        int rescanning = partition_rescan(p, pl->cfg, pl->store, clock, SWEEP_MAX);
        if (rescanning < 0)
            continue;
        if (rescanning > 0)
            pl->sweep_backlog = true;
        int n = partition_sweep(p, pl->cfg, pl->store, clock, SWEEP_MAX);
        if (n > 0)
            pl->stats.timers_fired += (uint64_t)n;
        if (n == SWEEP_MAX) /* more are due: sweep again on the next iteration */
            pl->sweep_backlog = true;
        if (p->uncommitted && flush_partition(pl, p) == STORE_FENCED)
            fenced(pl, i);
    }
    pl->next_sweep_ms = pl->sweep_backlog ? now : now + pl->cfg->timer_interval_ms;
}

/* Another instance owns partition i (or Redis lost its epoch). Its messages must not be
 * consumed and dropped here until a rebalance happens to come, so the daemon stops; the
 * restart rejoins the group and starts from what Redis holds. */
static void fenced(struct pipeline *pl, int32_t i)
{
    pl->stats.fenced++;
    log_error("partition %" PRId32 ": fenced (its epoch in Redis is not ours); stopping so "
              "that a restart rejoins the group and resumes from Redis",
              i);
    drop_partition(pl, i);
    pl->fatal = true;
}

/* After a reconnect, Redis may hold less than we committed (restarted without
 * persistence, failed over to a lagging replica). Carrying on from memory would skip
 * the lost events; stopping makes the restart resume from what Redis really holds. */
static void check_store_after_reconnect(struct pipeline *pl)
{
    uint64_t gen = store_generation(pl->store);
    if (gen == pl->store_generation || !store_connected(pl->store))
        return;
    for (int32_t i = 0; i < pl->n_parts; i++) {
        struct partition *p = pl->slot[i].part;
        struct partition_meta meta;
        if (p == NULL)
            continue;
        if (store_peek(pl->store, i, &meta) < 0)
            return; /* check again on the next batch */
        if (!partition_matches(p, &meta)) {
            log_error("partition %" PRId32 ": Redis no longer holds what was committed "
                      "(epoch %" PRId64 ", ours %" PRId64 "); stopping so that a restart "
                      "resumes from what Redis holds",
                      i, meta.epoch, p->epoch);
            pl->fatal = true;
            return;
        }
    }
    if (pl->store_generation != 0)
        log_info("redis: reconnected; state and offsets of all partitions intact");
    pl->store_generation = gen;
}

/* Back-pressure: a partition whose outbox holds engine.max_outbox undelivered alerts (a
 * sink is down) stops fetching and applying until the sinks bring it under 90% of that,
 * so Redis memory stays bounded; nothing is dropped. Messages fetched before the pause
 * wait in its queue (bounded by librdkafka's pre-fetch). */
static void check_outboxes(struct pipeline *pl)
{
    int64_t now = clock_mono_ms();
    bool recheck = now >= pl->next_outbox_check_ms; /* full ones: are they draining? */
    if (recheck)
        pl->next_outbox_check_ms = now + OUTBOX_CHECK_MS;
    for (int32_t i = 0; i < pl->n_parts; i++) {
        uint64_t len;
        bool read = pl->slot[i].outbox_grew || (pl->slot[i].outbox_full && recheck);
        if (pl->slot[i].part == NULL || !read || store_outbox_len(pl->store, i, &len) < 0)
            continue;
        pl->slot[i].outbox_grew = false;
        pl->slot[i].backlog.outbox_len = len;
        size_t cap = pl->cfg->max_outbox;
        if (!pl->slot[i].outbox_full && len >= cap) {
            log_warn("partition %" PRId32 ": the outbox holds %" PRIu64 " undelivered alerts "
                     "(engine.max_outbox %zu): consumption paused until the sinks catch up",
                     i, len, cap);
            pl->slot[i].outbox_full = true;
            set_paused(pl, i, true);
        } else if (pl->slot[i].outbox_full && len < cap - cap / 10) {
            log_info("partition %" PRId32 ": the outbox is down to %" PRIu64
                     " undelivered alerts: consumption resumed",
                     i, len);
            pl->slot[i].outbox_full = false;
        }
    }
}

#define STALL_SEEKS_MAX 1 /* re-fetches without a message before the daemon gives up */

/* A consumer stuck with lag (seen with librdkafka 2.0.2 after a broker restart, or after
 * an offset error with auto.offset.reset=error): a partition that is neither paused nor
 * given a message for engine.stall_timeout is checked against the broker's high
 * watermark; if messages wait, it is re-fetched (seek) from the next offset to apply, and
 * if that does not help either (it does not for a partition whose fetch failed with
 * auto.offset.reset=error, 19-stall.sh) the daemon exits 1: systemd restarts it, and the
 * new consumer starts from the offsets in Redis. */
static void check_stalls(struct pipeline *pl)
{
    int64_t now = clock_mono_ms(), timeout = pl->cfg->stall_timeout_ms;
    if (timeout <= 0 || now < pl->next_stall_check_ms)
        return;
    pl->next_stall_check_ms = now + 1000;
    int checked = 0; /* a query may wait 500 ms (broker down): a few per second at most */
    for (int32_t i = 0; i < pl->n_parts && checked < 2; i++) {
        struct partition *p = pl->slot[i].part;
        if (p == NULL)
            continue;
        if (pl->slot[i].paused || p->n_queued > 0) {
            pl->slot[i].last_progress_ms = now; /* idle on purpose */
            continue;
        }
        if (now - pl->slot[i].last_progress_ms < timeout)
            continue;
        pl->slot[i].last_progress_ms = now; /* checked: idle or re-fetched */
        checked++;
        for (size_t t = 0; t < pl->cfg->n_topics; t++) {
            int64_t lo, hi, next = p->next_offset[t];
            const char *topic = pl->cfg->topics[t].name;
            if (next < 0 || rd_kafka_query_watermark_offsets(pl->rk, topic, i, &lo, &hi, 500) !=
                                RD_KAFKA_RESP_ERR_NO_ERROR || hi <= next)
                continue;
            if (++pl->slot[i].stall_seeks > STALL_SEEKS_MAX) {
                log_error("%s/%" PRId32 ": still no message after a re-fetch with %" PRId64
                          " waiting; stopping so that a restart (systemd) starts a new "
                          "consumer from the offsets in Redis",
                          topic, i, hi - next);
                pl->fatal = true;
                return;
            }
            log_warn("%s/%" PRId32 ": %" PRId64 " messages wait after offset %" PRId64
                     " but none arrived for %.0f s; re-fetching from there",
                     topic, i, hi - next, next, (double)timeout / 1000.0);
            rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
            rd_kafka_topic_partition_list_add(l, topic, i)->offset = next;
            rd_kafka_error_t *e = rd_kafka_seek_partitions(pl->rk, l, 2000);
            if (e != NULL) {
                log_warn("%s/%" PRId32 ": re-fetch: %s", topic, i, rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
            }
            rd_kafka_topic_partition_list_destroy(l);
        }
    }
}

/* The summaries of rate-limited sources that went quiet after a flood. */
static void flush_log_limits(struct pipeline *pl)
{
    char source[300];
    for (size_t t = 0; t < pl->cfg->n_topics; t++) {
        if (pl->reject_rl[t].suppressed == 0)
            continue;
        reject_source(pl->cfg, t, source, sizeof source);
        log_ratelimit_flush(&pl->reject_rl[t], source, LOG_LVL_WARN);
    }
    log_ratelimit_flush(&pl->error_rl, "kafka consumer", LOG_LVL_WARN);
}

/* Reads what the per-partition tables show: consumer lag from librdkafka's cached high
 * watermarks (no broker round trip: they come with every fetch response, so a paused
 * partition shows the last one seen), outbox length and timers due from Redis (one round
 * trip per partition). */
static void refresh_partition_metrics(struct pipeline *pl)
{
    char part[16];
    const char *labels[2];
    for (int32_t i = 0; i < pl->n_parts; i++) {
        struct partition *p = pl->slot[i].part;
        struct store_backlog b;
        if (p == NULL)
            continue;
        if (store_backlog(pl->store, i, sweep_clock(pl, p), &b) < 0)
            break; /* Redis is away: keep what was last read */
        pl->slot[i].backlog = b;
    }
    metric_table_begin(pl->m.lag);
    for (int32_t i = 0; i < pl->n_parts; i++) {
        struct partition *p = pl->slot[i].part;
        if (p == NULL)
            continue;
        snprintf(part, sizeof part, "%" PRId32, i);
        labels[1] = part;
        for (size_t t = 0; t < pl->cfg->n_topics; t++) {
            int64_t lo, hi, pos = p->committed_offset[t];
            labels[0] = pl->cfg->topics[t].name;
            if (rd_kafka_get_watermark_offsets(pl->rk, labels[0], i, &lo, &hi) != 0 || hi < 0)
                continue; /* nothing fetched yet */
            if (pos < 0)
                pos = lo; /* nothing stored: consumption starts at the beginning */
            if (pos >= 0)
                metric_table_row(pl->m.lag, labels, (double)(hi > pos ? hi - pos : 0));
        }
    }
    metric_table_end(pl->m.lag);
    struct metric *tables[4] = {pl->m.outbox_depth, pl->m.timers_due, pl->m.timers_pending,
                                pl->m.at_risk};
    for (int k = 0; k < 4; k++) {
        metric_table_begin(tables[k]);
        for (int32_t i = 0; i < pl->n_parts; i++) {
            const struct store_backlog *b = &pl->slot[i].backlog;
            if (pl->slot[i].part == NULL)
                continue;
            snprintf(part, sizeof part, "%" PRId32, i);
            labels[0] = part;
            uint64_t v[4] = {b->outbox_len, b->due, b->timers, b->at_risk};
            metric_table_row(tables[k], labels, (double)v[k]);
        }
        metric_table_end(tables[k]);
    }
}

/* Mirrors into the metrics what the store, the outbox, the dead-letter producer and the
 * partitions keep (a few dozen stores per loop iteration), refreshes the tables when
 * due, and publishes readiness. */
static void update_metrics(struct pipeline *pl)
{
    struct pipeline_metrics *m = &pl->m;
    int64_t now = clock_mono_ms();
    for (size_t i = 0; m->delivered != NULL && i < outbox_sinks(pl->outbox); i++) {
        int64_t since = outbox_failing_since(pl->outbox, i);
        metric_set_total(m->delivered, i, outbox_delivered(pl->outbox, i));
        metric_set_total(m->delivery_failures, i, outbox_failures(pl->outbox, i));
        metric_set(m->sink_failing, i, since > 0 ? (double)(now - since) / 1000.0 : 0);
    }
    metric_set_total(m->dead_letter_failures, 0, dead_letter_failures(pl->dlq));
    metric_set_total(m->timers_fired, 0, pl->stats.timers_fired);
    metric_set_total(m->commits, 0, pl->stats.commits);
    metric_set_total(m->commit_failures, 0, pl->stats.commit_failures);
    metric_set_total(m->redis_errors, 0, store_errors(pl->store));
    uint64_t gen = store_generation(pl->store);
    metric_set_total(m->redis_reconnects, 0, gen > 1 ? gen - 1 : 0);
    metric_set(m->redis_connected, 0, store_connected(pl->store) ? 1 : 0);
    size_t cached = 0, paused_redis = 0, paused_full = 0;
    for (int32_t i = 0; i < pl->n_parts; i++) {
        if (pl->slot[i].part == NULL)
            continue;
        cached += customer_table_count(pl->slot[i].part->customers);
        if (pl->slot[i].outbox_full)
            paused_full++;
        else if (pl->slot[i].paused)
            paused_redis++;
    }
    metric_set(m->partitions, 0, pl->owned);
    metric_set(m->paused, 0, (double)paused_redis);
    metric_set(m->paused, 1, (double)paused_full);
    metric_set(m->customers_cached, 0, (double)cached);
    if (pl->serve_metrics && now >= pl->next_metrics_ms) {
        refresh_partition_metrics(pl);
        pl->next_metrics_ms = now + METRICS_REFRESH_MS;
    }
}

int pipeline_run_once(struct pipeline *pl)
{
    health_beat(pl->health);
    check_store_after_reconnect(pl);
    if (pl->fatal)
        return -1;
    /* with timers still due from the last sweep, take only what is already fetched and
     * go on sweeping */
    int64_t start = clock_mono_ms(); /* also a message's arrival, for the stall check */
    int64_t deadline = start + (pl->sweep_backlog ? 0 : pl->cfg->poll_batch_ms);
    int64_t wall = clock_wall_ms(); /* for engine.max_future: once per batch */
    int polled = 0;
    int64_t left = deadline - start;
    while (polled < pl->cfg->poll_batch_max) {
        /* while messages keep coming, the clock is read every 64 of them, not per message */
        if (polled % 64 == 0)
            left = deadline - clock_mono_ms();
        rd_kafka_message_t *m = rd_kafka_consumer_poll(pl->rk, left > 0 ? (int)left : 0);
        if (m == NULL) {
            left = deadline - clock_mono_ms();
            if (left <= 0)
                break;
            continue;
        }
        int rc = handle_message(pl, m, wall, start);
        rd_kafka_message_destroy(m);
        if (rc < 0)
            return -1;
        polled++;
        if (pl->stop && *pl->stop)
            break;
    }
    if (polled > 0)
        metric_observe(pl->m.batch_messages, 0, polled);
    check_outboxes(pl);
    for (int32_t i = 0; i < pl->n_parts; i++) {
        struct partition *p = pl->slot[i].part;
        /* a full outbox: what was fetched before the pause waits in the queue, unapplied */
        if (p == NULL || (p->n_queued == 0 && !p->uncommitted) || pl->slot[i].outbox_full)
            continue;
        int rc = flush_partition(pl, p);
        if (rc == STORE_FENCED) {
            fenced(pl, i);
        } else if (rc < 0) {
            /* Redis is away: stop fetching for this partition, keep polling so the group
             * keeps us, and retry on the next batch. Nothing is committed meanwhile. */
            set_paused(pl, i, true);
        } else if (!pl->slot[i].outbox_full) {
            set_paused(pl, i, false);
        }
    }
    for (int32_t i = 0; i < pl->n_parts; i++)
        if (pl->slot[i].part)
            partition_trim_queue(pl->slot[i].part);
    for (int32_t i = 0; i < pl->n_parts; i++)
        if (pl->slot[i].part && pl->slot[i].paused && !pl->slot[i].outbox_full &&
            pl->slot[i].part->n_queued == 0 && !pl->slot[i].part->uncommitted)
            set_paused(pl, i, false);
    check_store_after_reconnect(pl);
    if (!pl->fatal)
        check_stalls(pl);
    if (!pl->fatal)
        sweep_timers(pl);
    outbox_run(pl->outbox);
    dead_letter_poll(pl->dlq);
    flush_log_limits(pl);
    update_metrics(pl);
    publish_health(pl);
    return pl->fatal ? -1 : 0;
}

static bool str_changed(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* The settings of an HTTP sink that a reload is most likely to change (all need a
 * restart). */
static bool http_sink_changed(const struct http_sink_config *a, const struct http_sink_config *b)
{
    if (a->enabled != b->enabled || str_changed(a->url, b->url) ||
        str_changed(a->ca_file, b->ca_file) || a->tls_verify != b->tls_verify ||
        a->follow_redirects != b->follow_redirects || a->timeout_ms != b->timeout_ms ||
        a->n_headers != b->n_headers || a->max_alerts != b->max_alerts ||
        a->resend_interval_ms != b->resend_interval_ms ||
        str_changed(a->generator_url, b->generator_url) || str_changed(a->secret, b->secret))
        return true;
    for (size_t i = 0; i < a->n_headers; i++)
        if (str_changed(a->headers[i].key, b->headers[i].key) ||
            str_changed(a->headers[i].value, b->headers[i].value))
            return true;
    return false;
}

void pipeline_reload(struct pipeline *pl, struct config *next)
{
    struct config *cur = pl->cfg;
    if (strcmp(cur->brokers, next->brokers) != 0 || strcmp(cur->group_id, next->group_id) != 0 ||
        cur->n_topics != next->n_topics || cur->redis_port != next->redis_port ||
        strcmp(cur->redis_host, next->redis_host) != 0)
        log_warn("reload: Kafka or Redis settings changed; they apply after a restart");
    if (cur->sink_log != next->sink_log ||
        http_sink_changed(&cur->sink_alertmanager, &next->sink_alertmanager) ||
        http_sink_changed(&cur->sink_webhook, &next->sink_webhook))
        log_warn("reload: sinks settings changed; they apply after a restart");
    if (str_changed(cur->metrics_listen, next->metrics_listen))
        log_warn("reload: metrics.listen changed; it applies after a restart");
    /* Swap the reloadable parts in; config_free(next) then frees the old ones. */
    for (int r = 0; r < RULE__COUNT; r++) {
        struct rule_config tmp = cur->rules[r];
        cur->rules[r] = next->rules[r];
        next->rules[r] = tmp;
    }
    cur->watch_score = next->watch_score;
    cur->alarm_score = next->alarm_score;
    cur->watch_clear_score = next->watch_clear_score;
    cur->alarm_clear_score = next->alarm_clear_score;
    cur->timer_interval_ms = next->timer_interval_ms;
    bool tiers_changed = cur->tiers_derive != next->tiers_derive ||
                         cur->tiers_key_share != next->tiers_key_share ||
                         cur->tiers_strategic_share != next->tiers_strategic_share ||
                         cur->tiers_window_ms != next->tiers_window_ms ||
                         cur->tiers_min_buyers != next->tiers_min_buyers;
    cur->tiers_derive = next->tiers_derive;
    cur->tiers_key_share = next->tiers_key_share;
    cur->tiers_strategic_share = next->tiers_strategic_share;
    cur->tiers_window_ms = next->tiers_window_ms;
    cur->tiers_min_buyers = next->tiers_min_buyers;
    cur->log_level = next->log_level; /* applied by the caller, with --debug */
    cur->log_format = next->log_format;
    config_free(next);
    pl->next_sweep_ms = 0;
    /* Due times in Redis were computed with the old thresholds: re-evaluate everyone. */
    for (int32_t i = 0; i < pl->n_parts; i++) {
        if (pl->slot[i].part == NULL)
            continue;
        partition_start_rescan(pl->slot[i].part);
        if (tiers_changed) /* recomputed before the next event */
            partition_reset_tiers(pl->slot[i].part);
    }
    log_info("reload: rules and thresholds reloaded");
}

int pipeline_stop(struct pipeline *pl, int drain_ms)
{
    int rc = 0;
    if (pl->rk == NULL)
        return 0;
    alive(pl);
    for (int32_t i = 0; i < pl->n_parts; i++) {
        struct partition *p = pl->slot[i].part;
        if (p && flush_partition(pl, p) != 0) {
            log_warn("partition %" PRId32 ": could not commit at shutdown; the work since the "
                     "last commit is redone at the next start",
                     i);
            rc = -1;
        }
    }
    int64_t until = clock_mono_ms() + drain_ms;
    while (!outbox_idle(pl->outbox) && clock_mono_ms() < until) {
        outbox_run(pl->outbox);
        alive(pl);
        clock_sleep_ms(10);
    }
    consumer_close(pl->rk); /* revokes: on_revoke commits nothing new and frees */
    pl->rk = NULL;
    return rc;
}

void pipeline_free(struct pipeline *pl)
{
    if (pl == NULL)
        return;
    if (pl->rk)
        rd_kafka_destroy(pl->rk);
    for (int32_t i = 0; i < pl->n_parts; i++)
        partition_free(pl->slot[i].part);
    free(pl->slot);
    outbox_free(pl->outbox);
    dead_letter_free(pl->dlq);
    store_free(pl->store);
    free(pl->reject_rl);
    free(pl);
}

const struct pipeline_stats *pipeline_stats(struct pipeline *pl)
{
    pl->stats.delivered = 0;
    for (size_t i = 0; i < CW_MAX_SINKS; i++)
        pl->stats.delivered += outbox_delivered(pl->outbox, i);
    pl->stats.dead_letter_failures = dead_letter_failures(pl->dlq);
    return &pl->stats;
}

int pipeline_partitions(const struct pipeline *pl)
{
    return pl->owned;
}
