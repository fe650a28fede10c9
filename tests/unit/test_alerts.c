/* test_alerts.c — alert ids and alert JSON payloads (DESIGN.md §4). */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "alerts.h"
#include "config.h"
#include "fixtures.h"
#include "customer.h"
#include "rules.h"

#define DAY 86400000LL
#define T0 1704067200000LL /* 2024-01-01T00:00:00Z */

/* A customer with an active order_gap alert (orders on days 0, 10, 20; fired at day 50). */
static void gap_customer(const struct config *cfg, struct customer *c, const char *id,
                         struct notice_list *nl)
{
    customer_init(c, id);
    for (int i = 0; i < 3; i++) {
        struct event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = EV_ORDER;
        ev.ts_ms = T0 + i * 10 * DAY;
        ev.tier = -1;
        ev.amount = 10;
        snprintf(ev.customer_id, sizeof ev.customer_id, "%s", id);
        nl->count = 0;
        rules_apply_event(cfg, c, &ev, nl);
    }
    nl->count = 0;
    rules_advance(cfg, c, T0 + 51 * DAY, nl);
    cr_assert_eq(nl->count, 1);
}

static cJSON *parse_alert(const struct alert_list *l, size_t i)
{
    const char *s = alert_list_get(l, i);
    cr_assert_eq(strlen(s), l->length[i]);
    cr_assert_null(strchr(s, '\n'), "one line");
    cJSON *j = cJSON_ParseWithLength(s, l->length[i]);
    cr_assert_not_null(j, "not JSON: %s", s);
    return j;
}

static const char *str_of(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    cr_assert(cJSON_IsString(v), "%s is not a string", key);
    return v->valuestring;
}

static double num_of(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    cr_assert(cJSON_IsNumber(v), "%s is not a number", key);
    return v->valuedouble;
}

Test(alerts, alert_id_is_stable_hex)
{
    char a[CW_ALERT_ID_LEN + 1], b[CW_ALERT_ID_LEN + 1];
    alert_id("c1", RULE_ORDER_GAP, T0, a);
    cr_assert_eq(strlen(a), 16);
    cr_assert_eq(strspn(a, "0123456789abcdef"), 16);
    alert_id("c1", RULE_ORDER_GAP, T0, b);
    cr_assert_str_eq(a, b);
    alert_id("c2", RULE_ORDER_GAP, T0, b);
    cr_assert_str_neq(a, b);
    alert_id("c1", RULE_COMPLAINT_UNRESOLVED, T0, b);
    cr_assert_str_neq(a, b);
    alert_id("c1", RULE_ORDER_GAP, T0 + 1, b);
    cr_assert_str_neq(a, b);
}

Test(alerts, firing_payload_fields_in_order)
{
    struct config cfg;
    struct customer c;
    struct notice_list nl;
    struct alert_list l = {0};
    fixture_config(&cfg);
    gap_customer(&cfg, &c, "c1", &nl);
    cr_assert_eq(alert_format(&cfg, &c, &nl.n[0], &l), 0);
    cr_assert_eq(l.count, 1);
    cr_assert_str_eq(l.customer[0], "c1");

    const char *want =
        "{\"alert_id\": \"%s\", \"customer_id\": \"c1\", \"rule\": \"order_gap\", "
        "\"status\": \"firing\", \"level\": \"watch\", \"score\": 30, \"tier\": \"standard\", "
        "\"started_at\": \"2024-02-20T00:00:00.000Z\", \"ts\": \"2024-02-20T00:00:00.000Z\", "
        "\"summary\": \"no order for 30.0 days; usually one every 10.0 days\", "
        "\"evidence\": {\"value\": 30, \"threshold\": 30, \"baseline\": 10, \"unit\": \"days\"}, "
        "\"signals\": [\"order_gap\"]}";
    char id[CW_ALERT_ID_LEN + 1], expect[1024];
    alert_id("c1", RULE_ORDER_GAP, T0 + 50 * DAY, id);
    snprintf(expect, sizeof expect, want, id);
    cr_assert_str_eq(alert_list_get(&l, 0), expect);

    cJSON *j = parse_alert(&l, 0);
    static const char *const keys[] = {"alert_id", "customer_id", "rule",     "status",
                                       "level",    "score",       "tier",     "started_at",
                                       "ts",       "summary",     "evidence", "signals"};
    const cJSON *it = j->child;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++, it = it->next) {
        cr_assert_not_null(it, "missing %s", keys[i]);
        cr_assert_str_eq(it->string, keys[i]);
    }
    cr_assert_null(it, "no repeat/action keys");
    cr_assert_str_eq(str_of(j, "alert_id"), id);
    cr_assert_eq(num_of(j, "score"), 30);
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(j, "evidence");
    cr_assert_eq(num_of(ev, "value"), 30);
    cr_assert_eq(num_of(ev, "baseline"), 10);
    cr_assert_str_eq(str_of(ev, "unit"), "days");
    cJSON_Delete(j);
    alert_list_free(&l);
}

Test(alerts, resolved_and_repeat_payloads)
{
    struct config cfg;
    struct customer c;
    struct notice_list nl;
    struct alert_list l = {0};
    fixture_config(&cfg);
    gap_customer(&cfg, &c, "c1", &nl);
    char id[CW_ALERT_ID_LEN + 1];
    alert_id("c1", RULE_ORDER_GAP, T0 + 50 * DAY, id);

    /* a repeat of the firing alert */
    struct notice rep = nl.n[0];
    rep.repeat = true;
    rep.ts_ms = T0 + 57 * DAY;
    rep.value = 37.25;
    cr_assert_eq(alert_format(&cfg, &c, &rep, &l), 0);
    cJSON *j = parse_alert(&l, 0);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "repeat")));
    cr_assert_str_eq(str_of(j, "alert_id"), id, "same episode, same id");
    cr_assert_str_eq(str_of(j, "summary"), "no order for 37.2 days; usually one every 10.0 days");
    cr_assert_eq(num_of(cJSON_GetObjectItemCaseSensitive(j, "evidence"), "value"), 37.25);
    cJSON_Delete(j);

    /* the order that resolves it */
    struct event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EV_ORDER;
    ev.ts_ms = T0 + 60 * DAY;
    ev.tier = -1;
    snprintf(ev.customer_id, sizeof ev.customer_id, "c1");
    nl.count = 0;
    rules_apply_event(&cfg, &c, &ev, &nl);
    cr_assert_eq(nl.count, 1);
    cr_assert_eq(alert_format_all(&cfg, &c, &nl, &l), 0);
    cr_assert_eq(l.count, 2);
    j = parse_alert(&l, 1);
    cr_assert_str_eq(str_of(j, "status"), "resolved");
    cr_assert_str_eq(str_of(j, "alert_id"), id);
    cr_assert_str_eq(str_of(j, "level"), "ok");
    cr_assert_eq(num_of(j, "score"), 0);
    cr_assert_str_eq(str_of(j, "summary"), "ordered again after 40.0 days");
    cr_assert_str_eq(str_of(j, "started_at"), "2024-02-20T00:00:00.000Z");
    cr_assert_str_eq(str_of(j, "ts"), "2024-03-01T00:00:00.000Z");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "signals")), 0);
    cr_assert_null(cJSON_GetObjectItemCaseSensitive(j, "repeat"));
    cJSON_Delete(j);
    alert_list_free(&l);
}

Test(alerts, complaint_summary_signals_and_config_text)
{
    struct config cfg;
    struct customer c;
    struct notice_list nl;
    struct alert_list l = {0};
    fixture_config(&cfg);
    gap_customer(&cfg, &c, "c1", &nl);
    struct event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EV_COMPLAINT_OPENED;
    ev.ts_ms = T0 + 52 * DAY;
    ev.tier = -1;
    snprintf(ev.customer_id, sizeof ev.customer_id, "c1");
    snprintf(ev.ref_id, sizeof ev.ref_id, "k1");
    rules_apply_event(&cfg, &c, &ev, &nl);
    nl.count = 0;
    rules_advance(&cfg, &c, T0 + 66 * DAY, &nl);
    cr_assert_eq(nl.count, 2, "the complaint and the re-sent order_gap (level up)");
    cr_assert_eq(alert_format(&cfg, &c, &nl.n[0], &l), 0);
    cJSON *j = parse_alert(&l, 0);
    cr_assert_null(cJSON_GetObjectItemCaseSensitive(j, "escalation"), "the cause itself");
    cJSON_Delete(j);

    /* the escalation: order_gap re-sent at the complaint's time with the new level */
    cr_assert_eq(alert_format(&cfg, &c, &nl.n[1], &l), 0);
    j = parse_alert(&l, 1);
    cr_assert_str_eq(str_of(j, "rule"), "order_gap");
    cr_assert_str_eq(str_of(j, "status"), "firing");
    cr_assert_str_eq(str_of(j, "level"), "alarm");
    cr_assert_str_eq(str_of(j, "ts"), "2024-02-29T00:00:00.000Z");
    cr_assert_str_eq(str_of(j, "started_at"), "2024-02-20T00:00:00.000Z");
    cr_assert_str_eq(str_of(j, "escalation"), "up");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "repeat")));
    cJSON_Delete(j);
    alert_list_clear(&l);
    cr_assert_eq(alert_format(&cfg, &c, &nl.n[0], &l), 0);
    j = parse_alert(&l, 0);
    cr_assert_str_eq(str_of(j, "rule"), "complaint_unresolved");
    cr_assert_str_eq(str_of(j, "summary"), "complaint open for 7.0 days (limit 7)");
    cr_assert_str_eq(str_of(j, "level"), "alarm");
    cr_assert_eq(num_of(j, "score"), 60);
    const cJSON *sig = cJSON_GetObjectItemCaseSensitive(j, "signals");
    cr_assert_eq(cJSON_GetArraySize(sig), 2);
    cr_assert_str_eq(cJSON_GetArrayItem(sig, 0)->valuestring, "order_gap");
    cr_assert_str_eq(cJSON_GetArrayItem(sig, 1)->valuestring, "complaint_unresolved");
    cJSON_Delete(j);

    /* configured summary and action: firing notices only */
    char summary[] = "Complaint \"stuck\"", action[] = "Escalate to the\tteam lead";
    cfg.rules[RULE_COMPLAINT_UNRESOLVED].summary = summary;
    cfg.rules[RULE_COMPLAINT_UNRESOLVED].action = action;
    alert_list_clear(&l);
    cr_assert_eq(alert_format(&cfg, &c, &nl.n[0], &l), 0);
    j = parse_alert(&l, 0);
    cr_assert_str_eq(str_of(j, "summary"), summary);
    cr_assert_str_eq(str_of(j, "action"), action);
    const cJSON *last = j->child;
    while (last->next != NULL)
        last = last->next;
    cr_assert_str_eq(last->string, "action", "action comes last");
    cJSON_Delete(j);
    struct notice res = nl.n[0];
    res.firing = false;
    alert_list_clear(&l);
    cr_assert_eq(alert_format(&cfg, &c, &res, &l), 0);
    j = parse_alert(&l, 0);
    cr_assert_str_eq(str_of(j, "summary"), "complaint resolved after 7.0 days");
    cr_assert_null(cJSON_GetObjectItemCaseSensitive(j, "action"));
    cJSON_Delete(j);
    alert_list_free(&l);
}

Test(alerts, nasty_customer_id_escaped)
{
    struct config cfg;
    struct customer c;
    struct notice_list nl;
    struct alert_list l = {0};
    fixture_config(&cfg);
    const char *nasty = "a\"b\\c\x01\n\t\x1f\x7f/\xc3\xa9\xe2\x82\xac\xff\xc3(end";
    gap_customer(&cfg, &c, nasty, &nl);
    cr_assert_eq(alert_format(&cfg, &c, &nl.n[0], &l), 0);
    const char *s = alert_list_get(&l, 0);
    cr_assert_not_null(strstr(s, "a\\\"b\\\\c\\u0001\\u000a\\u0009\\u001f\\u007f/"), "%s", s);
    cr_assert_str_eq(l.customer[0], nasty, "the key keeps the raw id");
    cJSON *j = parse_alert(&l, 0);
    cr_assert_str_eq(str_of(j, "customer_id"),
                     "a\"b\\c\x01\n\t\x1f\x7f/\xc3\xa9\xe2\x82\xac\xef\xbf\xbd\xef\xbf\xbd(end",
                     "invalid UTF-8 bytes become U+FFFD");
    char id[CW_ALERT_ID_LEN + 1];
    alert_id(nasty, RULE_ORDER_GAP, T0 + 50 * DAY, id);
    cr_assert_str_eq(str_of(j, "alert_id"), id);
    cJSON_Delete(j);
    alert_list_free(&l);
}

Test(alerts, numbers_have_at_most_two_decimals)
{
    struct config cfg;
    struct customer c;
    struct notice n;
    struct alert_list l = {0};
    fixture_config(&cfg);
    customer_init(&c, "n");
    memset(&n, 0, sizeof n);
    n.score = 12.5; /* the risk travels with the notice */
    n.rule = RULE_ORDER_GAP;
    n.firing = true;
    n.value = 1.0 / 3.0;
    n.threshold = -0.001;
    n.baseline = 1e6;
    n.unit = "days";
    cr_assert_eq(alert_format(&cfg, &c, &n, &l), 0);
    const char *s = alert_list_get(&l, 0);
    cr_assert_not_null(strstr(s, "\"score\": 12.5,"), "%s", s);
    cr_assert_not_null(
        strstr(s, "{\"value\": 0.33, \"threshold\": 0, \"baseline\": 1000000, \"unit\": \"days\"}"),
        "%s", s);
    alert_list_free(&l);
}

Test(alerts, list_grows_and_is_reused)
{
    struct config cfg;
    struct customer c;
    struct notice_list nl;
    struct alert_list l = {0};
    char id[32];
    fixture_config(&cfg);
    gap_customer(&cfg, &c, "c", &nl);
    for (int i = 0; i < 500; i++) {
        snprintf(id, sizeof id, "cust-%d", i);
        snprintf(c.id, sizeof c.id, "%s", id);
        cr_assert_eq(alert_format(&cfg, &c, &nl.n[0], &l), 0);
    }
    cr_assert_eq(l.count, 500);
    for (int i = 0; i < 500; i += 50) {
        snprintf(id, sizeof id, "cust-%d", i);
        cr_assert_str_eq(l.customer[i], id);
        cJSON *j = parse_alert(&l, (size_t)i);
        cr_assert_str_eq(str_of(j, "customer_id"), id);
        cJSON_Delete(j);
    }
    char *buf = l.buf;
    size_t cap = l.cap;
    alert_list_clear(&l);
    cr_assert_eq(l.count, 0);
    cr_assert_eq(alert_format(&cfg, &c, &nl.n[0], &l), 0);
    cr_assert_eq(l.buf, buf, "no reallocation after clear");
    cr_assert_eq(l.cap, cap);
    alert_list_free(&l);
    cr_assert_null(l.buf);
    alert_list_free(NULL);
}
