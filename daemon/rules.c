/* rules.c — customer state updates, the churn rules and the alert lifecycle. Pure: no I/O.
 *
 * Implemented: order_gap and complaint_unresolved (both timer rules). The other rules of
 * DESIGN.md §3 keep their config slots but never fire yet (their state is tracked).
 *
 * A timer rule is described by one function, rule_due(): when the rule applies to the
 * customer it returns true and sets `due`; the condition holds at time t when t > due.
 * A firing notice therefore carries ts = due, whatever time the evaluation ran, and the
 * customer's next_due_ms is due + 1, the first millisecond at which the rule fires. */
#include "rules.h"

#include <math.h>
#include <string.h>

#define DAY_MS 86400000.0

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

/* One evaluation pass over a customer (one rules_apply_event or rules_advance call). */
struct eval {
    const struct config *cfg;
    struct customer *c;
    struct notice_list *out;
    bool changed;
    /* set while an event is applied, for the evidence of resolved notices */
    bool have_before;
    uint32_t before_count;
    int64_t before_first_ms, before_last_ms; /* orders before the event */
    bool have_closed;
    int64_t closed_opened_ms; /* opened_ms of the complaint the event resolved */
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

/* The typical gap between orders in ms, floored at one day; 0 with fewer than 2 orders. */
static double typical_gap_ms(uint32_t count, int64_t first_ms, int64_t last_ms)
{
    if (count < 2)
        return 0;
    double gap = ((double)last_ms - (double)first_ms) / (double)(count - 1);
    return gap < DAY_MS ? DAY_MS : gap;
}

static bool order_gap_due(const struct rule_params *p, const struct customer *c, int64_t *due)
{
    uint32_t need = p->min_orders < 2 ? 2 : p->min_orders;
    if (c->order_count < need)
        return false;
    double factor = p->factor > 0 ? p->factor : 0;
    double d = (double)c->last_order_ms +
               factor * typical_gap_ms(c->order_count, c->first_order_ms, c->last_order_ms);
    if (!(d < 9.0e18)) /* also false for NaN */
        return false;
    *due = llround(d);
    return true;
}

/* The open complaint opened first, or NULL. */
static const struct open_item *oldest_item(const struct open_item *items, uint8_t n)
{
    const struct open_item *o = NULL;
    for (uint8_t i = 0; i < n && i < CW_MAX_OPEN; i++)
        if (o == NULL || items[i].opened_ms < o->opened_ms)
            o = &items[i];
    return o;
}

static bool complaint_unresolved_due(const struct rule_params *p, const struct customer *c,
                                     int64_t *due)
{
    const struct open_item *o = oldest_item(c->complaints, c->n_complaints);
    if (o == NULL)
        return false;
    *due = add_sat(o->opened_ms, p->duration_ms < 0 ? 0 : p->duration_ms);
    return *due < INT64_MAX;
}

/* When a timer rule applies: sets *due (the rule holds at t > *due) and returns true. */
static bool rule_due(enum rule_id r, const struct rule_params *p, const struct customer *c,
                     int64_t *due)
{
    if (!p->enabled)
        return false;
    switch (r) {
    case RULE_ORDER_GAP:
        return order_gap_due(p, c, due);
    case RULE_COMPLAINT_UNRESOLVED:
        return complaint_unresolved_due(p, c, due);
    default: /* the next milestone */
        return false;
    }
}

/* Fills the evidence of a notice for rule r at ts. */
static void fill_evidence(const struct eval *x, const struct rule_params *p, struct notice *n)
{
    const struct customer *c = x->c;
    n->unit = "days";
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
        n->value = ((double)n->ts_ms - (double)last) / DAY_MS;
        n->threshold = p->factor * typical / DAY_MS;
        n->baseline = typical / DAY_MS;
        break;
    }
    case RULE_COMPLAINT_UNRESOLVED: {
        const struct open_item *o = oldest_item(c->complaints, c->n_complaints);
        int64_t opened = n->ts_ms;
        if (!n->firing && x->have_closed)
            opened = x->closed_opened_ms;
        else if (o != NULL)
            opened = o->opened_ms;
        n->value = ((double)n->ts_ms - (double)opened) / DAY_MS;
        n->threshold = (double)p->duration_ms / DAY_MS;
        n->baseline = 0;
        break;
    }
    default:
        n->unit = "";
        break;
    }
}

static uint8_t level_of(const struct config *cfg, double score)
{
    return score >= cfg->alarm_score   ? LEVEL_ALARM
           : score >= cfg->watch_score ? LEVEL_WATCH
                                       : LEVEL_OK;
}

/* Records in n the customer's risk as it stands with this notice applied: a firing rule is
 * already marked active, a resolving one still is and is left out. */
static void snapshot_risk(const struct eval *x, struct notice *n)
{
    double score = 0;
    uint32_t signals = 0;
    for (int r = 0; r < RULE__COUNT; r++) {
        if (!x->c->alerts[r].active || (r == (int)n->rule && !n->firing))
            continue;
        score += rule_params_of(x->cfg, x->c, (enum rule_id)r)->weight;
        signals |= 1u << r;
    }
    n->score = score;
    n->signals = signals;
    n->level = level_of(x->cfg, score);
}

static void emit(struct eval *x, enum rule_id r, bool firing, bool repeat, int64_t ts)
{
    x->changed = true;
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
    snapshot_risk(x, n);
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

/* Evaluates rule r at `now`: fires, repeats or resolves its alert. `resolve_ts` is the time
 * a resolved notice carries (the event's time, or now). */
static void evaluate_rule(struct eval *x, enum rule_id r, int64_t now, int64_t resolve_ts)
{
    struct customer *c = x->c;
    struct alert_state *a = &c->alerts[r];
    const struct rule_params *p = rule_params_of(x->cfg, c, r);
    int64_t due = 0;
    bool holds = rule_due(r, p, c, &due) && now > due;

    if (a->active && !holds) {
        int64_t ts = resolve_ts > a->last_sent_ms ? resolve_ts : a->last_sent_ms;
        emit(x, r, false, false, ts);
        memset(a, 0, sizeof *a);
        return;
    }
    if (!a->active && holds) {
        a->active = 1;
        a->started_ms = due;
        a->last_sent_ms = due;
        a->repeats = 0;
        emit(x, r, true, false, due);
    }
    if (a->active && p->repeat_interval_ms > 0) {
        /* Every repeat time reached is sent, up to CW_MAX_REPEATS per episode, so the
         * alerts depend only on the events, never on how often the customer happened to
         * be evaluated (batch boundaries, sweep timing, restarts). */
        int64_t interval = p->repeat_interval_ms;
        while (a->repeats < CW_MAX_REPEATS && now > a->last_sent_ms &&
               now - a->last_sent_ms >= interval) {
            a->last_sent_ms = add_sat(a->last_sent_ms, interval);
            a->repeats++;
            emit(x, r, true, true, a->last_sent_ms);
        }
    }
}

static void evaluate_all(struct eval *x, int64_t now, int64_t resolve_ts)
{
    for (int r = 0; r < RULE__COUNT; r++)
        evaluate_rule(x, (enum rule_id)r, now, resolve_ts);
}

/* Recomputes score, level and next_due_ms; orders the notices of this call. */
static void finish(struct eval *x, int first_notice)
{
    struct customer *c = x->c;
    const struct config *cfg = x->cfg;
    double score = 0;
    int64_t next = CW_NO_DUE;
    for (int i = 0; i < RULE__COUNT; i++) {
        enum rule_id r = (enum rule_id)i;
        const struct rule_params *p = rule_params_of(cfg, c, r);
        const struct alert_state *a = &c->alerts[r];
        int64_t due;
        if (a->active) {
            score += p->weight;
            if (p->repeat_interval_ms > 0 && a->repeats < CW_MAX_REPEATS) {
                int64_t t = add_sat(a->last_sent_ms, p->repeat_interval_ms);
                if (t < next)
                    next = t;
            }
        } else if (rule_due(r, p, c, &due) && due < CW_NO_DUE - 1 && due + 1 < next) {
            next = due + 1;
        }
    }
    uint8_t level = level_of(cfg, score);
    if (score != c->score || level != c->level || next != c->next_due_ms)
        x->changed = true;
    c->score = score;
    c->level = level;
    c->next_due_ms = next;

    /* stable insertion sort by (ts, rule) */
    if (x->out == NULL)
        return;
    struct notice *n = x->out->n;
    for (int i = first_notice + 1; i < x->out->count; i++) {
        struct notice tmp = n[i];
        int j = i;
        while (j > first_notice && (n[j - 1].ts_ms > tmp.ts_ms ||
                                    (n[j - 1].ts_ms == tmp.ts_ms && n[j - 1].rule > tmp.rule))) {
            n[j] = n[j - 1];
            j--;
        }
        n[j] = tmp;
    }
}

bool rules_advance(const struct config *cfg, struct customer *c, int64_t now_ms,
                   struct notice_list *out)
{
    struct eval x = {.cfg = cfg, .c = c, .out = out};
    int first = out ? out->count : 0;
    int64_t t = eval_time(c, now_ms);
    evaluate_all(&x, t, t);
    finish(&x, first);
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
        item_remove(items, n, (int)(oldest_item(items, *n) - items));
    }
    struct open_item *it = &items[(*n)++];
    memset(it, 0, sizeof *it);
    it->id_hash = h;
    it->opened_ms = ts;
    return it;
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
        c->unsubscribed = 0; /* ordering again undoes an unsubscribe */
        break;
    case EV_ORDER_CANCELLED:
        if (ev->amount > 0)
            c->total_spend -= ev->amount;
        if (!(c->total_spend > 0))
            c->total_spend = 0;
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
        i = item_find(c->complaints, c->n_complaints, h);
        if (i >= 0) /* still open: it keeps its age */
            c->complaints[i].reopened = 1;
        else
            item_add(c->complaints, &c->n_complaints, h, ev->ts_ms)->reopened = 1;
        break;
    case EV_SUPPORT_OPENED:
        h = ref_hash(ev);
        if (item_find(c->tickets, c->n_tickets, h) < 0)
            item_add(c->tickets, &c->n_tickets, h, ev->ts_ms);
        break;
    case EV_SUPPORT_REPLIED:
        i = item_find(c->tickets, c->n_tickets, ref_hash(ev));
        if (i >= 0)
            c->tickets[i].replied = 1;
        break;
    case EV_SUPPORT_CLOSED:
        i = item_find(c->tickets, c->n_tickets, ref_hash(ev));
        if (i >= 0)
            item_remove(c->tickets, &c->n_tickets, i);
        break;
    case EV_CUSTOMER_UNSUBSCRIBED:
        c->unsubscribed = 1;
        break;
    case EV_CUSTOMER_UPDATED:
        if (ev->tier >= 0 && ev->tier < TIER__COUNT)
            c->tier = (uint8_t)ev->tier;
        if (ev->has_account_manager)
            c->manager_hash = ev->account_manager[0] == '\0'
                                  ? 0
                                  : cw_hash64(ev->account_manager,
                                              strnlen(ev->account_manager, CW_TEXT_MAX),
                                              SEED_MANAGER);
        break;
    default:
        break;
    }
}

enum apply_result rules_apply_event(const struct config *cfg, struct customer *c,
                                    const struct event *ev, struct notice_list *out)
{
    uint64_t eid = 0;
    if (ev->event_id[0] != '\0') {
        eid = cw_hash64(ev->event_id, strnlen(ev->event_id, CW_ID_MAX), SEED_EVENT_ID);
        for (int i = 0; i < CW_RECENT_EVENT_IDS; i++)
            if (c->recent_ids[i] == eid)
                return APPLY_DUPLICATE;
    }

    struct eval x = {.cfg = cfg, .c = c, .out = out};
    int first = out ? out->count : 0;

    /* timers due by the event's time fire first */
    int64_t t = eval_time(c, ev->ts_ms);
    evaluate_all(&x, t, t);

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
    evaluate_all(&x, t, ev->ts_ms);
    if (ev->ts_ms > c->last_event_ms)
        c->last_event_ms = ev->ts_ms;
    x.changed = true;
    finish(&x, first);
    return APPLY_OK;
}
