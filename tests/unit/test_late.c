/* test_late.c — late events: the binary event encoding (event_codec.c), the buffer that
 * holds events back for engine.lateness (late_buffer.c), and replay applying out-of-order
 * events in event-time order. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "event_codec.h"
#include "late_buffer.h"
#include "replay.h"

#define DAY 86400000LL

static struct event late_event(const char *id, int64_t ts)
{
    struct event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EV_ORDER;
    ev.ts_ms = ts;
    ev.tier = -1;
    snprintf(ev.customer_id, sizeof ev.customer_id, "%s", id);
    return ev;
}

Test(event_codec, round_trip_every_field)
{
    struct event a = late_event("customer-1", -5), b;
    a.type = EV_CUSTOMER_UPDATED;
    a.amount = 12.25;
    a.severity = SEV_CRITICAL;
    a.satisfaction = 5;
    a.tier = TIER_STRATEGIC;
    a.has_account_manager = 1;
    memset(a.event_id, 'e', CW_ID_MAX);
    snprintf(a.ref_id, sizeof a.ref_id, "ref");
    snprintf(a.currency, sizeof a.currency, "EUR");
    memset(a.category, 'c', CW_TEXT_MAX - 1);
    snprintf(a.channel, sizeof a.channel, "phone");
    snprintf(a.account_manager, sizeof a.account_manager, "Ann");
    snprintf(a.name, sizeof a.name, "Ann's customer");
    uint8_t buf[CW_EVENT_ENCODED_MAX];
    size_t n = event_encode(&a, buf, sizeof buf);
    cr_assert_gt(n, 0);
    cr_assert_eq(event_decode(buf, n, &b), 0);
    cr_assert(memcmp(&a, &b, offsetof(struct event, name) + sizeof a.name) == 0);
    cr_assert_eq(b.has_account_manager, 1);
    cr_assert_eq(event_encode(&a, buf, n - 1), 0, "too small a buffer");

    /* every truncation, a trailing byte, a bad version, a bad type are rejected */
    for (size_t k = 0; k < n; k++)
        cr_assert_eq(event_decode(buf, k, &b), -1, "truncated at %zu", k);
    buf[n] = 0;
    cr_assert_eq(event_decode(buf, n + 1, &b), -1);
    buf[0] = 2;
    cr_assert_eq(event_decode(buf, n, &b), -1);
    buf[0] = 1;
    buf[1] = EV__COUNT;
    cr_assert_eq(event_decode(buf, n, &b), -1);
    cr_assert_eq(event_decode(NULL, 0, &b), -1);
}

Test(late_buffer, releases_in_time_then_order)
{
    struct late_buffer b = {0};
    int64_t ts[] = {50, 10, 30, 10, 20, 40, 30};
    for (int i = 0; i < 7; i++) {
        struct event ev = late_event("c", ts[i]);
        ev.amount = i;
        cr_assert_eq(late_buffer_push(&b, &ev, (uint64_t)(100 - i)), 0);
    }
    cr_assert_eq(late_buffer_count(&b), 7);
    /* equal times: lower order first (order 100 - i: the later push first) */
    int want[] = {3, 1, 4, 6, 2, 5, 0};
    for (int k = 0; k < 7; k++) {
        struct event ev;
        cr_assert(late_buffer_peek(&b, &ev));
        cr_assert_eq(ev.amount, want[k], "pop %d: got %g", k, ev.amount);
        late_buffer_pop(&b);
    }
    struct event ev;
    cr_assert_not(late_buffer_peek(&b, &ev));
    late_buffer_free(&b);
}

static size_t count_adds(const struct late_buffer *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n_added; i++)
        n += !b->added[i]->released;
    return n;
}

static size_t count_removes(const struct late_buffer *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n_removed; i++)
        n += b->removed[i]->stored;
    return n;
}

Test(late_buffer, commit_bookkeeping)
{
    struct late_buffer b = {0};
    struct event a = late_event("a", 1), c = late_event("c", 3);
    cr_assert_eq(late_buffer_push(&b, &a, 1), 0);
    cr_assert_eq(count_adds(&b), 1);
    late_buffer_committed(&b); /* a is stored */
    cr_assert_eq(count_adds(&b), 0);
    cr_assert_eq(late_buffer_push(&b, &c, 2), 0);
    late_buffer_pop(&b); /* a: stored, so the next commit removes it */
    cr_assert_eq(count_removes(&b), 1);
    late_buffer_pop(&b); /* c: never stored: neither added nor removed */
    cr_assert_eq(count_adds(&b), 0);
    cr_assert_eq(count_removes(&b), 1);
    late_buffer_committed(&b);
    cr_assert_eq(b.n_removed, 0);
    cr_assert_eq(late_buffer_count(&b), 0);

    /* read back from Redis: the member is order (big-endian) + encoding */
    cr_assert_eq(late_buffer_push(&b, &c, 0x0102030405060708ull), 0);
    struct late_entry *e = b.added[0];
    struct late_buffer r = {0};
    cr_assert_eq(late_buffer_push_stored(&r, 3, e->member, e->len), 0);
    cr_assert_eq(r.heap[0]->order, 0x0102030405060708ull);
    cr_assert(r.heap[0]->stored);
    cr_assert_eq(count_adds(&r), 0, "already stored: not added again");
    cr_assert_eq(late_buffer_push_stored(&r, 4, e->member, e->len), -1, "time mismatch");
    cr_assert_eq(late_buffer_push_stored(&r, 3, e->member, 8), -1, "no event");
    uint8_t bad[64];
    memcpy(bad, e->member, e->len < sizeof bad ? e->len : sizeof bad);
    bad[8] = 9; /* unknown codec version */
    cr_assert_eq(late_buffer_push_stored(&r, 3, bad, e->len), -1);
    cr_assert_eq(late_buffer_count(&r), 1);
    late_buffer_free(&r);
    late_buffer_free(&b);
}

static void late_config(struct config *cfg, int64_t lateness)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->watch_score = 20;
    cfg->alarm_score = 50;
    cfg->max_message_bytes = 65536;
    cfg->clock = CLOCK_EVENT;
    cfg->lateness_ms = lateness;
    for (int t = 0; t < TIER__COUNT; t++) {
        struct rule_params *p = &cfg->rules[RULE_COMPLAINT_UNRESOLVED].tier[t];
        p->enabled = true;
        p->weight = 30;
        p->duration_ms = 7 * DAY;
    }
}

static char *replay_text(const struct config *cfg, const char *input, struct replay_stats *st)
{
    FILE *in = fmemopen((void *)input, strlen(input), "r");
    char *out = NULL, *err = NULL;
    size_t out_len = 0, err_len = 0;
    FILE *o = open_memstream(&out, &out_len), *e = open_memstream(&err, &err_len);
    cr_assert(in && o && e);
    struct replay_opts opts = {.has_until = true, .until_ms = 1706745600000LL /* 02-01 */};
    cr_assert_eq(replay_run(cfg, in, "t", &opts, o, e, st), 0);
    fclose(in);
    fclose(o);
    fclose(e);
    free(err);
    return out;
}

/* k1's resolution arrives a day before its opening; k2's opening is in order and it is
 * never resolved. */
static const char in_order[] =
    "{\"customer_id\":\"a\",\"ts\":\"2024-01-01T00:00:00Z\",\"type\":\"complaint.opened\",\"complaint_id\":\"k1\"}\n"
    "{\"customer_id\":\"a\",\"ts\":\"2024-01-02T00:00:00Z\",\"type\":\"complaint.resolved\",\"complaint_id\":\"k1\"}\n"
    "{\"customer_id\":\"b\",\"ts\":\"2024-01-03T00:00:00Z\",\"type\":\"complaint.opened\",\"complaint_id\":\"k2\"}\n";
static const char swapped[] =
    "{\"customer_id\":\"a\",\"ts\":\"2024-01-02T00:00:00Z\",\"type\":\"complaint.resolved\",\"complaint_id\":\"k1\"}\n"
    "{\"customer_id\":\"a\",\"ts\":\"2024-01-01T00:00:00Z\",\"type\":\"complaint.opened\",\"complaint_id\":\"k1\"}\n"
    "{\"customer_id\":\"b\",\"ts\":\"2024-01-03T00:00:00Z\",\"type\":\"complaint.opened\",\"complaint_id\":\"k2\"}\n";

Test(late_replay, out_of_order_within_lateness_is_applied_in_order)
{
    struct config cfg;
    struct replay_stats st;
    late_config(&cfg, 2 * DAY);
    char *want = replay_text(&cfg, in_order, &st);
    cr_assert_eq(st.late, 0);
    char *got = replay_text(&cfg, swapped, &st);
    cr_assert_eq(st.late, 0);
    cr_assert_str_eq(got, want);
    cr_assert(strstr(want, "\"customer_id\": \"b\"") != NULL);
    cr_assert_eq(strstr(want, "\"customer_id\": \"a\""), NULL, "k1 was resolved in a day");
    free(got);
    free(want);
}

/* k1's opening arrives after b's event moved the clock two days past it */
static const char too_late[] =
    "{\"customer_id\":\"a\",\"ts\":\"2024-01-02T00:00:00Z\",\"type\":\"complaint.resolved\",\"complaint_id\":\"k1\"}\n"
    "{\"customer_id\":\"b\",\"ts\":\"2024-01-03T00:00:00Z\",\"type\":\"complaint.opened\",\"complaint_id\":\"k2\"}\n"
    "{\"customer_id\":\"a\",\"ts\":\"2024-01-01T00:00:00Z\",\"type\":\"complaint.opened\",\"complaint_id\":\"k1\"}\n";

Test(late_replay, later_than_lateness_is_applied_at_once_and_counted)
{
    struct config cfg;
    struct replay_stats st;
    /* one hour of lateness: the resolution was released when b's event arrived, so the
     * opening (two days behind) comes after it, k1 stays open and fires */
    late_config(&cfg, 3600000);
    char *got = replay_text(&cfg, too_late, &st);
    cr_assert_eq(st.late, 1);
    cr_assert(strstr(got, "\"customer_id\": \"a\", \"rule\": \"complaint_unresolved\", "
                          "\"status\": \"firing\"") != NULL,
              "%s", got);
    char line[512];
    replay_stats_format(&st, line, sizeof line);
    cr_assert(strstr(line, "0 duplicates, 1 late, ") != NULL, "%s", line);
    free(got);
    /* without lateness: the same, but nothing counts as late */
    late_config(&cfg, 0);
    got = replay_text(&cfg, swapped, &st);
    cr_assert_eq(st.late, 0);
    cr_assert(strstr(got, "\"customer_id\": \"a\"") != NULL);
    free(got);
}
