/* outbox.c — see outbox.h. */
#include "outbox.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

#define OUTBOX_READ_MAX 256   /* entries read from one partition's outbox at a time */
#define OUTBOX_BATCH_MAX 2048 /* entries handed to a sink at a time, all partitions */
#define RETRY_MIN_MS 500
#define RETRY_MAX_MS 30000

struct outbox_partition {
    bool owned;
    bool pending[CW_MAX_SINKS];
    bool cursor_loaded[CW_MAX_SINKS];
    char cursor[CW_MAX_SINKS][CW_STREAM_ID_MAX];
};

struct outbox_sink {
    struct sink *sink;
    bool busy;
    struct outbox_batch batch;
    int64_t retry_at_ms;
    int retry_ms;
    int32_t next_p; /* round-robin start */
    uint64_t delivered;
    uint64_t failures;        /* batches not wholly delivered */
    int64_t failing_since_ms; /* first failure of the current run of them, 0 = none */
};

struct outbox {
    struct store *store;
    struct outbox_sink sinks[CW_MAX_SINKS];
    size_t n_sinks;
    struct outbox_partition *parts; /* indexed by partition number */
    int32_t n_parts;
};

struct outbox *outbox_new(struct store *store, struct sink **sinks, size_t n)
{
    if (n > CW_MAX_SINKS)
        return NULL;
    struct outbox *o = calloc(1, sizeof *o);
    if (o == NULL)
        return NULL;
    o->store = store;
    for (size_t i = 0; i < n; i++) {
        o->sinks[i].sink = sinks[i];
        o->sinks[i].retry_ms = RETRY_MIN_MS;
        sinks[i] = NULL;
    }
    o->n_sinks = n;
    return o;
}

void outbox_free(struct outbox *o)
{
    if (o == NULL)
        return;
    for (size_t i = 0; i < o->n_sinks; i++) {
        struct outbox_sink *os = &o->sinks[i];
        if (os->busy) {
            size_t k;
            /* Give an in-flight batch a moment to settle; unsettled entries stay in the
             * outbox and are delivered again by the next owner (same alert_id). */
            for (int t = 0; t < 50 && !os->sink->ops->settle(os->sink, &k); t++)
                clock_sleep_ms(100);
        }
        outbox_batch_clear(&os->batch);
        sink_free(os->sink);
    }
    free(o->parts);
    free(o);
}

static struct outbox_partition *part(struct outbox *o, int32_t p, bool create)
{
    if (p < 0)
        return NULL;
    if (p >= o->n_parts) {
        if (!create)
            return NULL;
        int32_t n = p + 1;
        struct outbox_partition *np = realloc(o->parts, (size_t)n * sizeof *np);
        if (np == NULL)
            return NULL;
        memset(np + o->n_parts, 0, (size_t)(n - o->n_parts) * sizeof *np);
        o->parts = np;
        o->n_parts = n;
    }
    return &o->parts[p];
}

void outbox_partition_add(struct outbox *o, int32_t p)
{
    struct outbox_partition *op = part(o, p, true);
    if (op == NULL)
        return;
    memset(op, 0, sizeof *op);
    op->owned = true;
    for (size_t i = 0; i < o->n_sinks; i++) {
        op->pending[i] = true;
        if (o->sinks[i].sink->ops->partition)
            o->sinks[i].sink->ops->partition(o->sinks[i].sink, p, true);
    }
}

void outbox_partition_remove(struct outbox *o, int32_t p)
{
    struct outbox_partition *op = part(o, p, false);
    if (op)
        memset(op, 0, sizeof *op);
    for (size_t i = 0; i < o->n_sinks; i++)
        if (o->sinks[i].sink->ops->partition)
            o->sinks[i].sink->ops->partition(o->sinks[i].sink, p, false);
}

void outbox_mark_pending(struct outbox *o, int32_t p)
{
    struct outbox_partition *op = part(o, p, false);
    if (op && op->owned)
        for (size_t i = 0; i < o->n_sinks; i++)
            op->pending[i] = true;
}

/* Compares stream ids "ms-seq" numerically. */
static int stream_id_cmp(const char *a, const char *b)
{
    unsigned long long am = strtoull(a, (char **)&a, 10), bm = strtoull(b, (char **)&b, 10);
    if (am != bm)
        return am < bm ? -1 : 1;
    unsigned long long as = *a == '-' ? strtoull(a + 1, NULL, 10) : 0;
    unsigned long long bs = *b == '-' ? strtoull(b + 1, NULL, 10) : 0;
    return as < bs ? -1 : as > bs;
}

/* Saves sink si's cursor of partition p at `id` (delivered up to there) and trims what
 * every sink has delivered. */
static void outbox_ack(struct outbox *o, size_t si, int32_t p, const char *id)
{
    struct outbox_sink *os = &o->sinks[si];
    struct outbox_partition *op = part(o, p, false);
    if (op == NULL || !op->owned)
        return;
    strcpy(op->cursor[si], id);
    const char *trim = op->cursor[si];
    for (size_t j = 0; j < o->n_sinks; j++) {
        if (!op->cursor_loaded[j]) {
            trim = NULL;
            break;
        }
        if (stream_id_cmp(op->cursor[j], trim) < 0)
            trim = op->cursor[j];
    }
    if (store_outbox_ack(o->store, p, os->sink->name, op->cursor[si], trim) < 0)
        op->pending[si] = true; /* cursor not saved: a later ack saves it */
}

static void outbox_settled(struct outbox *o, size_t si, size_t delivered)
{
    struct outbox_sink *os = &o->sinks[si];
    struct outbox_batch *b = &os->batch;
    os->busy = false;
    os->delivered += delivered;
    /* the delivered entries are a prefix; each partition's are together */
    for (size_t i = 0; i < delivered; i++)
        if (i + 1 == delivered || b->e[i + 1].partition != b->e[i].partition)
            outbox_ack(o, si, b->e[i].partition, b->e[i].id);
    if (delivered < b->n) {
        os->failures++;
        if (os->failing_since_ms == 0)
            os->failing_since_ms = clock_mono_ms();
        os->retry_at_ms = clock_mono_ms() + os->retry_ms;
        log_warn("sink %s: %zu of %zu alerts (from partition %" PRId32
                 ") not delivered; retrying in %d ms",
                 os->sink->name, b->n - delivered, b->n, b->e[delivered].partition,
                 os->retry_ms);
        os->retry_ms = os->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : os->retry_ms * 2;
    } else {
        os->retry_ms = RETRY_MIN_MS;
        os->failing_since_ms = 0;
    }
    outbox_batch_clear(b);
}

/* Delivers, per call, one batch of up to OUTBOX_BATCH_MAX alerts gathered from every
 * partition with undelivered ones (round-robin start), so that a sink keeps up with all
 * partitions in one round instead of one partition per loop iteration. */
static void outbox_run_sink(struct outbox *o, size_t si)
{
    struct outbox_sink *os = &o->sinks[si];
    if (os->busy) {
        size_t delivered;
        if (!os->sink->ops->settle(os->sink, &delivered))
            return;
        outbox_settled(o, si, delivered);
    } else if (os->sink->ops->poll) {
        os->sink->ops->poll(os->sink);
    }
    if (clock_mono_ms() < os->retry_at_ms || o->n_parts == 0)
        return;
    int32_t start = os->next_p % o->n_parts;
    for (int32_t k = 0; k < o->n_parts && os->batch.n < OUTBOX_BATCH_MAX; k++) {
        int32_t p = (start + k) % o->n_parts;
        struct outbox_partition *op = &o->parts[p];
        if (!op->owned || !op->pending[si])
            continue;
        if (!op->cursor_loaded[si]) {
            if (store_sink_cursor(o->store, p, os->sink->name, op->cursor[si]) < 0)
                break;
            op->cursor_loaded[si] = true;
        }
        size_t added;
        if (store_outbox_read(o->store, p, op->cursor[si], OUTBOX_READ_MAX, &os->batch,
                              &added) < 0)
            break; /* Redis: deliver what was read, the rest next time */
        if (added == 0)
            op->pending[si] = false;
        else
            os->next_p = (p + 1) % o->n_parts;
    }
    if (os->batch.n == 0)
        return;
    if (os->sink->ops->submit(os->sink, &os->batch) < 0) {
        outbox_settled(o, si, 0);
        return;
    }
    os->busy = true;
    size_t delivered;
    if (os->sink->ops->settle(os->sink, &delivered))
        outbox_settled(o, si, delivered);
}

void outbox_run(struct outbox *o)
{
    for (size_t i = 0; i < o->n_sinks; i++)
        outbox_run_sink(o, i);
}

bool outbox_idle(const struct outbox *o)
{
    for (size_t i = 0; i < o->n_sinks; i++) {
        if (o->sinks[i].busy)
            return false;
        for (int32_t p = 0; p < o->n_parts; p++)
            if (o->parts[p].owned && o->parts[p].pending[i])
                return false;
    }
    return true;
}

uint64_t outbox_delivered(const struct outbox *o, size_t sink)
{
    return sink < o->n_sinks ? o->sinks[sink].delivered : 0;
}

size_t outbox_sinks(const struct outbox *o)
{
    return o->n_sinks;
}

const char *outbox_sink_name(const struct outbox *o, size_t sink)
{
    return sink < o->n_sinks ? o->sinks[sink].sink->name : "";
}

uint64_t outbox_failures(const struct outbox *o, size_t sink)
{
    return sink < o->n_sinks ? o->sinks[sink].failures : 0;
}

int64_t outbox_failing_since(const struct outbox *o, size_t sink)
{
    return sink < o->n_sinks ? o->sinks[sink].failing_since_ms : 0;
}
