/* http_client.c — see http_client.h. */
#include "http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "secret.h"

#define REPLY_KEEP 256 /* bytes of a response body kept for the log */

struct http_client {
    char name[32];
    CURLM *multi;
    CURL *easy;
    char **headers; /* "Name: value", the configured ones; owned */
    size_t n_headers;
    struct curl_slist *req_headers; /* the request in flight's */
    bool busy;
    char errbuf[CURL_ERROR_SIZE];
    char reply[REPLY_KEEP + 1];
    size_t reply_len;
};

/* libcurl's global set-up, once per process (libcurl 7.84 and later make it thread-safe;
 * it runs here before any request, from the main thread). */
static int http_global_init(void)
{
    static bool done;
    if (done)
        return 0;
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        log_error("libcurl: %s", curl_easy_strerror(rc));
        return -1;
    }
    done = true;
    return 0;
}

static size_t keep_reply(char *data, size_t size, size_t n, void *arg)
{
    struct http_client *h = arg;
    size_t len = size * n;
    size_t room = REPLY_KEEP - h->reply_len;
    size_t take = len < room ? len : room;
    memcpy(h->reply + h->reply_len, data, take);
    h->reply_len += take;
    h->reply[h->reply_len] = '\0';
    return len;
}

void http_client_free(struct http_client *h)
{
    if (h == NULL)
        return;
    if (h->busy)
        curl_multi_remove_handle(h->multi, h->easy);
    if (h->easy)
        curl_easy_cleanup(h->easy);
    if (h->multi)
        curl_multi_cleanup(h->multi);
    curl_slist_free_all(h->req_headers);
    for (size_t i = 0; i < h->n_headers; i++)
        secret_free(h->headers[i]); /* may hold a credential */
    free(h->headers);
    free(h);
}

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(h->easy, opt, val);                                              \
    } while (0)

struct http_client *http_client_new(const char *name, const struct http_sink_config *hs,
                                    const char *url)
{
    if (http_global_init() < 0)
        return NULL;
    struct http_client *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    snprintf(h->name, sizeof h->name, "%s", name);
    h->multi = curl_multi_init();
    h->easy = curl_easy_init();
    h->headers = calloc(hs->n_headers + 1, sizeof *h->headers);
    if (h->multi == NULL || h->easy == NULL || h->headers == NULL) {
        log_error("%s: cannot set up libcurl: out of memory", name);
        http_client_free(h);
        return NULL;
    }
    for (size_t i = 0; i < hs->n_headers; i++) {
        size_t len = strlen(hs->headers[i].key) + strlen(hs->headers[i].value) + 3;
        h->headers[i] = malloc(len);
        if (h->headers[i] == NULL) {
            log_error("%s: out of memory", name);
            http_client_free(h);
            return NULL;
        }
        snprintf(h->headers[i], len, "%s: %s", hs->headers[i].key, hs->headers[i].value);
        h->n_headers++;
    }
    CURLcode rc = CURLE_OK;
    SETOPT(CURLOPT_URL, url ? url : hs->url);
    SETOPT(CURLOPT_NOSIGNAL, 1L); /* no SIGALRM for DNS time-outs: librdkafka has threads */
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_USERAGENT, "churnwatchd");
    SETOPT(CURLOPT_TIMEOUT_MS, (long)hs->timeout_ms);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long)hs->timeout_ms);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(CURLOPT_SSL_VERIFYPEER, hs->tls_verify ? 1L : 0L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, hs->tls_verify ? 2L : 0L);
    if (hs->ca_file)
        SETOPT(CURLOPT_CAINFO, hs->ca_file);
    SETOPT(CURLOPT_FOLLOWLOCATION, hs->follow_redirects ? 1L : 0L);
    if (hs->follow_redirects) {
        SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        SETOPT(CURLOPT_MAXREDIRS, 5L);
        SETOPT(CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL); /* a POST stays a POST */
    }
    SETOPT(CURLOPT_POST, 1L);
    SETOPT(CURLOPT_WRITEFUNCTION, keep_reply);
    SETOPT(CURLOPT_WRITEDATA, h);
    SETOPT(CURLOPT_ERRORBUFFER, h->errbuf);
    if (rc != CURLE_OK) {
        log_error("%s: libcurl: %s", name, curl_easy_strerror(rc));
        http_client_free(h);
        return NULL;
    }
    return h;
}

int http_client_post(struct http_client *h, const char *body, size_t len, const char *const *extra,
                     size_t n_extra)
{
    if (h->busy)
        return -1;
    curl_slist_free_all(h->req_headers);
    h->req_headers = NULL;
    /* "Expect:" empty: no 100-continue round trip before larger bodies */
    const char *fixed[] = {"Content-Type: application/json", "Expect:"};
    bool oom = false;
    for (size_t i = 0; i < 2 + h->n_headers + n_extra && !oom; i++) {
        const char *line = i < 2                  ? fixed[i]
                           : i < 2 + h->n_headers ? h->headers[i - 2]
                                                  : extra[i - 2 - h->n_headers];
        struct curl_slist *l = curl_slist_append(h->req_headers, line);
        if (l == NULL)
            oom = true;
        else
            h->req_headers = l;
    }
    CURLcode rc = oom ? CURLE_OUT_OF_MEMORY : CURLE_OK;
    SETOPT(CURLOPT_HTTPHEADER, h->req_headers);
    SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    SETOPT(CURLOPT_COPYPOSTFIELDS, body);
    if (rc != CURLE_OK) {
        log_error("%s: cannot prepare the request: %s", h->name, curl_easy_strerror(rc));
        return -1;
    }
    h->errbuf[0] = '\0';
    h->reply_len = 0;
    h->reply[0] = '\0';
    CURLMcode mc = curl_multi_add_handle(h->multi, h->easy);
    if (mc != CURLM_OK) {
        log_error("%s: cannot start the request: %s", h->name, curl_multi_strerror(mc));
        return -1;
    }
    h->busy = true;
    int running;
    curl_multi_perform(h->multi, &running); /* connect and send what can be sent now */
    return 0;
}

/* Copies s into out, control characters replaced, at most out_len - 1 bytes. */
static void printable(char *out, size_t out_len, const char *s)
{
    size_t o = 0;
    for (; *s != '\0' && o + 1 < out_len; s++)
        out[o++] = (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s;
    out[o] = '\0';
}

int http_client_poll(struct http_client *h, struct http_result *r)
{
    if (!h->busy)
        return -1;
    int running, left;
    CURLMcode mc = curl_multi_perform(h->multi, &running);
    CURLcode result = CURLE_OK;
    bool done = false;
    CURLMsg *m;
    while ((m = curl_multi_info_read(h->multi, &left)) != NULL)
        if (m->msg == CURLMSG_DONE) {
            result = m->data.result;
            done = true;
        }
    if (!done && mc == CURLM_OK)
        return 0;
    if (!done) /* the multi handle itself failed: count it as a transport error */
        result = CURLE_SEND_ERROR;
    curl_multi_remove_handle(h->multi, h->easy);
    h->busy = false;
    r->status = 0;
    r->what[0] = '\0';
    if (result != CURLE_OK) {
        printable(r->what, sizeof r->what,
                  h->errbuf[0]     ? h->errbuf
                  : mc != CURLM_OK ? curl_multi_strerror(mc)
                                   : curl_easy_strerror(result));
        return 1;
    }
    curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &r->status);
    char *location = NULL;
    if (r->status >= 300 && r->status < 400 &&
        curl_easy_getinfo(h->easy, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location) {
        char loc[160];
        printable(loc, sizeof loc, location);
        snprintf(r->what, sizeof r->what, "redirect to %s not followed (follow_redirects is off)",
                 loc);
    } else {
        printable(r->what, sizeof r->what, h->reply);
    }
    return 1;
}

void http_result_log(const char *name, const char *what, const struct http_result *r,
                     struct log_ratelimit *rl)
{
    if (r->status == 0)
        log_limited(rl, name, LOG_LVL_WARN, "%s: %s not delivered: %s; retried with back-off", name,
                    what, r->what);
    else if (r->status >= 400 && r->status < 500 && r->status != 408 && r->status != 429)
        log_limited(rl, name, LOG_LVL_ERROR,
                    "%s: %s refused with HTTP %ld%s%s: check the url, the headers and the "
                    "receiver; nothing is dropped: retried with back-off until it accepts them",
                    name, what, r->status, r->what[0] ? ": " : "", r->what);
    else
        log_limited(rl, name, LOG_LVL_WARN,
                    "%s: %s not delivered: HTTP %ld%s%s; retried with back-off", name, what,
                    r->status, r->what[0] ? ": " : "", r->what);
}
