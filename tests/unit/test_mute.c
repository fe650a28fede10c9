/* test_mute.c — silences and acknowledgements (mute.h): stored values, the decision for
 * each notice, what a silence keeps back and gives out at its end. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "mute.h"

#define NOW 1700000000000LL
#define HOUR 3600000LL

static const char *const A1 = "00000000000000a1"; /* alert ids */
static const char *const A2 = "00000000000000a2";
static const char *const C9 = "{\"unseen\": [], \"held\": [\"{}\"]}";
static const char *const BAD = "{\"unseen\": [1], \"held\": []}";

static struct notice notice(bool firing, bool repeat, int8_t escalation)
{
    struct notice n;
    memset(&n, 0, sizeof n);
    n.rule = RULE_ORDER_GAP;
    n.firing = firing;
    n.repeat = repeat;
    n.escalation = escalation;
    return n;
}

static void add_silence(struct mute_set *m, const char *customer, int64_t until)
{
    struct mute_silence *s = calloc(1, sizeof *s);
    char *v = mute_silence_value(until, NOW - HOUR, "why");
    cr_assert_not_null(v);
    cr_assert_eq(mute_silence_parse(customer, v, strlen(v), s), 0);
    s->raw = v;
    struct mute_ack *acks = calloc(m->n_ack + 1, sizeof *acks);
    for (size_t i = 0; i < m->n_ack; i++)
        acks[i] = m->ack[i];
    mute_replace(m, s, 1, acks, m->n_ack);
}

static void add_ack(struct mute_set *m, const char *id, const char *customer)
{
    struct mute_ack *a = calloc(1, sizeof *a);
    char *v = mute_ack_value(customer, "order_gap", NOW, "called");
    cr_assert_eq(mute_ack_parse(id, v, strlen(v), a), 0);
    free(v);
    struct mute_silence *sil = calloc(m->n_sil + 1, sizeof *sil);
    for (size_t i = 0; i < m->n_sil; i++) {
        sil[i] = m->sil[i];
        sil[i].raw = strdup(m->sil[i].raw);
    }
    mute_replace(m, sil, m->n_sil, a, 1);
}

Test(mute, values_round_trip_and_bad_ones_are_refused)
{
    char *v = mute_silence_value(NOW + HOUR, NOW, "on \"holiday\"");
    struct mute_silence s;
    cr_assert_eq(mute_silence_parse("c1", v, strlen(v), &s), 0);
    cr_assert_eq(s.until_ms, NOW + HOUR);
    cr_assert_eq(s.at_ms, NOW);
    cr_assert_str_eq(s.note, "on \"holiday\"");
    cr_assert_str_eq(s.customer, "c1");
    free(v);
    v = mute_ack_value("c1", "order_gap", NOW, NULL);
    struct mute_ack a;
    cr_assert_eq(mute_ack_parse(A1, v, strlen(v), &a), 0);
    cr_assert_str_eq(a.customer, "c1");
    cr_assert_str_eq(a.rule, "order_gap");
    cr_assert_str_eq(a.note, "");
    cr_assert_eq(a.at_ms, NOW);
    cr_assert_eq(mute_ack_parse("short", v, strlen(v), &a), -1, "not an alert id");
    free(v);
    cr_assert_eq(mute_silence_parse("c1", "{\"until\": \"x\"}", 14, &s), -1);
    cr_assert_eq(mute_silence_parse("c1", "not json", 8, &s), -1);
    cr_assert_eq(mute_silence_parse("", "{\"until\": 1}", 12, &s), -1);
    cr_assert_eq(mute_ack_parse(A1, "{}", 2, &a), -1, "no customer");
}

Test(mute, nothing_held_means_everything_is_sent)
{
    struct mute_set m = {0};
    struct notice n = notice(true, true, 0);
    cr_assert_not(mute_any(&m));
    cr_assert_eq(mute_decide(&m, "c1", &n, A1, NOW), MUTE_SEND);
    n = notice(false, false, 0);
    cr_assert_eq(mute_decide(&m, "c1", &n, A1, NOW), MUTE_SEND);
    cr_assert_eq(m.n_ack_del, 0);
    mute_set_free(&m);
}

Test(mute, an_acknowledgement_stops_the_repeats_of_its_episode_only)
{
    struct mute_set m = {0};
    add_ack(&m, A1, "c1");
    struct notice repeat = notice(true, true, 0), up = notice(true, true, 1);
    struct notice fire = notice(true, false, 0), resolved = notice(false, false, 0);
    cr_assert_eq(mute_decide(&m, "c1", &repeat, A1, NOW), MUTE_DROP, "its repeats");
    cr_assert_eq(mute_decide(&m, "c1", &repeat, A2, NOW), MUTE_SEND, "another episode's");
    cr_assert_eq(mute_decide(&m, "c1", &up, A1, NOW), MUTE_SEND, "a level change");
    cr_assert_eq(mute_decide(&m, "c1", &fire, A2, NOW), MUTE_SEND, "a new episode");
    cr_assert_eq(m.n_ack_del, 0);
    cr_assert_eq(mute_decide(&m, "c1", &resolved, A1, NOW), MUTE_SEND, "its resolved notice");
    cr_assert_eq(m.n_ack_del, 1, "deleted with the episode");
    cr_assert_str_eq(m.ack_del[0], A1);
    cr_assert_null(mute_ack_find(&m, A1));
    cr_assert_eq(mute_decide(&m, "c1", &repeat, A1, NOW), MUTE_SEND);
    mute_committed(&m);
    cr_assert_eq(m.n_ack_del, 0);
    mute_set_free(&m);
}

Test(mute, a_silence_drops_firing_and_holds_what_the_sinks_must_hear)
{
    struct mute_set m = {0};
    add_silence(&m, "c1", NOW + HOUR);
    struct notice fire = notice(true, false, 0), repeat = notice(true, true, 0);
    struct notice resolved = notice(false, false, 0);
    /* c2 is not silenced */
    cr_assert_eq(mute_decide(&m, "c2", &fire, A2, NOW), MUTE_SEND);
    /* A1 fired before the silence: repeats dropped, its resolved notice held */
    cr_assert_eq(mute_decide(&m, "c1", &repeat, A1, NOW), MUTE_DROP);
    cr_assert_eq(mute_decide(&m, "c1", &resolved, A1, NOW), MUTE_HOLD);
    mute_hold(&m, "c1", "{\"a\":1}", 7);
    /* A2 begins and ends within the silence: nobody hears of it */
    cr_assert_eq(mute_decide(&m, "c1", &fire, A2, NOW), MUTE_DROP);
    cr_assert(mute_unseen(&m, "c1", A2));
    cr_assert_eq(mute_decide(&m, "c1", &resolved, A2, NOW), MUTE_DROP);
    cr_assert_not(mute_unseen(&m, "c1", A2));
    struct mute_record *r = mute_record_find(&m, "c1");
    cr_assert_not_null(r);
    cr_assert(r->dirty);
    cr_assert_eq(r->n_held, 1);
    cr_assert_str_eq(r->held[0], "{\"a\":1}");
    cr_assert_eq(r->n_unseen, 0);
    /* after its end (wall clock), notices go out again */
    cr_assert_eq(mute_decide(&m, "c1", &fire, A2, NOW + 2 * HOUR), MUTE_SEND);
    mute_set_free(&m);
}

Test(mute, records_round_trip)
{
    struct mute_set m = {0}, back = {0};
    add_silence(&m, "c1", NOW + HOUR);
    struct notice fire = notice(true, false, 0);
    mute_decide(&m, "c1", &fire, A2, NOW);
    mute_hold(&m, "c1", "{\"status\": \"resolved\"}", 22);
    char *v = mute_record_value(mute_record_find(&m, "c1"));
    cr_assert_not_null(v);
    cr_assert_eq(mute_record_load(&back, "c1", v, strlen(v)), 0);
    struct mute_record *r = mute_record_find(&back, "c1");
    cr_assert_not_null(r);
    cr_assert_eq(r->n_unseen, 1);
    cr_assert_str_eq(r->unseen[0], A2);
    cr_assert_eq(r->n_held, 1);
    cr_assert_str_eq(r->held[0], "{\"status\": \"resolved\"}");
    cr_assert_not(r->dirty);
    cr_assert_eq(mute_record_load(&back, "c2", BAD, strlen(BAD)), -1);
    cr_assert_null(mute_record_find(&back, "c2"));
    free(v);
    mute_set_free(&m);
    mute_set_free(&back);
}

Test(mute, ends_expired_silences_and_records_without_one_once)
{
    struct mute_set m = {0};
    add_silence(&m, "c1", NOW + HOUR);
    struct notice resolved = notice(false, false, 0);
    cr_assert_eq(mute_decide(&m, "c1", &resolved, A1, NOW), MUTE_HOLD);
    mute_hold(&m, "c1", "{}", 2);
    cr_assert_eq(mute_record_load(&m, "c9", C9, strlen(C9)), 0);
    char ids[4][CW_ID_MAX + 1];
    cr_assert_eq(mute_due_ends(&m, NOW, ids, 4), 1, "only the record without a silence");
    cr_assert_str_eq(ids[0], "c9");
    cr_assert_eq(mute_due_ends(&m, NOW + HOUR, ids, 4), 2, "and the silence that ran out");
    char *const *held;
    size_t n_held;
    mute_end(&m, "c1", &held, &n_held);
    cr_assert_eq(n_held, 1);
    cr_assert_str_eq(held[0], "{}");
    mute_end(&m, "c9", &held, &n_held);
    cr_assert_eq(mute_due_ends(&m, NOW + HOUR, ids, 4), 0, "being ended");
    /* a refresh before the commit keeps the end pending */
    struct mute_silence *again = calloc(1, sizeof *again);
    *again = m.sil[0];
    again->ending = false;
    again->raw = strdup(m.sil[0].raw);
    mute_replace(&m, again, 1, calloc(1, sizeof(struct mute_ack)), 0);
    cr_assert(m.sil[0].ending);
    cr_assert_eq(mute_due_ends(&m, NOW + HOUR, ids, 4), 0);
    mute_committed(&m);
    cr_assert_eq(m.n_sil, 0);
    cr_assert_eq(m.n_rec, 0);
    cr_assert_not(mute_any(&m));
    mute_set_free(&m);
}

Test(mute, durations_for_silences_are_the_configuration_s)
{
    int64_t ms;
    cr_assert(config_parse_duration("90m", &ms));
    cr_assert_eq(ms, 90 * 60000LL);
    cr_assert(config_parse_duration("2h", &ms));
    cr_assert_eq(ms, 2 * HOUR);
    cr_assert(config_parse_duration("1w", &ms));
    cr_assert_eq(ms, 7 * 24 * HOUR);
    cr_assert(config_parse_duration("0", &ms));
    cr_assert_eq(ms, 0);
    cr_assert_not(config_parse_duration("2x", &ms));
    cr_assert_not(config_parse_duration("-1h", &ms));
    cr_assert_not(config_parse_duration("1.5h", &ms));
    cr_assert_not(config_parse_duration("", &ms));
    char text[32];
    config_duration_text(text, sizeof text, 90 * 60000LL);
    cr_assert_str_eq(text, "90m");
    config_duration_text(text, sizeof text, 2 * HOUR);
    cr_assert_str_eq(text, "2h");
}
