/* customer.c — customer state: initialisation, the compact binary encoding stored in Redis,
 * and the hash used for ids.
 *
 * Encoding, version 5 (all multi-byte integers little-endian). Times are written relative
 * to last_event_ms (E below) or to another time of the same part, as zigzag differences
 * computed modulo 2^64, so any int64_t comes back exactly and times near E take 1-5 bytes
 * instead of 6-10. Parts that are empty or zero are left out (a flag says which follow).
 *   u8      version (5)
 *   u8      flags: bit 0 unsubscribed, bit 1 complaints follow, bit 2 tickets follow,
 *                  bit 3 recent event ids follow, bit 4 manager change follows,
 *                  bit 5 low rating follows, bit 6 spend follows, bit 7 the tier was set
 *                  by a customer.updated event (as in version 4)
 *   u8      more:  bits 0-1 tier, bits 2-3 level, bit 4 orders follow, bit 5 manager hash
 *                  follows, bit 6 risk follows, bit 7 next due time follows
 *   zigzag  E = last_event_ms
 *   [orders]  varint order_count, time last_order_ms - E, time first_order_ms - last_order_ms,
 *             number total_spend   (written unless all four are zero)
 *   [manager hash]  u64 manager_hash (raw 8 bytes; written unless 0)
 *   [unsubscribed]  time unsubscribed_ms - E
 *   [complaints]  u8 n (1..CW_MAX_OPEN), then n x item
 *   [tickets]     u8 n (1..CW_MAX_OPEN), then n x item
 *           item: u64 id_hash, time opened_ms - E, u8 flags (bit 0 reopened, bit 1 replied)
 *   [recent ids]  u8 head: bits 0-2 recent_pos, bits 3-4 the slots that hold an id:
 *                 0 slots 0 .. recent_pos - 1 (the ring has not wrapped yet), 1 all
 *                 eight, 2 those of a mask byte that follows; then one u64 per such slot
 *   [manager change]  time manager_since_ms - E, varint manager_last_ms - manager_since_ms
 *   [low rating]  u8 low_rating (1..5), time low_since_ms - E, varint low_last - low_since
 *   [spend]  time spend_ms - E, varint mask of non-empty weeks (bit j = the week j weeks
 *            before the week of spend_ms), then one varint (cents) per set bit, in bit order
 *   [risk]   varint mask of active alerts (bit r = rule r), then per active rule, in rule
 *            order: time started_ms - E, time last_sent_ms - started_ms, varint repeats,
 *            number evidence value, threshold, baseline; then number score (written unless
 *            no alert is active and the score is 0)
 *   [next due]  time next_due_ms - E (written unless CW_NO_DUE)
 *   time = zigzag of the difference; number = varint v: 0, then the raw IEEE 754 bits
 *   (u64) follow; else v - 1 = 2k + a: the value is k / 100.0 (k < 2^53 cents), moved by n
 *   units in the last place, n = 0 when a = 0, else a zigzag n (0 < |n| <= 65535) follows.
 *   Whole cents, whole numbers and sums of cents added up in floating point (total_spend)
 *   take 1-5 bytes instead of 8, exactly.
 * Nothing may follow. Decoding checks every length and range and rejects what is not a
 * valid state; longer forms of a valid state (raw bits of a number cents could hold, a mask
 * byte where the head's form would do) are read too, and encode back to the short form.
 * A customer with one open ticket takes 34 bytes (version 4: 70): Redis keeps a value of
 * at most 44 bytes in one allocation with its object header (docs/decisions.md).
 *
 * Versions 2 to 4 are read too (state written by earlier releases is upgraded on read):
 *   u8      version
 *   u8      flags (as above; version 2 had no bit 7: its tiers could only come from events,
 *           so a tier other than standard counts as set by an event)
 *   u8      tier
 *   varint  order_count
 *   zigzag  first_order_ms, last_order_ms, last_event_ms
 *   f64     total_spend (raw IEEE 754 bits)
 *   u64     manager_hash (raw 8 bytes)
 *   then the parts of version 5 from [unsubscribed] to [spend], with absolute times
 *   (zigzag t) instead of t - E, the recent ids as u8 recent_pos, u8 mask of the slots
 *   that hold an id, and the spend mask by slot (bit i = slot i)
 *   varint  mask of active alerts, then per active rule: zigzag started_ms, zigzag
 *           last_sent_ms, varint repeats, and in version 4 f64 evidence value, threshold,
 *           baseline (earlier: unknown, read as NaN)
 *   f64     score
 *   u8      level
 *   zigzag  next_due_ms
 * Version 1 (before the rules of the second milestone) is rejected: the daemon then starts
 * the customer afresh. */
#include "customer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rules.h"

#define ENC_VERSION 5
#define ENC_VERSION_V4 4
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

/* the second flags byte of version 5 */
#define MORE_TIER 0x03
#define MORE_LEVEL 0x0c
#define MORE_LEVEL_SHIFT 2
#define MORE_ORDERS 0x10
#define MORE_MANAGER_HASH 0x20
#define MORE_RISK 0x40
#define MORE_DUE 0x80

#define ITEM_REOPENED 0x01
#define ITEM_REPLIED 0x02

/* the recent ids' head byte of version 5: recent_pos, and which slots hold an id */
#define RECENT_POS 0x07
#define RECENT_KIND_SHIFT 3
#define RECENT_PREFIX 0 /* slots 0 .. recent_pos - 1 */
#define RECENT_ALL 1
#define RECENT_MASK 2 /* a mask byte follows */
_Static_assert(CW_RECENT_EVENT_IDS == 8, "the recent ids' slots are a byte's bits");

/* numbers written as cents: at most 2^53 - 1 cents, at most this far (in units in the
 * last place) from k / 100.0 */
#define NUMBER_CENTS_LIMIT (1ull << 53)
#define NUMBER_MAX_ULPS 65535

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

/* The spend slot of the week before that of `slot`. */
static int slot_before(int slot)
{
    return slot == 0 ? CW_SPEND_BUCKETS - 1 : slot - 1;
}

static uint64_t f64_bits(double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    return v;
}

/* Splits d into k cents and n units in the last place: d == (k / 100.0) moved by n. False
 * when d is not such a number (negative, -0, NaN, infinite, 2^53 cents or more, or further
 * than NUMBER_MAX_ULPS from whole cents); it is then written as raw bits. */
static bool number_split(double d, uint64_t *k, int64_t *n)
{
    if (!(d >= 0 && d < (double)NUMBER_CENTS_LIMIT / 100) || signbit(d))
        return false;
    *k = (uint64_t)llround(d * 100.0);
    if (*k >= NUMBER_CENTS_LIMIT)
        return false;
    *n = (int64_t)(f64_bits(d) - f64_bits((double)*k / 100.0));
    return *n >= -NUMBER_MAX_ULPS && *n <= NUMBER_MAX_ULPS;
}

/* How the slots of the recent ids that hold an id are written (version 5). */
static uint8_t recent_kind(uint8_t mask, uint8_t pos)
{
    if (mask == 0xff)
        return RECENT_ALL;
    if (pos > 0 && mask == (uint8_t)((1u << pos) - 1))
        return RECENT_PREFIX;
    return RECENT_MASK;
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

/* Time t relative to ref: t - ref modulo 2^64, so any pair of times is exact. */
static void put_time(struct writer *w, int64_t t, int64_t ref)
{
    put_zigzag(w, (int64_t)((uint64_t)t - (uint64_t)ref));
}

static void put_number(struct writer *w, double d)
{
    uint64_t k;
    int64_t n;
    if (!number_split(d, &k, &n)) {
        put_u8(w, 0);
        put_u64_raw(w, f64_bits(d));
        return;
    }
    put_varint(w, 2 * k + (n != 0) + 1);
    if (n != 0)
        put_zigzag(w, n);
}

static void put_items(struct writer *w, const struct open_item *items, uint8_t n, int64_t ref)
{
    put_u8(w, n);
    for (uint8_t i = 0; i < n; i++) {
        put_u64_raw(w, items[i].id_hash);
        put_time(w, items[i].opened_ms, ref);
        put_u8(w, (uint8_t)((items[i].reopened ? ITEM_REOPENED : 0) |
                            (items[i].replied ? ITEM_REPLIED : 0)));
    }
}

size_t customer_encode(const struct customer *c, uint8_t *buf, size_t cap)
{
    struct writer w = {buf, cap, 0, 0};
    const int64_t e = c->last_event_ms;
    uint8_t n_complaints = c->n_complaints > CW_MAX_OPEN ? CW_MAX_OPEN : c->n_complaints;
    uint8_t n_tickets = c->n_tickets > CW_MAX_OPEN ? CW_MAX_OPEN : c->n_tickets;
    uint8_t recent_mask = 0;
    for (int i = 0; i < CW_RECENT_EVENT_IDS; i++)
        if (c->recent_ids[i] != 0)
            recent_mask |= (uint8_t)(1u << i);
    /* bit j: the week j weeks before that of spend_ms */
    const int spend_top = customer_spend_slot(cw_week_of(c->spend_ms));
    uint64_t spend_mask = 0;
    for (int j = 0, slot = spend_top; j < CW_SPEND_BUCKETS; j++, slot = slot_before(slot))
        if (c->spend[slot] != 0)
            spend_mask |= 1ull << j;
    uint64_t active = 0;
    for (int r = 0; r < RULE__COUNT; r++)
        if (c->alerts[r].active)
            active |= 1ull << r;

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
    if (spend_mask || c->spend_ms != 0)
        flags |= FLAG_SPEND;
    if (c->tier_set)
        flags |= FLAG_TIER_SET;
    uint8_t more = (uint8_t)((c->tier & MORE_TIER) | ((c->level << MORE_LEVEL_SHIFT) & MORE_LEVEL));
    if (c->order_count != 0 || c->first_order_ms != 0 || c->last_order_ms != 0 ||
        f64_bits(c->total_spend) != 0)
        more |= MORE_ORDERS;
    if (c->manager_hash != 0)
        more |= MORE_MANAGER_HASH;
    if (active != 0 || f64_bits(c->score) != 0)
        more |= MORE_RISK;
    if (c->next_due_ms != CW_NO_DUE)
        more |= MORE_DUE;

    put_u8(&w, ENC_VERSION);
    put_u8(&w, flags);
    put_u8(&w, more);
    put_zigzag(&w, e);
    if (more & MORE_ORDERS) {
        put_varint(&w, c->order_count);
        put_time(&w, c->last_order_ms, e);
        put_time(&w, c->first_order_ms, c->last_order_ms);
        put_number(&w, c->total_spend);
    }
    if (more & MORE_MANAGER_HASH)
        put_u64_raw(&w, c->manager_hash);
    if (c->unsubscribed)
        put_time(&w, c->unsubscribed_ms, e);
    if (n_complaints)
        put_items(&w, c->complaints, n_complaints, e);
    if (n_tickets)
        put_items(&w, c->tickets, n_tickets, e);
    if (recent_mask) {
        uint8_t pos = c->recent_pos % CW_RECENT_EVENT_IDS;
        uint8_t kind = recent_kind(recent_mask, pos);
        put_u8(&w, (uint8_t)(pos | kind << RECENT_KIND_SHIFT));
        if (kind == RECENT_MASK)
            put_u8(&w, recent_mask);
        for (int i = 0; i < CW_RECENT_EVENT_IDS; i++)
            if (c->recent_ids[i] != 0)
                put_u64_raw(&w, c->recent_ids[i]);
    }
    if (c->manager_changed) {
        put_time(&w, c->manager_since_ms, e);
        put_varint(&w, (uint64_t)c->manager_last_ms - (uint64_t)c->manager_since_ms);
    }
    if (c->low_rating) {
        put_u8(&w, c->low_rating);
        put_time(&w, c->low_since_ms, e);
        put_varint(&w, (uint64_t)c->low_last_ms - (uint64_t)c->low_since_ms);
    }
    if (flags & FLAG_SPEND) {
        put_time(&w, c->spend_ms, e);
        put_varint(&w, spend_mask);
        for (int j = 0, slot = spend_top; j < CW_SPEND_BUCKETS; j++, slot = slot_before(slot))
            if (c->spend[slot] != 0)
                put_varint(&w, c->spend[slot]);
    }
    if (more & MORE_RISK) {
        put_varint(&w, active);
        for (int r = 0; r < RULE__COUNT; r++) {
            const struct alert_state *a = &c->alerts[r];
            if (!a->active)
                continue;
            put_time(&w, a->started_ms, e);
            put_time(&w, a->last_sent_ms, a->started_ms);
            put_varint(&w, a->repeats);
            put_number(&w, a->ev_value);
            put_number(&w, a->ev_threshold);
            put_number(&w, a->ev_baseline);
        }
        put_number(&w, c->score);
    }
    if (more & MORE_DUE)
        put_time(&w, c->next_due_ms, e);
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

/* A time written relative to ref (versions 2 to 4: ref 0, the time itself). */
static int get_time(struct reader *r, int64_t *t, int64_t ref)
{
    int64_t d;
    if (get_zigzag(r, &d) < 0)
        return -1;
    *t = (int64_t)((uint64_t)ref + (uint64_t)d);
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

/* A number of version 5 (see put_number): cents, or raw bits. Negative values only as
 * raw bits. */
static int get_number(struct reader *r, double *d)
{
    uint64_t v, k;
    int64_t n = 0;
    if (get_varint(r, &v) < 0)
        return -1;
    if (v == 0)
        return get_f64(r, d);
    k = (v - 1) >> 1;
    if (k >= NUMBER_CENTS_LIMIT)
        return -1;
    if (((v - 1) & 1) &&
        (get_zigzag(r, &n) < 0 || n == 0 || n < -NUMBER_MAX_ULPS || n > NUMBER_MAX_ULPS))
        return -1;
    uint64_t bits = f64_bits((double)k / 100.0) + (uint64_t)n;
    memcpy(d, &bits, sizeof *d);
    return *d >= 0 && !signbit(*d) ? 0 : -1;
}

static int get_items(struct reader *r, struct open_item *items, uint8_t *n_out, int64_t ref)
{
    uint8_t n;
    if (get_u8(r, &n) < 0 || n == 0 || n > CW_MAX_OPEN)
        return -1;
    for (uint8_t i = 0; i < n; i++) {
        uint8_t f;
        if (get_u64_raw(r, &items[i].id_hash) < 0 || items[i].id_hash == 0 ||
            get_time(r, &items[i].opened_ms, ref) < 0 || get_u8(r, &f) < 0 ||
            (f & ~(ITEM_REOPENED | ITEM_REPLIED)))
            return -1;
        items[i].reopened = (f & ITEM_REOPENED) != 0;
        items[i].replied = (f & ITEM_REPLIED) != 0;
    }
    *n_out = n;
    return 0;
}

/* The parts from [complaints] to [spend], which all versions share but for the form of
 * their times (relative to ref; before version 5, ref 0: the times themselves), of the
 * recent ids' slots and of the spend mask (`v5`). */
static int get_parts(struct reader *r, struct customer *c, uint8_t flags, int64_t ref, bool v5)
{
    if ((flags & FLAG_COMPLAINTS) && get_items(r, c->complaints, &c->n_complaints, ref) < 0)
        return -1;
    if ((flags & FLAG_TICKETS) && get_items(r, c->tickets, &c->n_tickets, ref) < 0)
        return -1;
    if (flags & FLAG_RECENT) {
        uint8_t head, mask = 0;
        if (get_u8(r, &head) < 0)
            return -1;
        if (!v5) {
            c->recent_pos = head;
            if (get_u8(r, &mask) < 0)
                return -1;
        } else {
            c->recent_pos = head & RECENT_POS;
            switch (head >> RECENT_KIND_SHIFT) {
            case RECENT_PREFIX:
                mask = (uint8_t)((1u << c->recent_pos) - 1);
                break;
            case RECENT_ALL:
                mask = 0xff;
                break;
            case RECENT_MASK:
                if (get_u8(r, &mask) < 0)
                    return -1;
                break;
            default:
                return -1;
            }
        }
        if (c->recent_pos >= CW_RECENT_EVENT_IDS || mask == 0)
            return -1;
        for (int i = 0; i < CW_RECENT_EVENT_IDS; i++)
            if ((mask & (1u << i)) &&
                (get_u64_raw(r, &c->recent_ids[i]) < 0 || c->recent_ids[i] == 0))
                return -1;
    }
    if (flags & FLAG_MANAGER) {
        uint64_t d;
        c->manager_changed = 1;
        if (get_time(r, &c->manager_since_ms, ref) < 0 || get_span(r, &d) < 0)
            return -1;
        c->manager_last_ms = (int64_t)((uint64_t)c->manager_since_ms + d);
        if (c->manager_last_ms < c->manager_since_ms)
            return -1;
    }
    if (flags & FLAG_LOW_RATING) {
        uint64_t d;
        if (get_u8(r, &c->low_rating) < 0 || c->low_rating < 1 || c->low_rating > 5 ||
            get_time(r, &c->low_since_ms, ref) < 0 || get_span(r, &d) < 0)
            return -1;
        c->low_last_ms = (int64_t)((uint64_t)c->low_since_ms + d);
        if (c->low_last_ms < c->low_since_ms)
            return -1;
    }
    if (flags & FLAG_SPEND) {
        uint64_t mask;
        if (get_time(r, &c->spend_ms, ref) < 0 || get_varint(r, &mask) < 0 ||
            (mask >> CW_SPEND_BUCKETS) != 0 || (mask == 0 && c->spend_ms == 0))
            return -1;
        /* bit j: version 5, the week j weeks before that of spend_ms; earlier, slot j */
        int slot = v5 ? customer_spend_slot(cw_week_of(c->spend_ms)) : 0;
        for (int j = 0; j < CW_SPEND_BUCKETS; j++, slot = v5 ? slot_before(slot) : slot + 1)
            if ((mask & (1ull << j)) &&
                (get_varint(r, &c->spend[slot]) < 0 || c->spend[slot] == 0))
                return -1;
    }
    return 0;
}

static int decode_v5(struct reader *r, struct customer *c)
{
    uint8_t flags, more;
    int64_t e;
    if (get_u8(r, &flags) < 0 || get_u8(r, &more) < 0 || get_zigzag(r, &e) < 0)
        return -1;
    c->unsubscribed = (flags & FLAG_UNSUBSCRIBED) != 0;
    c->tier_set = (flags & FLAG_TIER_SET) != 0;
    c->tier = more & MORE_TIER;
    c->level = (more & MORE_LEVEL) >> MORE_LEVEL_SHIFT;
    if (c->tier >= TIER__COUNT || c->level > LEVEL_ALARM)
        return -1;
    c->last_event_ms = e;
    if ((more & MORE_ORDERS) &&
        (get_varint32(r, &c->order_count) < 0 || get_time(r, &c->last_order_ms, e) < 0 ||
         get_time(r, &c->first_order_ms, c->last_order_ms) < 0 ||
         get_number(r, &c->total_spend) < 0))
        return -1;
    if ((more & MORE_MANAGER_HASH) && get_u64_raw(r, &c->manager_hash) < 0)
        return -1;
    if (c->unsubscribed && get_time(r, &c->unsubscribed_ms, e) < 0)
        return -1;
    if (get_parts(r, c, flags, e, true) < 0)
        return -1;
    if (more & MORE_RISK) {
        uint64_t active;
        if (get_varint(r, &active) < 0 || (active >> RULE__COUNT) != 0)
            return -1;
        for (int i = 0; i < RULE__COUNT; i++) {
            struct alert_state *a = &c->alerts[i];
            if (!(active & (1ull << i)))
                continue;
            a->active = 1;
            if (get_time(r, &a->started_ms, e) < 0 ||
                get_time(r, &a->last_sent_ms, a->started_ms) < 0 ||
                get_varint32(r, &a->repeats) < 0 || get_number(r, &a->ev_value) < 0 ||
                get_number(r, &a->ev_threshold) < 0 || get_number(r, &a->ev_baseline) < 0)
                return -1;
        }
        if (get_number(r, &c->score) < 0)
            return -1;
    }
    if ((more & MORE_DUE) && get_time(r, &c->next_due_ms, e) < 0)
        return -1;
    return 0;
}

/* Versions 2 to 4 (see the top of this file). */
static int decode_v4(struct reader *r, struct customer *c, uint8_t version)
{
    uint8_t flags, u8;
    if (get_u8(r, &flags) < 0 || (version == ENC_VERSION_V2 && (flags & FLAG_TIER_SET)))
        return -1;
    c->unsubscribed = (flags & FLAG_UNSUBSCRIBED) != 0;
    if (get_u8(r, &c->tier) < 0 || c->tier >= TIER__COUNT)
        return -1;
    c->tier_set = version == ENC_VERSION_V2 ? c->tier != TIER_STANDARD
                                            : (flags & FLAG_TIER_SET) != 0;
    if (get_varint32(r, &c->order_count) < 0 || get_zigzag(r, &c->first_order_ms) < 0 ||
        get_zigzag(r, &c->last_order_ms) < 0 || get_zigzag(r, &c->last_event_ms) < 0 ||
        get_f64(r, &c->total_spend) < 0 || get_u64_raw(r, &c->manager_hash) < 0)
        return -1;
    if (c->unsubscribed && get_zigzag(r, &c->unsubscribed_ms) < 0)
        return -1;
    if (get_parts(r, c, flags, 0, false) < 0)
        return -1;
    uint64_t active;
    if (get_varint(r, &active) < 0 || (active >> RULE__COUNT) != 0)
        return -1;
    for (int i = 0; i < RULE__COUNT; i++) {
        if (!(active & (1ull << i)))
            continue;
        struct alert_state *a = &c->alerts[i];
        a->active = 1;
        if (get_zigzag(r, &a->started_ms) < 0 || get_zigzag(r, &a->last_sent_ms) < 0 ||
            get_varint32(r, &a->repeats) < 0)
            return -1;
        if (version < ENC_VERSION_V4) {
            a->ev_value = a->ev_threshold = a->ev_baseline = NAN;
        } else if (get_f64(r, &a->ev_value) < 0 || get_f64(r, &a->ev_threshold) < 0 ||
                   get_f64(r, &a->ev_baseline) < 0) {
            return -1;
        }
    }
    if (get_f64(r, &c->score) < 0 || get_u8(r, &u8) < 0 || u8 > LEVEL_ALARM)
        return -1;
    c->level = u8;
    return get_zigzag(r, &c->next_due_ms);
}

int customer_decode(struct customer *c, const char *id, const uint8_t *buf, size_t len)
{
    struct reader r = {buf, len, 0};
    uint8_t version;
    char own_id[CW_ID_MAX + 1]; /* id may point into *c (c->id), which init clears */
    int rc;

    snprintf(own_id, sizeof own_id, "%s", id);
    customer_init(c, own_id);
    if (buf == NULL || get_u8(&r, &version) < 0)
        return -1;
    if (version == ENC_VERSION)
        rc = decode_v5(&r, c);
    else if (version >= ENC_VERSION_V2 && version <= ENC_VERSION_V4)
        rc = decode_v4(&r, c, version);
    else
        return -1;
    return rc == 0 && r.pos == r.len ? 0 : -1;
}
