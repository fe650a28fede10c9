/* sink_kafka.c — alerts to the Kafka alerts topic, keyed by customer_id, with an
 * idempotent producer. A batch is settled when every message has its delivery report;
 * the leading run of successes counts as delivered. */
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sink.h"

struct sink_kafka {
    struct sink base;
    rd_kafka_t *rk;
    rd_kafka_topic_t *topic;
    size_t submitted;   /* messages handed to librdkafka in this batch */
    size_t outstanding; /* delivery reports still to come */
    size_t first_failed; /* index of the first failed message, or SIZE_MAX */
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
        log_error("kafka sink: alert to %s not delivered: %s", rd_kafka_topic_name(m->rkt),
                  rd_kafka_err2str(m->err));
    }
}

static int sink_kafka_submit(struct sink *s, const struct outbox_batch *b)
{
    struct sink_kafka *k = (struct sink_kafka *)s;
    k->submitted = 0;
    k->outstanding = 0;
    k->first_failed = SIZE_MAX;
    for (size_t i = 0; i < b->n; i++) {
        const struct outbox_entry *e = &b->e[i];
        if (rd_kafka_produce(k->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                             (void *)e->json, e->json_len, e->customer, strlen(e->customer),
                             (void *)(uintptr_t)i) != 0) {
            log_error("kafka sink: cannot queue alert: %s",
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
    rd_kafka_poll(k->rk, 0);
    if (k->outstanding > 0)
        return false;
    *delivered = k->first_failed < k->submitted ? k->first_failed : k->submitted;
    return true;
}

static void sink_kafka_free(struct sink *s)
{
    struct sink_kafka *k = (struct sink_kafka *)s;
    if (k->rk) {
        rd_kafka_flush(k->rk, 5000);
        if (k->topic)
            rd_kafka_topic_destroy(k->topic);
        rd_kafka_destroy(k->rk);
    }
    free(k);
}

static const struct sink_ops sink_kafka_ops = {sink_kafka_submit, sink_kafka_settle,
                                               sink_kafka_free};

static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char err[512];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
        log_error("kafka sink: %s: %s", key, err);
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
    snprintf(k->base.name, sizeof k->base.name, "kafka");
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int rc = conf_set(conf, "bootstrap.servers", cfg->brokers);
    /* Pass-through properties first, so that ours below win where it matters. Properties
     * that only apply to consumers are skipped quietly. */
    for (size_t i = 0; rc == 0 && i < cfg->n_kafka_props; i++) {
        char err[512];
        rd_kafka_conf_res_t r =
            rd_kafka_conf_set(conf, cfg->kafka_props[i].key, cfg->kafka_props[i].value, err,
                              sizeof err);
        if (r == RD_KAFKA_CONF_INVALID) {
            log_error("kafka sink: %s: %s", cfg->kafka_props[i].key, err);
            rc = -1;
        }
    }
    if (rc == 0)
        rc = conf_set(conf, "enable.idempotence", "true");
    if (rc == 0)
        rc = conf_set(conf, "linger.ms", "5");
    if (rc == 0)
        rc = conf_set(conf, "message.timeout.ms", "30000");
    if (rc == 0)
        rc = conf_set(conf, "client.id", "churnwatchd-alerts");
    if (rc < 0) {
        rd_kafka_conf_destroy(conf);
        free(k);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, sink_kafka_dr);
    rd_kafka_conf_set_opaque(conf, k);
    char err[512];
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (k->rk == NULL) {
        log_error("kafka sink: %s", err);
        rd_kafka_conf_destroy(conf);
        free(k);
        return NULL;
    }
    k->topic = rd_kafka_topic_new(k->rk, cfg->alerts_topic, NULL);
    if (k->topic == NULL) {
        log_error("kafka sink: topic %s: %s", cfg->alerts_topic,
                  rd_kafka_err2str(rd_kafka_last_error()));
        sink_kafka_free(&k->base);
        return NULL;
    }
    return &k->base;
}
