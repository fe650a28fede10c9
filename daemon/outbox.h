/* outbox.h — delivery of the per-partition Redis outbox to the sinks.
 *
 * Each sink has its own cursor per partition (P:{pN}:sink:<name>); entries are trimmed
 * once every sink's cursor has passed them. A sink that fails is retried with back-off;
 * its alerts wait in Redis meanwhile, so an unreachable sink delays alerts, never loses
 * them. Re-delivery after a crash repeats an alert with its alert_id unchanged. */
#ifndef CW_OUTBOX_H
#define CW_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sink.h"
#include "store.h"

#define CW_MAX_SINKS 4

struct outbox;

/* Takes ownership of sinks[0..n) (freed by outbox_free); borrows store. */
struct outbox *outbox_new(struct store *store, struct sink **sinks, size_t n);
void outbox_free(struct outbox *o); /* accepts NULL */

/* Partition p is now ours (deliver what it holds) or no longer ours; the sinks that keep
 * per-partition state are told (sink_ops.partition). */
void outbox_partition_add(struct outbox *o, int32_t p);
void outbox_partition_remove(struct outbox *o, int32_t p);
/* New entries were committed for p. */
void outbox_mark_pending(struct outbox *o, int32_t p);
/* Does what it can without blocking on a sink: settles finished batches, advances cursors,
 * submits the next batch per sink. */
void outbox_run(struct outbox *o);
/* True when no owned partition has known undelivered entries and no batch is in flight. */
bool outbox_idle(const struct outbox *o);
/* Per sink (0..outbox_sinks()-1), for the summary and the metrics: its name, the alerts
 * it delivered since start, its deliveries that failed (a batch not wholly delivered,
 * retried later) and since when (clock_mono_ms) its deliveries have been failing, 0 while
 * they succeed. */
size_t outbox_sinks(const struct outbox *o);
const char *outbox_sink_name(const struct outbox *o, size_t sink);
uint64_t outbox_delivered(const struct outbox *o, size_t sink);
uint64_t outbox_failures(const struct outbox *o, size_t sink);
int64_t outbox_failing_since(const struct outbox *o, size_t sink);

#endif
