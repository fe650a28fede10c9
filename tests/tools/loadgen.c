/* loadgen.c — a steady offered load for the latency figure of `make bench` (issue 5).
 *
 *   build/loadgen BROKERS TOPIC RATE SECONDS FILE [PROPERTY=VALUE...]
 *
 * Produces the events of FILE to TOPIC at RATE events per second for SECONDS seconds
 * (RATE x SECONDS events, fewer if FILE ends first), then flushes. FILE holds one event
 * per line, either "KEY<TAB>JSON" (build/simulate --kafka) or plain JSON, whose key is then
 * the value of its "customer_id" string field. The PROPERTY=VALUE arguments are passed to
 * the librdkafka producer verbatim (e.g. linger.ms=0).
 *
 * Re-timing: at the moment an event is handed to the producer, the value of its first
 * "ts" field is replaced with the wall clock in RFC 3339 UTC with milliseconds
 * ("2026-11-24T10:11:12.345Z", the simulator's format), and the Kafka message timestamp
 * is set to the same millisecond. An alert an event triggers carries that ts, so the
 * alert's arrival time minus its ts is the produce-to-alert latency.
 *
 * Pacing: event i is due at start + i / RATE (monotonic clock); the generator sends
 * everything due, serves delivery reports, and sleeps until the next event is due (at
 * most 1 ms). It never sends ahead of the schedule; when it falls behind (a busy machine),
 * it catches up at once and reports the largest lag.
 *
 * Prints one line on stderr at the end:
 *   loadgen: N events in S s (R events/s offered, target RATE), max lag L ms, F failed,
 *   acknowledged p50/p99/max A/B/C ms
 * where the last figures are the times from each event's ts stamp to its delivery report
 * (the broker has it): the part of a produce-to-alert latency spent before the broker.
 * Exit status: 0 when every event was delivered, 1 on delivery failures or errors, 2 on
 * usage errors. SIGINT/SIGTERM stop the sending early (what was sent is still flushed). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "decode.h"

#define FLUSH_TIMEOUT_MS 60000

/* each message carries its ts stamp (ms since the epoch) as its opaque pointer */
_Static_assert(sizeof(intptr_t) >= 8, "intptr_t must hold epoch milliseconds");

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t wall_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Delivery reports; ack_ms[0..n_ack) holds, per delivered event, the time from its ts
 * stamp to its delivery report (the broker's acknowledgement), in ms. Owned by main. */
struct counts {
    uint64_t delivered;
    uint64_t failed;
    uint32_t *ack_ms;
    size_t n_ack, cap_ack;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct counts *c = opaque;
    if (m->err) {
        if (c->failed == 0)
            fprintf(stderr, "loadgen: delivery failed: %s\n", rd_kafka_err2str(m->err));
        c->failed++;
        return;
    }
    c->delivered++;
    if (c->n_ack >= c->cap_ack)
        return;
    int64_t ms = wall_ms() - (int64_t)(intptr_t)m->_private; /* the ts stamp */
    c->ack_ms[c->n_ack++] = ms < 0 ? 0 : (uint32_t)ms;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile p (0 < p <= 1) of the sorted v[0..n), n > 0. */
static uint32_t percentile(const uint32_t *v, size_t n, double p)
{
    size_t i = (size_t)(p * (double)n);
    if ((double)i < p * (double)n)
        i++;
    return v[i < 1 ? 0 : i - 1];
}

/* Parses a decimal number > 0 (at most `hi`). Returns 0 or -1. */
static int parse_positive(const char *s, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v > 0) || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Finds the value of the first "NAME": field of the JSON text json[0..len): sets *start
 * and *end around it (quotes included for a string, the digits for a number). Returns 0,
 * or -1 when there is no such field. A plain scan, enough for the simulator's output. */
static int find_field(const char *json, size_t len, const char *name, size_t *start, size_t *end)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i + nlen + 2 < len; i++) {
        if (json[i] != '"' || memcmp(json + i + 1, name, nlen) != 0 || json[i + 1 + nlen] != '"')
            continue;
        size_t j = i + nlen + 2;
        while (j < len && (json[j] == ' ' || json[j] == '\t'))
            j++;
        if (j >= len || json[j] != ':')
            continue;
        j++;
        while (j < len && (json[j] == ' ' || json[j] == '\t'))
            j++;
        if (j >= len)
            return -1;
        size_t k = j;
        if (json[j] == '"') {
            for (k = j + 1; k < len && json[k] != '"'; k++)
                if (json[k] == '\\')
                    k++;
            if (k >= len)
                return -1;
            k++;
        } else {
            while (k < len && json[k] != ',' && json[k] != '}' && json[k] != ' ')
                k++;
        }
        *start = j;
        *end = k;
        return 0;
    }
    return -1;
}

/* One input line split into key and JSON; both point into the line. */
struct line {
    const char *key, *json;
    size_t key_len, json_len;
    size_t ts_start, ts_end; /* the "ts" value inside json */
};

/* Splits `buf` (without its newline). Returns 0 or -1 when the line is not usable. */
static int line_split(char *buf, size_t len, struct line *l)
{
    char *tab = memchr(buf, '\t', len);
    if (tab != NULL) {
        l->key = buf;
        l->key_len = (size_t)(tab - buf);
        l->json = tab + 1;
        l->json_len = len - l->key_len - 1;
    } else {
        size_t s, e;
        l->json = buf;
        l->json_len = len;
        if (find_field(buf, len, "customer_id", &s, &e) < 0 || buf[s] != '"' || e - s < 2)
            return -1;
        l->key = buf + s + 1;
        l->key_len = e - s - 2;
    }
    return find_field(l->json, l->json_len, "ts", &l->ts_start, &l->ts_end);
}

/* Produces line `l` with its ts replaced by now. Waits while the local queue is full.
 * Returns 0, or -1 on a produce error (printed). */
static int send_line(rd_kafka_t *rk, const char *topic, const struct line *l, char **out,
                     size_t *out_cap)
{
    size_t need = l->json_len + 40;
    if (need > *out_cap) {
        char *n = realloc(*out, need);
        if (n == NULL) {
            fprintf(stderr, "loadgen: out of memory\n");
            return -1;
        }
        *out = n;
        *out_cap = need;
    }
    for (;;) {
        int64_t now = wall_ms();
        char ts[32];
        format_rfc3339(now, ts);
        size_t tail = l->json_len - l->ts_end;
        int n = snprintf(*out, *out_cap, "%.*s\"%s\"", (int)l->ts_start, l->json, ts);
        if (n < 0 || (size_t)n + tail > *out_cap)
            return -1;
        memcpy(*out + n, l->json + l->ts_end, tail);
        size_t len = (size_t)n + tail;
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(l->key, l->key_len), RD_KAFKA_V_VALUE(*out, len),
            RD_KAFKA_V_TIMESTAMP(now), RD_KAFKA_V_OPAQUE((void *)(intptr_t)now), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "loadgen: produce: %s\n", rd_kafka_err2str(err));
            return -1;
        }
        rd_kafka_poll(rk, 10); /* full: let deliveries drain, then stamp again */
    }
}

static rd_kafka_t *producer_new(const char *brokers, int nprops, char **props,
                                struct counts *counts)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", err, sizeof err) !=
            RD_KAFKA_CONF_OK) {
        fprintf(stderr, "loadgen: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    for (int i = 0; i < nprops; i++) {
        char *eq = strchr(props[i], '=');
        if (eq == NULL) {
            fprintf(stderr, "loadgen: expected PROPERTY=VALUE, got '%s'\n", props[i]);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
        *eq = '\0';
        rd_kafka_conf_res_t r = rd_kafka_conf_set(conf, props[i], eq + 1, err, sizeof err);
        *eq = '=';
        if (r != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "loadgen: %s: %s\n", props[i], err);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, counts);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk == NULL) {
        fprintf(stderr, "loadgen: %s\n", err); /* conf is still ours on failure */
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

int main(int argc, char **argv)
{
    double rate, seconds;
    if (argc < 6 || parse_positive(argv[3], 1e8, &rate) < 0 ||
        parse_positive(argv[4], 86400, &seconds) < 0) {
        fprintf(stderr, "usage: loadgen BROKERS TOPIC RATE SECONDS FILE [PROPERTY=VALUE...]\n"
                        "  RATE events/s (> 0), SECONDS (> 0); FILE: KEY<TAB>JSON or JSON "
                        "lines\n");
        return 2;
    }
    const char *brokers = argv[1], *topic = argv[2], *path = argv[5];
    FILE *in = fopen(path, "r");
    if (in == NULL) {
        fprintf(stderr, "loadgen: %s: %s\n", path, strerror(errno));
        return 2;
    }
    uint64_t total = (uint64_t)(rate * seconds + 0.5), sent = 0, lineno = 0;
    struct counts counts = {0, 0, calloc(total > 0 ? total : 1, sizeof(uint32_t)), 0, total};
    if (counts.ack_ms == NULL) {
        fprintf(stderr, "loadgen: out of memory\n");
        fclose(in);
        return 1;
    }
    rd_kafka_t *rk = producer_new(brokers, argc - 6, argv + 6, &counts);
    if (rk == NULL) {
        free(counts.ack_ms);
        fclose(in);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    char *buf = NULL, *out = NULL;
    size_t buf_cap = 0, out_cap = 0;
    int64_t max_lag_ns = 0;
    int rc = 0;
    bool eof = false;
    int64_t t0 = mono_ns();
    while (sent < total && !eof && !stop_requested && rc == 0) {
        int64_t now = mono_ns();
        /* events due by now: those with start + i / rate <= now */
        uint64_t due = (uint64_t)((double)(now - t0) * rate / 1e9) + 1;
        if (due > total)
            due = total;
        if (due > sent + 1) {
            int64_t lag = now - t0 - (int64_t)((double)(sent + 1) * 1e9 / rate);
            if (lag > max_lag_ns)
                max_lag_ns = lag;
        }
        while (sent < due) {
            ssize_t n = getline(&buf, &buf_cap, in);
            if (n < 0) {
                eof = true;
                break;
            }
            lineno++;
            while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                buf[--n] = '\0';
            if (n == 0)
                continue;
            struct line l;
            if (line_split(buf, (size_t)n, &l) < 0) {
                fprintf(stderr, "loadgen: %s:%" PRIu64 ": no key or no \"ts\" field\n", path,
                        lineno);
                rc = 1;
                break;
            }
            if (send_line(rk, topic, &l, &out, &out_cap) < 0) {
                rc = 1;
                break;
            }
            sent++;
        }
        rd_kafka_poll(rk, 0);
        if (sent >= total || eof || rc != 0)
            break;
        int64_t next = t0 + (int64_t)((double)sent * 1e9 / rate);
        int64_t wait = next - mono_ns();
        if (wait > 1000000)
            wait = 1000000;
        if (wait > 0) {
            struct timespec ts = {0, (long)wait};
            nanosleep(&ts, NULL);
        }
    }
    double secs = (double)(mono_ns() - t0) / 1e9;
    if (eof && sent < total)
        fprintf(stderr, "loadgen: %s ended after %" PRIu64 " of %" PRIu64 " events\n", path, sent,
                total);
    if (rd_kafka_flush(rk, FLUSH_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "loadgen: %d events not delivered after %d ms\n", rd_kafka_outq_len(rk),
                FLUSH_TIMEOUT_MS);
        rc = 1;
    }
    uint32_t p50 = 0, p99 = 0, pmax = 0;
    if (counts.n_ack > 0) {
        qsort(counts.ack_ms, counts.n_ack, sizeof counts.ack_ms[0], cmp_u32);
        p50 = percentile(counts.ack_ms, counts.n_ack, 0.5);
        p99 = percentile(counts.ack_ms, counts.n_ack, 0.99);
        pmax = counts.ack_ms[counts.n_ack - 1];
    }
    fprintf(stderr,
            "loadgen: %" PRIu64 " events in %.3f s (%.0f events/s offered, target %.0f), "
            "max lag %.1f ms, %" PRIu64 " failed, acknowledged p50/p99/max %" PRIu32 "/%" PRIu32
            "/%" PRIu32 " ms\n",
            sent, secs, secs > 0 ? (double)sent / secs : 0.0, rate, (double)max_lag_ns / 1e6,
            counts.failed, p50, p99, pmax);
    if (counts.failed > 0 || counts.delivered != sent)
        rc = 1;
    rd_kafka_destroy(rk);
    free(counts.ack_ms);
    free(buf);
    free(out);
    fclose(in);
    return rc;
}
