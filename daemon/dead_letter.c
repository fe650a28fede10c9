/* dead_letter.c — see dead_letter.h. */
#include "dead_letter.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_conf.h"
#include "log.h"

struct dead_letter {
    rd_kafka_t *rk;
    char *topic;
    uint64_t failures;
    struct log_ratelimit rl; /* failed copies, one line each: a flood when the topic is down */
    char source[300];        /* "dead-letter topic NAME", the limit's source */
};

static void dead_letter_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct dead_letter *d = opaque;
    if (m->err) {
        d->failures++;
        log_limited(&d->rl, d->source, LOG_LVL_ERROR,
                    "dead-letter topic %s: copy not delivered: %s", d->topic,
                    rd_kafka_err2str(m->err));
    }
}

struct dead_letter *dead_letter_new(const struct config *cfg, int *failed)
{
    *failed = 0;
    if (cfg->dead_letter_topic == NULL)
        return NULL;
    struct dead_letter *d = calloc(1, sizeof *d);
    rd_kafka_conf_t *conf = NULL;
    char err[512];
    if (d == NULL || (d->topic = strdup(cfg->dead_letter_topic)) == NULL)
        goto fail;
    log_ratelimit_init(&d->rl, 1, 10);
    snprintf(d->source, sizeof d->source, "dead-letter topic %s", d->topic);
    conf = kafka_conf_new(cfg, "churnwatchd-dlq", err, sizeof err);
    if (conf == NULL)
        goto conf_fail;
    if (kafka_conf_set(conf, "linger.ms", "20", err, sizeof err) < 0)
        goto conf_fail;
    rd_kafka_conf_set_dr_msg_cb(conf, dead_letter_dr);
    rd_kafka_conf_set_opaque(conf, d);
    d->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (d->rk == NULL)
        goto conf_fail;
    return d;
conf_fail:
    log_error("dead-letter producer: %s", err);
    if (conf)
        rd_kafka_conf_destroy(conf);
fail:
    if (d)
        free(d->topic);
    free(d);
    *failed = 1;
    return NULL;
}

void dead_letter_free(struct dead_letter *d)
{
    if (d == NULL)
        return;
    rd_kafka_flush(d->rk, 5000);
    rd_kafka_destroy(d->rk);
    free(d->topic);
    free(d);
}

void dead_letter_send(struct dead_letter *d, const char *topic, int32_t partition, int64_t offset,
                      enum reject_reason why, const void *key, size_t key_len,
                      const void *payload, size_t len)
{
    if (d == NULL)
        return;
    char part[16], off[24];
    snprintf(part, sizeof part, "%" PRId32, partition);
    snprintf(off, sizeof off, "%" PRId64, offset);
    const char *reason = reject_reason_name(why);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        d->rk, RD_KAFKA_V_TOPIC(d->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY((void *)key, key_len), RD_KAFKA_V_VALUE((void *)payload, len),
        RD_KAFKA_V_HEADER("churnwatch.reason", reason, -1),
        RD_KAFKA_V_HEADER("churnwatch.topic", topic, -1),
        RD_KAFKA_V_HEADER("churnwatch.partition", part, -1),
        RD_KAFKA_V_HEADER("churnwatch.offset", off, -1), RD_KAFKA_V_END);
    if (err) {
        struct log_field f[] = {LOG_STR("topic", topic), LOG_INT("partition", partition),
                                LOG_INT("offset", offset)};
        d->failures++;
        log_limited_fields(&d->rl, d->source, LOG_LVL_ERROR, f, 3,
                           "dead-letter topic %s: cannot queue copy of %s/%" PRId32 "/%" PRId64
                           ": %s",
                           d->topic, topic, partition, offset, rd_kafka_err2str(err));
    }
}

void dead_letter_poll(struct dead_letter *d)
{
    if (d)
        rd_kafka_poll(d->rk, 0);
}

uint64_t dead_letter_failures(const struct dead_letter *d)
{
    return d ? d->failures : 0;
}
