/* consumer.h — the librdkafka high-level consumer, set up the way churnwatch needs it:
 * range assignment (co-partitioned topics), eager rebalancing, no auto commit and no
 * auto offset store (the offsets that matter live in Redis with the state). */
#ifndef CW_CONSUMER_H
#define CW_CONSUMER_H

#include <librdkafka/rdkafka.h>

#include "config.h"

typedef void (*consumer_rebalance_fn)(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                      rd_kafka_topic_partition_list_t *parts, void *opaque);

/* Creates the consumer and subscribes to cfg's topics. Returns NULL with a message in
 * err on failure. Destroy with consumer_close. */
rd_kafka_t *consumer_new(const struct config *cfg, consumer_rebalance_fn rebalance, void *opaque,
                         char *err, size_t err_len);
/* Leaves the group (the rebalance callback sees the revocation) and destroys it. */
void consumer_close(rd_kafka_t *rk);
/* Pauses or resumes partition p of every input topic. */
void consumer_pause(rd_kafka_t *rk, const struct config *cfg, int32_t p, bool pause);
/* Commits offsets[t] for partition p of topic t (async; for lag tools only). */
void consumer_commit(rd_kafka_t *rk, const struct config *cfg, int32_t p, const int64_t *offsets);

#endif
