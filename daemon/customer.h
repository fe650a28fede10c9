/* customer.h — the rolling state of one customer, and its compact binary encoding
 * (the value stored in Redis under cw:{pN}:c:<customer_id>). Pure: no I/O. */
#ifndef CW_CUSTOMER_H
#define CW_CUSTOMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event.h"

#define CW_MAX_OPEN 8        /* open complaints / tickets tracked per customer (oldest dropped) */
#define CW_RECENT_EVENT_IDS 8 /* event_id hashes remembered for de-duplication */
#define CW_NO_DUE INT64_MAX   /* next_due_ms when no timer is pending */

/* Spend per customer is kept in fixed 7-day buckets (weeks counted from the Unix epoch,
 * UTC) in a ring of CW_SPEND_BUCKETS weeks, in cents: spend_drop windows are measured in
 * whole weeks and may be at most CW_SPEND_WINDOW_MAX_MS long (config.c enforces it). */
#define CW_SPEND_BUCKET_MS (7 * 86400000LL)
#define CW_SPEND_BUCKETS 52
#define CW_SPEND_WINDOW_MAX_MS (CW_SPEND_BUCKETS * CW_SPEND_BUCKET_MS)

struct customer;
/* The week (counted from the Unix epoch, UTC) that contains time t. */
int64_t cw_week_of(int64_t t_ms);
/* The slot of the spend ring that holds `week`. */
int customer_spend_slot(int64_t week);
/* Cents `c` spent in weeks first..last (inclusive; weeks outside its ring count 0). */
uint64_t customer_spend_weeks(const struct customer *c, int64_t first, int64_t last);

struct open_item {
    uint64_t id_hash;  /* hash of complaint_id / ticket_id */
    int64_t opened_ms; /* opened (or reopened) at */
    uint8_t reopened;  /* complaint was reopened at least once */
    uint8_t replied;   /* ticket got its first reply */
};

/* One rule's alert episode for this customer. */
struct alert_state { /* fields ordered by size: 48 bytes, not 56 */
    int64_t started_ms;   /* start of the episode (part of the alert_id) */
    int64_t last_sent_ms; /* last firing notice, for repeat_interval */
    /* evidence of the last firing notice (value, threshold, baseline): what a re-send for
     * a level change carries; NaN when unknown (state written before version 4) */
    double ev_value, ev_threshold, ev_baseline;
    uint32_t repeats;     /* firing notices re-sent in this episode */
    uint8_t active;       /* condition holds and a firing notice was sent */
};

struct customer { /* 8-byte fields first, then smaller ones: no padding between them */
    int64_t unsubscribed_ms; /* when it unsubscribed (valid while unsubscribed) */
    int64_t first_order_ms; /* 0 when no order yet */
    int64_t last_order_ms;
    int64_t last_event_ms;
    double total_spend;
    uint64_t manager_hash; /* 0 = none known */
    /* manager_changed: the account manager of a key/strategic customer changed; a run of
     * changes, each within `hold` of the previous one, from since to last */
    int64_t manager_since_ms, manager_last_ms;
    /* low_satisfaction: a run of low ratings, each within `hold` of the previous one */
    int64_t low_since_ms, low_last_ms;
    /* spend_drop: cents per week; slot w % CW_SPEND_BUCKETS holds week w for the
     * CW_SPEND_BUCKETS weeks up to the week of spend_ms (older spend is only in
     * total_spend) */
    int64_t spend_ms; /* latest order or cancellation applied; 0 when none */
    uint64_t spend[CW_SPEND_BUCKETS];
    struct open_item complaints[CW_MAX_OPEN];
    struct open_item tickets[CW_MAX_OPEN];
    uint64_t recent_ids[CW_RECENT_EVENT_IDS]; /* ring of event_id hashes, 0 = empty */
    struct alert_state alerts[RULE__COUNT];
    double score;        /* risk score of the active signals */
    int64_t next_due_ms; /* earliest time a timer rule or repeat needs evaluating */
    uint32_t order_count;
    uint8_t tier;          /* enum tier: the tier the rules use */
    uint8_t tier_set;      /* the tier came from a customer.updated event (else derived
                            * from spend when tiers.derive is on, see tiers.h) */
    uint8_t unsubscribed;
    uint8_t manager_changed; /* see manager_since_ms */
    uint8_t low_rating;      /* the last low rating (1..5); 0 = none yet */
    uint8_t n_complaints;
    uint8_t n_tickets;
    uint8_t recent_pos;
    uint8_t level; /* enum risk_level (rules.h); with hysteresis, so it has memory */
    uint8_t dirty; /* daemon only, not encoded: in its partition's list of customers to commit */
    uint8_t risk_listed; /* daemon only, not encoded: in its partition's at-risk set in Redis */
    char id[CW_ID_MAX + 1];
};

/* Sets `c` to the state of a customer never seen before. `id` is copied (1..128 bytes). */
void customer_init(struct customer *c, const char *id);

#define CW_CUSTOMER_ENCODED_MAX 2048
/* Encodes `c` (without its id, which is in the key) into `buf`. Returns the number of
 * bytes written, or 0 if `cap` is too small (CW_CUSTOMER_ENCODED_MAX always suffices). */
size_t customer_encode(const struct customer *c, uint8_t *buf, size_t cap);
/* Decodes what customer_encode wrote into `c` and sets its id to `id`.
 * Returns 0, or -1 if the bytes are not a valid encoding (c is then undefined). */
int customer_decode(struct customer *c, const char *id, const uint8_t *buf, size_t len);

/* 64-bit FNV-1a, used for id hashes and alert ids. Never returns 0. */
uint64_t cw_hash64(const void *data, size_t len, uint64_t seed);

#endif
