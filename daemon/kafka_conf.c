/* kafka_conf.c — see kafka_conf.h. */
#include "kafka_conf.h"

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

/* librdkafka logs from its own threads; log_msg is thread-safe (one fprintf per line).
 * Warnings that one shared property set applies to a client type that ignores it
 * (CONFWARN: "is a consumer property and will be ignored by this producer") are expected
 * with pass-through properties and go to debug. */
static void kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    enum log_level l = level <= 3 ? LOG_LVL_ERROR : level == 4 ? LOG_LVL_WARN
                       : level <= 6                       ? LOG_LVL_INFO
                                                          : LOG_LVL_DEBUG;
    if (strcmp(fac, "CONFWARN") == 0)
        l = LOG_LVL_DEBUG;
    if (log_enabled(l))
        log_msg(l, "kafka %s: %s: %s", rd_kafka_name(rk), fac, buf);
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
