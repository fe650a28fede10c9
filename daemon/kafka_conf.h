/* kafka_conf.h — the librdkafka configuration every client of the daemon starts from:
 * bootstrap servers, the pass-through properties of the config, and librdkafka's own log
 * lines routed through log.c (so they get journald priorities and levels). */
#ifndef CW_KAFKA_CONF_H
#define CW_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "config.h"

/* Returns a new conf (the caller hands it to rd_kafka_new or destroys it) with client.id
 * set to `client_id`, or NULL with a message naming the property in err. */
rd_kafka_conf_t *kafka_conf_new(const struct config *cfg, const char *client_id, char *err,
                                size_t err_len);
/* Sets one property; on failure writes "kafka property KEY: reason" into err. */
int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
                   size_t err_len);

#endif
