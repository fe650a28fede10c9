/* http_client.h — one HTTP POST at a time without blocking the main loop, over libcurl's
 * multi interface: the HTTP sinks (sinks/sink_alertmanager.c, sinks/sink_webhook.c) start
 * a request and poll it once per loop iteration. The connection is kept alive between
 * requests. Redirects are not followed unless asked; TLS certificates and host names are
 * verified unless asked not to. */
#ifndef CW_HTTP_CLIENT_H
#define CW_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct http_client;

/* What a finished request gave. */
struct http_result {
    long status;    /* HTTP status of the last response; 0 when there was none */
    char what[320]; /* for a log line: the transport error, or the start of the response
                     * body (control characters replaced), and a redirect not followed */
};

/* A client for hs (url, timeout, TLS, redirects, headers). `url` overrides hs->url when
 * not NULL. Copies what it needs from hs. Returns NULL on error (logged with `name`).
 * Free with http_client_free (accepts NULL; aborts a request in flight). */
struct http_client *http_client_new(const char *name, const struct http_sink_config *hs,
                                    const char *url);
void http_client_free(struct http_client *h);

/* Starts a POST of body[0..len) (copied) with Content-Type: application/json, the
 * configured headers and extra[0..n_extra) ("Name: value" lines). Returns 0, or -1 when a
 * request is in flight or libcurl refused it (logged). */
int http_client_post(struct http_client *h, const char *body, size_t len, const char *const *extra,
                     size_t n_extra);
/* Drives the request in flight without blocking. Returns 0 while it runs, 1 when it has
 * finished (*r filled; the client is free for the next one), -1 when none is in flight. */
int http_client_poll(struct http_client *h, struct http_result *r);

/* Logs a failed request (not 2xx) of sink `name`, rate-limited by rl with log_limited
 * (`name` is the source of its "N similar lines suppressed" summary): `what` says what
 * was sent ("5 alerts"). A refusal that needs a person (4xx other than 408 and 429) is an
 * error, the rest (5xx, 408, 429, 3xx, no answer) a warning. */
struct log_ratelimit;
void http_result_log(const char *name, const char *what, const struct http_result *r,
                     struct log_ratelimit *rl);

/* True for a status that counts as delivered (2xx). */
static inline bool http_status_ok(long status)
{
    return status >= 200 && status < 300;
}

#endif
