/* store.h — per-partition state in Redis (DESIGN.md §5).
 *
 * Keys, with prefix P (default "cw") and partition N as a hash tag so that one
 * partition's keys share a Redis Cluster slot:
 *   P:{pN}:c:<customer_id>  string  customer state (customer_encode)
 *   P:{pN}:due              zset    customer_id -> next due time (ms)
 *   P:{pN}:off              hash    input topic -> next offset; "@clock" -> partition clock;
 *                                   "@tiers" -> tier cut-offs (tiers.h)
 *   P:{pN}:held             zset    events held back for engine.lateness (late_buffer.h)
 *   P:{pN}:epoch            string  owner epoch, INCR'd by each new owner (fencing)
 *   P:{pN}:outbox           stream  alerts not yet delivered by every sink (k=customer, a=json)
 *   P:{pN}:sink:<name>      string  id of the last outbox entry that sink delivered
 *   P:{pN}:sink:<name>:<h>  hash    what a sink must remember across restarts, e.g. the
 *                                   Alertmanager sink's firing alerts (h = "firing")
 *   P:{pN}:risk             zset    customer_id -> risk score, for every customer at risk
 *                                   (rules_at_risk): written with the state (churnwatch top)
 *   P:{pN}:silence, :ack, :silenced   hashes of operators' silences and acknowledgements
 *                                   and what silences kept back (mute.h)
 *
 * A batch is committed with one MULTI/EXEC per partition, guarded by WATCH on the epoch:
 * customers, due times, outbox entries and offsets land together or not at all.
 * All calls return -1 when Redis is unreachable or answers an error; the store then
 * reconnects with back-off on a later call. Errors are logged here, once. */
#ifndef CW_STORE_H
#define CW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerts.h"
#include "config.h"
#include "customer.h"
#include "late_buffer.h"
#include "mute.h"
#include "tiers.h"

#define STORE_FENCED 1 /* a commit refused because another instance owns the partition */
#define CW_STREAM_ID_MAX 48

struct store;

/* Returns a store for cfg's Redis (not yet connected), or NULL on ENOMEM. The store keeps a
 * pointer to nothing in cfg after this call. Free with store_free (accepts NULL). */
struct store *store_new(const struct config *cfg);
void store_free(struct store *s);
/* Connects unless connected or inside the back-off window. Returns 0 when connected. */
int store_connect(struct store *s);
bool store_connected(const struct store *s);
/* "HOST:PORT" or the socket path, for messages. */
const char *store_address(const struct store *s);

struct partition_meta {
    int64_t epoch;    /* this owner's epoch */
    int64_t clock_ms; /* stored partition clock, 0 if none */
    struct tier_cutoffs tiers; /* week TIER_WEEK_NONE if none */
    /* "@risk" is stored: P:{pN}:risk lists every customer at risk (false for state written
     * before the at-risk set existed: it is then rebuilt, partition.h) */
    bool risk_indexed;
    /* next offsets, by index of cfg->topics; -1 when nothing is stored */
    int64_t offset[64];
};

/* Takes ownership of partition p: INCR its epoch and read its offsets and clock. */
int store_claim(struct store *s, int32_t p, struct partition_meta *meta);
/* Reads partition p's epoch (-1 when absent), offsets and clock without claiming it. */
int store_peek(struct store *s, int32_t p, struct partition_meta *meta);
/* Counts successful connections: a change means Redis was reconnected, and what it holds
 * may have been rolled back (a restart without persistence, a failover). */
uint64_t store_generation(const struct store *s);
/* Redis errors since start: connections refused or lost, error replies (for metrics). */
uint64_t store_errors(const struct store *s);
/* What the metrics show of one partition, read in one round trip by store_backlog. */
struct store_backlog {
    uint64_t outbox_len; /* alerts in the outbox (as store_outbox_len) */
    uint64_t due;        /* customers due at or before now_ms */
    uint64_t timers;     /* customers with a timer pending (the due set's size) */
    uint64_t at_risk;    /* customers in the at-risk set (churnwatch top) */
};
int store_backlog(struct store *s, int32_t p, int64_t now_ms, struct store_backlog *b);

/* Loads customers ids[0..n) of partition p in one pipeline. For each i, when stored,
 * decodes into *out[i] and sets found[i]; otherwise leaves *out[i] untouched and clears
 * found[i]. A stored value that does not decode is logged and treated as not found. */
int store_load(struct store *s, int32_t p, size_t n, const char *const *ids,
               struct customer *const *out, bool *found);

struct store_batch {
    int32_t partition;
    int64_t epoch;
    struct customer *const *customers; /* changed customers to write */
    size_t n_customers;
    const struct alert_list *alerts;   /* outbox entries to append, may be empty */
    const int64_t *offsets;            /* next offset per cfg->topics index, -1 = unchanged */
    int64_t clock_ms;
    const struct tier_cutoffs *tiers; /* NULL or week TIER_WEEK_NONE: not written */
    const struct late_buffer *held;   /* NULL, or entries to add and remove */
    /* the at-risk set lists every customer at risk ("@risk" is written); a customer is added
     * to P:{pN}:risk when rules_at_risk, removed when not and c->risk_listed */
    bool risk_indexed;
    const struct mute_set *mute; /* NULL, or the records and deletions to write */
};
/* Commits b atomically. Returns 0, -1 on error (nothing written), STORE_FENCED. */
int store_commit(struct store *s, const struct store_batch *b);

/* Up to `max` ids of partition p due at or before now_ms, earliest first, copied into
 * ids[0..*n). */
int store_due(struct store *s, int32_t p, int64_t now_ms, size_t max, char (*ids)[CW_ID_MAX + 1],
              size_t *n);

/* Customer ids, grown as needed. */
struct id_list {
    char (*id)[CW_ID_MAX + 1];
    size_t n, cap;
};
void id_list_free(struct id_list *l);

/* One SCAN step over partition p's customer keys (about `count` keys): replaces the ids in
 * `out` with the ones this step returned (all of them: SCAN may return more than count)
 * and sets `cursor` to continue from ("0" when the scan is done; start with "0"). A
 * customer may be listed more than once (SCAN's guarantee). */
int store_scan_customers(struct store *s, int32_t p, char cursor[32], size_t count,
                         struct id_list *out);

/* Reads partition p's held events into b (after store_claim). Malformed entries are
 * logged and left out. Returns 0 or -1. */
int store_load_held(struct store *s, int32_t p, struct late_buffer *b);

struct outbox_entry {
    int32_t partition;
    char id[CW_STREAM_ID_MAX];
    const char *customer; /* points into the batch's reply */
    const char *json;
    size_t json_len;
};
/* Outbox entries of one or more partitions, each partition's in stream order and
 * together. */
struct outbox_batch {
    size_t n, cap;
    struct outbox_entry *e; /* owned */
    void **replies;         /* owned redisReplies the strings point into */
    size_t n_replies, cap_replies;
};
/* Appends up to max entries of partition p after `after_id` ("0" for the start) to b;
 * *added is how many. The batch owns the reply; release it with outbox_batch_clear. */
int store_outbox_read(struct store *s, int32_t p, const char *after_id, size_t max,
                      struct outbox_batch *b, size_t *added);
void outbox_batch_clear(struct outbox_batch *b);
/* The number of entries in partition p's outbox: alerts not yet delivered by every sink
 * (delivered ones are trimmed). */
int store_outbox_len(struct store *s, int32_t p, uint64_t *len);
/* Reads a sink's cursor ("0" when none). */
int store_sink_cursor(struct store *s, int32_t p, const char *sink, char out[CW_STREAM_ID_MAX]);
/* Records that `sink` delivered everything up to `id`; trims entries before `trim_before`
 * (the lowest cursor of all sinks) when it is not NULL. */
int store_outbox_ack(struct store *s, int32_t p, const char *sink, const char *id,
                     const char *trim_before);

/* A sink's hashes, P:{pN}:sink:<sink>:<hash>. A sink that needs them borrows the daemon's
 * store (one connection, used from the main loop like every other call here). */
struct sink_hash_op {
    int32_t partition;
    const char *field;
    const char *value; /* HSET field value; NULL: HDEL field */
    size_t value_len;
};
/* Applies ops[0..n) in order, in one pipeline. Returns 0, or -1 when any failed (some may
 * have been applied). */
int store_sink_hash_apply(struct store *s, const char *sink, const char *hash,
                          const struct sink_hash_op *ops, size_t n);
/* Reads field fields[i] of partition parts[i]'s hash for each i, in one pipeline: values[i]
 * is a NUL-terminated copy (the caller frees each) or NULL when absent. Returns 0, or -1
 * with every values[i] NULL. */
int store_sink_hash_get(struct store *s, const char *sink, const char *hash, size_t n,
                        const int32_t *parts, const char *const *fields, char **values);
/* One HSCAN step over partition p's hash (about `count` fields; start with cursor "0",
 * done when it is "0" again; a field may come twice): calls each(arg, field, value,
 * value_len) per field, with strings valid during the call. Returns 0 or -1. */
typedef void store_hash_each(void *arg, const char *field, const char *value, size_t value_len);
int store_sink_hash_scan(struct store *s, int32_t p, const char *sink, const char *hash,
                         char cursor[32], size_t count, store_hash_each *each, void *arg);

/* ---- the operator's CLI (churnwatch inspect, top, ack, silence) ---- */

/* Connects once, without back-off and without logging; on failure writes
 * "Redis HOST:PORT: reason" into err. Returns 0 or -1. */
int store_connect_once(struct store *s, char *err, size_t err_len);
/* Sets *n to 1 + the highest partition with an epoch key (P:{pN}:epoch: every partition
 * ever claimed has one), probed 256 at a time until a block has none; 0 when none. */
int store_partition_count(struct store *s, int32_t *n);
/* Finds customer id among partitions 0..n_parts-1 (one pipelined EXISTS each). Returns 0
 * with *p set, 1 when no partition holds it, -1 on a Redis error. */
int store_locate(struct store *s, const char *id, int32_t n_parts, int32_t *p);
/* Sets *due_ms to customer id's next due time in partition p, CW_NO_DUE when none. */
int store_due_of(struct store *s, int32_t p, const char *id, int64_t *due_ms);

struct risk_entry {
    char id[CW_ID_MAX + 1];
    double score;
    int32_t partition;
};
struct risk_list {
    struct risk_entry *e; /* owned */
    size_t n, cap;
};
void risk_list_free(struct risk_list *l); /* frees the contents, not `l`; accepts NULL */
/* Appends every entry of the at-risk sets of partitions 0..n_parts-1 to out (one
 * pipeline). */
int store_risk_read(struct store *s, int32_t n_parts, struct risk_list *out);

/* Reads partition p's silences and acknowledgements into m (replacing m's, mute_replace)
 * and, when `records`, adds the records of what silences kept back (at claim: the daemon
 * keeps them current itself afterwards). Malformed entries are logged and left out. */
int store_mute_read(struct store *s, int32_t p, struct mute_set *m, bool records);
enum mute_hash { MUTE_HASH_SILENCE, MUTE_HASH_ACK };
/* Sets `field` to `value` in partition p's silence or ack hash. */
int store_mute_write(struct store *s, int32_t p, enum mute_hash h, const char *field,
                     const char *value);

#endif
