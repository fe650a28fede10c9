/* sink_webhook.c — alerts to an HTTP endpoint (docs/sinks.md). Each request is a POST of a
 * JSON array of up to max_alerts alert objects, exactly as they are in the outbox
 * (DESIGN.md §4), in outbox order, one request at a time (http_client.h: libcurl multi,
 * polled from the main loop). With a secret, a request carries
 *
 *   X-Churnwatch-Timestamp: <unix seconds when it was signed>
 *   X-Churnwatch-Signature: sha256=<hex HMAC-SHA256(secret, timestamp "." body)>
 *
 * A 2xx answer delivers the request's alerts. Anything else (another status, a time-out, a
 * refused connection or certificate) settles the batch with the alerts before that
 * request delivered: the outbox sends the rest again after its back-off, with the same
 * alert_ids, so a receiver may see an alert twice but never misses one. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "hmac.h"
#include "http_client.h"
#include "log.h"
#include "secret.h"
#include "sink.h"
#include "vec.h"

struct sink_webhook {
    struct sink base;
    struct http_client *http;
    char *secret; /* owned (secret_free); NULL: requests are not signed */
    size_t max_alerts;
    /* the outbox batch being delivered: borrowed until settle returns true */
    const struct outbox_batch *batch;
    size_t pos;       /* entries handed to a request (the end of the one in flight) */
    size_t delivered; /* leading entries confirmed (2xx) */
    bool failed;
    bool in_flight;
    char *body; /* owned, reused */
    size_t body_cap;
    struct log_ratelimit rl;
};

int sink_webhook_sign(const char *secret, const char *timestamp, const char *body, size_t len,
                      char out[SINK_WEBHOOK_SIGNATURE_MAX])
{
    char hex[HMAC_SHA256_HEX_LEN + 1];
    struct hmac_part parts[] = {{timestamp, strlen(timestamp)}, {".", 1}, {body, len}};
    if (hmac_sha256_hex(secret, strlen(secret), parts, 3, hex) < 0)
        return -1;
    snprintf(out, SINK_WEBHOOK_SIGNATURE_MAX, "sha256=%s", hex);
    return 0;
}

/* Builds "[a,b,...]" of entries [start, end) into w->body. Returns its length, or 0 on
 * ENOMEM. */
static size_t build_body(struct sink_webhook *w, size_t start, size_t end)
{
    size_t len = 2;
    for (size_t i = start; i < end; i++)
        len += w->batch->e[i].json_len + 1;
    char *b = vec_reserve(w->body, &w->body_cap, len + 1, 1, 4096);
    if (b == NULL)
        return 0;
    w->body = b;
    size_t o = 0;
    w->body[o++] = '[';
    for (size_t i = start; i < end; i++) {
        if (i > start)
            w->body[o++] = ',';
        memcpy(w->body + o, w->batch->e[i].json, w->batch->e[i].json_len);
        o += w->batch->e[i].json_len;
    }
    w->body[o++] = ']';
    w->body[o] = '\0';
    return o;
}

/* Starts the request for the next entries; on failure marks the batch failed. */
static void start_request(struct sink_webhook *w)
{
    size_t start = w->pos, n = w->batch->n - start;
    size_t end = start + (n < w->max_alerts ? n : w->max_alerts);
    size_t len = build_body(w, start, end);
    if (len == 0) {
        log_error("webhook sink: out of memory");
        w->failed = true;
        return;
    }
    char ts_header[64], sig_header[32 + SINK_WEBHOOK_SIGNATURE_MAX], ts[24];
    const char *extra[2] = {ts_header, sig_header};
    size_t n_extra = 0;
    if (w->secret != NULL) {
        char sig[SINK_WEBHOOK_SIGNATURE_MAX];
        snprintf(ts, sizeof ts, "%" PRId64, clock_wall_ms() / 1000);
        if (sink_webhook_sign(w->secret, ts, w->body, len, sig) < 0) {
            log_error("webhook sink: cannot sign the request (libcrypto)");
            w->failed = true;
            return;
        }
        snprintf(ts_header, sizeof ts_header, "X-Churnwatch-Timestamp: %s", ts);
        snprintf(sig_header, sizeof sig_header, "X-Churnwatch-Signature: %s", sig);
        n_extra = 2;
    }
    if (http_client_post(w->http, w->body, len, extra, n_extra) < 0) {
        w->failed = true;
        return;
    }
    w->in_flight = true;
    w->pos = end;
}

static void pump(struct sink_webhook *w)
{
    for (int k = 0; k < 4; k++) {
        if (w->in_flight) {
            struct http_result r;
            int rc = http_client_poll(w->http, &r);
            if (rc == 0)
                return;
            w->in_flight = false;
            if (rc == 1 && http_status_ok(r.status)) {
                w->delivered = w->pos;
            } else {
                char what[64];
                snprintf(what, sizeof what, "a request of %zu alerts", w->pos - w->delivered);
                if (rc == 1)
                    http_result_log("webhook sink", what, &r, &w->rl);
                w->failed = true;
            }
        }
        if (w->batch == NULL || w->failed || w->pos >= w->batch->n)
            return;
        start_request(w);
    }
}

static int sink_webhook_submit(struct sink *s, const struct outbox_batch *b)
{
    struct sink_webhook *w = (struct sink_webhook *)s;
    w->batch = b;
    w->pos = w->delivered = 0;
    w->failed = false;
    return 0;
}

static bool sink_webhook_settle(struct sink *s, size_t *delivered)
{
    struct sink_webhook *w = (struct sink_webhook *)s;
    pump(w);
    if (w->in_flight || (w->batch && !w->failed && w->pos < w->batch->n))
        return false;
    *delivered = w->delivered;
    w->batch = NULL;
    return true;
}

static void sink_webhook_free(struct sink *s)
{
    struct sink_webhook *w = (struct sink_webhook *)s;
    http_client_free(w->http);
    secret_free(w->secret);
    free(w->body);
    free(w);
}

static const struct sink_ops sink_webhook_ops = {sink_webhook_submit, sink_webhook_settle, NULL,
                                                 sink_webhook_free, NULL};

struct sink *sink_webhook_new(const struct config *cfg)
{
    const struct http_sink_config *hs = &cfg->sink_webhook;
    struct sink_webhook *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->base.ops = &sink_webhook_ops;
    strcpy(w->base.name, "webhook");
    w->max_alerts = hs->max_alerts > 0 ? hs->max_alerts : 1;
    log_ratelimit_init(&w->rl, 0.2, 3);
    if (hs->secret != NULL && (w->secret = strdup(hs->secret)) == NULL) {
        free(w);
        return NULL;
    }
    w->http = http_client_new("webhook sink", hs, NULL);
    if (w->http == NULL) {
        sink_webhook_free(&w->base);
        return NULL;
    }
    log_info("webhook sink: %s, up to %zu alerts per request, %s", hs->url, w->max_alerts,
             w->secret ? "signed" : "not signed");
    return &w->base;
}
