/* test_metrics.c — the metrics registry and its exposition (metrics.c), liveness and
 * readiness (health.c), and the HTTP endpoints (http_server.c) over a real socket. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "clock.h"
#include "health.h"
#include "http_server.h"
#include "metrics.h"

/* The registry's exposition; the caller frees. */
static char *mtest_render(struct metrics *m)
{
    size_t len = 0;
    char *text = metrics_render(m, &len);
    cr_assert_not_null(text);
    cr_assert_eq(strlen(text), len);
    return text;
}

Test(metrics, empty_registry_renders_nothing)
{
    struct metrics *m = metrics_new();
    char *text = mtest_render(m);
    cr_assert_str_empty(text);
    free(text);
    metrics_free(m);
    metrics_free(NULL);
}

Test(metrics, counter_series_in_label_order_last_label_fastest)
{
    struct metrics *m = metrics_new();
    static const char *const topics[] = {"orders", "support"}, *const reasons[] = {"a", "b", "c"};
    const struct metric_label labels[] = {{"topic", topics, 2}, {"reason", reasons, 3}};
    struct metric *c =
        metrics_add(m, METRIC_COUNTER, "cw_rejected_total", "Rejects.", labels, 2, NULL, 0);
    cr_assert_not_null(c);
    metric_add(c, 1 * 3 + 2, 5); /* support, c */
    metric_add(c, 0 * 3 + 1, 1); /* orders, b */
    metric_add(c, 0 * 3 + 1, 2);
    char *text = mtest_render(m);
    cr_assert_str_eq(text, "# HELP cw_rejected_total Rejects.\n"
                           "# TYPE cw_rejected_total counter\n"
                           "cw_rejected_total{topic=\"orders\",reason=\"a\"} 0\n"
                           "cw_rejected_total{topic=\"orders\",reason=\"b\"} 3\n"
                           "cw_rejected_total{topic=\"orders\",reason=\"c\"} 0\n"
                           "cw_rejected_total{topic=\"support\",reason=\"a\"} 0\n"
                           "cw_rejected_total{topic=\"support\",reason=\"b\"} 0\n"
                           "cw_rejected_total{topic=\"support\",reason=\"c\"} 5\n");
    free(text);
    metric_set_total(c, 0, 18446744073709551615ULL); /* a mirrored counter, up to 2^64-1 */
    text = mtest_render(m);
    cr_assert_not_null(strstr(text, "{topic=\"orders\",reason=\"a\"} 18446744073709551615\n"));
    free(text);
    metrics_free(m);
}

Test(metrics, gauges_print_shortest_exact_value_and_special_values)
{
    struct metrics *m = metrics_new();
    static const char *const k[] = {"a", "b", "c", "d", "e", "f", "g"};
    const struct metric_label l = {"k", k, 7};
    struct metric *g = metrics_add(m, METRIC_GAUGE, "cw_value", "V.", &l, 1, NULL, 0);
    cr_assert_not_null(g);
    metric_set(g, 0, 42);
    metric_set(g, 1, 0.1);
    metric_set(g, 2, 1795569753.83);
    metric_set(g, 3, NAN);
    metric_set(g, 4, INFINITY);
    metric_set(g, 5, -INFINITY);
    metric_set(g, 6, 0.1 + 0.2); /* needs 17 digits to read back */
    char *text = mtest_render(m);
    cr_assert_str_eq(text, "# HELP cw_value V.\n"
                           "# TYPE cw_value gauge\n"
                           "cw_value{k=\"a\"} 42\n"
                           "cw_value{k=\"b\"} 0.1\n"
                           "cw_value{k=\"c\"} 1795569753.83\n"
                           "cw_value{k=\"d\"} NaN\n"
                           "cw_value{k=\"e\"} +Inf\n"
                           "cw_value{k=\"f\"} -Inf\n"
                           "cw_value{k=\"g\"} 0.30000000000000004\n");
    free(text);
    metrics_free(m);
}

Test(metrics, label_values_and_help_are_escaped)
{
    struct metrics *m = metrics_new();
    static const char *const v[] = {"back\\slash \"quoted\"\nnext line"};
    const struct metric_label l = {"topic", v, 1};
    struct metric *g = metrics_add(m, METRIC_GAUGE, "cw_escaped",
                                   "Help with \\ and\nnewline \"as is\".", &l, 1, NULL, 0);
    cr_assert_not_null(g);
    metric_set(g, 0, 1);
    char *text = mtest_render(m);
    /* HELP escapes backslash and newline only; label values the double quote too */
    cr_assert_str_eq(text, "# HELP cw_escaped Help with \\\\ and\\nnewline \"as is\".\n"
                           "# TYPE cw_escaped gauge\n"
                           "cw_escaped{topic=\"back\\\\slash \\\"quoted\\\"\\nnext line\"} 1\n");
    free(text);
    metrics_free(m);
}

Test(metrics, histogram_buckets_are_cumulative_with_inf)
{
    struct metrics *m = metrics_new();
    static const double bounds[] = {0.005, 0.5, 1};
    struct metric *h =
        metrics_add(m, METRIC_HISTOGRAM, "cw_commit_seconds", "Commit time.", NULL, 0, bounds, 3);
    cr_assert_not_null(h);
    /* values exact in binary, so that the sum is too */
    metric_observe(h, 0, 0.00390625);
    metric_observe(h, 0, 0.25);
    metric_observe(h, 0, 0.5); /* on a bound: that bucket (le is inclusive) */
    metric_observe(h, 0, 7);   /* above every bound: +Inf only */
    metric_observe(h, 0, 7);
    char *text = mtest_render(m);
    cr_assert_str_eq(text, "# HELP cw_commit_seconds Commit time.\n"
                           "# TYPE cw_commit_seconds histogram\n"
                           "cw_commit_seconds_bucket{le=\"0.005\"} 1\n"
                           "cw_commit_seconds_bucket{le=\"0.5\"} 3\n"
                           "cw_commit_seconds_bucket{le=\"1\"} 3\n"
                           "cw_commit_seconds_bucket{le=\"+Inf\"} 5\n"
                           "cw_commit_seconds_sum 14.75390625\n"
                           "cw_commit_seconds_count 5\n");
    free(text);
    metrics_free(m);
}

Test(metrics, histogram_with_labels_keeps_series_apart)
{
    struct metrics *m = metrics_new();
    static const double bounds[] = {10};
    static const char *const p[] = {"0", "1"};
    const struct metric_label l = {"partition", p, 2};
    struct metric *h = metrics_add(m, METRIC_HISTOGRAM, "cw_batch", "B.", &l, 1, bounds, 1);
    cr_assert_not_null(h);
    metric_observe(h, 1, 3);
    metric_observe(h, 1, 30);
    char *text = mtest_render(m);
    cr_assert_str_eq(text, "# HELP cw_batch B.\n"
                           "# TYPE cw_batch histogram\n"
                           "cw_batch_bucket{partition=\"0\",le=\"10\"} 0\n"
                           "cw_batch_bucket{partition=\"0\",le=\"+Inf\"} 0\n"
                           "cw_batch_sum{partition=\"0\"} 0\n"
                           "cw_batch_count{partition=\"0\"} 0\n"
                           "cw_batch_bucket{partition=\"1\",le=\"10\"} 1\n"
                           "cw_batch_bucket{partition=\"1\",le=\"+Inf\"} 2\n"
                           "cw_batch_sum{partition=\"1\"} 33\n"
                           "cw_batch_count{partition=\"1\"} 2\n");
    free(text);
    metrics_free(m);
}

Test(metrics, tables_are_replaced_as_a_whole)
{
    struct metrics *m = metrics_new();
    static const char *const names[] = {"topic", "partition"};
    struct metric *t = metrics_add_table(m, "cw_lag_messages", "Lag.", names, 2);
    cr_assert_not_null(t);
    char *text = mtest_render(m);
    cr_assert_str_eq(text, "# HELP cw_lag_messages Lag.\n# TYPE cw_lag_messages gauge\n",
                     "an empty table has no series");
    free(text);
    const char *r1[] = {"orders", "0"}, *r2[] = {"orders", "1"}, *r3[] = {"support", "7"};
    metric_table_begin(t);
    cr_assert_eq(metric_table_row(t, r1, 5), 0);
    cr_assert_eq(metric_table_row(t, r2, 0), 0);
    metric_table_end(t);
    metric_table_begin(t);
    cr_assert_eq(metric_table_row(t, r3, 12), 0);
    metric_table_end(t);
    text = mtest_render(m);
    cr_assert_str_eq(text, "# HELP cw_lag_messages Lag.\n"
                           "# TYPE cw_lag_messages gauge\n"
                           "cw_lag_messages{topic=\"support\",partition=\"7\"} 12\n");
    free(text);
    metrics_free(m);
}

Test(metrics, families_render_in_registration_order)
{
    struct metrics *m = metrics_new();
    cr_assert_not_null(metrics_add(m, METRIC_GAUGE, "cw_b", "B.", NULL, 0, NULL, 0));
    cr_assert_not_null(metrics_add(m, METRIC_COUNTER, "cw_a_total", "A.", NULL, 0, NULL, 0));
    char *text = mtest_render(m);
    cr_assert_str_eq(text, "# HELP cw_b B.\n# TYPE cw_b gauge\ncw_b 0\n"
                           "# HELP cw_a_total A.\n# TYPE cw_a_total counter\ncw_a_total 0\n");
    free(text);
    metrics_free(m);
}

Test(metrics, registration_refuses_what_prometheus_would)
{
    struct metrics *m = metrics_new();
    static const char *const one[] = {"x"}, *const none[] = {NULL};
    static const double up[] = {1, 2}, down[] = {2, 1}, same[] = {1, 1};
    const double nan_bound[] = {NAN}, inf_bound[] = {INFINITY};
    const struct metric_label ok = {"topic", one, 1}, dunder = {"__name", one, 1},
                              dash = {"a-b", one, 1}, digit = {"1a", one, 1}, le = {"le", one, 1},
                              empty = {"topic", none, 0};
    const struct metric_label twice[] = {ok, ok};
    cr_assert_not_null(metrics_add(m, METRIC_COUNTER, "cw_ok_total", "", &ok, 1, NULL, 0));
    cr_assert_not_null(metrics_add(m, METRIC_GAUGE, "cw:ok_ratio", "", &le, 1, NULL, 0),
                       "le is only reserved in histograms; colons are allowed in names");
    cr_assert_null(metrics_add(m, METRIC_COUNTER, "cw_ok_total", "", NULL, 0, NULL, 0),
                   "a name twice");
    cr_assert_null(metrics_add(m, METRIC_COUNTER, "cw_count", "", NULL, 0, NULL, 0),
                   "a counter without _total");
    cr_assert_null(metrics_add(m, METRIC_GAUGE, "cw_gauge_total", "", NULL, 0, NULL, 0),
                   "a gauge with _total");
    cr_assert_null(metrics_add(m, METRIC_GAUGE, "1cw", "", NULL, 0, NULL, 0));
    cr_assert_null(metrics_add(m, METRIC_GAUGE, "cw-x", "", NULL, 0, NULL, 0));
    cr_assert_null(metrics_add(m, METRIC_GAUGE, "", "", NULL, 0, NULL, 0));
    cr_assert_null(metrics_add(m, METRIC_GAUGE, "cw_l1", "", &dunder, 1, NULL, 0));
    cr_assert_null(metrics_add(m, METRIC_GAUGE, "cw_l2", "", &dash, 1, NULL, 0));
    cr_assert_null(metrics_add(m, METRIC_GAUGE, "cw_l3", "", &digit, 1, NULL, 0));
    cr_assert_null(metrics_add(m, METRIC_GAUGE, "cw_l4", "", twice, 2, NULL, 0));
    cr_assert_null(metrics_add(m, METRIC_GAUGE, "cw_l5", "", &empty, 1, NULL, 0),
                   "a label without values has no series");
    cr_assert_null(metrics_add(m, METRIC_HISTOGRAM, "cw_h1", "", &le, 1, up, 2));
    cr_assert_null(metrics_add(m, METRIC_HISTOGRAM, "cw_h2", "", NULL, 0, NULL, 0));
    cr_assert_null(metrics_add(m, METRIC_HISTOGRAM, "cw_h3", "", NULL, 0, down, 2));
    cr_assert_null(metrics_add(m, METRIC_HISTOGRAM, "cw_h4", "", NULL, 0, same, 2));
    cr_assert_null(metrics_add(m, METRIC_HISTOGRAM, "cw_h5", "", NULL, 0, nan_bound, 1));
    cr_assert_null(metrics_add(m, METRIC_HISTOGRAM, "cw_h6", "", NULL, 0, inf_bound, 1),
                   "+Inf is added, never given");
    cr_assert_null(metrics_add(m, METRIC_GAUGE, "cw_g", "", NULL, 0, up, 2),
                   "bounds only for histograms");
    cr_assert_not_null(metrics_add(m, METRIC_HISTOGRAM, "cw_h7", "", &ok, 1, up, 2));
    static const char *const tnames[] = {"partition"}, *const bad[] = {"__p"};
    cr_assert_null(metrics_add_table(m, "cw_t_total", "", tnames, 1), "tables are gauges");
    cr_assert_null(metrics_add_table(m, "cw_t", "", bad, 1));
    cr_assert_null(metrics_add_table(m, "cw_t", "", tnames, 0));
    cr_assert_null(metrics_add_table(m, "cw_ok_total", "", tnames, 1), "a name twice");
    metrics_free(m);
}

/* A reader rendering while the one writer updates (the HTTP thread and the main loop):
 * counters never go back and a histogram's count always equals its +Inf bucket. */
struct mtest_race {
    struct metrics *m;
    atomic_int stop;
    int bad;
    int renders;
};

/* The value of the line that starts with `series`, UINT64_MAX if there is none. */
static uint64_t mtest_value(const char *text, const char *series)
{
    char line[128];
    snprintf(line, sizeof line, "\n%s", series);
    const char *at = strstr(text, line);
    return at ? strtoull(at + strlen(line), NULL, 10) : UINT64_MAX;
}

static void *mtest_reader(void *arg)
{
    struct mtest_race *r = arg;
    uint64_t last = 0;
    while (!atomic_load(&r->stop) || r->renders == 0) {
        size_t len;
        char *text = metrics_render(r->m, &len);
        uint64_t c = mtest_value(text, "cw_race_total "),
                 inf = mtest_value(text, "cw_race_seconds_bucket{le=\"+Inf\"} "),
                 count = mtest_value(text, "cw_race_seconds_count ");
        if (c < last || c == UINT64_MAX || inf != count)
            r->bad++;
        last = c;
        r->renders++;
        free(text);
    }
    return NULL;
}

Test(metrics, concurrent_render_sees_consistent_values)
{
    static const double bounds[] = {0.5};
    struct mtest_race r = {.m = metrics_new()};
    struct metric *c = metrics_add(r.m, METRIC_COUNTER, "cw_race_total", "", NULL, 0, NULL, 0);
    struct metric *h =
        metrics_add(r.m, METRIC_HISTOGRAM, "cw_race_seconds", "", NULL, 0, bounds, 1);
    cr_assert(c && h);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, mtest_reader, &r), 0);
    for (int i = 0; i < 200000; i++) {
        metric_add(c, 0, 1);
        metric_observe(h, 0, (i % 2) ? 0.1 : 1.0);
    }
    atomic_store(&r.stop, 1);
    pthread_join(t, NULL);
    cr_assert_eq(r.bad, 0, "%d of %d renders inconsistent", r.bad, r.renders);
    char *text = mtest_render(r.m);
    cr_assert_eq(mtest_value(text, "cw_race_total "), 200000);
    cr_assert_eq(mtest_value(text, "cw_race_seconds_bucket{le=\"0.5\"} "), 100000);
    cr_assert_eq(mtest_value(text, "cw_race_seconds_count "), 200000);
    free(text);
    metrics_free(r.m);
}

/* ---- health.c ---- */

Test(health, readiness_reasons_in_order)
{
    char why[256];
    struct readiness r = {.stopping = false,
                          .redis_connected = true,
                          .subscribed = true,
                          .assigned = true,
                          .claiming = -1,
                          .outbox_full = -1};
    cr_assert(readiness_check(&r, why, sizeof why), "all good");
    r.failing_sink = "kafka";
    r.sink_failing_ms = HEALTH_SINK_GRACE_MS - 1;
    cr_assert(readiness_check(&r, why, sizeof why), "a sink failing briefly is still ready");
    r.sink_failing_ms = 75000;
    cr_assert_not(readiness_check(&r, why, sizeof why));
    cr_assert_str_eq(why, "sink kafka: failing for 75 s");
    r.outbox_full = 3;
    cr_assert_not(readiness_check(&r, why, sizeof why));
    cr_assert_str_eq(why, "outbox: partition 3 is full (engine.max_outbox), consumption paused");
    r.assigned = false;
    cr_assert_not(readiness_check(&r, why, sizeof why));
    cr_assert_str_eq(why, "kafka: waiting for the consumer group's first assignment");
    r.subscribed = false;
    cr_assert_not(readiness_check(&r, why, sizeof why));
    cr_assert_str_eq(why, "kafka: not subscribed yet");
    r.claiming = 5;
    cr_assert_not(readiness_check(&r, why, sizeof why));
    cr_assert_str_eq(why, "claiming partition 5 in redis");
    r.redis_connected = false;
    cr_assert_not(readiness_check(&r, why, sizeof why));
    cr_assert_str_eq(why, "redis: not connected");
    r.stopping = true;
    cr_assert_not(readiness_check(&r, why, sizeof why));
    cr_assert_str_eq(why, "stopping");
}

Test(health, live_while_beating_ready_when_published)
{
    char why[256];
    struct health *h = health_new();
    cr_assert_not_null(h);
    int64_t now = clock_mono_ms();
    cr_assert(health_live(h, now, why, sizeof why), "a new state counts as beaten now");
    cr_assert_not(health_ready(h, now, why, sizeof why));
    cr_assert_str_eq(why, "starting");
    health_set_not_ready(h, NULL);
    cr_assert(health_ready(h, now, why, sizeof why));
    health_set_not_ready(h, "redis: not connected");
    cr_assert_not(health_ready(h, now, why, sizeof why));
    cr_assert_str_eq(why, "redis: not connected");
    health_set_not_ready(h, NULL);

    /* no beat for HEALTH_STALL_MS: neither live nor ready, whatever was published */
    int64_t later = clock_mono_ms() + HEALTH_STALL_MS + 1500;
    cr_assert_not(health_live(h, later, why, sizeof why));
    cr_assert_not_null(strstr(why, "main loop stalled: no iteration for "), "%s", why);
    cr_assert_not(health_ready(h, later, why, sizeof why));
    cr_assert_not_null(strstr(why, "main loop stalled"), "%s", why);
    health_beat(h);
    cr_assert(health_live(h, clock_mono_ms(), why, sizeof why));
    health_free(h);
    health_free(NULL);
}

/* ---- http_server.c ---- */

Test(http, listen_addresses)
{
    static const struct {
        const char *in, *host;
        int port;
    } good[] = {
        {"127.0.0.1:9465", "127.0.0.1", 9465},
        {"localhost:0", "localhost", 0},
        {"[::1]:80", "::1", 80},
        {"0.0.0.0:65535", "0.0.0.0", 65535},
        {"[::]:9100", "::", 9100},
    };
    static const char *const bad[] = {
        "9465",      ":9465",  "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:x", "::1:80",
        "[::1]9465", "[::1]:", "[]:80",      "host:123456",     "host:-1"};
    char host[HTTP_HOST_MAX];
    int port;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const char *why = http_listen_parse(good[i].in, host, &port);
        cr_assert_null(why, "%s: %s", good[i].in, why);
        cr_assert_str_eq(host, good[i].host);
        cr_assert_eq(port, good[i].port, "%s", good[i].in);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not_null(http_listen_parse(bad[i], host, &port), "%s accepted", bad[i]);
}

/* Sends `request` to 127.0.0.1:port and returns the whole response (the server closes
 * after it: HTTP/1.0). The caller frees. */
static char *httptest_request(int port, const char *request)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(write(fd, request, strlen(request)), (ssize_t)strlen(request));
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    ssize_t n;
    while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (len + 1 == cap)
            cr_assert_not_null(buf = realloc(buf, cap *= 2));
    }
    buf[len] = '\0';
    close(fd);
    return buf;
}

static char *httptest_get(int port, const char *path)
{
    char req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
    return httptest_request(port, req);
}

Test(http, serves_metrics_and_health)
{
    struct metrics *m = metrics_new();
    struct health *h = health_new();
    struct metric *c =
        metrics_add(m, METRIC_COUNTER, "cw_events_total", "Events.", NULL, 0, NULL, 0);
    metric_add(c, 0, 7);
    char err[512] = "";
    struct http_server *s = http_server_start("127.0.0.1:0", m, h, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    int port = http_server_port(s);
    cr_assert_gt(port, 0, "port 0 picks a port and tells which");

    char *r = httptest_get(port, "/metrics");
    cr_assert(strncmp(r, "HTTP/1.0 200", 12) == 0 || strncmp(r, "HTTP/1.1 200", 12) == 0, "%s", r);
    cr_assert_not_null(strstr(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
                       "%s", r);
    cr_assert_not_null(strstr(r, "\r\n\r\n# HELP cw_events_total Events.\n"
                                 "# TYPE cw_events_total counter\ncw_events_total 7\n"),
                       "%s", r);
    free(r);

    r = httptest_get(port, "/healthz");
    cr_assert_not_null(strstr(r, " 200 "), "%s", r);
    cr_assert_not_null(strstr(r, "\r\n\r\nok\n"), "%s", r);
    free(r);
    r = httptest_get(port, "/readyz");
    cr_assert_not_null(strstr(r, " 503 "), "%s", r);
    cr_assert_not_null(strstr(r, "\r\n\r\nstarting\n"), "%s", r);
    free(r);
    health_set_not_ready(h, NULL);
    r = httptest_get(port, "/readyz");
    cr_assert_not_null(strstr(r, " 200 "), "%s", r);
    cr_assert_not_null(strstr(r, "\r\n\r\nready\n"), "%s", r);
    free(r);
    r = httptest_get(port, "/nothing");
    cr_assert_not_null(strstr(r, " 404 "), "%s", r);
    free(r);
    r = httptest_request(port, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
    cr_assert_not_null(strstr(r, " 405 "), "%s", r);
    cr_assert_not_null(strstr(r, "Allow: GET, HEAD\r\n"), "%s", r);
    free(r);
    r = httptest_request(port, "HEAD /metrics HTTP/1.0\r\n\r\n");
    cr_assert_not_null(strstr(r, " 200 "), "%s", r);
    cr_assert_null(strstr(r, "cw_events_total"), "HEAD has no body: %s", r);
    free(r);

    /* the same port again: a clear error naming the address */
    char taken[64];
    snprintf(taken, sizeof taken, "127.0.0.1:%d", port);
    cr_assert_null(http_server_start(taken, m, h, err, sizeof err));
    char want[128];
    snprintf(want, sizeof want, "metrics.listen %s: cannot listen: Address already in use", taken);
    cr_assert_str_eq(err, want);
    cr_assert_null(http_server_start("no-such-host.invalid:1", m, h, err, sizeof err));
    cr_assert_not_null(strstr(err, "metrics.listen no-such-host.invalid:1: cannot resolve"), "%s",
                       err);
    cr_assert_null(http_server_start("nonsense", m, h, err, sizeof err));
    cr_assert_not_null(strstr(err, "metrics.listen nonsense: expected host:port"), "%s", err);

    http_server_stop(s);
    http_server_stop(NULL);
    health_free(h);
    metrics_free(m);
}
