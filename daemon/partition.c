/* partition.c — see partition.h. */
#include "partition.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rules.h"

struct partition *partition_new(int32_t id, const struct config *cfg,
                                const struct partition_meta *meta)
{
    struct partition *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->id = id;
    p->epoch = meta->epoch;
    p->clock_ms = meta->clock_ms;
    p->n_topics = cfg->n_topics;
    p->next_offset = malloc(cfg->n_topics * sizeof *p->next_offset);
    p->applied_offset = malloc(cfg->n_topics * sizeof *p->applied_offset);
    p->committed_offset = malloc(cfg->n_topics * sizeof *p->committed_offset);
    p->customers = customer_table_new();
    if (p->next_offset == NULL || p->applied_offset == NULL || p->committed_offset == NULL ||
        p->customers == NULL) {
        partition_free(p);
        return NULL;
    }
    for (size_t t = 0; t < cfg->n_topics; t++) {
        p->next_offset[t] = t < 64 ? meta->offset[t] : -1;
        p->applied_offset[t] = -1;
        p->committed_offset[t] = p->next_offset[t];
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
    free(p->dirty);
    alert_list_free(&p->alerts);
    free(p->queue);
    free(p);
}

struct queued_event *partition_enqueue(struct partition *p, int topic, int64_t offset)
{
    if (p->next_offset[topic] >= 0 && offset < p->next_offset[topic])
        return NULL;
    if (p->n_queued == p->queue_cap) {
        size_t n = p->queue_cap ? p->queue_cap * 2 : 256;
        struct queued_event *q = realloc(p->queue, n * sizeof *q);
        if (q == NULL) {
            log_error("partition %" PRId32 ": out of memory queueing an event", p->id);
            abort();
        }
        p->queue = q;
        p->queue_cap = n;
    }
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
    if (p->n_dirty == p->dirty_cap) {
        size_t n = p->dirty_cap ? p->dirty_cap * 2 : 256;
        struct customer **d = realloc(p->dirty, n * sizeof *d);
        if (d == NULL)
            out_of_memory(p);
        p->dirty = d;
        p->dirty_cap = n;
    }
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

static void record_notices(struct partition *p, const struct config *cfg, struct customer *c,
                           const struct notice_list *nl)
{
    if (nl->count == 0)
        return;
    if (alert_format_all(cfg, c, nl, &p->alerts) < 0)
        out_of_memory(p);
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

    struct notice_list nl;
    for (size_t i = 0; i < p->n_queued; i++) {
        struct queued_event *q = &p->queue[i];
        p->applied_offset[q->topic] = q->offset + 1;
        p->uncommitted = true;
        if (q->rejected)
            continue;
        struct customer *c = customer_table_find(p->customers, q->ev.customer_id);
        nl.count = 0;
        if (rules_apply_event(cfg, c, &q->ev, &nl) == APPLY_DUPLICATE) {
            p->stats.duplicates++;
            continue;
        }
        p->stats.applied++;
        if (q->ev.ts_ms > p->clock_ms)
            p->clock_ms = q->ev.ts_ms;
        mark_dirty(p, c);
        record_notices(p, cfg, c, &nl);
    }
    p->n_queued = 0;
    return 0;
}

int partition_sweep(struct partition *p, const struct config *cfg, struct store *store,
                    int64_t now_ms, size_t max)
{
    if (p->n_queued > 0)
        return 0; /* apply queued events first, in order */
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
    if (changed || c->next_due_ms != due) {
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

int partition_rescan(struct partition *p, const struct config *cfg, struct store *store,
                     int64_t now_ms, size_t max)
{
    if (p->rescan_cursor[0] == '\0' || p->n_queued > 0)
        return p->rescan_cursor[0] != '\0';
    struct rescan_ctx x = {p, cfg, now_ms};
    bool first = strcmp(p->rescan_cursor, "0") == 0 && p->rescanned == 0;
    if (first)
        customer_table_each(p->customers, rescan_cached, &x);
    char(*ids)[CW_ID_MAX + 1] = malloc(max * sizeof *ids);
    const char **missing = calloc(max, sizeof *missing);
    size_t n = 0, m = 0;
    int rc = -1;
    if (ids == NULL || missing == NULL)
        goto out;
    if (store_scan_customers(store, p->id, p->rescan_cursor, max, ids, &n) < 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (customer_table_find(p->customers, ids[i]) == NULL)
            missing[m++] = ids[i];
    if (load_missing(p, store, missing, m) < 0)
        goto out;
    /* cached customers were re-evaluated on the first step; the loaded ones now */
    for (size_t i = 0; i < m; i++)
        rescan_one(&x, customer_table_find(p->customers, missing[i]));
    if (strcmp(p->rescan_cursor, "0") == 0) {
        log_info("partition %" PRId32 ": re-evaluated %" PRIu64 " customers with the new "
                 "thresholds",
                 p->id, p->rescanned);
        p->rescan_cursor[0] = '\0';
        p->rescanned = 0;
        rc = 0;
    } else {
        rc = 1;
    }
out:
    free(ids);
    free(missing);
    return rc;
}

void partition_start_rescan(struct partition *p)
{
    strcpy(p->rescan_cursor, "0");
    p->rescanned = 0;
}

int partition_commit(struct partition *p, struct store *store, size_t max_customers,
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
    };
    int rc = store_commit(store, &b);
    if (rc != 0)
        return rc;
    *alerts_written = p->alerts.count;
    for (size_t t = 0; t < p->n_topics; t++)
        if (p->applied_offset[t] >= 0)
            p->committed_offset[t] = p->applied_offset[t];
    for (size_t i = 0; i < p->n_dirty; i++)
        p->dirty[i]->dirty = 0;
    p->n_dirty = 0;
    alert_list_clear(&p->alerts);
    p->uncommitted = false;
    p->stats.commits++;
    /* Everything in memory is now in Redis: bound memory by dropping the cache. */
    if (customer_table_count(p->customers) > max_customers) {
        struct customer_table *fresh = customer_table_new();
        if (fresh) {
            customer_table_free(p->customers);
            p->customers = fresh;
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
