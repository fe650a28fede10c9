/* rules.h — the churn rules of DESIGN.md §3 as pure functions: customer state and an event
 * (or a time) in, notices out. Shared by churnwatchd, replay and the tests. */
#ifndef CW_RULES_H
#define CW_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "customer.h"
#include "event.h"

enum risk_level { LEVEL_OK, LEVEL_WATCH, LEVEL_ALARM };
const char *risk_level_name(enum risk_level l);

/* One alert notification decided by the rules. */
struct notice {
    enum rule_id rule;
    bool firing;        /* false: resolved */
    bool repeat;        /* a re-send of a firing alert: repeat_interval, or escalation */
    int8_t escalation;  /* a re-send because the level changed: +1 up, -1 down, else 0 */
    bool silence_ended; /* a re-send because an operator's silence ended (mute.h) */
    int64_t started_ms; /* episode start: with customer and rule, identifies the alert */
    int64_t ts_ms;      /* when the condition was detected or cleared (event time) */
    double value;       /* the measured value (e.g. days since last order) */
    double threshold;   /* what it was compared with */
    double baseline;    /* the customer's own baseline (e.g. typical gap in days), or 0 */
    const char *unit;   /* "days", "complaints", ... (static string) */
    /* The customer's risk at the moment of this notice (not at the end of the call that
     * produced it): score, level and the active signals (bit r = rule r). */
    double score;
    uint8_t level;
    uint32_t signals;
};

/* A firing alert is re-sent every repeat_interval, at most this many times per episode. */
#define CW_MAX_REPEATS 16
/* Per rule and call: at most a resolve, a fire and a resolve (a hold that expired), plus
 * the repeats; and per fire or resolve, one level change re-sending the other rules. */
#define CW_MAX_NOTICES                                                                     \
    ((3 + CW_MAX_REPEATS) * RULE__COUNT + 3 * RULE__COUNT * (RULE__COUNT - 1))
struct notice_list {
    int count;
    struct notice n[CW_MAX_NOTICES];
};

enum apply_result { APPLY_OK, APPLY_DUPLICATE };

/* The level a customer at level `cur` moves to with risk score `score`: up as soon as a
 * raise threshold (engine.levels.watch / alarm) is reached, down only when the score is
 * below the clear threshold (watch_clear / alarm_clear) of the current level. */
enum risk_level risk_level_next(const struct config *cfg, enum risk_level cur, double score);

/* Applies `ev` to `c`: first advances `c` to ev->ts_ms (timer rules due by then fire),
 * then updates the state and evaluates the event-driven rules. Appends notices to `out`
 * (which the caller clears). Updates c->score, c->level and c->next_due_ms.
 * Returns APPLY_DUPLICATE (and changes nothing) when ev->event_id was seen recently. */
enum apply_result rules_apply_event(const struct config *cfg, struct customer *c,
                                    const struct event *ev, struct notice_list *out);

/* The same, with a tier derived from spend (tiers.h), or -1: the customer moves to `tier`
 * at the event's time, after the timers due before it fired with the old tier and before
 * the event's own rules are evaluated, so that the alerts do not depend on when timers
 * were swept. */
enum apply_result rules_apply_event_tier(const struct config *cfg, struct customer *c,
                                         const struct event *ev, int tier,
                                         struct notice_list *out);

/* Advances `c` to `now_ms`: fires timer rules whose due time has passed (their notices
 * carry the due time as ts_ms, so the result does not depend on when the sweep ran) and
 * re-sends firing alerts whose repeat_interval has elapsed. Updates score, level and
 * next_due_ms. Returns true when `c` changed. */
bool rules_advance(const struct config *cfg, struct customer *c, int64_t now_ms,
                   struct notice_list *out);

/* True when c is at risk: a score above 0, a level above ok or a firing alert. Such
 * customers are listed in their partition's at-risk set (churnwatch top). */
bool rules_at_risk(const struct customer *c);

/* Appends to `out` a re-send of every firing alert of c at ts_ms (at least each alert's
 * last notice): firing, repeat, with the evidence of its last firing notice brought
 * forward to ts_ms, and c's score, level and signals. Changes nothing in c. Used when an
 * operator's silence ends. */
void rules_resend_active(const struct config *cfg, const struct customer *c, int64_t ts_ms,
                         struct notice_list *out);

#endif
