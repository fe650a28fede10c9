/* backtest.h — `churnwatch replay --labels`: how well the rules predicted churn on a
 * labelled history (DESIGN.md §6, docs/backtest.md). Pure: no I/O except reading the
 * labels from a FILE * and printing a report to a FILE * the caller passes in.
 *
 * A backtest is fed three things: the labels (customer_id -> churned), the customers'
 * accepted events (only their time matters: the last one is the customer's last observed
 * activity) and the alert notices replay produced. From them backtest_report() computes,
 * per rule and for "any rule", the confusion matrix of two definitions of "flagged":
 *
 *   during     the rule fired (a firing notice, not a repeat) at least once for the
 *              customer during the replay;
 *   at cutoff  the rule's alert is open (fired and not resolved) at the end of the replay.
 *
 * Positives are the customers labelled churned. Only labelled customers are scored:
 * labelled customers never seen in the events count as not flagged; customers seen but not
 * labelled are ignored (and counted). Lead time of a flagged churner = its last event time
 * minus the time of its first firing of the rule (negative: the first warning came after
 * the customer's last activity). */
#ifndef CW_BACKTEST_H
#define CW_BACKTEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

struct backtest; /* opaque; owns its labels, customers and strings */

/* Returns a new, empty backtest (free with backtest_free), or NULL on ENOMEM. */
struct backtest *backtest_new(void);
void backtest_free(struct backtest *bt); /* accepts NULL */

/* Reads labels, one "customer_id,churned[,group]" per line: churned is 1/0 or true/false
 * (any case); the optional third column (e.g. the simulator's churn archetype) names a
 * group the report breaks recall down by; further columns are ignored. Fields are trimmed
 * of blanks and of one pair of surrounding double quotes. Blank lines and lines starting
 * with '#' are skipped; the first other line is a header, and skipped, when its first
 * field is "customer_id". A customer labelled twice is an error.
 * Returns 0, or -1 with every error (up to 20) in `errs`, one "NAME:LINE: message" per
 * line (or the reason for a read error / ENOMEM). Labels read before an error are kept. */
int backtest_read_labels(struct backtest *bt, FILE *in, const char *name, char *errs,
                         size_t errs_len);

/* Adds one label; `group` may be NULL. Returns 0, or -1 when the customer is already
 * labelled (errno EEXIST) or on ENOMEM. */
int backtest_add_label(struct backtest *bt, const char *customer_id, bool churned,
                       const char *group);

/* Records an accepted event of `customer_id` at ts_ms (its last activity is the largest
 * ts_ms recorded). Returns 0 or -1 on ENOMEM. */
int backtest_observe(struct backtest *bt, const char *customer_id, int64_t ts_ms);

/* Records an alert notice: firing (repeat or not) or resolved, at ts_ms. Only a firing
 * notice that is not a repeat counts as "the rule fired"; repeats and resolved notices
 * keep track of whether the alert is open. Returns 0 or -1 on ENOMEM. */
int backtest_notice(struct backtest *bt, const char *customer_id, enum rule_id rule, bool firing,
                    bool repeat, int64_t started_ms, int64_t ts_ms);

/* The end of the replay (the --until time or the last clock), shown in the report. */
void backtest_set_end(struct backtest *bt, int64_t end_ms);

/* The scores of one rule (or of "any rule") under one definition of flagged. */
struct backtest_score {
    uint64_t tp, fp, fn, tn;
    double precision, recall, specificity, balanced_accuracy; /* NAN when undefined */
    uint64_t lead_n;         /* true positives with a lead time (during only) */
    double lead_median_days; /* NAN when lead_n == 0 or at cutoff */
};

#define BACKTEST_GROUPS_MAX 32
struct backtest_group {
    char name[32];        /* the label file's third column ("" = none given) */
    bool churned;         /* groups are per (name, churned) */
    uint64_t customers;   /* labelled customers in the group */
    uint64_t flagged_any; /* of which any rule fired for during the replay */
    uint64_t flagged[RULE__COUNT];
};

struct backtest_report {
    uint64_t labelled, churned, not_churned;
    uint64_t labelled_unseen; /* labelled, never seen in the events: not flagged */
    uint64_t seen_unlabelled; /* seen in the events, not labelled: ignored */
    bool has_end;
    int64_t end_ms;
    struct backtest_score during[RULE__COUNT + 1]; /* [RULE__COUNT] = any rule */
    struct backtest_score cutoff[RULE__COUNT + 1];
    int n_groups; /* sorted by churned (yes first), then name; beyond the max are merged */
    struct backtest_group group[BACKTEST_GROUPS_MAX];
};

/* Computes the report. Returns 0, or -1 on ENOMEM. */
int backtest_report(const struct backtest *bt, struct backtest_report *rep);

/* Prints the report as a fixed-width table (several lines) or as one JSON object on one
 * line. Both are deterministic: a function of the report only. */
void backtest_report_print_table(const struct backtest_report *rep, FILE *out);
void backtest_report_print_json(const struct backtest_report *rep, FILE *out);

#endif
