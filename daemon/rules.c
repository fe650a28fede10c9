/* rules.c — customer state updates, the churn rules, the risk level and the alert
 * lifecycle. Pure: no I/O. docs/rules.md describes every rule for users.
 *
 * Each rule is described by one function of the customer's state, rule_cond(): whether
 * its condition applies and, assuming no further events, the interval [from, until) in
 * which it holds, and the time a firing notice reports (`stamp`). A timer rule that is
 * due at `due` holds from due + 1 on and reports `due`, so its notice carries the due time
 * whatever time the evaluation ran. An event rule holds from the event that made it true.
 * A rule with a `hold` holds until the hold has passed (its resolved notice carries that
 * time). With a `pending` time P, the alert fires at from + P if the condition still holds
 * then, and reports stamp + P.
 *
 * Since conditions are functions of the events only, every evaluation at a time `now`
 * sends the notices whose times are <= now, each dated by the condition, never by `now`:
 * the alerts depend on the sequence of events, not on when the customer was evaluated.
 * The risk score and level are then replayed over the notices in time order (finish()),
 * so that each notice carries the level as of itself and a level change re-sends the
 * other active alerts at the time of the notice that caused it. */
#include "rules.h"

#include <math.h>
#include <string.h>

#define DAY_MS 86400000.0
#define HOUR_MS 3600000.0
#define WEEK_MS CW_SPEND_BUCKET_MS

/* Seeds of the hashes kept in the state (changing them invalidates stored state). */
#define SEED_EVENT_ID 0x65766964 /* "evid" */
#define SEED_REF_ID 0x72656669   /* "refi" */
#define SEED_MANAGER 0x6d677268  /* "mgrh" */

static const char *const level_names[] = {
    [LEVEL_OK] = "ok",
    [LEVEL_WATCH] = "watch",
    [LEVEL_ALARM] = "alarm",
};

const char *risk_level_name(enum risk_level l)
{
    return (unsigned)l <= LEVEL_ALARM ? level_names[l] : "?";
}

enum risk_level risk_level_next(const struct config *cfg, enum risk_level cur, double score)
{
    /* 0 (a config built by hand) means "same as the raise threshold" */
    double watch_clear = cfg->watch_clear_score > 0 ? cfg->watch_clear_score : cfg->watch_score;
    double alarm_clear = cfg->alarm_clear_score > 0 ? cfg->alarm_clear_score : cfg->alarm_score;
    enum risk_level up = score >= cfg->alarm_score   ? LEVEL_ALARM
                         : score >= cfg->watch_score ? LEVEL_WATCH
                                                     : LEVEL_OK;
    if (up >= cur)
        return up;
    if (cur == LEVEL_ALARM && score >= alarm_clear)
        return LEVEL_ALARM;
    if (score >= watch_clear)
        return LEVEL_WATCH;
    return LEVEL_OK;
}

/* One evaluation pass over a customer (one rules_apply_event or rules_advance call). */
struct eval {
    const struct config *cfg;
    struct customer *c;
    struct notice_list *out;
    bool changed;
    /* the customer's risk when the call started, for finish() */
    uint32_t mask0;
    uint8_t level0;
    int64_t started0[RULE__COUNT];
    double ev0[RULE__COUNT][3]; /* evidence of each active alert's last notice before */
    int64_t ev0_ts[RULE__COUNT]; /* ... and that notice's time */
    int first_notice;           /* this call's first notice in out */
    int64_t last_ts[RULE__COUNT]; /* last notice of each rule in this call */
    /* set while an event is applied */
    bool spend_event; /* an order or cancellation: spend_drop may have recovered */
    bool have_before;
    uint32_t before_count;
    int64_t before_first_ms, before_last_ms; /* orders before the event */
    bool have_closed;
    int64_t closed_opened_ms; /* opened_ms of the complaint the event resolved */
    bool have_ticket;
    int64_t ticket_opened_ms; /* an unanswered ticket the event replied to or closed */
    bool have_unsub;
    int64_t unsub_ms; /* the unsubscribe the event (an order) undid */
};

static const struct rule_params *rule_params_of(const struct config *cfg,
                                                const struct customer *c, enum rule_id r)
{
    return &cfg->rules[r].tier[c->tier < TIER__COUNT ? c->tier : TIER_STANDARD];
}

static int64_t add_sat(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

static int64_t nonneg(int64_t v)
{
    return v > 0 ? v : 0;
}

/* ---- conditions ---- */

struct cond {
    bool on;       /* the rule applies; it holds for from <= t < until */
    int64_t stamp; /* the time a firing notice reports */
    int64_t from, until;
};

static const struct cond cond_off = {false, 0, 0, 0};

/* A timer rule: holds at t > due, reports due. */
static struct cond cond_due(int64_t due)
{
    if (due >= INT64_MAX)
        return cond_off;
    return (struct cond){true, due, due + 1, INT64_MAX};
}

/* A rule that holds from `since` until `until`. */
static struct cond cond_since(int64_t since, int64_t until)
{
    return (struct cond){true, since, since, until};
}

/* The typical gap between orders in ms, floored at one day; 0 with fewer than 2 orders. */
static double typical_gap_ms(uint32_t count, int64_t first_ms, int64_t last_ms)
{
    if (count < 2)
        return 0;
    double gap = ((double)last_ms - (double)first_ms) / (double)(count - 1);
    return gap < DAY_MS ? DAY_MS : gap;
}

static struct cond order_gap_cond(const struct rule_params *p, const struct customer *c)
{
    uint32_t need = p->min_orders < 2 ? 2 : p->min_orders;
    if (c->order_count < need)
        return cond_off;
    double factor = p->factor > 0 ? p->factor : 0;
    double wait = factor * typical_gap_ms(c->order_count, c->first_order_ms, c->last_order_ms);
    /* min_gap (duration_ms): a floor, so that frequent buyers are not flagged after a
     * few quiet days */
    if (wait < (double)p->duration_ms)
        wait = (double)p->duration_ms;
    double d = (double)c->last_order_ms + wait;
    if (!(d < 9.0e18)) /* also false for NaN */
        return cond_off;
    return cond_due(llround(d));
}

static struct cond first_repeat_cond(const struct rule_params *p, const struct customer *c)
{
    if (c->order_count != 1)
        return cond_off;
    return cond_due(add_sat(c->first_order_ms, nonneg(p->duration_ms)));
}

/* The open item opened first (of those with `replied` == want_replied when that is 0 or
 * 1; of all when it is -1), or NULL. */
static const struct open_item *oldest_item(const struct open_item *items, uint8_t n,
                                           int want_replied)
{
    const struct open_item *o = NULL;
    for (uint8_t i = 0; i < n && i < CW_MAX_OPEN; i++)
        if ((want_replied < 0 || items[i].replied == want_replied) &&
            (o == NULL || items[i].opened_ms < o->opened_ms))
            o = &items[i];
    return o;
}

static struct cond complaint_unresolved_cond(const struct rule_params *p,
                                             const struct customer *c)
{
    const struct open_item *o = oldest_item(c->complaints, c->n_complaints, -1);
    if (o == NULL)
        return cond_off;
    return cond_due(add_sat(o->opened_ms, nonneg(p->duration_ms)));
}

static struct cond support_unanswered_cond(const struct rule_params *p,
                                           const struct customer *c)
{
    const struct open_item *o = oldest_item(c->tickets, c->n_tickets, 0);
    if (o == NULL)
        return cond_off;
    return cond_due(add_sat(o->opened_ms, nonneg(p->duration_ms)));
}

/* Holds since the at_least-th open complaint opened: all of them have been open since. */
static struct cond open_complaints_cond(const struct rule_params *p, const struct customer *c)
{
    uint8_t n = c->n_complaints < CW_MAX_OPEN ? c->n_complaints : CW_MAX_OPEN;
    if (p->at_least == 0 || n < p->at_least)
        return cond_off;
    int64_t t[CW_MAX_OPEN];
    for (uint8_t i = 0; i < n; i++) { /* insertion sort, ascending */
        int64_t v = c->complaints[i].opened_ms;
        int j = i;
        for (; j > 0 && t[j - 1] > v; j--)
            t[j] = t[j - 1];
        t[j] = v;
    }
    return cond_since(t[p->at_least - 1], INT64_MAX);
}

static int reopened_count(const struct customer *c, int64_t *since)
{
    int count = 0;
    for (uint8_t i = 0; i < c->n_complaints && i < CW_MAX_OPEN; i++) {
        if (!c->complaints[i].reopened)
            continue;
        if (count == 0 || c->complaints[i].opened_ms < *since)
            *since = c->complaints[i].opened_ms;
        count++;
    }
    return count;
}

static struct cond complaint_reopened_cond(const struct customer *c)
{
    int64_t since = 0;
    if (reopened_count(c, &since) == 0)
        return cond_off;
    return cond_since(since, INT64_MAX);
}

/* ---- spend_drop: weekly spend buckets ---- */

/* Weeks in a window: ceil(window / 7d), 1..CW_SPEND_BUCKETS. */
static int64_t spend_weeks(int64_t window_ms)
{
    int64_t k = window_ms <= 0 ? 1 : (window_ms - 1) / WEEK_MS + 1;
    return k > CW_SPEND_BUCKETS ? CW_SPEND_BUCKETS : k;
}

/* Measures spend at time t (>= spend_ms): `recent` is the spend in the window's weeks,
 * the week of t included; `baseline` the spend before the window, as a rate per day of
 * history (from the first order to the window's start) scaled to the window. False while
 * there is not enough history: 2 orders and one window of history before the window. */
static bool spend_measure(const struct customer *c, const struct rule_params *p, int64_t t,
                          double *recent, double *baseline)
{
    *recent = *baseline = 0;
    if (c->order_count < 2 || p->duration_ms <= 0)
        return false;
    int64_t k = spend_weeks(p->duration_ms), wt = cw_week_of(t);
    double start = (double)(wt - k + 1) * (double)WEEK_MS;
    double history = start - (double)c->first_order_ms;
    if (!(history >= (double)p->duration_ms))
        return false;
    *recent = (double)customer_spend_weeks(c, wt - k + 1, wt) / 100.0;
    double before = c->total_spend - *recent;
    if (!(before > 0))
        before = 0;
    *baseline = before * (double)p->duration_ms / history;
    return true;
}

static bool drop_valid(const struct rule_params *p)
{
    return p->drop > 0 && p->drop < 1;
}

/* The firing condition: still buying ("partial churn": some spend in the window), but
 * less than (1 - drop) x the baseline. */
static bool spend_low(const struct customer *c, const struct rule_params *p, int64_t t)
{
    double recent, baseline;
    return drop_valid(p) && spend_measure(c, p, t, &recent, &baseline) && recent > 0 &&
           recent < (1 - p->drop) * baseline;
}

/* The clearing condition: spend back at (1 - drop / 2) x the baseline or more. */
static bool spend_recovered(const struct customer *c, const struct rule_params *p, int64_t t)
{
    double recent, baseline;
    if (!drop_valid(p) || !spend_measure(c, p, t, &recent, &baseline))
        return true;
    return recent >= (1 - p->drop / 2) * baseline;
}

/* Without further orders, spend_low changes only at week boundaries. Finds the first
 * stretch from the last spend event on during which it holds for longer than `pending`;
 * sets *from to its start. After k weeks nothing is recent any more and it cannot hold. */
static bool spend_drop_from(const struct customer *c, const struct rule_params *p,
                            int64_t *from)
{
    if (c->order_count < 2 || !(c->total_spend > 0) || !drop_valid(p))
        return false;
    int64_t pending = nonneg(p->pending_ms), k = spend_weeks(p->duration_ms);
    int64_t t = c->spend_ms, w = cw_week_of(t), run = 0;
    bool in_run = false;
    for (int64_t i = 0; i < k; i++) {
        int64_t next = (w + i + 1) * WEEK_MS; /* the next week starts */
        if (spend_low(c, p, t)) {
            if (!in_run)
                run = t;
            in_run = true;
            if (next - run > pending) {
                *from = run;
                return true;
            }
        } else {
            in_run = false;
        }
        t = next;
    }
    return false;
}

static struct cond spend_drop_cond(const struct eval *x, const struct rule_params *p,
                                   int64_t now)
{
    const struct customer *c = x->c;
    int64_t from;
    if (c->alerts[RULE_SPEND_DROP].active) {
        /* an episode ends only when an order or a cancellation shows recovered spend */
        if (x->spend_event && spend_recovered(c, p, now))
            return cond_off;
        return cond_since(INT64_MIN, INT64_MAX);
    }
    if (!spend_drop_from(c, p, &from))
        return cond_off;
    return cond_since(from, INT64_MAX);
}

/* Adds (or, for a cancellation, takes back) `amount` at time ts in the spend ring. */
static void spend_add(struct customer *c, int64_t ts, double amount, bool cancel)
{
    int64_t top = cw_week_of(c->spend_ms), w = cw_week_of(ts);
    if (ts > c->spend_ms) { /* the ring moves forward: clear the weeks it passes */
        for (int64_t i = 1; i <= w - top && i <= CW_SPEND_BUCKETS; i++)
            c->spend[customer_spend_slot(top + i)] = 0;
        c->spend_ms = ts;
        top = w;
    }
    double d = amount * 100.0;
    uint64_t cents = d > 0 ? (d < 9.0e18 ? (uint64_t)llround(d) : (uint64_t)9e18) : 0;
    if (!cancel) {
        if (w > top - CW_SPEND_BUCKETS) {
            uint64_t *b = &c->spend[customer_spend_slot(w)];
            *b = *b > UINT64_MAX - cents ? UINT64_MAX : *b + cents;
        }
        return;
    }
    /* a cancellation takes the amount back from its week and, if that is not enough, from
     * the weeks before it (the cancelled order came earlier) */
    for (int64_t wk = w < top ? w : top; wk > top - CW_SPEND_BUCKETS && cents > 0; wk--) {
        uint64_t *b = &c->spend[customer_spend_slot(wk)];
        uint64_t take = *b < cents ? *b : cents;
        *b -= take;
        cents -= take;
    }
}

/* ---- the other rules with state of their own ---- */

static struct cond low_satisfaction_cond(const struct rule_params *p, const struct customer *c)
{
    if (c->low_rating == 0)
        return cond_off;
    return cond_since(c->low_since_ms, add_sat(c->low_last_ms, nonneg(p->duration_ms)));
}

static struct cond unsubscribed_cond(const struct customer *c)
{
    if (!c->unsubscribed)
        return cond_off;
    return cond_since(c->unsubscribed_ms, INT64_MAX);
}

static struct cond manager_changed_cond(const struct rule_params *p, const struct customer *c)
{
    if (!c->manager_changed || c->tier == TIER_STANDARD)
        return cond_off;
    return cond_since(c->manager_since_ms, add_sat(c->manager_last_ms, nonneg(p->duration_ms)));
}

/* The wait before the next re-send of a firing alert that has been re-sent `repeats`
 * times: repeat_interval x repeat_backoff^repeats (backoff 1 = a fixed interval). */
static int64_t repeat_wait(const struct rule_params *p, uint32_t repeats)
{
    double w = (double)p->repeat_interval_ms;
    double f = p->repeat_backoff > 1 ? p->repeat_backoff : 1;
    for (uint32_t i = 0; i < repeats && w < 4.0e18; i++)
        w *= f;
    return w < 4.0e18 ? (int64_t)w : INT64_MAX / 2;
}

static struct cond rule_cond(const struct eval *x, enum rule_id r, const struct rule_params *p,
                             int64_t now)
{
    const struct customer *c = x->c;
    if (!p->enabled)
        return cond_off;
    switch (r) {
    case RULE_ORDER_GAP:
        return order_gap_cond(p, c);
    case RULE_FIRST_REPEAT_OVERDUE:
        return first_repeat_cond(p, c);
    case RULE_SPEND_DROP:
        return spend_drop_cond(x, p, now);
    case RULE_COMPLAINT_UNRESOLVED:
        return complaint_unresolved_cond(p, c);
    case RULE_OPEN_COMPLAINTS:
        return open_complaints_cond(p, c);
    case RULE_COMPLAINT_REOPENED:
        return complaint_reopened_cond(c);
    case RULE_SUPPORT_UNANSWERED:
        return support_unanswered_cond(p, c);
    case RULE_LOW_SATISFACTION:
        return low_satisfaction_cond(p, c);
    case RULE_UNSUBSCRIBED:
        return unsubscribed_cond(c);
    case RULE_MANAGER_CHANGED:
        return manager_changed_cond(p, c);
    default:
        return cond_off;
    }
}

/* ---- notices ---- */

/* Fills the evidence of notice n (rule, firing and ts set). */
static void fill_evidence(const struct eval *x, const struct rule_params *p, struct notice *n)
{
    const struct customer *c = x->c;
    double ts = (double)n->ts_ms;
    n->unit = "days";
    n->value = n->threshold = n->baseline = 0;
    switch (n->rule) {
    case RULE_ORDER_GAP: {
        uint32_t count = c->order_count;
        int64_t first = c->first_order_ms, last = c->last_order_ms;
        if (!n->firing && x->have_before) { /* the order that cleared it is applied */
            count = x->before_count;
            first = x->before_first_ms;
            last = x->before_last_ms;
        }
        double typical = typical_gap_ms(count, first, last);
        double wait = p->factor * typical;
        if (wait < (double)p->duration_ms)
            wait = (double)p->duration_ms;
        n->value = (ts - (double)last) / DAY_MS;
        n->threshold = wait / DAY_MS;
        n->baseline = typical / DAY_MS;
        break;
    }
    case RULE_FIRST_REPEAT_OVERDUE:
        n->value = (ts - (double)c->first_order_ms) / DAY_MS;
        n->threshold = (double)p->duration_ms / DAY_MS;
        break;
    case RULE_SPEND_DROP: {
        double recent, baseline;
        spend_measure(c, p, n->ts_ms, &recent, &baseline);
        n->unit = "spend";
        n->value = recent;
        n->baseline = baseline;
        n->threshold = (n->firing ? 1 - p->drop : 1 - p->drop / 2) * baseline;
        break;
    }
    case RULE_COMPLAINT_UNRESOLVED: {
        const struct open_item *o = oldest_item(c->complaints, c->n_complaints, -1);
        double opened = ts;
        if (!n->firing && x->have_closed)
            opened = (double)x->closed_opened_ms;
        else if (o != NULL)
            opened = (double)o->opened_ms;
        n->value = (ts - opened) / DAY_MS;
        n->threshold = (double)p->duration_ms / DAY_MS;
        break;
    }
    case RULE_OPEN_COMPLAINTS:
        n->unit = "complaints";
        n->value = c->n_complaints;
        n->threshold = p->at_least;
        break;
    case RULE_COMPLAINT_REOPENED: {
        int64_t since = 0;
        n->unit = "complaints";
        n->value = reopened_count(c, &since);
        n->threshold = 1;
        break;
    }
    case RULE_SUPPORT_UNANSWERED: {
        const struct open_item *o = oldest_item(c->tickets, c->n_tickets, 0);
        double opened = ts;
        if (!n->firing && x->have_ticket)
            opened = (double)x->ticket_opened_ms;
        else if (o != NULL)
            opened = (double)o->opened_ms;
        n->unit = "hours";
        n->value = (ts - opened) / HOUR_MS;
        n->threshold = (double)p->duration_ms / HOUR_MS;
        break;
    }
    case RULE_LOW_SATISFACTION:
        n->unit = n->firing ? "rating" : "days";
        n->value = n->firing ? c->low_rating : (ts - (double)c->low_last_ms) / DAY_MS;
        n->threshold = n->firing ? p->at_most : (double)p->duration_ms / DAY_MS;
        break;
    case RULE_UNSUBSCRIBED: {
        double since = (double)c->unsubscribed_ms;
        if (!n->firing && x->have_unsub)
            since = (double)x->unsub_ms;
        n->value = (ts - since) / DAY_MS;
        break;
    }
    case RULE_MANAGER_CHANGED:
        n->value = (ts - (double)c->manager_last_ms) / DAY_MS;
        n->threshold = (double)p->duration_ms / DAY_MS;
        break;
    default:
        n->unit = "";
        break;
    }
}

/* Appends a notice of rule r; the risk snapshot is added by finish(). The notices of one
 * rule in one call never go back in time, so that sorting keeps their order. */
static void emit(struct eval *x, enum rule_id r, bool firing, bool repeat, int64_t ts)
{
    x->changed = true;
    if (ts < x->last_ts[r])
        ts = x->last_ts[r];
    x->last_ts[r] = ts;
    if (x->out == NULL || x->out->count >= CW_MAX_NOTICES)
        return; /* cannot happen when the caller clears `out` before each call */
    struct notice *n = &x->out->n[x->out->count++];
    memset(n, 0, sizeof *n);
    n->rule = r;
    n->firing = firing;
    n->repeat = repeat;
    n->started_ms = x->c->alerts[r].started_ms;
    n->ts_ms = ts;
    fill_evidence(x, rule_params_of(x->cfg, x->c, r), n);
    if (firing) { /* what a re-send for a level change will carry */
        struct alert_state *a = &x->c->alerts[r];
        a->ev_value = n->value;
        a->ev_threshold = n->threshold;
        a->ev_baseline = n->baseline;
    }
}

/* The time conditions are checked at: never earlier than what this customer has already
 * been evaluated at, so a late event cannot undo a timer that fired. An alert sent at
 * last_sent_ms (a firing notice carries the due time) means the customer was evaluated
 * at last_sent_ms + 1 or later. */
static int64_t eval_time(const struct customer *c, int64_t now)
{
    int64_t t = now > c->last_event_ms ? now : c->last_event_ms;
    for (int r = 0; r < RULE__COUNT; r++)
        if (c->alerts[r].active && c->alerts[r].last_sent_ms < INT64_MAX &&
            c->alerts[r].last_sent_ms + 1 > t)
            t = c->alerts[r].last_sent_ms + 1;
    return t;
}

/* A run that held until its hold ran out and was reported is forgotten, so that it
 * cannot fire again; the next occurrence starts a new run. */
static void run_consumed(struct customer *c, enum rule_id r)
{
    if (r == RULE_LOW_SATISFACTION) {
        c->low_rating = 0;
        c->low_since_ms = c->low_last_ms = 0;
    } else if (r == RULE_MANAGER_CHANGED) {
        c->manager_changed = 0;
        c->manager_since_ms = c->manager_last_ms = 0;
    }
}

/* Evaluates rule r at `now`: fires, repeats or resolves its alert. `resolve_ts` is the time
 * a resolved notice carries when the condition was cleared by the state (the event's
 * time, or now); a condition that ran out (a hold) resolves at the time it ran out. */
static void evaluate_rule(struct eval *x, enum rule_id r, int64_t now, int64_t resolve_ts,
                          bool strict)
{
    struct customer *c = x->c;
    struct alert_state *a = &c->alerts[r];
    const struct rule_params *p = rule_params_of(x->cfg, c, r);
    struct cond k = rule_cond(x, r, p, now);
    /* the latest notice time this pass may send (see evaluate_all) */
    int64_t last = strict ? now - 1 : now;

    if (!a->active) {
        int64_t pending = nonneg(p->pending_ms);
        int64_t fire_from = add_sat(k.from, pending), stamp = add_sat(k.stamp, pending);
        if (!k.on || now < fire_from || stamp > last || fire_from >= k.until)
            return;
        a->active = 1;
        a->started_ms = stamp;
        a->last_sent_ms = stamp;
        a->repeats = 0;
        emit(x, r, true, false, stamp);
    }
    bool expired = k.on && last >= k.until;
    bool clears = !k.on || now < k.from || expired;
    if (p->repeat_interval_ms > 0) {
        /* Every repeat time reached is sent, up to CW_MAX_REPEATS per episode, so the
         * alerts depend only on the events, never on how often the customer happened to
         * be evaluated (batch boundaries, sweep timing, restarts). */
        int64_t limit = expired ? k.until - 1 : last; /* it no longer holds at until */
        while (a->repeats < CW_MAX_REPEATS && limit > a->last_sent_ms &&
               limit - a->last_sent_ms >= repeat_wait(p, a->repeats)) {
            a->last_sent_ms = add_sat(a->last_sent_ms, repeat_wait(p, a->repeats));
            a->repeats++;
            emit(x, r, true, true, a->last_sent_ms);
        }
    }
    if (clears) {
        int64_t ts = expired ? k.until : resolve_ts;
        if (ts < a->last_sent_ms)
            ts = a->last_sent_ms;
        emit(x, r, false, false, ts);
        memset(a, 0, sizeof *a);
        if (expired)
            run_consumed(c, r);
    }
}

/* A notice dated T must come out of the same call whatever the evaluation times, or the
 * risk replayed over the notices of a call (finish()) would depend on them. So a sweep at
 * `now`, and the pass before an event, send only what is dated before `now` (`strict`);
 * what is dated at an event's time comes out of the pass after that event. (A timer rule
 * due at T holds from T + 1 and reports T: it is sent by the first evaluation after T.) */
static void evaluate_all(struct eval *x, int64_t now, int64_t resolve_ts, bool strict)
{
    for (int r = 0; r < RULE__COUNT; r++)
        evaluate_rule(x, (enum rule_id)r, now, resolve_ts, strict);
}

static double score_of(const struct eval *x, uint32_t mask)
{
    double score = 0;
    for (int r = 0; r < RULE__COUNT; r++)
        if (mask & (1u << r))
            score += rule_params_of(x->cfg, x->c, (enum rule_id)r)->weight;
    return score;
}

/* Fills e as a re-send of alert r at ts (with the level and signals it carries): the
 * evidence ev[3] of its last firing notice (at ev_ts; NaN: none, fill_evidence's fallback
 * stays), an elapsed time brought forward to ts. */
static void fill_resend(struct eval *x, struct notice *e, enum rule_id r, int64_t started,
                        int64_t ts, const double ev[3], int64_t ev_ts, int8_t dir, double score,
                        uint8_t level, uint32_t mask)
{
    memset(e, 0, sizeof *e);
    e->rule = r;
    e->firing = true;
    e->repeat = true;
    e->escalation = dir;
    e->started_ms = started;
    e->ts_ms = ts;
    fill_evidence(x, rule_params_of(x->cfg, x->c, r), e); /* unit; fallback */
    if (!isnan(ev[0])) {
        e->value = ev[0];
        e->threshold = ev[1];
        e->baseline = ev[2];
        double unit_ms = strcmp(e->unit, "days") == 0    ? (double)DAY_MS
                         : strcmp(e->unit, "hours") == 0 ? (double)HOUR_MS
                                                         : 0;
        if (unit_ms > 0 && ts > ev_ts)
            e->value += (double)(ts - ev_ts) / unit_ms;
    }
    e->score = score;
    e->level = level;
    e->signals = mask;
}

/* Inserts at position `at` a re-send of every alert in `mask` but the rule of `cause`,
 * carrying the new level. Returns the number inserted. */
static int insert_escalations(struct eval *x, int at, uint32_t skip, int64_t ts, uint32_t mask,
                              const int64_t *started, double score, uint8_t level, int8_t dir)
{
    struct notice_list *out = x->out;
    int added = 0;
    for (int r = 0; r < RULE__COUNT; r++) {
        if (!(mask & (1u << r)) || (skip & (1u << r)) || out->count >= CW_MAX_NOTICES)
            continue;
        /* The evidence of the alert's last firing notice at or before ts: the state at the
         * end of this call may be later than ts (a later order, a hold that ran out), and
         * would make the re-send depend on how events and sweeps were grouped into calls. */
        const double *ev = x->ev0[r];
        int64_t ev_ts = x->ev0_ts[r];
        double found[3];
        for (int i = at - 1; i >= x->first_notice; i--) {
            const struct notice *o = &out->n[i];
            if (o->rule == (enum rule_id)r && o->firing && o->ts_ms <= ts) {
                found[0] = o->value;
                found[1] = o->threshold;
                found[2] = o->baseline;
                ev = found;
                ev_ts = o->ts_ms;
                break;
            }
        }
        memmove(&out->n[at + 1], &out->n[at], (size_t)(out->count - at) * sizeof out->n[0]);
        out->count++;
        fill_resend(x, &out->n[at], (enum rule_id)r, started[r], ts, ev, ev_ts, dir, score, level,
                    mask);
        at++;
        added++;
    }
    return added;
}

/* Orders the notices of this call by (ts, rule), replays the risk over them (each notice
 * gets the score, level and signals as of itself; a level change re-sends the other
 * active alerts), then sets score, level and next_due_ms. `now` is the evaluation time. */
static void finish(struct eval *x, int first_notice, int64_t now)
{
    struct customer *c = x->c;
    const struct config *cfg = x->cfg;
    uint8_t level = x->level0;

    x->first_notice = first_notice;
    if (x->out != NULL) {
        /* stable insertion sort by (ts, rule) */
        struct notice *n = x->out->n;
        for (int i = first_notice + 1; i < x->out->count; i++) {
            struct notice tmp = n[i];
            int j = i;
            while (j > first_notice &&
                   (n[j - 1].ts_ms > tmp.ts_ms ||
                    (n[j - 1].ts_ms == tmp.ts_ms && n[j - 1].rule > tmp.rule))) {
                n[j] = n[j - 1];
                j--;
            }
            n[j] = tmp;
        }
        uint32_t mask = x->mask0;
        int64_t started[RULE__COUNT];
        memcpy(started, x->started0, sizeof started);
        /* notices at the same time change the risk together: one level change, and the
         * alerts re-sent for it are those of the rules without a notice at that time */
        for (int i = first_notice; i < x->out->count;) {
            int64_t ts = n[i].ts_ms;
            uint32_t group = 0;
            int end = i;
            for (; end < x->out->count && n[end].ts_ms == ts; end++) {
                uint32_t bit = 1u << n[end].rule;
                group |= bit;
                if (n[end].firing && !n[end].repeat) {
                    mask |= bit;
                    started[n[end].rule] = n[end].started_ms;
                } else if (!n[end].firing) {
                    mask &= ~bit;
                }
            }
            double score = score_of(x, mask);
            uint8_t next = (uint8_t)risk_level_next(cfg, (enum risk_level)level, score);
            for (int k = i; k < end; k++) {
                n[k].score = score;
                n[k].level = next;
                n[k].signals = mask;
            }
            if (next != level)
                end += insert_escalations(x, end, group, ts, mask, started, score, next,
                                          next > level ? 1 : -1);
            level = next;
            i = end;
        }
    }

    double score = 0;
    uint32_t active = 0;
    int64_t started[RULE__COUNT];
    int64_t next_due = CW_NO_DUE;
    for (int i = 0; i < RULE__COUNT; i++) {
        enum rule_id r = (enum rule_id)i;
        const struct rule_params *p = rule_params_of(cfg, c, r);
        const struct alert_state *a = &c->alerts[r];
        struct cond k = rule_cond(x, r, p, now);
        started[i] = a->started_ms;
        if (a->active) {
            score += p->weight;
            active |= 1u << i;
            /* a sweep sends what is dated before its time: repeats and the end of a hold
             * are swept 1 ms after their time */
            if (p->repeat_interval_ms > 0 && a->repeats < CW_MAX_REPEATS) {
                int64_t t = add_sat(add_sat(a->last_sent_ms, repeat_wait(p, a->repeats)), 1);
                if (t < next_due)
                    next_due = t;
            }
            if (k.on && add_sat(k.until, 1) < next_due) /* a hold runs out */
                next_due = add_sat(k.until, 1);
        } else if (k.on) {
            int64_t pending = nonneg(p->pending_ms);
            int64_t fire_from = add_sat(k.from, pending);
            int64_t sweep = add_sat(add_sat(k.stamp, pending), 1);
            if (sweep < fire_from)
                sweep = fire_from;
            if (fire_from < k.until && sweep < next_due)
                next_due = sweep;
        }
    }
    /* Without notices the level can still change: the thresholds or weights were
     * reloaded. The active alerts are re-sent at the evaluation time. */
    uint8_t final = (uint8_t)risk_level_next(cfg, (enum risk_level)level, score);
    if (final != level && x->out != NULL)
        insert_escalations(x, x->out->count, 0, now, active, started, score, final,
                           final > level ? 1 : -1);
    if (final != level)
        x->changed = true;
    if (score != c->score || final != c->level || next_due != c->next_due_ms)
        x->changed = true;
    c->score = score;
    c->level = final;
    c->next_due_ms = next_due;
}

static void eval_start(struct eval *x, const struct config *cfg, struct customer *c,
                       struct notice_list *out)
{
    memset(x, 0, sizeof *x);
    x->cfg = cfg;
    x->c = c;
    x->out = out;
    x->level0 = c->level <= LEVEL_ALARM ? c->level : LEVEL_OK;
    for (int r = 0; r < RULE__COUNT; r++) {
        if (c->alerts[r].active)
            x->mask0 |= 1u << r;
        x->started0[r] = c->alerts[r].started_ms;
        x->ev0[r][0] = c->alerts[r].ev_value;
        x->ev0[r][1] = c->alerts[r].ev_threshold;
        x->ev0[r][2] = c->alerts[r].ev_baseline;
        x->ev0_ts[r] = c->alerts[r].last_sent_ms;
        x->last_ts[r] = INT64_MIN;
    }
}

bool rules_advance(const struct config *cfg, struct customer *c, int64_t now_ms,
                   struct notice_list *out)
{
    struct eval x;
    eval_start(&x, cfg, c, out);
    int first = out ? out->count : 0;
    int64_t t = eval_time(c, now_ms);
    evaluate_all(&x, t, t, true);
    finish(&x, first, t);
    return x.changed;
}

/* ---- state updates ---- */

static uint64_t ref_hash(const struct event *ev)
{
    return cw_hash64(ev->ref_id, strlen(ev->ref_id), SEED_REF_ID);
}

static int item_find(const struct open_item *items, uint8_t n, uint64_t h)
{
    for (int i = 0; i < n && i < CW_MAX_OPEN; i++)
        if (items[i].id_hash == h)
            return i;
    return -1;
}

static void item_remove(struct open_item *items, uint8_t *n, int i)
{
    memmove(&items[i], &items[i + 1], (size_t)(*n - i - 1) * sizeof *items);
    (*n)--;
    memset(&items[*n], 0, sizeof *items);
}

/* Adds an item (kept in arrival order); when full, the one opened first is dropped. */
static struct open_item *item_add(struct open_item *items, uint8_t *n, uint64_t h, int64_t ts)
{
    if (*n >= CW_MAX_OPEN) {
        *n = CW_MAX_OPEN;
        item_remove(items, n, (int)(oldest_item(items, *n, -1) - items));
    }
    struct open_item *it = &items[(*n)++];
    memset(it, 0, sizeof *it);
    it->id_hash = h;
    it->opened_ms = ts;
    return it;
}

/* A run of occurrences (low ratings, manager changes): one that comes within `hold` of
 * the previous one continues the run, a later one starts a new run. Occurrences older
 * than the run's last one (late events) are ignored. */
static void run_note(uint8_t *have, int64_t *since, int64_t *last, int64_t ts, int64_t hold)
{
    if (*have && ts < *last)
        return;
    if (!*have || ts >= add_sat(*last, nonneg(hold)))
        *since = ts;
    *last = ts;
    *have = 1;
}

static void apply_state(struct eval *x, const struct event *ev)
{
    struct customer *c = x->c;
    uint64_t h;
    int i;

    switch (ev->type) {
    case EV_ORDER:
        if (c->order_count == 0 || ev->ts_ms < c->first_order_ms)
            c->first_order_ms = ev->ts_ms;
        if (c->order_count == 0 || ev->ts_ms > c->last_order_ms)
            c->last_order_ms = ev->ts_ms;
        if (c->order_count < UINT32_MAX)
            c->order_count++;
        if (ev->amount > 0)
            c->total_spend += ev->amount;
        spend_add(c, ev->ts_ms, ev->amount, false);
        x->spend_event = true;
        if (c->unsubscribed && ev->ts_ms >= c->unsubscribed_ms) {
            /* ordering again undoes an unsubscribe */
            x->have_unsub = true;
            x->unsub_ms = c->unsubscribed_ms;
            c->unsubscribed = 0;
            c->unsubscribed_ms = 0;
        }
        break;
    case EV_ORDER_CANCELLED:
        if (ev->amount > 0)
            c->total_spend -= ev->amount;
        if (!(c->total_spend > 0))
            c->total_spend = 0;
        spend_add(c, ev->ts_ms, ev->amount, true);
        x->spend_event = true;
        break;
    case EV_COMPLAINT_OPENED:
        h = ref_hash(ev);
        if (item_find(c->complaints, c->n_complaints, h) < 0)
            item_add(c->complaints, &c->n_complaints, h, ev->ts_ms);
        break;
    case EV_COMPLAINT_RESOLVED:
        h = ref_hash(ev);
        i = item_find(c->complaints, c->n_complaints, h);
        if (i >= 0) {
            x->have_closed = true;
            x->closed_opened_ms = c->complaints[i].opened_ms;
            item_remove(c->complaints, &c->n_complaints, i);
        }
        break;
    case EV_COMPLAINT_REOPENED:
        h = ref_hash(ev);
        /* a complaint still open changes nothing: it was never resolved */
        if (item_find(c->complaints, c->n_complaints, h) < 0)
            item_add(c->complaints, &c->n_complaints, h, ev->ts_ms)->reopened = 1;
        break;
    case EV_SUPPORT_OPENED:
        h = ref_hash(ev);
        if (item_find(c->tickets, c->n_tickets, h) < 0)
            item_add(c->tickets, &c->n_tickets, h, ev->ts_ms);
        break;
    case EV_SUPPORT_REPLIED:
        i = item_find(c->tickets, c->n_tickets, ref_hash(ev));
        if (i >= 0 && !c->tickets[i].replied) {
            x->have_ticket = true;
            x->ticket_opened_ms = c->tickets[i].opened_ms;
            c->tickets[i].replied = 1;
        }
        break;
    case EV_SUPPORT_CLOSED: {
        i = item_find(c->tickets, c->n_tickets, ref_hash(ev));
        if (i >= 0) {
            if (!c->tickets[i].replied) {
                x->have_ticket = true;
                x->ticket_opened_ms = c->tickets[i].opened_ms;
            }
            item_remove(c->tickets, &c->n_tickets, i);
        }
        /* "low" is judged with the customer's thresholds when the rating arrives */
        const struct rule_params *p = rule_params_of(x->cfg, c, RULE_LOW_SATISFACTION);
        if (ev->satisfaction >= 1 && ev->satisfaction <= 5 &&
            (uint32_t)ev->satisfaction <= p->at_most) {
            uint8_t have = c->low_rating != 0;
            if (!have || ev->ts_ms >= c->low_last_ms) { /* else late: ignored */
                run_note(&have, &c->low_since_ms, &c->low_last_ms, ev->ts_ms, p->duration_ms);
                c->low_rating = (uint8_t)ev->satisfaction;
            }
        }
        break;
    }
    case EV_CUSTOMER_UNSUBSCRIBED:
        if (!c->unsubscribed) {
            c->unsubscribed = 1;
            c->unsubscribed_ms = ev->ts_ms;
        }
        break;
    case EV_CUSTOMER_UPDATED:
        if (ev->tier >= 0 && ev->tier < TIER__COUNT) {
            c->tier = (uint8_t)ev->tier;
            c->tier_set = 1;
        }
        if (ev->has_account_manager) {
            h = ev->account_manager[0] == '\0'
                    ? 0
                    : cw_hash64(ev->account_manager, strnlen(ev->account_manager, CW_TEXT_MAX),
                                SEED_MANAGER);
            /* a change from one known manager to another, while key or strategic (the
             * tier of this same event counts) */
            if (c->manager_hash != 0 && h != 0 && h != c->manager_hash &&
                c->tier != TIER_STANDARD)
                run_note(&c->manager_changed, &c->manager_since_ms, &c->manager_last_ms,
                         ev->ts_ms, rule_params_of(x->cfg, c, RULE_MANAGER_CHANGED)->duration_ms);
            c->manager_hash = h;
        }
        break;
    default:
        break;
    }
}

enum apply_result rules_apply_event(const struct config *cfg, struct customer *c,
                                    const struct event *ev, struct notice_list *out)
{
    return rules_apply_event_tier(cfg, c, ev, -1, out);
}

enum apply_result rules_apply_event_tier(const struct config *cfg, struct customer *c,
                                         const struct event *ev, int tier,
                                         struct notice_list *out)
{
    uint64_t eid = 0;
    if (ev->event_id[0] != '\0') {
        eid = cw_hash64(ev->event_id, strnlen(ev->event_id, CW_ID_MAX), SEED_EVENT_ID);
        for (int i = 0; i < CW_RECENT_EVENT_IDS; i++)
            if (c->recent_ids[i] == eid)
                return APPLY_DUPLICATE;
    }

    struct eval x;
    eval_start(&x, cfg, c, out);
    int first = out ? out->count : 0;

    /* timers due by the event's time fire first */
    int64_t t = eval_time(c, ev->ts_ms);
    evaluate_all(&x, t, t, true);
    if (tier >= 0 && tier < TIER__COUNT)
        c->tier = (uint8_t)tier;

    if (eid != 0) {
        c->recent_ids[c->recent_pos % CW_RECENT_EVENT_IDS] = eid;
        c->recent_pos = (uint8_t)((c->recent_pos + 1) % CW_RECENT_EVENT_IDS);
    }
    x.have_before = true;
    x.before_count = c->order_count;
    x.before_first_ms = c->first_order_ms;
    x.before_last_ms = c->last_order_ms;
    apply_state(&x, ev);

    /* conditions the event cleared resolve at the event's time (never before the alert's
     * last notice); conditions it created fire at their due time */
    evaluate_all(&x, t, ev->ts_ms, false);
    if (ev->ts_ms > c->last_event_ms)
        c->last_event_ms = ev->ts_ms;
    x.changed = true;
    finish(&x, first, t);
    return APPLY_OK;
}

/* ---- views for operators ---- */

bool rules_at_risk(const struct customer *c)
{
    if (c->score > 0 || c->level != LEVEL_OK)
        return true;
    for (int r = 0; r < RULE__COUNT; r++)
        if (c->alerts[r].active)
            return true;
    return false;
}

void rules_resend_active(const struct config *cfg, const struct customer *c, int64_t ts_ms,
                         struct notice_list *out)
{
    struct customer copy = *c; /* fill_evidence reads the customer through an eval */
    struct eval x;
    eval_start(&x, cfg, &copy, NULL); /* x.mask0: the active alerts; x.ev0: their evidence */
    for (int r = 0; r < RULE__COUNT && out->count < CW_MAX_NOTICES; r++) {
        const struct alert_state *a = &c->alerts[r];
        if (!a->active)
            continue;
        int64_t ts = ts_ms > a->last_sent_ms ? ts_ms : a->last_sent_ms;
        fill_resend(&x, &out->n[out->count++], (enum rule_id)r, a->started_ms, ts, x.ev0[r],
                    x.ev0_ts[r], 0, c->score, c->level, x.mask0);
    }
}
