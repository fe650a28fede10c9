/* test_rules.c — rules_apply_event / rules_advance: every rule (fires, stays quiet,
 * resolves), the alert lifecycle (fire, repeat, resolve), pending times, de-duplication,
 * score and level with hysteresis, escalation notices, tiers, and determinism (evaluation
 * times and restarts through the encoding do not change the alerts). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "customer.h"
#include "rules.h"

#define DAY 86400000LL
#define T0 1704067200000LL /* 2024-01-01T00:00:00Z */

/* A config with every rule enabled (weights: order_gap 30, complaint_unresolved 30,
 * others 20; factor 3, min_orders 3, no min_gap, older_than 7d, other durations 30d), no repeats,
 * levels watch 20 / alarm 50 (clear thresholds as the raise ones). */
static void rules_all_config(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->watch_score = 20;
    cfg->alarm_score = 50;
    cfg->max_message_bytes = 65536;
    for (int r = 0; r < RULE__COUNT; r++) {
        for (int t = 0; t < TIER__COUNT; t++) {
            struct rule_params *p = &cfg->rules[r].tier[t];
            p->enabled = true;
            p->weight = 20;
            p->factor = 3;
            p->min_orders = 3;
            p->duration_ms = 30 * DAY;
            p->drop = 0.5;
            p->at_least = 3;
            p->at_most = 2;
            p->repeat_interval_ms = 0;
        }
    }
    for (int t = 0; t < TIER__COUNT; t++) {
        cfg->rules[RULE_ORDER_GAP].tier[t].weight = 30;
        cfg->rules[RULE_ORDER_GAP].tier[t].duration_ms = 0; /* min_gap: no floor */
        cfg->rules[RULE_COMPLAINT_UNRESOLVED].tier[t].weight = 30;
        cfg->rules[RULE_COMPLAINT_UNRESOLVED].tier[t].duration_ms = 7 * DAY;
    }
}

static void rule_enable(struct config *cfg, enum rule_id r, bool on)
{
    for (int t = 0; t < TIER__COUNT; t++)
        cfg->rules[r].tier[t].enabled = on;
}

/* The first milestone's tests: only order_gap and complaint_unresolved enabled. */
static void rules_test_config(struct config *cfg)
{
    rules_all_config(cfg);
    for (int r = 0; r < RULE__COUNT; r++)
        rule_enable(cfg, (enum rule_id)r, r == RULE_ORDER_GAP || r == RULE_COMPLAINT_UNRESOLVED);
}

static void set_all_tiers(struct config *cfg, enum rule_id r, int64_t repeat_ms)
{
    for (int t = 0; t < TIER__COUNT; t++)
        cfg->rules[r].tier[t].repeat_interval_ms = repeat_ms;
}

static struct event mk(enum event_type type, int64_t ts, const char *ref, double amount,
                       const char *event_id)
{
    struct event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.ts_ms = ts;
    ev.tier = -1;
    snprintf(ev.customer_id, sizeof ev.customer_id, "%s", "c1");
    snprintf(ev.ref_id, sizeof ev.ref_id, "%s", ref ? ref : "");
    snprintf(ev.event_id, sizeof ev.event_id, "%s", event_id ? event_id : "");
    ev.amount = amount;
    return ev;
}

static struct notice_list nl;

static int apply(const struct config *cfg, struct customer *c, struct event ev)
{
    nl.count = 0;
    cr_assert_eq(rules_apply_event(cfg, c, &ev, &nl), APPLY_OK);
    return nl.count;
}

static int advance(const struct config *cfg, struct customer *c, int64_t now)
{
    nl.count = 0;
    rules_advance(cfg, c, now, &nl);
    return nl.count;
}

static void order(const struct config *cfg, struct customer *c, int64_t ts)
{
    apply(cfg, c, mk(EV_ORDER, ts, "o", 100, NULL));
}

static bool near(double a, double b)
{
    return a - b < 1e-9 && b - a < 1e-9;
}

Test(rules, level_names)
{
    cr_assert_str_eq(risk_level_name(LEVEL_OK), "ok");
    cr_assert_str_eq(risk_level_name(LEVEL_WATCH), "watch");
    cr_assert_str_eq(risk_level_name(LEVEL_ALARM), "alarm");
}

Test(rules, order_gap_quiet_below_min_orders)
{
    struct config cfg;
    struct customer c;
    rules_test_config(&cfg);
    customer_init(&c, "c1");
    order(&cfg, &c, T0);
    cr_assert_eq(nl.count, 0);
    order(&cfg, &c, T0 + 10 * DAY);
    cr_assert_eq(c.order_count, 2);
    cr_assert_eq(c.next_due_ms, CW_NO_DUE, "no timer with 2 of 3 orders");
    cr_assert_eq(advance(&cfg, &c, T0 + 1000 * DAY), 0);
    cr_assert_eq(c.alerts[RULE_ORDER_GAP].active, 0);
    cr_assert_eq(c.level, LEVEL_OK);
}

Test(rules, order_gap_fires_at_due_and_resolves_on_order)
{
    struct config cfg;
    struct customer c;
    rules_test_config(&cfg);
    customer_init(&c, "c1");
    order(&cfg, &c, T0);
    order(&cfg, &c, T0 + 10 * DAY);
    order(&cfg, &c, T0 + 20 * DAY);
    cr_assert_eq(nl.count, 0);
    cr_assert_eq(c.order_count, 3);
    cr_assert(near(c.total_spend, 300));
    int64_t due = T0 + 20 * DAY + 3 * 10 * DAY; /* typical 10 days, factor 3 */
    cr_assert_eq(c.next_due_ms, due + 1);

    cr_assert_eq(advance(&cfg, &c, T0 + 25 * DAY), 0, "quiet before due");
    cr_assert_eq(advance(&cfg, &c, due), 0, "quiet exactly at due");
    cr_assert_eq(c.alerts[RULE_ORDER_GAP].active, 0);

    /* a late sweep still reports the due time */
    cr_assert_eq(advance(&cfg, &c, due + 5 * DAY), 1);
    struct notice *n = &nl.n[0];
    cr_assert_eq(n->rule, RULE_ORDER_GAP);
    cr_assert(n->firing);
    cr_assert(!n->repeat);
    cr_assert_eq(n->ts_ms, due);
    cr_assert_eq(n->started_ms, due);
    cr_assert(near(n->value, 30), "value %f", n->value);
    cr_assert(near(n->threshold, 30));
    cr_assert(near(n->baseline, 10));
    cr_assert_str_eq(n->unit, "days");
    cr_assert_eq(c.alerts[RULE_ORDER_GAP].active, 1);
    cr_assert(near(c.score, 30));
    cr_assert_eq(c.level, LEVEL_WATCH);
    cr_assert_eq(c.next_due_ms, CW_NO_DUE, "no repeats configured");
    cr_assert_eq(advance(&cfg, &c, due + 9 * DAY), 0, "fires once");

    /* the next order resolves it at the order's time */
    cr_assert_eq(apply(&cfg, &c, mk(EV_ORDER, T0 + 60 * DAY, "o4", 50, NULL)), 1);
    n = &nl.n[0];
    cr_assert(!n->firing);
    cr_assert_eq(n->ts_ms, T0 + 60 * DAY);
    cr_assert_eq(n->started_ms, due);
    cr_assert(near(n->value, 40), "days since the previous order: %f", n->value);
    cr_assert(near(n->baseline, 10));
    cr_assert_eq(c.alerts[RULE_ORDER_GAP].active, 0);
    cr_assert(near(c.score, 0));
    cr_assert_eq(c.level, LEVEL_OK);
    cr_assert_eq(c.order_count, 4);
    /* new typical gap 60/3 = 20 days: due 60 days after the last order */
    cr_assert_eq(c.next_due_ms, T0 + 60 * DAY + 60 * DAY + 1);
}

Test(rules, order_gap_typical_gap_floored_at_one_day)
{
    struct config cfg;
    struct customer c;
    rules_test_config(&cfg);
    customer_init(&c, "c1");
    order(&cfg, &c, T0);
    order(&cfg, &c, T0 + 1000);
    order(&cfg, &c, T0 + 2000);
    cr_assert_eq(c.next_due_ms, T0 + 2000 + 3 * DAY + 1);
    cr_assert_eq(advance(&cfg, &c, T0 + DAY), 0);
    cr_assert_eq(advance(&cfg, &c, T0 + 4 * DAY), 1);
    cr_assert(near(nl.n[0].baseline, 1));
}

Test(rules, order_cancelled_reduces_spend_only)
{
    struct config cfg;
    struct customer c;
    rules_test_config(&cfg);
    customer_init(&c, "c1");
    apply(&cfg, &c, mk(EV_ORDER, T0, "o1", 80, NULL));
    apply(&cfg, &c, mk(EV_ORDER_CANCELLED, T0 + DAY, "o1", 30, NULL));
    cr_assert_eq(c.order_count, 1);
    cr_assert(near(c.total_spend, 50));
    cr_assert_eq(c.last_order_ms, T0);
    apply(&cfg, &c, mk(EV_ORDER_CANCELLED, T0 + 2 * DAY, "o1", 500, NULL));
    cr_assert(near(c.total_spend, 0), "not below zero");
    cr_assert_eq(c.last_event_ms, T0 + 2 * DAY);
}

Test(rules, complaint_unresolved_fires_and_resolves)
{
    struct config cfg;
    struct customer c;
    rules_test_config(&cfg);
    customer_init(&c, "c1");
    cr_assert_eq(apply(&cfg, &c, mk(EV_COMPLAINT_OPENED, T0, "k1", 0, NULL)), 0);
    cr_assert_eq(c.n_complaints, 1);
    cr_assert_eq(c.next_due_ms, T0 + 7 * DAY + 1);
    apply(&cfg, &c, mk(EV_COMPLAINT_OPENED, T0 + DAY, "k1", 0, NULL));
    cr_assert_eq(c.n_complaints, 1, "already open: ignored");
    cr_assert_eq(c.complaints[0].opened_ms, T0);

    /* an unrelated event after the due time fires it first, with ts = due */
    cr_assert_eq(apply(&cfg, &c, mk(EV_SUPPORT_OPENED, T0 + 14 * DAY, "t1", 0, NULL)), 1);
    struct notice *n = &nl.n[0];
    cr_assert_eq(n->rule, RULE_COMPLAINT_UNRESOLVED);
    cr_assert(n->firing);
    cr_assert_eq(n->ts_ms, T0 + 7 * DAY);
    cr_assert(near(n->value, 7));
    cr_assert(near(n->threshold, 7));
    cr_assert_eq(c.alerts[RULE_COMPLAINT_UNRESOLVED].started_ms, T0 + 7 * DAY);
    cr_assert(near(c.score, 30));
    cr_assert_eq(c.n_tickets, 1);

    cr_assert_eq(apply(&cfg, &c, mk(EV_COMPLAINT_RESOLVED, T0 + 16 * DAY, "k1", 0, NULL)), 1);
    n = &nl.n[0];
    cr_assert(!n->firing);
    cr_assert_eq(n->rule, RULE_COMPLAINT_UNRESOLVED);
    cr_assert_eq(n->ts_ms, T0 + 16 * DAY);
    cr_assert_eq(n->started_ms, T0 + 7 * DAY);
    cr_assert(near(n->value, 16), "open for 16 days: %f", n->value);
    cr_assert_eq(c.n_complaints, 0);
    cr_assert_eq(c.alerts[RULE_COMPLAINT_UNRESOLVED].active, 0);
    cr_assert_eq(c.level, LEVEL_OK);
    cr_assert_eq(c.next_due_ms, CW_NO_DUE);
}

Test(rules, complaint_reopened_starts_a_new_episode)
{
    struct config cfg;
    struct customer c;
    rules_test_config(&cfg);
    customer_init(&c, "c1");
    apply(&cfg, &c, mk(EV_COMPLAINT_OPENED, T0, "k1", 0, NULL));
    apply(&cfg, &c, mk(EV_COMPLAINT_RESOLVED, T0 + 2 * DAY, "k1", 0, NULL));
    cr_assert_eq(nl.count, 0, "resolved in time: nothing");
    apply(&cfg, &c, mk(EV_COMPLAINT_REOPENED, T0 + 3 * DAY, "k1", 0, NULL));
    cr_assert_eq(c.n_complaints, 1);
    cr_assert_eq(c.complaints[0].opened_ms, T0 + 3 * DAY);
    cr_assert_eq(c.complaints[0].reopened, 1);
    cr_assert_eq(c.next_due_ms, T0 + 10 * DAY + 1);
    cr_assert_eq(advance(&cfg, &c, T0 + 10 * DAY + 1), 1);
    cr_assert_eq(nl.n[0].ts_ms, T0 + 10 * DAY);
    /* another open complaint past its due keeps the episode going */
    apply(&cfg, &c, mk(EV_COMPLAINT_OPENED, T0 + 11 * DAY, "k2", 0, NULL));
    cr_assert_eq(advance(&cfg, &c, T0 + 19 * DAY), 0, "same episode, no new notice");
    cr_assert_eq(apply(&cfg, &c, mk(EV_COMPLAINT_RESOLVED, T0 + 20 * DAY, "k1", 0, NULL)), 0);
    cr_assert_eq(c.alerts[RULE_COMPLAINT_UNRESOLVED].active, 1, "k2 is overdue too");
    cr_assert_eq(apply(&cfg, &c, mk(EV_COMPLAINT_RESOLVED, T0 + 21 * DAY, "k2", 0, NULL)), 1);
    cr_assert(!nl.n[0].firing);
    cr_assert(near(nl.n[0].value, 10));
}

Test(rules, complaints_full_drops_oldest)
{
    struct config cfg;
    struct customer c;
    char ref[16];
    rules_test_config(&cfg);
    customer_init(&c, "c1");
    for (int i = 0; i < CW_MAX_OPEN + 2; i++) {
        snprintf(ref, sizeof ref, "k%d", i);
        apply(&cfg, &c, mk(EV_COMPLAINT_OPENED, T0 + i * 1000, ref, 0, NULL));
    }
    cr_assert_eq(c.n_complaints, CW_MAX_OPEN);
    int64_t oldest = INT64_MAX;
    for (int i = 0; i < c.n_complaints; i++)
        if (c.complaints[i].opened_ms < oldest)
            oldest = c.complaints[i].opened_ms;
    cr_assert_eq(oldest, T0 + 2000, "k0 and k1 dropped");
}

Test(rules, repeats_at_the_interval_and_always_resolves)
{
    struct config cfg;
    struct customer c;
    rules_test_config(&cfg);
    set_all_tiers(&cfg, RULE_ORDER_GAP, 2 * DAY);
    customer_init(&c, "c1");
    order(&cfg, &c, T0);
    order(&cfg, &c, T0 + 10 * DAY);
    order(&cfg, &c, T0 + 20 * DAY);
    int64_t due = T0 + 50 * DAY;
    cr_assert_eq(advance(&cfg, &c, due + 1), 1);
    cr_assert(!nl.n[0].repeat);
    /* like a timer, a repeat dated T is sent by an evaluation after T */
    cr_assert_eq(c.next_due_ms, due + 2 * DAY + 1, "next repeat");
    cr_assert_eq(advance(&cfg, &c, due + 2 * DAY), 0);
    cr_assert_eq(advance(&cfg, &c, due + 2 * DAY + 1), 1);
    struct notice *n = &nl.n[0];
    cr_assert(n->firing);
    cr_assert(n->repeat);
    cr_assert_eq(n->ts_ms, due + 2 * DAY);
    cr_assert_eq(n->started_ms, due, "same episode");
    cr_assert(near(n->value, 32));
    cr_assert_eq(c.alerts[RULE_ORDER_GAP].repeats, 1);
    cr_assert_eq(c.next_due_ms, due + 4 * DAY + 1);
    /* a late sweep sends every repeat time reached, so the alerts do not depend on how
     * often the customer is evaluated */
    cr_assert_eq(advance(&cfg, &c, due + 9 * DAY), 3);
    cr_assert_eq(nl.n[0].ts_ms, due + 4 * DAY);
    cr_assert_eq(nl.n[1].ts_ms, due + 6 * DAY);
    cr_assert_eq(nl.n[2].ts_ms, due + 8 * DAY);
    cr_assert_eq(c.alerts[RULE_ORDER_GAP].repeats, 4);
    cr_assert_eq(c.next_due_ms, due + 10 * DAY + 1);
    /* an order: a repeat due by then first, then the resolved notice */
    cr_assert_eq(apply(&cfg, &c, mk(EV_ORDER, due + 11 * DAY, "o", 1, NULL)), 2);
    cr_assert(nl.n[0].repeat);
    cr_assert_eq(nl.n[0].ts_ms, due + 10 * DAY);
    cr_assert(!nl.n[1].firing);
    cr_assert_eq(nl.n[1].ts_ms, due + 11 * DAY);
    cr_assert_eq(nl.n[1].started_ms, due);
}

Test(rules, duplicate_event_ids_change_nothing)
{
    struct config cfg;
    struct customer c, before;
    rules_test_config(&cfg);
    customer_init(&c, "c1");
    struct event ev = mk(EV_ORDER, T0, "o1", 10, "e-1");
    cr_assert_eq(rules_apply_event(&cfg, &c, &ev, &nl), APPLY_OK);
    memcpy(&before, &c, sizeof c);
    nl.count = 0;
    ev.ts_ms = T0 + 100 * DAY;
    cr_assert_eq(rules_apply_event(&cfg, &c, &ev, &nl), APPLY_DUPLICATE);
    cr_assert_eq(nl.count, 0);
    cr_assert(memcmp(&before, &c, sizeof c) == 0, "state unchanged");
    cr_assert_eq(c.order_count, 1);

    /* events without an id are never duplicates */
    struct event anon = mk(EV_ORDER, T0 + DAY, "o2", 10, NULL);
    cr_assert_eq(rules_apply_event(&cfg, &c, &anon, &nl), APPLY_OK);
    cr_assert_eq(rules_apply_event(&cfg, &c, &anon, &nl), APPLY_OK);
    cr_assert_eq(c.order_count, 3);

    /* the ring remembers the last CW_RECENT_EVENT_IDS ids */
    char id[32];
    for (int i = 0; i < CW_RECENT_EVENT_IDS; i++) {
        snprintf(id, sizeof id, "x-%d", i);
        struct event e = mk(EV_SUPPORT_OPENED, T0 + 2 * DAY, "t", 0, id);
        cr_assert_eq(rules_apply_event(&cfg, &c, &e, &nl), APPLY_OK);
    }
    struct event last = mk(EV_SUPPORT_OPENED, T0 + 2 * DAY, "t", 0, "x-7");
    cr_assert_eq(rules_apply_event(&cfg, &c, &last, &nl), APPLY_DUPLICATE);
    cr_assert_eq(rules_apply_event(&cfg, &c, &ev, &nl), APPLY_OK, "e-1 forgotten");
}

Test(rules, score_and_level)
{
    struct config cfg;
    struct customer c;
    rules_test_config(&cfg);
    customer_init(&c, "c1");
    order(&cfg, &c, T0);
    order(&cfg, &c, T0 + 10 * DAY);
    order(&cfg, &c, T0 + 20 * DAY);             /* order_gap due at day 50 */
    apply(&cfg, &c, mk(EV_COMPLAINT_OPENED, T0 + 40 * DAY, "k", 0, NULL)); /* due day 47 */
    cr_assert_eq(c.next_due_ms, T0 + 47 * DAY + 1);
    cr_assert_eq(advance(&cfg, &c, T0 + 48 * DAY), 1);
    cr_assert(near(c.score, 30));
    cr_assert_eq(c.level, LEVEL_WATCH);
    cr_assert_eq(c.next_due_ms, T0 + 50 * DAY + 1);
    /* order_gap raises the level: complaint_unresolved is re-sent with it */
    cr_assert_eq(advance(&cfg, &c, T0 + 51 * DAY), 2);
    cr_assert_eq(nl.n[0].rule, RULE_ORDER_GAP);
    cr_assert_eq(nl.n[0].level, LEVEL_ALARM);
    cr_assert_eq(nl.n[1].rule, RULE_COMPLAINT_UNRESOLVED);
    cr_assert_eq(nl.n[1].escalation, 1);
    cr_assert(near(c.score, 60));
    cr_assert_eq(c.level, LEVEL_ALARM);
    /* watch below 20, alarm from 50 on; a reload of the thresholds moves the level at the
     * next evaluation, and both active alerts are re-sent at that time */
    cfg.alarm_score = 61;
    cr_assert_eq(advance(&cfg, &c, T0 + 52 * DAY), 2);
    cr_assert_eq(c.level, LEVEL_WATCH);
    cr_assert_eq(nl.n[0].escalation, -1);
    cr_assert_eq(nl.n[0].ts_ms, T0 + 52 * DAY);
    cr_assert_eq(nl.n[1].escalation, -1);
    cfg.watch_score = 61;
    cr_assert_eq(advance(&cfg, &c, T0 + 52 * DAY), 2);
    cr_assert_eq(c.level, LEVEL_OK);
    cr_assert_eq(advance(&cfg, &c, T0 + 53 * DAY), 0, "no change, no notice");
}

Test(rules, several_notices_ordered_by_ts_then_rule)
{
    struct config cfg;
    struct customer c;
    rules_test_config(&cfg);
    customer_init(&c, "c1");
    order(&cfg, &c, T0);
    order(&cfg, &c, T0 + 10 * DAY);
    order(&cfg, &c, T0 + 20 * DAY);             /* order_gap due at day 50 */
    apply(&cfg, &c, mk(EV_COMPLAINT_OPENED, T0 + 40 * DAY, "k", 0, NULL)); /* due day 47 */
    cr_assert_eq(advance(&cfg, &c, T0 + 60 * DAY), 3);
    cr_assert_eq(nl.n[0].rule, RULE_COMPLAINT_UNRESOLVED);
    cr_assert_eq(nl.n[0].ts_ms, T0 + 47 * DAY);
    cr_assert_eq(nl.n[0].level, LEVEL_WATCH);
    cr_assert_eq(nl.n[1].rule, RULE_ORDER_GAP);
    cr_assert_eq(nl.n[1].ts_ms, T0 + 50 * DAY);
    cr_assert_eq(nl.n[1].level, LEVEL_ALARM);
    /* the level change re-sends the other active alert right after its cause */
    cr_assert_eq(nl.n[2].rule, RULE_COMPLAINT_UNRESOLVED);
    cr_assert_eq(nl.n[2].ts_ms, T0 + 50 * DAY);
    cr_assert_eq(nl.n[2].started_ms, T0 + 47 * DAY);
    cr_assert(nl.n[2].repeat);
    cr_assert_eq(nl.n[2].escalation, 1);

    /* same due time: rule order, and one change of level for both (no escalation
     * re-send: each of them carries the new level itself) */
    customer_init(&c, "c1");
    order(&cfg, &c, T0);
    order(&cfg, &c, T0 + 10 * DAY);
    order(&cfg, &c, T0 + 20 * DAY);
    apply(&cfg, &c, mk(EV_COMPLAINT_OPENED, T0 + 43 * DAY, "k", 0, NULL)); /* due day 50 */
    cr_assert_eq(advance(&cfg, &c, T0 + 60 * DAY), 2);
    cr_assert_eq(nl.n[0].rule, RULE_ORDER_GAP);
    cr_assert_eq(nl.n[1].rule, RULE_COMPLAINT_UNRESOLVED);
    cr_assert_eq(nl.n[0].ts_ms, nl.n[1].ts_ms);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(nl.n[i].level, LEVEL_ALARM);
        cr_assert(near(nl.n[i].score, 60));
        cr_assert_eq(nl.n[i].escalation, 0);
    }

    /* the complaint resolves: the level falls, and order_gap (still active) is re-sent */
    apply(&cfg, &c, mk(EV_COMPLAINT_RESOLVED, T0 + 61 * DAY, "k", 0, NULL));
    cr_assert_eq(nl.count, 2);
    cr_assert_not(nl.n[0].firing);
    cr_assert_eq(nl.n[0].rule, RULE_COMPLAINT_UNRESOLVED);
    cr_assert_eq(nl.n[0].level, LEVEL_WATCH);
    cr_assert_eq(nl.n[1].rule, RULE_ORDER_GAP);
    cr_assert_eq(nl.n[1].escalation, -1);
}

Test(rules, tier_override_used)
{
    struct config cfg;
    struct customer c;
    rules_test_config(&cfg);
    cfg.rules[RULE_ORDER_GAP].tier[TIER_KEY].factor = 1.5;
    cfg.rules[RULE_ORDER_GAP].tier[TIER_KEY].weight = 55;
    customer_init(&c, "c1");
    struct event up = mk(EV_CUSTOMER_UPDATED, T0, NULL, 0, NULL);
    up.tier = TIER_KEY;
    apply(&cfg, &c, up);
    cr_assert_eq(c.tier, TIER_KEY);
    order(&cfg, &c, T0);
    order(&cfg, &c, T0 + 10 * DAY);
    order(&cfg, &c, T0 + 20 * DAY);
    cr_assert_eq(c.next_due_ms, T0 + 35 * DAY + 1, "1.5 x 10 days");
    cr_assert_eq(advance(&cfg, &c, T0 + 36 * DAY), 1);
    cr_assert(near(nl.n[0].threshold, 15));
    cr_assert(near(c.score, 55));
    cr_assert_eq(c.level, LEVEL_ALARM);
    /* an update without a tier keeps it */
    apply(&cfg, &c, mk(EV_CUSTOMER_UPDATED, T0 + 37 * DAY, NULL, 0, NULL));
    cr_assert_eq(c.tier, TIER_KEY);
}

Test(rules, disabled_rule_never_fires_and_clears)
{
    struct config cfg;
    struct customer c;
    rules_test_config(&cfg);
    customer_init(&c, "c1");
    apply(&cfg, &c, mk(EV_COMPLAINT_OPENED, T0, "k", 0, NULL));
    cr_assert_eq(advance(&cfg, &c, T0 + 8 * DAY), 1);
    cr_assert_eq(c.alerts[RULE_COMPLAINT_UNRESOLVED].active, 1);
    for (int t = 0; t < TIER__COUNT; t++)
        cfg.rules[RULE_COMPLAINT_UNRESOLVED].tier[t].enabled = false;
    cr_assert_eq(advance(&cfg, &c, T0 + 9 * DAY), 1);
    cr_assert(!nl.n[0].firing);
    cr_assert_eq(nl.n[0].ts_ms, T0 + 9 * DAY);
    cr_assert_eq(c.alerts[RULE_COMPLAINT_UNRESOLVED].active, 0);
    cr_assert(near(c.score, 0));
    apply(&cfg, &c, mk(EV_COMPLAINT_OPENED, T0 + 9 * DAY, "k2", 0, NULL));
    cr_assert_eq(c.next_due_ms, CW_NO_DUE);
    cr_assert_eq(advance(&cfg, &c, T0 + 100 * DAY), 0);
}

Test(rules, late_event_does_not_undo_a_fired_timer)
{
    struct config cfg;
    struct customer c;
    rules_test_config(&cfg);
    customer_init(&c, "c1");
    apply(&cfg, &c, mk(EV_COMPLAINT_OPENED, T0, "k", 0, NULL));
    cr_assert_eq(advance(&cfg, &c, T0 + 10 * DAY), 1);
    cr_assert_eq(apply(&cfg, &c, mk(EV_SUPPORT_OPENED, T0 + DAY, "t", 0, NULL)), 0);
    cr_assert_eq(c.alerts[RULE_COMPLAINT_UNRESOLVED].active, 1);
    /* a late resolution resolves, never before the alert started */
    cr_assert_eq(apply(&cfg, &c, mk(EV_COMPLAINT_RESOLVED, T0 + 2 * DAY, "k", 0, NULL)), 1);
    cr_assert(!nl.n[0].firing);
    cr_assert_geq(nl.n[0].ts_ms, nl.n[0].started_ms);
}

Test(rules, tracked_state_without_rules)
{
    struct config cfg;
    struct customer c;
    rules_test_config(&cfg);
    customer_init(&c, "c1");
    apply(&cfg, &c, mk(EV_SUPPORT_OPENED, T0, "t1", 0, NULL));
    apply(&cfg, &c, mk(EV_SUPPORT_OPENED, T0 + 1, "t2", 0, NULL));
    apply(&cfg, &c, mk(EV_SUPPORT_REPLIED, T0 + 2, "t1", 0, NULL));
    cr_assert_eq(c.n_tickets, 2);
    cr_assert_eq(c.tickets[0].replied, 1);
    cr_assert_eq(c.tickets[1].replied, 0);
    apply(&cfg, &c, mk(EV_SUPPORT_CLOSED, T0 + 3, "t1", 0, NULL));
    cr_assert_eq(c.n_tickets, 1);
    cr_assert_eq(c.tickets[0].opened_ms, T0 + 1);

    apply(&cfg, &c, mk(EV_CUSTOMER_UNSUBSCRIBED, T0 + 4, NULL, 0, NULL));
    cr_assert_eq(c.unsubscribed, 1);
    struct event up = mk(EV_CUSTOMER_UPDATED, T0 + 5, NULL, 0, NULL);
    up.has_account_manager = 1;
    snprintf(up.account_manager, sizeof up.account_manager, "%s", "Ann");
    apply(&cfg, &c, up);
    uint64_t ann = c.manager_hash;
    cr_assert_neq(ann, 0);
    snprintf(up.account_manager, sizeof up.account_manager, "%s", "Bob");
    apply(&cfg, &c, up);
    cr_assert_neq(c.manager_hash, ann);
    up.account_manager[0] = '\0';
    apply(&cfg, &c, up);
    cr_assert_eq(c.manager_hash, 0);
    order(&cfg, &c, T0 + 6);
    cr_assert_eq(c.unsubscribed, 0, "an order undoes the unsubscribe");
    cr_assert_eq(c.last_event_ms, T0 + 6);

    /* with their rules disabled, none of them fires */
    advance(&cfg, &c, T0 + 1000 * DAY);
    for (int r = 0; r < RULE__COUNT; r++)
        if (r != RULE_ORDER_GAP && r != RULE_COMPLAINT_UNRESOLVED)
            cr_assert_eq(c.alerts[r].active, 0, "%s", rule_name((enum rule_id)r));
}

/* One event can fire a timer rule and clear it again (the order that ends a gap arrives
 * after the due time): each notice carries the risk as of itself, not as of the end. */
Test(rules, each_notice_carries_its_own_risk)
{
    struct config cfg;
    struct customer c;
    rules_test_config(&cfg);
    customer_init(&c, "r1");
    order(&cfg, &c, T0);
    order(&cfg, &c, T0 + 10 * DAY);
    order(&cfg, &c, T0 + 20 * DAY);
    /* due at day 50; the next order comes at day 60 */
    cr_assert_eq(apply(&cfg, &c, mk(EV_ORDER, T0 + 60 * DAY, "o4", 1, NULL)), 2);
    const struct notice *fire = &nl.n[0], *clear = &nl.n[1];
    cr_assert(fire->firing);
    cr_assert_eq(fire->ts_ms, T0 + 50 * DAY);
    cr_assert_eq(fire->score, 30);
    cr_assert_eq(fire->level, LEVEL_WATCH);
    cr_assert_eq(fire->signals, 1u << RULE_ORDER_GAP);
    cr_assert(!clear->firing);
    cr_assert_eq(clear->score, 0);
    cr_assert_eq(clear->level, LEVEL_OK);
    cr_assert_eq(clear->signals, 0u);
    cr_assert_eq(c.score, 0);
}

/* ==== the rules of the second milestone: a table of scripts ==== */

#define ADVANCE (-1)
#define RT_MAX_STEPS 10

struct rt_step {
    bool used;
    int kind;   /* enum event_type, or ADVANCE */
    double day; /* days after T0 */
    char ref[8];
    double amount;
    int sat;     /* support.closed satisfaction */
    int tier;    /* customer.updated tier, -1 = none */
    char mgr[8]; /* customer.updated account manager, "" = none */
};

/* Criterion runs each case in a new process: parameters hold no pointers. */
struct rt_case {
    char name[40];
    enum rule_id rule;
    struct rt_step step[RT_MAX_STEPS];
    int fires, resolves; /* notices of the rule (repeats not counted) */
    bool active;         /* at the end */
    double fire_day;     /* ts of the first firing notice, or -1 */
    double resolve_day;  /* ts of the first resolved notice, or -1 */
};

#define EV(k, d, r, a) {1, (k), (d), r, (a), 0, -1, ""}
#define ADV(d) {1, ADVANCE, (d), "", 0, 0, -1, ""}
#define CLOSED(d, r, s) {1, EV_SUPPORT_CLOSED, (d), r, 0, (s), -1, ""}
#define UPD(d, t, m) {1, EV_CUSTOMER_UPDATED, (d), "", 0, 0, (t), m}

/* Thresholds of the script tables; weights 10 (levels do not matter here). */
static void rt_config(struct config *cfg)
{
    rules_all_config(cfg);
    for (int r = 0; r < RULE__COUNT; r++)
        for (int t = 0; t < TIER__COUNT; t++)
            cfg->rules[r].tier[t].weight = 10;
    for (int t = 0; t < TIER__COUNT; t++) {
        cfg->rules[RULE_FIRST_REPEAT_OVERDUE].tier[t].duration_ms = 30 * DAY;
        cfg->rules[RULE_SPEND_DROP].tier[t].duration_ms = 28 * DAY;
        cfg->rules[RULE_SPEND_DROP].tier[t].drop = 0.5;
        cfg->rules[RULE_OPEN_COMPLAINTS].tier[t].at_least = 2;
        cfg->rules[RULE_SUPPORT_UNANSWERED].tier[t].duration_ms = 2 * DAY;
        cfg->rules[RULE_LOW_SATISFACTION].tier[t].at_most = 2;
        cfg->rules[RULE_LOW_SATISFACTION].tier[t].duration_ms = 10 * DAY;
        cfg->rules[RULE_MANAGER_CHANGED].tier[t].duration_ms = 20 * DAY;
    }
}

static int64_t rt_ms(double day)
{
    return T0 + llround(day * (double)DAY);
}

static struct event rt_event(const struct rt_step *s)
{
    struct event ev = mk((enum event_type)s->kind, rt_ms(s->day), s->ref, s->amount, NULL);
    ev.satisfaction = s->sat;
    ev.tier = s->tier;
    if (s->mgr[0] != '\0') {
        ev.has_account_manager = 1;
        snprintf(ev.account_manager, sizeof ev.account_manager, "%s", s->mgr);
    }
    return ev;
}

static struct rt_case rt_cases[] = {
    /* first_repeat_overdue: after 30d */
    {"first_repeat fires", RULE_FIRST_REPEAT_OVERDUE, {EV(EV_ORDER, 0, "o1", 10), ADV(31)},
     1, 0, true, 30, -1},
    {"first_repeat quiet", RULE_FIRST_REPEAT_OVERDUE,
     {EV(EV_ORDER, 0, "o1", 10), EV(EV_ORDER, 29, "o2", 10), ADV(400)}, 0, 0, false, -1, -1},
    {"first_repeat resolves", RULE_FIRST_REPEAT_OVERDUE,
     {EV(EV_ORDER, 0, "o1", 10), ADV(31), EV(EV_ORDER, 40, "o2", 10)}, 1, 1, false, 30, 40},
    /* spend_drop: window 28d, drop 0.5 */
    {"spend_drop fires on an order", RULE_SPEND_DROP,
     {EV(EV_ORDER, 0, "o1", 1000), EV(EV_ORDER, 7, "o2", 1000), EV(EV_ORDER, 70, "o3", 10)},
     1, 0, true, 70, -1},
    {"spend_drop quiet", RULE_SPEND_DROP,
     {EV(EV_ORDER, 0, "o1", 1000), EV(EV_ORDER, 7, "o2", 1000), EV(EV_ORDER, 60, "o3", 1000),
      ADV(400)},
     0, 0, false, -1, -1},
    {"spend_drop quiet without history", RULE_SPEND_DROP,
     {EV(EV_ORDER, 0, "o1", 1000), EV(EV_ORDER, 30, "o2", 10), ADV(40)}, 0, 0, false, -1, -1},
    {"spend_drop resolves", RULE_SPEND_DROP,
     {EV(EV_ORDER, 0, "o1", 1000), EV(EV_ORDER, 7, "o2", 1000), EV(EV_ORDER, 70, "o3", 10),
      EV(EV_ORDER, 75, "o4", 3000)},
     1, 1, false, 70, 75},
    {"spend_drop fires on a cancellation", RULE_SPEND_DROP,
     {EV(EV_ORDER, 0, "o1", 1000), EV(EV_ORDER, 7, "o2", 1000), EV(EV_ORDER, 60, "o3", 1000),
      EV(EV_ORDER_CANCELLED, 62, "o3", 990)},
     1, 0, true, 62, -1},
    /* open_complaints: at least 2 */
    {"open_complaints fires", RULE_OPEN_COMPLAINTS,
     {EV(EV_COMPLAINT_OPENED, 0, "k1", 0), EV(EV_COMPLAINT_OPENED, 1, "k2", 0)}, 1, 0, true, 1,
     -1},
    {"open_complaints quiet", RULE_OPEN_COMPLAINTS,
     {EV(EV_COMPLAINT_OPENED, 0, "k1", 0), EV(EV_COMPLAINT_RESOLVED, 1, "k1", 0),
      EV(EV_COMPLAINT_OPENED, 2, "k2", 0), EV(EV_COMPLAINT_OPENED, 2, "k2", 0)},
     0, 0, false, -1, -1},
    {"open_complaints resolves", RULE_OPEN_COMPLAINTS,
     {EV(EV_COMPLAINT_OPENED, 0, "k1", 0), EV(EV_COMPLAINT_OPENED, 1, "k2", 0),
      EV(EV_COMPLAINT_RESOLVED, 3, "k1", 0)},
     1, 1, false, 1, 3},
    /* complaint_reopened */
    {"complaint_reopened fires", RULE_COMPLAINT_REOPENED,
     {EV(EV_COMPLAINT_OPENED, 0, "k1", 0), EV(EV_COMPLAINT_RESOLVED, 1, "k1", 0),
      EV(EV_COMPLAINT_REOPENED, 2, "k1", 0)},
     1, 0, true, 2, -1},
    {"complaint_reopened quiet", RULE_COMPLAINT_REOPENED,
     {EV(EV_COMPLAINT_OPENED, 0, "k1", 0), EV(EV_COMPLAINT_REOPENED, 1, "k1", 0), ADV(5)}, 0, 0,
     false, -1, -1},
    {"complaint_reopened resolves", RULE_COMPLAINT_REOPENED,
     {EV(EV_COMPLAINT_OPENED, 0, "k1", 0), EV(EV_COMPLAINT_RESOLVED, 1, "k1", 0),
      EV(EV_COMPLAINT_REOPENED, 2, "k1", 0), EV(EV_COMPLAINT_RESOLVED, 3, "k1", 0)},
     1, 1, false, 2, 3},
    /* support_unanswered: within 2d */
    {"support_unanswered fires", RULE_SUPPORT_UNANSWERED,
     {EV(EV_SUPPORT_OPENED, 0, "t1", 0), ADV(3)}, 1, 0, true, 2, -1},
    {"support_unanswered quiet", RULE_SUPPORT_UNANSWERED,
     {EV(EV_SUPPORT_OPENED, 0, "t1", 0), EV(EV_SUPPORT_REPLIED, 1.9, "t1", 0), ADV(30)}, 0, 0,
     false, -1, -1},
    {"support_unanswered resolves", RULE_SUPPORT_UNANSWERED,
     {EV(EV_SUPPORT_OPENED, 0, "t1", 0), ADV(3), CLOSED(4, "t1", 0)}, 1, 1, false, 2, 4},
    {"support_unanswered replied", RULE_SUPPORT_UNANSWERED,
     {EV(EV_SUPPORT_OPENED, 0, "t1", 0), ADV(3), EV(EV_SUPPORT_REPLIED, 3.5, "t1", 0)}, 1, 1,
     false, 2, 3.5},
    /* low_satisfaction: at most 2, hold 10d */
    {"low_satisfaction fires", RULE_LOW_SATISFACTION, {CLOSED(0, "t1", 1)}, 1, 0, true, 0, -1},
    {"low_satisfaction quiet", RULE_LOW_SATISFACTION,
     {CLOSED(0, "t1", 3), CLOSED(1, "t2", 0), ADV(30)}, 0, 0, false, -1, -1},
    {"low_satisfaction resolves", RULE_LOW_SATISFACTION, {CLOSED(0, "t1", 2), ADV(11)}, 1, 1,
     false, 0, 10},
    {"low_satisfaction renewed", RULE_LOW_SATISFACTION,
     {CLOSED(0, "t1", 2), CLOSED(8, "t2", 1), ADV(17)}, 1, 0, true, 0, -1},
    {"low_satisfaction renewed ends", RULE_LOW_SATISFACTION,
     {CLOSED(0, "t1", 2), CLOSED(8, "t2", 1), ADV(40)}, 1, 1, false, 0, 18},
    /* unsubscribed */
    {"unsubscribed fires", RULE_UNSUBSCRIBED, {EV(EV_CUSTOMER_UNSUBSCRIBED, 1, "", 0)}, 1, 0,
     true, 1, -1},
    {"unsubscribed quiet", RULE_UNSUBSCRIBED, {EV(EV_ORDER, 1, "o1", 5), ADV(100)}, 0, 0, false,
     -1, -1},
    {"unsubscribed resolves", RULE_UNSUBSCRIBED,
     {EV(EV_CUSTOMER_UNSUBSCRIBED, 1, "", 0), EV(EV_ORDER, 5, "o1", 5)}, 1, 1, false, 1, 5},
    {"unsubscribed earlier order", RULE_UNSUBSCRIBED,
     {EV(EV_CUSTOMER_UNSUBSCRIBED, 5, "", 0), EV(EV_ORDER, 4, "o1", 5)}, 1, 0, true, 5, -1},
    /* manager_changed: key/strategic only, hold 20d */
    {"manager_changed fires", RULE_MANAGER_CHANGED,
     {UPD(0, TIER_KEY, "ann"), UPD(5, -1, "bob")}, 1, 0, true, 5, -1},
    {"manager_changed quiet standard", RULE_MANAGER_CHANGED,
     {UPD(0, -1, "ann"), UPD(5, -1, "bob"), ADV(6)}, 0, 0, false, -1, -1},
    {"manager_changed quiet first", RULE_MANAGER_CHANGED,
     {UPD(0, TIER_STRATEGIC, ""), UPD(1, -1, "ann"), UPD(2, -1, "ann"), ADV(6)}, 0, 0, false, -1,
     -1},
    {"manager_changed resolves", RULE_MANAGER_CHANGED,
     {UPD(0, TIER_STRATEGIC, "ann"), UPD(5, -1, "bob"), ADV(26)}, 1, 1, false, 5, 25},
};

ParameterizedTestParameters(rules_each, script)
{
    return cr_make_param_array(struct rt_case, rt_cases, sizeof rt_cases / sizeof rt_cases[0]);
}

ParameterizedTest(struct rt_case *k, rules_each, script)
{
    struct config cfg;
    struct customer c;
    rt_config(&cfg);
    customer_init(&c, "c1");
    int fires = 0, resolves = 0;
    int64_t fire_ts = -1, resolve_ts = -1;
    for (int i = 0; i < RT_MAX_STEPS && k->step[i].used; i++) {
        const struct rt_step *s = &k->step[i];
        if (s->kind == ADVANCE)
            advance(&cfg, &c, rt_ms(s->day));
        else
            apply(&cfg, &c, rt_event(s));
        for (int j = 0; j < nl.count; j++) {
            const struct notice *n = &nl.n[j];
            if (n->rule != k->rule || n->repeat)
                continue;
            if (n->firing) {
                if (fires++ == 0)
                    fire_ts = n->ts_ms;
                cr_assert_eq(n->started_ms, n->ts_ms, "%s: started_at is the fire time", k->name);
            } else if (resolves++ == 0) {
                resolve_ts = n->ts_ms;
            }
        }
    }
    cr_assert_eq(fires, k->fires, "%s: fires", k->name);
    cr_assert_eq(resolves, k->resolves, "%s: resolves", k->name);
    cr_assert_eq(c.alerts[k->rule].active, k->active, "%s: active", k->name);
    if (k->fire_day >= 0)
        cr_assert_eq(fire_ts, rt_ms(k->fire_day), "%s: fire ts", k->name);
    if (k->resolve_day >= 0)
        cr_assert_eq(resolve_ts, rt_ms(k->resolve_day), "%s: resolve ts", k->name);
}

/* ==== tiers: the customer's tier picks the thresholds, for every rule ==== */

Test(rules_tiers, overrides_used_for_several_rules)
{
    struct config cfg;
    struct customer c;
    rt_config(&cfg);
    cfg.rules[RULE_FIRST_REPEAT_OVERDUE].tier[TIER_KEY].duration_ms = 10 * DAY;
    cfg.rules[RULE_SUPPORT_UNANSWERED].tier[TIER_KEY].duration_ms = 4 * 3600000LL;
    cfg.rules[RULE_OPEN_COMPLAINTS].tier[TIER_KEY].at_least = 1;
    cfg.rules[RULE_LOW_SATISFACTION].tier[TIER_KEY].at_most = 3;
    cfg.rules[RULE_UNSUBSCRIBED].tier[TIER_KEY].weight = 45;

    /* the same events for a standard and a key customer */
    for (int tier = TIER_STANDARD; tier <= TIER_KEY; tier++) {
        customer_init(&c, "c1");
        struct event up = mk(EV_CUSTOMER_UPDATED, T0 - DAY, NULL, 0, NULL);
        up.tier = tier;
        apply(&cfg, &c, up);
        order(&cfg, &c, T0);
        apply(&cfg, &c, mk(EV_SUPPORT_OPENED, T0, "t1", 0, NULL));
        apply(&cfg, &c, mk(EV_COMPLAINT_OPENED, T0, "k1", 0, NULL));
        cr_assert_eq(c.alerts[RULE_OPEN_COMPLAINTS].active, tier == TIER_KEY, "at_least 1 (key)");
        struct event closed = mk(EV_SUPPORT_CLOSED, T0 + 3600000, "t9", 0, NULL);
        closed.satisfaction = 3;
        apply(&cfg, &c, closed);
        cr_assert_eq(c.alerts[RULE_LOW_SATISFACTION].active, tier == TIER_KEY, "at_most 3 (key)");
        advance(&cfg, &c, T0 + 5 * 3600000LL);
        cr_assert_eq(c.alerts[RULE_SUPPORT_UNANSWERED].active, tier == TIER_KEY, "within 4h (key)");
        advance(&cfg, &c, T0 + 11 * DAY);
        cr_assert_eq(c.alerts[RULE_FIRST_REPEAT_OVERDUE].active, tier == TIER_KEY,
                     "after 10d (key)");
        if (tier == TIER_KEY)
            cr_assert_eq(c.alerts[RULE_FIRST_REPEAT_OVERDUE].started_ms, T0 + 10 * DAY);
        apply(&cfg, &c, mk(EV_CUSTOMER_UNSUBSCRIBED, T0 + 12 * DAY, NULL, 0, NULL));
        /* standard: support_unanswered, complaint_unresolved, unsubscribed; key: also
         * open_complaints and first_repeat_overdue (low_satisfaction's 10d hold is over),
         * and unsubscribed weighs 45 */
        double expect = tier == TIER_KEY ? 10 * 4 + 45 : 10 * 3;
        cr_assert(near(c.score, expect), "tier %d score %f", tier, c.score);
    }
}

/* ==== risk level: hysteresis ==== */

struct lv_case {
    int cur;
    double score;
    int want;
};

ParameterizedTestParameters(rules_levels, hysteresis_table)
{
    /* watch 20 (clear 10), alarm 50 (clear 40) */
    static struct lv_case cases[] = {
        {LEVEL_OK, 0, LEVEL_OK},        {LEVEL_OK, 19.9, LEVEL_OK},
        {LEVEL_OK, 20, LEVEL_WATCH},    {LEVEL_OK, 50, LEVEL_ALARM},
        {LEVEL_WATCH, 15, LEVEL_WATCH}, {LEVEL_WATCH, 10, LEVEL_WATCH},
        {LEVEL_WATCH, 9.9, LEVEL_OK},   {LEVEL_WATCH, 49, LEVEL_WATCH},
        {LEVEL_WATCH, 50, LEVEL_ALARM}, {LEVEL_ALARM, 45, LEVEL_ALARM},
        {LEVEL_ALARM, 40, LEVEL_ALARM}, {LEVEL_ALARM, 39, LEVEL_WATCH},
        {LEVEL_ALARM, 12, LEVEL_WATCH}, {LEVEL_ALARM, 5, LEVEL_OK},
    };
    return cr_make_param_array(struct lv_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct lv_case *k, rules_levels, hysteresis_table)
{
    struct config cfg;
    rules_all_config(&cfg);
    cfg.watch_clear_score = 10;
    cfg.alarm_clear_score = 40;
    cr_assert_eq(risk_level_next(&cfg, (enum risk_level)k->cur, k->score), k->want,
                 "from %d at %g", k->cur, k->score);
}

/* A score that oscillates around the watch threshold does not flap the level. */
Test(rules_levels, no_flapping)
{
    struct config cfg;
    struct customer c;
    rt_config(&cfg);
    cfg.watch_clear_score = 10;
    for (int t = 0; t < TIER__COUNT; t++) {
        cfg.rules[RULE_UNSUBSCRIBED].tier[t].weight = 15;
        cfg.rules[RULE_OPEN_COMPLAINTS].tier[t].at_least = 1;
    }
    customer_init(&c, "c1");
    int escalations = 0;
    apply(&cfg, &c, mk(EV_CUSTOMER_UNSUBSCRIBED, T0, NULL, 0, NULL)); /* 15: ok */
    cr_assert_eq(c.level, LEVEL_OK);
    cr_assert_eq(nl.n[0].level, LEVEL_OK);
    for (int i = 0; i < 5; i++) {
        char ref[16];
        snprintf(ref, sizeof ref, "k%d", i);
        apply(&cfg, &c, mk(EV_COMPLAINT_OPENED, T0 + (2 * i + 1) * DAY, ref, 0, NULL)); /* 25 */
        cr_assert_eq(c.level, LEVEL_WATCH);
        for (int j = 0; j < nl.count; j++)
            escalations += nl.n[j].escalation != 0;
        apply(&cfg, &c, mk(EV_COMPLAINT_RESOLVED, T0 + (2 * i + 2) * DAY, ref, 0, NULL)); /* 15 */
        cr_assert_eq(nl.count, 1);
        cr_assert_eq(nl.n[0].level, LEVEL_WATCH, "15 >= watch_clear 10: stays");
        cr_assert_eq(c.level, LEVEL_WATCH);
        cr_assert(near(c.score, 15));
    }
    cr_assert_eq(escalations, 1, "only the first rise re-sends unsubscribed");
    apply(&cfg, &c, mk(EV_ORDER, T0 + 20 * DAY, "o", 1, NULL)); /* 0 */
    cr_assert_eq(c.level, LEVEL_OK);
    cr_assert_eq(nl.n[0].level, LEVEL_OK);
}

/* ==== pending ==== */

Test(rules_pending, timer_rule_fires_after_pending)
{
    struct config cfg;
    struct customer c;
    rt_config(&cfg);
    for (int t = 0; t < TIER__COUNT; t++)
        cfg.rules[RULE_SUPPORT_UNANSWERED].tier[t].pending_ms = DAY;
    customer_init(&c, "c1");
    apply(&cfg, &c, mk(EV_SUPPORT_OPENED, T0, "t1", 0, NULL));
    cr_assert_eq(c.next_due_ms, T0 + 3 * DAY + 1, "due 2d + pending 1d");
    cr_assert_eq(advance(&cfg, &c, T0 + 3 * DAY), 0);
    cr_assert_eq(advance(&cfg, &c, T0 + 9 * DAY), 1);
    cr_assert_eq(nl.n[0].ts_ms, T0 + 3 * DAY);
    cr_assert_eq(nl.n[0].started_ms, T0 + 3 * DAY, "started_at: when it fired");
    /* replied during the pending time: never fires */
    customer_init(&c, "c2");
    apply(&cfg, &c, mk(EV_SUPPORT_OPENED, T0, "t1", 0, NULL));
    cr_assert_eq(apply(&cfg, &c, mk(EV_SUPPORT_REPLIED, T0 + 2 * DAY + 5, "t1", 0, NULL)), 0);
    cr_assert_eq(advance(&cfg, &c, T0 + 30 * DAY), 0);
}

Test(rules_pending, event_rule_must_hold_continuously)
{
    struct config cfg;
    struct customer c;
    rt_config(&cfg);
    for (int t = 0; t < TIER__COUNT; t++)
        cfg.rules[RULE_UNSUBSCRIBED].tier[t].pending_ms = 5 * DAY;
    rule_enable(&cfg, RULE_FIRST_REPEAT_OVERDUE, false);
    customer_init(&c, "c1");
    cr_assert_eq(apply(&cfg, &c, mk(EV_CUSTOMER_UNSUBSCRIBED, T0, NULL, 0, NULL)), 0);
    cr_assert_eq(c.next_due_ms, T0 + 5 * DAY + 1);
    cr_assert_eq(apply(&cfg, &c, mk(EV_ORDER, T0 + 3 * DAY, "o", 1, NULL)), 0, "cleared in time");
    cr_assert_eq(advance(&cfg, &c, T0 + 30 * DAY), 0);
    apply(&cfg, &c, mk(EV_CUSTOMER_UNSUBSCRIBED, T0 + 40 * DAY, NULL, 0, NULL));
    cr_assert_eq(advance(&cfg, &c, T0 + 45 * DAY), 0);
    int got = advance(&cfg, &c, T0 + 60 * DAY);
    cr_assert_eq(got, 1, "a late sweep reports the pending end: %d notices, first rule %d ts %lld",
                 got, nl.n[0].rule, (long long)(nl.n[0].ts_ms - T0));
    cr_assert_eq(nl.n[0].ts_ms, T0 + 45 * DAY);
    cr_assert_eq(nl.n[0].started_ms, T0 + 45 * DAY);

    /* a hold shorter than pending never fires */
    for (int t = 0; t < TIER__COUNT; t++)
        cfg.rules[RULE_LOW_SATISFACTION].tier[t].pending_ms = 11 * DAY;
    customer_init(&c, "c2");
    struct event closed = mk(EV_SUPPORT_CLOSED, T0, "t", 0, NULL);
    closed.satisfaction = 1;
    apply(&cfg, &c, closed);
    cr_assert_eq(advance(&cfg, &c, T0 + 100 * DAY), 0);
}

/* ==== escalation ==== */

Test(rules_escalation, up_and_down_with_the_episode_of_each_alert)
{
    struct config cfg;
    struct customer c;
    rules_all_config(&cfg);
    cfg.alarm_clear_score = 40;
    rule_enable(&cfg, RULE_SPEND_DROP, false);
    rule_enable(&cfg, RULE_FIRST_REPEAT_OVERDUE, false);
    for (int t = 0; t < TIER__COUNT; t++)
        cfg.rules[RULE_SUPPORT_UNANSWERED].tier[t].duration_ms = 2 * DAY;
    customer_init(&c, "c1");
    /* complaint_unresolved (30) at day 7: watch */
    apply(&cfg, &c, mk(EV_COMPLAINT_OPENED, T0, "k1", 0, NULL));
    cr_assert_eq(advance(&cfg, &c, T0 + 8 * DAY), 1);
    cr_assert_eq(nl.n[0].level, LEVEL_WATCH);
    cr_assert_eq(nl.n[0].escalation, 0);
    /* unsubscribed (20) at day 9: 50, alarm; complaint_unresolved re-sent */
    cr_assert_eq(apply(&cfg, &c, mk(EV_CUSTOMER_UNSUBSCRIBED, T0 + 9 * DAY, NULL, 0, NULL)), 2);
    cr_assert_eq(nl.n[0].rule, RULE_UNSUBSCRIBED);
    cr_assert_eq(nl.n[0].level, LEVEL_ALARM);
    const struct notice *e = &nl.n[1];
    cr_assert_eq(e->rule, RULE_COMPLAINT_UNRESOLVED);
    cr_assert(e->firing);
    cr_assert(e->repeat);
    cr_assert_eq(e->escalation, 1);
    cr_assert_eq(e->level, LEVEL_ALARM);
    cr_assert_eq(e->ts_ms, T0 + 9 * DAY);
    cr_assert_eq(e->started_ms, T0 + 7 * DAY);
    cr_assert(near(e->score, 50));
    cr_assert_eq(e->signals, (1u << RULE_COMPLAINT_UNRESOLVED) | (1u << RULE_UNSUBSCRIBED));
    cr_assert(near(e->value, 9), "current evidence: open for 9 days");
    cr_assert_eq(c.alerts[RULE_COMPLAINT_UNRESOLVED].repeats, 0, "not a rate-limited repeat");
    /* a support ticket (20): 70, stays alarm, nothing re-sent */
    apply(&cfg, &c, mk(EV_SUPPORT_OPENED, T0 + 10 * DAY, "t1", 0, NULL));
    cr_assert_eq(advance(&cfg, &c, T0 + 13 * DAY), 1);
    /* the order resolves unsubscribed (50 >= 40: alarm), then the complaint (20: watch) */
    cr_assert_eq(apply(&cfg, &c, mk(EV_ORDER, T0 + 14 * DAY, "o", 1, NULL)), 1);
    cr_assert_eq(nl.n[0].level, LEVEL_ALARM);
    cr_assert_eq(apply(&cfg, &c, mk(EV_COMPLAINT_RESOLVED, T0 + 15 * DAY, "k1", 0, NULL)), 2);
    cr_assert(!nl.n[0].firing);
    cr_assert_eq(nl.n[0].level, LEVEL_WATCH);
    cr_assert_eq(nl.n[1].rule, RULE_SUPPORT_UNANSWERED);
    cr_assert_eq(nl.n[1].escalation, -1);
    cr_assert_eq(nl.n[1].level, LEVEL_WATCH);
    cr_assert_eq(nl.n[1].started_ms, T0 + 12 * DAY);
    cr_assert_eq(c.level, LEVEL_WATCH);
}

/* ==== determinism ==== */

/* A day-by-day script touching every rule. */
static void det_events(struct event *evs, int *n)
{
    int k = 0;
    struct event up = mk(EV_CUSTOMER_UPDATED, T0, NULL, 0, NULL);
    up.tier = TIER_KEY;
    up.has_account_manager = 1;
    snprintf(up.account_manager, sizeof up.account_manager, "ann");
    evs[k++] = up;
    for (int i = 0; i < 8; i++)
        evs[k++] = mk(EV_ORDER, T0 + i * 7 * DAY, "o", 500, NULL);
    evs[k++] = mk(EV_COMPLAINT_OPENED, T0 + 60 * DAY, "k1", 0, NULL);
    evs[k++] = mk(EV_COMPLAINT_OPENED, T0 + 61 * DAY, "k2", 0, NULL);
    evs[k++] = mk(EV_COMPLAINT_OPENED, T0 + 62 * DAY, "k3", 0, NULL);
    evs[k++] = mk(EV_SUPPORT_OPENED, T0 + 63 * DAY, "t1", 0, NULL);
    evs[k++] = mk(EV_ORDER, T0 + 64 * DAY, "o", 20, NULL);
    evs[k++] = mk(EV_COMPLAINT_RESOLVED, T0 + 70 * DAY, "k1", 0, NULL);
    evs[k++] = mk(EV_COMPLAINT_REOPENED, T0 + 72 * DAY, "k1", 0, NULL);
    struct event closed = mk(EV_SUPPORT_CLOSED, T0 + 75 * DAY, "t1", 0, NULL);
    closed.satisfaction = 1;
    evs[k++] = closed;
    snprintf(up.account_manager, sizeof up.account_manager, "bob");
    up.ts_ms = T0 + 80 * DAY;
    up.tier = -1;
    evs[k++] = up;
    evs[k++] = mk(EV_CUSTOMER_UNSUBSCRIBED, T0 + 85 * DAY, NULL, 0, NULL);
    evs[k++] = mk(EV_COMPLAINT_RESOLVED, T0 + 90 * DAY, "k2", 0, NULL);
    evs[k++] = mk(EV_ORDER, T0 + 120 * DAY, "o", 3000, NULL);
    evs[k++] = mk(EV_COMPLAINT_RESOLVED, T0 + 125 * DAY, "k1", 0, NULL);
    evs[k++] = mk(EV_COMPLAINT_RESOLVED, T0 + 126 * DAY, "k3", 0, NULL);
    *n = k;
}

#define DET_MAX 4096
struct det_log {
    int n;
    char line[DET_MAX][96];
};

static void det_record(struct det_log *log, const struct notice_list *l)
{
    for (int i = 0; i < l->count && log->n < DET_MAX; i++) {
        const struct notice *n = &l->n[i];
        snprintf(log->line[log->n++], sizeof log->line[0], "%d %d %d %d %lld %lld %d %.3f %x",
                 (int)n->rule, n->firing, n->repeat, n->escalation, (long long)n->ts_ms,
                 (long long)n->started_ms, n->level, n->score, n->signals);
    }
}

/* mode 0: events only; 1: a sweep every 6 hours as well; 2: as 1, and each step goes
 * through customer_encode/customer_decode (a restart) first. */
static void det_run(const struct config *cfg, int mode, struct det_log *log)
{
    static struct event evs[64];
    int n;
    struct customer c;
    det_events(evs, &n);
    customer_init(&c, "det");
    log->n = 0;
    int64_t until = T0 + 200 * DAY;
    int64_t sweep = T0;
    for (int i = 0; i <= n; i++) {
        int64_t next = i < n ? evs[i].ts_ms : until;
        while (mode > 0 && sweep < next) {
            if (mode == 2) {
                uint8_t buf[CW_CUSTOMER_ENCODED_MAX];
                size_t len = customer_encode(&c, buf, sizeof buf);
                cr_assert_gt(len, 0);
                cr_assert_eq(customer_decode(&c, "det", buf, len), 0);
            }
            nl.count = 0;
            rules_advance(cfg, &c, sweep, &nl);
            det_record(log, &nl);
            sweep += DAY / 4;
        }
        nl.count = 0;
        if (i < n)
            rules_apply_event(cfg, &c, &evs[i], &nl);
        else
            rules_advance(cfg, &c, until, &nl);
        det_record(log, &nl);
    }
}

Test(rules_determinism, evaluation_times_and_restarts_change_nothing)
{
    static struct config cfg;
    static struct det_log a, b, d;
    rt_config(&cfg);
    for (int r = 0; r < RULE__COUNT; r++)
        for (int t = 0; t < TIER__COUNT; t++)
            cfg.rules[r].tier[t].repeat_interval_ms = 5 * DAY;
    cfg.rules[RULE_OPEN_COMPLAINTS].tier[TIER_KEY].pending_ms = 2 * DAY;
    cfg.rules[RULE_SPEND_DROP].tier[TIER_KEY].pending_ms = 3 * DAY;
    cfg.watch_score = 20;
    cfg.watch_clear_score = 15;
    cfg.alarm_score = 40;
    cfg.alarm_clear_score = 25;
    det_run(&cfg, 0, &a);
    det_run(&cfg, 1, &b);
    det_run(&cfg, 2, &d);
    /* every rule fired at least once, and levels changed both ways */
    uint32_t fired = 0;
    int up = 0, down = 0;
    for (int i = 0; i < a.n; i++) {
        int rule, firing, repeat, esc;
        sscanf(a.line[i], "%d %d %d %d", &rule, &firing, &repeat, &esc);
        if (firing && !repeat)
            fired |= 1u << rule;
        up += esc > 0;
        down += esc < 0;
    }
    cr_assert_eq(fired, (1u << RULE__COUNT) - 1 - (1u << RULE_FIRST_REPEAT_OVERDUE),
                 "fired: %x", fired);
    cr_assert_gt(up, 0);
    cr_assert_gt(down, 0);
    cr_assert_eq(a.n, b.n, "sweeps: %d vs %d notices", a.n, b.n);
    cr_assert_eq(a.n, d.n, "restarts: %d vs %d notices", a.n, d.n);
    for (int i = 0; i < a.n; i++) {
        cr_assert_str_eq(a.line[i], b.line[i], "notice %d", i);
        cr_assert_str_eq(a.line[i], d.line[i], "notice %d", i);
    }
}

/* The size of a typical customer's state: a year of monthly orders, a resolved
 * complaint, event ids. */
Test(rules_determinism, typical_state_size)
{
    struct config cfg;
    struct customer c;
    uint8_t buf[CW_CUSTOMER_ENCODED_MAX];
    rt_config(&cfg);
    customer_init(&c, "c-typical");
    char id[16];
    for (int i = 0; i < 12; i++) {
        snprintf(id, sizeof id, "ev-%d", i);
        apply(&cfg, &c, mk(EV_ORDER, T0 + i * 30 * DAY, "o", 49.90 + i, id));
    }
    apply(&cfg, &c, mk(EV_COMPLAINT_OPENED, T0 + 100 * DAY, "k", 0, "ev-k1"));
    apply(&cfg, &c, mk(EV_COMPLAINT_RESOLVED, T0 + 102 * DAY, "k", 0, "ev-k2"));
    size_t n = customer_encode(&c, buf, sizeof buf);
    cr_log_info("typical customer state: %zu bytes", n);
    cr_assert_lt(n, 200, "%zu bytes", n);
    struct customer d;
    cr_assert_eq(customer_decode(&d, c.id, buf, n), 0);
    cr_assert_eq(memcmp(d.spend, c.spend, sizeof c.spend), 0);
}

/* min_gap is a floor under factor x typical gap: a customer who ordered on three
 * consecutive days is not flagged after three quiet days but after min_gap. */
Test(rules, order_gap_min_gap_floor)
{
    struct config cfg;
    struct customer c;
    rules_test_config(&cfg);
    for (int t = 0; t < TIER__COUNT; t++)
        cfg.rules[RULE_ORDER_GAP].tier[t].duration_ms = 10 * DAY;
    customer_init(&c, "floor");
    order(&cfg, &c, T0);
    order(&cfg, &c, T0 + 1 * DAY);
    order(&cfg, &c, T0 + 2 * DAY);
    cr_assert_eq(advance(&cfg, &c, T0 + 6 * DAY), 0, "3 x 1 day is below the floor");
    cr_assert_eq(advance(&cfg, &c, T0 + 12 * DAY + 1), 1);
    cr_assert(nl.n[0].firing);
    cr_assert_eq(nl.n[0].rule, RULE_ORDER_GAP);
    cr_assert_eq(nl.n[0].ts_ms, T0 + 12 * DAY);
    cr_assert_float_eq(nl.n[0].threshold, 10, 1e-9, "the floor is the threshold");
    cr_assert_float_eq(nl.n[0].baseline, 1, 1e-9);
}

/* repeat_backoff: each re-send waits backoff times longer than the one before. */
Test(rules, repeats_back_off)
{
    struct config cfg;
    struct customer c;
    rules_test_config(&cfg);
    set_all_tiers(&cfg, RULE_ORDER_GAP, 2 * DAY);
    for (int t = 0; t < TIER__COUNT; t++)
        cfg.rules[RULE_ORDER_GAP].tier[t].repeat_backoff = 2;
    customer_init(&c, "b1");
    order(&cfg, &c, T0);
    order(&cfg, &c, T0 + 10 * DAY);
    order(&cfg, &c, T0 + 20 * DAY);
    int64_t due = T0 + 50 * DAY;
    cr_assert_eq(advance(&cfg, &c, due + 20 * DAY), 4, "firing + 3 repeats");
    cr_assert(!nl.n[0].repeat);
    cr_assert_eq(nl.n[1].ts_ms, due + 2 * DAY);
    cr_assert_eq(nl.n[2].ts_ms, due + 6 * DAY);
    cr_assert_eq(nl.n[3].ts_ms, due + 14 * DAY);
    cr_assert_eq(c.next_due_ms, due + 30 * DAY + 1, "the next one waits 16 days");
}

/* The re-sends for a level change carry the evidence of the alert as of their own time,
 * whatever happened later in the same call: one long advance gives the same notices as
 * the same time in two steps (found by 40-crash-consistency: a hold that ran out later in
 * the call made manager_changed re-sends say "changed 19728 days ago"). */
static int escalation_notices(struct customer *c, const struct config *cfg, bool split,
                              struct notice *out, int max)
{
    int n = 0;
    int64_t steps[2] = {T0 + 9 * DAY, T0 + 40 * DAY};
    for (int s = split ? 0 : 1; s < 2; s++) {
        advance(cfg, c, steps[s]);
        for (int i = 0; i < nl.count && n < max; i++)
            out[n++] = nl.n[i];
    }
    return n;
}

Test(rules_escalation, resend_evidence_does_not_depend_on_the_call)
{
    struct config cfg;
    struct customer a, b;
    struct notice na[64], nb[64];
    rules_all_config(&cfg);
    rule_enable(&cfg, RULE_SPEND_DROP, false);
    rule_enable(&cfg, RULE_FIRST_REPEAT_OVERDUE, false);
    customer_init(&a, "c1");
    struct event up = mk(EV_CUSTOMER_UPDATED, T0 - DAY, NULL, 0, NULL);
    up.tier = TIER_KEY;
    up.has_account_manager = 1;
    snprintf(up.account_manager, sizeof up.account_manager, "ann");
    apply(&cfg, &a, up);
    snprintf(up.account_manager, sizeof up.account_manager, "bob");
    up.ts_ms = T0;
    apply(&cfg, &a, up); /* manager_changed: active for 30 days */
    apply(&cfg, &a, mk(EV_COMPLAINT_OPENED, T0 + DAY, "k", 0, NULL)); /* fires day 8 */
    b = a;
    int n1 = escalation_notices(&a, &cfg, false, na, 64);
    int n2 = escalation_notices(&b, &cfg, true, nb, 64);
    cr_assert_eq(n1, n2);
    int resends = 0;
    for (int i = 0; i < n1; i++) {
        cr_assert_eq(na[i].rule, nb[i].rule, "notice %d", i);
        cr_assert_eq(na[i].ts_ms, nb[i].ts_ms, "notice %d", i);
        cr_assert_eq(na[i].escalation, nb[i].escalation, "notice %d", i);
        cr_assert(near(na[i].value, nb[i].value), "notice %d: %g vs %g", i, na[i].value,
                  nb[i].value);
        if (na[i].escalation != 0 && na[i].rule == RULE_MANAGER_CHANGED) {
            resends++;
            /* changed on day 0, re-sent on day 8 */
            cr_assert(near(na[i].value, (double)(na[i].ts_ms - T0) / DAY), "value %g",
                      na[i].value);
        }
    }
    cr_assert_gt(resends, 0, "the complaint raised the level: manager_changed re-sent");
}
