/* sink_kafka.c — alerts to the Kafka alerts topic, keyed by customer_id, with an
 * idempotent producer. A batch is settled when every message has its delivery report;
 * the leading run of successes counts as delivered. A fatal producer error (the
 * idempotent producer cannot guarantee order any more) settles the batch with nothing
 * delivered and replaces the producer: the batch is sent again from the outbox, so alerts
 * may arrive twice, always with the same alert_id, and none is lost. */
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_conf.h"
#include "log.h"
#include "sink.h"

struct sink_kafka {
    struct sink base;
    const struct config *cfg; /* borrowed: the daemon's config outlives its sinks */
    rd_kafka_t *rk;           /* NULL after a fatal error until it is recreated */
    rd_kafka_topic_t *topic;
    size_t submitted;   /* messages handed to librdkafka in this batch */
    size_t outstanding; /* delivery reports still to come */
    size_t first_failed; /* index of the first failed message, or SIZE_MAX */
    /* one line per undelivered alert would be a flood while the topic is unavailable */
    struct log_ratelimit rl;
    char source[300]; /* "kafka sink, topic NAME", the limit's source */
};

static void sink_kafka_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct sink_kafka *k = opaque;
    size_t idx = (size_t)(uintptr_t)m->_private;
    if (k->outstanding > 0)
        k->outstanding--;
    if (m->err) {
        if (idx < k->first_failed)
            k->first_failed = idx;
        log_limited(&k->rl, k->source, LOG_LVL_ERROR, "kafka sink: alert to %s not delivered: %s",
                    rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    }
}

static int producer_open(struct sink_kafka *k);
static void producer_close(struct sink_kafka *k, bool flush);

/* After a fatal error: logs it and drops the producer. Returns true if there was one. */
static bool fatal_reset(struct sink_kafka *k)
{
    char why[512];
    if (k->rk == NULL ||
        rd_kafka_fatal_error(k->rk, why, sizeof why) == RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    log_error("kafka sink: fatal producer error: %s; the producer is replaced and the alerts "
              "not confirmed are sent again (with the same alert_id)",
              why);
    rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    producer_close(k, false);
    return true;
}

static int sink_kafka_submit(struct sink *s, const struct outbox_batch *b)
{
    struct sink_kafka *k = (struct sink_kafka *)s;
    k->submitted = 0;
    k->outstanding = 0;
    k->first_failed = SIZE_MAX;
    if (k->rk == NULL && producer_open(k) < 0)
        return -1;
    for (size_t i = 0; i < b->n; i++) {
        const struct outbox_entry *e = &b->e[i];
        if (rd_kafka_produce(k->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                             (void *)e->json, e->json_len, e->customer, strlen(e->customer),
                             (void *)(uintptr_t)i) != 0) {
            log_limited(&k->rl, k->source, LOG_LVL_ERROR, "kafka sink: cannot queue alert: %s",
                        rd_kafka_err2str(rd_kafka_last_error()));
            break;
        }
        k->submitted++;
        k->outstanding++;
    }
    return k->submitted ? 0 : -1;
}

static bool sink_kafka_settle(struct sink *s, size_t *delivered)
{
    struct sink_kafka *k = (struct sink_kafka *)s;
    if (k->rk == NULL || fatal_reset(k)) {
        *delivered = 0;
        k->outstanding = 0;
        return true;
    }
    rd_kafka_poll(k->rk, 0);
    if (fatal_reset(k)) {
        *delivered = 0;
        k->outstanding = 0;
        return true;
    }
    if (k->outstanding > 0)
        return false;
    *delivered = k->first_failed < k->submitted ? k->first_failed : k->submitted;
    return true;
}

static void sink_kafka_poll(struct sink *s)
{
    struct sink_kafka *k = (struct sink_kafka *)s;
    if (k->rk != NULL) {
        rd_kafka_poll(k->rk, 0);
        fatal_reset(k);
    }
}

static void producer_close(struct sink_kafka *k, bool flush)
{
    if (k->rk == NULL)
        return;
    if (flush)
        rd_kafka_flush(k->rk, 5000);
    if (k->topic)
        rd_kafka_topic_destroy(k->topic);
    rd_kafka_destroy(k->rk);
    k->rk = NULL;
    k->topic = NULL;
}

static void sink_kafka_free(struct sink *s)
{
    struct sink_kafka *k = (struct sink_kafka *)s;
    producer_close(k, true);
    free(k);
}

static const struct sink_ops sink_kafka_ops = {sink_kafka_submit, sink_kafka_settle,
                                               sink_kafka_poll, sink_kafka_free, NULL};

/* Creates the producer and its topic. Returns 0, or -1 (logged). */
static int producer_open(struct sink_kafka *k)
{
    char err[512];
    rd_kafka_conf_t *conf = kafka_conf_new(k->cfg, "churnwatchd-alerts", err, sizeof err);
    int rc = conf ? 0 : -1;
    /* idempotent: retries never duplicate or reorder alerts within a partition */
    if (rc == 0)
        rc = kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err);
    if (rc == 0)
        rc = kafka_conf_set(conf, "linger.ms", "5", err, sizeof err);
    if (rc == 0)
        rc = kafka_conf_set(conf, "message.timeout.ms", "30000", err, sizeof err);
    if (rc < 0) {
        log_error("kafka sink: %s", err);
        if (conf)
            rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, sink_kafka_dr);
    rd_kafka_conf_set_opaque(conf, k);
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (k->rk == NULL) {
        log_error("kafka sink: %s", err);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    k->topic = rd_kafka_topic_new(k->rk, k->cfg->alerts_topic, NULL);
    if (k->topic == NULL) {
        log_error("kafka sink: topic %s: %s", k->cfg->alerts_topic,
                  rd_kafka_err2str(rd_kafka_last_error()));
        producer_close(k, false);
        return -1;
    }
    return 0;
}

struct sink *sink_kafka_new(const struct config *cfg)
{
    struct sink_kafka *k = calloc(1, sizeof *k);
    if (k == NULL)
        return NULL;
    k->base.ops = &sink_kafka_ops;
    k->cfg = cfg;
    snprintf(k->base.name, sizeof k->base.name, "kafka");
    log_ratelimit_init(&k->rl, 1, 5);
    snprintf(k->source, sizeof k->source, "kafka sink, topic %s", cfg->alerts_topic);
    if (producer_open(k) < 0) {
        free(k);
        return NULL;
    }
    return &k->base;
}
