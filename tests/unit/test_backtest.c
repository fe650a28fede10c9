/* test_backtest.c — labels, confusion matrices, lead times and the report of
 * `churnwatch replay --labels` (backtest.c), alone and through replay_run. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backtest.h"
#include "config.h"
#include "decode.h"
#include "fixtures.h"
#include "replay.h"

#define BT_DAY 86400000LL
#define BT_T0 1704067200000LL /* 2024-01-01T00:00:00Z */

static int64_t bt_day(int d)
{
    return BT_T0 + (int64_t)d * BT_DAY;
}

static int bt_read(struct backtest *bt, const char *text, char *errs, size_t len)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    cr_assert_not_null(f);
    int rc = backtest_read_labels(bt, f, "labels.csv", errs, len);
    fclose(f);
    return rc;
}

static void bt_assert_score(const struct backtest_score *s, uint64_t tp, uint64_t fp, uint64_t fn,
                            uint64_t tn)
{
    cr_assert_eq(s->tp, tp, "tp %lu != %lu", (unsigned long)s->tp, (unsigned long)tp);
    cr_assert_eq(s->fp, fp, "fp %lu != %lu", (unsigned long)s->fp, (unsigned long)fp);
    cr_assert_eq(s->fn, fn, "fn %lu != %lu", (unsigned long)s->fn, (unsigned long)fn);
    cr_assert_eq(s->tn, tn, "tn %lu != %lu", (unsigned long)s->tn, (unsigned long)tn);
}

static void bt_assert_near(double got, double want)
{
    cr_assert(fabs(got - want) < 1e-9, "got %.12f, want %.12f", got, want);
}

/* a, b, e churned; c, d, f not; e and f never seen; x seen but not labelled.
 *   order_gap:            a fires day 4 (resolved 6, fires again 8, repeat 9: open at the end)
 *                         b fires day 25 (after its last event, day 20), open at the end
 *                         c fires day 2, resolved day 3
 *   complaint_unresolved: d fires day 1, open at the end; a fires day 7, resolved day 9
 *   unsubscribed:         only a repeat for c (never a firing notice), then resolved
 *   manager_changed:      x (not labelled) */
static void bt_build(struct backtest *bt)
{
    char errs[1024];
    cr_assert_eq(bt_read(bt, "customer_id,churned\na,1\nb,true\nc,0\nd,FALSE\ne,1\nf,0\n", errs,
                         sizeof errs),
                 0, "%s", errs);
    cr_assert_eq(backtest_observe(bt, "a", bt_day(1)), 0);
    cr_assert_eq(backtest_observe(bt, "a", bt_day(10)), 0);
    cr_assert_eq(backtest_observe(bt, "a", bt_day(5)), 0); /* late: the last stays day 10 */
    cr_assert_eq(backtest_observe(bt, "b", bt_day(20)), 0);
    cr_assert_eq(backtest_observe(bt, "c", bt_day(5)), 0);
    cr_assert_eq(backtest_observe(bt, "d", bt_day(30)), 0);
    cr_assert_eq(backtest_observe(bt, "x", bt_day(3)), 0);

    cr_assert_eq(
        backtest_notice(bt, "d", RULE_COMPLAINT_UNRESOLVED, true, false, bt_day(1), bt_day(1)), 0);
    cr_assert_eq(backtest_notice(bt, "c", RULE_ORDER_GAP, true, false, bt_day(2), bt_day(2)), 0);
    cr_assert_eq(backtest_notice(bt, "c", RULE_ORDER_GAP, false, false, bt_day(2), bt_day(3)), 0);
    cr_assert_eq(backtest_notice(bt, "x", RULE_MANAGER_CHANGED, true, false, bt_day(3), bt_day(3)),
                 0);
    cr_assert_eq(backtest_notice(bt, "a", RULE_ORDER_GAP, true, false, bt_day(4), bt_day(4)), 0);
    cr_assert_eq(backtest_notice(bt, "c", RULE_UNSUBSCRIBED, true, true, bt_day(1), bt_day(4)), 0);
    cr_assert_eq(backtest_notice(bt, "a", RULE_ORDER_GAP, false, false, bt_day(4), bt_day(6)), 0);
    cr_assert_eq(backtest_notice(bt, "c", RULE_UNSUBSCRIBED, false, false, bt_day(1), bt_day(6)),
                 0);
    cr_assert_eq(
        backtest_notice(bt, "a", RULE_COMPLAINT_UNRESOLVED, true, false, bt_day(7), bt_day(7)), 0);
    cr_assert_eq(backtest_notice(bt, "a", RULE_ORDER_GAP, true, false, bt_day(8), bt_day(8)), 0);
    cr_assert_eq(backtest_notice(bt, "a", RULE_ORDER_GAP, true, true, bt_day(8), bt_day(9)), 0);
    cr_assert_eq(
        backtest_notice(bt, "a", RULE_COMPLAINT_UNRESOLVED, false, false, bt_day(7), bt_day(9)), 0);
    cr_assert_eq(backtest_notice(bt, "b", RULE_ORDER_GAP, true, false, bt_day(25), bt_day(25)), 0);
    backtest_set_end(bt, bt_day(40));
}

Test(backtest, hand_built_confusion_matrices)
{
    struct backtest *bt = backtest_new();
    cr_assert_not_null(bt);
    bt_build(bt);
    struct backtest_report rep;
    cr_assert_eq(backtest_report(bt, &rep), 0);

    cr_assert_eq(rep.labelled, 6);
    cr_assert_eq(rep.churned, 3);
    cr_assert_eq(rep.not_churned, 3);
    cr_assert_eq(rep.labelled_unseen, 2);
    cr_assert_eq(rep.seen_unlabelled, 1);
    cr_assert(rep.has_end);
    cr_assert_eq(rep.end_ms, bt_day(40));
    cr_assert_eq(rep.n_groups, 0);

    /* order_gap during: a, b TP; c FP; e FN; d, f TN. Leads: a 10-4 = 6, b 20-25 = -5. */
    const struct backtest_score *s = &rep.during[RULE_ORDER_GAP];
    bt_assert_score(s, 2, 1, 1, 2);
    bt_assert_near(s->precision, 2.0 / 3);
    bt_assert_near(s->recall, 2.0 / 3);
    bt_assert_near(s->specificity, 2.0 / 3);
    bt_assert_near(s->balanced_accuracy, 2.0 / 3);
    cr_assert_eq(s->lead_n, 2);
    bt_assert_near(s->lead_median_days, 0.5);
    /* at the cutoff: a (second episode) and b are open, c was resolved */
    s = &rep.cutoff[RULE_ORDER_GAP];
    bt_assert_score(s, 2, 0, 1, 3);
    bt_assert_near(s->precision, 1);
    bt_assert_near(s->recall, 2.0 / 3);
    bt_assert_near(s->balanced_accuracy, (2.0 / 3 + 1) / 2);
    cr_assert(isnan(s->lead_median_days));

    /* complaint_unresolved during: a TP (lead 3), d FP */
    s = &rep.during[RULE_COMPLAINT_UNRESOLVED];
    bt_assert_score(s, 1, 1, 2, 2);
    bt_assert_near(s->precision, 0.5);
    bt_assert_near(s->recall, 1.0 / 3);
    bt_assert_near(s->balanced_accuracy, (1.0 / 3 + 2.0 / 3) / 2);
    bt_assert_near(s->lead_median_days, 3);
    s = &rep.cutoff[RULE_COMPLAINT_UNRESOLVED];
    bt_assert_score(s, 0, 1, 3, 2);
    bt_assert_near(s->precision, 0);
    bt_assert_near(s->recall, 0);
    bt_assert_near(s->balanced_accuracy, (0 + 2.0 / 3) / 2);

    /* a repeat alone is not a firing; but the alert was open until resolved */
    s = &rep.during[RULE_UNSUBSCRIBED];
    bt_assert_score(s, 0, 0, 3, 3);
    cr_assert(isnan(s->precision));
    bt_assert_near(s->recall, 0);
    bt_assert_near(s->balanced_accuracy, 0.5);
    cr_assert(isnan(s->lead_median_days));
    bt_assert_score(&rep.cutoff[RULE_UNSUBSCRIBED], 0, 0, 3, 3);
    /* x is not labelled: manager_changed counts nobody */
    bt_assert_score(&rep.during[RULE_MANAGER_CHANGED], 0, 0, 3, 3);

    /* any rule during: a, b TP; c, d FP; e FN; f TN. a's first firing of any rule: day 4 */
    s = &rep.during[RULE__COUNT];
    bt_assert_score(s, 2, 2, 1, 1);
    bt_assert_near(s->precision, 0.5);
    bt_assert_near(s->recall, 2.0 / 3);
    bt_assert_near(s->specificity, 1.0 / 3);
    bt_assert_near(s->balanced_accuracy, 0.5);
    bt_assert_near(s->lead_median_days, 0.5);
    bt_assert_score(&rep.cutoff[RULE__COUNT], 2, 1, 1, 2);
    backtest_free(bt);
}

Test(backtest, median_odd_and_even)
{
    struct backtest *bt = backtest_new();
    cr_assert_not_null(bt);
    static const int last[] = {10, 3, 50, 7};
    char id[16];
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof id, "k%d", i);
        cr_assert_eq(backtest_add_label(bt, id, true, NULL), 0);
        cr_assert_eq(backtest_observe(bt, id, bt_day(last[i])), 0);
        cr_assert_eq(backtest_notice(bt, id, RULE_ORDER_GAP, true, false, bt_day(0), bt_day(0)), 0);
        if (i < 3)
            cr_assert_eq(
                backtest_notice(bt, id, RULE_SPEND_DROP, true, false, bt_day(1), bt_day(1)), 0);
    }
    struct backtest_report rep;
    cr_assert_eq(backtest_report(bt, &rep), 0);
    bt_assert_near(rep.during[RULE_ORDER_GAP].lead_median_days, 8.5); /* 3 7 10 50 */
    bt_assert_near(rep.during[RULE_SPEND_DROP].lead_median_days, 9);  /* 2 9 49 */
    cr_assert(isnan(rep.during[RULE_ORDER_GAP].precision) == 0);
    cr_assert(isnan(rep.during[RULE_ORDER_GAP].specificity)); /* no negatives */
    cr_assert(isnan(rep.during[RULE_ORDER_GAP].balanced_accuracy));
    backtest_free(bt);
}

Test(backtest, labels_accepted_forms)
{
    struct backtest *bt = backtest_new();
    char errs[1024];
    cr_assert_eq(bt_read(bt,
                         "# comment\n"
                         "\n"
                         "  customer_id , churned , archetype\r\n"
                         "c1,1,slowdown\r\n"
                         "\"c2\", \"0\" ,loyal,extra,columns\n"
                         "  # indented comment\n"
                         "c3,TRUE\n"
                         "c4 ,False,loyal\n"
                         "c5,0", /* no final newline */
                         errs, sizeof errs),
                 0, "%s", errs);
    cr_assert_str_eq(errs, "");
    struct backtest_report rep;
    cr_assert_eq(backtest_report(bt, &rep), 0);
    cr_assert_eq(rep.labelled, 5);
    cr_assert_eq(rep.churned, 2);
    cr_assert_eq(rep.labelled_unseen, 5);
    /* groups: churned first, then by name; no third column is the group "" */
    cr_assert_eq(rep.n_groups, 4);
    cr_assert_str_eq(rep.group[0].name, "");
    cr_assert(rep.group[0].churned);
    cr_assert_str_eq(rep.group[1].name, "slowdown");
    cr_assert_str_eq(rep.group[2].name, "");
    cr_assert(!rep.group[2].churned);
    cr_assert_str_eq(rep.group[3].name, "loyal");
    cr_assert_eq(rep.group[3].customers, 2);
    backtest_free(bt);
}

Test(backtest, label_errors_name_file_and_line)
{
    struct backtest *bt = backtest_new();
    char errs[2048];
    int rc = bt_read(bt,
                     "customer_id,churned\n" /* 1: header */
                     "c1,1\n"                /* 2 */
                     "c2\n"                  /* 3: no churned column */
                     "c3,yes\n"              /* 4: bad value */
                     ",1\n"                  /* 5: empty id */
                     "c1,0\n"                /* 6: twice */
                     "# fine\n"              /* 7 */
                     "customer_id,churned\n" /* 8: a header only on the first line */
                     "c4,0\n",               /* 9 */
                     errs, sizeof errs);
    cr_assert_eq(rc, -1);
    cr_assert_str_eq(errs,
                     "labels.csv:3: expected \"customer_id,churned\"\n"
                     "labels.csv:4: churned: expected 1, 0, true or false, got \"yes\"\n"
                     "labels.csv:5: empty customer_id\n"
                     "labels.csv:6: customer \"c1\" is labelled twice\n"
                     "labels.csv:8: churned: expected 1, 0, true or false, got \"churned\"\n");
    /* the good lines were kept */
    struct backtest_report rep;
    cr_assert_eq(backtest_report(bt, &rep), 0);
    cr_assert_eq(rep.labelled, 2);
    backtest_free(bt);
}

Test(backtest, too_many_label_errors_stop)
{
    struct backtest *bt = backtest_new();
    char *in = malloc(100 * 8 + 1), errs[8192];
    in[0] = '\0';
    for (int i = 0; i < 100; i++)
        strcat(in, "x,maybe\n");
    cr_assert_eq(bt_read(bt, in, errs, sizeof errs), -1);
    int lines = 0;
    for (char *p = errs; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    cr_assert_eq(lines, 21, "%s", errs);
    cr_assert_not_null(strstr(errs, "labels.csv:20: churned"));
    cr_assert_not_null(strstr(errs, "labels.csv: too many errors, stopped\n"));
    free(in);
    backtest_free(bt);
}

/* ---- through replay_run ------------------------------------------------------------ */

/* Only order_gap and complaint_unresolved enabled, so the expected numbers depend on
 * those two rules alone; no repeats. */
static void bt_replay_config(struct config *cfg)
{
    fixture_config(cfg);
    for (int r = 0; r < RULE__COUNT; r++) {
        for (int t = 0; t < TIER__COUNT; t++) {
            struct rule_params *p = &cfg->rules[r].tier[t];
            p->enabled = r == RULE_ORDER_GAP || r == RULE_COMPLAINT_UNRESOLVED;
            p->weight = 30;
            p->duration_ms = 7 * BT_DAY;
            p->drop = 0.5;
            p->at_least = 3;
            p->at_most = 2;
        }
    }
}

#define BT_ORDER(c, d, n)                                                                          \
    "{\"customer_id\":\"" c "\",\"ts\":\"2024-" d                                                  \
    "T00:00:00Z\",\"type\":\"order\",\"order_id\":\"" n "\",\"amount\":10}\n"

/* c1 churned: every 10 days to 01-21, order_gap fires 02-20 (lead -30 days).
 * c2 not churned: every 5 days, then a 30-day gap: order_gap fires 01-26, resolves 02-10.
 * c3 churned: complaint 01-05 never resolved (fires 01-12, lead 14); orders every 8 days
 *    to 01-26, order_gap fires 02-19 (lead -24).
 * c4 not churned: every 14 days to 02-26, not due before the end (03-01).
 * c5 churned, never seen. c6 seen, not labelled. */
static const char bt_events[] =
    BT_ORDER("c1", "01-01", "1") BT_ORDER("c2", "01-01", "1") BT_ORDER("c4", "01-01", "1")
        BT_ORDER("c3", "01-02",
                 "1") "{\"customer_id\":\"c3\",\"ts\":\"2024-01-05T00:00:00Z\",\"type\":"
                      "\"complaint.opened\",\"complaint_id\":\"k\"}\n" BT_ORDER("c2", "01-06", "2")
                          BT_ORDER("c3", "01-10", "2") BT_ORDER("c1", "01-11", "2")
                              BT_ORDER("c2", "01-11", "3") BT_ORDER("c4", "01-15", "2")
                                  BT_ORDER("c3", "01-18", "3") BT_ORDER("c6", "01-20", "1")
                                      BT_ORDER("c1", "01-21", "3") BT_ORDER("c3", "01-26", "4")
                                          BT_ORDER("c4", "01-29", "3") BT_ORDER("c2", "02-10", "4")
                                              BT_ORDER("c4", "02-12", "4")
                                                  BT_ORDER("c4", "02-26", "5");

static const char bt_labels[] = "customer_id,churned\nc1,1\nc2,0\nc3,1\nc4,0\nc5,1\n";

static const char bt_table[] =
    "backtest: 5 labelled customers (3 churned, 2 not churned); 1 labelled but not in the "
    "events (not flagged); 1 in the events but not labelled (ignored)\n"
    "end of replay: 2024-03-01T00:00:00.000Z\n"
    "\n"
    "flagged during the replay (the rule fired at least once); lead = last event - first "
    "firing,\n"
    "median over true positives, in days (negative: the warning came after the last event)\n"
    "rule                       TP     FP     FN     TN precision  recall  bal.acc  lead(d)\n"
    "order_gap                   2      1      1      1     0.667   0.667    0.583    -27.0\n"
    "first_repeat_overdue        0      0      3      2         -   0.000    0.500        -\n"
    "spend_drop                  0      0      3      2         -   0.000    0.500        -\n"
    "complaint_unresolved        1      0      2      2     1.000   0.333    0.667     14.0\n"
    "open_complaints             0      0      3      2         -   0.000    0.500        -\n"
    "complaint_reopened          0      0      3      2         -   0.000    0.500        -\n"
    "support_unanswered          0      0      3      2         -   0.000    0.500        -\n"
    "low_satisfaction            0      0      3      2         -   0.000    0.500        -\n"
    "unsubscribed                0      0      3      2         -   0.000    0.500        -\n"
    "manager_changed             0      0      3      2         -   0.000    0.500        -\n"
    "any rule                    2      1      1      1     0.667   0.667    0.583     -8.0\n"
    "\n"
    "flagged at the cutoff (the rule's alert is open at the end of the replay)\n"
    "rule                       TP     FP     FN     TN precision  recall  bal.acc\n"
    "order_gap                   2      0      1      2     1.000   0.667    0.833\n"
    "first_repeat_overdue        0      0      3      2         -   0.000    0.500\n"
    "spend_drop                  0      0      3      2         -   0.000    0.500\n"
    "complaint_unresolved        1      0      2      2     1.000   0.333    0.667\n"
    "open_complaints             0      0      3      2         -   0.000    0.500\n"
    "complaint_reopened          0      0      3      2         -   0.000    0.500\n"
    "support_unanswered          0      0      3      2         -   0.000    0.500\n"
    "low_satisfaction            0      0      3      2         -   0.000    0.500\n"
    "unsubscribed                0      0      3      2         -   0.000    0.500\n"
    "manager_changed             0      0      3      2         -   0.000    0.500\n"
    "any rule                    2      0      1      2     1.000   0.667    0.833\n";

static void bt_replay(bool no_alerts, char **out, size_t *out_len, char **table, char **json)
{
    struct config cfg;
    bt_replay_config(&cfg);
    struct backtest *bt = backtest_new();
    char errs[512];
    cr_assert_eq(bt_read(bt, bt_labels, errs, sizeof errs), 0, "%s", errs);
    struct replay_opts o = {.has_until = true, .backtest = bt, .no_alerts = no_alerts};
    cr_assert_eq(decode_rfc3339("2024-03-01T00:00:00Z", 20, &o.until_ms), 0);

    char *err_buf = NULL;
    size_t err_len = 0, tl = 0, jl = 0;
    FILE *in = fmemopen((void *)bt_events, strlen(bt_events), "r");
    FILE *o_f = open_memstream(out, out_len);
    FILE *e_f = open_memstream(&err_buf, &err_len);
    struct replay_stats st;
    cr_assert_eq(replay_run(&cfg, in, "events.jsonl", &o, o_f, e_f, &st), 0);
    fclose(in);
    fclose(o_f);
    fclose(e_f);
    cr_assert_eq(err_len, 0, "%s", err_buf);
    free(err_buf);
    cr_assert_eq(st.accepted, 18);
    cr_assert_eq(st.alerts_firing, 5); /* 4 episodes + 1 escalation re-send (c3 reaches alarm) */
    cr_assert_eq(st.alerts_resolved, 1);

    struct backtest_report rep;
    cr_assert_eq(backtest_report(bt, &rep), 0);
    FILE *t = open_memstream(table, &tl);
    backtest_report_print_table(&rep, t);
    fclose(t);
    FILE *j = open_memstream(json, &jl);
    backtest_report_print_json(&rep, j);
    fclose(j);
    backtest_free(bt);
}

Test(backtest, replay_labels_prints_expected_table)
{
    char *out, *table, *json;
    size_t out_len;
    bt_replay(true, &out, &out_len, &table, &json);
    cr_assert_eq(out_len, 0, "alerts printed: %s", out);
    cr_assert_str_eq(table, bt_table);
    cr_assert_not_null(strstr(json, "{\"labelled\": 5, \"churned\": 3, \"not_churned\": 2, "
                                    "\"labelled_unseen\": 1, \"seen_unlabelled\": 1, "
                                    "\"end\": \"2024-03-01T00:00:00.000Z\", \"during\": "
                                    "{\"order_gap\": {\"tp\": 2, \"fp\": 1, \"fn\": 1, \"tn\": 1, "
                                    "\"precision\": 0.6667, \"recall\": 0.6667, \"specificity\": "
                                    "0.5000, \"balanced_accuracy\": 0.5833, \"lead_n\": 2, "
                                    "\"lead_median_days\": -27.00}"),
                       "%s", json);
    cr_assert_not_null(strstr(json, "\"spend_drop\": {\"tp\": 0, \"fp\": 0, \"fn\": 3, \"tn\": 2, "
                                    "\"precision\": null, "),
                       "%s", json);
    cr_assert_not_null(strstr(json, "\"at_cutoff\": {\"order_gap\": {\"tp\": 2, \"fp\": 0, "
                                    "\"fn\": 1, \"tn\": 2, \"precision\": 1.0000, "
                                    "\"recall\": 0.6667, \"specificity\": 1.0000, "
                                    "\"balanced_accuracy\": 0.8333}"),
                       "%s", json);
    size_t jl = strlen(json);
    static const char tail[] = "\"groups\": []}\n";
    cr_assert(jl > sizeof tail && strcmp(json + jl - (sizeof tail - 1), tail) == 0, "%s", json);
    cr_assert_eq(strchr(json, '\n'), json + jl - 1, "the JSON report is one line");
    free(out);
    free(table);
    free(json);
}

Test(backtest, replay_labels_with_alerts_same_report)
{
    char *out, *table, *json;
    size_t out_len;
    bt_replay(false, &out, &out_len, &table, &json);
    int lines = 0;
    for (char *p = out; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    cr_assert_eq(lines, 6, "%s", out); /* 5 episodes + c3's escalation */
    cr_assert_str_eq(table, bt_table);
    free(out);
    free(table);
    free(json);
}
