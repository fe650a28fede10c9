/* sink_log.c — one log line per alert (synchronous: settled as soon as it is written). */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sink.h"

struct sink_log {
    struct sink base;
    size_t submitted;
};

static int sink_log_submit(struct sink *s, const struct outbox_batch *b)
{
    struct sink_log *l = (struct sink_log *)s;
    for (size_t i = 0; i < b->n; i++)
        log_msg(LOG_LVL_WARN, "alert %.*s", (int)b->e[i].json_len, b->e[i].json);
    l->submitted = b->n;
    return 0;
}

static bool sink_log_settle(struct sink *s, size_t *delivered)
{
    *delivered = ((struct sink_log *)s)->submitted;
    return true;
}

static void sink_log_free(struct sink *s)
{
    free(s);
}

static const struct sink_ops sink_log_ops = {sink_log_submit, sink_log_settle, NULL,
                                             sink_log_free, NULL};

struct sink *sink_log_new(void)
{
    struct sink_log *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->base.ops = &sink_log_ops;
    strcpy(l->base.name, "log");
    return &l->base;
}

void sink_free(struct sink *s)
{
    if (s)
        s->ops->free(s);
}
