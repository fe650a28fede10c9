/* sink.h — where alerts go after the outbox: an interface with one backend per file in
 * sinks/. A sink takes one batch of outbox entries at a time; the outbox (outbox.c)
 * advances that sink's cursor in Redis only over the entries the sink confirmed. */
#ifndef CW_SINK_H
#define CW_SINK_H

#include <stdbool.h>
#include <stddef.h>

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
};

struct sink {
    const struct sink_ops *ops;
    char name[32]; /* also the Redis cursor name */
};

/* Constructors: NULL on error (logged). Free with sink_free (accepts NULL). */
struct sink *sink_log_new(void);
struct sink *sink_kafka_new(const struct config *cfg);
void sink_free(struct sink *s);

#endif
