/* customer.c — customer state: initialisation, the compact binary encoding stored in Redis,
 * and the hash used for ids.
 *
 * Encoding, version 4 (all multi-byte integers little-endian). Versions 2 and 3 are read
 * too: they lack the evidence of active alerts (read as unknown, NaN), and version 2 had
 * no flag bit 7: its tiers could only come from events, so a tier other than standard
 * counts as set by an event. Version 1 (before the rules of the second milestone) is
 * rejected: the daemon then starts the customer afresh.
 *   u8      version (4)
 *   u8      flags: bit 0 unsubscribed, bit 1 complaints follow, bit 2 tickets follow,
 *                  bit 3 recent event ids follow, bit 4 manager change follows,
 *                  bit 5 low rating follows, bit 6 spend follows, bit 7 the tier was set
 *                  by a customer.updated event
 *   u8      tier
 *   varint  order_count
 *   zigzag  first_order_ms, last_order_ms, last_event_ms
 *   f64     total_spend (raw IEEE 754 bits)
 *   u64     manager_hash (raw 8 bytes)
 *   [unsubscribed]  zigzag unsubscribed_ms
 *   [complaints]  u8 n (1..CW_MAX_OPEN), then n x item
 *   [tickets]     u8 n (1..CW_MAX_OPEN), then n x item
 *           item: u64 id_hash, zigzag opened_ms, u8 flags (bit 0 reopened, bit 1 replied)
 *   [recent ids]  u8 recent_pos, u8 mask of non-zero slots, then one u64 per set bit
 *   [manager change]  zigzag manager_since_ms, varint manager_last_ms - manager_since_ms
 *   [low rating]  u8 low_rating (1..5), zigzag low_since_ms, varint low_last - low_since
 *   [spend]  zigzag spend_ms, varint mask of non-zero buckets (bit i = slot i), then one
 *            varint (cents) per set bit
 *   varint  mask of active alerts (bit r = rule r), then per active rule, in rule order:
 *           zigzag started_ms, zigzag last_sent_ms, varint repeats,
 *           f64 evidence value, threshold, baseline (version 4)
 *   f64     score
 *   u8      level
 *   zigzag  next_due_ms
 * Nothing may follow. Decoding checks every length and range and rejects anything else.
 * Optional parts are written only when not empty, so a customer with a few orders and no
 * complaints takes about 50 bytes. */
#include "customer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rules.h"

#define ENC_VERSION 4
#define ENC_VERSION_V3 3
#define ENC_VERSION_V2 2

#define FLAG_UNSUBSCRIBED 0x01
#define FLAG_COMPLAINTS 0x02
#define FLAG_TICKETS 0x04
#define FLAG_RECENT 0x08
#define FLAG_MANAGER 0x10
#define FLAG_LOW_RATING 0x20
#define FLAG_SPEND 0x40
#define FLAG_TIER_SET 0x80
#define FLAG_ALL 0xff

#define ITEM_REOPENED 0x01
#define ITEM_REPLIED 0x02

int64_t cw_week_of(int64_t t_ms)
{
    int64_t q = t_ms / CW_SPEND_BUCKET_MS;
    if (t_ms % CW_SPEND_BUCKET_MS != 0 && t_ms < 0)
        q--;
    return q;
}

int customer_spend_slot(int64_t week)
{
    int64_t m = week % CW_SPEND_BUCKETS;
    return (int)(m < 0 ? m + CW_SPEND_BUCKETS : m);
}

uint64_t customer_spend_weeks(const struct customer *c, int64_t first, int64_t last)
{
    int64_t top = cw_week_of(c->spend_ms);
    if (first <= top - CW_SPEND_BUCKETS)
        first = top - CW_SPEND_BUCKETS + 1;
    if (last > top)
        last = top;
    uint64_t cents = 0;
    if (first > last)
        return 0;
    /* at most CW_SPEND_BUCKETS consecutive slots, wrapping once */
    int slot = customer_spend_slot(first);
    for (int64_t n = last - first + 1; n > 0; n--) {
        cents += c->spend[slot];
        if (++slot == CW_SPEND_BUCKETS)
            slot = 0;
    }
    return cents;
}

void customer_init(struct customer *c, const char *id)
{
    memset(c, 0, sizeof *c);
    size_t n = strnlen(id, CW_ID_MAX);
    memcpy(c->id, id, n);
    c->id[n] = '\0';
    c->tier = TIER_STANDARD;
    c->level = LEVEL_OK;
    c->next_due_ms = CW_NO_DUE;
}

uint64_t cw_hash64(const void *data, size_t len, uint64_t seed)
{
    const uint64_t prime = 0x100000001b3ULL;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < 8; i++) {
        h ^= (seed >> (8 * i)) & 0xff;
        h *= prime;
    }
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= prime;
    }
    return h ? h : 1;
}

/* ---- writer ---- */

struct writer {
    uint8_t *buf;
    size_t cap, len;
    int overflow;
};

static void put_u8(struct writer *w, uint8_t v)
{
    if (w->len >= w->cap) {
        w->overflow = 1;
        return;
    }
    w->buf[w->len++] = v;
}

static void put_u64_raw(struct writer *w, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        put_u8(w, (uint8_t)(v >> (8 * i)));
}

static void put_f64(struct writer *w, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    put_u64_raw(w, v);
}

static void put_varint(struct writer *w, uint64_t v)
{
    while (v >= 0x80) {
        put_u8(w, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    put_u8(w, (uint8_t)v);
}

static void put_zigzag(struct writer *w, int64_t v)
{
    put_varint(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void put_items(struct writer *w, const struct open_item *items, uint8_t n)
{
    put_u8(w, n);
    for (uint8_t i = 0; i < n; i++) {
        put_u64_raw(w, items[i].id_hash);
        put_zigzag(w, items[i].opened_ms);
        put_u8(w, (uint8_t)((items[i].reopened ? ITEM_REOPENED : 0) |
                            (items[i].replied ? ITEM_REPLIED : 0)));
    }
}

size_t customer_encode(const struct customer *c, uint8_t *buf, size_t cap)
{
    struct writer w = {buf, cap, 0, 0};
    uint8_t n_complaints = c->n_complaints > CW_MAX_OPEN ? CW_MAX_OPEN : c->n_complaints;
    uint8_t n_tickets = c->n_tickets > CW_MAX_OPEN ? CW_MAX_OPEN : c->n_tickets;
    uint8_t recent_mask = 0;
    for (int i = 0; i < CW_RECENT_EVENT_IDS; i++)
        if (c->recent_ids[i] != 0)
            recent_mask |= (uint8_t)(1u << i);

    uint8_t flags = 0;
    if (c->unsubscribed)
        flags |= FLAG_UNSUBSCRIBED;
    if (n_complaints)
        flags |= FLAG_COMPLAINTS;
    if (n_tickets)
        flags |= FLAG_TICKETS;
    if (recent_mask)
        flags |= FLAG_RECENT;
    if (c->manager_changed)
        flags |= FLAG_MANAGER;
    if (c->low_rating)
        flags |= FLAG_LOW_RATING;
    uint64_t spend_mask = 0;
    for (int i = 0; i < CW_SPEND_BUCKETS; i++)
        if (c->spend[i] != 0)
            spend_mask |= 1ull << i;
    if (spend_mask || c->spend_ms != 0)
        flags |= FLAG_SPEND;
    if (c->tier_set)
        flags |= FLAG_TIER_SET;

    put_u8(&w, ENC_VERSION);
    put_u8(&w, flags);
    put_u8(&w, c->tier);
    put_varint(&w, c->order_count);
    put_zigzag(&w, c->first_order_ms);
    put_zigzag(&w, c->last_order_ms);
    put_zigzag(&w, c->last_event_ms);
    put_f64(&w, c->total_spend);
    put_u64_raw(&w, c->manager_hash);
    if (c->unsubscribed)
        put_zigzag(&w, c->unsubscribed_ms);
    if (n_complaints)
        put_items(&w, c->complaints, n_complaints);
    if (n_tickets)
        put_items(&w, c->tickets, n_tickets);
    if (recent_mask) {
        put_u8(&w, (uint8_t)(c->recent_pos % CW_RECENT_EVENT_IDS));
        put_u8(&w, recent_mask);
        for (int i = 0; i < CW_RECENT_EVENT_IDS; i++)
            if (c->recent_ids[i] != 0)
                put_u64_raw(&w, c->recent_ids[i]);
    }
    if (c->manager_changed) {
        put_zigzag(&w, c->manager_since_ms);
        put_varint(&w, (uint64_t)c->manager_last_ms - (uint64_t)c->manager_since_ms);
    }
    if (c->low_rating) {
        put_u8(&w, c->low_rating);
        put_zigzag(&w, c->low_since_ms);
        put_varint(&w, (uint64_t)c->low_last_ms - (uint64_t)c->low_since_ms);
    }
    if (flags & FLAG_SPEND) {
        put_zigzag(&w, c->spend_ms);
        put_varint(&w, spend_mask);
        for (int i = 0; i < CW_SPEND_BUCKETS; i++)
            if (c->spend[i] != 0)
                put_varint(&w, c->spend[i]);
    }
    uint64_t active = 0;
    for (int r = 0; r < RULE__COUNT; r++)
        if (c->alerts[r].active)
            active |= 1ull << r;
    put_varint(&w, active);
    for (int r = 0; r < RULE__COUNT; r++) {
        if (!c->alerts[r].active)
            continue;
        put_zigzag(&w, c->alerts[r].started_ms);
        put_zigzag(&w, c->alerts[r].last_sent_ms);
        put_varint(&w, c->alerts[r].repeats);
        put_f64(&w, c->alerts[r].ev_value);
        put_f64(&w, c->alerts[r].ev_threshold);
        put_f64(&w, c->alerts[r].ev_baseline);
    }
    put_f64(&w, c->score);
    put_u8(&w, c->level);
    put_zigzag(&w, c->next_due_ms);
    return w.overflow ? 0 : w.len;
}

/* ---- reader: every get_ returns -1 once the input is exhausted or malformed ---- */

struct reader {
    const uint8_t *buf;
    size_t len, pos;
};

static int get_u8(struct reader *r, uint8_t *v)
{
    if (r->pos >= r->len)
        return -1;
    *v = r->buf[r->pos++];
    return 0;
}

static int get_u64_raw(struct reader *r, uint64_t *v)
{
    if (r->len - r->pos < 8)
        return -1;
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x |= (uint64_t)r->buf[r->pos + i] << (8 * i);
    r->pos += 8;
    *v = x;
    return 0;
}

static int get_f64(struct reader *r, double *d)
{
    uint64_t v;
    if (get_u64_raw(r, &v) < 0)
        return -1;
    memcpy(d, &v, sizeof *d);
    return 0;
}

static int get_varint(struct reader *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b;
        if (get_u8(r, &b) < 0)
            return -1;
        if (shift == 63 && b > 1) /* the 10th byte may only carry the top bit */
            return -1;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

static int get_zigzag(struct reader *r, int64_t *v)
{
    uint64_t u;
    if (get_varint(r, &u) < 0)
        return -1;
    *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 0;
}

/* A non-negative span between two times, which must fit in int64_t. */
static int get_span(struct reader *r, uint64_t *v)
{
    return get_varint(r, v) < 0 || *v > (uint64_t)INT64_MAX ? -1 : 0;
}

static int get_varint32(struct reader *r, uint32_t *v)
{
    uint64_t u;
    if (get_varint(r, &u) < 0 || u > UINT32_MAX)
        return -1;
    *v = (uint32_t)u;
    return 0;
}

static int get_items(struct reader *r, struct open_item *items, uint8_t *n_out)
{
    uint8_t n;
    if (get_u8(r, &n) < 0 || n == 0 || n > CW_MAX_OPEN)
        return -1;
    for (uint8_t i = 0; i < n; i++) {
        uint8_t f;
        if (get_u64_raw(r, &items[i].id_hash) < 0 || items[i].id_hash == 0 ||
            get_zigzag(r, &items[i].opened_ms) < 0 || get_u8(r, &f) < 0 ||
            (f & ~(ITEM_REOPENED | ITEM_REPLIED)))
            return -1;
        items[i].reopened = (f & ITEM_REOPENED) != 0;
        items[i].replied = (f & ITEM_REPLIED) != 0;
    }
    *n_out = n;
    return 0;
}

int customer_decode(struct customer *c, const char *id, const uint8_t *buf, size_t len)
{
    struct reader r = {buf, len, 0};
    uint8_t version, flags, u8;
    char own_id[CW_ID_MAX + 1]; /* id may point into *c (c->id), which init clears */

    snprintf(own_id, sizeof own_id, "%s", id);
    customer_init(c, own_id);
    if (buf == NULL || get_u8(&r, &version) < 0 ||
        (version != ENC_VERSION && version != ENC_VERSION_V3 && version != ENC_VERSION_V2))
        return -1;
    if (get_u8(&r, &flags) < 0 || (flags & ~FLAG_ALL) ||
        (version == ENC_VERSION_V2 && (flags & FLAG_TIER_SET)))
        return -1;
    c->unsubscribed = (flags & FLAG_UNSUBSCRIBED) != 0;
    if (get_u8(&r, &c->tier) < 0 || c->tier >= TIER__COUNT)
        return -1;
    c->tier_set = version == ENC_VERSION_V2 ? c->tier != TIER_STANDARD
                                            : (flags & FLAG_TIER_SET) != 0;
    if (get_varint32(&r, &c->order_count) < 0 || get_zigzag(&r, &c->first_order_ms) < 0 ||
        get_zigzag(&r, &c->last_order_ms) < 0 || get_zigzag(&r, &c->last_event_ms) < 0 ||
        get_f64(&r, &c->total_spend) < 0 || get_u64_raw(&r, &c->manager_hash) < 0)
        return -1;
    if (c->unsubscribed && get_zigzag(&r, &c->unsubscribed_ms) < 0)
        return -1;
    if ((flags & FLAG_COMPLAINTS) && get_items(&r, c->complaints, &c->n_complaints) < 0)
        return -1;
    if ((flags & FLAG_TICKETS) && get_items(&r, c->tickets, &c->n_tickets) < 0)
        return -1;
    if (flags & FLAG_RECENT) {
        uint8_t mask;
        if (get_u8(&r, &c->recent_pos) < 0 || c->recent_pos >= CW_RECENT_EVENT_IDS ||
            get_u8(&r, &mask) < 0 || mask == 0)
            return -1;
        for (int i = 0; i < CW_RECENT_EVENT_IDS; i++)
            if ((mask & (1u << i)) &&
                (get_u64_raw(&r, &c->recent_ids[i]) < 0 || c->recent_ids[i] == 0))
                return -1;
    }
    if (flags & FLAG_MANAGER) {
        uint64_t d;
        c->manager_changed = 1;
        if (get_zigzag(&r, &c->manager_since_ms) < 0 || get_span(&r, &d) < 0)
            return -1;
        c->manager_last_ms = (int64_t)((uint64_t)c->manager_since_ms + d);
        if (c->manager_last_ms < c->manager_since_ms)
            return -1;
    }
    if (flags & FLAG_LOW_RATING) {
        uint64_t d;
        if (get_u8(&r, &c->low_rating) < 0 || c->low_rating < 1 || c->low_rating > 5 ||
            get_zigzag(&r, &c->low_since_ms) < 0 || get_span(&r, &d) < 0)
            return -1;
        c->low_last_ms = (int64_t)((uint64_t)c->low_since_ms + d);
        if (c->low_last_ms < c->low_since_ms)
            return -1;
    }
    if (flags & FLAG_SPEND) {
        uint64_t mask;
        if (get_zigzag(&r, &c->spend_ms) < 0 || get_varint(&r, &mask) < 0 ||
            (mask >> CW_SPEND_BUCKETS) != 0 || (mask == 0 && c->spend_ms == 0))
            return -1;
        for (int i = 0; i < CW_SPEND_BUCKETS; i++)
            if ((mask & (1ull << i)) && (get_varint(&r, &c->spend[i]) < 0 || c->spend[i] == 0))
                return -1;
    }
    uint64_t active;
    if (get_varint(&r, &active) < 0 || (active >> RULE__COUNT) != 0)
        return -1;
    for (int i = 0; i < RULE__COUNT; i++) {
        if (!(active & (1ull << i)))
            continue;
        struct alert_state *a = &c->alerts[i];
        a->active = 1;
        if (get_zigzag(&r, &a->started_ms) < 0 || get_zigzag(&r, &a->last_sent_ms) < 0 ||
            get_varint32(&r, &a->repeats) < 0)
            return -1;
        if (version < ENC_VERSION) {
            a->ev_value = a->ev_threshold = a->ev_baseline = NAN;
        } else if (get_f64(&r, &a->ev_value) < 0 || get_f64(&r, &a->ev_threshold) < 0 ||
                   get_f64(&r, &a->ev_baseline) < 0) {
            return -1;
        }
    }
    if (get_f64(&r, &c->score) < 0 || get_u8(&r, &u8) < 0 || u8 > LEVEL_ALARM)
        return -1;
    c->level = u8;
    if (get_zigzag(&r, &c->next_due_ms) < 0)
        return -1;
    return r.pos == r.len ? 0 : -1;
}
