/* kafka_conf.c — see kafka_conf.h. */
#include "kafka_conf.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "secret.h"

int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
                   size_t err_len)
{
    char why[512];
    if (rd_kafka_conf_set(conf, key, value, why, sizeof why) != RD_KAFKA_CONF_OK) {
        /* librdkafka's reason may quote the value: not for a password */
        if (secret_key_is_sensitive(key) && value[0] != '\0' && strstr(why, value) != NULL)
            snprintf(why, sizeof why, "invalid value " SECRET_MASK);
        snprintf(err, err_len, "kafka property %s: %s", key, why);
        return -1;
    }
    return 0;
}

/* librdkafka's warnings and errors (a broker down, a failed request) are rate-limited
 * per client (its client.id: the consumer, the alerts producer, the dead-letter
 * producer), on top of librdkafka's own suppression of identical broker errors. The
 * callback runs in librdkafka's threads: the limits are shared under a lock. */
#define KAFKA_LOG_CLIENTS 8
static pthread_mutex_t kafka_log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kafka_log_limit {
    char source[80]; /* "kafka client CLIENT.ID" */
    struct log_ratelimit rl;
} kafka_log_limits[KAFKA_LOG_CLIENTS];
static size_t kafka_log_n;

/* The limit of client `name` ("churnwatchd-dlq#producer-3": client.id#type-N); the last
 * one is shared when there are more clients than slots. Called with the lock held. */
static struct kafka_log_limit *kafka_log_limit(const char *name)
{
    char source[sizeof kafka_log_limits[0].source];
    snprintf(source, sizeof source, "kafka client %.*s", (int)strcspn(name, "#"), name);
    for (size_t i = 0; i < kafka_log_n; i++)
        if (strcmp(kafka_log_limits[i].source, source) == 0)
            return &kafka_log_limits[i];
    if (kafka_log_n == KAFKA_LOG_CLIENTS)
        return &kafka_log_limits[KAFKA_LOG_CLIENTS - 1];
    struct kafka_log_limit *k = &kafka_log_limits[kafka_log_n++];
    memcpy(k->source, source, sizeof source);
    log_ratelimit_init(&k->rl, 1, 10);
    return k;
}

/* librdkafka's log lines, at their syslog level (0-3 error, 4 warn, 5-6 info, 7 debug).
 * Warnings that one shared property set applies to a client type that ignores it
 * (CONFWARN: "is a consumer property and will be ignored by this producer") are expected
 * with pass-through properties and go to debug. Info and debug lines are not limited:
 * they are rare, or asked for (`debug` property, --debug). */
static void kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    enum log_level l = level <= 3 ? LOG_LVL_ERROR : level == 4 ? LOG_LVL_WARN
                       : level <= 6                       ? LOG_LVL_INFO
                                                          : LOG_LVL_DEBUG;
    if (strcmp(fac, "CONFWARN") == 0)
        l = LOG_LVL_DEBUG;
    if (!log_enabled(l))
        return;
    if (l > LOG_LVL_WARN) {
        log_msg(l, "kafka %s: %s: %s", rd_kafka_name(rk), fac, buf);
        return;
    }
    pthread_mutex_lock(&kafka_log_lock);
    struct kafka_log_limit *k = kafka_log_limit(rd_kafka_name(rk));
    log_limited(&k->rl, k->source, l, "kafka %s: %s: %s", rd_kafka_name(rk), fac, buf);
    pthread_mutex_unlock(&kafka_log_lock);
}

rd_kafka_conf_t *kafka_conf_new(const struct config *cfg, const char *client_id, char *err,
                                size_t err_len)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, kafka_log);
    int rc = kafka_conf_set(conf, "bootstrap.servers", cfg->brokers, err, err_len);
    if (rc == 0)
        rc = kafka_conf_set(conf, "client.id", client_id, err, err_len);
    for (size_t i = 0; rc == 0 && i < cfg->n_kafka_props; i++)
        rc = kafka_conf_set(conf, cfg->kafka_props[i].key, cfg->kafka_props[i].value, err,
                            err_len);
    if (rc < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}
