/* replay.c — the daemon's decoder, rules and alert lifecycle over a JSON-lines file, in
 * event time, with an in-memory store (customer_table + due_queue). */
#include "replay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "backtest.h"
#include "customer_table.h"
#include "decode.h"
#include "due_queue.h"
#include "rules.h"
#include "late_buffer.h"
#include "tiers.h"

#define REPORT_MAX 10 /* rejected lines reported one by one */
#define DEFAULT_MAX_BYTES 65536

struct replay {
    const struct config *cfg;
    const struct topic_config *topic;
    struct customer_table *table; /* owned */
    struct due_queue due;         /* owned; ids borrowed from the table's customers */
    struct notice_list notices;
    struct alert_list alerts; /* owned, reused for every call */
    FILE *out, *err;
    const char *name;
    struct backtest *bt; /* borrowed, may be NULL */
    bool no_alerts;
    struct replay_stats *st;
    int64_t event_clock;        /* latest event time applied (the partition clock) */
    struct tier_cutoffs tiers;  /* derived tiers, over all customers of the file */
    struct tier_sample sample;  /* owned; scratch for the cut-offs */
    struct late_buffer held;    /* owned; events held back for engine.lateness */
};

/* Formats and prints the notices of one rules call for customer c. */
static int emit(struct replay *r, const struct customer *c)
{
    if (r->notices.count == 0)
        return 0;
    if (!r->no_alerts) {
        alert_list_clear(&r->alerts);
        if (alert_format_all(r->cfg, c, &r->notices, &r->alerts) < 0) {
            fprintf(r->err, "replay: out of memory\n");
            return -1;
        }
        for (size_t i = 0; i < r->alerts.count; i++) {
            fwrite(alert_list_get(&r->alerts, i), 1, r->alerts.length[i], r->out);
            fputc('\n', r->out);
        }
    }
    for (int i = 0; i < r->notices.count; i++) {
        const struct notice *n = &r->notices.n[i];
        if (r->bt != NULL && backtest_notice(r->bt, c->id, n->rule, n->firing, n->repeat,
                                             n->started_ms, n->ts_ms) < 0) {
            fprintf(r->err, "replay: out of memory\n");
            return -1;
        }
        if (n->firing) {
            r->st->alerts_firing++;
            if (n->repeat)
                r->st->alerts_repeat++;
        } else {
            r->st->alerts_resolved++;
        }
    }
    return 0;
}

/* Queues c's next due time. Replay never removes a customer, so the entry can point at
 * it: no table lookup when it is popped or compacted. */
static int schedule(struct replay *r, struct customer *c)
{
    if (c->next_due_ms == CW_NO_DUE)
        return 0;
    if (due_queue_push(&r->due, c->next_due_ms, c->id, c) < 0) {
        fprintf(r->err, "replay: out of memory\n");
        return -1;
    }
    return 0;
}

static bool entry_live(void *ctx, const struct due_entry *e)
{
    (void)ctx;
    const struct customer *c = e->item;
    return c->next_due_ms == e->due_ms;
}

/* Advances every customer due at or before `clock`, earliest first, each to its due time. */
static int fire_due(struct replay *r, int64_t clock)
{
    struct due_entry e;
    while (due_queue_peek(&r->due, &e) && e.due_ms <= clock) {
        due_queue_pop(&r->due, NULL);
        struct customer *c = e.item;
        if (c->next_due_ms != e.due_ms)
            continue; /* stale: the customer's due time moved since */
        r->notices.count = 0;
        rules_advance(r->cfg, c, e.due_ms, &r->notices);
        if (emit(r, c) < 0)
            return -1;
        /* rules_advance leaves next_due_ms after the time it advanced to */
        if (c->next_due_ms > e.due_ms && schedule(r, c) < 0)
            return -1;
    }
    /* drop stale entries once they outnumber the live ones */
    if (due_queue_size(&r->due) > 2 * customer_table_count(r->table) + 1024)
        due_queue_compact(&r->due, entry_live, r);
    return 0;
}

/* Computes the tier cut-offs for the week of `clock` over every customer, as the daemon
 * does per partition (tiers.h). */
static int update_tiers(struct replay *r, int64_t clock)
{
    int64_t week = cw_week_of(clock);
    if (tier_sample_add_table(&r->sample, r->cfg, r->table, week) < 0) {
        fprintf(r->err, "replay: out of memory\n");
        return -1;
    }
    tier_cutoffs_compute(r->cfg, &r->sample, week, &r->tiers);
    return 0;
}

static int apply(struct replay *r, const struct event *ev)
{
    bool created;
    struct customer *c = customer_table_upsert(r->table, ev->customer_id, &created);
    if (c == NULL) {
        fprintf(r->err, "replay: out of memory\n");
        return -1;
    }
    if (ev->ts_ms > r->event_clock)
        r->event_clock = ev->ts_ms;
    if (tier_cutoffs_stale(r->cfg, &r->tiers, r->event_clock) &&
        update_tiers(r, r->event_clock) < 0)
        return -1;
    int tier = tier_derive(r->cfg, &r->tiers, c, ev->ts_ms);
    int64_t before = c->next_due_ms;
    r->notices.count = 0;
    if (rules_apply_event_tier(r->cfg, c, ev, tier, &r->notices) == APPLY_DUPLICATE) {
        r->st->duplicates++;
        return 0;
    }
    r->st->accepted++;
    if (r->bt != NULL && backtest_observe(r->bt, ev->customer_id, ev->ts_ms) < 0) {
        fprintf(r->err, "replay: out of memory\n");
        return -1;
    }
    if (emit(r, c) < 0)
        return -1;
    if (c->next_due_ms != before && schedule(r, c) < 0)
        return -1;
    return 0;
}

/* Applies the held events due by `watermark`, earliest first, each after the timers due
 * before it. *clock is the timers' clock (it only moves forward). */
static int release_held(struct replay *r, int64_t watermark, int64_t *clock)
{
    struct event ev;
    while (late_buffer_peek(&r->held, &ev) && ev.ts_ms <= watermark) {
        late_buffer_pop(&r->held);
        if (ev.ts_ms > *clock)
            *clock = ev.ts_ms;
        if (fire_due(r, *clock) < 0 || apply(r, &ev) < 0)
            return -1;
    }
    late_buffer_committed(&r->held); /* nothing to store: frees the released entries */
    return 0;
}

static bool blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

static int run(struct replay *r, FILE *in, const struct replay_opts *opts)
{
    const struct config *cfg = r->cfg;
    size_t max_bytes = cfg->max_message_bytes ? cfg->max_message_bytes : DEFAULT_MAX_BYTES;
    int64_t lateness = cfg->lateness_ms > 0 ? cfg->lateness_ms : 0;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t n;
    uint64_t lineno = 0;
    bool have_clock = false;
    int64_t clock = 0, seen = 0;
    int rc = 0;

    errno = 0;
    while ((n = getline(&line, &line_cap, in)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        if (len > 0 && line[len - 1] == '\n')
            len--;
        if (blank(line, len))
            continue;
        r->st->events++;

        struct event ev;
        enum reject_reason why = REJ_NONE;
        char msg[256] = "";
        if (decode_event(r->topic, max_bytes, line, len, &ev, &why, msg, sizeof msg) < 0) {
            if ((unsigned)why >= REJ__COUNT || why == REJ_NONE)
                why = REJ_INVALID_JSON;
            r->st->rejected++;
            r->st->rejected_by[why]++;
            if (r->st->rejected <= REPORT_MAX)
                fprintf(r->err, "%s:%" PRIu64 ": rejected (%s): %s\n", r->name, lineno,
                        reject_reason_name(why), msg);
            continue;
        }
        /* held until the latest event time seen, minus lateness, reaches its time */
        if (!have_clock || ev.ts_ms > seen)
            seen = ev.ts_ms;
        int64_t watermark = late_watermark(seen, lateness);
        if (!have_clock) {
            clock = watermark;
            have_clock = true;
        }
        if (release_held(r, watermark, &clock) < 0) {
            rc = -1;
            break;
        }
        if (watermark > clock)
            clock = watermark;
        if (fire_due(r, clock) < 0) {
            rc = -1;
            break;
        }
        if (lateness > 0 && ev.ts_ms > watermark) {
            if (late_buffer_push(&r->held, &ev, lineno) < 0) {
                fprintf(r->err, "replay: out of memory\n");
                rc = -1;
                break;
            }
        } else {
            if (lateness > 0)
                r->st->late++;
            if (apply(r, &ev) < 0) {
                rc = -1;
                break;
            }
        }
    }
    /* the input is complete: nothing more can arrive before the held events */
    if (rc == 0 && release_held(r, INT64_MAX, &clock) < 0)
        rc = -1;
    if (rc == 0 && ferror(in)) {
        fprintf(r->err, "%s: read error: %s\n", r->name, strerror(errno ? errno : EIO));
        rc = -1;
    }
    free(line);
    if (rc < 0)
        return -1;

    if (opts->has_until && (!have_clock || opts->until_ms > clock)) {
        clock = opts->until_ms;
        have_clock = true;
    }
    if (have_clock && fire_due(r, clock) < 0)
        return -1;
    if (r->bt != NULL && have_clock)
        backtest_set_end(r->bt, clock);
    if (r->st->rejected > REPORT_MAX)
        fprintf(r->err, "%s: %" PRIu64 " more rejected lines not shown\n", r->name,
                r->st->rejected - REPORT_MAX);
    return 0;
}

int replay_run(const struct config *cfg, FILE *in, const char *in_name,
               const struct replay_opts *opts, FILE *out, FILE *err, struct replay_stats *stats)
{
    static const struct replay_opts no_opts;
    struct replay_stats local_stats;
    struct topic_config default_topic;
    bool own_topic = false;
    struct replay r = {.cfg = cfg, .out = out, .err = err, .name = in_name ? in_name : "-",
                       .event_clock = INT64_MIN, .tiers = {.week = TIER_WEEK_NONE}};
    int rc = -1;

    if (opts == NULL)
        opts = &no_opts;
    r.bt = opts->backtest;
    r.no_alerts = opts->no_alerts;
    r.st = stats ? stats : &local_stats;
    memset(r.st, 0, sizeof *r.st);
    due_queue_init(&r.due);

    if (opts->topic != NULL) {
        r.topic = config_topic(cfg, opts->topic);
        if (r.topic == NULL) {
            fprintf(err, "replay: no topic \"%s\" in %s\n", opts->topic,
                    cfg->path ? cfg->path : "the configuration");
            return -1;
        }
    } else {
        if (topic_config_init_default(&default_topic, "replay") < 0) {
            fprintf(err, "replay: out of memory\n");
            return -1;
        }
        own_topic = true;
        r.topic = &default_topic;
    }
    r.table = customer_table_new();
    if (r.table == NULL) {
        fprintf(err, "replay: out of memory\n");
        goto done;
    }
    rc = run(&r, in, opts);
    r.st->customers = customer_table_count(r.table);
    if (fflush(out) != 0 || ferror(out)) {
        fprintf(err, "replay: write error: %s\n", strerror(errno ? errno : EIO));
        rc = -1;
    }
done:
    customer_table_free(r.table);
    due_queue_free(&r.due);
    tier_sample_free(&r.sample);
    late_buffer_free(&r.held);
    alert_list_free(&r.alerts);
    if (own_topic)
        topic_config_clear(&default_topic);
    return rc;
}

void replay_stats_format(const struct replay_stats *s, char *buf, size_t len)
{
    char reasons[512] = "";
    size_t used = 0;
    for (int i = 0; i < REJ__COUNT; i++) {
        if (s->rejected_by[i] == 0)
            continue;
        int k = snprintf(reasons + used, sizeof reasons - used, "%s%s %" PRIu64,
                         used ? ", " : " (", reject_reason_name((enum reject_reason)i),
                         s->rejected_by[i]);
        if (k < 0 || (size_t)k >= sizeof reasons - used)
            break;
        used += (size_t)k;
    }
    if (used > 0 && used + 1 < sizeof reasons)
        strcat(reasons, ")");
    char late[48] = "";
    if (s->late > 0)
        snprintf(late, sizeof late, ", %" PRIu64 " late", s->late);
    snprintf(buf, len,
             "replay: %" PRIu64 " events, %" PRIu64 " accepted, %" PRIu64 " rejected%s, %" PRIu64
             " duplicates%s, %" PRIu64 " alerts (%" PRIu64 " firing, %" PRIu64
             " resolved), %" PRIu64 " customers",
             s->events, s->accepted, s->rejected, reasons, s->duplicates, late,
             s->alerts_firing + s->alerts_resolved, s->alerts_firing, s->alerts_resolved,
             s->customers);
}
