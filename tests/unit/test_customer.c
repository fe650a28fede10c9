/* test_customer.c — customer state encoding, cw_hash64, customer_table, due_queue. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "customer.h"
#include "customer_golden.h"
#include "customer_table.h"
#include "due_queue.h"
#include "rules.h"

static void fill_rich(struct customer *c)
{
    customer_init(c, "cust-\"rich\"");
    c->tier = TIER_STRATEGIC;
    c->tier_set = 1;
    c->unsubscribed = 1;
    c->order_count = 123456;
    c->first_order_ms = 852076800000LL;
    c->last_order_ms = 1700000000123LL;
    c->last_event_ms = 1700000999999LL;
    c->total_spend = 98765.4321;
    c->manager_hash = 0xfedcba9876543210ULL;
    c->unsubscribed_ms = -86400000LL;
    c->manager_changed = 1;
    c->manager_since_ms = 1690000000000LL;
    c->manager_last_ms = 1691000000000LL;
    c->low_rating = 2;
    c->low_since_ms = 0;
    c->low_last_ms = INT64_MAX; /* the longest span there can be */
    c->spend_ms = 1700000000123LL;
    for (int i = 0; i < CW_SPEND_BUCKETS; i += 3)
        c->spend[i] = (uint64_t)i * 100003u + 1;
    c->spend[CW_SPEND_BUCKETS - 1] = UINT64_MAX;
    c->n_complaints = CW_MAX_OPEN;
    for (int i = 0; i < CW_MAX_OPEN; i++) {
        c->complaints[i].id_hash = 0x1000 + (uint64_t)i * 0x9e3779b97f4a7c15ULL;
        c->complaints[i].opened_ms = -5000 + i * 86400000LL;
        c->complaints[i].reopened = (uint8_t)(i & 1);
    }
    c->n_tickets = 3;
    for (int i = 0; i < 3; i++) {
        c->tickets[i].id_hash = UINT64_MAX - (uint64_t)i;
        c->tickets[i].opened_ms = 1600000000000LL + i;
        c->tickets[i].replied = (uint8_t)(i == 1);
    }
    c->recent_ids[0] = 11;
    c->recent_ids[3] = UINT64_MAX;
    c->recent_ids[7] = 1;
    c->recent_pos = 4;
    c->alerts[RULE_ORDER_GAP] = (struct alert_state){.active = 1, .started_ms = 1690000000000LL, .last_sent_ms = 1695000000000LL, .repeats = 7, .ev_value = 33.25, .ev_threshold = 30, .ev_baseline = 11.5};
    c->alerts[RULE_MANAGER_CHANGED] = (struct alert_state){.active = 1, .started_ms = INT64_MIN, .last_sent_ms = INT64_MAX, .repeats = UINT32_MAX, .ev_value = -0.0, .ev_threshold = 1e300, .ev_baseline = 0};
    c->score = 42.5;
    c->level = LEVEL_WATCH;
    c->next_due_ms = 1699999999999LL;
}

static void assert_same(const struct customer *a, const struct customer *b)
{
    cr_assert_str_eq(a->id, b->id);
    cr_assert_eq(a->tier, b->tier);
    cr_assert_eq(a->tier_set, b->tier_set);
    cr_assert_eq(a->unsubscribed, b->unsubscribed);
    cr_assert_eq(a->order_count, b->order_count);
    cr_assert_eq(a->first_order_ms, b->first_order_ms);
    cr_assert_eq(a->last_order_ms, b->last_order_ms);
    cr_assert_eq(a->last_event_ms, b->last_event_ms);
    cr_assert(memcmp(&a->total_spend, &b->total_spend, sizeof(double)) == 0);
    cr_assert_eq(a->manager_hash, b->manager_hash);
    cr_assert_eq(a->unsubscribed_ms, b->unsubscribed_ms);
    cr_assert_eq(a->manager_changed, b->manager_changed);
    cr_assert_eq(a->manager_since_ms, b->manager_since_ms);
    cr_assert_eq(a->manager_last_ms, b->manager_last_ms);
    cr_assert_eq(a->low_rating, b->low_rating);
    cr_assert_eq(a->low_since_ms, b->low_since_ms);
    cr_assert_eq(a->low_last_ms, b->low_last_ms);
    cr_assert_eq(a->spend_ms, b->spend_ms);
    for (int i = 0; i < CW_SPEND_BUCKETS; i++)
        cr_assert_eq(a->spend[i], b->spend[i], "spend bucket %d", i);
    cr_assert_eq(a->n_complaints, b->n_complaints);
    cr_assert_eq(a->n_tickets, b->n_tickets);
    for (int i = 0; i < a->n_complaints; i++) {
        cr_assert_eq(a->complaints[i].id_hash, b->complaints[i].id_hash);
        cr_assert_eq(a->complaints[i].opened_ms, b->complaints[i].opened_ms);
        cr_assert_eq(a->complaints[i].reopened, b->complaints[i].reopened);
        cr_assert_eq(a->complaints[i].replied, b->complaints[i].replied);
    }
    for (int i = 0; i < a->n_tickets; i++) {
        cr_assert_eq(a->tickets[i].id_hash, b->tickets[i].id_hash);
        cr_assert_eq(a->tickets[i].opened_ms, b->tickets[i].opened_ms);
        cr_assert_eq(a->tickets[i].replied, b->tickets[i].replied);
    }
    for (int i = 0; i < CW_RECENT_EVENT_IDS; i++)
        cr_assert_eq(a->recent_ids[i], b->recent_ids[i]);
    cr_assert_eq(a->recent_pos, b->recent_pos);
    for (int r = 0; r < RULE__COUNT; r++) {
        cr_assert_eq(a->alerts[r].active, b->alerts[r].active, "rule %d", r);
        cr_assert_eq(a->alerts[r].started_ms, b->alerts[r].started_ms, "rule %d", r);
        cr_assert_eq(a->alerts[r].last_sent_ms, b->alerts[r].last_sent_ms, "rule %d", r);
        cr_assert_eq(a->alerts[r].repeats, b->alerts[r].repeats, "rule %d", r);
        cr_assert(memcmp(&a->alerts[r].ev_value, &b->alerts[r].ev_value, 8) == 0 &&
                      memcmp(&a->alerts[r].ev_threshold, &b->alerts[r].ev_threshold, 8) == 0 &&
                      memcmp(&a->alerts[r].ev_baseline, &b->alerts[r].ev_baseline, 8) == 0,
                  "evidence of rule %d", r);
    }
    cr_assert(memcmp(&a->score, &b->score, sizeof(double)) == 0);
    cr_assert_eq(a->level, b->level);
    cr_assert_eq(a->next_due_ms, b->next_due_ms);
}

Test(customer, init_is_empty)
{
    struct customer c;
    memset(&c, 0xab, sizeof c);
    customer_init(&c, "abc");
    cr_assert_str_eq(c.id, "abc");
    cr_assert_eq(c.order_count, 0);
    cr_assert_eq(c.n_complaints, 0);
    cr_assert_eq(c.tier, TIER_STANDARD);
    cr_assert_eq(c.level, LEVEL_OK);
    cr_assert_eq(c.next_due_ms, CW_NO_DUE);
    for (int r = 0; r < RULE__COUNT; r++)
        cr_assert_eq(c.alerts[r].active, 0);
}

Test(customer, round_trip_rich_state)
{
    struct customer a, b;
    uint8_t buf[CW_CUSTOMER_ENCODED_MAX], buf2[CW_CUSTOMER_ENCODED_MAX];
    fill_rich(&a);
    size_t n = customer_encode(&a, buf, sizeof buf);
    cr_assert_gt(n, 0);
    cr_assert_eq(buf[0], 5, "version byte");
    cr_assert_eq(customer_decode(&b, a.id, buf, n), 0);
    assert_same(&a, &b);
    /* encoding is canonical: the decoded state encodes to the same bytes */
    cr_assert_eq(customer_encode(&b, buf2, sizeof buf2), n);
    cr_assert(memcmp(buf, buf2, n) == 0);
}

Test(customer, round_trip_empty_state_is_small)
{
    struct customer a, b;
    uint8_t buf[CW_CUSTOMER_ENCODED_MAX];
    customer_init(&a, "x");
    size_t n = customer_encode(&a, buf, sizeof buf);
    cr_assert_gt(n, 0);
    /* version, flags, flags, last_event_ms 0: nothing else */
    cr_assert_eq(n, 4, "empty state took %zu bytes", n);
    cr_assert_eq(customer_decode(&b, "x", buf, n), 0);
    assert_same(&a, &b);
}

Test(customer, worst_case_fits_the_maximum)
{
    struct customer a;
    uint8_t buf[CW_CUSTOMER_ENCODED_MAX];
    fill_rich(&a);
    a.n_tickets = CW_MAX_OPEN;
    for (int i = 0; i < CW_MAX_OPEN; i++)
        a.tickets[i].id_hash = UINT64_MAX - (uint64_t)i;
    for (int i = 0; i < CW_RECENT_EVENT_IDS; i++)
        a.recent_ids[i] = UINT64_MAX - (uint64_t)i;
    for (int r = 0; r < RULE__COUNT; r++)
        a.alerts[r] = (struct alert_state){.active = 1, .started_ms = INT64_MIN, .last_sent_ms = INT64_MIN, .repeats = UINT32_MAX, .ev_value = 1, .ev_threshold = 2, .ev_baseline = 3};
    a.first_order_ms = a.last_order_ms = a.last_event_ms = INT64_MIN;
    a.next_due_ms = CW_NO_DUE;
    a.unsubscribed_ms = a.spend_ms = a.manager_since_ms = INT64_MIN;
    a.manager_last_ms = -1;
    for (int i = 0; i < CW_SPEND_BUCKETS; i++)
        a.spend[i] = UINT64_MAX;
    size_t n = customer_encode(&a, buf, sizeof buf);
    cr_assert_gt(n, 0);
    struct customer b;
    cr_assert_eq(customer_decode(&b, a.id, buf, n), 0, "extreme times and amounts come back");
    assert_same(&a, &b);
    /* too small a buffer: 0, never an overflow */
    cr_assert_eq(customer_encode(&a, buf, n - 1), 0);
    cr_assert_eq(customer_encode(&a, buf, 0), 0);
}

Test(customer, truncated_encodings_rejected)
{
    struct customer a, b;
    uint8_t buf[CW_CUSTOMER_ENCODED_MAX];
    fill_rich(&a);
    size_t n = customer_encode(&a, buf, sizeof buf);
    cr_assert_gt(n, 0);
    for (size_t len = 0; len < n; len++) {
        /* an exact-size heap copy, so ASan catches any read past the end */
        uint8_t *copy = malloc(len ? len : 1);
        cr_assert_not_null(copy);
        memcpy(copy, buf, len);
        cr_assert_eq(customer_decode(&b, "x", copy, len), -1, "length %zu of %zu", len, n);
        free(copy);
    }
    cr_assert_eq(customer_decode(&b, "x", NULL, 0), -1);
}

/* After a successful decode: the state is in range, and encodes to bytes that decode to
 * the same state (whatever form the input had). */
static void assert_decoded_sane(const struct customer *b)
{
    struct customer again;
    uint8_t buf[CW_CUSTOMER_ENCODED_MAX];
    cr_assert_leq(b->n_complaints, CW_MAX_OPEN);
    cr_assert_leq(b->n_tickets, CW_MAX_OPEN);
    cr_assert_lt(b->tier, TIER__COUNT);
    cr_assert_leq(b->level, LEVEL_ALARM);
    cr_assert_lt(b->recent_pos, CW_RECENT_EVENT_IDS);
    cr_assert_leq(b->low_rating, 5);
    cr_assert_geq(b->low_last_ms, b->low_since_ms);
    cr_assert_geq(b->manager_last_ms, b->manager_since_ms);
    size_t n = customer_encode(b, buf, sizeof buf);
    cr_assert_gt(n, 0);
    cr_assert_eq(customer_decode(&again, b->id, buf, n), 0);
    assert_same(b, &again);
}

/* Flips a few bytes of the first `len` of `buf` (seeded), decodes an exact-size copy:
 * rejected, or a sane state. */
static void corrupt_and_decode(uint8_t *buf, size_t len, unsigned *seed)
{
    struct customer b;
    for (int k = 0; k < 3; k++) {
        *seed = *seed * 1103515245u + 12345u;
        buf[(*seed >> 8) % len] ^= (uint8_t)(*seed >> 20);
    }
    uint8_t *copy = malloc(len);
    cr_assert_not_null(copy);
    memcpy(copy, buf, len);
    int rc = customer_decode(&b, "z", copy, len);
    free(copy);
    cr_assert(rc == 0 || rc == -1);
    if (rc == 0)
        assert_decoded_sane(&b);
}

Test(customer, garbage_rejected)
{
    struct customer a, b;
    uint8_t buf[CW_CUSTOMER_ENCODED_MAX + 1];
    fill_rich(&a);
    size_t n = customer_encode(&a, buf, sizeof buf);

    buf[n] = 0; /* trailing byte */
    cr_assert_eq(customer_decode(&b, "x", buf, n + 1), -1);
    buf[0] = 6; /* unknown version */
    cr_assert_eq(customer_decode(&b, "x", buf, n), -1);
    buf[0] = 1; /* the version before the second milestone: rejected, state restarts */
    cr_assert_eq(customer_decode(&b, "x", buf, n), -1);
    buf[0] = 0;
    cr_assert_eq(customer_decode(&b, "x", buf, n), -1);
    buf[0] = 5;
    cr_assert_eq(customer_decode(&b, "x", buf, n), 0);
    /* tier and level share the second flags byte: 3 is neither */
    uint8_t more = buf[2];
    buf[2] = (uint8_t)(more | 0x03);
    cr_assert_eq(customer_decode(&b, "x", buf, n), -1, "tier 3");
    buf[2] = (uint8_t)(more | 0x0c);
    cr_assert_eq(customer_decode(&b, "x", buf, n), -1, "level 3");
    buf[2] = more;
    cr_assert_eq(customer_decode(&b, "x", buf, n), 0);

    /* version 4 bytes of fill_rich: the old decoder's checks */
    uint8_t old[sizeof golden_v4_rich + 1];
    memcpy(old, golden_v4_rich, sizeof golden_v4_rich);
    size_t on = sizeof golden_v4_rich;
    cr_assert_eq(customer_decode(&b, "x", old, on), 0);
    old[on] = 0;
    cr_assert_eq(customer_decode(&b, "x", old, on + 1), -1, "trailing byte");
    old[2] = TIER__COUNT; /* tier out of range */
    cr_assert_eq(customer_decode(&b, "x", old, on), -1);
    old[2] = TIER_STRATEGIC;
    /* versions 2 and 3 have no evidence after each active alert */
    old[0] = 3;
    cr_assert_eq(customer_decode(&b, "x", old, on), -1);
    old[0] = 2;
    cr_assert_eq(customer_decode(&b, "x", old, on), -1);
    /* without the evidence, version 3 reads the same bytes; 2 had no flag bit 7 */
    cr_assert_eq(customer_decode(&b, "x", golden_v3_rich, sizeof golden_v3_rich), 0);
    memcpy(old, golden_v3_rich, sizeof golden_v3_rich);
    old[0] = 2;
    cr_assert_eq(customer_decode(&b, "x", old, sizeof golden_v3_rich), -1, "version 2, bit 7");
    old[1] &= 0x7f;
    cr_assert_eq(customer_decode(&b, "x", old, sizeof golden_v3_rich), 0);
    cr_assert_eq(b.tier_set, 1, "version 2: a tier other than standard was set by an event");

    /* an over-long varint: 11 continuation bytes (order_count of version 2, last_event_ms
     * of version 5) */
    uint8_t bad[16] = {2, 0, 0};
    memset(bad + 3, 0xff, 11);
    cr_assert_eq(customer_decode(&b, "x", bad, 14), -1);
    bad[0] = 5;
    cr_assert_eq(customer_decode(&b, "x", bad, 14), -1);

    /* too many open complaints */
    struct customer c;
    customer_init(&c, "y");
    c.n_complaints = 1;
    c.complaints[0].id_hash = 5;
    size_t m = customer_encode(&c, buf, sizeof buf);
    size_t count_at = 4; /* version, flags, flags, last_event_ms 0 */
    cr_assert_eq(buf[1], 0x02, "only the complaints flag");
    cr_assert_eq(buf[count_at], 1);
    buf[count_at] = CW_MAX_OPEN + 1;
    cr_assert_eq(customer_decode(&b, "y", buf, m), -1);
    buf[count_at] = 0;
    cr_assert_eq(customer_decode(&b, "y", buf, m), -1);

    /* random corruptions of valid encodings, current and old: never a crash, and what is
     * accepted is a sane state */
    unsigned seed = 12345;
    for (int round = 0; round < 3000; round++) {
        fill_rich(&a);
        n = customer_encode(&a, buf, sizeof buf);
        seed = seed * 1103515245u + 12345u;
        corrupt_and_decode(buf, 1 + (seed >> 8) % n, &seed);
        const uint8_t *g = round % 3 == 0 ? golden_v4_rich
                           : round % 3 == 1 ? golden_v4_sim : golden_v2_rich;
        size_t gn = round % 3 == 0 ? sizeof golden_v4_rich
                    : round % 3 == 1 ? sizeof golden_v4_sim : sizeof golden_v2_rich;
        memcpy(buf, g, gn);
        seed = seed * 1103515245u + 12345u;
        corrupt_and_decode(buf, 1 + (seed >> 8) % gn, &seed);
    }
    /* random bytes after each version byte */
    for (int round = 0; round < 3000; round++) {
        size_t len = 1 + (size_t)round % 64;
        for (size_t i = 1; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (uint8_t)(seed >> 16);
        }
        buf[0] = (uint8_t)(2 + round % 4);
        corrupt_and_decode(buf, len, &seed);
    }
}

/* The parts of the encoding are checked on decoding. */
Test(customer, parts_validated)
{
    struct customer a, b;
    uint8_t buf[CW_CUSTOMER_ENCODED_MAX];
    size_t n;
    const size_t at = 4; /* version, flags, flags, last_event_ms 0 */

    /* a low rating must be 1..5: find the byte after the flags-selected parts by
     * encoding a customer with only that part */
    customer_init(&a, "v");
    a.low_rating = 1;
    a.low_since_ms = 10;
    a.low_last_ms = 20;
    n = customer_encode(&a, buf, sizeof buf);
    cr_assert_eq(buf[1], 0x20, "only the low-rating flag");
    cr_assert_eq(buf[at], 1);
    cr_assert_eq(customer_decode(&b, "v", buf, n), 0);
    cr_assert_eq(b.low_last_ms, 20);
    buf[at] = 6;
    cr_assert_eq(customer_decode(&b, "v", buf, n), -1);
    buf[at] = 0;
    cr_assert_eq(customer_decode(&b, "v", buf, n), -1);

    /* spend: a bucket mask beyond CW_SPEND_BUCKETS, or an empty bucket written */
    customer_init(&a, "w");
    a.spend_ms = 1000;
    a.spend[0] = 5;
    n = customer_encode(&a, buf, sizeof buf);
    cr_assert_eq(buf[1], 0x40);
    /* spend_ms - 0 is zigzag 2000: 2 bytes; then the mask (1: the week of spend_ms), then
     * the bucket (5) */
    cr_assert_eq(buf[at + 2], 1);
    cr_assert_eq(buf[at + 3], 5);
    cr_assert_eq(customer_decode(&b, "w", buf, n), 0);
    cr_assert_eq(b.spend[0], 5);
    buf[at + 3] = 0;
    cr_assert_eq(customer_decode(&b, "w", buf, n), -1, "an empty bucket is never written");
    buf[at + 3] = 5;
    uint8_t big[CW_CUSTOMER_ENCODED_MAX];
    memcpy(big, buf, at + 2);
    size_t m = at + 2;
    /* mask with bit CW_SPEND_BUCKETS set: varint of 1 << 52 */
    uint64_t mask = 1ull << CW_SPEND_BUCKETS;
    while (mask >= 0x80) {
        big[m++] = (uint8_t)(mask | 0x80);
        mask >>= 7;
    }
    big[m++] = (uint8_t)mask;
    memcpy(big + m, buf + at + 3, n - (at + 3));
    m += n - (at + 3);
    cr_assert_eq(customer_decode(&b, "w", big, m), -1);

    /* the spend mask counts weeks back from that of spend_ms, whatever their slots */
    customer_init(&a, "s");
    a.spend_ms = 1700000000000LL;
    int64_t top = cw_week_of(a.spend_ms);
    a.spend[customer_spend_slot(top)] = 1;
    a.spend[customer_spend_slot(top - 1)] = 2;
    a.spend[customer_spend_slot(top - CW_SPEND_BUCKETS + 1)] = 3;
    a.last_event_ms = a.spend_ms;
    n = customer_encode(&a, buf, sizeof buf);
    /* spend_ms - last_event_ms is 0: one byte; the mask: bits 0, 1 and 51 */
    uint8_t want_mask[] = {0x83, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x04, 1, 2, 3};
    cr_assert_eq(n, 3 + 6 + 1 + sizeof want_mask, "%zu bytes", n);
    cr_assert(memcmp(buf + 3 + 6 + 1, want_mask, sizeof want_mask) == 0);
    cr_assert_eq(customer_decode(&b, "s", buf, n), 0);
    assert_same(&a, &b);

    /* the level has memory (hysteresis): kept, in bits 2-3 of the second flags byte */
    customer_init(&a, "l");
    a.level = LEVEL_ALARM;
    a.score = 10;
    n = customer_encode(&a, buf, sizeof buf);
    cr_assert_eq(customer_decode(&b, "l", buf, n), 0);
    cr_assert_eq(b.level, LEVEL_ALARM);
    cr_assert_eq(buf[2], LEVEL_ALARM << 2 | 0x40, "level, and the risk (score 10) follows");
}

/* Numbers (total_spend, evidence, score): whole cents and sums of cents in 1-5 bytes,
 * anything else in 9, every value bit for bit. */
Test(customer, numbers_exact)
{
    static const struct {
        double d;
        size_t bytes; /* of the number */
    } cases[] = {
        {0.01, 1},      {0.5, 1},         {1, 2},        {20, 2},       {49.99, 2},
        {385.61, 3},    {98765.43, 4},    {0.1 + 0.2, 1 + 1}, /* 30 cents, 1 ulp off */
        {27525.600000000002, 4 + 1},      {1e13 - 0.01, 8},
        {0.123456789, 9}, {-1, 9},        {-0.0, 9},     {1e300, 9},    {INFINITY, 9},
        {NAN, 9},       {4.9e-324, 1 + 1}, /* 0 cents, 1 ulp off */
        {1e14, 9}, /* 2^53 cents and more: raw */
    };
    struct customer a, b;
    uint8_t buf[CW_CUSTOMER_ENCODED_MAX];
    customer_init(&a, "n");
    a.order_count = 1;
    size_t base = customer_encode(&a, buf, sizeof buf) - 1; /* total_spend 0: 1 byte */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        a.total_spend = cases[i].d;
        size_t n = customer_encode(&a, buf, sizeof buf);
        cr_assert_eq(customer_decode(&b, "n", buf, n), 0, "case %zu", i);
        cr_assert(memcmp(&a.total_spend, &b.total_spend, sizeof(double)) == 0, "case %zu: %.17g",
                  i, cases[i].d);
        cr_assert_eq(n - base, cases[i].bytes, "case %zu (%.17g): %zu bytes", i, cases[i].d,
                     n - base);
    }
    /* sums of random amounts in cents, as total_spend adds them up: exact, and compact
     * while orders only add up (a few ulps from whole cents); with cancellations a sum
     * that falls back near 0 can keep an error of many of its ulps, then it takes 9 */
    for (int cancels = 0; cancels < 2; cancels++) {
        unsigned seed = 99;
        double sum = 0;
        int compact = 0;
        for (int i = 0; i < 20000; i++) {
            seed = seed * 1103515245u + 12345u;
            double amount = (double)((seed >> 8) % 100000) / 100.0;
            sum = !cancels || (seed & 1) || sum < amount ? sum + amount : sum - amount;
            a.total_spend = sum;
            size_t n = customer_encode(&a, buf, sizeof buf);
            cr_assert_eq(customer_decode(&b, "n", buf, n), 0);
            cr_assert(memcmp(&a.total_spend, &b.total_spend, sizeof(double)) == 0, "%.17g", sum);
            compact += n - base < 9;
        }
        if (!cancels)
            cr_assert_eq(compact, 20000, "every sum of orders in cents and an offset");
        else
            cr_assert_geq(compact, 19900, "%d of 20000 sums with cancellations compact", compact);
    }

    /* malformed numbers (total_spend of a customer with orders) */
    customer_init(&a, "m");
    a.order_count = 1;
    const size_t at = 4 + 3; /* version, flags, flags, last_event_ms 0, count, 2 times */
    size_t n = customer_encode(&a, buf, sizeof buf);
    cr_assert_eq(n, at + 1);
    cr_assert_eq(buf[at], 1, "0 cents");
    cr_assert_eq(customer_decode(&b, "m", buf, n), 0);
    buf[at] = 2; /* an offset follows, but there is none */
    cr_assert_eq(customer_decode(&b, "m", buf, n), -1);
    buf[n] = 0; /* an offset of 0 is never written */
    cr_assert_eq(customer_decode(&b, "m", buf, n + 1), -1);
    buf[n] = 1; /* 0 cents, one ulp down: negative */
    cr_assert_eq(customer_decode(&b, "m", buf, n + 1), -1);
    buf[n] = 2; /* 0 cents, one ulp up: the smallest subnormal */
    cr_assert_eq(customer_decode(&b, "m", buf, n + 1), 0);
    cr_assert_eq(b.total_spend, 4.9e-324);
    /* 65535 ulps is the limit: zigzag 131070 = 0xfe 0xff 0x07, 65536 = 0x80 0x80 0x08 */
    memcpy(buf + n, (uint8_t[]){0xfe, 0xff, 0x07}, 3);
    cr_assert_eq(customer_decode(&b, "m", buf, n + 3), 0);
    memcpy(buf + n, (uint8_t[]){0x80, 0x80, 0x08}, 3);
    cr_assert_eq(customer_decode(&b, "m", buf, n + 3), -1);
    /* 2^53 cents: varint of 2^54 + 1 */
    uint64_t v = (1ull << 54) + 1;
    size_t m = at;
    while (v >= 0x80) {
        buf[m++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    buf[m++] = (uint8_t)v;
    cr_assert_eq(customer_decode(&b, "m", buf, m), -1);
}

/* Which slots of the recent event ids hold one: the ring before it wrapped, all of them,
 * or any other set (then a mask byte follows). */
Test(customer, recent_ids_forms)
{
    struct customer a, b;
    uint8_t buf[CW_CUSTOMER_ENCODED_MAX];
    const size_t at = 4; /* version, flags, flags, last_event_ms 0 */
    static const struct {
        uint8_t mask, pos, head;
        size_t bytes;
    } cases[] = {
        {0x07, 3, 3, 1 + 3 * 8},             /* slots 0..2, next is 3 */
        {0xff, 5, 5 | 1 << 3, 1 + 8 * 8},    /* full */
        {0x89, 4, 4 | 2 << 3, 2 + 3 * 8},    /* slots 0, 3, 7 */
        {0x07, 0, 0 | 2 << 3, 2 + 3 * 8},    /* slots 0..2 but next is 0 */
        {0x01, 0, 0 | 2 << 3, 2 + 8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        customer_init(&a, "r");
        for (int s = 0; s < CW_RECENT_EVENT_IDS; s++)
            if (cases[i].mask & (1u << s))
                a.recent_ids[s] = 100 + (uint64_t)s;
        a.recent_pos = cases[i].pos;
        size_t n = customer_encode(&a, buf, sizeof buf);
        cr_assert_eq(buf[at], cases[i].head, "case %zu", i);
        cr_assert_eq(n - at, cases[i].bytes, "case %zu", i);
        cr_assert_eq(customer_decode(&b, "r", buf, n), 0, "case %zu", i);
        assert_same(&a, &b);
    }
    /* slots 0..2 (3 ids follow): other heads are rejected */
    customer_init(&a, "r");
    a.recent_ids[0] = a.recent_ids[1] = a.recent_ids[2] = 7;
    a.recent_pos = 3;
    size_t n = customer_encode(&a, buf, sizeof buf);
    buf[at] = 3 | 3 << 3; /* no such form */
    cr_assert_eq(customer_decode(&b, "r", buf, n), -1);
    buf[at] = 3 | 4 << 3;
    cr_assert_eq(customer_decode(&b, "r", buf, n), -1);
    buf[at] = 0; /* slots 0 .. -1: none */
    cr_assert_eq(customer_decode(&b, "r", buf, n), -1);
    buf[at] = 2; /* slots 0..1: an id too many */
    cr_assert_eq(customer_decode(&b, "r", buf, n), -1);
    buf[at] = 3;
    cr_assert_eq(customer_decode(&b, "r", buf, n), 0);
}

/* ---- states written by earlier releases (customer_golden.h): read, and upgraded ---- */

/* Decodes `len` golden bytes (from an exact-size heap copy, so ASan catches any read past
 * the end) into *out, and checks that every shorter prefix is rejected and that the state
 * encodes, in the current version, to bytes that decode to the same state. */
static void decode_old(const uint8_t *bytes, size_t len, const char *id, struct customer *out)
{
    struct customer again;
    uint8_t buf[CW_CUSTOMER_ENCODED_MAX];
    for (size_t cut = 0; cut <= len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        cr_assert_not_null(copy);
        memcpy(copy, bytes, cut);
        int rc = customer_decode(cut == len ? out : &again, id, copy, cut);
        free(copy);
        if (cut < len)
            cr_assert_eq(rc, -1, "version %u: %zu of %zu bytes accepted", bytes[0], cut, len);
        else
            cr_assert_eq(rc, 0, "version %u: golden bytes rejected", bytes[0]);
    }
    size_t n = customer_encode(out, buf, sizeof buf);
    cr_assert_gt(n, 0);
    cr_assert_eq(customer_decode(&again, id, buf, n), 0);
    assert_same(out, &again);
}

static size_t encoded_size(const struct customer *c)
{
    uint8_t buf[CW_CUSTOMER_ENCODED_MAX];
    return customer_encode(c, buf, sizeof buf);
}

/* fill_rich as versions 2 and 3 stored it: no evidence with the active alerts */
static void fill_rich_without_evidence(struct customer *c)
{
    fill_rich(c);
    for (int r = 0; r < RULE__COUNT; r++)
        if (c->alerts[r].active)
            c->alerts[r].ev_value = c->alerts[r].ev_threshold = c->alerts[r].ev_baseline = NAN;
}

Test(customer_versions, rich_state_of_each_version)
{
    struct customer want, got;
    fill_rich(&want);
    decode_old(golden_v4_rich, sizeof golden_v4_rich, want.id, &got);
    assert_same(&want, &got);
    fill_rich_without_evidence(&want);
    decode_old(golden_v3_rich, sizeof golden_v3_rich, want.id, &got);
    assert_same(&want, &got);
    /* version 2 had no flag for an event-set tier: strategic counts as set (fill_rich's) */
    decode_old(golden_v2_rich, sizeof golden_v2_rich, want.id, &got);
    assert_same(&want, &got);
}

Test(customer_versions, real_states_of_version_4)
{
    struct customer c;
    uint64_t bits;

    /* one open ticket, nothing else: the bench's 1 M phase */
    decode_old(golden_v4_ticket, sizeof golden_v4_ticket, "b0000001", &c);
    cr_assert_eq(c.tier, TIER_STANDARD);
    cr_assert_eq(c.tier_set, 0);
    cr_assert_eq(c.order_count, 0);
    cr_assert_eq(c.total_spend, 0);
    cr_assert_eq(c.last_event_ms, 1704067200000LL);
    cr_assert_eq(c.n_tickets, 1);
    cr_assert_eq(c.tickets[0].id_hash, 14119417576425264594ULL);
    cr_assert_eq(c.tickets[0].opened_ms, 1704067200000LL);
    cr_assert_eq(c.tickets[0].replied, 0);
    cr_assert_eq(c.recent_pos, 1);
    cr_assert_eq(c.recent_ids[0], 8542187575194000147ULL);
    cr_assert_eq(c.recent_ids[1], 0);
    cr_assert_eq(c.level, LEVEL_OK);
    cr_assert_eq(c.next_due_ms, 1704240000001LL);
    /* Redis keeps a value of at most 44 bytes in one allocation with its object header
     * (embstr): version 5 takes 34 (version, 2 flags, last event 6, ticket 11, recent id
     * 9, next due 5) */
    cr_assert_eq(encoded_size(&c), 34);

    /* a simulator customer: orders, a manager, an open ticket, an active alert */
    decode_old(golden_v4_sim, sizeof golden_v4_sim, "c011116", &c);
    cr_assert_eq(c.tier, TIER_KEY);
    cr_assert_eq(c.tier_set, 1);
    cr_assert_eq(c.order_count, 25);
    cr_assert_eq(c.first_order_ms, 1672566659000LL);
    cr_assert_eq(c.last_order_ms, 1681517016000LL);
    cr_assert_eq(c.last_event_ms, 1681517016000LL);
    memcpy(&bits, &c.total_spend, sizeof bits);
    cr_assert_eq(bits, 0x40dae16666666667ULL, "27525.600000000002, not whole cents");
    cr_assert_eq(c.manager_hash, 5144248973324574118ULL);
    cr_assert_eq(c.n_tickets, 1);
    cr_assert_eq(c.tickets[0].id_hash, 17993990636867062805ULL);
    cr_assert_eq(c.tickets[0].opened_ms, 1680822491000LL);
    cr_assert_eq(c.recent_pos, 7);
    cr_assert_eq(c.recent_ids[0], 15178916432718958186ULL);
    cr_assert_eq(c.spend_ms, 1681517016000LL);
    cr_assert_eq(c.spend[9], 70889);
    cr_assert_eq(c.spend[16], 0);
    cr_assert_eq(c.spend[24], 132740);
    const struct alert_state *a = &c.alerts[RULE_SUPPORT_UNANSWERED];
    cr_assert_eq(a->active, 1);
    cr_assert_eq(a->started_ms, 1680995291000LL);
    cr_assert_eq(a->last_sent_ms, 1681600091000LL);
    cr_assert_eq(a->repeats, 1);
    cr_assert(a->ev_value == 216 && a->ev_threshold == 48 && a->ev_baseline == 0);
    cr_assert_eq(c.score, 20);
    cr_assert_eq(c.level, LEVEL_WATCH);
    cr_assert_eq(c.next_due_ms, 1682204891001LL);
    cr_assert_lt(encoded_size(&c), sizeof golden_v4_sim - 40, "%zu bytes", encoded_size(&c));

    /* a CDNOW customer: a year of orders, an active order_gap alert, no timer */
    decode_old(golden_v4_cdnow, sizeof golden_v4_cdnow, "c00005", &c);
    cr_assert_eq(c.order_count, 11);
    cr_assert_eq(c.first_order_ms, 852120000000LL);
    cr_assert_eq(c.last_order_ms, 883828800000LL);
    memcpy(&bits, &c.total_spend, sizeof bits);
    cr_assert_eq(bits, 0x407819c28f5c28f4ULL, "385.6099999999999");
    cr_assert_eq(c.manager_hash, 0);
    cr_assert_eq(c.recent_pos, 3);
    cr_assert_eq(c.recent_ids[1], 1635884915046740899ULL);
    cr_assert_eq(c.spend[1], 4646);
    cr_assert_eq(c.spend[41], 4047);
    a = &c.alerts[RULE_ORDER_GAP];
    cr_assert_eq(a->active, 1);
    cr_assert_eq(a->started_ms, 894196800000LL);
    cr_assert_eq(a->last_sent_ms, 894196800000LL);
    cr_assert(a->ev_value == 120 && a->ev_threshold == 120 && a->ev_baseline == 36.7);
    cr_assert_eq(c.score, 30);
    cr_assert_eq(c.next_due_ms, CW_NO_DUE);
    cr_assert_lt(encoded_size(&c), sizeof golden_v4_cdnow - 40, "%zu bytes", encoded_size(&c));
}

Test(customer, hash64)
{
    uint64_t a = cw_hash64("abc", 3, 0);
    cr_assert_eq(a, cw_hash64("abc", 3, 0), "deterministic");
    cr_assert_neq(a, cw_hash64("abc", 3, 1), "seed matters");
    cr_assert_neq(a, cw_hash64("abd", 3, 0));
    cr_assert_neq(cw_hash64("", 0, 0), cw_hash64("", 0, 7));
    char s[16];
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(s, sizeof s, "%d", i);
        cr_assert_neq(cw_hash64(s, (size_t)n, (uint64_t)i), 0);
    }
}

/* ---- customer_table ---- */

struct collect {
    char ids[64][CW_ID_MAX + 1];
    int n;
};

static void collect_fn(void *ctx, struct customer *c)
{
    struct collect *col = ctx;
    if (col->n < 64)
        snprintf(col->ids[col->n++], sizeof col->ids[0], "%s", c->id);
}

Test(customer_table, upsert_find_remove_grow)
{
    struct customer_table *t = customer_table_new();
    cr_assert_not_null(t);
    char id[32];
    bool created;
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "c%d", i);
        struct customer *c = customer_table_upsert(t, id, &created);
        cr_assert_not_null(c);
        cr_assert(created);
        cr_assert_str_eq(c->id, id);
        c->order_count = (uint32_t)i;
    }
    cr_assert_eq(customer_table_count(t), 5000);
    struct customer *c7 = customer_table_upsert(t, "c7", &created);
    cr_assert(!created);
    cr_assert_eq(c7->order_count, 7);
    for (int i = 0; i < 5000; i += 2) {
        snprintf(id, sizeof id, "c%d", i);
        customer_table_remove(t, id);
    }
    customer_table_remove(t, "absent");
    cr_assert_eq(customer_table_count(t), 2500);
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "c%d", i);
        struct customer *c = customer_table_find(t, id);
        if (i % 2 == 0) {
            cr_assert_null(c, "%s still there", id);
        } else {
            cr_assert_not_null(c, "%s lost", id);
            cr_assert_eq(c->order_count, (uint32_t)i);
        }
    }
    cr_assert_eq(customer_table_find(t, "c7"), c7, "pointers stay valid");
    customer_table_free(t);
    customer_table_free(NULL);
}

Test(customer_table, deterministic_iteration)
{
    struct collect a = {0}, b = {0};
    for (int run = 0; run < 2; run++) {
        struct customer_table *t = customer_table_new();
        const char *ids[] = {"zeta", "alpha", "mid", "beta", "omega", "kappa"};
        for (int i = 0; i < 6; i++)
            customer_table_upsert(t, ids[i], NULL);
        customer_table_remove(t, "alpha");
        customer_table_upsert(t, "gamma", NULL);
        customer_table_each(t, collect_fn, run ? (void *)&b : (void *)&a);
        customer_table_free(t);
    }
    cr_assert_eq(a.n, 6);
    cr_assert_eq(b.n, 6);
    for (int i = 0; i < a.n; i++)
        cr_assert_str_eq(a.ids[i], b.ids[i]);
    cr_assert_str_eq(a.ids[0], "zeta", "insertion order");
}

/* ---- due_queue ---- */

static bool even_due(void *ctx, const struct due_entry *e)
{
    (void)ctx;
    return e->due_ms % 2 == 0;
}

Test(due_queue, order_and_ties)
{
    struct due_queue q;
    due_queue_init(&q);
    cr_assert_eq(due_queue_push(&q, 30, "b", NULL), 0);
    due_queue_push(&q, 10, "z", NULL);
    due_queue_push(&q, 30, "a", NULL);
    due_queue_push(&q, 20, "m", NULL);
    due_queue_push(&q, 10, "c", NULL);
    const char *want_id[] = {"c", "z", "m", "a", "b"};
    int64_t want_due[] = {10, 10, 20, 30, 30};
    struct due_entry e;
    cr_assert(due_queue_peek(&q, &e));
    cr_assert_eq(e.due_ms, 10);
    for (int i = 0; i < 5; i++) {
        cr_assert(due_queue_pop(&q, &e));
        cr_assert_eq(e.due_ms, want_due[i]);
        cr_assert_str_eq(e.id, want_id[i]);
    }
    cr_assert(!due_queue_pop(&q, &e));
    cr_assert(!due_queue_peek(&q, &e));
    due_queue_free(&q);
}

Test(due_queue, many_and_compact)
{
    static char ids[1000][12];
    struct due_queue q;
    due_queue_init(&q);
    unsigned seed = 7;
    for (int i = 0; i < 1000; i++) {
        snprintf(ids[i], sizeof ids[i], "%d", i);
        seed = seed * 1103515245u + 12345u;
        cr_assert_eq(due_queue_push(&q, (seed >> 8) % 500, ids[i], NULL), 0);
    }
    due_queue_compact(&q, even_due, NULL);
    size_t n = due_queue_size(&q);
    cr_assert_gt(n, 0);
    cr_assert_lt(n, 1000);
    struct due_entry prev = {-1, "", NULL}, e;
    size_t popped = 0;
    while (due_queue_pop(&q, &e)) {
        cr_assert_eq(e.due_ms % 2, 0);
        cr_assert(e.due_ms > prev.due_ms ||
                  (e.due_ms == prev.due_ms && strcmp(e.id, prev.id) >= 0));
        prev = e;
        popped++;
    }
    cr_assert_eq(popped, n);
    due_queue_free(&q);
}
