/* sink.h — where alerts go after the outbox: an interface with one backend per file in
 * sinks/. A sink takes one batch of outbox entries at a time; the outbox (outbox.c)
 * advances that sink's cursor in Redis only over the entries the sink confirmed. */
#ifndef CW_SINK_H
#define CW_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

struct sink;

struct sink_ops {
    /* Starts delivering b's entries (b stays valid until settle returns true).
     * Returns 0 when accepted, -1 when nothing could be handed over. */
    int (*submit)(struct sink *s, const struct outbox_batch *b);
    /* Serves callbacks. Returns true once the submitted batch is settled, with
     * *delivered = how many leading entries were delivered. */
    bool (*settle)(struct sink *s, size_t *delivered);
    /* Serves the sink's own callbacks (errors, logs) when no batch is in flight; may be
     * NULL. Called once per loop iteration. */
    void (*poll)(struct sink *s);
    void (*free)(struct sink *s);
    /* Partition p is now owned by this instance (owned) or no longer; may be NULL. For
     * sinks that keep per-partition state of their own (the Alertmanager sink). */
    void (*partition)(struct sink *s, int32_t p, bool owned);
};

struct sink {
    const struct sink_ops *ops;
    char name[32]; /* also the Redis cursor name */
};

/* Constructors: NULL on error (logged). Free with sink_free (accepts NULL). They copy what
 * they need from cfg, except sink_kafka_new, which borrows it (the daemon's config
 * outlives its sinks). sink_alertmanager_new borrows `store` (the pipeline's, freed after
 * its sinks) for its hash of firing alerts (docs/sinks.md). */
struct sink *sink_log_new(void);
struct sink *sink_kafka_new(const struct config *cfg);
struct sink *sink_alertmanager_new(const struct config *cfg, struct store *store);
struct sink *sink_webhook_new(const struct config *cfg);
void sink_free(struct sink *s);

/* The webhook signature header's value for a request: "sha256=" and the hex HMAC-SHA256
 * of timestamp + "." + body under secret (docs/sinks.md). Returns 0 or -1. */
#define SINK_WEBHOOK_SIGNATURE_MAX 72
int sink_webhook_sign(const char *secret, const char *timestamp, const char *body, size_t len,
                      char out[SINK_WEBHOOK_SIGNATURE_MAX]);

#endif
