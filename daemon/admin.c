/* admin.c — see admin.h. Reads go through store.h (the daemon's keys), the rules are
 * rules.c's (pure), JSON is built with cJSON, tables with table.h. */
#include "admin.h"

#include <cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "clock.h"
#include "customer.h"
#include "decode.h"
#include "late_buffer.h"
#include "mute.h"
#include "recent.h"
#include "rules.h"
#include "store.h"
#include "table.h"

#define DAY_MS 86400000.0
#define LOAD_CHUNK 500 /* customers read per pipeline by top and ack */

void admin_format_span(int64_t ms, char *out, size_t len)
{
    double a = fabs((double)ms);
    const char *sign = ms < 0 ? "-" : "";
    if (a < 60000.0)
        snprintf(out, len, "%s%.0f s", sign, a / 1000.0);
    else if (a < 3600000.0)
        snprintf(out, len, "%s%.0f min", sign, a / 60000.0);
    else if (a < 2 * DAY_MS)
        snprintf(out, len, "%s%.1f h", sign, a / 3600000.0);
    else
        snprintf(out, len, "%s%.1f d", sign, a / DAY_MS);
}

/* ---- the connection ---- */

struct live {
    const struct config *cfg;
    struct store *s;
    int32_t n_parts;
};

static void live_close(struct live *l)
{
    store_free(l->s);
    l->s = NULL;
}

static int live_open(const struct config *cfg, struct live *l)
{
    memset(l, 0, sizeof *l);
    l->cfg = cfg;
    l->s = store_new(cfg);
    if (l->s == NULL) {
        fprintf(stderr, "churnwatch: out of memory\n");
        return -1;
    }
    char err[512];
    if (store_connect_once(l->s, err, sizeof err) < 0) {
        fprintf(stderr, "churnwatch: cannot reach %s\n", err);
        live_close(l);
        return -1;
    }
    if (store_partition_count(l->s, &l->n_parts) < 0) {
        fprintf(stderr, "churnwatch: Redis %s: cannot read the partitions\n", store_address(l->s));
        live_close(l);
        return -1;
    }
    if (l->n_parts == 0) {
        fprintf(stderr,
                "churnwatch: Redis %s holds no partition under key prefix \"%s\" (has "
                "churnwatchd run with this configuration?)\n",
                store_address(l->s), cfg->key_prefix ? cfg->key_prefix : "cw");
        live_close(l);
        return -1;
    }
    return 0;
}

static void redis_failed(const struct live *l, const char *what)
{
    fprintf(stderr, "churnwatch: Redis %s: %s failed\n", store_address(l->s), what);
}

/* Finds the customer's partition; prints why not. Returns 0 or -1. */
static int live_locate(struct live *l, const char *customer, int32_t *p)
{
    int rc = store_locate(l->s, customer, l->n_parts, p);
    if (rc < 0)
        redis_failed(l, "looking up the customer");
    else if (rc == 1)
        fprintf(stderr,
                "churnwatch: unknown customer \"%s\": no state in any of the %" PRId32
                " partitions under key prefix \"%s\"\n",
                customer, l->n_parts, l->cfg->key_prefix ? l->cfg->key_prefix : "cw");
    return rc == 0 ? 0 : -1;
}

static int live_load(struct live *l, int32_t p, const char *customer, struct customer *c)
{
    bool found = false;
    const char *ids[1] = {customer};
    struct customer *out[1] = {c};
    if (store_load(l->s, p, 1, ids, out, &found) < 0) {
        redis_failed(l, "reading the customer");
        return -1;
    }
    if (!found) {
        fprintf(stderr, "churnwatch: customer \"%s\": its state is gone or does not decode\n",
                customer);
        return -1;
    }
    return 0;
}

static int emit_json(cJSON *root, FILE *out)
{
    char *s = root ? cJSON_Print(root) : NULL;
    int rc = s != NULL && fprintf(out, "%s\n", s) >= 0 ? 0 : -1;
    if (s == NULL)
        fprintf(stderr, "churnwatch: out of memory\n");
    cJSON_free(s);
    cJSON_Delete(root);
    return rc;
}

static void json_time(cJSON *o, const char *name, int64_t ms)
{
    char t[32];
    if (ms == 0 || ms == CW_NO_DUE) {
        cJSON_AddNullToObject(o, name);
        return;
    }
    format_rfc3339(ms, t);
    cJSON_AddStringToObject(o, name, t);
}

/* A silence's until, at, note and whether it is active at `now` (wall clock), into o. */
static void silence_fields(cJSON *o, const struct mute_silence *s, int64_t now)
{
    json_time(o, "until", s->until_ms);
    json_time(o, "at", s->at_ms);
    cJSON_AddStringToObject(o, "note", s->note);
    cJSON_AddBoolToObject(o, "active", s->until_ms > now);
}

/* Rounded to 2 decimals for output. */
static double round2(double v)
{
    return isfinite(v) ? round(v * 100.0) / 100.0 : 0;
}

static void signals_text(const struct customer *c, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (int r = 0; r < RULE__COUNT && n < len; r++) {
        if (!c->alerts[r].active)
            continue;
        int w = snprintf(out + n, len - n, "%s%s", n ? ", " : "", rule_name((enum rule_id)r));
        n += w > 0 ? (size_t)w : 0;
    }
    if (n == 0)
        snprintf(out, len, "-");
}

static cJSON *signals_json(const struct customer *c)
{
    cJSON *a = cJSON_CreateArray();
    for (int r = 0; a && r < RULE__COUNT; r++)
        if (c->alerts[r].active)
            cJSON_AddItemToArray(a, cJSON_CreateString(rule_name((enum rule_id)r)));
    return a;
}

static const char *tier_source(const struct config *cfg, const struct customer *c)
{
    if (c->tier_set)
        return "set by customer.updated";
    return cfg->tiers_derive ? "derived from spend" : "default";
}

/* ---- inspect ---- */

struct inspect {
    const char *id;
    int32_t partition;
    struct partition_meta meta;
    int64_t now, eval;           /* the partition's now; the rules' evaluation time */
    struct customer stored, cur; /* as stored; evaluated at `eval` */
    int pending;                 /* notices the next sweep sends */
    struct notice_list resend;   /* evidence of the open alerts, brought forward to eval */
    int64_t due;
    struct mute_set mute;
    bool have_recent;
    struct recent_result recent;
    char recent_error[300];
    size_t scan; /* messages read back per topic */
};

static const struct notice *open_alert_notice(const struct inspect *x, enum rule_id r)
{
    for (int i = 0; i < x->resend.count; i++)
        if (x->resend.n[i].rule == r)
            return &x->resend.n[i];
    return NULL;
}

static void event_details(const struct recent_event *e, char *out, size_t len)
{
    const struct event *ev = &e->ev;
    if (e->rejected) {
        snprintf(out, len, "rejected: %s", e->reason);
        return;
    }
    switch (ev->type) {
    case EV_ORDER:
    case EV_ORDER_CANCELLED:
        snprintf(out, len, "order_id %s, amount %.2f%s%s", ev->ref_id, ev->amount,
                 ev->currency[0] ? " " : "", ev->currency);
        return;
    case EV_COMPLAINT_OPENED:
        snprintf(out, len, "complaint_id %s%s%s%s%s", ev->ref_id,
                 ev->severity != SEV_NONE ? ", severity " : "",
                 ev->severity != SEV_NONE ? severity_name(ev->severity) : "",
                 ev->category[0] ? ", category " : "", ev->category);
        return;
    case EV_COMPLAINT_RESOLVED:
    case EV_COMPLAINT_REOPENED:
        snprintf(out, len, "complaint_id %s", ev->ref_id);
        return;
    case EV_SUPPORT_OPENED:
        snprintf(out, len, "ticket_id %s%s%s", ev->ref_id, ev->channel[0] ? ", channel " : "",
                 ev->channel);
        return;
    case EV_SUPPORT_REPLIED:
        snprintf(out, len, "ticket_id %s", ev->ref_id);
        return;
    case EV_SUPPORT_CLOSED:
        if (ev->satisfaction > 0)
            snprintf(out, len, "ticket_id %s, satisfaction %d", ev->ref_id, ev->satisfaction);
        else
            snprintf(out, len, "ticket_id %s", ev->ref_id);
        return;
    case EV_CUSTOMER_UPDATED: {
        size_t n = 0;
        out[0] = '\0';
        if (ev->tier >= 0)
            n += (size_t)snprintf(out + n, len - n, "tier %s", tier_name((enum tier)ev->tier));
        if (ev->has_account_manager && n < len)
            n += (size_t)snprintf(out + n, len - n, "%saccount_manager %s", n ? ", " : "",
                                  ev->account_manager);
        if (ev->name[0] && n < len)
            snprintf(out + n, len - n, "%sname %s", n ? ", " : "", ev->name);
        return;
    }
    default:
        out[0] = '\0';
        return;
    }
}

static void evidence_text(const struct notice *n, char *out, size_t len)
{
    if (n == NULL) {
        snprintf(out, len, "-");
        return;
    }
    snprintf(out, len, "%.2f %s (threshold %.2f, baseline %.2f)", round2(n->value), n->unit,
             round2(n->threshold), round2(n->baseline));
}

static cJSON *inspect_json(const struct config *cfg, const struct inspect *x)
{
    const struct customer *s = &x->stored, *c = &x->cur;
    cJSON *o = cJSON_CreateObject(), *st = cJSON_CreateObject();
    if (o == NULL || st == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(st);
        return NULL;
    }
    cJSON_AddStringToObject(o, "customer_id", x->id);
    cJSON_AddNumberToObject(o, "partition", x->partition);
    json_time(o, "clock", x->now);
    json_time(o, "evaluated_at", x->eval);
    cJSON_AddItemToObject(o, "state", st);
    cJSON_AddNumberToObject(st, "orders", s->order_count);
    cJSON_AddNumberToObject(st, "spend", round2(s->total_spend));
    json_time(st, "first_order", s->order_count ? s->first_order_ms : 0);
    json_time(st, "last_order", s->order_count ? s->last_order_ms : 0);
    json_time(st, "last_event", s->last_event_ms);
    cJSON_AddStringToObject(st, "tier", tier_name((enum tier)s->tier));
    cJSON_AddStringToObject(st, "tier_source", tier_source(cfg, s));
    cJSON *cs = cJSON_AddArrayToObject(st, "complaints");
    for (uint8_t i = 0; cs && i < s->n_complaints && i < CW_MAX_OPEN; i++) {
        cJSON *it = cJSON_CreateObject();
        json_time(it, "opened", s->complaints[i].opened_ms);
        cJSON_AddNumberToObject(it, "age_days",
                                round2((double)(x->now - s->complaints[i].opened_ms) / DAY_MS));
        cJSON_AddBoolToObject(it, "reopened", s->complaints[i].reopened);
        cJSON_AddItemToArray(cs, it);
    }
    cJSON *ts = cJSON_AddArrayToObject(st, "tickets");
    for (uint8_t i = 0; ts && i < s->n_tickets && i < CW_MAX_OPEN; i++) {
        cJSON *it = cJSON_CreateObject();
        json_time(it, "opened", s->tickets[i].opened_ms);
        cJSON_AddNumberToObject(it, "age_hours",
                                round2((double)(x->now - s->tickets[i].opened_ms) / 3600000.0));
        cJSON_AddBoolToObject(it, "replied", s->tickets[i].replied);
        cJSON_AddItemToArray(ts, it);
    }
    cJSON_AddBoolToObject(st, "unsubscribed", s->unsubscribed);
    json_time(st, "unsubscribed_at", s->unsubscribed ? s->unsubscribed_ms : 0);
    cJSON_AddBoolToObject(st, "manager_changed", s->manager_changed);
    json_time(st, "manager_changed_since", s->manager_changed ? s->manager_since_ms : 0);
    json_time(st, "manager_changed_last", s->manager_changed ? s->manager_last_ms : 0);
    if (s->low_rating)
        cJSON_AddNumberToObject(st, "low_rating", s->low_rating);
    else
        cJSON_AddNullToObject(st, "low_rating");
    json_time(st, "low_rating_since", s->low_rating ? s->low_since_ms : 0);
    json_time(st, "low_rating_last", s->low_rating ? s->low_last_ms : 0);

    cJSON_AddNumberToObject(o, "score", round2(c->score));
    cJSON_AddStringToObject(o, "level", risk_level_name((enum risk_level)c->level));
    cJSON_AddItemToObject(o, "signals", signals_json(c));
    cJSON *stored = cJSON_AddObjectToObject(o, "stored");
    cJSON_AddNumberToObject(stored, "score", round2(s->score));
    cJSON_AddStringToObject(stored, "level", risk_level_name((enum risk_level)s->level));
    cJSON_AddNumberToObject(o, "pending_notices", x->pending);

    cJSON *alerts = cJSON_AddArrayToObject(o, "alerts");
    for (int r = 0; alerts && r < RULE__COUNT; r++) {
        const struct alert_state *a = &c->alerts[r];
        if (!a->active)
            continue;
        char id[CW_ALERT_ID_LEN + 1];
        alert_id(x->id, (enum rule_id)r, a->started_ms, id);
        cJSON *it = cJSON_CreateObject();
        cJSON_AddStringToObject(it, "alert_id", id);
        cJSON_AddStringToObject(it, "rule", rule_name((enum rule_id)r));
        json_time(it, "started_at", a->started_ms);
        json_time(it, "last_notice", a->last_sent_ms);
        cJSON_AddNumberToObject(it, "repeats", a->repeats);
        const struct notice *n = open_alert_notice(x, (enum rule_id)r);
        if (n != NULL) {
            cJSON *ev = cJSON_AddObjectToObject(it, "evidence");
            cJSON_AddNumberToObject(ev, "value", round2(n->value));
            cJSON_AddNumberToObject(ev, "threshold", round2(n->threshold));
            cJSON_AddNumberToObject(ev, "baseline", round2(n->baseline));
            cJSON_AddStringToObject(ev, "unit", n->unit ? n->unit : "");
        }
        const struct mute_ack *ack = mute_ack_find(&x->mute, id);
        cJSON_AddBoolToObject(it, "acknowledged", ack != NULL);
        if (ack != NULL) {
            json_time(it, "acknowledged_at", ack->at_ms);
            cJSON_AddStringToObject(it, "note", ack->note);
        }
        cJSON_AddItemToArray(alerts, it);
    }
    json_time(o, "next_timer", x->due);
    const struct mute_silence *sil = mute_silence_find(&x->mute, x->id);
    if (sil != NULL) {
        silence_fields(cJSON_AddObjectToObject(o, "silence"), sil, clock_wall_ms());
    } else {
        cJSON_AddNullToObject(o, "silence");
    }
    if (!x->have_recent) {
        cJSON_AddNullToObject(o, "recent_events");
        return o;
    }
    cJSON *re = cJSON_AddObjectToObject(o, "recent_events");
    cJSON_AddStringToObject(re, "source", "kafka");
    if (x->recent_error[0])
        cJSON_AddStringToObject(re, "error", x->recent_error);
    cJSON_AddNumberToObject(re, "scan_per_topic", (double)x->scan);
    cJSON_AddNumberToObject(re, "matched", (double)x->recent.matched);
    cJSON *tl = cJSON_AddArrayToObject(re, "topics");
    for (size_t t = 0; tl && t < x->recent.n_topics; t++) {
        const struct recent_topic *rt = &x->recent.topics[t];
        cJSON *it = cJSON_CreateObject();
        cJSON_AddStringToObject(it, "topic", rt->topic);
        cJSON_AddNumberToObject(it, "partition", x->partition);
        cJSON_AddNumberToObject(it, "from", (double)rt->from);
        cJSON_AddNumberToObject(it, "to", (double)rt->to);
        cJSON_AddBoolToObject(it, "complete", rt->complete);
        if (rt->error[0])
            cJSON_AddStringToObject(it, "error", rt->error);
        cJSON_AddItemToArray(tl, it);
    }
    cJSON *el = cJSON_AddArrayToObject(re, "events");
    for (size_t i = 0; el && i < x->recent.n; i++) {
        const struct recent_event *e = &x->recent.ev[i];
        cJSON *it = cJSON_CreateObject();
        char details[400];
        cJSON_AddStringToObject(it, "topic", e->topic);
        cJSON_AddNumberToObject(it, "offset", (double)e->offset);
        json_time(it, "ts", e->ts_ms);
        cJSON_AddStringToObject(it, "type", e->rejected ? "rejected" : event_type_name(e->ev.type));
        event_details(e, details, sizeof details);
        cJSON_AddStringToObject(it, "details", details);
        cJSON_AddItemToArray(el, it);
    }
    return o;
}

/* "TIME (SPAN before the clock)" */
static void time_ago(int64_t t, int64_t now, char *out, size_t len)
{
    char ts[32], span[32];
    format_rfc3339(t, ts);
    admin_format_span(now - t, span, sizeof span);
    snprintf(out, len, "%s (%s before the clock)", ts, span);
}

static int kv(struct table *t, const char *k, const char *v)
{
    return table_row(t, k, v);
}

static int inspect_text(const struct config *cfg, const struct inspect *x, FILE *out)
{
    const struct customer *s = &x->stored, *c = &x->cur;
    struct table t;
    char b[1024], b2[256], b3[512];
    int rc = table_init(&t, 2);
    kv(&t, "customer", x->id);
    snprintf(b, sizeof b, "%" PRId32, x->partition);
    kv(&t, "partition", b);
    format_rfc3339(x->now, b);
    kv(&t, "clock", x->meta.clock_ms ? b : "none (nothing applied yet)");
    snprintf(b, sizeof b, "%s (%s)", tier_name((enum tier)s->tier), tier_source(cfg, s));
    kv(&t, "tier", b);
    snprintf(b, sizeof b, "%" PRIu32 ", spend %.2f", s->order_count, s->total_spend);
    kv(&t, "orders", b);
    if (s->order_count > 0) {
        format_rfc3339(s->first_order_ms, b);
        kv(&t, "first order", b);
        time_ago(s->last_order_ms, x->now, b, sizeof b);
        kv(&t, "last order", b);
    }
    if (s->last_event_ms)
        time_ago(s->last_event_ms, x->now, b, sizeof b);
    kv(&t, "last event", s->last_event_ms ? b : "none");
    snprintf(b, sizeof b, "%u open", (unsigned)s->n_complaints);
    kv(&t, "complaints", s->n_complaints ? b : "none open");
    for (uint8_t i = 0; i < s->n_complaints && i < CW_MAX_OPEN; i++) {
        time_ago(s->complaints[i].opened_ms, x->now, b2, sizeof b2);
        snprintf(b, sizeof b, "opened %s%s", b2, s->complaints[i].reopened ? ", reopened" : "");
        kv(&t, "", b);
    }
    snprintf(b, sizeof b, "%u open", (unsigned)s->n_tickets);
    kv(&t, "tickets", s->n_tickets ? b : "none open");
    for (uint8_t i = 0; i < s->n_tickets && i < CW_MAX_OPEN; i++) {
        time_ago(s->tickets[i].opened_ms, x->now, b2, sizeof b2);
        snprintf(b, sizeof b, "opened %s, %s", b2,
                 s->tickets[i].replied ? "replied" : "no reply yet");
        kv(&t, "", b);
    }
    if (s->unsubscribed) {
        time_ago(s->unsubscribed_ms, x->now, b2, sizeof b2);
        snprintf(b, sizeof b, "yes, %s", b2);
    }
    kv(&t, "unsubscribed", s->unsubscribed ? b : "no");
    if (s->manager_changed) {
        format_rfc3339(s->manager_since_ms, b2);
        snprintf(b, sizeof b, "changed since %s", b2);
        format_rfc3339(s->manager_last_ms, b2);
        snprintf(b + strlen(b), sizeof b - strlen(b), ", last change %s", b2);
    }
    kv(&t, "manager", s->manager_changed ? b : "no change");
    if (s->low_rating) {
        format_rfc3339(s->low_last_ms, b2);
        snprintf(b, sizeof b, "%u (last low rating %s)", (unsigned)s->low_rating, b2);
    }
    kv(&t, "low rating", s->low_rating ? b : "none");
    snprintf(b, sizeof b, "%.2f", round2(c->score));
    if (c->score != s->score || c->level != s->level)
        snprintf(b + strlen(b), sizeof b - strlen(b),
                 " (stored %.2f %s: timers due by the clock are not swept yet)", round2(s->score),
                 risk_level_name((enum risk_level)s->level));
    kv(&t, "score", b);
    kv(&t, "level", risk_level_name((enum risk_level)c->level));
    signals_text(c, b, sizeof b);
    kv(&t, "signals", b);
    if (x->due != CW_NO_DUE) {
        format_rfc3339(x->due, b2);
        admin_format_span(x->due - x->eval, b3, sizeof b3);
        if (x->due <= x->eval)
            snprintf(b, sizeof b, "%s (due: the next sweep)", b2);
        else
            snprintf(b, sizeof b, "%s (in %s)", b2, b3);
    }
    kv(&t, "next timer", x->due != CW_NO_DUE ? b : "none");
    const struct mute_silence *sil = mute_silence_find(&x->mute, x->id);
    if (sil != NULL) {
        format_rfc3339(sil->until_ms, b2);
        snprintf(b, sizeof b, "%s %s%s%s%s", sil->until_ms > clock_wall_ms() ? "until" : "ended",
                 b2, sil->note[0] ? " (" : "", sil->note, sil->note[0] ? ")" : "");
    }
    kv(&t, "silenced", sil ? b : "no");
    rc |= table_print(&t, "", out);
    table_free(&t);

    struct table a;
    rc |= table_init(&a, 6);
    table_row(&a, "ALERT ID", "RULE", "STARTED", "REPEATS", "EVIDENCE", "ACKNOWLEDGED");
    for (int r = 0; r < RULE__COUNT; r++) {
        const struct alert_state *st = &c->alerts[r];
        if (!st->active)
            continue;
        char id[CW_ALERT_ID_LEN + 1], started[32], repeats[16], ev[200], ack[600];
        alert_id(x->id, (enum rule_id)r, st->started_ms, id);
        format_rfc3339(st->started_ms, started);
        snprintf(repeats, sizeof repeats, "%" PRIu32, st->repeats);
        evidence_text(open_alert_notice(x, (enum rule_id)r), ev, sizeof ev);
        const struct mute_ack *m = mute_ack_find(&x->mute, id);
        if (m != NULL) {
            format_rfc3339(m->at_ms, b2);
            snprintf(ack, sizeof ack, "%s%s%s", b2, m->note[0] ? ": " : "", m->note);
        }
        table_row(&a, id, rule_name((enum rule_id)r), started, repeats, ev, m ? ack : "no");
    }
    a.right[3] = true;
    fprintf(out, "\nopen alerts: %zu\n", a.n_rows - 1);
    if (a.n_rows > 1)
        rc |= table_print(&a, "  ", out);
    table_free(&a);

    if (!x->have_recent)
        return rc;
    fprintf(out,
            "\nrecent events (read back from Kafka, partition %" PRId32 ", the last %zu "
            "messages of each input topic):\n",
            x->partition, x->scan);
    if (x->recent_error[0])
        fprintf(out, "  unavailable: %s\n", x->recent_error);
    for (size_t i = 0; i < x->recent.n_topics; i++) {
        const struct recent_topic *rt = &x->recent.topics[i];
        if (rt->error[0])
            fprintf(out, "  %s: not read: %s\n", rt->topic, rt->error);
        else
            fprintf(out, "  %s: offsets %" PRId64 "..%" PRId64 "%s\n", rt->topic, rt->from, rt->to,
                    rt->complete ? "" : " (incomplete: timed out)");
    }
    fprintf(out, "  %zu of the customer's messages found, the latest %zu shown\n",
            x->recent.matched, x->recent.n);
    if (x->recent.n == 0)
        return rc;
    struct table e;
    rc |= table_init(&e, 5);
    table_row(&e, "TIME", "TOPIC", "OFFSET", "TYPE", "DETAILS");
    for (size_t i = 0; i < x->recent.n; i++) {
        const struct recent_event *ev = &x->recent.ev[i];
        char ts[32], off[24], details[400];
        format_rfc3339(ev->ts_ms, ts);
        snprintf(off, sizeof off, "%" PRId64, ev->offset);
        event_details(ev, details, sizeof details);
        table_row(&e, ts, ev->topic, off, ev->rejected ? "rejected" : event_type_name(ev->ev.type),
                  details);
    }
    e.right[2] = true;
    rc |= table_print(&e, "  ", out);
    table_free(&e);
    return rc;
}

int admin_inspect(const struct config *cfg, const char *customer, const struct inspect_opts *o,
                  FILE *out)
{
    struct live l;
    if (live_open(cfg, &l) < 0)
        return 1;
    struct inspect *x = calloc(1, sizeof *x);
    int rc = 1;
    if (x == NULL) {
        fprintf(stderr, "churnwatch: out of memory\n");
        goto done;
    }
    x->id = customer;
    x->scan = o->scan;
    if (live_locate(&l, customer, &x->partition) < 0)
        goto done;
    if (store_peek(l.s, x->partition, &x->meta) < 0) {
        redis_failed(&l, "reading the partition's offsets");
        goto done;
    }
    if (live_load(&l, x->partition, customer, &x->stored) < 0)
        goto done;
    if (store_due_of(l.s, x->partition, customer, &x->due) < 0 ||
        store_mute_read(l.s, x->partition, &x->mute, false) < 0) {
        redis_failed(&l, "reading the customer's timer, silence and acknowledgements");
        goto done;
    }
    x->now = clock_partition_now(x->meta.clock_ms, cfg->clock == CLOCK_WALL);
    x->eval = late_watermark(x->now, cfg->lateness_ms);
    x->cur = x->stored;
    struct notice_list *nl = malloc(sizeof *nl);
    if (nl == NULL) {
        fprintf(stderr, "churnwatch: out of memory\n");
        goto done;
    }
    nl->count = 0;
    rules_advance(cfg, &x->cur, x->eval, nl);
    x->pending = nl->count;
    free(nl);
    x->resend.count = 0;
    rules_resend_active(cfg, &x->cur, x->eval, &x->resend);
    if (o->events > 0) {
        x->have_recent = true;
        if (recent_scan(cfg, x->partition, customer, o->scan, o->events, o->kafka_timeout_ms,
                        &x->recent, x->recent_error, sizeof x->recent_error) < 0 &&
            x->recent_error[0] == '\0')
            snprintf(x->recent_error, sizeof x->recent_error, "cannot read Kafka");
    }
    if (o->json)
        rc = emit_json(inspect_json(cfg, x), out) == 0 ? 0 : 1;
    else
        rc = inspect_text(cfg, x, out) == 0 ? 0 : 1;
done:
    if (x != NULL) {
        mute_set_free(&x->mute);
        recent_result_free(&x->recent);
        free(x);
    }
    live_close(&l);
    return rc;
}

/* ---- top ---- */

static int risk_cmp(const void *a, const void *b)
{
    const struct risk_entry *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Reads every partition's at-risk set into l, riskiest first. */
static int read_risk(struct live *lv, struct risk_list *l)
{
    if (store_risk_read(lv->s, lv->n_parts, l) < 0) {
        redis_failed(lv, "reading the at-risk sets");
        return -1;
    }
    if (l->n > 0)
        qsort(l->e, l->n, sizeof *l->e, risk_cmp);
    return 0;
}

/* Loads the customers of entries e[0..n) (n <= LOAD_CHUNK), one pipeline per partition;
 * found[i] says which are stored. */
static int load_entries(struct live *lv, const struct risk_entry *e, size_t n, struct customer *c,
                        bool *found)
{
    const char *ids[LOAD_CHUNK];
    struct customer *slots[LOAD_CHUNK];
    size_t idx[LOAD_CHUNK];
    bool f[LOAD_CHUNK], done[LOAD_CHUNK] = {false};
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        size_t m = 0;
        for (size_t j = i; j < n; j++)
            if (!done[j] && e[j].partition == e[i].partition) {
                ids[m] = e[j].id;
                slots[m] = &c[j];
                idx[m++] = j;
                done[j] = true;
            }
        if (store_load(lv->s, e[i].partition, m, ids, slots, f) < 0) {
            redis_failed(lv, "reading customers");
            return -1;
        }
        for (size_t k = 0; k < m; k++)
            found[idx[k]] = f[k];
    }
    return 0;
}

/* Calls visit(arg, k, customer) for each stored customer of the sorted at-risk list l (k:
 * its index in l), loading them LOAD_CHUNK at a time, until visit returns non-zero.
 * Returns 1 when visit stopped it, 0 when all were visited, -1 on an error (reported). */
static int each_at_risk(struct live *lv, const struct risk_list *l,
                        int (*visit)(void *arg, size_t k, const struct customer *c), void *arg)
{
    struct customer *c = malloc(LOAD_CHUNK * sizeof *c);
    bool *found = malloc(LOAD_CHUNK * sizeof *found);
    int rc = c && found ? 0 : -1;
    if (rc < 0)
        fprintf(stderr, "churnwatch: out of memory\n");
    for (size_t base = 0; rc == 0 && base < l->n; base += LOAD_CHUNK) {
        size_t n = l->n - base < LOAD_CHUNK ? l->n - base : LOAD_CHUNK;
        if (load_entries(lv, l->e + base, n, c, found) < 0) {
            rc = -1;
            break;
        }
        for (size_t i = 0; rc == 0 && i < n; i++)
            if (found[i])
                rc = visit(arg, base + i, &c[i]) != 0;
    }
    free(c);
    free(found);
    return rc;
}

/* admin_top's choice: the first `limit` customers that pass its filters. */
struct top_pick {
    const struct top_opts *o;
    size_t *pick;            /* their indexes in the risk list */
    struct customer *picked; /* their states */
    size_t n, cap;
};

static int top_visit(void *arg, size_t k, const struct customer *x)
{
    struct top_pick *t = arg;
    if (rules_at_risk(x) && x->level >= t->o->min_level &&
        (t->o->tier < 0 || x->tier == t->o->tier)) {
        t->pick[t->n] = k;
        t->picked[t->n++] = *x;
    }
    return t->n >= t->cap;
}

int admin_top(const struct config *cfg, const struct top_opts *o, FILE *out)
{
    struct live lv;
    if (live_open(cfg, &lv) < 0)
        return 1;
    struct risk_list l = {0};
    struct top_pick tp = {.o = o};
    int rc = 1;
    if (read_risk(&lv, &l) < 0)
        goto done;
    tp.cap = o->limit < l.n ? o->limit : l.n;
    tp.pick = malloc((tp.cap ? tp.cap : 1) * sizeof *tp.pick);
    tp.picked = malloc((tp.cap ? tp.cap : 1) * sizeof *tp.picked);
    if (tp.pick == NULL || tp.picked == NULL) {
        fprintf(stderr, "churnwatch: out of memory\n");
        goto done;
    }
    if (tp.cap > 0 && each_at_risk(&lv, &l, top_visit, &tp) < 0)
        goto done;
    if (o->json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddNumberToObject(root, "partitions", lv.n_parts);
        cJSON_AddNumberToObject(root, "at_risk", (double)l.n);
        cJSON *list = cJSON_AddArrayToObject(root, "customers");
        for (size_t i = 0; list && i < tp.n; i++) {
            const struct risk_entry *e = &l.e[tp.pick[i]];
            const struct customer *x = &tp.picked[i];
            cJSON *it = cJSON_CreateObject();
            cJSON_AddNumberToObject(it, "rank", (double)(i + 1));
            cJSON_AddStringToObject(it, "customer_id", e->id);
            cJSON_AddNumberToObject(it, "partition", e->partition);
            cJSON_AddNumberToObject(it, "score", round2(x->score));
            cJSON_AddStringToObject(it, "level", risk_level_name((enum risk_level)x->level));
            cJSON_AddStringToObject(it, "tier", tier_name((enum tier)x->tier));
            cJSON_AddItemToObject(it, "signals", signals_json(x));
            json_time(it, "last_order", x->order_count ? x->last_order_ms : 0);
            cJSON_AddItemToArray(list, it);
        }
        rc = emit_json(root, out) == 0 ? 0 : 1;
        goto done;
    }
    struct table t;
    table_init(&t, 8);
    table_row(&t, "RANK", "CUSTOMER", "SCORE", "LEVEL", "TIER", "SIGNALS", "LAST ORDER",
              "PARTITION");
    for (size_t i = 0; i < tp.n; i++) {
        const struct risk_entry *e = &l.e[tp.pick[i]];
        const struct customer *x = &tp.picked[i];
        char rank[24], score[32], sig[400], last[32], part[16];
        snprintf(rank, sizeof rank, "%zu", i + 1);
        snprintf(score, sizeof score, "%.2f", round2(x->score));
        signals_text(x, sig, sizeof sig);
        if (x->order_count)
            format_rfc3339(x->last_order_ms, last);
        else
            snprintf(last, sizeof last, "-");
        snprintf(part, sizeof part, "%" PRId32, e->partition);
        table_row(&t, rank, e->id, score, risk_level_name((enum risk_level)x->level),
                  tier_name((enum tier)x->tier), sig, last, part);
    }
    t.right[0] = t.right[2] = t.right[7] = true;
    fprintf(out, "%zu customers at risk in %" PRId32 " partitions; %zu shown\n", l.n, lv.n_parts,
            tp.n);
    rc = tp.n == 0 || table_print(&t, "", out) == 0 ? 0 : 1;
    table_free(&t);
done:
    free(tp.pick);
    free(tp.picked);
    risk_list_free(&l);
    live_close(&lv);
    return rc;
}

/* ---- ack ---- */

/* Does customer c have a firing alert with this id? Sets *rule. */
static bool has_alert(const struct customer *c, const char *id, enum rule_id *rule)
{
    for (int r = 0; r < RULE__COUNT; r++) {
        char a[CW_ALERT_ID_LEN + 1];
        if (!c->alerts[r].active)
            continue;
        alert_id(c->id, (enum rule_id)r, c->alerts[r].started_ms, a);
        if (strcmp(a, id) == 0) {
            *rule = (enum rule_id)r;
            return true;
        }
    }
    return false;
}

/* find_alert's search. */
struct alert_find {
    const struct risk_list *l;
    const char *id;
    struct customer *who;
    int32_t *p;
    enum rule_id *rule;
};

static int find_visit(void *arg, size_t k, const struct customer *c)
{
    struct alert_find *f = arg;
    if (!has_alert(c, f->id, f->rule))
        return 0;
    *f->who = *c;
    *f->p = f->l->e[k].partition;
    return 1;
}

/* Finds the firing alert among the customers at risk: returns 0 with *who filled, 1 when
 * none has it, -1 on an error (printed). */
static int find_alert(struct live *lv, const char *id, struct customer *who, int32_t *p,
                      enum rule_id *rule)
{
    struct risk_list l = {0};
    struct alert_find f = {&l, id, who, p, rule};
    int rc = read_risk(lv, &l) < 0 ? -1 : each_at_risk(lv, &l, find_visit, &f);
    risk_list_free(&l);
    return rc < 0 ? -1 : rc == 1 ? 0 : 1;
}

int admin_ack(const struct config *cfg, const char *id, const char *customer, const char *note,
              bool json, FILE *out)
{
    if (strlen(id) != CW_ALERT_ID_LEN || strspn(id, "0123456789abcdef") != CW_ALERT_ID_LEN) {
        fprintf(stderr,
                "churnwatch: \"%s\" is not an alert id (16 hex digits, the alert's "
                "\"alert_id\")\n",
                id);
        return 1;
    }
    struct live lv;
    if (live_open(cfg, &lv) < 0)
        return 1;
    struct customer *c = malloc(sizeof *c);
    struct mute_set m = {0};
    char *value = NULL;
    int32_t p = -1;
    enum rule_id rule = RULE_ORDER_GAP;
    int rc = 1, found = 1;
    if (c == NULL) {
        fprintf(stderr, "churnwatch: out of memory\n");
        goto done;
    }
    if (customer != NULL) {
        if (live_locate(&lv, customer, &p) < 0 || live_load(&lv, p, customer, c) < 0)
            goto done;
        found = has_alert(c, id, &rule) ? 0 : 1;
    } else if ((found = find_alert(&lv, id, c, &p, &rule)) < 0) {
        goto done;
    }
    if (found != 0) {
        fprintf(stderr,
                "churnwatch: no firing alert has id %s%s%s (resolved already, or a "
                "mistyped id)\n",
                id, customer ? " for customer " : "", customer ? customer : "");
        goto done;
    }
    if (store_mute_read(lv.s, p, &m, false) < 0) {
        redis_failed(&lv, "reading the acknowledgements");
        goto done;
    }
    bool again = mute_ack_find(&m, id) != NULL;
    int64_t now = clock_wall_ms();
    value = mute_ack_value(c->id, rule_name(rule), now, note);
    if (value == NULL || store_mute_write(lv.s, p, MUTE_HASH_ACK, id, value) < 0) {
        redis_failed(&lv, "writing the acknowledgement");
        goto done;
    }
    char started[32], at[32];
    format_rfc3339(c->alerts[rule].started_ms, started);
    format_rfc3339(now, at);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "alert_id", id);
        cJSON_AddStringToObject(o, "customer_id", c->id);
        cJSON_AddStringToObject(o, "rule", rule_name(rule));
        cJSON_AddNumberToObject(o, "partition", p);
        cJSON_AddStringToObject(o, "started_at", started);
        cJSON_AddStringToObject(o, "acknowledged_at", at);
        cJSON_AddStringToObject(o, "note", note ? note : "");
        cJSON_AddBoolToObject(o, "again", again);
        rc = emit_json(o, out) == 0 ? 0 : 1;
    } else {
        fprintf(out,
                "acknowledged%s alert %s: customer %s, rule %s, firing since %s (partition "
                "%" PRId32 ")\nno more repeat notices for this episode; its resolved notice "
                "and new episodes are still sent\n",
                again ? " again" : "", id, c->id, rule_name(rule), started, p);
        rc = 0;
    }
done:
    free(value);
    free(c);
    mute_set_free(&m);
    live_close(&lv);
    return rc;
}

/* ---- silences ---- */

static cJSON *silence_json(const struct mute_silence *s, int32_t p, int64_t now)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "customer_id", s->customer);
    cJSON_AddNumberToObject(o, "partition", p);
    silence_fields(o, s, now);
    return o;
}

int admin_silence(const struct config *cfg, const char *customer, int64_t for_ms, const char *note,
                  bool json, FILE *out)
{
    struct live lv;
    if (live_open(cfg, &lv) < 0)
        return 1;
    int32_t p;
    int rc = 1;
    int64_t now = clock_wall_ms();
    char *value = NULL;
    if (live_locate(&lv, customer, &p) < 0)
        goto done;
    struct mute_silence s;
    value = mute_silence_value(now + for_ms, now, note);
    if (value == NULL || store_mute_write(lv.s, p, MUTE_HASH_SILENCE, customer, value) < 0 ||
        mute_silence_parse(customer, value, strlen(value), &s) < 0) {
        redis_failed(&lv, "writing the silence");
        goto done;
    }
    if (json) {
        rc = emit_json(silence_json(&s, p, now), out) == 0 ? 0 : 1;
    } else {
        char until[32], span[32];
        format_rfc3339(s.until_ms, until);
        admin_format_span(for_ms, span, sizeof span);
        fprintf(out,
                "silenced customer %s until %s (%s; partition %" PRId32 "): no alert "
                "notices reach the sinks meanwhile\n",
                customer, until, span, p);
        rc = 0;
    }
done:
    free(value);
    live_close(&lv);
    return rc;
}

int admin_unsilence(const struct config *cfg, const char *customer, bool json, FILE *out)
{
    struct live lv;
    if (live_open(cfg, &lv) < 0)
        return 1;
    int32_t p;
    int rc = 1;
    struct mute_set m = {0};
    char *value = NULL;
    int64_t now = clock_wall_ms();
    if (live_locate(&lv, customer, &p) < 0)
        goto done;
    if (store_mute_read(lv.s, p, &m, false) < 0) {
        redis_failed(&lv, "reading the silences");
        goto done;
    }
    const struct mute_silence *s = mute_silence_find(&m, customer);
    if (s == NULL) {
        fprintf(stderr, "churnwatch: customer %s is not silenced\n", customer);
        goto done;
    }
    /* ended, not deleted: the daemon sends the end notice and removes it */
    value = mute_silence_value(s->until_ms < now ? s->until_ms : now, s->at_ms, s->note);
    if (value == NULL || store_mute_write(lv.s, p, MUTE_HASH_SILENCE, customer, value) < 0) {
        redis_failed(&lv, "writing the silence");
        goto done;
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "customer_id", customer);
        cJSON_AddNumberToObject(o, "partition", p);
        json_time(o, "ended_at", now);
        rc = emit_json(o, out) == 0 ? 0 : 1;
    } else {
        fprintf(out,
                "silence of customer %s ended; churnwatchd sends what it held back and "
                "re-sends the firing alerts at its next timer sweep\n",
                customer);
        rc = 0;
    }
done:
    free(value);
    mute_set_free(&m);
    live_close(&lv);
    return rc;
}

int admin_silence_list(const struct config *cfg, bool json, FILE *out)
{
    struct live lv;
    if (live_open(cfg, &lv) < 0)
        return 1;
    int64_t now = clock_wall_ms();
    int rc = 0;
    struct table t;
    table_init(&t, 5);
    table_row(&t, "CUSTOMER", "UNTIL", "REMAINING", "PARTITION", "NOTE");
    cJSON *root = json ? cJSON_CreateObject() : NULL;
    cJSON *list = root ? cJSON_AddArrayToObject(root, "silences") : NULL;
    size_t n = 0;
    for (int32_t p = 0; p < lv.n_parts && rc == 0; p++) {
        struct mute_set m = {0};
        if (store_mute_read(lv.s, p, &m, false) < 0) {
            redis_failed(&lv, "reading the silences");
            rc = 1;
        }
        for (size_t i = 0; rc == 0 && i < m.n_sil; i++, n++) {
            const struct mute_silence *s = &m.sil[i];
            if (list) {
                cJSON_AddItemToArray(list, silence_json(s, p, now));
                continue;
            }
            char until[32], left[48], part[16];
            format_rfc3339(s->until_ms, until);
            admin_format_span(s->until_ms - now, left, sizeof left);
            if (s->until_ms <= now)
                snprintf(left, sizeof left, "ended, pending");
            snprintf(part, sizeof part, "%" PRId32, p);
            table_row(&t, s->customer, until, left, part, s->note);
        }
        mute_set_free(&m);
    }
    if (rc == 0 && json)
        rc = emit_json(root, out) == 0 ? 0 : 1;
    else if (json)
        cJSON_Delete(root);
    else if (rc == 0) {
        fprintf(out, "%zu silenced customers\n", n);
        t.right[2] = t.right[3] = true;
        if (n > 0)
            rc = table_print(&t, "", out) == 0 ? 0 : 1;
    }
    table_free(&t);
    live_close(&lv);
    return rc;
}

/* ---- check-config --json ---- */

int admin_split_error(const char *line, char *file, size_t file_len, long *lineno, long *col,
                      const char **message)
{
    *message = line;
    /* the first ":LINE:COL: " (a path may hold colons, but not that) */
    for (const char *p = strchr(line, ':'); p != NULL; p = strchr(p + 1, ':')) {
        char *end;
        long l = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end != ':' || p[1] == '-' || p[1] == '+')
            continue;
        const char *c0 = end + 1;
        long c = strtol(c0, &end, 10);
        if (end == c0 || *c0 == '-' || *c0 == '+' || end[0] != ':' || end[1] != ' ')
            continue;
        snprintf(file, file_len, "%.*s", (int)(p - line), line);
        *lineno = l;
        *col = c;
        *message = end + 2;
        return 0;
    }
    return -1;
}

int admin_check_config_json(const char *path, const char *errs, FILE *out)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "file", path);
    cJSON_AddBoolToObject(root, "ok", errs[0] == '\0');
    cJSON *list = cJSON_AddArrayToObject(root, "errors");
    char *copy = strdup(errs);
    if (copy == NULL || list == NULL) {
        free(copy);
        cJSON_Delete(root);
        return -1;
    }
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char file[1024];
        long l, c;
        const char *msg;
        cJSON *e = cJSON_CreateObject();
        if (admin_split_error(line, file, sizeof file, &l, &c, &msg) == 0) {
            cJSON_AddStringToObject(e, "file", file);
            cJSON_AddNumberToObject(e, "line", (double)l);
            cJSON_AddNumberToObject(e, "column", (double)c);
        } else {
            cJSON_AddStringToObject(e, "file", path);
            cJSON_AddNullToObject(e, "line");
            cJSON_AddNullToObject(e, "column");
        }
        cJSON_AddStringToObject(e, "message", msg);
        cJSON_AddItemToArray(list, e);
    }
    free(copy);
    return emit_json(root, out);
}
