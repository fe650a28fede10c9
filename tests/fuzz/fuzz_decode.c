/* fuzz_decode.c — libFuzzer harness for decode_event() (`make fuzz`, docs/fuzzing.md).
 *
 * Each input is one Kafka message value. It goes through the real decoder with three topic
 * mappings: the default one, a custom one with nested JSON pointers (array indexes, escaped
 * "~0"/"~1" tokens, an 8-level pointer, an unmapped field) and a fixed-type one; and once
 * more with a small size limit so that REJ_TOO_LARGE is taken. What decode.h and event.h
 * promise is checked after every call; a broken promise calls abort(), which libFuzzer
 * reports as a crash with the input saved. The same bytes are also fed to decode_rfc3339().
 *
 * Invariants checked:
 * - the return value is 0 or -1; a rejection has a known reason other than REJ_NONE and a
 *   non-empty, one-line, NUL-terminated message; an acceptance has reason REJ_NONE and an
 *   empty message;
 * - an accepted event: a known type (the fixed one for the fixed-type topic), customer_id
 *   of 1..CW_ID_MAX bytes, ref_id of 1..CW_ID_MAX bytes exactly for the types that have
 *   one, event_id of at most CW_ID_MAX bytes, text fields NUL-terminated, every
 *   type-specific field zero / "" / -1 for the types without it, amount finite and >= 0,
 *   severity, satisfaction and tier in range, ts within +-2^53 ms and, for years
 *   0000..9999, format_rfc3339() then decode_rfc3339() gives the same instant back;
 * - re-encoding an accepted event as JSON (default field names) decodes to the same event;
 * - with the small limit: a longer message is REJ_TOO_LARGE, any other gives exactly the
 *   same result as with the normal limit (the limit changes nothing else).
 */
#include <cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "decode.h"
#include "event.h"

#define MAX_BYTES 65536 /* the default limits.max_message_bytes */
#define SMALL_MAX 200   /* small enough that many corpus entries exceed it */
#define ERR_LEN 256
#define TS_LIMIT 9007199254740992LL /* 2^53 */
/* 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z in epoch ms: the years RFC 3339 can write */
#define TS_YEAR0_MS (-62167219200000LL)
#define TS_YEAR10000_MS 253402300800000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct topic_config topic_default, topic_nested, topic_fixed;

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_decode: invariant broken: %s\n", what);
        abort();
    }
}

/* Sets the JSON pointer `path` ("/a/b", "~0" and "~1" unescaped; "" unmaps the field). */
static void pointer_set(struct json_pointer *p, const char *path)
{
    json_pointer_clear(p);
    bool oom = false;
    if (*path != '\0')
        check(json_pointer_parse(path, p, &oom) == NULL, "pointer_set");
}

/* The topics live for the whole run (libFuzzer never returns from its loop). */
static void topics_init(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    check(topic_config_init_default(&topic_default, "events") == 0, "init default");
    check(topic_config_init_default(&topic_nested, "nested") == 0, "init nested");
    check(topic_config_init_default(&topic_fixed, "support") == 0, "init fixed");
    topic_fixed.fixed_type = EV_SUPPORT_CLOSED;

    struct json_pointer *f = topic_nested.field;
    pointer_set(&f[F_CUSTOMER_ID], "/customer/id");
    pointer_set(&f[F_TS], "/meta/time");
    pointer_set(&f[F_TYPE], "/meta/kind");
    pointer_set(&f[F_EVENT_ID], "/meta/id");
    pointer_set(&f[F_ORDER_ID], "/lines/0/order");
    pointer_set(&f[F_AMOUNT], "/lines/0/total");
    pointer_set(&f[F_CURRENCY], ""); /* unmapped: always "" */
    pointer_set(&f[F_COMPLAINT_ID], "/lines/10/id");
    pointer_set(&f[F_TICKET_ID], "/a~1b/t~0id");
    pointer_set(&f[F_SEVERITY], "/");            /* the key "" */
    pointer_set(&f[F_NAME], "/n/1/2/3/4/5/6/7"); /* CW_PTR_MAX_DEPTH levels */
    pointer_set(&f[F_TIER], "/customer/tier");
}

static bool has_ref(enum event_type t)
{
    return t != EV_CUSTOMER_UNSUBSCRIBED && t != EV_CUSTOMER_UPDATED;
}

/* A char array of `size` bytes holds a string of at most `max` bytes. */
static bool str_fits(const char *s, size_t size, size_t max)
{
    size_t n = strnlen(s, size);
    return n < size && n <= max;
}

static void check_event(const struct event *ev, const struct topic_config *topic)
{
    enum event_type t = ev->type;
    check((unsigned)t < EV__COUNT, "type in range");
    check(topic->fixed_type < 0 || (int)t == topic->fixed_type, "fixed type kept");
    size_t cid = strnlen(ev->customer_id, sizeof ev->customer_id);
    check(cid >= 1 && cid <= CW_ID_MAX, "customer_id is 1..128 bytes");
    check(str_fits(ev->event_id, sizeof ev->event_id, CW_ID_MAX), "event_id <= 128 bytes");
    size_t ref = strnlen(ev->ref_id, sizeof ev->ref_id);
    check(ref <= CW_ID_MAX && (ref > 0) == has_ref(t), "ref_id present exactly when typed");

    check(str_fits(ev->currency, CW_TEXT_MAX, CW_TEXT_MAX - 1), "currency terminated");
    check(str_fits(ev->category, CW_TEXT_MAX, CW_TEXT_MAX - 1), "category terminated");
    check(str_fits(ev->channel, CW_TEXT_MAX, CW_TEXT_MAX - 1), "channel terminated");
    check(str_fits(ev->account_manager, CW_TEXT_MAX, CW_TEXT_MAX - 1), "manager terminated");
    check(str_fits(ev->name, CW_TEXT_MAX, CW_TEXT_MAX - 1), "name terminated");

    bool order = t == EV_ORDER || t == EV_ORDER_CANCELLED;
    check(isfinite(ev->amount) && ev->amount >= 0 && !signbit(ev->amount), "amount >= 0");
    check(order || ev->amount == 0, "amount only on orders");
    check(order || ev->currency[0] == '\0', "currency only on orders and cancellations");
    check(topic != &topic_nested || ev->currency[0] == '\0', "unmapped currency stays empty");
    check(ev->severity >= SEV_NONE && ev->severity <= SEV_CRITICAL, "severity in range");
    check(t == EV_COMPLAINT_OPENED || ev->severity == SEV_NONE, "severity only on complaints");
    check(t == EV_COMPLAINT_OPENED || ev->category[0] == '\0', "category only on complaints");
    check(t == EV_SUPPORT_OPENED || ev->channel[0] == '\0', "channel only on support.opened");
    check(ev->satisfaction >= 0 && ev->satisfaction <= 5, "satisfaction 0..5");
    check(t == EV_SUPPORT_CLOSED || ev->satisfaction == 0, "satisfaction only on closed");
    check(ev->tier >= -1 && ev->tier < TIER__COUNT, "tier in range");
    bool upd = t == EV_CUSTOMER_UPDATED;
    check(upd || (ev->tier == -1 && !ev->has_account_manager && ev->name[0] == '\0'),
          "tier, manager and name only on customer.updated");
    check(ev->has_account_manager || ev->account_manager[0] == '\0', "no manager, no text");

    check(ev->ts_ms >= -TS_LIMIT && ev->ts_ms <= TS_LIMIT, "ts within 2^53 ms");
    if (ev->ts_ms >= TS_YEAR0_MS && ev->ts_ms < TS_YEAR10000_MS) {
        char text[32];
        int64_t back = 0;
        format_rfc3339(ev->ts_ms, text);
        check(strlen(text) == 24, "format_rfc3339 length");
        check(decode_rfc3339(text, strlen(text), &back) == 0 && back == ev->ts_ms,
              "format_rfc3339 then decode_rfc3339 round trip");
    }
}

static void check_reject(int rc, enum reject_reason why, const char *err)
{
    check(rc == -1, "return value is 0 or -1");
    check(why > REJ_NONE && why < REJ__COUNT, "rejection has a reason");
    check(strcmp(reject_reason_name(why), "?") != 0, "reason has a name");
    size_t n = strnlen(err, ERR_LEN);
    check(n > 0 && n < ERR_LEN, "rejection message non-empty and terminated");
    check(memchr(err, '\n', n) == NULL, "rejection message is one line");
}

/* Decodes data with `topic` and checks the result; returns rc. */
static int decode_checked(const struct topic_config *topic, size_t max, const uint8_t *data,
                          size_t size, struct event *ev, enum reject_reason *why, char *err)
{
    memset(err, 'x', ERR_LEN); /* a missing terminator shows */
    int rc = decode_event(topic, max, (const char *)data, size, ev, why, err, ERR_LEN);
    if (rc == 0) {
        check(*why == REJ_NONE && err[0] == '\0', "accepted: no reason, no message");
        check_event(ev, topic);
    } else {
        check_reject(rc, *why, err);
        check(size <= max || *why == REJ_TOO_LARGE, "too large is REJ_TOO_LARGE");
    }
    return rc;
}

/* Numbers are written here, not by cJSON, whose printer rounds to 15 digits whenever the
 * result is within its epsilon of the value (-2^53 comes back as -9007199254740990). */
static void add_raw_number(cJSON *obj, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_raw_number(cJSON *obj, const char *key, const char *fmt, ...)
{
    char text[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    check(cJSON_AddRawToObject(obj, key, text) != NULL, "cJSON add");
}

static void add_string(cJSON *obj, const char *key, const char *s)
{
    if (s[0] != '\0')
        check(cJSON_AddStringToObject(obj, key, s) != NULL, "cJSON add");
}

/* The event as JSON with the default field names; caller frees. */
static char *event_to_json(const struct event *ev)
{
    cJSON *o = cJSON_CreateObject();
    check(o != NULL, "cJSON object");
    add_string(o, "type", event_type_name(ev->type));
    add_string(o, "customer_id", ev->customer_id);
    add_raw_number(o, "ts", "%lld", (long long)ev->ts_ms);
    add_string(o, "event_id", ev->event_id);
    switch (ev->type) {
    case EV_ORDER:
    case EV_ORDER_CANCELLED:
        add_string(o, "order_id", ev->ref_id);
        add_raw_number(o, "amount", "%.17g", ev->amount);
        add_string(o, "currency", ev->currency);
        break;
    case EV_COMPLAINT_OPENED:
    case EV_COMPLAINT_RESOLVED:
    case EV_COMPLAINT_REOPENED:
        add_string(o, "complaint_id", ev->ref_id);
        if (ev->severity != SEV_NONE)
            add_string(o, "severity", severity_name(ev->severity));
        add_string(o, "category", ev->category);
        break;
    case EV_SUPPORT_OPENED:
    case EV_SUPPORT_REPLIED:
    case EV_SUPPORT_CLOSED:
        add_string(o, "ticket_id", ev->ref_id);
        add_string(o, "channel", ev->channel);
        if (ev->satisfaction != 0)
            add_raw_number(o, "satisfaction", "%d", ev->satisfaction);
        break;
    case EV_CUSTOMER_UNSUBSCRIBED:
    case EV_CUSTOMER_UPDATED:
    case EV__COUNT:
        if (ev->tier >= 0)
            add_string(o, "tier", tier_name((enum tier)ev->tier));
        if (ev->has_account_manager)
            check(cJSON_AddStringToObject(o, "account_manager", ev->account_manager) != NULL,
                  "cJSON add");
        add_string(o, "name", ev->name);
        break;
    }
    char *s = cJSON_PrintUnformatted(o);
    check(s != NULL, "cJSON print");
    cJSON_Delete(o);
    return s;
}

static bool event_equal(const struct event *a, const struct event *b)
{
    return a->type == b->type && a->ts_ms == b->ts_ms &&
           strcmp(a->customer_id, b->customer_id) == 0 && strcmp(a->event_id, b->event_id) == 0 &&
           strcmp(a->ref_id, b->ref_id) == 0 && a->amount == b->amount &&
           a->severity == b->severity && a->satisfaction == b->satisfaction && a->tier == b->tier &&
           strcmp(a->currency, b->currency) == 0 && strcmp(a->category, b->category) == 0 &&
           strcmp(a->channel, b->channel) == 0 &&
           strcmp(a->account_manager, b->account_manager) == 0 && strcmp(a->name, b->name) == 0 &&
           a->has_account_manager == b->has_account_manager;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct event ev, ev2;
    enum reject_reason why, why2;
    char err[ERR_LEN], err2[ERR_LEN];

    topics_init();

    /* The default mapping; then the same with a small limit, which must change nothing
     * but the size check. */
    int rc = decode_checked(&topic_default, MAX_BYTES, data, size, &ev, &why, err);
    int rc2 = decode_checked(&topic_default, SMALL_MAX, data, size, &ev2, &why2, err2);
    if (size <= SMALL_MAX) {
        check(rc == rc2 && why == why2 && strcmp(err, err2) == 0, "small limit: same result");
        check(rc != 0 || event_equal(&ev, &ev2), "small limit: same event");
    }

    /* An accepted event, written out again, decodes to itself. */
    if (rc == 0) {
        char *json = event_to_json(&ev);
        size_t len = strlen(json);
        check(decode_checked(&topic_default, MAX_BYTES, (const uint8_t *)json, len, &ev2, &why2,
                             err2) == 0,
              "re-encoded event accepted");
        check(event_equal(&ev, &ev2), "re-encoded event decodes to itself");
        free(json);
    }

    decode_checked(&topic_nested, MAX_BYTES, data, size, &ev, &why, err);
    decode_checked(&topic_fixed, MAX_BYTES, data, size, &ev, &why, err);

    /* The timestamp parser on its own: anything it accepts is within its year range. */
    int64_t ms;
    if (decode_rfc3339((const char *)data, size, &ms) == 0) {
        /* 0000-01-01 minus 23:59 of offset .. 9999-12-31T23:59:60.999 plus 23:59 */
        check(ms >= TS_YEAR0_MS - 86400000LL && ms < TS_YEAR10000_MS + 86400000LL,
              "decode_rfc3339 range");
    }
    return 0;
}
