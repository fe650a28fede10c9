/* customer_table.c — customers keyed by id.
 *
 * Customers live in a dense array of pointers (one allocation per customer, so a pointer
 * stays valid until that customer is removed); iteration walks this array, so the order
 * depends only on the history of inserts and removes. An open-addressing index (linear
 * probing, backward-shift deletion, no tombstones) maps cw_hash64(id) to a position in
 * the dense array. A slot whose hash is 0 is empty (cw_hash64 never returns 0). */
#include "customer_table.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vec.h"

#define ID_SEED 0x63757374 /* "cust" */

struct slot {
    uint64_t hash; /* 0 = empty */
    uint32_t idx;  /* position in items */
};

struct customer_table {
    struct customer **items; /* owned, each owned */
    size_t count, items_cap;
    struct slot *slots; /* owned */
    size_t mask;        /* number of slots - 1 (a power of two) */
};

static uint64_t id_hash(const char *id)
{
    return cw_hash64(id, strlen(id), ID_SEED);
}

struct customer_table *customer_table_new(void)
{
    struct customer_table *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->mask = 15;
    t->slots = calloc(t->mask + 1, sizeof *t->slots);
    if (t->slots == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

void customer_table_free(struct customer_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->count; i++)
        free(t->items[i]);
    free(t->items);
    free(t->slots);
    free(t);
}

/* Returns the slot holding `id`, or the empty slot where it would go. */
static size_t find_slot(const struct customer_table *t, const char *id, uint64_t h)
{
    size_t i = h & t->mask;
    while (t->slots[i].hash != 0) {
        if (t->slots[i].hash == h && strcmp(t->items[t->slots[i].idx]->id, id) == 0)
            return i;
        i = (i + 1) & t->mask;
    }
    return i;
}

static int grow_index(struct customer_table *t)
{
    size_t n = (t->mask + 1) * 2;
    struct slot *s = calloc(n, sizeof *s);
    if (s == NULL)
        return -1;
    for (size_t i = 0; i <= t->mask; i++) {
        if (t->slots[i].hash == 0)
            continue;
        size_t j = t->slots[i].hash & (n - 1);
        while (s[j].hash != 0)
            j = (j + 1) & (n - 1);
        s[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = s;
    t->mask = n - 1;
    return 0;
}

struct customer *customer_table_find(struct customer_table *t, const char *id)
{
    size_t i = find_slot(t, id, id_hash(id));
    return t->slots[i].hash ? t->items[t->slots[i].idx] : NULL;
}

struct customer *customer_table_upsert(struct customer_table *t, const char *id, bool *created)
{
    uint64_t h = id_hash(id);
    size_t i = find_slot(t, id, h);
    if (t->slots[i].hash != 0) {
        if (created)
            *created = false;
        return t->items[t->slots[i].idx];
    }
    if (t->count >= UINT32_MAX)
        return NULL;
    /* keep the load factor at or below 1/2 */
    if ((t->count + 1) * 2 > t->mask + 1) {
        if (grow_index(t) < 0)
            return NULL;
        i = find_slot(t, id, h);
    }
    struct customer **items =
        vec_reserve(t->items, &t->items_cap, t->count + 1, sizeof *items, 16);
    if (items == NULL)
        return NULL;
    t->items = items;
    struct customer *c = malloc(sizeof *c);
    if (c == NULL)
        return NULL;
    customer_init(c, id);
    t->items[t->count] = c;
    t->slots[i].hash = h;
    t->slots[i].idx = (uint32_t)t->count;
    t->count++;
    if (created)
        *created = true;
    return c;
}

void customer_table_remove(struct customer_table *t, const char *id)
{
    size_t i = find_slot(t, id, id_hash(id));
    if (t->slots[i].hash == 0)
        return;
    uint32_t idx = t->slots[i].idx;

    /* backward-shift deletion: pull later entries of the probe run into the hole */
    size_t hole = i, j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        if (t->slots[j].hash == 0)
            break;
        size_t home = t->slots[j].hash & t->mask;
        /* the entry at j may move to the hole unless its home lies in (hole, j] */
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            t->slots[hole] = t->slots[j];
            hole = j;
        }
    }
    t->slots[hole].hash = 0;

    /* swap-remove from the dense array and repoint the index of the moved customer */
    free(t->items[idx]);
    size_t last = t->count - 1;
    if (idx != last) {
        struct customer *moved = t->items[last];
        t->items[idx] = moved;
        size_t k = find_slot(t, moved->id, id_hash(moved->id));
        t->slots[k].idx = idx;
    }
    t->count--;
}

size_t customer_table_count(const struct customer_table *t)
{
    return t->count;
}

void customer_table_each(struct customer_table *t, void (*fn)(void *ctx, struct customer *c),
                         void *ctx)
{
    for (size_t i = 0; i < t->count; i++)
        fn(ctx, t->items[i]);
}
