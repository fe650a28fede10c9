/* consumer.c — see consumer.h. */
#include "consumer.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "kafka_conf.h"
#include "log.h"

rd_kafka_t *consumer_new(const struct config *cfg, consumer_rebalance_fn rebalance, void *opaque,
                         char *err, size_t err_len)
{
    rd_kafka_conf_t *conf = kafka_conf_new(cfg, "churnwatchd", err, err_len);
    if (conf == NULL)
        return NULL;
    int rc = 0;
    /* A new group builds its state from the whole history unless the properties say
     * otherwise; once Redis holds offsets, those win. */
    bool reset_given = false;
    for (size_t i = 0; i < cfg->n_kafka_props; i++)
        if (strcmp(cfg->kafka_props[i].key, "auto.offset.reset") == 0)
            reset_given = true;
    if (!reset_given)
        rc = kafka_conf_set(conf, "auto.offset.reset", "earliest", err, err_len);
    /* These are not negotiable: correctness depends on them. */
    static const char *const forced[][2] = {
        {"partition.assignment.strategy", "range"},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "false"},
    };
    if (rc == 0)
        rc = kafka_conf_set(conf, "group.id", cfg->group_id, err, err_len);
    for (size_t i = 0; rc == 0 && i < sizeof forced / sizeof forced[0]; i++)
        rc = kafka_conf_set(conf, forced[i][0], forced[i][1], err, err_len);
    if (rc < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance);
    rd_kafka_conf_set_opaque(conf, opaque);
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (rk == NULL) {
        snprintf(err, err_len, "kafka consumer: %s", e);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new((int)cfg->n_topics);
    for (size_t i = 0; i < cfg->n_topics; i++)
        rd_kafka_topic_partition_list_add(topics, cfg->topics[i].name, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t kerr = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (kerr) {
        snprintf(err, err_len, "kafka subscribe: %s", rd_kafka_err2str(kerr));
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

void consumer_close(rd_kafka_t *rk)
{
    if (rk == NULL)
        return;
    rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk);
    if (err)
        log_warn("kafka consumer close: %s", rd_kafka_err2str(err));
    rd_kafka_destroy(rk);
}

static rd_kafka_topic_partition_list_t *partition_list(const struct config *cfg, int32_t p)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)cfg->n_topics);
    for (size_t t = 0; t < cfg->n_topics; t++)
        rd_kafka_topic_partition_list_add(l, cfg->topics[t].name, p);
    return l;
}

void consumer_pause(rd_kafka_t *rk, const struct config *cfg, int32_t p, bool pause)
{
    rd_kafka_topic_partition_list_t *l = partition_list(cfg, p);
    rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(rk, l)
                                    : rd_kafka_resume_partitions(rk, l);
    if (err)
        log_warn("kafka: %s partition %d: %s", pause ? "pause" : "resume", (int)p,
                 rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(l);
}

void consumer_commit(rd_kafka_t *rk, const struct config *cfg, int32_t p, const int64_t *offsets)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)cfg->n_topics);
    for (size_t t = 0; t < cfg->n_topics; t++)
        if (offsets[t] >= 0)
            rd_kafka_topic_partition_list_add(l, cfg->topics[t].name, p)->offset = offsets[t];
    if (l->cnt > 0) {
        rd_kafka_resp_err_t err = rd_kafka_commit(rk, l, 1);
        if (err)
            log_debug("kafka: commit partition %d: %s", (int)p, rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(l);
}
