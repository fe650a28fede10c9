/* health.c — see health.h. */
#include "health.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define REASON_MAX 256

struct health {
    _Atomic int64_t beat_ms; /* clock_mono_ms of the last beat */
    pthread_mutex_t lock;    /* guards reason */
    char reason[REASON_MAX]; /* "" = ready */
};

bool readiness_check(const struct readiness *r, char *reason, size_t len)
{
    if (r->stopping)
        snprintf(reason, len, "stopping");
    else if (!r->redis_connected)
        snprintf(reason, len, "redis: not connected");
    else if (r->claiming >= 0)
        snprintf(reason, len, "claiming partition %" PRId32 " in redis", r->claiming);
    else if (!r->subscribed)
        snprintf(reason, len, "kafka: not subscribed yet");
    else if (!r->assigned)
        snprintf(reason, len, "kafka: waiting for the consumer group's first assignment");
    else if (r->outbox_full >= 0)
        snprintf(reason, len,
                 "outbox: partition %" PRId32 " is full (engine.max_outbox), consumption paused",
                 r->outbox_full);
    else if (r->failing_sink != NULL && r->sink_failing_ms >= HEALTH_SINK_GRACE_MS)
        snprintf(reason, len, "sink %s: failing for %.0f s", r->failing_sink,
                 (double)r->sink_failing_ms / 1000.0);
    else
        return true;
    return false;
}

struct health *health_new(void)
{
    struct health *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    if (pthread_mutex_init(&h->lock, NULL) != 0) {
        free(h);
        return NULL;
    }
    atomic_init(&h->beat_ms, clock_mono_ms());
    strcpy(h->reason, "starting");
    return h;
}

void health_free(struct health *h)
{
    if (h == NULL)
        return;
    pthread_mutex_destroy(&h->lock);
    free(h);
}

void health_beat(struct health *h)
{
    atomic_store_explicit(&h->beat_ms, clock_mono_ms(), memory_order_relaxed);
}

void health_set_not_ready(struct health *h, const char *reason)
{
    pthread_mutex_lock(&h->lock);
    snprintf(h->reason, sizeof h->reason, "%s", reason ? reason : "");
    pthread_mutex_unlock(&h->lock);
}

bool health_live(struct health *h, int64_t now_ms, char *reason, size_t len)
{
    int64_t age = now_ms - atomic_load_explicit(&h->beat_ms, memory_order_relaxed);
    if (age < HEALTH_STALL_MS)
        return true;
    snprintf(reason, len, "main loop stalled: no iteration for %.1f s", (double)age / 1000.0);
    return false;
}

bool health_ready(struct health *h, int64_t now_ms, char *reason, size_t len)
{
    if (!health_live(h, now_ms, reason, len))
        return false;
    pthread_mutex_lock(&h->lock);
    bool ready = h->reason[0] == '\0';
    if (!ready)
        snprintf(reason, len, "%s", h->reason);
    pthread_mutex_unlock(&h->lock);
    return ready;
}
