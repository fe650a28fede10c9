/* event_codec.c — see event_codec.h.
 *
 * Version 1 (integers little-endian):
 *   u8 version (1), u8 type, i64 ts_ms, f64 amount (IEEE 754 bits), u8 severity,
 *   u8 satisfaction, i8 tier, u8 has_account_manager,
 *   then 8 strings, each u8 length + bytes: customer_id, event_id, ref_id, currency,
 *   category, channel, account_manager, name.
 * Nothing may follow; every length and range is checked. */
#include "event_codec.h"

#include <string.h>

#define CODEC_VERSION 1

struct out {
    uint8_t *p;
    size_t cap, len;
    int full;
};

static void put(struct out *o, const void *src, size_t n)
{
    if (o->full || n > o->cap - o->len) {
        o->full = 1;
        return;
    }
    memcpy(o->p + o->len, src, n);
    o->len += n;
}

static void put_u8(struct out *o, unsigned v)
{
    uint8_t b = (uint8_t)v;
    put(o, &b, 1);
}

static void put_u64(struct out *o, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(o, b, 8);
}

static void put_str(struct out *o, const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    put_u8(o, (unsigned)n);
    put(o, s, n);
}

size_t event_encode(const struct event *ev, uint8_t *buf, size_t cap)
{
    struct out o = {buf, cap, 0, 0};
    uint64_t amount;
    memcpy(&amount, &ev->amount, 8);
    put_u8(&o, CODEC_VERSION);
    put_u8(&o, (unsigned)ev->type);
    put_u64(&o, (uint64_t)ev->ts_ms);
    put_u64(&o, amount);
    put_u8(&o, (unsigned)ev->severity);
    put_u8(&o, (unsigned)ev->satisfaction);
    put_u8(&o, (unsigned)(uint8_t)(int8_t)ev->tier);
    put_u8(&o, ev->has_account_manager);
    put_str(&o, ev->customer_id, CW_ID_MAX);
    put_str(&o, ev->event_id, CW_ID_MAX);
    put_str(&o, ev->ref_id, CW_ID_MAX);
    put_str(&o, ev->currency, CW_TEXT_MAX - 1);
    put_str(&o, ev->category, CW_TEXT_MAX - 1);
    put_str(&o, ev->channel, CW_TEXT_MAX - 1);
    put_str(&o, ev->account_manager, CW_TEXT_MAX - 1);
    put_str(&o, ev->name, CW_TEXT_MAX - 1);
    return o.full ? 0 : o.len;
}

struct in {
    const uint8_t *p;
    size_t len, at;
};

static int get(struct in *r, void *dst, size_t n)
{
    if (n > r->len - r->at)
        return -1;
    memcpy(dst, r->p + r->at, n);
    r->at += n;
    return 0;
}

static int get_u64(struct in *r, uint64_t *v)
{
    uint8_t b[8];
    if (get(r, b, 8) < 0)
        return -1;
    *v = 0;
    for (int i = 0; i < 8; i++)
        *v |= (uint64_t)b[i] << (8 * i);
    return 0;
}

/* A string of at most max bytes without NUL, into dst[max + 1]. */
static int get_str(struct in *r, char *dst, size_t max)
{
    uint8_t n;
    if (get(r, &n, 1) < 0 || n > max || get(r, dst, n) < 0 || memchr(dst, '\0', n) != NULL)
        return -1;
    dst[n] = '\0';
    return 0;
}

int event_decode(const uint8_t *buf, size_t len, struct event *ev)
{
    struct in r = {buf, len, 0};
    uint8_t version, type, severity, satisfaction, tier, has_am;
    uint64_t ts, amount;

    memset(ev, 0, sizeof *ev);
    if (buf == NULL || get(&r, &version, 1) < 0 || version != CODEC_VERSION ||
        get(&r, &type, 1) < 0 || type >= EV__COUNT || get_u64(&r, &ts) < 0 ||
        get_u64(&r, &amount) < 0 || get(&r, &severity, 1) < 0 || severity > SEV_CRITICAL ||
        get(&r, &satisfaction, 1) < 0 || satisfaction > 5 || get(&r, &tier, 1) < 0 ||
        get(&r, &has_am, 1) < 0 || has_am > 1)
        return -1;
    ev->type = (enum event_type)type;
    ev->ts_ms = (int64_t)ts;
    memcpy(&ev->amount, &amount, 8);
    ev->severity = (enum severity)severity;
    ev->satisfaction = satisfaction;
    ev->tier = (int8_t)tier;
    if (ev->tier < -1 || ev->tier >= TIER__COUNT)
        return -1;
    ev->has_account_manager = has_am;
    if (get_str(&r, ev->customer_id, CW_ID_MAX) < 0 || ev->customer_id[0] == '\0' ||
        get_str(&r, ev->event_id, CW_ID_MAX) < 0 || get_str(&r, ev->ref_id, CW_ID_MAX) < 0 ||
        get_str(&r, ev->currency, CW_TEXT_MAX - 1) < 0 ||
        get_str(&r, ev->category, CW_TEXT_MAX - 1) < 0 ||
        get_str(&r, ev->channel, CW_TEXT_MAX - 1) < 0 ||
        get_str(&r, ev->account_manager, CW_TEXT_MAX - 1) < 0 ||
        get_str(&r, ev->name, CW_TEXT_MAX - 1) < 0)
        return -1;
    return r.at == len ? 0 : -1;
}
