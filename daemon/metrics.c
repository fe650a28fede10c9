/* metrics.c — see metrics.h. */
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vec.h"

#define METRIC_LABELS_MAX 16 /* label names of a family; checked by family_new */

/* An update is a plain load and store only if 64-bit atomics need no lock. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");

struct metric {
    enum metric_type type;
    char *name, *help; /* owned */
    size_t n_labels;
    char **label_names;   /* owned, n_labels */
    char ***label_values; /* owned, per label n_values[k] strings (not for tables) */
    size_t *n_values;     /* owned */
    size_t n_series;
    /* counters: n_series; histograms: n_series x (n_bounds + 1) buckets, not cumulative
     * (the last counts what is above the last bound) */
    _Atomic uint64_t *count;
    _Atomic double *value; /* gauges: n_series; histograms: the sums */
    double *bounds;        /* owned, n_bounds */
    size_t n_bounds;
    /* gauge tables: rows replaced as a whole under `lock` */
    bool table;
    pthread_mutex_t lock;
    char *text; /* the rows' label values, each NUL-terminated, n_labels per row */
    size_t text_len, text_cap;
    struct table_row {
        size_t text; /* offset in text of the row's first label value */
        double value;
    } *rows;
    size_t n_rows, rows_cap;
    struct metric *next;
};

struct metrics {
    struct metric *first, *last; /* registration order; fixed once the server runs */
};

struct metrics *metrics_new(void)
{
    return calloc(1, sizeof(struct metrics));
}

static void metric_free(struct metric *mt)
{
    for (size_t k = 0; k < mt->n_labels; k++) {
        free(mt->label_names ? mt->label_names[k] : NULL);
        for (size_t v = 0; mt->label_values && mt->label_values[k] && v < mt->n_values[k]; v++)
            free(mt->label_values[k][v]);
        free(mt->label_values ? mt->label_values[k] : NULL);
    }
    free(mt->label_names);
    free(mt->label_values);
    free(mt->n_values);
    free(mt->name);
    free(mt->help);
    free(mt->count);
    free(mt->value);
    free(mt->bounds);
    if (mt->table)
        pthread_mutex_destroy(&mt->lock);
    free(mt->text);
    free(mt->rows);
    free(mt);
}

void metrics_free(struct metrics *m)
{
    if (m == NULL)
        return;
    for (struct metric *mt = m->first, *next; mt != NULL; mt = next) {
        next = mt->next;
        metric_free(mt);
    }
    free(m);
}

/* Prometheus's data model: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names
 * [a-zA-Z_][a-zA-Z0-9_]* not starting with "__" (reserved). */
static bool valid_name(const char *s, bool label)
{
    if (s == NULL || s[0] == '\0' || (label && s[0] == '_' && s[1] == '_'))
        return false;
    for (const char *c = s; *c != '\0'; c++) {
        bool alpha = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' ||
                     (!label && *c == ':');
        if (!alpha && !(c > s && *c >= '0' && *c <= '9'))
            return false;
    }
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A new family with name, help and label names set, appended to m; NULL when invalid. */
static struct metric *family_new(struct metrics *m, enum metric_type type, const char *name,
                                 const char *help, const char *const *label_names, size_t n_labels)
{
    if (!valid_name(name, false) || (type == METRIC_COUNTER) != ends_with(name, "_total") ||
        n_labels > METRIC_LABELS_MAX)
        return NULL;
    for (struct metric *o = m->first; o != NULL; o = o->next)
        if (strcmp(o->name, name) == 0)
            return NULL;
    for (size_t k = 0; k < n_labels; k++) {
        if (!valid_name(label_names[k], true) ||
            (type == METRIC_HISTOGRAM && strcmp(label_names[k], "le") == 0))
            return NULL;
        for (size_t j = 0; j < k; j++)
            if (strcmp(label_names[j], label_names[k]) == 0)
                return NULL;
    }
    struct metric *mt = calloc(1, sizeof *mt);
    if (mt == NULL)
        return NULL;
    mt->type = type;
    mt->n_labels = n_labels;
    mt->name = strdup(name);
    mt->help = strdup(help ? help : "");
    mt->label_names = calloc(n_labels ? n_labels : 1, sizeof *mt->label_names);
    if (mt->name == NULL || mt->help == NULL || mt->label_names == NULL)
        goto fail;
    for (size_t k = 0; k < n_labels; k++)
        if ((mt->label_names[k] = strdup(label_names[k])) == NULL)
            goto fail;
    return mt;
fail:
    metric_free(mt);
    return NULL;
}

static void family_append(struct metrics *m, struct metric *mt)
{
    if (m->last)
        m->last->next = mt;
    else
        m->first = mt;
    m->last = mt;
}

struct metric *metrics_add(struct metrics *m, enum metric_type type, const char *name,
                           const char *help, const struct metric_label *labels, size_t n_labels,
                           const double *bounds, size_t n_bounds)
{
    if ((type == METRIC_HISTOGRAM) != (n_bounds > 0) || n_labels > METRIC_LABELS_MAX)
        return NULL;
    for (size_t b = 0; b < n_bounds; b++)
        if (!isfinite(bounds[b]) || (b > 0 && bounds[b] <= bounds[b - 1]))
            return NULL;
    const char *names[METRIC_LABELS_MAX];
    for (size_t k = 0; k < n_labels; k++)
        names[k] = labels[k].name;
    struct metric *mt = family_new(m, type, name, help, names, n_labels);
    if (mt == NULL)
        return NULL;
    mt->label_values = calloc(n_labels ? n_labels : 1, sizeof *mt->label_values);
    mt->n_values = calloc(n_labels ? n_labels : 1, sizeof *mt->n_values);
    if (mt->label_values == NULL || mt->n_values == NULL)
        goto fail;
    mt->n_series = 1;
    for (size_t k = 0; k < n_labels; k++) {
        size_t n = labels[k].n_values;
        if (n == 0 || mt->n_series > SIZE_MAX / 64 / n)
            goto fail;
        mt->n_series *= n;
        if ((mt->label_values[k] = calloc(n, sizeof **mt->label_values)) == NULL)
            goto fail;
        mt->n_values[k] = n;
        for (size_t v = 0; v < n; v++)
            if ((mt->label_values[k][v] = strdup(labels[k].values[v])) == NULL)
                goto fail;
    }
    if (type == METRIC_HISTOGRAM) {
        mt->n_bounds = n_bounds;
        mt->bounds = malloc(n_bounds * sizeof *mt->bounds);
        mt->count = calloc(mt->n_series * (n_bounds + 1), sizeof *mt->count);
        mt->value = calloc(mt->n_series, sizeof *mt->value);
        if (mt->bounds == NULL || mt->count == NULL || mt->value == NULL)
            goto fail;
        memcpy(mt->bounds, bounds, n_bounds * sizeof *bounds);
    } else if (type == METRIC_COUNTER) {
        if ((mt->count = calloc(mt->n_series, sizeof *mt->count)) == NULL)
            goto fail;
    } else if ((mt->value = calloc(mt->n_series, sizeof *mt->value)) == NULL) {
        goto fail;
    }
    family_append(m, mt);
    return mt;
fail:
    metric_free(mt);
    return NULL;
}

struct metric *metrics_add_table(struct metrics *m, const char *name, const char *help,
                                 const char *const *label_names, size_t n_labels)
{
    if (n_labels == 0)
        return NULL;
    struct metric *mt = family_new(m, METRIC_GAUGE, name, help, label_names, n_labels);
    if (mt == NULL)
        return NULL;
    if (pthread_mutex_init(&mt->lock, NULL) != 0) {
        metric_free(mt);
        return NULL;
    }
    mt->table = true;
    family_append(m, mt);
    return mt;
}

/* ---- updates: one writer (the main thread), so a load and a store suffice ---- */

void metric_add(struct metric *mt, size_t series, uint64_t n)
{
    _Atomic uint64_t *c = &mt->count[series];
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

void metric_set_total(struct metric *mt, size_t series, uint64_t v)
{
    atomic_store_explicit(&mt->count[series], v, memory_order_relaxed);
}

void metric_set(struct metric *mt, size_t series, double v)
{
    atomic_store_explicit(&mt->value[series], v, memory_order_relaxed);
}

void metric_observe(struct metric *mt, size_t series, double v)
{
    size_t b = 0;
    while (b < mt->n_bounds && !(v <= mt->bounds[b])) /* le: upper bound inclusive */
        b++;
    metric_add(mt, series * (mt->n_bounds + 1) + b, 1);
    _Atomic double *sum = &mt->value[series];
    atomic_store_explicit(sum, atomic_load_explicit(sum, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

void metric_table_begin(struct metric *mt)
{
    pthread_mutex_lock(&mt->lock);
    mt->n_rows = 0;
    mt->text_len = 0;
}

int metric_table_row(struct metric *mt, const char *const *label_values, double v)
{
    size_t need = 0;
    for (size_t k = 0; k < mt->n_labels; k++)
        need += strlen(label_values[k]) + 1;
    char *text = vec_reserve(mt->text, &mt->text_cap, mt->text_len + need, 1, 256);
    if (text == NULL)
        return -1;
    mt->text = text;
    struct table_row *rows =
        vec_reserve(mt->rows, &mt->rows_cap, mt->n_rows + 1, sizeof *rows, 16);
    if (rows == NULL)
        return -1;
    mt->rows = rows;
    mt->rows[mt->n_rows] = (struct table_row){mt->text_len, v};
    for (size_t k = 0; k < mt->n_labels; k++) {
        size_t n = strlen(label_values[k]) + 1;
        memcpy(mt->text + mt->text_len, label_values[k], n);
        mt->text_len += n;
    }
    mt->n_rows++;
    return 0;
}

void metric_table_end(struct metric *mt)
{
    pthread_mutex_unlock(&mt->lock);
}

/* ---- exposition ---- */

struct out {
    char *buf;
    size_t len, cap;
    bool oom;
};

static void out_mem(struct out *o, const char *s, size_t n)
{
    if (o->oom)
        return;
    char *buf = vec_reserve(o->buf, &o->cap, o->len + n + 1, 1, 4096);
    if (buf == NULL) {
        o->oom = true;
        return;
    }
    o->buf = buf;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void out_str(struct out *o, const char *s)
{
    out_mem(o, s, strlen(s));
}

/* HELP text escapes \ and newline; label values " as well. */
static void out_escaped(struct out *o, const char *s, bool quote)
{
    for (const char *c = s; *c != '\0'; c++) {
        if (*c == '\\')
            out_str(o, "\\\\");
        else if (*c == '\n')
            out_str(o, "\\n");
        else if (quote && *c == '"')
            out_str(o, "\\\"");
        else
            out_mem(o, c, 1);
    }
}

/* The shorter of %.15g and %.17g that reads back as v; NaN, +Inf, -Inf as Prometheus
 * spells them. */
static void format_double(char buf[40], double v)
{
    if (isnan(v))
        snprintf(buf, 40, "NaN");
    else if (isinf(v))
        snprintf(buf, 40, v > 0 ? "+Inf" : "-Inf");
    else if (snprintf(buf, 40, "%.15g", v), strtod(buf, NULL) != v)
        snprintf(buf, 40, "%.17g", v);
}

static void out_double(struct out *o, double v)
{
    char buf[40];
    format_double(buf, v);
    out_str(o, buf);
}

static void out_u64(struct out *o, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    out_str(o, buf);
}

/* name{a="x",b="y"[,le="..."]} with the label values of `values` (n_labels of them). */
static void out_series(struct out *o, const struct metric *mt, const char *suffix,
                       const char *const *values, const char *le)
{
    out_str(o, mt->name);
    out_str(o, suffix);
    if (mt->n_labels == 0 && le == NULL) {
        out_str(o, " ");
        return;
    }
    out_str(o, "{");
    for (size_t k = 0; k < mt->n_labels; k++) {
        out_str(o, k ? "," : "");
        out_str(o, mt->label_names[k]);
        out_str(o, "=\"");
        out_escaped(o, values[k], true);
        out_str(o, "\"");
    }
    if (le != NULL) {
        out_str(o, mt->n_labels ? ",le=\"" : "le=\"");
        out_str(o, le);
        out_str(o, "\"");
    }
    out_str(o, "} ");
}

static void render_histogram(struct out *o, const struct metric *mt, size_t i,
                             const char *const *values)
{
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= mt->n_bounds; b++) {
        char le[40] = "+Inf";
        if (b < mt->n_bounds)
            format_double(le, mt->bounds[b]);
        cumulative +=
            atomic_load_explicit(&mt->count[i * (mt->n_bounds + 1) + b], memory_order_relaxed);
        out_series(o, mt, "_bucket", values, le);
        out_u64(o, cumulative);
        out_str(o, "\n");
    }
    out_series(o, mt, "_sum", values, NULL);
    out_double(o, atomic_load_explicit(&mt->value[i], memory_order_relaxed));
    out_str(o, "\n");
    out_series(o, mt, "_count", values, NULL);
    out_u64(o, cumulative);
    out_str(o, "\n");
}

static void render_family(struct out *o, struct metric *mt)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    out_str(o, "# HELP ");
    out_str(o, mt->name);
    out_str(o, " ");
    out_escaped(o, mt->help, false);
    out_str(o, "\n# TYPE ");
    out_str(o, mt->name);
    out_str(o, " ");
    out_str(o, type_names[mt->type]);
    out_str(o, "\n");
    const char *values[METRIC_LABELS_MAX];
    if (mt->table) {
        pthread_mutex_lock(&mt->lock);
        for (size_t r = 0; r < mt->n_rows; r++) {
            const char *s = mt->text + mt->rows[r].text;
            for (size_t k = 0; k < mt->n_labels; k++, s += strlen(s) + 1)
                values[k] = s;
            out_series(o, mt, "", values, NULL);
            out_double(o, mt->rows[r].value);
            out_str(o, "\n");
        }
        pthread_mutex_unlock(&mt->lock);
        return;
    }
    for (size_t i = 0; i < mt->n_series; i++) {
        /* the label values of series i: mixed radix, the last label fastest */
        for (size_t k = mt->n_labels, rest = i; k-- > 0; rest /= mt->n_values[k])
            values[k] = mt->label_values[k][rest % mt->n_values[k]];
        if (mt->type == METRIC_HISTOGRAM) {
            render_histogram(o, mt, i, values);
            continue;
        }
        out_series(o, mt, "", values, NULL);
        if (mt->type == METRIC_COUNTER)
            out_u64(o, atomic_load_explicit(&mt->count[i], memory_order_relaxed));
        else
            out_double(o, atomic_load_explicit(&mt->value[i], memory_order_relaxed));
        out_str(o, "\n");
    }
}

char *metrics_render(struct metrics *m, size_t *len)
{
    struct out o = {0};
    out_str(&o, ""); /* an empty registry is an empty string, not NULL */
    for (struct metric *mt = m->first; mt != NULL; mt = mt->next)
        render_family(&o, mt);
    if (o.oom) {
        free(o.buf);
        return NULL;
    }
    *len = o.len;
    return o.buf;
}
