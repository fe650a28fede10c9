/* sink_alertmanager.c — alerts to Prometheus Alertmanager (docs/sinks.md): POST
 * /api/v2/alerts with a JSON array of up to max_alerts alerts (am_alert.h makes them), one
 * request at a time (http_client.h: libcurl multi, polled from the main loop), so that
 * nothing this sink sends overtakes what it sent before.
 *
 * Alertmanager forgets an alert at its endsAt. A firing notice goes out with endsAt = now
 * + 3 x resend_interval, and every firing alert is sent again every resend_interval until
 * its resolved notice, whose endsAt is when the condition cleared. The alerts to re-send
 * are kept in Redis per partition, P:{pN}:sink:alertmanager:firing (alert_id -> the
 * Alertmanager object without endsAt), so they survive a restart and move with their
 * partition to another instance; each instance re-sends the hashes of the partitions it
 * owns (the outbox tells it, sink_ops.partition), the first time as soon as it owns one.
 *
 * The hash is written before the request that carries the notices (write-ahead): a
 * resolved notice removes its alert from the hash before it is sent, so no re-send can
 * carry the older firing state after it. A failed request leaves the hash written and the
 * outbox sends the same notices again after its back-off.
 *
 * Labels identify an alert in Alertmanager. When a firing alert's labels change (its
 * level, hence severity, or its tier), the alert with the old labels is resolved in the
 * same request; a resolved notice carries the labels the alert was last sent with. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "am_alert.h"
#include "clock.h"
#include "http_client.h"
#include "log.h"
#include "sink.h"

#define AM_HASH "firing"
#define AM_PATH "/api/v2/alerts"
#define AM_LIFETIME_FACTOR 3    /* endsAt = now + this x resend_interval */
#define AM_RESEND_RETRY_MS 5000 /* a failed re-send round starts again after this (at most) */
/* the rate limit source of the lines about entries that are not valid alerts */
#define AM_BAD_SOURCE "alertmanager sink: invalid alerts"

struct am_partition {
    bool owned;
    bool scanning;   /* a re-send round is under way (HSCAN cursor below) */
    int64_t next_ms; /* monotonic: the next round */
    int64_t round_start_ms;
    char cursor[32];
};

enum am_job { AM_IDLE, AM_CHUNK, AM_RESEND };

struct sink_am {
    struct sink base;
    struct store *store; /* borrowed: the pipeline's, freed after its sinks */
    struct http_client *http;
    char *generator_url; /* owned; NULL = none */
    int64_t resend_ms, lifetime_ms;
    size_t max_alerts;
    struct am_partition *parts; /* owned, indexed by partition number */
    int32_t n_parts;
    int32_t next_p; /* round-robin start for re-sends */
    /* the outbox batch being delivered: borrowed until settle returns true */
    const struct outbox_batch *batch;
    size_t pos;       /* entries handed to a request or skipped (AM_CHUNK: up to its end) */
    size_t delivered; /* leading entries confirmed */
    bool failed;
    /* the request in flight */
    enum am_job job;
    int32_t resend_p;  /* AM_RESEND: its partition */
    size_t job_alerts; /* alerts in it */
    bool resend_turn;  /* a due re-send goes before the next chunk (neither starves) */
    struct log_ratelimit rl, bad_rl;
};

static void retry_resend(struct sink_am *am, int32_t p)
{
    if (p < 0 || p >= am->n_parts)
        return;
    am->parts[p].scanning = false;
    int64_t wait = am->resend_ms < AM_RESEND_RETRY_MS ? am->resend_ms : AM_RESEND_RETRY_MS;
    am->parts[p].next_ms = clock_mono_ms() + wait;
}

/* ---- notices of the outbox batch ---- */

/* Replaces alert's labels with a copy of labels. */
static bool set_labels(cJSON *alert, const cJSON *labels)
{
    cJSON *copy = cJSON_Duplicate(labels, true);
    if (copy == NULL)
        return false;
    return cJSON_ReplaceItemInObjectCaseSensitive(alert, "labels", copy);
}

struct chunk {
    size_t n;
    struct am_notice *notice; /* n; alert NULL when skipped or handed to arr */
    cJSON **alert;            /* n: notice i's alert once in the request (owned by arr) */
    int32_t *part;
    char **prev;  /* stored objects (HGET), owned */
    char **value; /* objects to store (HSET), owned */
    struct sink_hash_op *ops;
};

/* The labels notice i's alert was last sent with, firing: from an earlier notice in this
 * request, else from its stored object (parsed into *prev_obj, which the caller frees).
 * NULL when it is not firing. */
static const cJSON *last_firing_labels(const struct chunk *c, size_t i, cJSON **prev_obj)
{
    const char *id = c->notice[i].alert_id;
    for (size_t j = i; j-- > 0;)
        if (c->alert[j] && strcmp(c->notice[j].alert_id, id) == 0)
            return c->notice[j].firing ? cJSON_GetObjectItemCaseSensitive(c->alert[j], "labels")
                                       : NULL;
    *prev_obj = c->prev[i] ? cJSON_Parse(c->prev[i]) : NULL;
    return cJSON_GetObjectItemCaseSensitive(*prev_obj, "labels");
}

static void chunk_free(struct chunk *c)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->notice)
            am_notice_clear(&c->notice[i]);
        if (c->prev)
            free(c->prev[i]);
        if (c->value)
            cJSON_free(c->value[i]);
    }
    free(c->notice);
    free(c->alert);
    free(c->part);
    free(c->prev);
    free(c->value);
    free(c->ops);
}

/* Adds notice i to arr with its endsAt, resolving first the old labels of an alert whose
 * labels changed, and queues its hash update. Returns false on ENOMEM. */
static bool chunk_add(struct sink_am *am, struct chunk *c, size_t i, cJSON *arr, int64_t now,
                      size_t *n_ops)
{
    struct am_notice *nt = &c->notice[i];
    cJSON *prev_obj = NULL;
    const cJSON *old = last_firing_labels(c, i, &prev_obj);
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(nt->alert, "labels");
    bool ok = true;
    if (nt->firing) {
        if (old && !cJSON_Compare(old, labels, true)) {
            cJSON *gone = cJSON_Duplicate(nt->alert, true);
            ok = gone && set_labels(gone, old) && am_alert_set_ends(gone, now) == 0 &&
                 cJSON_AddItemToArray(arr, gone);
            if (!ok)
                cJSON_Delete(gone);
        }
        if (ok)
            ok = (c->value[i] = cJSON_PrintUnformatted(nt->alert)) != NULL;
        if (ok) {
            c->ops[(*n_ops)++] =
                (struct sink_hash_op){c->part[i], nt->alert_id, c->value[i], strlen(c->value[i])};
            ok = am_alert_set_ends(nt->alert, now + am->lifetime_ms) == 0;
        }
    } else {
        if (old)
            ok = set_labels(nt->alert, old);
        if (ok)
            ok = am_alert_set_ends(nt->alert, nt->resolved_ms) == 0;
        if (ok)
            c->ops[(*n_ops)++] = (struct sink_hash_op){c->part[i], nt->alert_id, NULL, 0};
    }
    cJSON_Delete(prev_obj);
    if (ok && cJSON_AddItemToArray(arr, nt->alert)) {
        c->alert[i] = nt->alert;
        nt->alert = NULL; /* arr owns it */
        return true;
    }
    return false;
}

/* Starts the request for the next notices of the batch; on failure marks it failed. */
static void start_chunk(struct sink_am *am)
{
    const struct outbox_batch *b = am->batch;
    size_t start = am->pos, left = b->n - start;
    struct chunk c = {.n = left < am->max_alerts ? left : am->max_alerts};
    size_t end = start + c.n, n_ids = 0, n_ops = 0;
    cJSON *arr = cJSON_CreateArray();
    char *body = NULL;
    c.notice = calloc(c.n, sizeof *c.notice);
    c.alert = calloc(c.n, sizeof *c.alert);
    c.part = calloc(c.n, sizeof *c.part);
    c.prev = calloc(c.n, sizeof *c.prev);
    c.value = calloc(c.n, sizeof *c.value);
    c.ops = calloc(c.n, sizeof *c.ops);
    if (!arr || !c.notice || !c.alert || !c.part || !c.prev || !c.value || !c.ops)
        goto oom;
    for (size_t i = 0; i < c.n; i++) {
        const struct outbox_entry *e = &b->e[start + i];
        const char *why;
        c.part[i] = e->partition;
        if (am_notice_parse(e->json, e->json_len, am->generator_url, &c.notice[i], &why) < 0) {
            log_limited(&am->bad_rl, AM_BAD_SOURCE, LOG_LVL_ERROR,
                        "alertmanager sink: outbox entry %s of partition %" PRId32 " skipped: %s",
                        e->id, e->partition, why);
        }
    }
    /* the stored objects, for the labels the alerts were last sent with */
    int32_t *parts = calloc(c.n, sizeof *parts);
    const char **ids = calloc(c.n, sizeof *ids);
    char **prev = calloc(c.n, sizeof *prev);
    int rc = parts && ids && prev ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < c.n; i++)
        if (c.notice[i].alert) {
            parts[n_ids] = c.part[i];
            ids[n_ids++] = c.notice[i].alert_id;
        }
    if (rc == 0)
        rc = store_sink_hash_get(am->store, am->base.name, AM_HASH, n_ids, parts, ids, prev);
    for (size_t i = 0, k = 0; rc == 0 && i < c.n; i++)
        if (c.notice[i].alert)
            c.prev[i] = prev[k++];
    free(parts);
    free(ids);
    free(prev);
    if (rc < 0)
        goto fail;
    int64_t now = clock_wall_ms();
    for (size_t i = 0; i < c.n; i++)
        if (c.notice[i].alert && !chunk_add(am, &c, i, arr, now, &n_ops))
            goto oom;
    /* write-ahead: see the top of the file */
    if (store_sink_hash_apply(am->store, am->base.name, AM_HASH, c.ops, n_ops) < 0)
        goto fail;
    if (cJSON_GetArraySize(arr) == 0) { /* nothing but malformed entries */
        am->pos = am->delivered = end;
        goto out;
    }
    body = cJSON_PrintUnformatted(arr);
    if (body == NULL)
        goto oom;
    if (http_client_post(am->http, body, strlen(body), NULL, 0) < 0)
        goto fail;
    am->job = AM_CHUNK;
    am->job_alerts = (size_t)cJSON_GetArraySize(arr);
    am->pos = end;
    goto out;
oom:
    log_error("alertmanager sink: out of memory");
fail:
    am->failed = true;
out:
    cJSON_free(body);
    cJSON_Delete(arr);
    chunk_free(&c);
}

/* ---- re-sends of the firing alerts ---- */

struct resend {
    cJSON *arr;
    int64_t ends_ms;
    size_t bad;
};

static void resend_one(void *arg, const char *field, const char *value, size_t len)
{
    struct resend *r = arg;
    (void)field;
    cJSON *a = cJSON_ParseWithLength(value, len);
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(a, "labels")) ||
        am_alert_set_ends(a, r->ends_ms) < 0 || !cJSON_AddItemToArray(r->arr, a)) {
        cJSON_Delete(a);
        r->bad++;
    }
}

/* The partition whose firing alerts are due for a re-send (one in the middle of a round
 * first), or -1. */
static int32_t resend_due(struct sink_am *am, int64_t now)
{
    for (int32_t k = 0; k < am->n_parts; k++) {
        int32_t p = (am->next_p + k) % am->n_parts;
        const struct am_partition *ap = &am->parts[p];
        if (ap->owned && (ap->scanning || now >= ap->next_ms))
            return p;
    }
    return -1;
}

/* Sends the next step (HSCAN) of partition p's round. */
static void start_resend(struct sink_am *am, int32_t p)
{
    struct am_partition *ap = &am->parts[p];
    int64_t now = clock_mono_ms();
    if (!ap->scanning) {
        ap->scanning = true;
        ap->round_start_ms = now;
        strcpy(ap->cursor, "0");
    }
    struct resend r = {cJSON_CreateArray(), clock_wall_ms() + am->lifetime_ms, 0};
    if (r.arr == NULL || store_sink_hash_scan(am->store, p, am->base.name, AM_HASH, ap->cursor,
                                              am->max_alerts, resend_one, &r) < 0) {
        cJSON_Delete(r.arr);
        retry_resend(am, p);
        return;
    }
    if (r.bad > 0) {
        log_limited(&am->bad_rl, AM_BAD_SOURCE, LOG_LVL_ERROR,
                    "alertmanager sink: partition %" PRId32 ": %zu stored firing alerts are "
                    "not valid Alertmanager objects and are not re-sent",
                    p, r.bad);
    }
    if (strcmp(ap->cursor, "0") == 0) { /* the round is complete once this step is sent */
        ap->scanning = false;
        ap->next_ms = ap->round_start_ms + am->resend_ms;
        am->next_p = (p + 1) % am->n_parts;
    }
    size_t n = (size_t)cJSON_GetArraySize(r.arr);
    char *body = n > 0 ? cJSON_PrintUnformatted(r.arr) : NULL;
    cJSON_Delete(r.arr);
    if (n == 0)
        return;
    if (body == NULL || http_client_post(am->http, body, strlen(body), NULL, 0) < 0) {
        cJSON_free(body);
        retry_resend(am, p);
        return;
    }
    cJSON_free(body);
    am->job = AM_RESEND;
    am->resend_p = p;
    am->job_alerts = n;
}

/* ---- the state machine, driven by submit, settle and poll ---- */

static void finish_job(struct sink_am *am, int rc, const struct http_result *r)
{
    bool ok = rc == 1 && http_status_ok(r->status);
    char what[96];
    if (am->job == AM_CHUNK) {
        if (ok)
            am->delivered = am->pos; /* the end of the chunk in flight */
        else
            am->failed = true;
        snprintf(what, sizeof what, "a request of %zu alerts", am->job_alerts);
    } else {
        if (!ok)
            retry_resend(am, am->resend_p);
        else
            log_debug("alertmanager sink: partition %" PRId32 ": %zu firing alerts re-sent",
                      am->resend_p, am->job_alerts);
        snprintf(what, sizeof what, "a re-send of %zu firing alerts (partition %" PRId32 ")",
                 am->job_alerts, am->resend_p);
    }
    if (!ok && rc == 1)
        http_result_log("alertmanager sink", what, r, &am->rl);
    am->job = AM_IDLE;
}

static void pump(struct sink_am *am)
{
    for (int k = 0; k < 8; k++) {
        if (am->job != AM_IDLE) {
            struct http_result r;
            int rc = http_client_poll(am->http, &r);
            if (rc == 0)
                return;
            finish_job(am, rc, &r);
        }
        bool chunk = am->batch && !am->failed && am->pos < am->batch->n;
        int32_t p = resend_due(am, clock_mono_ms());
        if (chunk && (p < 0 || !am->resend_turn)) {
            start_chunk(am);
            am->resend_turn = true;
        } else if (p >= 0) {
            start_resend(am, p);
            am->resend_turn = false;
        } else {
            return;
        }
    }
}

static int sink_am_submit(struct sink *s, const struct outbox_batch *b)
{
    struct sink_am *am = (struct sink_am *)s;
    am->batch = b;
    am->pos = am->delivered = 0;
    am->failed = false;
    return 0;
}

static bool sink_am_settle(struct sink *s, size_t *delivered)
{
    struct sink_am *am = (struct sink_am *)s;
    pump(am);
    if (am->batch == NULL) {
        *delivered = 0;
        return true;
    }
    if (am->job == AM_CHUNK || (!am->failed && am->pos < am->batch->n))
        return false;
    *delivered = am->delivered;
    am->batch = NULL;
    return true;
}

static void sink_am_poll(struct sink *s)
{
    pump((struct sink_am *)s);
}

static void sink_am_partition(struct sink *s, int32_t p, bool owned)
{
    struct sink_am *am = (struct sink_am *)s;
    if (p < 0)
        return;
    if (p >= am->n_parts) {
        if (!owned)
            return;
        struct am_partition *np = realloc(am->parts, (size_t)(p + 1) * sizeof *np);
        if (np == NULL) {
            log_error("alertmanager sink: out of memory: partition %" PRId32 "'s firing "
                      "alerts are not re-sent",
                      p);
            return;
        }
        memset(np + am->n_parts, 0, (size_t)(p + 1 - am->n_parts) * sizeof *np);
        am->parts = np;
        am->n_parts = p + 1;
    }
    /* a new owner re-sends at once: the alerts may be close to their endsAt */
    am->parts[p] = (struct am_partition){.owned = owned, .next_ms = clock_mono_ms()};
}

static void sink_am_free(struct sink *s)
{
    struct sink_am *am = (struct sink_am *)s;
    http_client_free(am->http);
    free(am->generator_url);
    free(am->parts);
    free(am);
}

static const struct sink_ops sink_am_ops = {sink_am_submit, sink_am_settle, sink_am_poll,
                                            sink_am_free, sink_am_partition};

struct sink *sink_alertmanager_new(const struct config *cfg, struct store *store)
{
    const struct http_sink_config *hs = &cfg->sink_alertmanager;
    struct sink_am *am = calloc(1, sizeof *am);
    if (am == NULL)
        return NULL;
    am->base.ops = &sink_am_ops;
    strcpy(am->base.name, "alertmanager");
    am->store = store;
    am->resend_ms = hs->resend_interval_ms;
    am->lifetime_ms = AM_LIFETIME_FACTOR * hs->resend_interval_ms;
    am->max_alerts = hs->max_alerts > 0 ? hs->max_alerts : 1;
    log_ratelimit_init(&am->rl, 0.2, 3);
    log_ratelimit_init(&am->bad_rl, 0.2, 3);
    /* the API path goes after the base URL, unless the URL already ends with it */
    size_t len = strlen(hs->url);
    while (len > 0 && hs->url[len - 1] == '/')
        len--;
    char *url = malloc(len + sizeof AM_PATH);
    if (url != NULL) {
        memcpy(url, hs->url, len);
        url[len] = '\0';
        if (len < strlen(AM_PATH) || strcmp(url + len - strlen(AM_PATH), AM_PATH) != 0)
            strcat(url, AM_PATH);
        am->http = http_client_new("alertmanager sink", hs, url);
    }
    if (hs->generator_url)
        am->generator_url = strdup(hs->generator_url);
    if (url == NULL || am->http == NULL || (hs->generator_url && am->generator_url == NULL)) {
        free(url);
        sink_am_free(&am->base);
        return NULL;
    }
    log_info("alertmanager sink: %s, firing alerts re-sent every %" PRId64 " s (endsAt %" PRId64
             " s ahead)",
             url, am->resend_ms / 1000, am->lifetime_ms / 1000);
    free(url);
    return &am->base;
}
