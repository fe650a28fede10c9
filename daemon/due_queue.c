/* due_queue.c — binary min-heap of (due_ms, id), ties broken by id. */
#include "due_queue.h"

#include <stdlib.h>
#include <string.h>

#include "vec.h"

static bool entry_less(const struct due_entry *a, const struct due_entry *b)
{
    if (a->due_ms != b->due_ms)
        return a->due_ms < b->due_ms;
    return strcmp(a->id, b->id) < 0;
}

static void sift_up(struct due_queue *q, size_t i)
{
    struct due_entry x = q->e[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!entry_less(&x, &q->e[parent]))
            break;
        q->e[i] = q->e[parent];
        i = parent;
    }
    q->e[i] = x;
}

static void sift_down(struct due_queue *q, size_t i)
{
    struct due_entry x = q->e[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= q->n)
            break;
        if (child + 1 < q->n && entry_less(&q->e[child + 1], &q->e[child]))
            child++;
        if (!entry_less(&q->e[child], &x))
            break;
        q->e[i] = q->e[child];
        i = child;
    }
    q->e[i] = x;
}

void due_queue_init(struct due_queue *q)
{
    memset(q, 0, sizeof *q);
}

void due_queue_free(struct due_queue *q)
{
    if (q == NULL)
        return;
    free(q->e);
    memset(q, 0, sizeof *q);
}

int due_queue_push(struct due_queue *q, int64_t due_ms, const char *id, void *item)
{
    struct due_entry *e = vec_reserve(q->e, &q->cap, q->n + 1, sizeof *e, 64);
    if (e == NULL)
        return -1;
    q->e = e;
    q->e[q->n].due_ms = due_ms;
    q->e[q->n].id = id;
    q->e[q->n].item = item;
    sift_up(q, q->n++);
    return 0;
}

bool due_queue_peek(const struct due_queue *q, struct due_entry *out)
{
    if (q->n == 0)
        return false;
    *out = q->e[0];
    return true;
}

bool due_queue_pop(struct due_queue *q, struct due_entry *out)
{
    if (q->n == 0)
        return false;
    if (out)
        *out = q->e[0];
    q->e[0] = q->e[--q->n];
    if (q->n > 0)
        sift_down(q, 0);
    return true;
}

void due_queue_compact(struct due_queue *q, bool (*live)(void *ctx, const struct due_entry *e),
                       void *ctx)
{
    size_t kept = 0;
    for (size_t i = 0; i < q->n; i++)
        if (live(ctx, &q->e[i]))
            q->e[kept++] = q->e[i];
    q->n = kept;
    for (size_t i = kept / 2; i-- > 0;)
        sift_down(q, i);
}
