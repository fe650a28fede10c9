/* test_tiers.c — tiers derived from trailing spend (tiers.c), their configuration, the
 * customer encoding of an event-set tier, and derived tiers in a replay. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "customer.h"
#include "replay.h"
#include "rules.h"
#include "tiers.h"

#define WEEK CW_SPEND_BUCKET_MS
#define W0 2817LL /* the week from Thursday 2023-12-28 (weeks count from 1970-01-01) */

static void tiers_config(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->tiers_derive = true;
    cfg->tiers_key_share = 0.2;
    cfg->tiers_strategic_share = 0.1;
    cfg->tiers_window_ms = 4 * WEEK;
    cfg->tiers_min_buyers = 5;
}

/* A customer who spent `cents` in week `week` (its ring ends at that week). */
static void spent(struct customer *c, const char *id, int64_t week, uint64_t cents)
{
    customer_init(c, id);
    c->spend_ms = week * WEEK + 1000;
    c->spend[customer_spend_slot(week)] = cents;
    c->order_count = 1;
    c->total_spend = (double)cents / 100.0;
}

Test(tiers, trailing_spend_counts_whole_weeks_before_the_current_one)
{
    struct config cfg;
    struct customer c;
    tiers_config(&cfg);
    spent(&c, "a", W0, 500);
    c.spend[customer_spend_slot(W0 - 3)] = 100;
    c.spend[customer_spend_slot(W0 - 4)] = 7; /* outside a 4-week window seen from W0+1 */
    cr_assert_eq(tier_trailing_cents(&cfg, &c, W0), 107);     /* W0-4..W0-1 */
    cr_assert_eq(tier_trailing_cents(&cfg, &c, W0 + 1), 600); /* W0-3..W0 */
    cr_assert_eq(tier_trailing_cents(&cfg, &c, W0 + 4), 500); /* W0..W0+3 */
    cr_assert_eq(tier_trailing_cents(&cfg, &c, W0 + 5), 0);
}

Test(tiers, cutoffs_are_the_spend_of_the_last_buyer_in_each_share)
{
    struct config cfg;
    struct tier_sample s = {0};
    struct tier_cutoffs t;
    tiers_config(&cfg);
    for (uint64_t i = 1; i <= 10; i++)
        cr_assert_eq(tier_sample_push(&s, i * 100), 0);
    cr_assert_eq(tier_sample_push(&s, 0), 0); /* not a buyer */
    cr_assert_eq(s.n, 10);
    tier_cutoffs_compute(&cfg, &s, W0, &t);
    cr_assert_eq(t.week, W0);
    cr_assert_eq(t.buyers, 10);
    cr_assert_eq(t.key_cents, 900);        /* top 20% of 10: 1000, 900 */
    cr_assert_eq(t.strategic_cents, 1000); /* top 10%: 1000 */
    cr_assert_eq(s.n, 0, "the sample is emptied");

    /* 11 buyers: 20% is 2.2, rounded up to 3 */
    for (uint64_t i = 1; i <= 11; i++)
        tier_sample_push(&s, i);
    tier_cutoffs_compute(&cfg, &s, W0, &t);
    cr_assert_eq(t.key_cents, 9);
    cr_assert_eq(t.strategic_cents, 10);

    /* below min_buyers: nobody */
    for (uint64_t i = 1; i <= 4; i++)
        tier_sample_push(&s, i);
    tier_cutoffs_compute(&cfg, &s, W0, &t);
    cr_assert_eq(t.buyers, 4);
    cr_assert_eq(t.key_cents, UINT64_MAX);
    cr_assert_eq(t.strategic_cents, UINT64_MAX);

    /* strategic_share 0: no derived strategic customers */
    cfg.tiers_strategic_share = 0;
    for (uint64_t i = 1; i <= 10; i++)
        tier_sample_push(&s, i);
    tier_cutoffs_compute(&cfg, &s, W0, &t);
    cr_assert_eq(t.key_cents, 9);
    cr_assert_eq(t.strategic_cents, UINT64_MAX);
    tier_sample_free(&s);
}

Test(tiers, derive_unless_an_event_set_the_tier)
{
    struct config cfg;
    struct customer c;
    struct tier_cutoffs t = {.week = W0 + 1, .key_cents = 300, .strategic_cents = 1000,
                             .buyers = 50};
    int64_t now = (W0 + 1) * WEEK + 5000;
    tiers_config(&cfg);

    spent(&c, "a", W0, 300);
    cr_assert_eq(tier_derive(&cfg, &t, &c, now), TIER_KEY);
    c.spend[customer_spend_slot(W0)] = 1000;
    cr_assert_eq(tier_derive(&cfg, &t, &c, now), TIER_STRATEGIC);
    c.spend[customer_spend_slot(W0)] = 299;
    cr_assert_eq(tier_derive(&cfg, &t, &c, now), TIER_STANDARD);
    /* W0 leaves the 4-week window in week W0 + 5 */
    c.spend[customer_spend_slot(W0)] = 400;
    cr_assert_eq(tier_derive(&cfg, &t, &c, (W0 + 4) * WEEK), TIER_KEY);
    cr_assert_eq(tier_derive(&cfg, &t, &c, (W0 + 5) * WEEK), TIER_STANDARD);

    /* a late event (week W0) is measured at the cut-offs' week, where W0 counts */
    cr_assert_eq(tier_derive(&cfg, &t, &c, W0 * WEEK), TIER_KEY);

    /* no cut-offs yet: standard */
    struct tier_cutoffs none = {.week = TIER_WEEK_NONE};
    cr_assert_eq(tier_derive(&cfg, &none, &c, now), TIER_STANDARD);

    /* set by a customer.updated event: kept */
    c.tier_set = 1;
    cr_assert_eq(tier_derive(&cfg, &t, &c, now), -1);

    /* derivation off: the tier is left alone */
    cfg.tiers_derive = false;
    c.tier_set = 0;
    cr_assert_eq(tier_derive(&cfg, &t, &c, now), -1);
    cr_assert_not(tier_cutoffs_stale(&cfg, &t, now + 10 * WEEK));
}

Test(tiers, stale_when_a_new_week_begins)
{
    struct config cfg;
    struct tier_cutoffs t = {.week = TIER_WEEK_NONE};
    tiers_config(&cfg);
    cr_assert(tier_cutoffs_stale(&cfg, &t, W0 * WEEK));
    t.week = W0;
    cr_assert_not(tier_cutoffs_stale(&cfg, &t, W0 * WEEK));
    cr_assert_not(tier_cutoffs_stale(&cfg, &t, (W0 + 1) * WEEK - 1));
    cr_assert(tier_cutoffs_stale(&cfg, &t, (W0 + 1) * WEEK));
    cr_assert_not(tier_cutoffs_stale(&cfg, &t, (W0 - 3) * WEEK), "a late clock is not newer");
}

Test(tiers, stored_form_round_trips_and_rejects_garbage)
{
    struct tier_cutoffs a = {.week = -12, .key_cents = UINT64_MAX, .strategic_cents = 77,
                             .buyers = 4000000000u},
                        b;
    char buf[96];
    tier_cutoffs_format(&a, buf, sizeof buf);
    cr_assert_str_eq(buf, "-12 18446744073709551615 77 4000000000");
    cr_assert_eq(tier_cutoffs_parse(buf, &b), 0);
    cr_assert(a.week == b.week && a.key_cents == b.key_cents &&
              a.strategic_cents == b.strategic_cents && a.buyers == b.buyers);
    cr_assert_eq(tier_cutoffs_parse("1 2 3", &b), -1);
    cr_assert_eq(tier_cutoffs_parse("1 2 3 4 5", &b), -1);
    cr_assert_eq(tier_cutoffs_parse("x 2 3 4", &b), -1);
    cr_assert_eq(tier_cutoffs_parse("", &b), -1);
}

/* A customer with nothing but a tier, as versions 2 to 4 wrote it: version, flags, tier,
 * order_count, first and last order, last event, total_spend, manager hash, no active
 * alert, score, level, next due time; all zero. */
static size_t tiers_old_record(uint8_t *buf, uint8_t version, uint8_t flags, uint8_t tier)
{
    size_t n = 0;
    buf[n++] = version;
    buf[n++] = flags;
    buf[n++] = tier;
    memset(buf + n, 0, 4 + 8 + 8 + 1 + 8 + 1 + 1);
    return n + 4 + 8 + 8 + 1 + 8 + 1 + 1;
}

Test(tiers, encoding_keeps_an_event_set_tier_and_reads_version_2)
{
    struct customer c, d;
    uint8_t buf[CW_CUSTOMER_ENCODED_MAX];
    customer_init(&c, "a");
    c.tier = TIER_KEY;
    c.tier_set = 1;
    size_t n = customer_encode(&c, buf, sizeof buf);
    cr_assert_gt(n, 3);
    cr_assert_eq(buf[0], 5, "version 5");
    cr_assert_eq(customer_decode(&d, "a", buf, n), 0);
    cr_assert_eq(d.tier, TIER_KEY);
    cr_assert_eq(d.tier_set, 1);

    c.tier_set = 0; /* derived */
    n = customer_encode(&c, buf, sizeof buf);
    cr_assert_eq(customer_decode(&d, "a", buf, n), 0);
    cr_assert_eq(d.tier, TIER_KEY);
    cr_assert_eq(d.tier_set, 0);

    /* versions 3 and 4 say in flag bit 7 whether the tier was set by an event */
    for (uint8_t v = 3; v <= 4; v++) {
        n = tiers_old_record(buf, v, 0x80, TIER_KEY);
        cr_assert_eq(customer_decode(&d, "a", buf, n), 0);
        cr_assert_eq(d.tier, TIER_KEY);
        cr_assert_eq(d.tier_set, 1);
        n = tiers_old_record(buf, v, 0, TIER_KEY);
        cr_assert_eq(customer_decode(&d, "a", buf, n), 0);
        cr_assert_eq(d.tier_set, 0);
    }
    /* version 2 had no derived tiers: a non-standard tier was set by an event */
    n = tiers_old_record(buf, 2, 0, TIER_KEY);
    cr_assert_eq(customer_decode(&d, "a", buf, n), 0);
    cr_assert_eq(d.tier, TIER_KEY);
    cr_assert_eq(d.tier_set, 1);
    n = tiers_old_record(buf, 2, 0, TIER_STANDARD);
    cr_assert_eq(customer_decode(&d, "a", buf, n), 0);
    cr_assert_eq(d.tier_set, 0);
    /* bit 7 did not exist in version 2 */
    n = tiers_old_record(buf, 2, 0x80, TIER_STANDARD);
    cr_assert_eq(customer_decode(&d, "a", buf, n), -1);
}

Test(tiers, config_keys_defaults_and_errors)
{
    char errs[2048];
    static const char base[] = "kafka:\n  topics:\n    - name: orders\n";
    struct config *cfg = config_load_buffer("t.yaml", base, strlen(base), errs, sizeof errs);
    cr_assert_not_null(cfg, "%s", errs);
    cr_assert_not(cfg->tiers_derive);
    cr_assert_float_eq(cfg->tiers_key_share, 0.2, 1e-12);
    cr_assert_float_eq(cfg->tiers_strategic_share, 0.02, 1e-12);
    cr_assert_eq(cfg->tiers_window_ms, 26 * WEEK);
    cr_assert_eq(cfg->tiers_min_buyers, 100);
    config_free(cfg);

    static const char good[] = "kafka:\n  topics:\n    - name: orders\n"
                               "tiers:\n  derive: true\n  key_share: 0.3\n"
                               "  strategic_share: 0\n  window: 51w\n  min_buyers: 1\n";
    cfg = config_load_buffer("t.yaml", good, strlen(good), errs, sizeof errs);
    cr_assert_not_null(cfg, "%s", errs);
    cr_assert(cfg->tiers_derive);
    cr_assert_eq(cfg->tiers_window_ms, 51 * WEEK);
    config_free(cfg);

    static const char bad[] = "kafka:\n  topics:\n    - name: orders\n"
                              "tiers:\n  key_share: 0.1\n  strategic_share: 0.2\n";
    cr_assert_null(config_load_buffer("t.yaml", bad, strlen(bad), errs, sizeof errs));
    cr_assert(strstr(errs, "t.yaml:4:1: tiers: strategic_share (0.2) must not be higher than "
                           "key_share (0.1)") != NULL,
              "%s", errs);

    static const char days[] = "kafka:\n  topics:\n    - name: orders\n"
                               "tiers:\n  window: 30d\n";
    cr_assert_null(config_load_buffer("t.yaml", days, strlen(days), errs, sizeof errs));
    cr_assert(strstr(errs, "whole number of weeks") != NULL, "%s", errs);

    static const char big[] = "kafka:\n  topics:\n    - name: orders\n"
                              "tiers:\n  window: 52w\n  key_share: 0\n  bogus: 1\n";
    cr_assert_null(config_load_buffer("t.yaml", big, strlen(big), errs, sizeof errs));
    cr_assert(strstr(errs, "t.yaml:5:11: tiers.window: expected a duration 1w..51w") != NULL,
              "%s", errs);
    cr_assert(strstr(errs, "t.yaml:6:14: tiers.key_share: expected a number > 0 and <= 1") !=
                  NULL,
              "%s", errs);
    cr_assert(strstr(errs, "t.yaml:7:3: tiers: unknown key \"bogus\"") != NULL, "%s", errs);
}

/* In a replay: 10 customers order every week, "big" 10x as much as the others; "big"
 * then stops. With derivation on, "big" is key from its second week and its order_gap
 * threshold (key: factor 1.5 instead of 4) fires 10.5 days after its last order. */
static char *replay_weekly_buyers(bool derive)
{
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.watch_score = 20;
    cfg.alarm_score = 50;
    cfg.max_message_bytes = 65536;
    cfg.clock = CLOCK_EVENT;
    for (int t = 0; t < TIER__COUNT; t++) {
        struct rule_params *p = &cfg.rules[RULE_ORDER_GAP].tier[t];
        p->enabled = true;
        p->weight = 30;
        p->factor = t == TIER_KEY ? 1.5 : 4;
        p->min_orders = 2;
    }
    cfg.tiers_derive = derive;
    cfg.tiers_key_share = 0.1;
    cfg.tiers_strategic_share = 0;
    cfg.tiers_window_ms = 4 * WEEK;
    cfg.tiers_min_buyers = 5;

    size_t cap = 1 << 16, len = 0;
    char *in = malloc(cap);
    cr_assert_not_null(in);
    for (int day = 0; day <= 35; day += 7) {
        for (int i = 0; i < 10; i++) {
            if (i == 0 && day > 21)
                continue;
            char id[16];
            snprintf(id, sizeof id, i == 0 ? "big" : "c%d", i);
            len += (size_t)snprintf(in + len, cap - len,
                                    "{\"customer_id\":\"%s\",\"ts\":%lld,\"type\":\"order\","
                                    "\"order_id\":\"%s-%d\",\"amount\":%d}\n",
                                    id, (long long)(W0 * WEEK + day * 86400000LL + 3600000),
                                    id, day, i == 0 ? 100 : 10);
        }
    }
    FILE *fin = fmemopen(in, len, "r");
    char *out = NULL, *err = NULL;
    size_t out_len = 0, err_len = 0;
    FILE *fout = open_memstream(&out, &out_len), *ferr = open_memstream(&err, &err_len);
    cr_assert(fin && fout && ferr);
    struct replay_opts o = {.has_until = true, .until_ms = (W0 + 6) * WEEK};
    struct replay_stats st;
    cr_assert_eq(replay_run(&cfg, fin, "t", &o, fout, ferr, &st), 0, "%s", err);
    fclose(fin);
    fclose(fout);
    fclose(ferr);
    cr_assert_eq(st.accepted, 58);
    free(in);
    free(err);
    return out;
}

Test(tiers, replay_derives_tiers_and_uses_their_thresholds)
{
    char *out = replay_weekly_buyers(true);
    cr_assert(strstr(out, "\"customer_id\": \"big\", \"rule\": \"order_gap\", \"status\": "
                          "\"firing\", \"level\": \"watch\", \"score\": 30, \"tier\": \"key\", "
                          "\"started_at\": \"2024-01-28T13:00:00.000Z\"") != NULL,
              "%s", out);
    cr_assert_eq(strstr(out, "\"tier\": \"standard\""), NULL, "nobody else fired: %s", out);
    free(out);

    /* derivation off: big stays standard (factor 4: due 28 days after day 21, after the
     * end of the replay) and nothing fires */
    out = replay_weekly_buyers(false);
    cr_assert_str_eq(out, "");
    free(out);
}

/* A tier derived at an event takes effect at the event's time: a timer that would have
 * been due earlier under the new tier's threshold does not fire retroactively. */
Test(tiers, derived_tier_applies_from_the_event_on)
{
    struct config cfg;
    struct customer c;
    struct notice_list nl;
    memset(&cfg, 0, sizeof cfg);
    cfg.watch_score = 20;
    cfg.alarm_score = 50;
    for (int t = 0; t < TIER__COUNT; t++) {
        struct rule_params *p = &cfg.rules[RULE_ORDER_GAP].tier[t];
        p->enabled = true;
        p->weight = 30;
        p->factor = t == TIER_KEY ? 1.5 : 4;
        p->min_orders = 2;
    }
    customer_init(&c, "a");
    int64_t day = 86400000LL, t0 = W0 * WEEK;
    for (int d = 0; d <= 14; d += 7) {
        struct event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = EV_ORDER;
        ev.tier = -1;
        snprintf(ev.customer_id, sizeof ev.customer_id, "a");
        ev.ts_ms = t0 + d * day;
        ev.amount = 10;
        nl.count = 0;
        cr_assert_eq(rules_apply_event_tier(&cfg, &c, &ev, d == 14 ? -1 : TIER_STANDARD, &nl),
                     APPLY_OK);
        cr_assert_eq(nl.count, 0);
    }
    /* fires when the gap exceeds the threshold: 1 ms after it */
    cr_assert_eq(c.next_due_ms, t0 + 42 * day + 1, "standard: 14 + 4 x 7 days");

    /* day 30: key (due 14 + 10.5 days under key) — nothing fires for days 24.5..30 */
    struct event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EV_ORDER;
    ev.tier = -1;
    snprintf(ev.customer_id, sizeof ev.customer_id, "a");
    ev.ts_ms = t0 + 30 * day;
    ev.amount = 10;
    nl.count = 0;
    cr_assert_eq(rules_apply_event_tier(&cfg, &c, &ev, TIER_KEY, &nl), APPLY_OK);
    cr_assert_eq(nl.count, 0);
    cr_assert_eq(c.tier, TIER_KEY);
    cr_assert_eq(c.tier_set, 0);
    /* the key threshold applies from now on: typical gap (30 / 3 orders' gaps = 10) x 1.5 */
    cr_assert_eq(c.next_due_ms, t0 + 45 * day + 1);
}

/* The spend index (customers not in memory) gives every week the same trailing spend as
 * the customers themselves, keeps one entry per id hash (replaced, removed, none without
 * spend), and survives growth and removals. */
Test(tiers, spend_index_matches_the_customers_it_was_built_from)
{
    struct config cfg;
    tiers_config(&cfg);
    cfg.tiers_window_ms = 26 * WEEK;
    enum { N = 3000 };
    static struct customer c[N];
    struct spend_index *x = spend_index_new();
    cr_assert_not_null(x);
    uint64_t seed = 42;
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "c%d", i);
        customer_init(&c[i], id);
        if (i % 5 == 0) {
            cr_assert_eq(spend_index_put(x, &c[i]), 0); /* no spend */
            continue;
        }
        int64_t top = W0 - (int64_t)(i % 40);
        c[i].spend_ms = top * WEEK + 5;
        for (int k = 0; k < 6; k++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            int64_t w = top - (int64_t)((seed >> 33) % 52);
            c[i].spend[customer_spend_slot(w)] += 1 + (seed >> 40) % 100000;
        }
        cr_assert_eq(spend_index_put(x, &c[i]), 0);
    }
    cr_assert_eq(spend_index_count(x), N - N / 5);
    /* replace half of them with no spend (removal) and put some back */
    for (int i = 1; i < N; i += 2) {
        struct customer none;
        customer_init(&none, c[i].id);
        cr_assert_eq(spend_index_put(x, &none), 0);
    }
    for (int i = 1; i < N; i += 4)
        cr_assert_eq(spend_index_put(x, &c[i]), 0);
    spend_index_remove(x, "absent"); /* absent: nothing happens */
    for (int64_t week = W0 - 30; week <= W0 + 30; week += 7) {
        struct tier_sample from_index = {0}, direct = {0};
        cr_assert_eq(tier_sample_add_index(&from_index, &cfg, x, week), 0);
        for (int i = 0; i < N; i++)
            if (i % 5 != 0 && (i % 2 == 0 || i % 4 == 1))
                cr_assert_eq(tier_sample_add(&direct, &cfg, &c[i], week), 0);
        cr_assert_eq(from_index.n, direct.n, "week %lld", (long long)week);
        uint64_t a = 0, b = 0;
        for (size_t k = 0; k < from_index.n; k++)
            a += from_index.cents[k];
        for (size_t k = 0; k < direct.n; k++)
            b += direct.cents[k];
        cr_assert_eq(a, b, "week %lld", (long long)week);
        struct tier_cutoffs ta, tb;
        tier_cutoffs_compute(&cfg, &from_index, week, &ta);
        tier_cutoffs_compute(&cfg, &direct, week, &tb);
        cr_assert_eq(ta.key_cents, tb.key_cents);
        cr_assert_eq(ta.strategic_cents, tb.strategic_cents);
        tier_sample_free(&from_index);
        tier_sample_free(&direct);
    }
    spend_index_free(x);
    spend_index_free(NULL);
}
