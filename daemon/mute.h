/* mute.h — operators' silences and acknowledgements (churnwatch silence / ack) and what
 * becomes of an alert notice under them. Pure: no I/O; store_redis.c reads and writes the
 * hashes below, partition.c applies the decisions, the CLI writes the entries.
 *
 * Per partition, with its hash tag (docs/cli.md):
 *   P:{pN}:silence   hash  customer -> {"until": ms, "at": ms, "note": "..."}     (the CLI)
 *   P:{pN}:ack       hash  alert_id -> {"customer": "...", "rule": "...", "at": ms,
 *                                       "note": "..."}  (the CLI; the daemon deletes it with
 *                                       the episode's resolved notice)
 *   P:{pN}:silenced  hash  customer -> {"unseen": [alert_id...], "held": [alert JSON...]}
 *                          (the daemon, in the state transaction: what a silence kept back)
 *
 * The decisions (mute_decide), for a notice of customer C and episode A:
 *   - C silenced (until > now, wall clock): nothing reaches the sinks. A firing notice is
 *     dropped; a new episode's id is noted as unseen. A resolved notice of an unseen
 *     episode is dropped with it (the sinks never heard of it); one of an episode the sinks
 *     saw firing is held, so that "a resolved notice is always sent" stays true.
 *   - otherwise, A acknowledged: its repeats (repeat_interval) are dropped; escalations
 *     (level changes), the resolved notice and new episodes go out. The resolved notice
 *     also deletes the acknowledgement.
 * When a silence ends (until reached, `churnwatch unsilence`, or the entry removed) the
 * daemon sends the held resolved notices, then re-sends each firing alert of C with
 * "silence_ended": true ("repeat": true unless the sinks never saw it), and forgets the
 * silence and its record in the same transaction. */
#ifndef CW_MUTE_H
#define CW_MUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerts.h"
#include "rules.h"

#define MUTE_NOTE_MAX 256 /* bytes of an operator's note kept */

struct mute_silence {
    char customer[CW_ID_MAX + 1];
    int64_t until_ms, at_ms; /* wall clock, epoch ms */
    char note[MUTE_NOTE_MAX + 1];
    char *raw;   /* owned: the stored value, for the compare-and-delete when it ends */
    bool ending; /* its end is written by the next commit */
};

struct mute_ack {
    char alert_id[CW_ALERT_ID_LEN + 1];
    char customer[CW_ID_MAX + 1];
    char rule[32];
    int64_t at_ms;
    char note[MUTE_NOTE_MAX + 1];
};

/* What a silence kept back for one customer. */
struct mute_record {
    char customer[CW_ID_MAX + 1];
    char (*unseen)[CW_ALERT_ID_LEN + 1]; /* owned: episodes whose firing notice was dropped */
    size_t n_unseen, cap_unseen;
    char **held; /* owned: resolved notices (alert JSON) kept for the silence's end */
    size_t n_held, cap_held;
    bool dirty;   /* the next commit writes it */
    bool deleted; /* the next commit deletes it (then it is dropped from the set) */
};

/* One partition's silences, acknowledgements and records, and the changes the next
 * commit writes. Zero-initialised is empty; mute_set_free releases it. */
struct mute_set {
    struct mute_silence *sil;
    size_t n_sil; /* read whole from Redis, never grown */
    struct mute_ack *ack;
    size_t n_ack;
    struct mute_record *rec;
    size_t n_rec, cap_rec;
    /* acknowledgements to delete (their episode resolved) */
    char (*ack_del)[CW_ALERT_ID_LEN + 1];
    size_t n_ack_del, cap_ack_del;
};
void mute_set_free(struct mute_set *m); /* frees the contents, not `m`; accepts NULL */

/* True when m holds anything that can change a notice (fast path: nothing to decide). */
bool mute_any(const struct mute_set *m);

/* ---- values ---- */

/* Formats a silence / an acknowledgement as the JSON stored in Redis: a new string the
 * caller frees, or NULL on ENOMEM. note may be NULL. */
char *mute_silence_value(int64_t until_ms, int64_t at_ms, const char *note);
char *mute_ack_value(const char *customer, const char *rule, int64_t at_ms, const char *note);
/* Parse stored values; -1 when malformed. */
int mute_silence_parse(const char *customer, const char *value, size_t len,
                       struct mute_silence *out); /* out->raw is left NULL */
int mute_ack_parse(const char *alert_id, const char *value, size_t len, struct mute_ack *out);

/* ---- the set ---- */

/* Replaces m's silences and acknowledgements with these (taken over: the arrays and each
 * raw string belong to m afterwards; the caller's pointers are cleared). Silences whose
 * end is pending keep their pending state. */
void mute_replace(struct mute_set *m, struct mute_silence *sil, size_t n_sil, struct mute_ack *ack,
                  size_t n_ack);
/* Adds a record read back from Redis (value as mute_record_value writes it). Returns 0,
 * -1 when malformed or ENOMEM. */
int mute_record_load(struct mute_set *m, const char *customer, const char *value, size_t len);
/* The stored form of a record: a new string, or NULL on ENOMEM. */
char *mute_record_value(const struct mute_record *r);

const struct mute_silence *mute_silence_find(const struct mute_set *m, const char *customer);
const struct mute_ack *mute_ack_find(const struct mute_set *m, const char *alert_id);
struct mute_record *mute_record_find(struct mute_set *m, const char *customer);

enum mute_verdict {
    MUTE_SEND, /* write it to the outbox */
    MUTE_DROP, /* nobody gets it */
    MUTE_HOLD, /* keep its JSON for the end of the silence: mute_hold */
};
/* Decides about notice n of `customer` (episode id `alert_id`) at wall time now_ms, and
 * notes what the decision implies (unseen episodes, acknowledgements to delete). Returns
 * MUTE_SEND for everything when m is empty. -1 is never returned; ENOMEM while noting
 * aborts (the notice's fate must not depend on memory). */
enum mute_verdict mute_decide(struct mute_set *m, const char *customer, const struct notice *n,
                              const char *alert_id, int64_t now_ms);
/* Keeps `json` (a resolved notice that mute_decide said to hold) for customer's silence. */
void mute_hold(struct mute_set *m, const char *customer, const char *json, size_t len);

/* Customers whose silence ends at now_ms (expired, or a record without a silence), not yet
 * being ended: up to `max` are copied to ids. Returns how many. */
size_t mute_due_ends(const struct mute_set *m, int64_t now_ms, char (*ids)[CW_ID_MAX + 1],
                     size_t max);
/* Was the episode's firing notice kept from the sinks (by the current silence)? */
bool mute_unseen(const struct mute_set *m, const char *customer, const char *alert_id);
/* Starts ending customer's silence: its record (if any) is marked deleted, its silence
 * entry (if any) ending. *held and *n_held are set to the record's held notices (valid until
 * mute_committed). */
void mute_end(struct mute_set *m, const char *customer, char *const **held, size_t *n_held);

/* After a successful commit of what the set asked for: forget deleted records and ended
 * silences, clear the dirty flags and the acknowledgements to delete. */
void mute_committed(struct mute_set *m);

#endif
