/* backtest.c — labels, per-customer firing times and the confusion matrices of
 * `churnwatch replay --labels` (see backtest.h and docs/backtest.md). */
#include "backtest.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "customer.h"
#include "decode.h"
#include "event.h"

#define NEVER INT64_MIN
#define DAY_MS 86400000.0
#define ERRORS_MAX 20
#define NAMES_MAX (BACKTEST_GROUPS_MAX / 2) /* distinct group names, "(other)" included */
#define OTHER_GROUP "(other)"

struct bt_customer {
    char *id;     /* owned; NULL = empty slot */
    int8_t label; /* -1 not labelled, 0 not churned, 1 churned */
    bool seen;    /* at least one accepted event */
    int8_t group; /* index in bt->names, -1 = none */
    int64_t last_event_ms;
    int64_t first_fire_ms[RULE__COUNT]; /* NEVER = the rule never fired */
    uint32_t open;                      /* bit r: rule r's alert is open */
};

struct backtest {
    struct bt_customer *slot; /* open addressing, linear probing; cap is a power of 2 */
    size_t cap, count;
    char *names[NAMES_MAX]; /* owned group names */
    int n_names;
    bool has_end;
    int64_t end_ms;
};

struct backtest *backtest_new(void)
{
    struct backtest *bt = calloc(1, sizeof *bt);
    if (bt == NULL)
        return NULL;
    bt->cap = 1024;
    bt->slot = calloc(bt->cap, sizeof *bt->slot);
    if (bt->slot == NULL) {
        free(bt);
        return NULL;
    }
    return bt;
}

void backtest_free(struct backtest *bt)
{
    if (bt == NULL)
        return;
    for (size_t i = 0; i < bt->cap; i++)
        free(bt->slot[i].id);
    for (int i = 0; i < bt->n_names; i++)
        free(bt->names[i]);
    free(bt->slot);
    free(bt);
}

static size_t find_slot(const struct bt_customer *slot, size_t cap, const char *id)
{
    size_t i = (size_t)cw_hash64(id, strlen(id), 0) & (cap - 1);
    while (slot[i].id != NULL && strcmp(slot[i].id, id) != 0)
        i = (i + 1) & (cap - 1);
    return i;
}

static int grow(struct backtest *bt)
{
    size_t cap = bt->cap * 2;
    struct bt_customer *slot = calloc(cap, sizeof *slot);
    if (slot == NULL)
        return -1;
    for (size_t i = 0; i < bt->cap; i++)
        if (bt->slot[i].id != NULL)
            slot[find_slot(slot, cap, bt->slot[i].id)] = bt->slot[i];
    free(bt->slot);
    bt->slot = slot;
    bt->cap = cap;
    return 0;
}

/* Returns the customer `id`, added (unlabelled, unseen) when absent; NULL on ENOMEM.
 * *created tells which. The pointer is valid until the next lookup. */
static struct bt_customer *upsert(struct backtest *bt, const char *id, bool *created)
{
    size_t i = find_slot(bt->slot, bt->cap, id);
    *created = bt->slot[i].id == NULL;
    if (!*created)
        return &bt->slot[i];
    if ((bt->count + 1) * 4 > bt->cap * 3) {
        if (grow(bt) < 0)
            return NULL;
        i = find_slot(bt->slot, bt->cap, id);
    }
    struct bt_customer *c = &bt->slot[i];
    c->id = strdup(id);
    if (c->id == NULL)
        return NULL;
    c->label = -1;
    c->group = -1;
    c->last_event_ms = NEVER;
    for (int r = 0; r < RULE__COUNT; r++)
        c->first_fire_ms[r] = NEVER;
    bt->count++;
    return c;
}

/* Returns the index of group name `name` (interned), or -1 on ENOMEM. */
static int intern_group(struct backtest *bt, const char *name)
{
    for (int i = 0; i < bt->n_names; i++)
        if (strcmp(bt->names[i], name) == 0)
            return i;
    if (bt->n_names == NAMES_MAX - 1)
        name = OTHER_GROUP; /* the last name slot collects the rest */
    else if (bt->n_names == NAMES_MAX)
        return NAMES_MAX - 1;
    char *copy = strdup(name);
    if (copy == NULL)
        return -1;
    bt->names[bt->n_names] = copy;
    return bt->n_names++;
}

int backtest_add_label(struct backtest *bt, const char *customer_id, bool churned,
                       const char *group)
{
    bool created;
    struct bt_customer *c = upsert(bt, customer_id, &created);
    if (c == NULL)
        return -1;
    if (c->label >= 0) {
        errno = EEXIST;
        return -1;
    }
    int g = -1;
    if (group != NULL) {
        g = intern_group(bt, group);
        if (g < 0)
            return -1;
    }
    c = upsert(bt, customer_id, &created); /* intern_group does not move slots, but be safe */
    c->label = churned ? 1 : 0;
    c->group = (int8_t)g;
    return 0;
}

int backtest_observe(struct backtest *bt, const char *customer_id, int64_t ts_ms)
{
    bool created;
    struct bt_customer *c = upsert(bt, customer_id, &created);
    if (c == NULL)
        return -1;
    if (!c->seen || ts_ms > c->last_event_ms)
        c->last_event_ms = ts_ms;
    c->seen = true;
    return 0;
}

int backtest_notice(struct backtest *bt, const char *customer_id, enum rule_id rule, bool firing,
                    bool repeat, int64_t started_ms, int64_t ts_ms)
{
    (void)started_ms; /* an episode starts at its firing notice's ts */
    if ((unsigned)rule >= RULE__COUNT)
        return 0;
    bool created;
    struct bt_customer *c = upsert(bt, customer_id, &created);
    if (c == NULL)
        return -1;
    if (!firing) {
        c->open &= ~(1u << rule);
        return 0;
    }
    c->open |= 1u << rule;
    if (!repeat && (c->first_fire_ms[rule] == NEVER || ts_ms < c->first_fire_ms[rule]))
        c->first_fire_ms[rule] = ts_ms;
    return 0;
}

void backtest_set_end(struct backtest *bt, int64_t end_ms)
{
    bt->has_end = true;
    bt->end_ms = end_ms;
}

/* ---- labels ------------------------------------------------------------------------ */

struct errs {
    char *buf;
    size_t len, used;
    int count;
};

__attribute__((format(printf, 2, 3))) static void add_error(struct errs *e, const char *fmt, ...)
{
    e->count++;
    if (e->count > ERRORS_MAX || e->buf == NULL || e->used + 1 >= e->len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->buf + e->used, e->len - e->used, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    e->used += (size_t)n < e->len - e->used ? (size_t)n : e->len - e->used - 1;
    if (e->used + 1 < e->len) {
        e->buf[e->used++] = '\n';
        e->buf[e->used] = '\0';
    }
}

/* Trims blanks and one pair of surrounding double quotes, in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s[n - 1] = '\0';
        s++;
    }
    return s;
}

static int parse_churned(const char *s, bool *v)
{
    if (strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0) {
        *v = true;
        return 0;
    }
    if (strcmp(s, "0") == 0 || strcasecmp(s, "false") == 0) {
        *v = false;
        return 0;
    }
    return -1;
}

int backtest_read_labels(struct backtest *bt, FILE *in, const char *name, char *errs,
                         size_t errs_len)
{
    struct errs e = {.buf = errs, .len = errs_len};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t lineno = 0;
    bool first = true;

    if (errs != NULL && errs_len > 0)
        errs[0] = '\0';
    if (name == NULL)
        name = "labels";
    errno = 0;
    while ((n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (strlen(line) != len) {
            add_error(&e, "%s:%" PRIu64 ": NUL byte in line", name, lineno);
            continue;
        }
        char *p = trim(line);
        if (*p == '\0' || *p == '#')
            continue;
        char *fields[3] = {p, NULL, NULL};
        char *comma = strchr(p, ',');
        if (comma != NULL) {
            *comma = '\0';
            fields[1] = comma + 1;
            comma = strchr(fields[1], ',');
            if (comma != NULL) {
                *comma = '\0';
                fields[2] = comma + 1;
                comma = strchr(fields[2], ',');
                if (comma != NULL)
                    *comma = '\0'; /* further columns are ignored */
            }
        }
        const char *id = trim(fields[0]);
        bool header = first && strcmp(id, "customer_id") == 0;
        first = false;
        if (header)
            continue;
        if (fields[1] == NULL) {
            add_error(&e, "%s:%" PRIu64 ": expected \"customer_id,churned\"", name, lineno);
            continue;
        }
        const char *val = trim(fields[1]);
        const char *group = fields[2] != NULL ? trim(fields[2]) : NULL;
        bool churned;
        size_t id_len = strlen(id);
        if (id_len == 0) {
            add_error(&e, "%s:%" PRIu64 ": empty customer_id", name, lineno);
        } else if (id_len > CW_ID_MAX) {
            add_error(&e, "%s:%" PRIu64 ": customer_id longer than %d bytes", name, lineno,
                      CW_ID_MAX);
        } else if (parse_churned(val, &churned) < 0) {
            add_error(&e, "%s:%" PRIu64 ": churned: expected 1, 0, true or false, got \"%.40s\"",
                      name, lineno, val);
        } else if (backtest_add_label(bt, id, churned, group) < 0) {
            if (errno != EEXIST) {
                add_error(&e, "%s: out of memory", name);
                break;
            }
            add_error(&e, "%s:%" PRIu64 ": customer \"%.128s\" is labelled twice", name, lineno,
                      id);
        }
        if (e.count > ERRORS_MAX)
            break;
        errno = 0;
    }
    if (ferror(in))
        add_error(&e, "%s: read error: %s", name, strerror(errno ? errno : EIO));
    free(line);
    if (e.count > ERRORS_MAX && e.buf != NULL && e.used + 1 < e.len)
        snprintf(e.buf + e.used, e.len - e.used, "%s: too many errors, stopped\n", name);
    return e.count > 0 ? -1 : 0;
}

/* ---- report ------------------------------------------------------------------------ */

static double ratio(uint64_t a, uint64_t b)
{
    return b == 0 ? NAN : (double)a / (double)b;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, uint64_t n)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void finish(struct backtest_score *s)
{
    s->precision = ratio(s->tp, s->tp + s->fp);
    s->recall = ratio(s->tp, s->tp + s->fn);
    s->specificity = ratio(s->tn, s->tn + s->fp);
    s->balanced_accuracy =
        isnan(s->recall) || isnan(s->specificity) ? NAN : (s->recall + s->specificity) / 2;
}

static void count(struct backtest_score *s, bool churned, bool flagged)
{
    if (churned)
        flagged ? s->tp++ : s->fn++;
    else
        flagged ? s->fp++ : s->tn++;
}

static int cmp_group(const void *a, const void *b)
{
    const struct backtest_group *x = a, *y = b;
    if (x->churned != y->churned)
        return x->churned ? -1 : 1;
    return strcmp(x->name, y->name);
}

int backtest_report(const struct backtest *bt, struct backtest_report *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->has_end = bt->has_end;
    rep->end_ms = bt->end_ms;
    /* lead times of true positives, per rule and for any rule */
    double *lead[RULE__COUNT + 1] = {0};
    size_t n_lead_cap = bt->count > 0 ? bt->count : 1;
    for (int r = 0; r <= RULE__COUNT; r++) {
        lead[r] = malloc(n_lead_cap * sizeof(double));
        if (lead[r] == NULL) {
            for (int k = 0; k < r; k++)
                free(lead[k]);
            return -1;
        }
    }
    /* group slot index for (name index or none, churned) */
    int gslot[NAMES_MAX + 1][2];
    memset(gslot, -1, sizeof gslot);

    for (size_t i = 0; i < bt->cap; i++) {
        const struct bt_customer *c = &bt->slot[i];
        if (c->id == NULL)
            continue;
        if (c->label < 0) {
            if (c->seen)
                rep->seen_unlabelled++;
            continue;
        }
        bool churned = c->label == 1;
        rep->labelled++;
        churned ? rep->churned++ : rep->not_churned++;
        if (!c->seen)
            rep->labelled_unseen++;
        int64_t any_first = NEVER;
        for (int r = 0; r < RULE__COUNT; r++) {
            int64_t f = c->first_fire_ms[r];
            bool fired = f != NEVER;
            count(&rep->during[r], churned, fired);
            count(&rep->cutoff[r], churned, (c->open >> r) & 1u);
            if (fired && (any_first == NEVER || f < any_first))
                any_first = f;
            if (fired && churned && c->seen)
                lead[r][rep->during[r].lead_n++] = ((double)c->last_event_ms - (double)f) / DAY_MS;
        }
        count(&rep->during[RULE__COUNT], churned, any_first != NEVER);
        count(&rep->cutoff[RULE__COUNT], churned, c->open != 0);
        if (any_first != NEVER && churned && c->seen)
            lead[RULE__COUNT][rep->during[RULE__COUNT].lead_n++] =
                ((double)c->last_event_ms - (double)any_first) / DAY_MS;

        if (bt->n_names == 0)
            continue; /* no label has a group column */
        int name = c->group < 0 ? NAMES_MAX : c->group;
        int *gs = &gslot[name][churned];
        if (*gs < 0) {
            *gs = rep->n_groups++;
            struct backtest_group *g = &rep->group[*gs];
            snprintf(g->name, sizeof g->name, "%s", c->group < 0 ? "" : bt->names[c->group]);
            g->churned = churned;
        }
        struct backtest_group *g = &rep->group[*gs];
        g->customers++;
        if (any_first != NEVER)
            g->flagged_any++;
        for (int r = 0; r < RULE__COUNT; r++)
            if (c->first_fire_ms[r] != NEVER)
                g->flagged[r]++;
    }
    for (int r = 0; r <= RULE__COUNT; r++) {
        finish(&rep->during[r]);
        finish(&rep->cutoff[r]);
        rep->during[r].lead_median_days = median(lead[r], rep->during[r].lead_n);
        rep->cutoff[r].lead_median_days = NAN;
        free(lead[r]);
    }
    qsort(rep->group, (size_t)rep->n_groups, sizeof rep->group[0], cmp_group);
    return 0;
}

/* ---- printing ---------------------------------------------------------------------- */

static void put_ratio(FILE *out, int width, double v)
{
    if (isnan(v))
        fprintf(out, "%*s", width, "-");
    else
        fprintf(out, "%*.3f", width, v);
}

static const char *score_name(int r)
{
    return r == RULE__COUNT ? "any rule" : rule_name((enum rule_id)r);
}

static void print_scores(FILE *out, const struct backtest_score *s, bool with_lead)
{
    fprintf(out, "%-22s %6s %6s %6s %6s %9s %7s %8s%s\n", "rule", "TP", "FP", "FN", "TN",
            "precision", "recall", "bal.acc", with_lead ? "  lead(d)" : "");
    for (int r = 0; r <= RULE__COUNT; r++) {
        const struct backtest_score *x = &s[r];
        fprintf(out, "%-22s %6" PRIu64 " %6" PRIu64 " %6" PRIu64 " %6" PRIu64, score_name(r), x->tp,
                x->fp, x->fn, x->tn);
        put_ratio(out, 10, x->precision);
        put_ratio(out, 8, x->recall);
        put_ratio(out, 9, x->balanced_accuracy);
        if (with_lead) {
            if (isnan(x->lead_median_days))
                fprintf(out, "%9s", "-");
            else
                fprintf(out, "%9.1f", x->lead_median_days);
        }
        fputc('\n', out);
    }
}

void backtest_report_print_table(const struct backtest_report *rep, FILE *out)
{
    fprintf(out,
            "backtest: %" PRIu64 " labelled customers (%" PRIu64 " churned, %" PRIu64
            " not churned); %" PRIu64 " labelled but not in the events (not flagged); %" PRIu64
            " in the events but not labelled (ignored)\n",
            rep->labelled, rep->churned, rep->not_churned, rep->labelled_unseen,
            rep->seen_unlabelled);
    if (rep->has_end) {
        char ts[32];
        format_rfc3339(rep->end_ms, ts);
        fprintf(out, "end of replay: %s\n", ts);
    }
    fprintf(out, "\nflagged during the replay (the rule fired at least once); lead = last event "
                 "- first firing,\nmedian over true positives, in days (negative: the warning "
                 "came after the last event)\n");
    print_scores(out, rep->during, true);
    fprintf(out, "\nflagged at the cutoff (the rule's alert is open at the end of the replay)\n");
    print_scores(out, rep->cutoff, false);
    if (rep->n_groups == 0)
        return;
    fprintf(out, "\nby label group (third column of the labels): customers flagged by any rule "
                 "during the replay\n");
    fprintf(out, "%-22s %7s %9s %7s %6s  %s\n", "group", "churned", "customers", "flagged", "rate",
            "top rules");
    for (int i = 0; i < rep->n_groups; i++) {
        const struct backtest_group *g = &rep->group[i];
        fprintf(out, "%-22s %7s %9" PRIu64 " %7" PRIu64, g->name[0] ? g->name : "-",
                g->churned ? "yes" : "no", g->customers, g->flagged_any);
        put_ratio(out, 7, ratio(g->flagged_any, g->customers));
        /* the three rules that fired for most of the group, ties in rule order */
        bool used[RULE__COUNT] = {0};
        for (int k = 0; k < 3; k++) {
            int best = -1;
            for (int r = 0; r < RULE__COUNT; r++)
                if (!used[r] && g->flagged[r] > 0 && (best < 0 || g->flagged[r] > g->flagged[best]))
                    best = r;
            if (best < 0)
                break;
            used[best] = true;
            fprintf(out, "%s%s %" PRIu64, k ? " " : "  ", rule_name((enum rule_id)best),
                    g->flagged[best]);
        }
        fputc('\n', out);
    }
}

static void json_number(FILE *out, double v, const char *fmt)
{
    if (isnan(v))
        fputs("null", out);
    else
        fprintf(out, fmt, v);
}

static void json_scores(FILE *out, const struct backtest_score *s, bool with_lead)
{
    fputc('{', out);
    for (int r = 0; r <= RULE__COUNT; r++) {
        const struct backtest_score *x = &s[r];
        fprintf(out,
                "%s\"%s\": {\"tp\": %" PRIu64 ", \"fp\": %" PRIu64 ", \"fn\": %" PRIu64
                ", \"tn\": %" PRIu64 ", \"precision\": ",
                r ? ", " : "", r == RULE__COUNT ? "any" : rule_name((enum rule_id)r), x->tp, x->fp,
                x->fn, x->tn);
        json_number(out, x->precision, "%.4f");
        fputs(", \"recall\": ", out);
        json_number(out, x->recall, "%.4f");
        fputs(", \"specificity\": ", out);
        json_number(out, x->specificity, "%.4f");
        fputs(", \"balanced_accuracy\": ", out);
        json_number(out, x->balanced_accuracy, "%.4f");
        if (with_lead) {
            fprintf(out, ", \"lead_n\": %" PRIu64 ", \"lead_median_days\": ", x->lead_n);
            json_number(out, x->lead_median_days, "%.2f");
        }
        fputc('}', out);
    }
    fputc('}', out);
}

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

void backtest_report_print_json(const struct backtest_report *rep, FILE *out)
{
    fprintf(out,
            "{\"labelled\": %" PRIu64 ", \"churned\": %" PRIu64 ", \"not_churned\": %" PRIu64
            ", \"labelled_unseen\": %" PRIu64 ", \"seen_unlabelled\": %" PRIu64 ", \"end\": ",
            rep->labelled, rep->churned, rep->not_churned, rep->labelled_unseen,
            rep->seen_unlabelled);
    if (rep->has_end) {
        char ts[32];
        format_rfc3339(rep->end_ms, ts);
        fprintf(out, "\"%s\"", ts);
    } else {
        fputs("null", out);
    }
    fputs(", \"during\": ", out);
    json_scores(out, rep->during, true);
    fputs(", \"at_cutoff\": ", out);
    json_scores(out, rep->cutoff, false);
    fputs(", \"groups\": [", out);
    for (int i = 0; i < rep->n_groups; i++) {
        const struct backtest_group *g = &rep->group[i];
        fputs(i ? ", {\"group\": " : "{\"group\": ", out);
        json_string(out, g->name);
        fprintf(out,
                ", \"churned\": %s, \"customers\": %" PRIu64 ", \"flagged_any\": %" PRIu64
                ", \"flagged\": {",
                g->churned ? "true" : "false", g->customers, g->flagged_any);
        for (int r = 0; r < RULE__COUNT; r++)
            fprintf(out, "%s\"%s\": %" PRIu64, r ? ", " : "", rule_name((enum rule_id)r),
                    g->flagged[r]);
        fputs("}}", out);
    }
    fputs("]}\n", out);
}
