/* test_rules.c — rules_apply_event / rules_advance: order_gap, complaint_unresolved, the
 * alert lifecycle (fire, repeat, resolve), de-duplication, score and level, tiers. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "customer.h"
#include "rules.h"

#define DAY 86400000LL
#define T0 1704067200000LL /* 2024-01-01T00:00:00Z */

/* A config with every rule enabled at its defaults (weights: order_gap 30,
 * complaint_unresolved 30, others 20; factor 3, min_orders 3, older_than 7d),
 * no repeats, levels watch 20 / alarm 50. */
static void rules_test_config(struct config *cfg)
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
        cfg->rules[RULE_COMPLAINT_UNRESOLVED].tier[t].weight = 30;
        cfg->rules[RULE_COMPLAINT_UNRESOLVED].tier[t].duration_ms = 7 * DAY;
    }
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
    cr_assert_eq(c.next_due_ms, due + 2 * DAY, "next repeat");
    cr_assert_eq(advance(&cfg, &c, due + 2 * DAY - 1), 0);
    cr_assert_eq(advance(&cfg, &c, due + 2 * DAY), 1);
    struct notice *n = &nl.n[0];
    cr_assert(n->firing);
    cr_assert(n->repeat);
    cr_assert_eq(n->ts_ms, due + 2 * DAY);
    cr_assert_eq(n->started_ms, due, "same episode");
    cr_assert(near(n->value, 32));
    cr_assert_eq(c.alerts[RULE_ORDER_GAP].repeats, 1);
    cr_assert_eq(c.next_due_ms, due + 4 * DAY);
    /* a late sweep sends every repeat time reached, so the alerts do not depend on how
     * often the customer is evaluated */
    cr_assert_eq(advance(&cfg, &c, due + 9 * DAY), 3);
    cr_assert_eq(nl.n[0].ts_ms, due + 4 * DAY);
    cr_assert_eq(nl.n[1].ts_ms, due + 6 * DAY);
    cr_assert_eq(nl.n[2].ts_ms, due + 8 * DAY);
    cr_assert_eq(c.alerts[RULE_ORDER_GAP].repeats, 4);
    cr_assert_eq(c.next_due_ms, due + 10 * DAY);
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
    cr_assert_eq(advance(&cfg, &c, T0 + 51 * DAY), 1);
    cr_assert(near(c.score, 60));
    cr_assert_eq(c.level, LEVEL_ALARM);
    /* watch below 20, alarm from 50 on */
    cfg.alarm_score = 61;
    advance(&cfg, &c, T0 + 52 * DAY);
    cr_assert_eq(c.level, LEVEL_WATCH);
    cfg.watch_score = 61;
    advance(&cfg, &c, T0 + 52 * DAY);
    cr_assert_eq(c.level, LEVEL_OK);
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
    cr_assert_eq(advance(&cfg, &c, T0 + 60 * DAY), 2);
    cr_assert_eq(nl.n[0].rule, RULE_COMPLAINT_UNRESOLVED);
    cr_assert_eq(nl.n[0].ts_ms, T0 + 47 * DAY);
    cr_assert_eq(nl.n[1].rule, RULE_ORDER_GAP);
    cr_assert_eq(nl.n[1].ts_ms, T0 + 50 * DAY);

    /* same due time: rule order */
    customer_init(&c, "c1");
    order(&cfg, &c, T0);
    order(&cfg, &c, T0 + 10 * DAY);
    order(&cfg, &c, T0 + 20 * DAY);
    apply(&cfg, &c, mk(EV_COMPLAINT_OPENED, T0 + 43 * DAY, "k", 0, NULL)); /* due day 50 */
    cr_assert_eq(advance(&cfg, &c, T0 + 60 * DAY), 2);
    cr_assert_eq(nl.n[0].rule, RULE_ORDER_GAP);
    cr_assert_eq(nl.n[1].rule, RULE_COMPLAINT_UNRESOLVED);
    cr_assert_eq(nl.n[0].ts_ms, nl.n[1].ts_ms);
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

    /* none of the rules of the next milestone fires */
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
