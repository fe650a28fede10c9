/* recent.c — see recent.h. */
#include "recent.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "decode.h"
#include "kafka_conf.h"
#include "vec.h"

void recent_result_free(struct recent_result *r)
{
    if (r == NULL)
        return;
    free(r->ev);
    free(r->topics);
    memset(r, 0, sizeof *r);
}

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    (void)level;
    (void)fac;
    (void)buf;
}

static int event_cmp(const void *a, const void *b)
{
    const struct recent_event *x = a, *y = b;
    if (x->ts_ms != y->ts_ms)
        return x->ts_ms < y->ts_ms ? -1 : 1;
    int t = strcmp(x->topic, y->topic);
    if (t != 0)
        return t;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Keeps only the latest `keep` events of r. */
static void trim(struct recent_result *r, size_t keep)
{
    if (r->n > 1)
        qsort(r->ev, r->n, sizeof *r->ev, event_cmp);
    if (r->n > keep) {
        memmove(r->ev, r->ev + (r->n - keep), keep * sizeof *r->ev);
        r->n = keep;
    }
}

/* The message if it is the customer's, decoded; -1 when it is not (or on ENOMEM). */
static int take(const struct config *cfg, const struct topic_config *tc, const char *customer,
                const rd_kafka_message_t *m, struct recent_result *out, size_t keep)
{
    size_t idlen = strlen(customer);
    bool keyed = m->key != NULL && m->key_len > 0;
    if (keyed && (m->key_len != idlen || memcmp(m->key, customer, idlen) != 0))
        return -1;
    struct recent_event e;
    memset(&e, 0, sizeof e);
    enum reject_reason why;
    if (decode_event(tc, cfg->max_message_bytes, m->payload, m->len, &e.ev, &why, e.reason,
                     sizeof e.reason) < 0) {
        if (!keyed)
            return -1; /* no key and no customer_id to tell whose it is */
        e.rejected = true;
        rd_kafka_timestamp_type_t tt;
        e.ts_ms = rd_kafka_message_timestamp(m, &tt);
    } else {
        if (strcmp(e.ev.customer_id, customer) != 0)
            return -1;
        e.ts_ms = e.ev.ts_ms;
    }
    e.topic = tc->name;
    e.offset = m->offset;
    if (out->n >= 4 * keep + 64) /* bound the memory: keep the latest only */
        trim(out, keep);
    struct recent_event *grown = vec_reserve(out->ev, &out->cap, out->n + 1, sizeof *grown, 16);
    if (grown == NULL)
        return -1;
    out->ev = grown;
    out->ev[out->n++] = e;
    out->matched++;
    return 0;
}

int recent_scan(const struct config *cfg, int32_t partition, const char *customer, size_t scan,
                size_t keep, int timeout_ms, struct recent_result *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    out->topics = calloc(cfg->n_topics ? cfg->n_topics : 1, sizeof *out->topics);
    if (out->topics == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    out->n_topics = cfg->n_topics;
    rd_kafka_conf_t *conf = kafka_conf_new(cfg, "churnwatch-inspect", err, err_len);
    if (conf == NULL)
        return -1;
    /* what goes wrong is reported per topic; librdkafka's own lines would repeat it */
    rd_kafka_conf_set_log_cb(conf, quiet_log);
    /* assigned offsets only: the group id (librdkafka's consumer wants one) never joins
     * a group, nothing is committed */
    static const char *const forced[][2] = {
        {"group.id", "churnwatch-inspect"},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "true"},
    };
    for (size_t i = 0; i < sizeof forced / sizeof forced[0]; i++)
        if (kafka_conf_set(conf, forced[i][0], forced[i][1], err, err_len) < 0) {
            rd_kafka_conf_destroy(conf);
            return -1;
        }
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (rk == NULL) {
        snprintf(err, err_len, "kafka consumer: %s", e);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    int64_t deadline = clock_mono_ms() + timeout_ms;
    rd_kafka_topic_partition_list_t *assign = rd_kafka_topic_partition_list_new((int)cfg->n_topics);
    size_t waiting = 0;
    for (size_t t = 0; t < cfg->n_topics; t++) {
        struct recent_topic *rt = &out->topics[t];
        rt->topic = cfg->topics[t].name;
        int64_t lo, hi, left = deadline - clock_mono_ms();
        rd_kafka_resp_err_t qe = rd_kafka_query_watermark_offsets(
            rk, rt->topic, partition, &lo, &hi, left > 100 ? (int)left : 100);
        if (qe != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(rt->error, sizeof rt->error, "%s", rd_kafka_err2str(qe));
            continue;
        }
        rt->to = hi;
        rt->from = hi - lo > (int64_t)scan ? hi - (int64_t)scan : lo;
        if (rt->from >= rt->to) {
            rt->complete = true;
            continue;
        }
        rd_kafka_topic_partition_list_add(assign, rt->topic, partition)->offset = rt->from;
        waiting++;
    }
    rd_kafka_resp_err_t ae = waiting ? rd_kafka_assign(rk, assign) : RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_topic_partition_list_destroy(assign);
    if (ae != RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (size_t t = 0; t < out->n_topics; t++)
            if (!out->topics[t].complete && out->topics[t].error[0] == '\0')
                snprintf(out->topics[t].error, sizeof out->topics[t].error, "assign: %s",
                         rd_kafka_err2str(ae));
        waiting = 0;
    }
    while (waiting > 0) {
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0)
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, left > 200 ? 200 : (int)left);
        if (m == NULL)
            continue;
        const struct topic_config *tc =
            m->rkt ? config_topic(cfg, rd_kafka_topic_name(m->rkt)) : NULL;
        struct recent_topic *rt = tc ? &out->topics[tc - cfg->topics] : NULL;
        if (rt != NULL && !rt->complete) {
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                rt->complete = true;
                waiting--;
            } else if (m->err) {
                snprintf(rt->error, sizeof rt->error, "%s", rd_kafka_message_errstr(m));
            } else if (m->offset < rt->to) {
                take(cfg, tc, customer, m, out, keep);
                if (m->offset + 1 >= rt->to) {
                    rt->complete = true;
                    waiting--;
                }
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    trim(out, keep);
    return 0;
}
