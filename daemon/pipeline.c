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

/* What the loop keeps for one partition number. */
struct slot {
    struct partition *part;   /* owned; NULL = not ours */
    bool paused;              /* consumption paused in librdkafka */
    bool outbox_full;         /* paused until the sinks deliver (engine.max_outbox) */
    bool outbox_grew;         /* alerts written since the outbox length was last read */
    int64_t last_progress_ms; /* a message arrived, or the partition was seen idle */
    int stall_seeks;          /* re-fetches since the last message */
    int64_t next_mute_ms;     /* silences and acknowledgements are read again then */
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
    struct log_ratelimit reject_rl, error_rl;
    struct pipeline_stats stats;
    volatile const int *stop;
};

struct pipeline *pipeline_new(struct config *cfg, char *err, size_t err_len)
{
    struct pipeline *pl = calloc(1, sizeof *pl);
    if (pl == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    pl->cfg = cfg;
    log_ratelimit_init(&pl->reject_rl, 5, 20);
    log_ratelimit_init(&pl->error_rl, 1, 5);
    pl->store = store_new(cfg);
    struct sink *sinks[CW_MAX_SINKS];
    size_t n = 0;
    if (cfg->alerts_topic) {
        sinks[n] = sink_kafka_new(cfg);
        if (sinks[n] == NULL) {
            snprintf(err, err_len, "cannot create the Kafka alerts producer");
            goto fail;
        }
        n++;
    }
    if (cfg->sink_log) {
        sinks[n] = sink_log_new();
        if (sinks[n] == NULL) {
            snprintf(err, err_len, "out of memory");
            for (size_t i = 0; i < n; i++)
                sink_free(sinks[i]);
            goto fail;
        }
        n++;
    }
    pl->outbox = outbox_new(pl->store, sinks, n);
    if (pl->store == NULL || pl->outbox == NULL) {
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
    return pl;
fail:
    pipeline_free(pl);
    return NULL;
}

int pipeline_wait_store(struct pipeline *pl, volatile const int *stop)
{
    pl->stop = stop;
    while (!*stop) {
        if (store_connect(pl->store) == 0)
            return 0;
        notify_watchdog();
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
    int rc = partition_commit(p, pl->store, &alerts);
    if (rc == 0 && p->stats.commits > before.commits) {
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

static void on_assign(struct pipeline *pl, rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int t = topic_index(pl->cfg, tp->topic);
        if (t < 0 || ensure_slots(pl, tp->partition) < 0)
            continue;
        struct partition *p = owned(pl, tp->partition);
        if (p == NULL) {
            struct partition_meta meta;
            /* Claiming needs Redis; without it we cannot know where to start. */
            while (store_claim(pl->store, tp->partition, &meta) < 0) {
                if (pl->stop && *pl->stop) {
                    /* librdkafka waits for an assign call: answer with nothing */
                    rd_kafka_assign(pl->rk, NULL);
                    return;
                }
                notify_watchdog();
                clock_sleep_ms(200);
            }
            p = partition_new(tp->partition, pl->cfg, &meta);
            if (p == NULL) {
                log_error("partition %" PRId32 ": out of memory", tp->partition);
                abort();
            }
            /* events held back for engine.lateness are part of what Redis holds */
            while (store_load_held(pl->store, tp->partition, &p->held) < 0) {
                late_buffer_free(&p->held);
                if (pl->stop && *pl->stop) {
                    partition_free(p);
                    rd_kafka_assign(pl->rk, NULL);
                    return;
                }
                notify_watchdog();
                clock_sleep_ms(200);
            }
            /* silences, acknowledgements and what silences kept back (mute.h) */
            while (store_mute_read(pl->store, tp->partition, &p->mute, true) < 0) {
                mute_set_free(&p->mute);
                if (pl->stop && *pl->stop) {
                    partition_free(p);
                    rd_kafka_assign(pl->rk, NULL);
                    return;
                }
                notify_watchdog();
                clock_sleep_ms(200);
            }
            pl->slot[tp->partition].part = p;
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

static void reject(struct pipeline *pl, const rd_kafka_message_t *m, enum reject_reason why,
                   const char *msg)
{
    pl->stats.rejected[why]++;
    uint64_t suppressed;
    const char *topic = rd_kafka_topic_name(m->rkt);
    if (log_ratelimit_allow(&pl->reject_rl, &suppressed)) {
        if (suppressed)
            log_warn("%" PRIu64 " rejected messages not logged (rate limit)", suppressed);
        log_warn("%s/%" PRId32 "/%" PRId64 ": rejected (%s): %s", topic, m->partition, m->offset,
                 reject_reason_name(why), msg);
    }
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
        uint64_t suppressed;
        if (log_ratelimit_allow(&pl->error_rl, &suppressed))
            log_warn("kafka: %s", rd_kafka_message_errstr(m));
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
    pl->slot[m->partition].last_progress_ms = now_mono;
    pl->slot[m->partition].stall_seeks = 0;
    enum reject_reason why;
    char msg[256];
    if (decode_event(&pl->cfg->topics[t], pl->cfg->max_message_bytes, m->payload, m->len, &q->ev,
                     &why, msg, sizeof msg) < 0) {
        q->rejected = true;
        reject(pl, m, why, msg);
    } else if (too_far_ahead(pl->cfg, &q->ev, now_wall, msg, sizeof msg)) {
        /* one such event would move its partition's event clock years ahead and fire
         * every timer of every customer there */
        q->rejected = true;
        reject(pl, m, REJ_BAD_TIMESTAMP, msg);
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
        /* The sweep trails the clock by engine.lateness, so an event that arrives late
         * (up to that much) is still applied before the timers it could prevent. */
        int64_t clock = p->clock_ms;
        int64_t wall = pl->cfg->clock == CLOCK_WALL ? clock_wall_ms() : INT64_MIN;
        if (wall > clock)
            clock = wall;
        clock = late_watermark(clock, pl->cfg->lateness_ms);
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

int pipeline_run_once(struct pipeline *pl)
{
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
    return pl->fatal ? -1 : 0;
}

void pipeline_reload(struct pipeline *pl, struct config *next)
{
    struct config *cur = pl->cfg;
    if (strcmp(cur->brokers, next->brokers) != 0 || strcmp(cur->group_id, next->group_id) != 0 ||
        cur->n_topics != next->n_topics || cur->redis_port != next->redis_port ||
        strcmp(cur->redis_host, next->redis_host) != 0)
        log_warn("reload: Kafka or Redis settings changed; they apply after a restart");
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
    cur->log_level = next->log_level;
    log_set_level((enum log_level)cur->log_level);
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
