/* late_buffer.c — see late_buffer.h. */
#include "late_buffer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event_codec.h"
#include "vec.h"

int64_t late_watermark(int64_t clock_ms, int64_t lateness_ms)
{
    if (lateness_ms <= 0)
        return clock_ms;
    return clock_ms < INT64_MIN + lateness_ms ? INT64_MIN : clock_ms - lateness_ms;
}

static bool before(const struct late_entry *a, const struct late_entry *b)
{
    return a->ts_ms < b->ts_ms || (a->ts_ms == b->ts_ms && a->order < b->order);
}

/* Makes room for `need` entries in *v. Returns 0 or -1. */
static int grow(struct late_entry ***v, size_t *cap, size_t need)
{
    struct late_entry **nv = vec_reserve(*v, cap, need, sizeof *nv, 64);
    if (nv == NULL)
        return -1;
    *v = nv;
    return 0;
}

static void sift_up(struct late_buffer *b, size_t i)
{
    struct late_entry *e = b->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(e, b->heap[parent]))
            break;
        b->heap[i] = b->heap[parent];
        i = parent;
    }
    b->heap[i] = e;
}

static void sift_down(struct late_buffer *b, size_t i)
{
    struct late_entry *e = b->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= b->n)
            break;
        if (c + 1 < b->n && before(b->heap[c + 1], b->heap[c]))
            c++;
        if (!before(b->heap[c], e))
            break;
        b->heap[i] = b->heap[c];
        i = c;
    }
    b->heap[i] = e;
}

/* Inserts a new entry (owned by the buffer from now on). */
static int insert(struct late_buffer *b, struct late_entry *e, bool is_new)
{
    if (grow(&b->heap, &b->cap, b->n + 1) < 0 ||
        (is_new && grow(&b->added, &b->added_cap, b->n_added + 1) < 0) ||
        grow(&b->removed, &b->removed_cap, b->n_removed + b->n + 1) < 0) {
        free(e);
        return -1;
    }
    b->heap[b->n] = e;
    sift_up(b, b->n++);
    if (is_new)
        b->added[b->n_added++] = e;
    return 0;
}

int late_buffer_push(struct late_buffer *b, const struct event *ev, uint64_t order)
{
    uint8_t enc[CW_EVENT_ENCODED_MAX];
    size_t n = event_encode(ev, enc, sizeof enc);
    if (n == 0)
        return -1;
    struct late_entry *e = malloc(sizeof *e + 8 + n);
    if (e == NULL)
        return -1;
    e->ts_ms = ev->ts_ms;
    e->order = order;
    e->stored = false;
    e->released = false;
    e->len = 8 + n;
    for (int i = 0; i < 8; i++)
        e->member[i] = (uint8_t)(order >> (56 - 8 * i));
    memcpy(e->member + 8, enc, n);
    return insert(b, e, true);
}

int late_buffer_push_stored(struct late_buffer *b, int64_t ts_ms, const uint8_t *member,
                            size_t len)
{
    struct event ev;
    if (len < 9 || event_decode(member + 8, len - 8, &ev) < 0 || ev.ts_ms != ts_ms)
        return -1;
    struct late_entry *e = malloc(sizeof *e + len);
    if (e == NULL)
        return -1;
    e->ts_ms = ts_ms;
    e->order = 0;
    for (int i = 0; i < 8; i++)
        e->order = e->order << 8 | member[i];
    e->stored = true;
    e->released = false;
    e->len = len;
    memcpy(e->member, member, len);
    return insert(b, e, false);
}

size_t late_buffer_count(const struct late_buffer *b)
{
    return b->n;
}

bool late_buffer_peek(const struct late_buffer *b, struct event *ev)
{
    /* every member was validated when it was held */
    return b->n > 0 && event_decode(b->heap[0]->member + 8, b->heap[0]->len - 8, ev) == 0;
}

void late_buffer_pop(struct late_buffer *b)
{
    if (b->n == 0)
        return;
    struct late_entry *e = b->heap[0];
    b->heap[0] = b->heap[--b->n];
    if (b->n > 0)
        sift_down(b, 0);
    e->released = true;
    /* room was reserved by insert: removed can hold every entry ever held */
    b->removed[b->n_removed++] = e;
}

void late_buffer_committed(struct late_buffer *b)
{
    for (size_t i = 0; i < b->n_added; i++)
        if (!b->added[i]->released)
            b->added[i]->stored = true;
    b->n_added = 0;
    for (size_t i = 0; i < b->n_removed; i++)
        free(b->removed[i]);
    b->n_removed = 0;
}

void late_buffer_free(struct late_buffer *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->heap[i]);
    for (size_t i = 0; i < b->n_removed; i++)
        free(b->removed[i]);
    free(b->heap);
    free(b->added);
    free(b->removed);
    memset(b, 0, sizeof *b);
}
