/* partition.c — see partition.h. */
#include "partition.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "decode.h"
#include "log.h"
#include "rules.h"
#include "vec.h"

struct partition *partition_new(int32_t id, const struct config *cfg,
                                const struct partition_meta *meta)
{
    struct partition *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->id = id;
    p->epoch = meta->epoch;
    p->clock_ms = meta->clock_ms;
    p->tiers = meta->tiers;
    p->n_topics = cfg->n_topics;
    p->max_cached = cfg->max_cached_customers;
    p->next_offset = malloc(cfg->n_topics * sizeof *p->next_offset);
    p->applied_offset = malloc(cfg->n_topics * sizeof *p->applied_offset);
    p->committed_offset = malloc(cfg->n_topics * sizeof *p->committed_offset);
    p->customers = customer_table_new();
    p->spend_idx = spend_index_new();
    if (p->next_offset == NULL || p->applied_offset == NULL || p->committed_offset == NULL ||
        p->customers == NULL || p->spend_idx == NULL) {
        partition_free(p);
        return NULL;
    }
    /* offsets, clock and cut-offs are committed with every customer: none stored, no
     * customer stored */
    p->cache_complete = meta->clock_ms == 0 && meta->tiers.week == TIER_WEEK_NONE;
    for (size_t t = 0; t < cfg->n_topics; t++) {
        if (t < 64 && meta->offset[t] >= 0)
            p->cache_complete = false;
        p->next_offset[t] = t < 64 ? meta->offset[t] : -1;
        p->applied_offset[t] = -1;
        p->committed_offset[t] = p->next_offset[t];
    }
    p->tiers_complete = p->cache_complete;
    p->risk_indexed = meta->risk_indexed || p->cache_complete;
    if (!p->risk_indexed) {
        /* state from before the at-risk set: list the customers at risk, once */
        log_info("partition %" PRId32 ": building the at-risk set (churnwatch top) from the "
                 "stored customers",
                 id);
        p->risk_rebuild = true;
        partition_start_rescan(p);
    }
    return p;
}

void partition_free(struct partition *p)
{
    if (p == NULL)
        return;
    free(p->next_offset);
    free(p->applied_offset);
    free(p->committed_offset);
    customer_table_free(p->customers);
    spend_index_free(p->spend_idx);
    late_buffer_free(&p->held);
    mute_set_free(&p->mute);
    alert_list_free(&p->mute_scratch);
    free(p->dirty);
    alert_list_free(&p->alerts);
    free(p->queue);
    free(p);
}

/* Room for queued events kept by a partition that got none in its last batch (a queued
 * event is ~780 bytes: struct event holds its ids and texts in fixed arrays). */
#define QUEUE_KEEP 64

struct queued_event *partition_enqueue(struct partition *p, int topic, int64_t offset)
{
    if (p->next_offset[topic] >= 0 && offset < p->next_offset[topic])
        return NULL;
    struct queued_event *grown =
        vec_reserve(p->queue, &p->queue_cap, p->n_queued + 1, sizeof *grown, QUEUE_KEEP);
    if (grown == NULL) {
        log_error("partition %" PRId32 ": out of memory queueing an event", p->id);
        abort();
    }
    p->queue = grown;
    p->next_offset[topic] = offset + 1;
    struct queued_event *q = &p->queue[p->n_queued++];
    q->topic = topic;
    q->offset = offset;
    q->rejected = false;
    return q;
}

/* Out of memory while applying events leaves memory ahead of what can be committed; the
 * daemon aborts and the restart resumes from the state and offsets in Redis. */
static void out_of_memory(const struct partition *p)
{
    log_error("partition %" PRId32 ": out of memory applying events; aborting", p->id);
    abort();
}

static void mark_dirty(struct partition *p, struct customer *c)
{
    if (c->dirty)
        return;
    struct customer **d = vec_reserve(p->dirty, &p->dirty_cap, p->n_dirty + 1, sizeof *d, 256);
    if (d == NULL)
        out_of_memory(p);
    p->dirty = d;
    p->dirty[p->n_dirty++] = c;
    c->dirty = 1;
}

/* Makes sure every customer in ids[0..n) is in memory: the missing ones are inserted
 * fresh and then overwritten by what Redis holds, in one pipeline. On a Redis error the
 * inserted ones are removed again. */
static int load_missing(struct partition *p, struct store *store, const char *const *ids, size_t n)
{
    if (n == 0)
        return 0;
    const char **missing = malloc(n * sizeof *missing);
    struct customer **slots = malloc(n * sizeof *slots);
    bool *found = malloc(n);
    size_t m = 0;
    int rc = missing && slots && found ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bool created;
        struct customer *c = customer_table_upsert(p->customers, ids[i], &created);
        if (c == NULL)
            rc = -1;
        else if (created) {
            missing[m] = ids[i];
            slots[m] = c;
            m++;
        }
    }
    if (rc == 0)
        rc = store_load(store, p->id, m, missing, slots, found);
    for (size_t i = 0; i < m; i++) {
        if (rc == 0) {
            slots[i]->dirty = 0;
            /* what Redis lists: the stored state at risk, once the set is kept */
            slots[i]->risk_listed = found[i] && p->risk_indexed && rules_at_risk(slots[i]);
            /* in memory now, and authoritative: no longer counted from the index */
            if (found[i])
                spend_index_remove(p->spend_idx, missing[i]);
        } else {
            char id[CW_ID_MAX + 1];
            strcpy(id, missing[i]);
            customer_table_remove(p->customers, id);
        }
    }
    free(missing);
    free(slots);
    free(found);
    return rc;
}

/* Formats the notices for the outbox, minus what operators silenced or acknowledged
 * (mute.h): those are dropped or held for the end of the silence. */
static void record_notices(struct partition *p, const struct config *cfg, struct customer *c,
                           const struct notice_list *nl)
{
    if (nl->count == 0)
        return;
    if (!mute_any(&p->mute)) {
        if (alert_format_all(cfg, c, nl, &p->alerts) < 0)
            out_of_memory(p);
        return;
    }
    int64_t now = clock_wall_ms(); /* silences are set in wall-clock time */
    for (int i = 0; i < nl->count; i++) {
        const struct notice *n = &nl->n[i];
        char id[CW_ALERT_ID_LEN + 1];
        alert_id(c->id, n->rule, n->started_ms, id);
        switch (mute_decide(&p->mute, c->id, n, id, now)) {
        case MUTE_SEND:
            if (alert_format(cfg, c, n, &p->alerts) < 0)
                out_of_memory(p);
            break;
        case MUTE_HOLD:
            alert_list_clear(&p->mute_scratch);
            if (alert_format(cfg, c, n, &p->mute_scratch) < 0)
                out_of_memory(p);
            mute_hold(&p->mute, c->id, alert_list_get(&p->mute_scratch, 0),
                      p->mute_scratch.length[0]);
            log_debug("partition %" PRId32 ": %s %s resolved: held (silenced)", p->id, c->id,
                      rule_name(n->rule));
            break;
        case MUTE_DROP:
            log_debug("partition %" PRId32 ": %s %s %s: not sent (%s)", p->id, c->id,
                      rule_name(n->rule), n->firing ? "firing" : "resolved",
                      mute_silence_find(&p->mute, c->id) ? "silenced" : "acknowledged");
            break;
        }
    }
}

#define TIER_SCAN_STEP 512

/* Reads the customers of p that are in Redis but not in memory: into memory while the
 * cache stays within its share of engine.max_cached_customers (then the cache is
 * complete), beyond that only their spend, into p's spend index. Afterwards the tiers are
 * complete: later weeks need no scan. Returns 0 or -1 (Redis error or ENOMEM). */
static int scan_stored_spend(struct partition *p, struct store *store)
{
    bool complete = true;
    struct id_list ids = {0};
    const char **missing = NULL;
    struct customer *tmp = NULL;
    struct customer **slots = NULL;
    bool *found = NULL;
    size_t cap_tmp = 0;
    char cursor[32] = "0";
    int rc = 0;

    while (rc == 0) {
        size_t m = 0;
        if (store_scan_customers(store, p->id, cursor, TIER_SCAN_STEP, &ids) < 0) {
            rc = -1;
            break;
        }
        if (ids.n > cap_tmp) { /* SCAN may return more than it was asked for */
            free(missing);
            free(tmp);
            free(slots);
            free(found);
            cap_tmp = ids.n;
            missing = malloc(cap_tmp * sizeof *missing);
            tmp = malloc(cap_tmp * sizeof *tmp);
            slots = malloc(cap_tmp * sizeof *slots);
            found = malloc(cap_tmp * sizeof *found);
            if (missing == NULL || tmp == NULL || slots == NULL || found == NULL) {
                rc = -1;
                break;
            }
            for (size_t i = 0; i < cap_tmp; i++)
                slots[i] = &tmp[i];
        }
        for (size_t i = 0; i < ids.n; i++)
            if (customer_table_find(p->customers, ids.id[i]) == NULL)
                missing[m++] = ids.id[i];
        if (complete && customer_table_count(p->customers) + m <= p->max_cached) {
            if (load_missing(p, store, missing, m) < 0) {
                rc = -1;
                break;
            }
            m = 0;
        } else {
            complete = false;
        }
        if (m > 0 && store_load(store, p->id, m, missing, slots, found) < 0) {
            rc = -1;
            break;
        }
        for (size_t i = 0; rc == 0 && i < m; i++)
            if (found[i] && spend_index_put(p->spend_idx, &tmp[i]) < 0)
                rc = -1;
        if (strcmp(cursor, "0") == 0)
            break;
    }
    id_list_free(&ids);
    free(missing);
    free(tmp);
    free(slots);
    free(found);
    if (rc < 0)
        return -1;
    p->cache_complete = complete;
    p->tiers_complete = true;
    return 0;
}

/* Computes p's tier cut-offs for the week of clock_ms over all its customers: those in
 * memory (which are current) and those only in Redis (from the spend index, filled by a
 * scan when it is not complete). Returns 0 or -1. */
static int update_tiers(struct partition *p, const struct config *cfg, struct store *store,
                        int64_t clock_ms)
{
    int64_t week = cw_week_of(clock_ms);
    struct tier_sample sample = {0};

    int rc = p->tiers_complete ? 0 : scan_stored_spend(p, store);
    if (rc == 0)
        rc = tier_sample_add_table(&sample, cfg, p->customers, week);
    if (rc == 0)
        rc = tier_sample_add_index(&sample, cfg, p->spend_idx, week);
    if (rc == 0) {
        char from[32];
        tier_cutoffs_compute(cfg, &sample, week, &p->tiers);
        format_rfc3339(week * CW_SPEND_BUCKET_MS, from);
        log_info("partition %" PRId32 ": tiers for the week from %.10s: %" PRIu32
                 " buyers, key from %.2f, strategic from %.2f",
                 p->id, from, p->tiers.buyers,
                 p->tiers.key_cents == UINT64_MAX ? 0.0 : (double)p->tiers.key_cents / 100.0,
                 p->tiers.strategic_cents == UINT64_MAX ? 0.0
                                                       : (double)p->tiers.strategic_cents / 100.0);
        p->uncommitted = true;
    }
    tier_sample_free(&sample);
    return rc;
}

void partition_reset_tiers(struct partition *p)
{
    p->tiers.week = TIER_WEEK_NONE;
}

/* Makes the tier cut-offs current for an event at ts_ms. Returns 0 or -1. */
static int ensure_tiers(struct partition *p, const struct config *cfg, struct store *store,
                        int64_t ts_ms)
{
    if (!tier_cutoffs_stale(cfg, &p->tiers, ts_ms))
        return 0;
    return update_tiers(p, cfg, store, ts_ms);
}

/* Applies one event whose customer is in memory and whose tier cut-offs are current. */
static void apply_one(struct partition *p, const struct config *cfg, const struct event *ev)
{
    struct notice_list nl;
    struct customer *c = customer_table_find(p->customers, ev->customer_id);
    nl.count = 0;
    int tier = tier_derive(cfg, &p->tiers, c, ev->ts_ms);
    if (rules_apply_event_tier(cfg, c, ev, tier, &nl) == APPLY_DUPLICATE) {
        p->stats.duplicates++;
        return;
    }
    p->stats.applied++;
    mark_dirty(p, c);
    record_notices(p, cfg, c, &nl);
    p->uncommitted = true;
}

/* Applies the held events due by `watermark`, earliest first. Returns 0 or -1 (Redis: a
 * customer to load, or the tier cut-offs; the event stays held). */
static int release_held(struct partition *p, const struct config *cfg, struct store *store,
                        int64_t watermark)
{
    struct event ev;
    while (late_buffer_peek(&p->held, &ev) && ev.ts_ms <= watermark) {
        const char *id = ev.customer_id;
        if (ensure_tiers(p, cfg, store, ev.ts_ms) < 0 ||
            (customer_table_find(p->customers, id) == NULL && load_missing(p, store, &id, 1) < 0))
            return -1;
        late_buffer_pop(&p->held);
        apply_one(p, cfg, &ev);
    }
    return 0;
}

int partition_process(struct partition *p, const struct config *cfg, struct store *store)
{
    if (p->n_queued == 0)
        return 0;
    const char **ids = malloc(p->n_queued * sizeof *ids);
    if (ids == NULL)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < p->n_queued; i++)
        if (!p->queue[i].rejected && customer_table_find(p->customers,
                                                         p->queue[i].ev.customer_id) == NULL)
            ids[n++] = p->queue[i].ev.customer_id;
    int rc = load_missing(p, store, ids, n);
    free(ids);
    if (rc < 0)
        return -1;

    int64_t lateness = cfg->lateness_ms > 0 ? cfg->lateness_ms : 0;
    for (size_t i = 0; i < p->n_queued; i++) {
        struct queued_event *q = &p->queue[i];
        if (!q->rejected) {
            if (q->ev.ts_ms > p->clock_ms)
                p->clock_ms = q->ev.ts_ms;
            int64_t watermark = late_watermark(p->clock_ms, lateness);
            int step = release_held(p, cfg, store, watermark);
            if (step == 0 && lateness > 0 && q->ev.ts_ms > watermark) {
                uint64_t order = (uint64_t)q->topic << 56 | ((uint64_t)q->offset & ((1ull << 56) - 1));
                if (late_buffer_push(&p->held, &q->ev, order) < 0)
                    out_of_memory(p);
            } else if (step == 0 && (step = ensure_tiers(p, cfg, store, q->ev.ts_ms)) == 0) {
                if (lateness > 0)
                    p->stats.late++;
                apply_one(p, cfg, &q->ev);
            }
            if (step < 0) {
                /* keep what is not applied or held yet, in order, for the next call */
                memmove(p->queue, p->queue + i, (p->n_queued - i) * sizeof *p->queue);
                p->n_queued -= i;
                return -1;
            }
        }
        p->applied_offset[q->topic] = q->offset + 1;
        p->uncommitted = true;
    }
    p->queue_used = p->n_queued;
    p->n_queued = 0;
    return 0;
}

void partition_trim_queue(struct partition *p)
{
    size_t used = p->queue_used;
    p->queue_used = 0;
    if (p->n_queued > 0)
        return; /* not applied yet (Redis away, or a full outbox): the room is in use */
    /* The room is kept while batches use a good part of it (shrinking and regrowing every
     * batch would only copy), and given back otherwise: a burst (a whole batch for one
     * partition, poll_batch_max events) is returned at the next batch, whether or not the
     * partition gets events then. Kept at most: 4 x what the last batch queued, or
     * 2 x QUEUE_KEEP. */
    size_t keep = 2 * used > QUEUE_KEEP ? 2 * used : QUEUE_KEEP;
    if (p->queue_cap <= 2 * keep)
        return;
    struct queued_event *q = realloc(p->queue, keep * sizeof *q);
    if (q != NULL) {
        p->queue = q;
        p->queue_cap = keep;
    }
}

int partition_sweep(struct partition *p, const struct config *cfg, struct store *store,
                    int64_t now_ms, size_t max)
{
    if (p->n_queued > 0)
        return 0; /* apply queued events first, in order */
    if (release_held(p, cfg, store, now_ms) < 0)
        return -1;
    char(*due)[CW_ID_MAX + 1] = malloc(max * sizeof *due);
    const char **ids = malloc(max * sizeof *ids);
    int rc = -1;
    size_t n = 0;
    if (due == NULL || ids == NULL)
        goto out;
    if (store_due(store, p->id, now_ms, max, due, &n) < 0)
        goto out;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (customer_table_find(p->customers, due[i]) == NULL)
            ids[m++] = due[i];
    if (load_missing(p, store, ids, m) < 0)
        goto out;
    struct notice_list nl;
    int advanced = 0;
    for (size_t i = 0; i < n; i++) {
        struct customer *c = customer_table_find(p->customers, due[i]);
        nl.count = 0;
        rules_advance(cfg, c, now_ms, &nl);
        /* Marked even when nothing changed: Redis listed it as due, so its due time there
         * is stale (or its state did not decode) and the commit must correct it, or it
         * would stay at the head of the due set. */
        mark_dirty(p, c);
        record_notices(p, cfg, c, &nl);
        p->uncommitted = true;
        advanced++;
    }
    rc = advanced;
out:
    free(due);
    free(ids);
    return rc;
}

struct rescan_ctx {
    struct partition *p;
    const struct config *cfg;
    int64_t now_ms;
};

static void rescan_one(struct rescan_ctx *x, struct customer *c)
{
    struct notice_list nl;
    nl.count = 0;
    int64_t due = c->next_due_ms;
    bool changed = rules_advance(x->cfg, c, x->now_ms, &nl);
    /* building the at-risk set: a customer at risk it does not list yet is written */
    if (changed || c->next_due_ms != due ||
        (x->p->risk_rebuild && rules_at_risk(c) && !c->risk_listed)) {
        mark_dirty(x->p, c);
        record_notices(x->p, x->cfg, c, &nl);
        x->p->uncommitted = true;
    }
    x->p->rescanned++;
}

static void rescan_cached(void *ctx, struct customer *c)
{
    rescan_one(ctx, c);
}

/* Ends a re-evaluation: every customer of p has been re-evaluated. */
static int rescan_done(struct partition *p)
{
    log_info("partition %" PRId32 ": re-evaluated %" PRIu64 " customers with the new "
             "thresholds",
             p->id, p->rescanned);
    p->rescan_cursor[0] = '\0';
    p->rescanned = 0;
    if (p->risk_rebuild) {
        p->risk_rebuild = false;
        p->risk_indexed = true; /* the next commit writes "@risk" */
        p->uncommitted = true;
    }
    return 0;
}

int partition_rescan(struct partition *p, const struct config *cfg, struct store *store,
                     int64_t now_ms, size_t max)
{
    if (p->rescan_cursor[0] == '\0' || p->n_queued > 0)
        return p->rescan_cursor[0] != '\0';
    struct rescan_ctx x = {p, cfg, now_ms};
    bool first = strcmp(p->rescan_cursor, "0") == 0 && p->rescanned == 0;
    if (first)
        customer_table_each(p->customers, rescan_cached, &x);
    if (first && p->cache_complete)
        return rescan_done(p); /* nothing only in Redis */
    struct id_list ids = {0};
    const char **missing = NULL;
    size_t m = 0;
    int rc = -1;
    if (store_scan_customers(store, p->id, p->rescan_cursor, max, &ids) < 0)
        goto out;
    if (ids.n > 0 && (missing = malloc(ids.n * sizeof *missing)) == NULL)
        goto out;
    for (size_t i = 0; i < ids.n; i++)
        if (customer_table_find(p->customers, ids.id[i]) == NULL)
            missing[m++] = ids.id[i];
    if (load_missing(p, store, missing, m) < 0)
        goto out;
    /* cached customers were re-evaluated on the first step; the loaded ones now */
    for (size_t i = 0; i < m; i++)
        rescan_one(&x, customer_table_find(p->customers, missing[i]));
    rc = strcmp(p->rescan_cursor, "0") == 0 ? rescan_done(p) : 1;
out:
    id_list_free(&ids);
    free(missing);
    return rc;
}

void partition_start_rescan(struct partition *p)
{
    strcpy(p->rescan_cursor, "0");
    p->rescanned = 0;
}

struct index_ctx {
    struct spend_index *idx;
    int rc;
};

static void index_one(void *ctx, struct customer *c)
{
    struct index_ctx *x = ctx;
    if (x->rc == 0 && spend_index_put(x->idx, c) < 0)
        x->rc = -1;
}

int partition_commit(struct partition *p, struct store *store,
                     size_t *alerts_written)
{
    *alerts_written = 0;
    if (!p->uncommitted)
        return 0;
    struct store_batch b = {
        .partition = p->id,
        .epoch = p->epoch,
        .customers = p->dirty,
        .n_customers = p->n_dirty,
        .alerts = &p->alerts,
        .offsets = p->applied_offset,
        .clock_ms = p->clock_ms,
        .tiers = &p->tiers,
        .held = &p->held,
        .risk_indexed = p->risk_indexed,
        .mute = &p->mute,
    };
    int rc = store_commit(store, &b);
    if (rc != 0)
        return rc;
    *alerts_written = p->alerts.count;
    for (size_t i = 0; i < p->alerts.count; i++) {
        const struct alert_kind *k = &p->alerts.kind[i];
        if (k->rule < RULE__COUNT && k->level <= LEVEL_ALARM)
            p->stats.alerts_written[k->rule][k->level][k->firing]++;
    }
    for (size_t t = 0; t < p->n_topics; t++)
        if (p->applied_offset[t] >= 0)
            p->committed_offset[t] = p->applied_offset[t];
    for (size_t i = 0; i < p->n_dirty; i++) {
        p->dirty[i]->dirty = 0;
        p->dirty[i]->risk_listed = rules_at_risk(p->dirty[i]);
    }
    mute_committed(&p->mute);
    p->n_dirty = 0;
    alert_list_clear(&p->alerts);
    late_buffer_committed(&p->held);
    p->uncommitted = false;
    p->stats.commits++;
    /* Everything in memory is now in Redis: bound memory by dropping the cache. */
    if (customer_table_count(p->customers) > p->max_cached) {
        struct customer_table *fresh = customer_table_new();
        if (fresh) {
            /* their spend stays countable for the tier cut-offs without a scan */
            struct index_ctx x = {p->spend_idx, 0};
            if (p->tiers_complete)
                customer_table_each(p->customers, index_one, &x);
            if (x.rc < 0)
                p->tiers_complete = false; /* ENOMEM: the next cut-offs scan Redis */
            customer_table_free(p->customers);
            p->customers = fresh;
            p->cache_complete = false;
        }
    }
    return 0;
}

bool partition_matches(const struct partition *p, const struct partition_meta *meta)
{
    if (meta->epoch != p->epoch)
        return false;
    for (size_t t = 0; t < p->n_topics && t < 64; t++)
        if (meta->offset[t] != p->committed_offset[t])
            return false;
    return true;
}

/* A summary of p's silences and acknowledgements, logged when it changes. */
static void mute_log(struct partition *p)
{
    const struct mute_set *m = &p->mute;
    uint64_t sig = cw_hash64(&m->n_sil, sizeof m->n_sil, m->n_ack + 1);
    for (size_t i = 0; i < m->n_sil; i++) {
        sig = cw_hash64(m->sil[i].customer, strlen(m->sil[i].customer), sig);
        sig = cw_hash64(&m->sil[i].until_ms, sizeof m->sil[i].until_ms, sig);
    }
    for (size_t i = 0; i < m->n_ack; i++)
        sig = cw_hash64(m->ack[i].alert_id, strlen(m->ack[i].alert_id), sig);
    bool quiet = p->mute_sig == 0 && m->n_sil == 0 && m->n_ack == 0; /* none since claim */
    if (sig == p->mute_sig || quiet) {
        p->mute_sig = sig;
        return;
    }
    p->mute_sig = sig;
    char sil[512] = "", ack[512] = "";
    size_t a = 0, b = 0;
    for (size_t i = 0; i < m->n_sil && a < sizeof sil - 1; i++) {
        char until[32];
        format_rfc3339(m->sil[i].until_ms, until);
        int n = snprintf(sil + a, sizeof sil - a, "%s%s until %s", i ? ", " : "",
                         m->sil[i].customer, until);
        a += n > 0 ? (size_t)n : 0;
    }
    for (size_t i = 0; i < m->n_ack && b < sizeof ack - 1; i++) {
        int n = snprintf(ack + b, sizeof ack - b, "%s%s", i ? ", " : "", m->ack[i].alert_id);
        b += n > 0 ? (size_t)n : 0;
    }
    log_info("partition %" PRId32 ": silenced customers: %zu [%s]; acknowledged alerts: %zu [%s]",
             p->id, m->n_sil, sil, m->n_ack, ack);
}

#define MUTE_ENDS_MAX 64 /* silences ended per refresh */

/* Ends the silence of customer c (in memory): held notices, then the firing alerts again. */
static void end_silence(struct partition *p, const struct config *cfg, struct customer *c,
                        int64_t clock_ms)
{
    struct notice_list nl;
    nl.count = 0;
    rules_resend_active(cfg, c, clock_ms, &nl);
    char *const *held;
    size_t n_held, sent = 0;
    for (int i = 0; i < nl.count; i++) { /* before mute_end: it forgets the unseen ones */
        struct notice *n = &nl.n[i];
        char id[CW_ALERT_ID_LEN + 1];
        alert_id(c->id, n->rule, n->started_ms, id);
        n->silence_ended = true;
        n->repeat = !mute_unseen(&p->mute, c->id, id);
        if (mute_ack_find(&p->mute, id) != NULL)
            n->rule = RULE__COUNT; /* acknowledged: no reminder */
    }
    mute_end(&p->mute, c->id, &held, &n_held);
    for (size_t i = 0; i < n_held; i++, sent++)
        if (alert_list_append(&p->alerts, c->id, alert_kind_parse(held[i], strlen(held[i])),
                              held[i], strlen(held[i])) < 0)
            out_of_memory(p);
    for (int i = 0; i < nl.count; i++) {
        if (nl.n[i].rule == RULE__COUNT)
            continue;
        if (alert_format(cfg, c, &nl.n[i], &p->alerts) < 0)
            out_of_memory(p);
        sent++;
    }
    p->uncommitted = true;
    log_info("partition %" PRId32 ": silence of customer %s ended: %zu held resolved notices "
             "and %zu firing alerts sent",
             p->id, c->id, n_held, sent - n_held);
}

int partition_mute_refresh(struct partition *p, const struct config *cfg, struct store *store,
                           int64_t now_ms, int64_t clock_ms)
{
    if (p->n_queued > 0)
        return 0; /* apply queued events first */
    if (store_mute_read(store, p->id, &p->mute, false) < 0)
        return -1;
    mute_log(p);
    if (!mute_any(&p->mute))
        return 0; /* nothing silenced, nothing held: no silence can end (the usual case) */
    char(*ids)[CW_ID_MAX + 1] = malloc(MUTE_ENDS_MAX * sizeof *ids);
    const char **missing = malloc(MUTE_ENDS_MAX * sizeof *missing);
    int rc = ids && missing ? 0 : -1;
    size_t n = rc == 0 ? mute_due_ends(&p->mute, now_ms, ids, MUTE_ENDS_MAX) : 0, m = 0;
    for (size_t i = 0; i < n; i++)
        if (customer_table_find(p->customers, ids[i]) == NULL)
            missing[m++] = ids[i];
    if (n > 0 && load_missing(p, store, missing, m) < 0)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < n; i++)
        end_silence(p, cfg, customer_table_find(p->customers, ids[i]), clock_ms);
    free(ids);
    free(missing);
    return rc;
}
