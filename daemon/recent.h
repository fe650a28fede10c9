/* recent.h — a customer's recent input events, read back from Kafka (churnwatch inspect).
 *
 * Customer state keeps no event history (it would cost Redis bytes for every customer), so
 * the CLI reads the last `scan` messages of each input topic in the customer's partition
 * (input topics are co-partitioned: partition N of each), with a consumer assigned to those
 * offsets (group id "churnwatch-inspect", which never joins a group: no subscription, and
 * nothing is committed), so the daemon's group is not disturbed. Messages whose key is the customer
 * id (or, without a key, whose decoded customer_id is) are kept, decoded with the topic's field
 * mapping; the latest `keep` by event time are returned. Events older than the scanned window are
 * not seen, and say so. */
#ifndef CW_RECENT_H
#define CW_RECENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event.h"

struct recent_event {
    const char *topic; /* the config's topic name */
    int64_t offset;
    int64_t ts_ms; /* the event's time; the message timestamp when rejected */
    bool rejected; /* it did not decode: `reason` says why */
    char reason[160];
    struct event ev;
};

struct recent_topic {
    const char *topic;
    int64_t from, to; /* offsets read: [from, to); from == to when the topic is empty */
    bool complete;    /* read up to `to` (false: timed out, or an error) */
    char error[160];  /* "" unless the topic could not be read */
};

struct recent_result {
    struct recent_event *ev; /* owned; the latest `keep` matches, oldest first */
    size_t n, cap;
    size_t matched;              /* matches in the scanned window (n <= matched) */
    struct recent_topic *topics; /* owned; one per input topic, in config order */
    size_t n_topics;
};
void recent_result_free(struct recent_result *r); /* the contents, not r; accepts NULL */

/* Reads the window described above, waiting at most timeout_ms in all. Returns 0 (per
 * topic problems are in out->topics[i].error), or -1 with a message in err when no Kafka
 * client could be made. */
int recent_scan(const struct config *cfg, int32_t partition, const char *customer, size_t scan,
                size_t keep, int timeout_ms, struct recent_result *out, char *err, size_t err_len);

#endif
