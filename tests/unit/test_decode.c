/* test_decode.c — decode_event, decode_rfc3339 and format_rfc3339 (suite "decode"). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "decode.h"
#include "event.h"

#define MAX_BYTES 65536

#define S10 "0123456789"
#define ID128 S10 S10 S10 S10 S10 S10 S10 S10 S10 S10 S10 S10 "abcdefgh"
#define ID129 ID128 "x"
#define TEXT70 S10 S10 S10 S10 S10 S10 S10
#define E10 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
#define E40 E10 E10 E10 E10 /* 40 x U+00E9, 80 bytes */
#define E31 E10 E10 E10 "\xc3\xa9"

enum topic_kind {
    TOPIC_DEFAULT, /* every field at /<name>, type from /type */
    TOPIC_NESTED,  /* /customer/id, /meta/time, /meta/kind, /lines/0/total, ...; no currency */
    TOPIC_ORDERS,  /* default mapping, type fixed to "order" */
};

/* Replaces p's tokens with those of the JSON pointer `path` ("/a/b", ~0 and ~1 unescaped);
 * "" unmaps the field. */
static void set_pointer(struct json_pointer *p, const char *path)
{
    json_pointer_clear(p);
    bool oom = false;
    if (*path != '\0')
        cr_assert_null(json_pointer_parse(path, p, &oom), "pointer %s", path);
}

static void topic_build(enum topic_kind kind, struct topic_config *t)
{
    cr_assert_eq(topic_config_init_default(t, "test"), 0);
    if (kind == TOPIC_ORDERS)
        t->fixed_type = EV_ORDER;
    if (kind == TOPIC_NESTED) {
        set_pointer(&t->field[F_CUSTOMER_ID], "/customer/id");
        set_pointer(&t->field[F_TS], "/meta/time");
        set_pointer(&t->field[F_TYPE], "/meta/kind");
        set_pointer(&t->field[F_EVENT_ID], "/meta/id");
        set_pointer(&t->field[F_ORDER_ID], "/lines/0/order");
        set_pointer(&t->field[F_AMOUNT], "/lines/0/total");
        set_pointer(&t->field[F_TICKET_ID], "/a~1b/t~0id");
        set_pointer(&t->field[F_CURRENCY], "");
    }
}

/* An exact-size heap copy, so ASan flags any read past buf[len-1]. Caller frees. */
static char *exact_copy(const char *s, size_t len)
{
    char *p = malloc(len ? len : 1);
    cr_assert_not_null(p);
    memcpy(p, s, len);
    return p;
}

static int decode_copy(enum topic_kind kind, size_t max, const char *json, size_t len,
                       struct event *ev, enum reject_reason *why, char *err, size_t err_len)
{
    struct topic_config t;
    topic_build(kind, &t);
    char *buf = exact_copy(json, len);
    int rc = decode_event(&t, max, buf, len, ev, why, err, err_len);
    free(buf);
    topic_config_clear(&t);
    return rc;
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

/* ------------------------------------------------------------------ good messages */

struct good_case {
    enum topic_kind topic;
    const char *json;
    enum event_type type;
    int64_t ts_ms;
    const char *customer_id, *event_id, *ref_id;
    double amount;
    enum severity severity;
    int satisfaction;
    const char *tier; /* NULL: expect -1 */
    const char *currency, *category, *channel, *account_manager, *name;
    int has_account_manager;
};

static struct good_case good_cases[] = {
    {.json = "{\"type\":\"order\",\"customer_id\":\"c-1\",\"ts\":\"1997-01-01T00:00:00Z\","
             "\"event_id\":\"e-1\",\"order_id\":\"o-1\",\"amount\":12.5,\"currency\":\"EUR\"}",
     .type = EV_ORDER,
     .ts_ms = 852076800000,
     .customer_id = "c-1",
     .event_id = "e-1",
     .ref_id = "o-1",
     .amount = 12.5,
     .currency = "EUR"},
    /* epoch ms, no currency, extra fields ignored, trailing newline */
    {.json = "{\"ts\":852076800123,\"order_id\":\"o-2\",\"customer_id\":\"c-2\",\"amount\":0,"
             "\"type\":\"order\",\"extra\":{\"x\":[1,2,3]}}\n",
     .type = EV_ORDER,
     .ts_ms = 852076800123,
     .customer_id = "c-2",
     .ref_id = "o-2"},
    {.json = "{\"type\":\"order.cancelled\",\"customer_id\":\"c-3\",\"ts\":\"2021-03-04T10:15:30+"
             "05:30\","
             "\"order_id\":\"o-3\",\"amount\":7}",
     .type = EV_ORDER_CANCELLED,
     .ts_ms = 1614833130000,
     .customer_id = "c-3",
     .ref_id = "o-3",
     .amount = 7},
    {.json =
         "{\"type\":\"complaint.opened\",\"customer_id\":\"c-4\",\"ts\":\"2023-05-06T07:08:09.5Z\","
         "\"complaint_id\":\"k-4\",\"severity\":\"critical\",\"category\":\"delivery\"}",
     .type = EV_COMPLAINT_OPENED,
     .ts_ms = 1683356889500,
     .customer_id = "c-4",
     .ref_id = "k-4",
     .severity = SEV_CRITICAL,
     .category = "delivery"},
    /* severity optional; null counts as absent */
    {.json = "{\"type\":\"complaint.opened\",\"customer_id\":\"c-5\",\"ts\":0,"
             "\"complaint_id\":\"k-5\",\"severity\":null,\"event_id\":null}",
     .type = EV_COMPLAINT_OPENED,
     .ts_ms = 0,
     .customer_id = "c-5",
     .ref_id = "k-5"},
    {.json =
         "{\"type\":\"complaint.resolved\",\"customer_id\":\"c-6\",\"ts\":\"2000-02-29t12:00:00z\","
         "\"complaint_id\":\"k-5\"}",
     .type = EV_COMPLAINT_RESOLVED,
     .ts_ms = 951825600000,
     .customer_id = "c-6",
     .ref_id = "k-5"},
    {.json = "{\"type\":\"complaint.reopened\",\"customer_id\":\"c-7\",\"ts\":\"2019-11-30 "
             "23:15:00-08:00\","
             "\"complaint_id\":\"k-7\"}",
     .type = EV_COMPLAINT_REOPENED,
     .ts_ms = 1575184500000,
     .customer_id = "c-7",
     .ref_id = "k-7"},
    {.json = "{\"type\":\"support.opened\",\"customer_id\":\"c-8\",\"ts\":\"2024-02-29T23:59:59."
             "123456789Z\","
             "\"ticket_id\":\"t-8\",\"channel\":\"email\"}",
     .type = EV_SUPPORT_OPENED,
     .ts_ms = 1709251199123,
     .customer_id = "c-8",
     .ref_id = "t-8",
     .channel = "email"},
    {.json = "{\"type\":\"support.replied\",\"customer_id\":\"c-9\",\"ts\":\"2022-06-01T09:30:00-"
             "03:45\","
             "\"ticket_id\":\"t-8\"}",
     .type = EV_SUPPORT_REPLIED,
     .ts_ms = 1654089300000,
     .customer_id = "c-9",
     .ref_id = "t-8"},
    {.json = "{\"type\":\"support.closed\",\"customer_id\":\"c-10\",\"ts\":1654074000000,"
             "\"ticket_id\":\"t-10\",\"satisfaction\":2}",
     .type = EV_SUPPORT_CLOSED,
     .ts_ms = 1654074000000,
     .customer_id = "c-10",
     .ref_id = "t-10",
     .satisfaction = 2},
    {.json =
         "{\"type\":\"support.closed\",\"customer_id\":\"c-11\",\"ts\":-1,\"ticket_id\":\"t-11\"}",
     .type = EV_SUPPORT_CLOSED,
     .ts_ms = -1,
     .customer_id = "c-11",
     .ref_id = "t-11"},
    {.json = "{\"type\":\"customer.unsubscribed\",\"customer_id\":\"c-12\",\"ts\":\"1999-01-01T00:"
             "00:00Z\"}",
     .type = EV_CUSTOMER_UNSUBSCRIBED,
     .ts_ms = 915148800000,
     .customer_id = "c-12"},
    {.json = "{\"type\":\"customer.updated\",\"customer_id\":\"c-13\",\"ts\":0,\"tier\":\"key\","
             "\"account_manager\":\"Ann\",\"name\":\"ACME GmbH\"}",
     .type = EV_CUSTOMER_UPDATED,
     .customer_id = "c-13",
     .tier = "key",
     .account_manager = "Ann",
     .name = "ACME GmbH",
     .has_account_manager = 1},
    /* null manager = "no manager" */
    {.json =
         "{\"type\":\"customer.updated\",\"customer_id\":\"c-14\",\"ts\":0,\"tier\":\"strategic\","
         "\"account_manager\":null}",
     .type = EV_CUSTOMER_UPDATED,
     .customer_id = "c-14",
     .tier = "strategic",
     .has_account_manager = 1},
    {.json = "{\"type\":\"customer.updated\",\"customer_id\":\"c-15\",\"ts\":0}",
     .type = EV_CUSTOMER_UPDATED,
     .customer_id = "c-15"},
    /* nested mapping, array index, escaped pointer tokens; currency is unmapped */
    {.topic = TOPIC_NESTED,
     .json =
         "{\"meta\":{\"kind\":\"order\",\"time\":\"2000-02-29T12:00:00+02:00\",\"id\":\"e-16\"},"
         "\"customer\":{\"id\":\"c-16\"},\"currency\":\"USD\","
         "\"lines\":[{\"order\":\"o-16\",\"total\":99.25},{\"order\":\"o-x\",\"total\":1}]}",
     .type = EV_ORDER,
     .ts_ms = 951818400000,
     .customer_id = "c-16",
     .event_id = "e-16",
     .ref_id = "o-16",
     .amount = 99.25},
    {.topic = TOPIC_NESTED,
     .json = "{\"meta\":{\"kind\":\"support.replied\",\"time\":5},\"customer\":{\"id\":\"c-17\"},"
             "\"a/b\":{\"t~id\":\"t-17\"}}",
     .type = EV_SUPPORT_REPLIED,
     .ts_ms = 5,
     .customer_id = "c-17",
     .ref_id = "t-17"},
    /* fixed type: no type field needed, and a type field is ignored */
    {.topic = TOPIC_ORDERS,
     .json = "{\"customer_id\":\"c-18\",\"ts\":\"1997-01-01T00:00:00Z\",\"order_id\":\"o-18\","
             "\"amount\":3}",
     .type = EV_ORDER,
     .ts_ms = 852076800000,
     .customer_id = "c-18",
     .ref_id = "o-18",
     .amount = 3},
    {.topic = TOPIC_ORDERS,
     .json = "{\"type\":\"bogus\",\"customer_id\":\"c-19\",\"ts\":1,\"order_id\":\"o-19\","
             "\"amount\":1e2}",
     .type = EV_ORDER,
     .ts_ms = 1,
     .customer_id = "c-19",
     .ref_id = "o-19",
     .amount = 100},
    /* limits: 128-byte ids, text truncated at 63 bytes / at a UTF-8 boundary */
    {.json = "{\"type\":\"complaint.opened\",\"customer_id\":\"" ID128
             "\",\"ts\":0,\"complaint_id\":\"" ID128 "\",\"event_id\":\"" ID128
             "\",\"category\":\"" TEXT70 "\",\"severity\":\"low\"}",
     .type = EV_COMPLAINT_OPENED,
     .customer_id = ID128,
     .event_id = ID128,
     .ref_id = ID128,
     .severity = SEV_LOW,
     .category = S10 S10 S10 S10 S10 S10 "012"},
    {.json =
         "{\"type\":\"customer.updated\",\"customer_id\":\"c-21\",\"ts\":0,\"name\":\"" E40 "\"}",
     .type = EV_CUSTOMER_UPDATED,
     .customer_id = "c-21",
     .name = E31},
    /* duplicate keys: the first wins; escapes decoded; whitespace around */
    {.json = "  {\"customer_id\":\"c\\u00e9\",\"customer_id\":\"second\",\"type\":\"order\","
             "\"ts\":\"1997-01-01T00:00:00.000+00:00\",\"order_id\":\"o\\\"q\",\"amount\":-0} \r\n",
     .type = EV_ORDER,
     .ts_ms = 852076800000,
     .customer_id = "c\xc3\xa9",
     .ref_id = "o\"q"},
    /* "\u0000" in a field we do not read, and in a key that must not match customer_id */
    {.json = "{\"note\":\"a\\u0000b\",\"customer_id\\u0000x\":\"evil\",\"customer_id\":\"c-23\","
             "\"type\":\"support.opened\",\"ts\":0,\"ticket_id\":\"t\\\\u0000\"}",
     .type = EV_SUPPORT_OPENED,
     .customer_id = "c-23",
     .ref_id = "t\\u0000"},
    {.json =
         "{\"type\":\"support.closed\",\"customer_id\":\"c-24\",\"ts\":\"1998-12-31T23:59:60Z\","
         "\"ticket_id\":\"t\",\"satisfaction\":5.0}",
     .type = EV_SUPPORT_CLOSED,
     .ts_ms = 915148800000,
     .customer_id = "c-24",
     .ref_id = "t",
     .satisfaction = 5},
};

#define N_GOOD (sizeof good_cases / sizeof good_cases[0])

/* Criterion runs each test in a fresh process (with its own address layout), so parameters
 * are indices into the table rather than structs holding pointers. */
ParameterizedTestParameters(decode, good_messages)
{
    static size_t idx[N_GOOD];
    for (size_t i = 0; i < N_GOOD; i++)
        idx[i] = i;
    return cr_make_param_array(size_t, idx, N_GOOD);
}

ParameterizedTest(size_t *i, decode, good_messages)
{
    const struct good_case *c = &good_cases[*i];
    struct event ev;
    enum reject_reason why = REJ__COUNT;
    char err[256] = "untouched";
    memset(&ev, 0xAA, sizeof ev);
    int rc = decode_copy(c->topic, MAX_BYTES, c->json, strlen(c->json), &ev, &why, err, sizeof err);
    cr_assert_eq(rc, 0, "rejected (%s: %s): %s", reject_reason_name(why), err, c->json);
    cr_assert_eq(why, REJ_NONE);
    cr_assert_str_empty(err);
    cr_expect_eq(ev.type, c->type);
    cr_expect_eq(ev.ts_ms, c->ts_ms, "ts %lld != %lld", (long long)ev.ts_ms, (long long)c->ts_ms);
    cr_expect_str_eq(ev.customer_id, str_or_empty(c->customer_id));
    cr_expect_str_eq(ev.event_id, str_or_empty(c->event_id));
    cr_expect_str_eq(ev.ref_id, str_or_empty(c->ref_id));
    cr_expect_eq(ev.amount, c->amount);
    cr_expect(!signbit(ev.amount));
    cr_expect_eq(ev.severity, c->severity);
    cr_expect_eq(ev.satisfaction, c->satisfaction);
    cr_expect_eq(ev.tier, c->tier ? tier_parse(c->tier) : -1);
    cr_expect_str_eq(ev.currency, str_or_empty(c->currency));
    cr_expect_str_eq(ev.category, str_or_empty(c->category));
    cr_expect_str_eq(ev.channel, str_or_empty(c->channel));
    cr_expect_str_eq(ev.account_manager, str_or_empty(c->account_manager));
    cr_expect_str_eq(ev.name, str_or_empty(c->name));
    cr_expect_eq(ev.has_account_manager, (unsigned)c->has_account_manager);
}

/* ------------------------------------------------------------------ bad messages */

struct bad_case {
    enum topic_kind topic;
    const char *json;
    size_t len; /* 0: strlen(json) */
    size_t max; /* 0: MAX_BYTES */
    enum reject_reason why;
    const char *err; /* expected substring of the message */
};

#define ORDER_HEAD "{\"type\":\"order\",\"customer_id\":\"c\",\"ts\":0,"
#define TS_MSG(ts) "{\"type\":\"customer.unsubscribed\",\"customer_id\":\"c\",\"ts\":" ts "}"

static struct bad_case bad_cases[] = {
    {.json = "{\"type\":\"order\",\"customer_id\":\"c",
     .why = REJ_INVALID_JSON,
     .err = "invalid JSON"},
    {.json = "[{\"type\":\"order\"}]",
     .why = REJ_INVALID_JSON,
     .err = "expected a JSON object, got an array"},
    {.json = "\"order\"", .why = REJ_INVALID_JSON, .err = "got a string"},
    {.json = "", .why = REJ_INVALID_JSON, .err = "empty"},
    {.json = "   \n", .why = REJ_INVALID_JSON, .err = "invalid JSON"},
    {.json = "{\"a\":1} x", .why = REJ_INVALID_JSON, .err = "trailing"},
    {.json = "{} {}", .why = REJ_INVALID_JSON, .err = "trailing"},
    {.json = "{\"a\":tru}", .why = REJ_INVALID_JSON, .err = "invalid JSON"},
    {.json = TS_MSG("0") "\0",
     .len = sizeof(TS_MSG("0")),
     .why = REJ_INVALID_JSON,
     .err = "NUL byte at offset 57"},
    {.json = "{\"customer_id\":\"a\0b\",\"type\":\"customer.unsubscribed\",\"ts\":0}",
     .len = 59,
     .why = REJ_INVALID_JSON,
     .err = "NUL byte at offset 17"},
    {.json = "{\"type\":\"customer.unsubscribed\",\"ts\":0}",
     .why = REJ_MISSING_FIELD,
     .err = "field /customer_id: missing"},
    {.json = "{\"type\":\"customer.unsubscribed\",\"customer_id\":null,\"ts\":0}",
     .why = REJ_MISSING_FIELD,
     .err = "field /customer_id: missing"},
    {.json = "{\"type\":\"customer.unsubscribed\",\"customer_id\":42,\"ts\":0}",
     .why = REJ_WRONG_TYPE,
     .err = "field /customer_id: expected a string, got a number"},
    {.json = "{\"type\":\"customer.unsubscribed\",\"customer_id\":\"" ID129 "\",\"ts\":0}",
     .why = REJ_BAD_VALUE,
     .err = "field /customer_id: too long"},
    {.json = "{\"type\":\"customer.unsubscribed\",\"customer_id\":\"\",\"ts\":0}",
     .why = REJ_BAD_VALUE,
     .err = "field /customer_id: empty"},
    {.json = "{\"type\":\"customer.unsubscribed\",\"customer_id\":\"ab\\u0000cd\",\"ts\":0}",
     .why = REJ_BAD_VALUE,
     .err = "field /customer_id: contains a NUL"},
    {.json = TS_MSG("\"2021-02-30T00:00:00Z\""),
     .why = REJ_BAD_TIMESTAMP,
     .err = "field /ts: expected RFC 3339"},
    {.json = TS_MSG("\"1900-02-29T00:00:00Z\""), .why = REJ_BAD_TIMESTAMP, .err = "field /ts"},
    {.json = TS_MSG("\"2021-01-01T25:00:00Z\""), .why = REJ_BAD_TIMESTAMP, .err = "field /ts"},
    {.json = TS_MSG("\"2021-01-01T10:00:00\""), .why = REJ_BAD_TIMESTAMP, .err = "field /ts"},
    {.json = TS_MSG("\"2021-01-01T10:00:00+24:00\""), .why = REJ_BAD_TIMESTAMP, .err = "field /ts"},
    {.json = TS_MSG("\"2021-01-01T10:00:00.1234567890Z\""),
     .why = REJ_BAD_TIMESTAMP,
     .err = "field /ts"},
    {.json = TS_MSG("\"yesterday\""), .why = REJ_BAD_TIMESTAMP, .err = "got \"yesterday\""},
    {.json = TS_MSG("true"), .why = REJ_BAD_TIMESTAMP, .err = "got a boolean"},
    {.json = TS_MSG("1.5"), .why = REJ_BAD_TIMESTAMP, .err = "epoch milliseconds"},
    {.json = TS_MSG("1e300"), .why = REJ_BAD_TIMESTAMP, .err = "epoch milliseconds"},
    {.json = "{\"type\":\"customer.unsubscribed\",\"customer_id\":\"c\"}",
     .why = REJ_MISSING_FIELD,
     .err = "field /ts: missing"},
    {.json = "{\"type\":\"order.shipped\",\"customer_id\":\"c\",\"ts\":0}",
     .why = REJ_UNKNOWN_TYPE,
     .err = "field /type: unknown event type \"order.shipped\""},
    {.json = "{\"customer_id\":\"c\",\"ts\":0}",
     .why = REJ_MISSING_FIELD,
     .err = "field /type: missing"},
    {.json = "{\"type\":7,\"customer_id\":\"c\",\"ts\":0}",
     .why = REJ_WRONG_TYPE,
     .err = "field /type"},
    {.json = ORDER_HEAD "\"amount\":1}",
     .why = REJ_MISSING_FIELD,
     .err = "field /order_id: missing"},
    {.json = ORDER_HEAD "\"order_id\":\"o\",\"amount\":-3}",
     .why = REJ_BAD_VALUE,
     .err = "field /amount: expected a number >= 0, got -3"},
    {.json = ORDER_HEAD "\"order_id\":\"o\",\"amount\":\"12\"}",
     .why = REJ_WRONG_TYPE,
     .err = "field /amount: expected a number >= 0, got a string"},
    {.json = ORDER_HEAD "\"order_id\":\"o\"}",
     .why = REJ_MISSING_FIELD,
     .err = "field /amount: missing"},
    {.json = ORDER_HEAD "\"order_id\":\"o\",\"amount\":1e999}",
     .why = REJ_BAD_VALUE,
     .err = "field /amount"},
    {.json = ORDER_HEAD "\"order_id\":\"o\",\"amount\":1,\"currency\":5}",
     .why = REJ_WRONG_TYPE,
     .err = "field /currency"},
    {.json = ORDER_HEAD "\"order_id\":\"o\",\"amount\":1,\"event_id\":\"\"}",
     .why = REJ_BAD_VALUE,
     .err = "field /event_id: empty"},
    {.json = ORDER_HEAD "\"order_id\":\"o\",\"amount\":1,\"event_id\":12}",
     .why = REJ_WRONG_TYPE,
     .err = "field /event_id"},
    {.json = "{\"type\":\"support.closed\",\"customer_id\":\"c\",\"ts\":0,\"ticket_id\":\"t\","
             "\"satisfaction\":6}",
     .why = REJ_BAD_VALUE,
     .err = "field /satisfaction: expected an integer 1..5, got 6"},
    {.json = "{\"type\":\"support.closed\",\"customer_id\":\"c\",\"ts\":0,\"ticket_id\":\"t\","
             "\"satisfaction\":4.5}",
     .why = REJ_BAD_VALUE,
     .err = "field /satisfaction"},
    {.json = "{\"type\":\"support.closed\",\"customer_id\":\"c\",\"ts\":0,\"ticket_id\":\"t\","
             "\"satisfaction\":\"5\"}",
     .why = REJ_WRONG_TYPE,
     .err = "field /satisfaction"},
    {.json = "{\"type\":\"support.opened\",\"customer_id\":\"c\",\"ts\":0,\"ticket_id\":17}",
     .why = REJ_WRONG_TYPE,
     .err = "field /ticket_id"},
    {.json = "{\"type\":\"complaint.opened\",\"customer_id\":\"c\",\"ts\":0,\"complaint_id\":\"k\","
             "\"severity\":\"meh\"}",
     .why = REJ_BAD_VALUE,
     .err = "field /severity: unknown value \"meh\""},
    {.json = "{\"type\":\"complaint.resolved\",\"customer_id\":\"c\",\"ts\":0}",
     .why = REJ_MISSING_FIELD,
     .err = "field /complaint_id: missing"},
    {.json = "{\"type\":\"customer.updated\",\"customer_id\":\"c\",\"ts\":0,\"tier\":\"gold\"}",
     .why = REJ_BAD_VALUE,
     .err = "field /tier: unknown value \"gold\""},
    {.json = "{\"type\":\"customer.updated\",\"customer_id\":\"c\",\"ts\":0,\"account_manager\":7}",
     .why = REJ_WRONG_TYPE,
     .err = "field /account_manager"},
    {.json = TS_MSG("0"), .max = 16, .why = REJ_TOO_LARGE, .err = "exceeds the limit of 16"},
    {.topic = TOPIC_NESTED,
     .json = "{\"meta\":{\"kind\":\"order\",\"time\":0},\"customer\":\"c\"}",
     .why = REJ_MISSING_FIELD,
     .err = "field /customer/id: missing"},
    {.topic = TOPIC_NESTED,
     .json = "{\"meta\":{\"kind\":\"order\",\"time\":0},\"customer\":{\"id\":\"c\"},\"lines\":[]}",
     .why = REJ_MISSING_FIELD,
     .err = "field /lines/0/order: missing"},
    {.topic = TOPIC_NESTED,
     .json = "{\"meta\":{\"kind\":\"support.closed\",\"time\":0},\"customer\":{\"id\":\"c\"}}",
     .why = REJ_MISSING_FIELD,
     .err = "field /a~1b/t~0id: missing"},
    {.topic = TOPIC_ORDERS,
     .json = "{\"customer_id\":\"c\",\"ts\":0,\"order_id\":\"o\",\"amount\":-0.5}",
     .why = REJ_BAD_VALUE,
     .err = "got -0.5"},
};

#define N_BAD (sizeof bad_cases / sizeof bad_cases[0])

ParameterizedTestParameters(decode, bad_messages)
{
    static size_t idx[N_BAD];
    for (size_t i = 0; i < N_BAD; i++)
        idx[i] = i;
    return cr_make_param_array(size_t, idx, N_BAD);
}

ParameterizedTest(size_t *i, decode, bad_messages)
{
    const struct bad_case *c = &bad_cases[*i];
    struct event ev;
    enum reject_reason why = REJ_NONE;
    char err[256] = "";
    size_t len = c->len ? c->len : strlen(c->json);
    int rc = decode_copy(c->topic, c->max ? c->max : MAX_BYTES, c->json, len, &ev, &why, err,
                         sizeof err);
    cr_assert_eq(rc, -1, "accepted: %s", c->json);
    cr_expect_eq(why, c->why, "reason %s, expected %s (%s) for %s", reject_reason_name(why),
                 reject_reason_name(c->why), err, c->json);
    cr_expect(strstr(err, c->err) != NULL, "message \"%s\" lacks \"%s\"", err, c->err);
    cr_expect(strchr(err, '\n') == NULL);
}

/* ------------------------------------------------------------------ other decode behaviour */

Test(decode, fields_of_other_types_are_zero)
{
    const char *json =
        "{\"type\":\"order\",\"customer_id\":\"c\",\"ts\":0,\"order_id\":\"o\",\"amount\":1}";
    struct event ev;
    memset(&ev, 0x5A, sizeof ev);
    cr_assert_eq(decode_copy(TOPIC_DEFAULT, MAX_BYTES, json, strlen(json), &ev, NULL, NULL, 0), 0);
    cr_expect_eq(ev.satisfaction, 0);
    cr_expect_eq(ev.severity, SEV_NONE);
    cr_expect_eq(ev.tier, -1);
    cr_expect_str_empty(ev.category);
    cr_expect_str_empty(ev.channel);
    cr_expect_str_empty(ev.name);
    cr_expect_str_empty(ev.account_manager);
    cr_expect_eq(ev.has_account_manager, 0);
}

Test(decode, small_error_buffer_is_terminated)
{
    const char *json = "{\"type\":\"customer.unsubscribed\",\"ts\":0}";
    struct event ev;
    enum reject_reason why;
    char err[12];
    memset(err, 'x', sizeof err);
    cr_assert_eq(decode_copy(TOPIC_DEFAULT, MAX_BYTES, json, strlen(json), &ev, &why, err, 8), -1);
    cr_expect_eq(why, REJ_MISSING_FIELD);
    cr_expect_str_eq(err, "field /");
    cr_expect_eq(err[8], 'x'); /* nothing written past err_len */
    /* and NULL why / err are allowed */
    cr_expect_eq(decode_copy(TOPIC_DEFAULT, MAX_BYTES, json, strlen(json), &ev, NULL, NULL, 0), -1);
}

Test(decode, size_limit_is_inclusive)
{
    const char *json = TS_MSG("0");
    size_t len = strlen(json);
    struct event ev;
    enum reject_reason why;
    cr_expect_eq(decode_copy(TOPIC_DEFAULT, len, json, len, &ev, &why, NULL, 0), 0);
    cr_expect_eq(decode_copy(TOPIC_DEFAULT, len - 1, json, len, &ev, &why, NULL, 0), -1);
    cr_expect_eq(why, REJ_TOO_LARGE);
}

/* A message whose parse tree outgrows the per-thread arena (its nodes then come from
 * malloc), decoded between small ones: every message decodes alike, nothing leaks (ASan). */
Test(decode, large_message_beyond_the_parse_arena)
{
    const char *small = "{\"type\":\"order\",\"customer_id\":\"c1\",\"ts\":0,"
                        "\"order_id\":\"o1\",\"amount\":2.5}";
    size_t cap = 200000, len = 0;
    char *big = malloc(cap);
    cr_assert_not_null(big);
    len += (size_t)sprintf(big, "{\"type\":\"order\",\"customer_id\":\"c2\",\"ts\":0,"
                                "\"order_id\":\"o2\",\"extra\":[");
    for (int i = 0; i < 3000; i++)
        len += (size_t)sprintf(big + len, "%s{\"k%d\":\"v%d\"}", i ? "," : "", i, i);
    len += (size_t)sprintf(big + len, "],\"amount\":7.25}");
    for (int round = 0; round < 3; round++) {
        struct event ev;
        enum reject_reason why;
        cr_assert_eq(decode_copy(TOPIC_DEFAULT, cap, small, strlen(small), &ev, &why, NULL, 0), 0);
        cr_expect_str_eq(ev.customer_id, "c1");
        cr_expect_eq(ev.amount, 2.5);
        cr_assert_eq(decode_copy(TOPIC_DEFAULT, cap, big, len, &ev, &why, NULL, 0), 0);
        cr_expect_str_eq(ev.customer_id, "c2");
        cr_expect_str_eq(ev.ref_id, "o2");
        cr_expect_eq(ev.amount, 7.25);
    }
    free(big);
}

Test(decode, deep_nesting_is_rejected_not_crashing)
{
    size_t depth = 5000, len = 0;
    char *json = malloc(2 * depth + 64);
    cr_assert_not_null(json);
    len += (size_t)sprintf(json, "{\"a\":");
    memset(json + len, '[', depth);
    len += depth;
    memset(json + len, ']', depth);
    len += depth;
    json[len++] = '}';
    struct event ev;
    enum reject_reason why;
    cr_expect_eq(decode_copy(TOPIC_DEFAULT, 1 << 20, json, len, &ev, &why, NULL, 0), -1);
    cr_expect_eq(why, REJ_INVALID_JSON);
    free(json);
}

/* Places len bytes at the very end of a mapping followed by an inaccessible page, so that
 * even uninstrumented code (libcjson) faults on an overread. Returns the copy. */
static char *guard_copy(const char *s, size_t len, void **map, size_t *map_len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data_pages = (len + page - 1) / page + 1;
    *map_len = (data_pages + 1) * page;
    *map = mmap(NULL, *map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(*map, MAP_FAILED);
    char *guard = (char *)*map + data_pages * page;
    cr_assert_eq(mprotect(guard, page, PROT_NONE), 0);
    memcpy(guard - len, s, len);
    return guard - len;
}

/* Every prefix of every table message, ending right at a guard page: no read past len, and
 * a cut-short object is never accepted. */
Test(decode, never_reads_past_len)
{
    struct topic_config topics[3];
    for (int k = 0; k < 3; k++)
        topic_build((enum topic_kind)k, &topics[k]);
    size_t n_good = N_GOOD, n_bad = N_BAD;
    for (size_t i = 0; i < n_good + n_bad; i++) {
        const char *json = i < n_good ? good_cases[i].json : bad_cases[i - n_good].json;
        enum topic_kind kind = i < n_good ? good_cases[i].topic : bad_cases[i - n_good].topic;
        size_t full = i < n_good
                          ? strlen(json)
                          : (bad_cases[i - n_good].len ? bad_cases[i - n_good].len : strlen(json));
        const char *close = strrchr(json, '}');
        size_t complete = close ? (size_t)(close - json) + 1 : 0;
        for (size_t len = 0; len <= full; len++) {
            void *map;
            size_t map_len;
            char *buf = guard_copy(json, len, &map, &map_len);
            struct event ev;
            enum reject_reason why;
            int rc = decode_event(&topics[kind], MAX_BYTES, buf, len, &ev, &why, NULL, 0);
            if (len < complete)
                cr_expect_eq(rc, -1, "prefix %zu of %s accepted", len, json);
            if (len == full && i < n_good)
                cr_expect_eq(rc, 0, "%s", json);
            munmap(map, map_len);
        }
    }
    for (int k = 0; k < 3; k++)
        topic_config_clear(&topics[k]);
}

/* The sample files for integration tests: every good line decodes, every bad line is
 * rejected, with the reason named by its "_expect" member when it has one. */
static int check_file(const char *path, int want_ok)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s (tests run in tests/)", path);
    struct topic_config t;
    topic_build(TOPIC_DEFAULT, &t);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        struct event ev;
        enum reject_reason why;
        char err[256];
        int rc = decode_event(&t, MAX_BYTES, line, len, &ev, &why, err, sizeof err);
        n++;
        if (want_ok) {
            cr_expect_eq(rc, 0, "%s:%d: %s", path, n, err);
            continue;
        }
        cr_expect_eq(rc, -1, "%s:%d accepted", path, n);
        const char *exp = strstr(line, "\"_expect\":\"");
        if (exp != NULL) {
            exp += strlen("\"_expect\":\"");
            size_t name_len = strcspn(exp, "\"");
            const char *got = reject_reason_name(why);
            cr_expect(strlen(got) == name_len && strncmp(got, exp, name_len) == 0,
                      "%s:%d: got %s (%s)", path, n, got, err);
        }
    }
    fclose(f);
    topic_config_clear(&t);
    return n;
}

Test(decode, sample_files)
{
    cr_expect_geq(check_file("data/events-good.jsonl", 1), 12);
    cr_expect_geq(check_file("data/events-bad.jsonl", 0), 12);
}

/* ------------------------------------------------------------------ timestamps */

struct ts_case {
    const char *s;
    int64_t ms;
};

static struct ts_case ts_known[] = {
    {"1997-01-01T00:00:00Z", 852076800000},
    {"2000-02-29T12:00:00+02:00", 951818400000},
    {"1970-01-01T00:00:00Z", 0},
    {"1969-12-31T23:59:59.999Z", -1},
    {"1970-01-01T00:00:00.001+00:00", 1},
    {"1970-01-01T05:30:00+05:30", 0},
    {"1969-12-31T20:00:00-04:00", 0},
    {"1970-01-01T00:00:00-00:00", 0},
    {"0000-01-01T00:00:00Z", -62167219200000},
    {"0001-01-01T00:00:00Z", -62135596800000},
    {"9999-12-31T23:59:59.999Z", 253402300799999},
    {"2024-02-29T23:59:59.1z", 1709251199100},
    {"1998-12-31T23:59:60Z", 915148800000},
    {"2022-06-01 09:30:00.99-03:45", 1654089300990},
};

Test(decode, rfc3339_known_values)
{
    for (size_t i = 0; i < sizeof ts_known / sizeof ts_known[0]; i++) {
        int64_t ms = 42;
        char *buf = exact_copy(ts_known[i].s, strlen(ts_known[i].s));
        cr_expect_eq(decode_rfc3339(buf, strlen(ts_known[i].s), &ms), 0, "%s", ts_known[i].s);
        cr_expect_eq(ms, ts_known[i].ms, "%s -> %lld", ts_known[i].s, (long long)ms);
        free(buf);
    }
}

Test(decode, rfc3339_rejects)
{
    static const char *bad[] = {
        "",
        "1997-01-01",
        "1997-01-01T00:00:00",
        "1997-01-01T00:00Z",
        "1997-01-01T00:00:00+0100",
        "1997-01-01T00:00:00+01",
        "1997-01-01T00:00:00+01:60",
        "1997-01-01T00:00:00+24:00",
        "1997-01-01X00:00:00Z",
        "1997-13-01T00:00:00Z",
        "1997-00-01T00:00:00Z",
        "1997-01-00T00:00:00Z",
        "1997-04-31T00:00:00Z",
        "2021-02-29T00:00:00Z",
        "2100-02-29T00:00:00Z",
        "1997-01-01T24:00:00Z",
        "1997-01-01T00:60:00Z",
        "1997-01-01T00:00:61Z",
        "1997-01-01T00:00:00.Z",
        "1997-01-01T00:00:00.1234567891Z",
        "1997-01-01T00:00:00ZZ",
        "1997-01-01T00:00:00Z ",
        "97-01-01T00:00:00Z",
        "+1997-01-01T00:00:00Z",
        "1997-1-01T00:00:00Z",
        "1997-01-01T00:00:0aZ",
        "-997-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 0;
        size_t len = strlen(bad[i]);
        char *buf = exact_copy(bad[i], len);
        cr_expect_eq(decode_rfc3339(buf, len, &ms), -1, "accepted \"%s\"", bad[i]);
        free(buf);
    }
    /* length is respected: a valid string cut short is invalid */
    int64_t ms;
    cr_expect_eq(decode_rfc3339("1997-01-01T00:00:00Z", 19, &ms), -1);
    cr_expect_eq(decode_rfc3339("1997-01-01T00:00:00+01:00", 24, &ms), -1);
    cr_expect_eq(decode_rfc3339("2000-02-29T00:00:00Z", 20, &ms), 0);
}

Test(decode, format_known_values)
{
    char out[32];
    format_rfc3339(852076800000, out);
    cr_expect_str_eq(out, "1997-01-01T00:00:00.000Z");
    format_rfc3339(0, out);
    cr_expect_str_eq(out, "1970-01-01T00:00:00.000Z");
    format_rfc3339(-1, out);
    cr_expect_str_eq(out, "1969-12-31T23:59:59.999Z");
    format_rfc3339(-1000, out);
    cr_expect_str_eq(out, "1969-12-31T23:59:59.000Z");
    format_rfc3339(-86400001, out);
    cr_expect_str_eq(out, "1969-12-30T23:59:59.999Z");
    format_rfc3339(951818400000, out);
    cr_expect_str_eq(out, "2000-02-29T10:00:00.000Z");
    format_rfc3339(-62167219200000, out);
    cr_expect_str_eq(out, "0000-01-01T00:00:00.000Z");
    format_rfc3339(253402300799999, out);
    cr_expect_str_eq(out, "9999-12-31T23:59:59.999Z");
    /* extremes must not overflow the buffer */
    format_rfc3339(INT64_MIN, out);
    cr_expect_lt(strlen(out), 32u);
    format_rfc3339(INT64_MAX, out);
    cr_expect_lt(strlen(out), 32u);
}

/* Against gmtime_r as an oracle, over years 0..9999, and back through decode_rfc3339. */
Test(decode, format_and_parse_round_trip)
{
    const int64_t lo = -62167219200000, hi = 253402300799999;
    const int64_t step = 86400000LL * 13 + 3600000LL * 7 + 61001; /* wanders through the day */
    int n = 0;
    for (int64_t ms = lo; ms <= hi; ms += step, n++) {
        char out[32], want[64];
        struct tm tm;
        time_t secs = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
        int milli = (int)(ms - (int64_t)secs * 1000);
        cr_assert_not_null(gmtime_r(&secs, &tm));
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
        format_rfc3339(ms, out);
        cr_assert_str_eq(out, want, "ms %lld", (long long)ms);
        int64_t back = 0;
        cr_assert_eq(decode_rfc3339(out, strlen(out), &back), 0, "%s", out);
        cr_assert_eq(back, ms, "%s", out);
    }
    cr_expect_gt(n, 250000);
}
