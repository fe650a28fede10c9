/* test_replay.c — replay_run over small in-memory files (fmemopen / open_memstream). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "config.h"
#include "fixtures.h"
#include "decode.h"
#include "replay.h"

#define DAY 86400000LL

struct run {
    char *out, *err;
    size_t out_len, err_len;
    struct replay_stats st;
    int rc;
};

static void run_replay(const struct config *cfg, const char *input, const struct replay_opts *o,
                       struct run *r)
{
    memset(r, 0, sizeof *r);
    FILE *in = fmemopen((void *)input, strlen(input), "r");
    FILE *out = open_memstream(&r->out, &r->out_len);
    FILE *err = open_memstream(&r->err, &r->err_len);
    cr_assert(in && out && err);
    r->rc = replay_run(cfg, in, "events.jsonl", o, out, err, &r->st);
    fclose(in);
    fclose(out);
    fclose(err);
}

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

static const char input[] =
    "{\"customer_id\":\"c1\",\"ts\":\"2024-01-01T00:00:00Z\",\"type\":\"order\",\"order_id\":\"o1\",\"amount\":10}\n"
    "{\"customer_id\":\"c1\",\"ts\":\"2024-01-11T00:00:00Z\",\"type\":\"order\",\"order_id\":\"o2\",\"amount\":10}\n"
    "{\"customer_id\":\"c2\",\"ts\":1705017600000,\"type\":\"complaint.opened\",\"complaint_id\":\"k1\"}\n"
    "not json\n"
    "{\"customer_id\":\"c1\",\"ts\":\"2024-01-21T00:00:00Z\",\"type\":\"order\",\"order_id\":\"o3\",\"amount\":10,\"event_id\":\"e3\"}\n"
    "{\"customer_id\":\"c1\",\"ts\":\"2024-01-21T00:00:00Z\",\"type\":\"order\",\"order_id\":\"o3\",\"amount\":10,\"event_id\":\"e3\"}\n"
    "\n"
    "   \r\n"
    "{\"customer_id\":\"c2\",\"ts\":\"2024-01-25T00:00:00Z\",\"type\":\"complaint.resolved\",\"complaint_id\":\"k1\"}\n"
    "{\"customer_id\":\"c3\",\"ts\":\"2024-01-26T00:00:00Z\",\"type\":\"bogus\"}\n"
    "{\"customer_id\":\"c3\",\"ts\":\"2024-01-26T00:00:00Z\",\"type\":\"order\",\"order_id\":\"x\",\"amount\":-1}\n"
    "{\"customer_id\":\"c4\",\"ts\":\"2024-01-27T00:00:00Z\",\"type\":\"complaint.opened\",\"complaint_id\":\"k9\"}"; /* no final newline */

/* c2's complaint (opened 01-12) is due 01-19 and fires when c1's order of 01-21 moves the
 * clock; it resolves on 01-25. c1 (orders 01-01, 01-11, 01-21: every 10 days) is due
 * 02-20 and c4's complaint 02-03: both fire only with --until, in time order. */
static const char *const expected[] = {
    "{\"alert_id\": \"%s\", \"customer_id\": \"c2\", \"rule\": \"complaint_unresolved\", "
    "\"status\": \"firing\", \"level\": \"watch\", \"score\": 30, \"tier\": \"standard\", "
    "\"started_at\": \"2024-01-19T00:00:00.000Z\", \"ts\": \"2024-01-19T00:00:00.000Z\", "
    "\"summary\": \"complaint open for 7.0 days (limit 7)\", \"evidence\": {\"value\": 7, "
    "\"threshold\": 7, \"baseline\": 0, \"unit\": \"days\"}, \"signals\": [\"complaint_unresolved\"]}",
    "{\"alert_id\": \"%s\", \"customer_id\": \"c2\", \"rule\": \"complaint_unresolved\", "
    "\"status\": \"resolved\", \"level\": \"ok\", \"score\": 0, \"tier\": \"standard\", "
    "\"started_at\": \"2024-01-19T00:00:00.000Z\", \"ts\": \"2024-01-25T00:00:00.000Z\", "
    "\"summary\": \"complaint resolved after 13.0 days\", \"evidence\": {\"value\": 13, "
    "\"threshold\": 7, \"baseline\": 0, \"unit\": \"days\"}, \"signals\": []}",
    "{\"alert_id\": \"%s\", \"customer_id\": \"c4\", \"rule\": \"complaint_unresolved\", "
    "\"status\": \"firing\", \"level\": \"watch\", \"score\": 30, \"tier\": \"standard\", "
    "\"started_at\": \"2024-02-03T00:00:00.000Z\", \"ts\": \"2024-02-03T00:00:00.000Z\", "
    "\"summary\": \"complaint open for 7.0 days (limit 7)\", \"evidence\": {\"value\": 7, "
    "\"threshold\": 7, \"baseline\": 0, \"unit\": \"days\"}, \"signals\": [\"complaint_unresolved\"]}",
    "{\"alert_id\": \"%s\", \"customer_id\": \"c1\", \"rule\": \"order_gap\", "
    "\"status\": \"firing\", \"level\": \"watch\", \"score\": 30, \"tier\": \"standard\", "
    "\"started_at\": \"2024-02-20T00:00:00.000Z\", \"ts\": \"2024-02-20T00:00:00.000Z\", "
    "\"summary\": \"no order for 30.0 days; usually one every 10.0 days\", \"evidence\": "
    "{\"value\": 30, \"threshold\": 30, \"baseline\": 10, \"unit\": \"days\"}, "
    "\"signals\": [\"order_gap\"]}",
};

static void expected_output(char *buf, size_t len)
{
    static const char *const cust[] = {"c2", "c2", "c4", "c1"};
    static const enum rule_id rule[] = {RULE_COMPLAINT_UNRESOLVED, RULE_COMPLAINT_UNRESOLVED,
                                        RULE_COMPLAINT_UNRESOLVED, RULE_ORDER_GAP};
    static const char *const started[] = {"2024-01-19T00:00:00Z", "2024-01-19T00:00:00Z",
                                          "2024-02-03T00:00:00Z", "2024-02-20T00:00:00Z"};
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < 4; i++) {
        int64_t ms;
        char id[CW_ALERT_ID_LEN + 1];
        cr_assert_eq(decode_rfc3339(started[i], strlen(started[i]), &ms), 0);
        alert_id(cust[i], rule[i], ms, id);
        used += (size_t)snprintf(buf + used, len - used, expected[i], id);
        used += (size_t)snprintf(buf + used, len - used, "\n");
    }
}

Test(replay, until_fires_timers_exact_output)
{
    struct config cfg;
    struct run r;
    struct replay_opts o = {.has_until = true};
    fixture_config(&cfg);
    cr_assert_eq(decode_rfc3339("2024-03-01T00:00:00Z", 20, &o.until_ms), 0);
    run_replay(&cfg, input, &o, &r);
    cr_assert_eq(r.rc, 0, "stderr: %s", r.err);

    char want[8192];
    expected_output(want, sizeof want);
    cr_assert_str_eq(r.out, want);

    cr_assert_eq(r.st.events, 10);
    cr_assert_eq(r.st.accepted, 6);
    cr_assert_eq(r.st.duplicates, 1);
    cr_assert_eq(r.st.rejected, 3);
    cr_assert_eq(r.st.rejected_by[REJ_INVALID_JSON], 1);
    cr_assert_eq(r.st.rejected_by[REJ_UNKNOWN_TYPE], 1);
    cr_assert_eq(r.st.rejected_by[REJ_BAD_VALUE], 1);
    cr_assert_eq(r.st.alerts_firing, 3);
    cr_assert_eq(r.st.alerts_resolved, 1);
    cr_assert_eq(r.st.customers, 3);

    cr_assert_not_null(strstr(r.err, "events.jsonl:4: rejected (invalid_json): "), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "events.jsonl:10: rejected (unknown_type): "), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "events.jsonl:11: rejected (bad_value): "), "%s", r.err);

    char line[512];
    replay_stats_format(&r.st, line, sizeof line);
    cr_assert_str_eq(line, "replay: 10 events, 6 accepted, 3 rejected (invalid_json 1, "
                           "unknown_type 1, bad_value 1), 1 duplicates, 4 alerts (3 firing, "
                           "1 resolved), 3 customers");
    run_free(&r);
}

Test(replay, without_until_only_event_time)
{
    struct config cfg;
    struct run r;
    fixture_config(&cfg);
    run_replay(&cfg, input, NULL, &r);
    cr_assert_eq(r.rc, 0);
    char want[8192];
    expected_output(want, sizeof want);
    /* only c2's two alerts: the clock never reaches 02-03 */
    char *third = strstr(want, "\n{");
    third = strstr(third + 1, "\n{");
    third[1] = '\0';
    cr_assert_str_eq(r.out, want);
    cr_assert_eq(r.st.alerts_firing + r.st.alerts_resolved, 2);
    run_free(&r);
}

Test(replay, two_runs_byte_identical)
{
    struct config cfg;
    struct run a, b;
    struct replay_opts o = {.has_until = true, .until_ms = 1711929600000LL}; /* 2024-04-01 */
    fixture_config(&cfg);
    for (int t = 0; t < TIER__COUNT; t++) {
        cfg.rules[RULE_ORDER_GAP].tier[t].repeat_interval_ms = 7 * DAY;
        cfg.rules[RULE_COMPLAINT_UNRESOLVED].tier[t].repeat_interval_ms = 3 * DAY;
    }
    /* many customers with interleaved timers, the input in time order */
    size_t cap = 1 << 20, used = 0;
    char *big = malloc(cap);
    cr_assert_not_null(big);
    for (int d = 0; d < 60; d++) {
        for (int i = 0; i < 300; i++) {
            int first = i % 17, gap = i % 5 + 1;
            int64_t ts = 1704067200000LL + (int64_t)d * DAY + i;
            for (int k = 0; k < 3; k++)
                if (d == first + k * gap)
                    used += (size_t)snprintf(big + used, cap - used,
                                             "{\"customer_id\":\"cust-%d\",\"ts\":%lld,"
                                             "\"type\":\"order\",\"order_id\":\"o%d\","
                                             "\"amount\":%d.5}\n",
                                             i, (long long)ts, k, i);
            if (i % 3 == 0 && d == first + 2)
                used += (size_t)snprintf(big + used, cap - used,
                                         "{\"customer_id\":\"cust-%d\",\"ts\":%lld,\"type\":"
                                         "\"complaint.opened\",\"complaint_id\":\"k\"}\n",
                                         i, (long long)ts);
            if (i % 6 == 0 && d == first + 20)
                used += (size_t)snprintf(big + used, cap - used,
                                         "{\"customer_id\":\"cust-%d\",\"ts\":%lld,\"type\":"
                                         "\"complaint.resolved\",\"complaint_id\":\"k\"}\n",
                                         i, (long long)ts);
        }
    }
    cr_assert_lt(used, cap - 1);
    run_replay(&cfg, big, &o, &a);
    run_replay(&cfg, big, &o, &b);
    cr_assert_eq(a.rc, 0);
    cr_assert_eq(b.rc, 0);
    cr_assert_gt(a.out_len, 0);
    cr_assert_eq(a.out_len, b.out_len);
    cr_assert(memcmp(a.out, b.out, a.out_len) == 0, "outputs differ");
    cr_assert_eq(a.st.customers, 300);
    cr_assert_gt(a.st.alerts_repeat, 0);
    /* alerts come out in time order */
    char prev[32] = "", *p = a.out;
    int lines = 0;
    while ((p = strstr(p, "\"ts\": \"")) != NULL) {
        p += 7;
        cr_assert_leq(strncmp(prev, p, 24), 0, "alert at %.24s after %s", p, prev);
        memcpy(prev, p, 24);
        prev[24] = '\0';
        lines++;
    }
    cr_assert_eq((uint64_t)lines, a.st.alerts_firing + a.st.alerts_resolved);
    run_free(&a);
    run_free(&b);
    free(big);
}

Test(replay, rejected_lines_reported_then_counted)
{
    struct config cfg;
    struct run r;
    fixture_config(&cfg);
    char in[4096] = "";
    for (int i = 0; i < 14; i++)
        strcat(in, "{\"customer_id\": 5}\n");
    run_replay(&cfg, in, NULL, &r);
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.st.rejected, 14);
    int reported = 0;
    for (char *p = r.err; (p = strstr(p, ": rejected (")) != NULL; p++)
        reported++;
    cr_assert_eq(reported, 10);
    cr_assert_not_null(strstr(r.err, "events.jsonl: 4 more rejected lines not shown\n"), "%s",
                       r.err);
    cr_assert_eq(r.out_len, 0);
    run_free(&r);
}

Test(replay, long_lines_and_size_limit)
{
    struct config cfg;
    struct run r;
    fixture_config(&cfg);
    cfg.max_message_bytes = 200;
    size_t n = 300000;
    char *in = malloc(n + 200);
    int k = snprintf(in, n, "{\"customer_id\":\"c\",\"ts\":1,\"type\":\"order\",\"order_id\":\"o\","
                            "\"amount\":1,\"pad\":\"");
    memset(in + k, 'x', n - (size_t)k);
    strcpy(in + n, "\"}\n{\"customer_id\":\"c\",\"ts\":2,\"type\":\"order\",\"order_id\":\"o\","
                   "\"amount\":1}\n");
    run_replay(&cfg, in, NULL, &r);
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.st.rejected_by[REJ_TOO_LARGE], 1);
    cr_assert_eq(r.st.accepted, 1);
    cr_assert_not_null(strstr(r.err, "events.jsonl:1: rejected (too_large)"), "%s", r.err);
    run_free(&r);
    free(in);
}

Test(replay, unknown_topic_fails)
{
    struct config cfg;
    struct run r;
    struct replay_opts o = {.topic = "nope"};
    fixture_config(&cfg);
    run_replay(&cfg, "", &o, &r);
    cr_assert_eq(r.rc, -1);
    cr_assert_not_null(strstr(r.err, "nope"));
    run_free(&r);
}
