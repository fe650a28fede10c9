/* tiers.h — tiers derived from trailing spend (the 80/20 rule), pure.
 *
 * With tiers.derive on, a customer whose tier no customer.updated event set is
 *   strategic  when its trailing spend is among the top strategic_share of buyers,
 *   key        when among the top key_share,
 *   standard   otherwise (and always while a partition has fewer than min_buyers).
 * Trailing spend is what the customer spent in the `window` whole weeks before the
 * current week; a buyer is a customer with trailing spend > 0. The cut-offs are the
 * spend of the last customer inside each share, computed per partition over all its
 * customers when the first event of a new week (event time) arrives, before it is
 * applied, and stored with the partition's offsets, so a restarted daemon uses the same
 * cut-offs. A customer's tier is re-derived only when one of its own events is applied:
 * a key customer who stops buying stays key (that is whom churnwatch must watch most
 * closely), and the tier never depends on when timers were swept, so the daemon, a
 * restarted daemon and a replay derive the same tiers from the same events. */
#ifndef CW_TIERS_H
#define CW_TIERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "customer.h"
#include "customer_table.h"

#define TIER_WEEK_NONE INT64_MIN /* cut-offs never computed */

struct tier_cutoffs {
    int64_t week;             /* computed at the start of this week; TIER_WEEK_NONE */
    uint64_t key_cents;       /* trailing spend >= this (and > 0): key */
    uint64_t strategic_cents; /* >= this: strategic */
    uint32_t buyers;          /* buyers they were computed over */
};

/* Trailing spend of `c` in cents at any time of `week`: the `window` weeks before it. */
uint64_t tier_trailing_cents(const struct config *cfg, const struct customer *c, int64_t week);

/* Trailing spend of every customer, gathered to compute the cut-offs. */
struct tier_sample {
    uint64_t *cents; /* owned; buyers only */
    size_t n, cap;
};
/* Adds c's trailing spend (nothing for a non-buyer). Returns 0, or -1 on ENOMEM. */
int tier_sample_add(struct tier_sample *s, const struct config *cfg, const struct customer *c,
                    int64_t week);
/* Adds every customer of table t. Returns 0, or -1 on ENOMEM. */
int tier_sample_add_table(struct tier_sample *s, const struct config *cfg,
                          struct customer_table *t, int64_t week);
/* Adds one trailing spend measured elsewhere (nothing for 0). Returns 0 or -1. */
int tier_sample_push(struct tier_sample *s, uint64_t cents);
/* Computes the cut-offs for `week` from the sample (reordering it) and empties it. */
void tier_cutoffs_compute(const struct config *cfg, struct tier_sample *s, int64_t week,
                          struct tier_cutoffs *out);
void tier_sample_free(struct tier_sample *s);

/* True when derivation is on and the cut-offs are for an earlier week than that of
 * clock_ms (or were never computed): compute them before applying an event at clock_ms
 * (the partition clock including that event). */
bool tier_cutoffs_stale(const struct config *cfg, const struct tier_cutoffs *t, int64_t clock_ms);

/* The tier c has from its trailing spend for an event at ts_ms (a late event is measured
 * at the cut-offs' week), or -1 when derivation is off or an event set c's tier. Pass it
 * to rules_apply_event_tier. */
int tier_derive(const struct config *cfg, const struct tier_cutoffs *t, const struct customer *c,
                int64_t ts_ms);

/* The spend of customers a partition no longer holds in memory (its cache was dropped, or
 * a tier scan found more than the cache may hold), kept so that the weekly cut-offs need
 * no scan of Redis: per customer with spend in its ring, its id hash and the non-zero
 * weeks of the ring (what its stored state holds; it cannot change until the customer is
 * loaded again, and then it is removed from here). A customer without spend has no entry,
 * so a million customers who never ordered cost nothing. Owned by its partition. */
struct spend_index;
struct spend_index *spend_index_new(void);
void spend_index_free(struct spend_index *x); /* accepts NULL */
/* Records (or replaces) the spend of customer c (under its id), or removes it when c has
 * none. Returns 0, or -1 on ENOMEM (the index is unchanged). */
int spend_index_put(struct spend_index *x, const struct customer *c);
void spend_index_remove(struct spend_index *x, const char *customer_id);
size_t spend_index_count(const struct spend_index *x);
/* Adds the trailing spend of every indexed customer. Returns 0, or -1 on ENOMEM. */
int tier_sample_add_index(struct tier_sample *s, const struct config *cfg,
                          const struct spend_index *x, int64_t week);

/* "week key_cents strategic_cents buyers", the form stored in Redis; parse returns 0 or
 * -1 when `s` is not one. */
void tier_cutoffs_format(const struct tier_cutoffs *t, char *buf, size_t len);
int tier_cutoffs_parse(const char *s, struct tier_cutoffs *t);

#endif
