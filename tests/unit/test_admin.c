/* test_admin.c — the pure pieces of the CLI's live commands (admin.h) and the rules'
 * views they rely on (rules_at_risk, rules_resend_active). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "admin.h"
#include "customer.h"
#include "fixtures.h"
#include "rules.h"

#define DAY 86400000LL
#define T0 1704067200000LL /* 2024-01-01T00:00:00Z */

Test(admin, spans_for_people)
{
    char s[32];
    admin_format_span(40000, s, sizeof s);
    cr_assert_str_eq(s, "40 s");
    admin_format_span(12 * 60000, s, sizeof s);
    cr_assert_str_eq(s, "12 min");
    admin_format_span(5 * 3600000LL, s, sizeof s);
    cr_assert_str_eq(s, "5.0 h");
    admin_format_span(3 * DAY + DAY / 2, s, sizeof s);
    cr_assert_str_eq(s, "3.5 d");
    admin_format_span(-2 * 3600000LL, s, sizeof s);
    cr_assert_str_eq(s, "-2.0 h");
}

Test(admin, config_error_lines_split_into_their_parts)
{
    char file[64];
    long line = 0, col = 0;
    const char *msg;
    cr_assert_eq(admin_split_error("a/b.yaml:3:15: kafka.batch: expected x, got \"1:2: y\"", file,
                                   sizeof file, &line, &col, &msg),
                 0);
    cr_assert_str_eq(file, "a/b.yaml");
    cr_assert_eq(line, 3);
    cr_assert_eq(col, 15);
    cr_assert_str_eq(msg, "kafka.batch: expected x, got \"1:2: y\"");
    cr_assert_eq(admin_split_error("c:\\dir:x.yaml:1:1: m", file, sizeof file, &line, &col, &msg),
                 0, "a path with colons");
    cr_assert_str_eq(file, "c:\\dir:x.yaml");
    cr_assert_eq(
        admin_split_error("cannot open x.yaml: No such file", file, sizeof file, &line, &col, &msg),
        -1);
    cr_assert_str_eq(msg, "cannot open x.yaml: No such file");
    cr_assert_eq(admin_split_error("x:-1:2: m", file, sizeof file, &line, &col, &msg), -1);
}

static void order(const struct config *cfg, struct customer *c, int64_t ts)
{
    struct event ev;
    struct notice_list nl;
    memset(&ev, 0, sizeof ev);
    ev.type = EV_ORDER;
    ev.ts_ms = ts;
    ev.tier = -1;
    ev.amount = 10;
    snprintf(ev.customer_id, sizeof ev.customer_id, "%s", c->id);
    nl.count = 0;
    rules_apply_event(cfg, c, &ev, &nl);
}

Test(admin, at_risk_and_the_resend_of_firing_alerts)
{
    struct config cfg;
    fixture_config(&cfg);
    struct customer c;
    struct notice_list nl;
    customer_init(&c, "c1");
    for (int i = 0; i < 3; i++)
        order(&cfg, &c, T0 + i * 10 * DAY);
    cr_assert_not(rules_at_risk(&c), "orders every 10 days: fine");
    nl.count = 0;
    rules_advance(&cfg, &c, T0 + 51 * DAY, &nl); /* order_gap fires at day 50 */
    cr_assert_eq(nl.count, 1);
    cr_assert(rules_at_risk(&c));
    struct customer before = c;
    nl.count = 0;
    rules_resend_active(&cfg, &c, T0 + 60 * DAY, &nl);
    cr_assert_eq(memcmp(&before, &c, sizeof c), 0, "changes nothing");
    cr_assert_eq(nl.count, 1);
    const struct notice *n = &nl.n[0];
    cr_assert_eq(n->rule, RULE_ORDER_GAP);
    cr_assert(n->firing && n->repeat && !n->silence_ended);
    cr_assert_eq(n->started_ms, T0 + 50 * DAY);
    cr_assert_eq(n->ts_ms, T0 + 60 * DAY);
    cr_assert_str_eq(n->unit, "days");
    cr_assert_float_eq(n->value, 40.0, 1e-9, "30 days at the firing, 10 more since");
    cr_assert_float_eq(n->threshold, 30.0, 1e-9);
    cr_assert_float_eq(n->score, 30.0, 1e-9);
    cr_assert_eq(n->level, LEVEL_WATCH);
    cr_assert_eq(n->signals, 1u << RULE_ORDER_GAP);
    order(&cfg, &c, T0 + 61 * DAY); /* resolves it */
    cr_assert_not(rules_at_risk(&c));
    nl.count = 0;
    rules_resend_active(&cfg, &c, T0 + 62 * DAY, &nl);
    cr_assert_eq(nl.count, 0);
}
