/* health.h — liveness and readiness, as /healthz and /readyz report them
 * (docs/metrics.md, "Health").
 *
 * Live: the main loop is turning: it beat (health_beat) within HEALTH_STALL_MS. The
 * loop beats every iteration (at most kafka.batch.max_time plus a commit apart) and in
 * every wait of its own (for Redis at start-up, claiming a partition).
 * Ready: live, and the pipeline's own view (struct readiness) has nothing against it.
 *
 * Threads: the main thread beats and publishes; the HTTP server's thread reads. The beat
 * is an atomic; the reason for not being ready is a short text under a mutex. */
#ifndef CW_HEALTH_H
#define CW_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEALTH_STALL_MS 30000      /* no beat for this long: not alive (= WatchdogSec) */
#define HEALTH_SINK_GRACE_MS 60000 /* a sink failing this long: not ready */

/* What the pipeline knows that makes the daemon ready or not. */
struct readiness {
    bool stopping;        /* SIGTERM received: finishing and leaving the group */
    bool redis_connected; /* the store has a connection */
    bool subscribed;      /* the consumer is created and has joined */
    bool assigned;        /* the group answered the join with an assignment (maybe empty) */
    int32_t claiming;     /* a partition being claimed (waiting for Redis), else -1 */
    int32_t outbox_full;  /* a partition paused for a full outbox (engine.max_outbox), else -1 */
    const char *failing_sink; /* the sink failing longest, NULL if none fails */
    int64_t sink_failing_ms;  /* for how long */
};

/* Returns true when r has nothing against readiness; else false with the first reason,
 * one short line, in reason. Pure. */
bool readiness_check(const struct readiness *r, char *reason, size_t len);

struct health;

/* A new state, beaten now and not ready ("starting"); NULL on ENOMEM. health_free
 * accepts NULL. */
struct health *health_new(void);
void health_free(struct health *h);

/* Main thread. */
void health_beat(struct health *h);
/* Publishes readiness: NULL for ready, else why not (copied). */
void health_set_not_ready(struct health *h, const char *reason);

/* Any thread; now_ms is clock_mono_ms(). Both return true, or false with the reason. */
bool health_live(struct health *h, int64_t now_ms, char *reason, size_t len);
bool health_ready(struct health *h, int64_t now_ms, char *reason, size_t len);

#endif
