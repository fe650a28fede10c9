/* tiers.c — see tiers.h. */
#include "tiers.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vec.h"

static int64_t window_weeks(const struct config *cfg)
{
    int64_t k = cfg->tiers_window_ms / CW_SPEND_BUCKET_MS;
    if (k < 1)
        return 1;
    return k > CW_SPEND_BUCKETS - 1 ? CW_SPEND_BUCKETS - 1 : k;
}

uint64_t tier_trailing_cents(const struct config *cfg, const struct customer *c, int64_t week)
{
    return customer_spend_weeks(c, week - window_weeks(cfg), week - 1);
}

int tier_sample_add(struct tier_sample *s, const struct config *cfg, const struct customer *c,
                    int64_t week)
{
    return tier_sample_push(s, tier_trailing_cents(cfg, c, week));
}

struct sample_ctx {
    struct tier_sample *s;
    const struct config *cfg;
    int64_t week;
    int rc;
};

static void sample_one(void *ctx, struct customer *c)
{
    struct sample_ctx *x = ctx;
    if (tier_sample_add(x->s, x->cfg, c, x->week) < 0)
        x->rc = -1;
}

int tier_sample_add_table(struct tier_sample *s, const struct config *cfg,
                          struct customer_table *t, int64_t week)
{
    struct sample_ctx x = {s, cfg, week, 0};
    customer_table_each(t, sample_one, &x);
    return x.rc;
}

int tier_sample_push(struct tier_sample *s, uint64_t cents)
{
    if (cents == 0)
        return 0;
    uint64_t *v = vec_reserve(s->cents, &s->cap, s->n + 1, sizeof *v, 1024);
    if (v == NULL)
        return -1;
    s->cents = v;
    s->cents[s->n++] = cents;
    return 0;
}

/* The k-th largest of v[0..n) (1 <= k <= n), reordering v: quickselect with a
 * three-way partition (many buyers spend the same), O(n) on average instead of a sort. */
static uint64_t kth_largest(uint64_t *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n, want = k - 1; /* index in descending order */
    while (hi - lo > 1) {
        uint64_t a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi - 1];
        uint64_t pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        /* [lo, gt) > pivot, [gt, i) == pivot, [lt, hi) < pivot */
        size_t gt = lo, i = lo, lt = hi;
        while (i < lt) {
            if (v[i] > pivot) {
                uint64_t t = v[gt];
                v[gt++] = v[i];
                v[i++] = t;
            } else if (v[i] < pivot) {
                uint64_t t = v[--lt];
                v[lt] = v[i];
                v[i] = t;
            } else {
                i++;
            }
        }
        if (want < gt)
            hi = gt;
        else if (want < lt)
            return pivot;
        else
            lo = lt;
    }
    return v[lo];
}

/* The spend of the last buyer inside the top `share` (at least one buyer). */
static uint64_t cutoff(struct tier_sample *s, double share)
{
    double want = share * (double)s->n;
    size_t k = (size_t)want;
    if ((double)k < want)
        k++; /* ceil */
    if (k < 1)
        k = 1;
    if (k > s->n)
        k = s->n;
    return kth_largest(s->cents, s->n, k);
}

void tier_cutoffs_compute(const struct config *cfg, struct tier_sample *s, int64_t week,
                          struct tier_cutoffs *out)
{
    out->week = week;
    out->buyers = s->n > UINT32_MAX ? UINT32_MAX : (uint32_t)s->n;
    out->key_cents = out->strategic_cents = UINT64_MAX; /* nobody */
    if (s->n > 0 && s->n >= cfg->tiers_min_buyers) {
        out->key_cents = cutoff(s, cfg->tiers_key_share);
        if (cfg->tiers_strategic_share > 0)
            out->strategic_cents = cutoff(s, cfg->tiers_strategic_share);
    }
    s->n = 0;
}

/* ---- spend index: open addressing on the id hash (never 0), linear probing ---- */

struct spend_week {
    uint8_t back;   /* weeks before top_week */
    uint64_t cents;
};
struct spend_rec {
    uint64_t id_hash;
    int64_t top_week; /* the week of the customer's spend_ms */
    uint8_t n;
    struct spend_week w[]; /* n non-zero weeks */
};
struct spend_index {
    struct spend_rec **slot; /* NULL = empty; TOMBSTONE = removed */
    size_t mask, count, used; /* used: live + tombstones */
};
static struct spend_rec tombstone_rec;
#define TOMBSTONE (&tombstone_rec)

struct spend_index *spend_index_new(void)
{
    struct spend_index *x = calloc(1, sizeof *x);
    if (x == NULL)
        return NULL;
    x->slot = calloc(64, sizeof *x->slot);
    if (x->slot == NULL) {
        free(x);
        return NULL;
    }
    x->mask = 63;
    return x;
}

void spend_index_free(struct spend_index *x)
{
    if (x == NULL)
        return;
    for (size_t i = 0; i <= x->mask; i++)
        if (x->slot[i] != NULL && x->slot[i] != TOMBSTONE)
            free(x->slot[i]);
    free(x->slot);
    free(x);
}

size_t spend_index_count(const struct spend_index *x)
{
    return x->count;
}

/* The slot holding h, or else the first free one (a tombstone or an empty slot). */
static size_t index_find(const struct spend_index *x, uint64_t h, bool *found)
{
    size_t i = h & x->mask, free_at = SIZE_MAX;
    for (;; i = (i + 1) & x->mask) {
        struct spend_rec *r = x->slot[i];
        if (r == NULL) {
            *found = false;
            return free_at != SIZE_MAX ? free_at : i;
        }
        if (r == TOMBSTONE) {
            if (free_at == SIZE_MAX)
                free_at = i;
        } else if (r->id_hash == h) {
            *found = true;
            return i;
        }
    }
}

/* Rebuilds the table at a size that keeps live + tombstones at or below half. */
static int index_rehash(struct spend_index *x)
{
    size_t n = 64;
    while (n < 4 * (x->count + 1))
        n *= 2;
    struct spend_rec **s = calloc(n, sizeof *s);
    if (s == NULL)
        return -1;
    for (size_t i = 0; i <= x->mask; i++) {
        struct spend_rec *r = x->slot[i];
        if (r == NULL || r == TOMBSTONE)
            continue;
        size_t j = r->id_hash & (n - 1);
        while (s[j] != NULL)
            j = (j + 1) & (n - 1);
        s[j] = r;
    }
    free(x->slot);
    x->slot = s;
    x->mask = n - 1;
    x->used = x->count;
    return 0;
}

/* The index's key of a customer id. */
static uint64_t id_key(const char *id)
{
    return cw_hash64(id, strlen(id), 0);
}

void spend_index_remove(struct spend_index *x, const char *customer_id)
{
    uint64_t id_hash = id_key(customer_id);
    bool found;
    size_t i = index_find(x, id_hash, &found);
    if (!found)
        return;
    free(x->slot[i]);
    x->slot[i] = TOMBSTONE;
    x->count--;
}

int spend_index_put(struct spend_index *x, const struct customer *c)
{
    uint64_t id_hash = id_key(c->id);
    int64_t top = cw_week_of(c->spend_ms);
    uint8_t n = 0;
    for (int b = 0; b < CW_SPEND_BUCKETS; b++)
        n += c->spend[customer_spend_slot(top - b)] != 0;
    if (n == 0) {
        spend_index_remove(x, c->id);
        return 0;
    }
    struct spend_rec *r = malloc(sizeof *r + n * sizeof r->w[0]);
    if (r == NULL)
        return -1;
    r->id_hash = id_hash;
    r->top_week = top;
    r->n = 0;
    for (int b = 0; b < CW_SPEND_BUCKETS; b++) {
        uint64_t cents = c->spend[customer_spend_slot(top - b)];
        if (cents != 0)
            r->w[r->n++] = (struct spend_week){(uint8_t)b, cents};
    }
    if ((x->used + 1) * 2 > x->mask + 1 && index_rehash(x) < 0) {
        free(r);
        return -1;
    }
    bool found;
    size_t i = index_find(x, id_hash, &found);
    if (found) {
        free(x->slot[i]);
    } else {
        if (x->slot[i] == NULL)
            x->used++;
        x->count++;
    }
    x->slot[i] = r;
    return 0;
}

int tier_sample_add_index(struct tier_sample *s, const struct config *cfg,
                          const struct spend_index *x, int64_t week)
{
    /* the same weeks tier_trailing_cents sums, clipped to the ring as it does */
    int64_t first = week - window_weeks(cfg), last = week - 1;
    for (size_t i = 0; i <= x->mask; i++) {
        const struct spend_rec *r = x->slot[i];
        if (r == NULL || r == TOMBSTONE)
            continue;
        uint64_t cents = 0;
        for (uint8_t k = 0; k < r->n; k++) {
            int64_t w = r->top_week - r->w[k].back;
            if (w >= first && w <= last)
                cents += r->w[k].cents;
        }
        if (tier_sample_push(s, cents) < 0)
            return -1;
    }
    return 0;
}

void tier_sample_free(struct tier_sample *s)
{
    free(s->cents);
    s->cents = NULL;
    s->n = s->cap = 0;
}

bool tier_cutoffs_stale(const struct config *cfg, const struct tier_cutoffs *t, int64_t clock_ms)
{
    return cfg->tiers_derive && (t->week == TIER_WEEK_NONE || cw_week_of(clock_ms) > t->week);
}

int tier_derive(const struct config *cfg, const struct tier_cutoffs *t, const struct customer *c,
                int64_t ts_ms)
{
    if (!cfg->tiers_derive || c->tier_set)
        return -1;
    if (t->week == TIER_WEEK_NONE)
        return TIER_STANDARD;
    int64_t week = cw_week_of(ts_ms) < t->week ? t->week : cw_week_of(ts_ms);
    uint64_t cents = tier_trailing_cents(cfg, c, week);
    if (cents > 0 && cents >= t->strategic_cents)
        return TIER_STRATEGIC;
    if (cents > 0 && cents >= t->key_cents)
        return TIER_KEY;
    return TIER_STANDARD;
}

void tier_cutoffs_format(const struct tier_cutoffs *t, char *buf, size_t len)
{
    snprintf(buf, len, "%" PRId64 " %" PRIu64 " %" PRIu64 " %" PRIu32, t->week, t->key_cents,
             t->strategic_cents, t->buyers);
}

int tier_cutoffs_parse(const char *s, struct tier_cutoffs *t)
{
    int used = 0;
    if (sscanf(s, "%" SCNd64 " %" SCNu64 " %" SCNu64 " %" SCNu32 "%n", &t->week, &t->key_cents,
               &t->strategic_cents, &t->buyers, &used) != 4 ||
        s[used] != '\0')
        return -1;
    return 0;
}
