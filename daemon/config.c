/* config.c — the YAML configuration (config.h; config/churnwatch.yaml documents every key).
 *
 * Two passes. First libyaml's event parser builds a small tree of nodes that remember
 * their position; syntax errors, anchors and aliases, and duplicate keys are reported
 * there. Then the tree is walked against tables of key descriptors (name, type, bounds,
 * default, offset into the struct), in the spirit of Redis's config.c. Defaults come from
 * the same tables, written as YAML text and parsed by the same code as the file.
 *
 * Every problem is collected with its position and parsing goes on, so that one run
 * reports them all. At the end they are sorted by position and written to the caller's
 * buffer, one "name:line:col: message\n" per line; a line that does not fit is dropped
 * (or, if it is the first, cut), so the buffer never overflows and never ends mid-line
 * except in that case.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "customer.h"
#include "event.h"
#include "http_server.h"
#include "json_escape.h"
#include "log.h"
#include "secret.h"

#define CFG_MAX_FILE (4u << 20) /* config files larger than this are refused */
#define CFG_MAX_DEPTH 64        /* nesting limit: keeps the recursive passes bounded */
#define CFG_MAX_ERRORS 200      /* errors kept; the rest are counted */
#define CFG_MAX_TOPICS 1024
#define CFG_PATH_LEN 256 /* "kafka.topics[3].fields.customer_id" and such */
#define CFG_MSG_LEN 512
#define CFG_STR2(x) #x
#define CFG_STR(x) CFG_STR2(x)

/* ------------------------------------------------------------------------------------ */
/* The node tree built from the YAML events. */

enum node_kind { N_SCALAR, N_MAP, N_SEQ };

struct node {
    enum node_kind kind;
    size_t line, col; /* 1-based */
    bool bad;         /* alias, non-scalar key or duplicate key: reported, skip it */
    bool dup;         /* a key that repeats an earlier one of its mapping */
    bool null;        /* plain "", "~" or "null" */
    char *value;      /* N_SCALAR: owned, NUL-terminated */
    size_t len;
    struct node **child; /* owned. N_MAP: key, value, key, value, ...; N_SEQ: items */
    size_t n, cap;
};

struct cfg_error {
    size_t line, col; /* 0, 0 when the error has no position */
    size_t seq;       /* order of discovery, to keep the sort stable */
    char *msg;        /* owned */
};

/* The state of one config_load_buffer() call. */
struct parse {
    const char *name; /* file name used in messages */
    const char *buf;  /* the input, to locate reader errors */
    size_t len;
    struct config *cfg;
    struct cfg_error *err; /* owned array */
    size_t n_err, cap_err;
    size_t n_total; /* errors found, including those not kept */
    bool oom;
    bool abort;                   /* syntax error or out of memory while building the tree */
    const struct node *kafka_key; /* for "at least one topic" */
    bool topics_given;            /* kafka.topics present and not empty */
};

static void verr(struct parse *p, size_t line, size_t col, const char *path, const char *fmt,
                 va_list ap)
{
    char raw[CFG_MSG_LEN], msg[CFG_MSG_LEN];
    size_t off = 0;

    p->n_total++;
    if (p->n_err == CFG_MAX_ERRORS)
        return;
    if (path[0] != '\0') {
        int n = snprintf(raw, sizeof raw, "%s: ", path);
        off = n < 0 ? 0 : (size_t)n < sizeof raw ? (size_t)n : sizeof raw - 1;
    }
    vsnprintf(raw + off, sizeof raw - off, fmt, ap);
    /* Keys and values are quoted in messages: a newline in one (a folded flow scalar)
     * must not start an error line without its file:line:column. */
    text_escape(msg, sizeof msg, raw);
    if (p->n_err == p->cap_err) {
        size_t cap = p->cap_err ? 2 * p->cap_err : 16;
        struct cfg_error *e = realloc(p->err, cap * sizeof *e);
        if (e == NULL) {
            p->oom = true;
            return;
        }
        p->err = e;
        p->cap_err = cap;
    }
    char *copy = strdup(msg);
    if (copy == NULL) {
        p->oom = true;
        return;
    }
    p->err[p->n_err] = (struct cfg_error){line, col, p->n_total, copy};
    p->n_err++;
}

/* Records an error at line:col (0, 0: no position); the message is "path: fmt...". */
__attribute__((format(printf, 5, 6))) static void perr_at(struct parse *p, size_t line, size_t col,
                                                          const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr(p, line, col, path, fmt, ap);
    va_end(ap);
}

/* Records an error at the position of node `at`. */
__attribute__((format(printf, 4, 5))) static void perr(struct parse *p, const struct node *at,
                                                       const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr(p, at->line, at->col, path, fmt, ap);
    va_end(ap);
}

static int error_cmp(const void *a, const void *b)
{
    const struct cfg_error *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The caller's error buffer, filled a whole line at a time. */
struct errs_out {
    char *buf;
    size_t size, used;
    bool full;
};

static void out_line(struct errs_out *o, const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    if (o->full || o->size == 0)
        return;
    if (o->used + la + lb + lc + 1 < o->size) {
        memcpy(o->buf + o->used, a, la);
        memcpy(o->buf + o->used + la, b, lb);
        memcpy(o->buf + o->used + la + lb, c, lc);
        o->used += la + lb + lc;
        o->buf[o->used++] = '\n';
        o->buf[o->used] = '\0';
        return;
    }
    o->full = true;
    if (o->used == 0) { /* not even the first line fits: keep what does */
        size_t room = o->size - 1, n;
        n = la < room ? la : room;
        memcpy(o->buf, a, n);
        room -= n;
        o->used = n;
        n = lb < room ? lb : room;
        memcpy(o->buf + o->used, b, n);
        room -= n;
        o->used += n;
        n = lc < room ? lc : room;
        memcpy(o->buf + o->used, c, n);
        o->used += n;
        o->buf[o->used] = '\0';
    }
}

static void errors_write(struct parse *p, char *errs, size_t errs_len)
{
    struct errs_out o = {errs, errs_len, 0, false};
    char pos[64];

    if (errs_len > 0)
        errs[0] = '\0';
    qsort(p->err, p->n_err, sizeof *p->err, error_cmp);
    for (size_t i = 0; i < p->n_err; i++) {
        if (p->err[i].line > 0)
            snprintf(pos, sizeof pos, ":%zu:%zu: ", p->err[i].line, p->err[i].col);
        else
            snprintf(pos, sizeof pos, ": ");
        out_line(&o, p->name, pos, p->err[i].msg);
    }
    if (p->n_total > p->n_err) {
        snprintf(pos, sizeof pos, "%zu more errors not shown", p->n_total - p->n_err);
        out_line(&o, p->name, ": ", pos);
    }
    if (p->oom)
        out_line(&o, p->name, ": ", "out of memory");
}

static void errors_free(struct parse *p)
{
    for (size_t i = 0; i < p->n_err; i++)
        free(p->err[i].msg);
    free(p->err);
    p->err = NULL;
    p->n_err = p->cap_err = 0;
}

/* Writes `s` as "\"s\"" into out (64 bytes), cut at 40 characters, control characters
 * replaced so that a message stays on one line. Returns out. */
static const char *quote(char out[64], const char *s)
{
    size_t o = 0, i;
    out[o++] = '"';
    for (i = 0; s[i] != '\0' && i < 40; i++)
        out[o++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (s[i] != '\0') {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

/* What a node is, for "expected X, got Y". Returns out (64 bytes). */
static const char *describe(char out[64], const struct node *n)
{
    if (n->kind == N_MAP)
        return strcpy(out, "a mapping");
    if (n->kind == N_SEQ)
        return strcpy(out, "a sequence");
    if (n->null)
        return strcpy(out, "nothing");
    return quote(out, n->value);
}

/* out = path + "." + key (just key when path is empty); control characters in the key
 * are replaced. Long paths are cut. */
static void path_join(char *out, size_t size, const char *path, const char *key)
{
    size_t o = 0;
    for (const char *s = path; *s != '\0' && o + 1 < size; s++)
        out[o++] = *s;
    if (path[0] != '\0' && o + 1 < size)
        out[o++] = '.';
    for (const char *s = key; *s != '\0' && o + 1 < size; s++)
        out[o++] = (unsigned char)*s < 0x20 ? '?' : *s;
    out[o] = '\0';
}

/* out = path + "[i]". */
static void path_index(char *out, size_t size, const char *path, size_t i)
{
    char idx[32];
    size_t o = 0;
    snprintf(idx, sizeof idx, "[%zu]", i);
    for (const char *s = path; *s != '\0' && o + 1 < size; s++)
        out[o++] = *s;
    for (const char *s = idx; *s != '\0' && o + 1 < size; s++)
        out[o++] = *s;
    out[o] = '\0';
}

static void node_free(struct node *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n; i++)
        node_free(n->child[i]);
    free(n->child);
    free(n->value);
    free(n);
}

static struct node *node_new(struct parse *p, enum node_kind kind, const yaml_mark_t *m)
{
    struct node *n = calloc(1, sizeof *n);
    if (n == NULL) {
        p->oom = p->abort = true;
        return NULL;
    }
    n->kind = kind;
    n->line = m->line + 1;
    n->col = m->column + 1;
    return n;
}

static int node_push(struct parse *p, struct node *parent, struct node *child)
{
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? 2 * parent->cap : 8;
        struct node **c = realloc(parent->child, cap * sizeof *c);
        if (c == NULL) {
            p->oom = p->abort = true;
            return -1;
        }
        parent->child = c;
        parent->cap = cap;
    }
    parent->child[parent->n++] = child;
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Pass one: YAML events to nodes. */

static void syntax_error(struct parse *p, const yaml_parser_t *yp)
{
    const char *problem = yp->problem ? yp->problem : "invalid YAML";

    if (yp->error == YAML_MEMORY_ERROR) {
        p->oom = true;
        return;
    }
    if (yp->error == YAML_READER_ERROR) { /* no mark: count lines up to the offset */
        size_t line = 1, col = 1;
        for (size_t i = 0; i < yp->problem_offset && i < p->len; i++) {
            if (p->buf[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        perr_at(p, line, col, "", "syntax error: %s", problem);
        return;
    }
    if (yp->context != NULL)
        perr_at(p, yp->problem_mark.line + 1, yp->problem_mark.column + 1, "",
                "syntax error: %s (%s at line %zu, column %zu)", problem, yp->context,
                yp->context_mark.line + 1, yp->context_mark.column + 1);
    else
        perr_at(p, yp->problem_mark.line + 1, yp->problem_mark.column + 1, "", "syntax error: %s",
                problem);
}

static bool next_event(struct parse *p, yaml_parser_t *yp, yaml_event_t *ev)
{
    if (yaml_parser_parse(yp, ev))
        return true;
    syntax_error(p, yp);
    p->abort = true;
    return false;
}

struct key_ref {
    const char *s;
    size_t len;
    size_t idx; /* index of the key in the map's children */
};

static int key_ref_cmp(const void *a, const void *b)
{
    const struct key_ref *x = a, *y = b;
    int c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
    if (c != 0)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Reports every key of `map` that repeats an earlier one and marks it bad, so that the
 * first occurrence is the one used. Sorting keeps this O(n log n) for large maps. */
static void check_duplicates(struct parse *p, struct node *map, const char *path)
{
    size_t n = 0;
    struct key_ref *keys;
    char q[64];

    if (map->n < 4)
        return;
    keys = malloc(map->n / 2 * sizeof *keys);
    if (keys == NULL) {
        p->oom = true;
        return;
    }
    for (size_t i = 0; i + 1 < map->n; i += 2)
        if (!map->child[i]->bad)
            keys[n++] = (struct key_ref){map->child[i]->value, map->child[i]->len, i};
    qsort(keys, n, sizeof *keys, key_ref_cmp);
    for (size_t i = 1; i < n; i++)
        if (keys[i].len == keys[i - 1].len && memcmp(keys[i].s, keys[i - 1].s, keys[i].len) == 0)
            map->child[keys[i].idx]->dup = true;
    free(keys);
    /* Reported in document order, so that the errors kept are the first ones. */
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        struct node *k = map->child[i];
        if (k->dup) {
            perr(p, k, path, "duplicate key %s", quote(q, k->value));
            k->bad = true;
        }
    }
}

static struct node *build_node(struct parse *p, yaml_parser_t *yp, yaml_event_t *ev,
                               const char *path, int depth);

static int build_map(struct parse *p, yaml_parser_t *yp, struct node *map, const char *path,
                     int depth)
{
    char sub[CFG_PATH_LEN], d[64];

    for (;;) {
        yaml_event_t ev;
        struct node *k, *v;

        if (!next_event(p, yp, &ev))
            return -1;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        k = build_node(p, yp, &ev, path, depth + 1);
        if (k == NULL || node_push(p, map, k) < 0) {
            node_free(k);
            return -1;
        }
        if (k->kind != N_SCALAR && !k->bad) {
            perr(p, k, path, "expected a plain key, got %s", describe(d, k));
            k->bad = true;
        }
        path_join(sub, sizeof sub, path, k->kind == N_SCALAR ? k->value : "?");
        if (!next_event(p, yp, &ev))
            return -1;
        v = build_node(p, yp, &ev, sub, depth + 1);
        if (v == NULL || node_push(p, map, v) < 0) {
            node_free(v);
            return -1;
        }
    }
    check_duplicates(p, map, path);
    return 0;
}

static int build_seq(struct parse *p, yaml_parser_t *yp, struct node *seq, const char *path,
                     int depth)
{
    char sub[CFG_PATH_LEN];

    for (;;) {
        yaml_event_t ev;
        struct node *item;

        if (!next_event(p, yp, &ev))
            return -1;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        path_index(sub, sizeof sub, path, seq->n);
        item = build_node(p, yp, &ev, sub, depth + 1);
        if (item == NULL || node_push(p, seq, item) < 0) {
            node_free(item);
            return -1;
        }
    }
}

static bool scalar_is_null(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    return strcmp(v, "") == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static const char anchor_msg[] = "anchors and aliases are not supported; write the value out";

/* Builds the node that starts with event `ev`, which it consumes, reading the events of
 * its children from `yp`. Returns NULL when the tree cannot be completed (p->abort). */
static struct node *build_node(struct parse *p, yaml_parser_t *yp, yaml_event_t *ev,
                               const char *path, int depth)
{
    struct node *n = NULL;
    yaml_mark_t m = ev->start_mark;

    if (depth > CFG_MAX_DEPTH) {
        perr_at(p, m.line + 1, m.column + 1, path, "nested deeper than %d levels", CFG_MAX_DEPTH);
        yaml_event_delete(ev);
        p->abort = true;
        return NULL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        n = node_new(p, N_SCALAR, &m);
        if (n != NULL) {
            n->len = ev->data.scalar.length;
            n->value = malloc(n->len + 1);
            if (n->value == NULL) {
                p->oom = p->abort = true;
                node_free(n);
                n = NULL;
            } else {
                memcpy(n->value, ev->data.scalar.value, n->len);
                n->value[n->len] = '\0';
                n->null = scalar_is_null(ev);
                if (ev->data.scalar.anchor != NULL)
                    perr(p, n, path, anchor_msg);
                if (memchr(n->value, '\0', n->len) != NULL) {
                    perr(p, n, path, "NUL characters are not allowed");
                    n->bad = true;
                }
            }
        }
        yaml_event_delete(ev);
        return n;
    case YAML_ALIAS_EVENT:
        yaml_event_delete(ev);
        n = node_new(p, N_SCALAR, &m);
        if (n != NULL) {
            n->value = strdup("");
            if (n->value == NULL) {
                p->oom = p->abort = true;
                node_free(n);
                return NULL;
            }
            n->null = n->bad = true;
            perr(p, n, path, anchor_msg);
        }
        return n;
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT: {
        bool map = ev->type == YAML_MAPPING_START_EVENT;
        bool anchored =
            map ? ev->data.mapping_start.anchor != NULL : ev->data.sequence_start.anchor != NULL;
        yaml_event_delete(ev);
        n = node_new(p, map ? N_MAP : N_SEQ, &m);
        if (n == NULL)
            return NULL;
        if (anchored)
            perr(p, n, path, anchor_msg);
        if ((map ? build_map(p, yp, n, path, depth) : build_seq(p, yp, n, path, depth)) < 0) {
            node_free(n);
            return NULL;
        }
        return n;
    }
    default: /* libyaml never produces this inside a document */
        perr_at(p, m.line + 1, m.column + 1, path, "unexpected YAML event");
        yaml_event_delete(ev);
        p->abort = true;
        return NULL;
    }
}

/* Builds the tree of the single document in buf. Returns the root, or NULL for an empty
 * stream or when p->abort is set (the caller frees a non-NULL root either way). */
static struct node *build_tree(struct parse *p, const char *buf, size_t len)
{
    yaml_parser_t yp;
    yaml_event_t ev;
    struct node *root = NULL;

    if (!yaml_parser_initialize(&yp)) {
        p->oom = p->abort = true;
        return NULL;
    }
    yaml_parser_set_input_string(&yp, (const unsigned char *)buf, len);
    if (!next_event(p, &yp, &ev)) /* stream start */
        goto out;
    yaml_event_delete(&ev);
    if (!next_event(p, &yp, &ev))
        goto out;
    if (ev.type == YAML_DOCUMENT_START_EVENT) {
        yaml_event_delete(&ev);
        if (!next_event(p, &yp, &ev))
            goto out;
        root = build_node(p, &yp, &ev, "", 1);
        if (root == NULL || !next_event(p, &yp, &ev)) /* document end */
            goto out;
        yaml_event_delete(&ev);
        if (!next_event(p, &yp, &ev))
            goto out;
        if (ev.type == YAML_DOCUMENT_START_EVENT)
            perr_at(p, ev.start_mark.line + 1, ev.start_mark.column + 1, "",
                    "only one YAML document is allowed");
    }
    yaml_event_delete(&ev);
out:
    yaml_parser_delete(&yp);
    return root;
}

/* ------------------------------------------------------------------------------------ */
/* Values. */

static bool parse_int(const char *s, int64_t *out)
{
    const char *d = (*s == '-' || *s == '+') ? s + 1 : s;
    char *end;
    long long v;

    if (*d < '0' || *d > '9')
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

static bool parse_number(const char *s, double *out)
{
    const char *d = (*s == '-' || *s == '+') ? s + 1 : s;
    char *end;
    double v;

    if (!((*d >= '0' && *d <= '9') || *d == '.'))
        return false;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static const struct {
    const char *unit;
    int64_t ms;
} duration_units[] = {
    {"w", 7 * 86400000LL}, {"d", 86400000LL}, {"h", 3600000LL},
    {"m", 60000LL},        {"s", 1000LL},     {"ms", 1LL},
};
#define N_UNITS (sizeof duration_units / sizeof duration_units[0])

/* "500ms", "30s", "5m", "2h", "7d", "1w", or a plain "0". */
static bool parse_duration(const char *s, int64_t *ms)
{
    int64_t n = 0;
    const char *c = s;

    if (*c < '0' || *c > '9')
        return false;
    for (; *c >= '0' && *c <= '9'; c++) {
        if (n > (INT64_MAX - (*c - '0')) / 10)
            return false;
        n = n * 10 + (*c - '0');
    }
    if (*c == '\0') {
        *ms = 0;
        return n == 0;
    }
    for (size_t i = 0; i < N_UNITS; i++) {
        if (strcmp(c, duration_units[i].unit) == 0) {
            if (n > INT64_MAX / duration_units[i].ms)
                return false;
            *ms = n * duration_units[i].ms;
            return true;
        }
    }
    return false;
}

/* The shortest exact spelling of a duration ("10ms", "7d"). */
static void duration_text(char *out, size_t size, int64_t ms)
{
    if (ms == 0) {
        snprintf(out, size, "0");
        return;
    }
    for (size_t i = 0; i < N_UNITS; i++) {
        if (ms % duration_units[i].ms == 0) {
            snprintf(out, size, "%lld%s", (long long)(ms / duration_units[i].ms),
                     duration_units[i].unit);
            return;
        }
    }
}

bool config_parse_duration(const char *s, int64_t *ms)
{
    return parse_duration(s, ms);
}

void config_duration_text(char *out, size_t size, int64_t ms)
{
    duration_text(out, size, ms);
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

void json_pointer_clear(struct json_pointer *p)
{
    for (int i = 0; i < CW_PTR_MAX_DEPTH; i++) {
        free(p->token[i]);
        p->token[i] = NULL;
    }
    p->depth = 0;
}

const char *json_pointer_parse(const char *s, struct json_pointer *out, bool *oom)
{
    struct json_pointer jp = {0};
    const char *why = NULL;

    if (s[0] != '/')
        return "expected a JSON pointer such as \"/customer/id\"";
    while (*s == '/' && why == NULL) {
        const char *start = ++s;
        size_t n = strcspn(start, "/");
        char *tok;
        size_t o = 0;

        if (jp.depth == CW_PTR_MAX_DEPTH) {
            why = "JSON pointer is too deep (at most " CFG_STR(CW_PTR_MAX_DEPTH) " levels)";
            break;
        }
        tok = malloc(n + 1);
        if (tok == NULL) {
            *oom = true;
            why = "out of memory";
            break;
        }
        jp.token[jp.depth++] = tok;
        for (size_t i = 0; i < n; i++) {
            if (start[i] != '~') {
                tok[o++] = start[i];
            } else if (i + 1 < n && (start[i + 1] == '0' || start[i + 1] == '1')) {
                tok[o++] = start[++i] == '0' ? '~' : '/';
            } else {
                why = "invalid escape in JSON pointer (use ~0 for \"~\" and ~1 for \"/\")";
                break;
            }
        }
        tok[o] = '\0';
        s = start + n;
    }
    if (why != NULL) {
        for (int i = 0; i < jp.depth; i++)
            free(jp.token[i]);
        return why;
    }
    *out = jp;
    return NULL;
}

/* ------------------------------------------------------------------------------------ */
/* Key descriptors. */

enum opt_type {
    T_STRING,     /* char *, owned, non-empty */
    T_OPT_STRING, /* char *, owned; NULL when absent, null or "" */
    T_INT,        /* int */
    T_U32,        /* uint32_t */
    T_SIZE,       /* size_t */
    T_DUR_INT,    /* int, milliseconds */
    T_DUR_I64,    /* int64_t, milliseconds */
    T_DOUBLE,     /* double */
    T_BOOL,       /* bool */
    T_CLOCK,      /* enum clock_mode */
    T_LOG_LEVEL,  /* int (enum log_level) */
    T_LOG_FORMAT, /* int (enum log_format) */
    T_SECTION,    /* a mapping described by `sub`, same base */
    T_CUSTOM,     /* parsed by `custom`; `sub` (if any) gives the defaults */
};

enum {
    OPT_MIN_EXCL = 1, /* T_DOUBLE: value > dmin (else >=) */
    OPT_MAX_EXCL = 2, /* T_DOUBLE: value < dmax (else <=) */
    OPT_NO_MAX = 4,   /* numbers and durations: no upper bound (but the type's) */
};

struct option {
    const char *name;
    enum opt_type type;
    size_t offset;                       /* into the struct this table describes */
    const char *def;                     /* default, as YAML text; NULL: zero / NULL */
    int64_t imin, imax;                  /* integers; durations in milliseconds */
    double dmin, dmax;                   /* T_DOUBLE */
    unsigned flags;                      /* OPT_* */
    const char *(*check)(const char *s); /* T_STRING: extra test, returns why it fails */
    const struct option *sub;            /* T_SECTION, T_CUSTOM */
    void (*custom)(struct parse *p, const char *path, const struct node *key,
                   const struct node *val);
};

static const struct option *option_find(const struct option *opts, const char *name)
{
    for (; opts->name != NULL; opts++)
        if (strcmp(opts->name, name) == 0)
            return opts;
    return NULL;
}

/* What option `o` accepts, for "expected ...". */
static void option_expect(const struct option *o, char *out, size_t size)
{
    char lo[32], hi[32];
    static const char dur_hint[] = "(a whole number with unit ms, s, m, h, d or w, e.g. 30s)";

    switch (o->type) {
    case T_INT:
    case T_U32:
    case T_SIZE:
        if (o->flags & OPT_NO_MAX)
            snprintf(out, size, "an integer >= %lld", (long long)o->imin);
        else
            snprintf(out, size, "an integer %lld..%lld", (long long)o->imin, (long long)o->imax);
        break;
    case T_DUR_INT:
    case T_DUR_I64:
        duration_text(lo, sizeof lo, o->imin);
        duration_text(hi, sizeof hi, o->imax);
        if ((o->flags & OPT_NO_MAX) && o->imin == 0)
            snprintf(out, size, "a duration %s", dur_hint);
        else if (o->flags & OPT_NO_MAX)
            snprintf(out, size, "a duration >= %s %s", lo, dur_hint);
        else
            snprintf(out, size, "a duration %s..%s %s", lo, hi, dur_hint);
        break;
    case T_DOUBLE:
        if (o->flags & OPT_NO_MAX)
            snprintf(out, size, "a number %s %g", o->flags & OPT_MIN_EXCL ? ">" : ">=", o->dmin);
        else
            snprintf(out, size, "a number %s %g and %s %g",
                     o->flags & OPT_MIN_EXCL ? ">" : ">=", o->dmin,
                     o->flags & OPT_MAX_EXCL ? "<" : "<=", o->dmax);
        break;
    case T_BOOL:
        snprintf(out, size, "true or false (or yes/no, on/off)");
        break;
    case T_STRING:
        snprintf(out, size, "a non-empty string");
        break;
    case T_OPT_STRING:
        snprintf(out, size, "a string");
        break;
    case T_CLOCK:
        snprintf(out, size, "wall or event");
        break;
    case T_LOG_LEVEL:
        snprintf(out, size, "one of error, warn, info, debug");
        break;
    case T_LOG_FORMAT:
        snprintf(out, size, "one of auto, text, journald, json");
        break;
    case T_SECTION:
    case T_CUSTOM:
        snprintf(out, size, "a mapping");
        break;
    }
}

static bool int_in_range(const struct option *o, int64_t v)
{
    return v >= o->imin && ((o->flags & OPT_NO_MAX) || v <= o->imax);
}

static bool double_in_range(const struct option *o, double v)
{
    if (o->flags & OPT_MIN_EXCL ? v <= o->dmin : v < o->dmin)
        return false;
    if (o->flags & OPT_NO_MAX)
        return true;
    return o->flags & OPT_MAX_EXCL ? v < o->dmax : v <= o->dmax;
}

static void options_parse(struct parse *p, const char *path, const struct node *map,
                          const struct option *opts, void *base);

/* True if `n` is a mapping or empty (null); else reports what it is. */
static bool expect_map(struct parse *p, const char *path, const struct node *n)
{
    char d[64];
    if (n->kind == N_MAP || (n->kind == N_SCALAR && n->null))
        return true;
    perr(p, n, path, "expected a mapping, got %s", describe(d, n));
    return false;
}

static void unknown_key(struct parse *p, const char *path, const struct node *k)
{
    char q[64];
    perr(p, k, path, "unknown key %s", quote(q, k->value));
}

/* Sets option `o` of the struct at `base` from node `v` (key `k`, NULL for defaults). */
static void option_set(struct parse *p, const char *path, const struct option *o,
                       const struct node *k, const struct node *v, void *base)
{
    char *dst = (char *)base + o->offset;
    char expect[160], d[64];
    const char *s = v->value;
    const char *why = NULL;
    int64_t i = 0;
    double x = 0;
    bool b = false;

    if (o->type == T_SECTION) {
        options_parse(p, path, v, o->sub, base);
        return;
    }
    if (o->type == T_CUSTOM) {
        o->custom(p, path, k, v);
        return;
    }
    option_expect(o, expect, sizeof expect);
    if (v->kind != N_SCALAR || (v->null && o->type != T_OPT_STRING)) {
        perr(p, v, path, "expected %s, got %s", expect, describe(d, v));
        return;
    }
    switch (o->type) {
    case T_STRING:
    case T_OPT_STRING: {
        char **sp = (char **)(void *)dst;
        char *copy = NULL;
        if (o->type == T_STRING && s[0] == '\0') {
            perr(p, v, path, "expected %s, got %s", expect, describe(d, v));
            return;
        }
        if (o->check != NULL && (why = o->check(s)) != NULL) {
            perr(p, v, path, "%s, got %s", why, describe(d, v));
            return;
        }
        if (!v->null && s[0] != '\0' && (copy = strdup(s)) == NULL) {
            p->oom = true;
            return;
        }
        free(*sp);
        *sp = copy;
        return;
    }
    case T_INT:
    case T_U32:
    case T_SIZE:
        if (!parse_int(s, &i) || !int_in_range(o, i))
            break;
        if (o->type == T_INT)
            *(int *)(void *)dst = (int)i;
        else if (o->type == T_U32)
            *(uint32_t *)(void *)dst = (uint32_t)i;
        else
            *(size_t *)(void *)dst = (size_t)i;
        return;
    case T_DUR_INT:
    case T_DUR_I64:
        if (!parse_duration(s, &i) || !int_in_range(o, i))
            break;
        if (o->type == T_DUR_INT)
            *(int *)(void *)dst = (int)i;
        else
            *(int64_t *)(void *)dst = i;
        return;
    case T_DOUBLE:
        if (!parse_number(s, &x) || !double_in_range(o, x))
            break;
        *(double *)(void *)dst = x;
        return;
    case T_BOOL:
        if (!parse_bool(s, &b))
            break;
        *(bool *)(void *)dst = b;
        return;
    case T_CLOCK:
        if (strcmp(s, "wall") == 0)
            *(enum clock_mode *)(void *)dst = CLOCK_WALL;
        else if (strcmp(s, "event") == 0)
            *(enum clock_mode *)(void *)dst = CLOCK_EVENT;
        else
            break;
        return;
    case T_LOG_LEVEL: {
        enum log_level lvl;
        if (log_level_parse(s, &lvl) < 0)
            break;
        *(int *)(void *)dst = (int)lvl;
        return;
    }
    case T_LOG_FORMAT: {
        enum log_format fmt;
        if (log_format_parse(s, &fmt) < 0)
            break;
        *(int *)(void *)dst = (int)fmt;
        return;
    }
    case T_SECTION:
    case T_CUSTOM:
        return;
    }
    perr(p, v, path, "expected %s, got %s", expect, describe(d, v));
}

/* Parses mapping `map` whose keys are described by `opts` into `base`. */
static void options_parse(struct parse *p, const char *path, const struct node *map,
                          const struct option *opts, void *base)
{
    char sub[CFG_PATH_LEN];

    if (!expect_map(p, path, map))
        return;
    for (size_t i = 0; map->kind == N_MAP && i + 1 < map->n; i += 2) {
        const struct node *k = map->child[i], *v = map->child[i + 1];
        const struct option *o;
        if (k->bad || v->bad)
            continue;
        o = option_find(opts, k->value);
        if (o == NULL) {
            unknown_key(p, path, k);
            continue;
        }
        path_join(sub, sizeof sub, path, o->name);
        option_set(p, sub, o, k, v, base);
    }
}

/* Applies the defaults of `opts` (and of its sub-tables) to `base`. */
static void options_defaults(struct parse *p, const struct option *opts, void *base)
{
    for (const struct option *o = opts; o->name != NULL; o++) {
        if (o->sub != NULL) {
            options_defaults(p, o->sub, base);
        } else if (o->def != NULL) {
            struct node n = {.kind = N_SCALAR, .value = (char *)o->def, .len = strlen(o->def)};
            option_set(p, o->name, o, NULL, &n, base);
        }
    }
}

/* Frees the strings that `opts` (and its sub-tables) describe in `base`. */
static void options_free(const struct option *opts, void *base)
{
    for (const struct option *o = opts; o->name != NULL; o++) {
        if (o->sub != NULL) {
            options_free(o->sub, base);
        } else if (o->type == T_STRING || o->type == T_OPT_STRING) {
            char **sp = (char **)(void *)((char *)base + o->offset);
            free(*sp);
            *sp = NULL;
        }
    }
}

/* ------------------------------------------------------------------------------------ */
/* Sections with more than key = value. */

static void parse_kafka(struct parse *p, const char *path, const struct node *k,
                        const struct node *v);
static void parse_levels(struct parse *p, const char *path, const struct node *k,
                         const struct node *v);
static void parse_properties(struct parse *p, const char *path, const struct node *k,
                             const struct node *v);
static void parse_redis_password(struct parse *p, const char *path, const struct node *k,
                                 const struct node *v);
static void parse_topics(struct parse *p, const char *path, const struct node *k,
                         const struct node *v);
static void parse_rules(struct parse *p, const char *path, const struct node *k,
                        const struct node *v);
static void parse_tier_derivation(struct parse *p, const char *path, const struct node *k,
                                  const struct node *v);
static void parse_sink_alertmanager(struct parse *p, const char *path, const struct node *k,
                                    const struct node *v);
static void parse_sink_webhook(struct parse *p, const char *path, const struct node *k,
                               const struct node *v);

static const char *check_key_prefix(const char *s)
{
    if (strlen(s) > CW_KEY_PREFIX_MAX)
        return "expected at most 32 characters";
    for (; *s != '\0'; s++)
        if (*s == '{' || *s == '}' || (unsigned char)*s <= ' ')
            return "expected no braces or spaces (the key prefix precedes a {hash tag})";
    return NULL;
}

static const char *check_http_url(const char *s)
{
    const char *host;
    if (s[0] == '\0')
        return NULL; /* absent */
    if (strncasecmp(s, "http://", 7) == 0)
        host = s + 7;
    else if (strncasecmp(s, "https://", 8) == 0)
        host = s + 8;
    else
        return "expected an http:// or https:// URL";
    if (*host == '\0' || *host == '/')
        return "expected a host after the scheme";
    for (; *s != '\0'; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return "expected a URL without spaces or control characters";
    return NULL;
}

static const char *check_ca_file(const char *s)
{
    static char why[160];
    if (s[0] == '\0')
        return NULL; /* absent */
    if (access(s, R_OK) != 0) {
        snprintf(why, sizeof why, "cannot read the CA file: %s", strerror(errno));
        return why;
    }
    return NULL;
}

/* "off" and the null spellings disable the endpoint; config_load_buffer turns them into
 * NULL. */
static bool listen_off(const char *s)
{
    return strcmp(s, "off") == 0 || strcmp(s, "null") == 0 || strcmp(s, "~") == 0 ||
           s[0] == '\0';
}

static const char *check_listen(const char *s)
{
    char host[HTTP_HOST_MAX];
    int port;
    return listen_off(s) ? NULL : http_listen_parse(s, host, &port);
}

#define CFG(f) offsetof(struct config, f)

/* One line per key: name, type, where it goes, default (as YAML text), bounds. */
/* clang-format off */
static const struct option batch_opts[] = {
    {.name = "max_messages", .type = T_INT, .offset = CFG(poll_batch_max), .def = "5000",
     .imin = 1, .imax = 1000000},
    {.name = "max_time", .type = T_DUR_INT, .offset = CFG(poll_batch_ms), .def = "50ms",
     .imin = 1, .imax = 3600000},
    {0},
};

static const struct option kafka_opts[] = {
    {.name = "brokers", .type = T_STRING, .offset = CFG(brokers), .def = "localhost:9092"},
    {.name = "group_id", .type = T_STRING, .offset = CFG(group_id), .def = "churnwatch"},
    {.name = "alerts_topic", .type = T_OPT_STRING, .offset = CFG(alerts_topic)},
    {.name = "dead_letter_topic", .type = T_OPT_STRING, .offset = CFG(dead_letter_topic)},
    {.name = "batch", .type = T_SECTION, .sub = batch_opts},
    {.name = "properties", .type = T_CUSTOM, .custom = parse_properties},
    {.name = "topics", .type = T_CUSTOM, .custom = parse_topics},
    {0},
};

static const struct option redis_opts[] = {
    {.name = "host", .type = T_STRING, .offset = CFG(redis_host), .def = "127.0.0.1"},
    {.name = "port", .type = T_INT, .offset = CFG(redis_port), .def = "6379",
     .imin = 1, .imax = 65535},
    {.name = "unix_socket", .type = T_OPT_STRING, .offset = CFG(redis_unix)},
    {.name = "user", .type = T_OPT_STRING, .offset = CFG(redis_user)},
    {.name = "password", .type = T_CUSTOM, .custom = parse_redis_password},
    {.name = "db", .type = T_INT, .offset = CFG(redis_db), .def = "0", .imin = 0, .imax = 15},
    {.name = "timeout", .type = T_DUR_INT, .offset = CFG(redis_timeout_ms), .def = "2s",
     .imin = 1, .imax = 600000},
    {.name = "key_prefix", .type = T_STRING, .offset = CFG(key_prefix), .def = "cw",
     .check = check_key_prefix},
    {0},
};

static const struct option levels_opts[] = {
    {.name = "watch", .type = T_DOUBLE, .offset = CFG(watch_score), .def = "20",
     .dmin = 0, .flags = OPT_MIN_EXCL | OPT_NO_MAX},
    {.name = "alarm", .type = T_DOUBLE, .offset = CFG(alarm_score), .def = "50",
     .dmin = 0, .flags = OPT_MIN_EXCL | OPT_NO_MAX},
    /* no default: absent means equal to the raise threshold (set after parsing) */
    {.name = "watch_clear", .type = T_DOUBLE, .offset = CFG(watch_clear_score),
     .dmin = 0, .flags = OPT_MIN_EXCL | OPT_NO_MAX},
    {.name = "alarm_clear", .type = T_DOUBLE, .offset = CFG(alarm_clear_score),
     .dmin = 0, .flags = OPT_MIN_EXCL | OPT_NO_MAX},
    {0},
};

static const struct option engine_opts[] = {
    {.name = "clock", .type = T_CLOCK, .offset = CFG(clock), .def = "wall"},
    {.name = "lateness", .type = T_DUR_I64, .offset = CFG(lateness_ms), .def = "0",
     .flags = OPT_NO_MAX},
    {.name = "max_message_bytes", .type = T_SIZE, .offset = CFG(max_message_bytes),
     .def = "65536", .imin = 16, .imax = 16777216},
    {.name = "timer_interval", .type = T_DUR_I64, .offset = CFG(timer_interval_ms), .def = "1s",
     .imin = 10, .flags = OPT_NO_MAX},
    {.name = "max_future", .type = T_DUR_I64, .offset = CFG(max_future_ms), .def = "1d",
     .flags = OPT_NO_MAX},
    {.name = "stall_timeout", .type = T_DUR_I64, .offset = CFG(stall_timeout_ms), .def = "60s",
     .flags = OPT_NO_MAX},
    {.name = "max_cached_customers", .type = T_SIZE, .offset = CFG(max_cached_customers),
     .def = "80000", .imin = 100, .imax = 100000000},
    {.name = "max_outbox", .type = T_SIZE, .offset = CFG(max_outbox), .def = "1000000",
     .imin = 1, .imax = 1000000000},
    {.name = "levels", .type = T_CUSTOM, .custom = parse_levels, .sub = levels_opts},
    {0},
};

/* The ring of weekly spend holds 52 weeks including the current one; tiers use whole
 * weeks before the current one (tiers.h). */
static const struct option tiers_opts[] = {
    {.name = "derive", .type = T_BOOL, .offset = CFG(tiers_derive), .def = "false"},
    {.name = "key_share", .type = T_DOUBLE, .offset = CFG(tiers_key_share), .def = "0.2",
     .dmin = 0, .dmax = 1, .flags = OPT_MIN_EXCL},
    {.name = "strategic_share", .type = T_DOUBLE, .offset = CFG(tiers_strategic_share),
     .def = "0.02", .dmin = 0, .dmax = 1},
    {.name = "window", .type = T_DUR_I64, .offset = CFG(tiers_window_ms), .def = "26w",
     .imin = CW_SPEND_BUCKET_MS, .imax = (CW_SPEND_BUCKETS - 1) * CW_SPEND_BUCKET_MS},
    {.name = "min_buyers", .type = T_U32, .offset = CFG(tiers_min_buyers), .def = "100",
     .imin = 1, .imax = 100000000},
    {0},
};

static const struct option sinks_opts[] = {
    {.name = "log", .type = T_BOOL, .offset = CFG(sink_log), .def = "true"},
    {.name = "alertmanager", .type = T_CUSTOM, .custom = parse_sink_alertmanager},
    {.name = "webhook", .type = T_CUSTOM, .custom = parse_sink_webhook},
    {0},
};

#define HS(f) offsetof(struct http_sink_config, f)

/* The keys of sinks.alertmanager and sinks.webhook, into struct http_sink_config.
 * `headers` (both) and `secret` (webhook) are parsed by parse_http_sink. */
static const struct option alertmanager_opts[] = {
    {.name = "url", .type = T_OPT_STRING, .offset = HS(url), .check = check_http_url},
    {.name = "timeout", .type = T_DUR_INT, .offset = HS(timeout_ms), .def = "10s",
     .imin = 100, .imax = 300000},
    {.name = "tls_verify", .type = T_BOOL, .offset = HS(tls_verify), .def = "true"},
    {.name = "ca_file", .type = T_OPT_STRING, .offset = HS(ca_file), .check = check_ca_file},
    {.name = "follow_redirects", .type = T_BOOL, .offset = HS(follow_redirects), .def = "false"},
    {.name = "max_alerts", .type = T_SIZE, .offset = HS(max_alerts), .def = "500",
     .imin = 1, .imax = 2048},
    {.name = "resend_interval", .type = T_DUR_I64, .offset = HS(resend_interval_ms),
     .def = "1m", .imin = 1000, .imax = 3600000},
    {.name = "generator_url", .type = T_OPT_STRING, .offset = HS(generator_url),
     .check = check_http_url},
    {0},
};

static const struct option webhook_opts[] = {
    {.name = "url", .type = T_OPT_STRING, .offset = HS(url), .check = check_http_url},
    {.name = "timeout", .type = T_DUR_INT, .offset = HS(timeout_ms), .def = "5s",
     .imin = 100, .imax = 300000},
    {.name = "tls_verify", .type = T_BOOL, .offset = HS(tls_verify), .def = "true"},
    {.name = "ca_file", .type = T_OPT_STRING, .offset = HS(ca_file), .check = check_ca_file},
    {.name = "follow_redirects", .type = T_BOOL, .offset = HS(follow_redirects), .def = "false"},
    {.name = "max_alerts", .type = T_SIZE, .offset = HS(max_alerts), .def = "100",
     .imin = 1, .imax = 2048},
    {0},
};

static const struct option logging_opts[] = {
    {.name = "level", .type = T_LOG_LEVEL, .offset = CFG(log_level), .def = "info"},
    {.name = "format", .type = T_LOG_FORMAT, .offset = CFG(log_format), .def = "auto"},
    {0},
};

static const struct option metrics_opts[] = {
    {.name = "listen", .type = T_OPT_STRING, .offset = CFG(metrics_listen),
     .def = "127.0.0.1:9465", .check = check_listen},
    {0},
};

static const struct option top_opts[] = {
    {.name = "kafka", .type = T_CUSTOM, .custom = parse_kafka, .sub = kafka_opts},
    {.name = "redis", .type = T_SECTION, .sub = redis_opts},
    {.name = "engine", .type = T_SECTION, .sub = engine_opts},
    {.name = "rules", .type = T_CUSTOM, .custom = parse_rules},
    {.name = "tiers", .type = T_CUSTOM, .custom = parse_tier_derivation, .sub = tiers_opts},
    {.name = "sinks", .type = T_SECTION, .sub = sinks_opts},
    {.name = "logging", .type = T_SECTION, .sub = logging_opts},
    {.name = "metrics", .type = T_SECTION, .sub = metrics_opts},
    {0},
};
/* clang-format on */

static void parse_kafka(struct parse *p, const char *path, const struct node *k,
                        const struct node *v)
{
    p->kafka_key = k;
    options_parse(p, path, v, kafka_opts, p->cfg);
}

static void parse_levels(struct parse *p, const char *path, const struct node *k,
                         const struct node *v)
{
    struct config *cfg = p->cfg;
    size_t before = p->n_total;
    options_parse(p, path, v, levels_opts, cfg);
    if (p->n_total != before)
        return;
    if (cfg->watch_score >= cfg->alarm_score)
        perr(p, k, path, "watch (%g) must be lower than alarm (%g)", cfg->watch_score,
             cfg->alarm_score);
    if (cfg->watch_clear_score > cfg->watch_score)
        perr(p, k, path, "watch_clear (%g) must not be higher than watch (%g)",
             cfg->watch_clear_score, cfg->watch_score);
    if (cfg->alarm_clear_score > cfg->alarm_score)
        perr(p, k, path, "alarm_clear (%g) must not be higher than alarm (%g)",
             cfg->alarm_clear_score, cfg->alarm_score);
}

static void parse_tier_derivation(struct parse *p, const char *path, const struct node *k,
                                  const struct node *v)
{
    struct config *cfg = p->cfg;
    size_t before = p->n_total;
    options_parse(p, path, v, tiers_opts, cfg);
    if (p->n_total != before)
        return;
    if (cfg->tiers_strategic_share > cfg->tiers_key_share)
        perr(p, k, path, "strategic_share (%g) must not be higher than key_share (%g)",
             cfg->tiers_strategic_share, cfg->tiers_key_share);
    if (cfg->tiers_window_ms % CW_SPEND_BUCKET_MS != 0)
        perr(p, k, path, "window must be a whole number of weeks (spend is kept per week)");
}

/* ---- secrets (secret.h): redis.password and kafka.properties values ---- */

/* Remembers where the first secret written out in the file is, for the warning that
 * config_load gives when other users may read the file. */
static void note_literal_secret(struct parse *p, const char *path, const struct node *v)
{
    char buf[CFG_PATH_LEN + 48];

    if (p->cfg->literal_secret != NULL || v->null || v->value[0] == '\0')
        return;
    snprintf(buf, sizeof buf, "%zu:%zu: %s", v->line, v->col, path);
    if ((p->cfg->literal_secret = strdup(buf)) == NULL)
        p->oom = true;
}

/* Reads the secret that mapping `v` names: {file: PATH}, {env: NAME} or {credential:
 * NAME}. Returns 0 with *out set (owned; secret_free) or -1 after reporting the error at
 * the source key. Messages never quote the keys of `v`: a mistyped flow mapping such as
 * {s3cret} would otherwise print the secret. */
static int secret_value(struct parse *p, const char *path, const struct node *v, char **out)
{
    static const char sources[] = "expected one key: file, env or credential";
    const struct node *k, *ref;
    enum secret_source src;
    char sub[CFG_PATH_LEN], why[512], d[64];

    if (v->n != 2) {
        perr(p, v, path, "%s, got %zu keys", sources, v->n / 2);
        return -1;
    }
    k = v->child[0];
    ref = v->child[1];
    if (k->bad || ref->bad)
        return -1; /* reported */
    if (secret_source_parse(k->value, &src) < 0) {
        perr(p, k, path, "unknown secret source (%s)", sources);
        return -1;
    }
    path_join(sub, sizeof sub, path, k->value);
    if (ref->kind != N_SCALAR || ref->null || ref->value[0] == '\0') {
        perr(p, ref, sub, "expected a non-empty %s, got %s", src == SECRET_FILE ? "path" : "name",
             describe(d, ref));
        return -1;
    }
    *out = secret_resolve(src, ref->value, p->name, why, sizeof why);
    if (*out == NULL) {
        perr(p, k, sub, "%s", why);
        return -1;
    }
    return 0;
}

/* Sets *dst (a secret, secret_free) from `v`: written out, or {file|env|credential: ...}. */
static void parse_secret_setting(struct parse *p, const char *path, const struct node *v,
                                 char **dst)
{
    char *secret = NULL;

    if (v->kind == N_MAP) {
        if (secret_value(p, path, v, &secret) < 0)
            return;
    } else if (v->kind == N_SCALAR) {
        note_literal_secret(p, path, v);
        if (!v->null && v->value[0] != '\0' && (secret = strdup(v->value)) == NULL) {
            p->oom = true;
            return;
        }
    } else {
        perr(p, v, path,
             "expected a string or {file: PATH}, {env: NAME} or {credential: NAME}, got a "
             "sequence");
        return;
    }
    secret_free(*dst);
    *dst = secret;
}

static void parse_redis_password(struct parse *p, const char *path, const struct node *k,
                                 const struct node *v)
{
    (void)k;
    parse_secret_setting(p, path, v, &p->cfg->redis_password);
}

/* Frees (*a)[0..*n) (values may be secrets) and empties the array. */
static void kv_array_free(struct kv **a, size_t *n)
{
    for (size_t i = 0; i < *n; i++) {
        free((*a)[i].key);
        secret_free((*a)[i].value);
    }
    free(*a);
    *a = NULL;
    *n = 0;
}

/* The value of a kafka.properties entry or an HTTP header at `path`: {file: ...}, {env:
 * ...} or {credential: ...} (secret_value), or a string (`what` it must be: "a value", or
 * "a non-empty value" when empty is refused), noted as a secret written out in the file
 * when `sensitive`. Returns it (owned; secret_free), or NULL once reported (p->oom set
 * when out of memory). */
static char *kv_value(struct parse *p, const char *path, const struct node *v, const char *what,
                      bool allow_empty, bool sensitive)
{
    char d[64], *value = NULL;

    if (v->kind == N_MAP)
        return secret_value(p, path, v, &value) < 0 ? NULL : value;
    if (v->kind != N_SCALAR || v->null || (!allow_empty && v->value[0] == '\0')) {
        perr(p, v, path, "expected %s, got %s", what, describe(d, v));
        return NULL;
    }
    if (sensitive)
        note_literal_secret(p, path, v);
    if ((value = strdup(v->value)) == NULL)
        p->oom = true;
    return value;
}

static void parse_properties(struct parse *p, const char *path, const struct node *k,
                             const struct node *v)
{
    struct config *cfg = p->cfg;
    char sub[CFG_PATH_LEN];

    (void)k;
    if (!expect_map(p, path, v) || v->kind != N_MAP)
        return;
    kv_array_free(&cfg->kafka_props, &cfg->n_kafka_props);
    cfg->kafka_props = calloc(v->n / 2, sizeof *cfg->kafka_props);
    if (cfg->kafka_props == NULL) {
        p->oom = true;
        return;
    }
    for (size_t i = 0; i + 1 < v->n; i += 2) {
        const struct node *pk = v->child[i], *pv = v->child[i + 1];
        struct kv *kv = &cfg->kafka_props[cfg->n_kafka_props];
        if (pk->bad || pv->bad)
            continue;
        path_join(sub, sizeof sub, path, pk->value);
        if (pk->value[0] == '\0') {
            perr(p, pk, path, "empty property name");
            continue;
        }
        kv->value = kv_value(p, sub, pv, "a value", true, secret_key_is_sensitive(pk->value));
        if (kv->value == NULL) {
            if (p->oom)
                return;
            continue;
        }
        kv->key = strdup(pk->value);
        cfg->n_kafka_props++;
        if (kv->key == NULL) {
            p->oom = true;
            return;
        }
    }
}

/* ---- sinks.alertmanager and sinks.webhook ---- */

static void http_sink_free(struct http_sink_config *hs, const struct option *opts)
{
    options_free(opts, hs);
    kv_array_free(&hs->headers, &hs->n_headers);
    secret_free(hs->secret);
    hs->secret = NULL;
}

/* An HTTP header name (RFC 9110 token) that churnwatch does not set itself. */
static const char *check_header_name(const char *s)
{
    static const char *const reserved[] = {"content-length", "transfer-encoding", "expect"};
    if (s[0] == '\0')
        return "empty header name";
    for (const char *c = s; *c != '\0'; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *c) != NULL))
            return "expected a header name of letters, digits and !#$%&'*+-.^_`|~";
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcasecmp(s, reserved[i]) == 0)
            return "churnwatch sets this header itself";
    if (strncasecmp(s, "x-churnwatch-", 13) == 0)
        return "X-Churnwatch-* headers are churnwatch's own";
    return NULL;
}

static bool contains_nocase(const char *s, const char *word)
{
    for (size_t n = strlen(word); *s != '\0'; s++)
        if (strncasecmp(s, word, n) == 0)
            return true;
    return false;
}

/* Headers whose values are credentials: written out in the file, they earn the warning
 * about a world-readable config. */
static bool header_is_sensitive(const char *name)
{
    return strcasecmp(name, "authorization") == 0 || strcasecmp(name, "proxy-authorization") == 0 ||
           strcasecmp(name, "cookie") == 0 || secret_key_is_sensitive(name) ||
           contains_nocase(name, "token") || contains_nocase(name, "key");
}

static void parse_headers(struct parse *p, const char *path, const struct node *v,
                          struct http_sink_config *hs)
{
    char sub[CFG_PATH_LEN], d[64];

    if (!expect_map(p, path, v) || v->kind != N_MAP)
        return;
    hs->headers = calloc(v->n / 2 + 1, sizeof *hs->headers);
    if (hs->headers == NULL) {
        p->oom = true;
        return;
    }
    for (size_t i = 0; i + 1 < v->n; i += 2) {
        const struct node *hk = v->child[i], *hv = v->child[i + 1];
        struct kv *kv = &hs->headers[hs->n_headers];
        const char *why;
        if (hk->bad || hv->bad)
            continue;
        path_join(sub, sizeof sub, path, hk->value);
        if ((why = check_header_name(hk->value)) != NULL) {
            perr(p, hk, path, "%s, got %s", why, describe(d, hk));
            continue;
        }
        kv->value =
            kv_value(p, sub, hv, "a non-empty value", false, header_is_sensitive(hk->value));
        if (kv->value == NULL) {
            if (p->oom)
                return;
            continue;
        }
        if (strpbrk(kv->value, "\r\n") != NULL) {
            /* never quote the value: it may be a secret */
            perr(p, hv, sub, "a header value cannot contain a line break");
            secret_free(kv->value);
            kv->value = NULL;
            continue;
        }
        kv->key = strdup(hk->value);
        hs->n_headers++;
        if (kv->key == NULL) {
            p->oom = true;
            return;
        }
    }
}

/* sinks.alertmanager / sinks.webhook: present (not null) means on; url is required. */
static void parse_http_sink(struct parse *p, const char *path, const struct node *k,
                            const struct node *v, const struct option *opts,
                            struct http_sink_config *hs, bool webhook)
{
    char sub[CFG_PATH_LEN];

    if (v->kind == N_SCALAR && v->null)
        return; /* "alertmanager:" with nothing: off */
    if (!expect_map(p, path, v))
        return;
    hs->enabled = true;
    bool url_given = false;
    for (size_t i = 0; i + 1 < v->n; i += 2) {
        const struct node *sk = v->child[i], *sv = v->child[i + 1];
        const struct option *o;
        if (sk->bad || sv->bad)
            continue;
        /* url: "" is stored as no URL: it is missing, not given */
        url_given = url_given || (strcmp(sk->value, "url") == 0 && !sv->null &&
                                  !(sv->kind == N_SCALAR && sv->value[0] == '\0'));
        path_join(sub, sizeof sub, path, sk->value);
        if (strcmp(sk->value, "headers") == 0) {
            parse_headers(p, sub, sv, hs);
        } else if (webhook && strcmp(sk->value, "secret") == 0) {
            parse_secret_setting(p, sub, sv, &hs->secret);
        } else if ((o = option_find(opts, sk->value)) != NULL) {
            option_set(p, sub, o, sk, sv, hs);
        } else {
            unknown_key(p, path, sk);
        }
    }
    if (!url_given)
        perr(p, k, path, "missing required key \"url\"");
}

static void parse_sink_alertmanager(struct parse *p, const char *path, const struct node *k,
                                    const struct node *v)
{
    parse_http_sink(p, path, k, v, alertmanager_opts, &p->cfg->sink_alertmanager, false);
}

static void parse_sink_webhook(struct parse *p, const char *path, const struct node *k,
                               const struct node *v)
{
    parse_http_sink(p, path, k, v, webhook_opts, &p->cfg->sink_webhook, true);
}

static int field_lookup(const char *name)
{
    for (int f = 0; f < F__COUNT; f++)
        if (strcmp(field_name((enum field_id)f), name) == 0)
            return f;
    return -1;
}

static void parse_fields(struct parse *p, const char *path, const struct node *v,
                         struct topic_config *t)
{
    char sub[CFG_PATH_LEN], q[64], d[64];

    if (!expect_map(p, path, v))
        return;
    for (size_t i = 0; v->kind == N_MAP && i + 1 < v->n; i += 2) {
        const struct node *fk = v->child[i], *fv = v->child[i + 1];
        struct json_pointer jp;
        const char *why;
        bool oom = false;
        int f;

        if (fk->bad || fv->bad)
            continue;
        f = field_lookup(fk->value);
        if (f < 0) {
            perr(p, fk, path, "unknown field %s", quote(q, fk->value));
            continue;
        }
        path_join(sub, sizeof sub, path, fk->value);
        if (fv->kind != N_SCALAR || fv->null) {
            perr(p, fv, sub, "expected a JSON pointer such as \"/customer/id\", got %s",
                 describe(d, fv));
            continue;
        }
        why = json_pointer_parse(fv->value, &jp, &oom);
        if (oom) {
            p->oom = true;
            return;
        }
        if (why != NULL) {
            perr(p, fv, sub, "%s, got %s", why, describe(d, fv));
            continue;
        }
        json_pointer_clear(&t->field[f]);
        t->field[f] = jp;
    }
}

static void parse_topic(struct parse *p, const char *path, const struct node *item)
{
    struct config *cfg = p->cfg;
    const struct node *name = NULL;
    struct topic_config t;
    char sub[CFG_PATH_LEN], q[64], d[64];
    bool keep = false;

    if (item->kind != N_MAP) {
        perr(p, item, path, "expected a mapping with a name, got %s", describe(d, item));
        return;
    }
    for (size_t i = 0; i + 1 < item->n; i += 2)
        if (!item->child[i]->bad && strcmp(item->child[i]->value, "name") == 0)
            name = item->child[i + 1];
    path_join(sub, sizeof sub, path, "name");
    if (name == NULL) {
        perr(p, item, path, "missing required key \"name\"");
    } else if (name->bad) {
        /* reported */
    } else if (name->kind != N_SCALAR || name->null || name->value[0] == '\0') {
        perr(p, name, sub, "expected a non-empty string, got %s", describe(d, name));
    } else {
        keep = true;
        for (size_t j = 0; j < cfg->n_topics; j++) {
            if (strcmp(cfg->topics[j].name, name->value) == 0) {
                perr(p, name, sub, "duplicate topic %s", quote(q, name->value));
                keep = false;
            }
        }
    }
    if (topic_config_init_default(&t, keep ? name->value : "") < 0) {
        p->oom = true;
        return;
    }
    for (size_t i = 0; i + 1 < item->n; i += 2) {
        const struct node *k = item->child[i], *v = item->child[i + 1];
        if (k->bad || v->bad || strcmp(k->value, "name") == 0)
            continue;
        path_join(sub, sizeof sub, path, k->value);
        if (strcmp(k->value, "type") == 0) {
            int type = v->kind == N_SCALAR ? event_type_parse(v->value) : -1;
            if (type < 0) {
                char list[256];
                size_t o = 0;
                for (int e = 0; e < EV__COUNT && o < sizeof list; e++) {
                    int n = snprintf(list + o, sizeof list - o, "%s%s", e ? ", " : "",
                                     event_type_name((enum event_type)e));
                    o += n > 0 ? (size_t)n : 0;
                }
                perr(p, v, sub, "expected an event type (%s), got %s", list, describe(d, v));
            }
            t.fixed_type = type;
        } else if (strcmp(k->value, "fields") == 0) {
            parse_fields(p, sub, v, &t);
        } else {
            unknown_key(p, path, k);
        }
    }
    if (keep && !p->oom)
        cfg->topics[cfg->n_topics++] = t;
    else
        topic_config_clear(&t);
}

static void parse_topics(struct parse *p, const char *path, const struct node *k,
                         const struct node *v)
{
    struct config *cfg = p->cfg;
    char sub[CFG_PATH_LEN], d[64];

    (void)k;
    if (v->kind == N_SCALAR && v->null)
        return; /* reported as "at least one topic" */
    if (v->kind != N_SEQ) {
        perr(p, v, path, "expected a sequence of topics, got %s", describe(d, v));
        p->topics_given = true;
        return;
    }
    if (v->n == 0)
        return;
    p->topics_given = true;
    if (v->n > CFG_MAX_TOPICS) {
        perr(p, v, path, "too many topics (at most %d)", CFG_MAX_TOPICS);
        return;
    }
    cfg->topics = calloc(v->n, sizeof *cfg->topics);
    if (cfg->topics == NULL) {
        p->oom = true;
        return;
    }
    for (size_t i = 0; i < v->n && !p->oom; i++) {
        if (v->child[i]->bad)
            continue;
        path_index(sub, sizeof sub, path, i);
        parse_topic(p, sub, v->child[i]);
    }
}

/* ---- rules ---- */

#define RP(f) offsetof(struct rule_params, f)

/* Every key a rule or a tier may set. The first five apply to every rule; the others
 * only to the rules that list them in rule_keys[]. */
/* clang-format off */
static const struct option rule_param_opts[] = {
    {.name = "enabled", .type = T_BOOL, .offset = RP(enabled), .def = "true"},
    {.name = "weight", .type = T_DOUBLE, .offset = RP(weight), .dmin = 0, .flags = OPT_NO_MAX},
    {.name = "repeat_interval", .type = T_DUR_I64, .offset = RP(repeat_interval_ms), .def = "7d",
     .flags = OPT_NO_MAX},
    {.name = "pending", .type = T_DUR_I64, .offset = RP(pending_ms), .def = "0",
     .flags = OPT_NO_MAX},
    {.name = "repeat_backoff", .type = T_DOUBLE, .offset = RP(repeat_backoff), .def = "1",
     .dmin = 1, .dmax = 10},
    {.name = "factor", .type = T_DOUBLE, .offset = RP(factor),
     .dmin = 0, .flags = OPT_MIN_EXCL | OPT_NO_MAX},
    {.name = "min_orders", .type = T_U32, .offset = RP(min_orders), .imin = 2, .imax = 1000000},
    {.name = "min_gap", .type = T_DUR_I64, .offset = RP(duration_ms), .flags = OPT_NO_MAX},
    {.name = "after", .type = T_DUR_I64, .offset = RP(duration_ms), .flags = OPT_NO_MAX},
    /* spend is kept in weekly buckets for CW_SPEND_BUCKETS weeks (customer.h) */
    {.name = "window", .type = T_DUR_I64, .offset = RP(duration_ms), .imin = 1,
     .imax = CW_SPEND_WINDOW_MAX_MS},
    {.name = "drop", .type = T_DOUBLE, .offset = RP(drop),
     .dmin = 0, .dmax = 1, .flags = OPT_MIN_EXCL | OPT_MAX_EXCL},
    {.name = "older_than", .type = T_DUR_I64, .offset = RP(duration_ms), .flags = OPT_NO_MAX},
    /* at most CW_MAX_OPEN complaints are tracked per customer */
    {.name = "at_least", .type = T_U32, .offset = RP(at_least), .imin = 1, .imax = CW_MAX_OPEN},
    {.name = "within", .type = T_DUR_I64, .offset = RP(duration_ms), .flags = OPT_NO_MAX},
    {.name = "at_most", .type = T_U32, .offset = RP(at_most), .imin = 1, .imax = 5},
    {.name = "hold", .type = T_DUR_I64, .offset = RP(duration_ms), .flags = OPT_NO_MAX},
    {0},
};
/* clang-format on */
#define N_COMMON_PARAMS 5

/* Per rule: its own keys with their defaults, its default weight and its default
 * suggested action (docs/rules.md explains each). */
static const struct rule_keys {
    const char *weight;
    struct {
        const char *name, *def;
    } key[3];
    const char *action;
} rule_keys[RULE__COUNT] = {
    [RULE_ORDER_GAP] = {"30", {{"factor", "2"}, {"min_orders", "2"}, {"min_gap", "120d"}},
                        "Call the customer: ask how they are doing and whether anything has "
                        "changed on their side"},
    [RULE_FIRST_REPEAT_OVERDUE] = {"20", {{"after", "90d"}},
                                   "Follow up on the first order: ask about the experience and "
                                   "offer help with the next one"},
    [RULE_SPEND_DROP] = {"25", {{"window", "90d"}, {"drop", "0.5"}},
                         "Review the account: find out which products or sites the customer "
                         "now buys elsewhere"},
    [RULE_COMPLAINT_UNRESOLVED] = {"30", {{"older_than", "7d"}},
                                   "Escalate the complaint to its owner's manager and give the "
                                   "customer a date for the fix"},
    [RULE_OPEN_COMPLAINTS] = {"20", {{"at_least", "3"}},
                              "Assign one person to all open complaints and call the customer "
                              "with a plan"},
    [RULE_COMPLAINT_REOPENED] = {"25", {{NULL, NULL}},
                                 "Have a senior person own the reopened complaint and confirm "
                                 "the fix with the customer"},
    [RULE_SUPPORT_UNANSWERED] = {"20", {{"within", "2d"}},
                                 "Answer the ticket now, and apologise for the wait"},
    [RULE_LOW_SATISFACTION] = {"15", {{"at_most", "2"}, {"hold", "30d"}},
                               "Call the customer about the badly rated ticket"},
    [RULE_UNSUBSCRIBED] = {"20", {{NULL, NULL}},
                           "Reach out personally, not by mailing: ask what the customer "
                           "needs"},
    [RULE_MANAGER_CHANGED] = {"15", {{"hold", "60d"}},
                              "Have the new account manager introduce themselves and meet the "
                              "customer soon"},
};

/* Keys of struct rule_config set once per rule (not per tier). */
static const struct option rule_text_opts[] = {
    {.name = "summary", .type = T_OPT_STRING, .offset = offsetof(struct rule_config, summary)},
    {.name = "action", .type = T_OPT_STRING, .offset = offsetof(struct rule_config, action)},
    {0},
};

static bool rule_has_key(enum rule_id r, const struct option *o)
{
    if (o < rule_param_opts + N_COMMON_PARAMS)
        return true;
    for (size_t i = 0; i < 3; i++)
        if (rule_keys[r].key[i].name && strcmp(rule_keys[r].key[i].name, o->name) == 0)
            return true;
    return false;
}

static void set_text(struct parse *p, const char *path, const struct option *o, const char *text,
                     void *base)
{
    struct node n = {.kind = N_SCALAR, .value = (char *)text, .len = strlen(text)};
    option_set(p, path, o, NULL, &n, base);
}

static void rules_defaults(struct parse *p)
{
    for (int r = 0; r < RULE__COUNT; r++) {
        struct rule_params d;
        memset(&d, 0, sizeof d);
        options_defaults(p, rule_param_opts, &d);
        set_text(p, "weight", option_find(rule_param_opts, "weight"), rule_keys[r].weight, &d);
        for (size_t i = 0; i < 3; i++) {
            const char *name = rule_keys[r].key[i].name;
            if (name != NULL)
                set_text(p, name, option_find(rule_param_opts, name), rule_keys[r].key[i].def, &d);
        }
        for (int t = 0; t < TIER__COUNT; t++)
            p->cfg->rules[r].tier[t] = d;
        set_text(p, "action", option_find(rule_text_opts, "action"), rule_keys[r].action,
                 &p->cfg->rules[r]);
    }
}

static void rule_param_set(struct parse *p, const char *path, enum rule_id r, const struct node *k,
                           const struct node *v, struct rule_params *rp)
{
    const struct option *o = option_find(rule_param_opts, k->value);
    char sub[CFG_PATH_LEN], q[64];

    if (o == NULL) {
        unknown_key(p, path, k);
        return;
    }
    if (!rule_has_key(r, o)) {
        perr(p, k, path, "key %s does not apply to rule %s", quote(q, o->name), rule_name(r));
        return;
    }
    path_join(sub, sizeof sub, path, o->name);
    option_set(p, sub, o, k, v, rp);
}

static void parse_tiers(struct parse *p, const char *path, enum rule_id r, const struct node *v)
{
    struct rule_config *rc = &p->cfg->rules[r];
    char sub[CFG_PATH_LEN], q[64];

    if (!expect_map(p, path, v))
        return;
    for (size_t i = 0; v->kind == N_MAP && i + 1 < v->n; i += 2) {
        const struct node *tk = v->child[i], *tv = v->child[i + 1];
        int t;
        if (tk->bad || tv->bad)
            continue;
        t = tier_parse(tk->value);
        if (t < 0) {
            perr(p, tk, path, "unknown tier %s (expected standard, key or strategic)",
                 quote(q, tk->value));
            continue;
        }
        path_join(sub, sizeof sub, path, tk->value);
        if (!expect_map(p, sub, tv))
            continue;
        for (size_t j = 0; tv->kind == N_MAP && j + 1 < tv->n; j += 2) {
            const struct node *k = tv->child[j], *pv = tv->child[j + 1];
            if (k->bad || pv->bad)
                continue;
            if (option_find(rule_text_opts, k->value) != NULL || strcmp(k->value, "tiers") == 0)
                perr(p, k, sub, "%s cannot be set per tier", quote(q, k->value));
            else
                rule_param_set(p, sub, r, k, pv, &rc->tier[t]);
        }
    }
}

static void parse_rule(struct parse *p, const char *path, enum rule_id r, const struct node *v)
{
    struct rule_config *rc = &p->cfg->rules[r];
    struct rule_params base = rc->tier[TIER_STANDARD];
    const struct node *tiers = NULL;
    char sub[CFG_PATH_LEN];

    if (!expect_map(p, path, v))
        return;
    for (size_t i = 0; v->kind == N_MAP && i + 1 < v->n; i += 2) {
        const struct node *k = v->child[i], *pv = v->child[i + 1];
        const struct option *o;
        if (k->bad || pv->bad)
            continue;
        if (strcmp(k->value, "tiers") == 0) {
            tiers = pv;
        } else if ((o = option_find(rule_text_opts, k->value)) != NULL) {
            path_join(sub, sizeof sub, path, o->name);
            option_set(p, sub, o, k, pv, rc);
        } else {
            rule_param_set(p, path, r, k, pv, &base);
        }
    }
    /* Tiers start from the rule's own values, whatever the order of the keys. */
    for (int t = 0; t < TIER__COUNT; t++)
        rc->tier[t] = base;
    if (tiers != NULL) {
        path_join(sub, sizeof sub, path, "tiers");
        parse_tiers(p, sub, r, tiers);
    }
}

static void parse_rules(struct parse *p, const char *path, const struct node *k,
                        const struct node *v)
{
    char sub[CFG_PATH_LEN], q[64];

    (void)k;
    if (!expect_map(p, path, v))
        return;
    for (size_t i = 0; v->kind == N_MAP && i + 1 < v->n; i += 2) {
        const struct node *rk = v->child[i], *rv = v->child[i + 1];
        int r;
        if (rk->bad || rv->bad)
            continue;
        r = rule_parse(rk->value);
        if (r < 0) {
            perr(p, rk, path, "unknown rule %s", quote(q, rk->value));
            continue;
        }
        path_join(sub, sizeof sub, path, rk->value);
        parse_rule(p, sub, (enum rule_id)r, rv);
    }
}

/* ------------------------------------------------------------------------------------ */
/* Public functions. */

struct config *config_load_buffer(const char *name, const char *buf, size_t len, char *errs,
                                  size_t errs_len)
{
    struct parse p = {.name = name, .buf = buf ? buf : "", .len = buf ? len : 0};
    struct node *root;

    p.cfg = calloc(1, sizeof *p.cfg);
    if (p.cfg == NULL || (p.cfg->path = strdup(name)) == NULL) {
        free(p.cfg);
        p.oom = true;
        errors_write(&p, errs, errs_len);
        return NULL;
    }
    options_defaults(&p, top_opts, p.cfg);
    options_defaults(&p, alertmanager_opts, &p.cfg->sink_alertmanager);
    options_defaults(&p, webhook_opts, &p.cfg->sink_webhook);
    rules_defaults(&p);

    root = build_tree(&p, p.buf, p.len);
    if (!p.abort && root != NULL && !(root->kind == N_SCALAR && root->null))
        options_parse(&p, "", root, top_opts, p.cfg);
    if (!p.abort && !p.topics_given) {
        if (p.kafka_key != NULL)
            perr(&p, p.kafka_key, "kafka.topics", "at least one topic is required");
        else
            perr_at(&p, 1, 1, "kafka.topics", "at least one topic is required");
    }
    node_free(root);
    if (p.cfg->watch_clear_score == 0)
        p.cfg->watch_clear_score = p.cfg->watch_score;
    if (p.cfg->alarm_clear_score == 0)
        p.cfg->alarm_clear_score = p.cfg->alarm_score;
    if (p.cfg->metrics_listen != NULL && listen_off(p.cfg->metrics_listen)) {
        free(p.cfg->metrics_listen);
        p.cfg->metrics_listen = NULL;
    }

    if (p.n_total > 0 || p.oom) {
        errors_write(&p, errs, errs_len);
        errors_free(&p);
        config_free(p.cfg);
        return NULL;
    }
    if (errs_len > 0)
        errs[0] = '\0';
    errors_free(&p);
    return p.cfg;
}

struct config *config_load(const char *path, char *errs, size_t errs_len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    struct config *cfg;
    struct stat st;
    bool others_read;

    if (f == NULL) {
        if (errs_len > 0)
            snprintf(errs, errs_len, "cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        size_t n;
        if (len == cap) {
            char *nb;
            if (cap >= CFG_MAX_FILE) {
                if (errs_len > 0)
                    snprintf(errs, errs_len, "%s: file is larger than %u bytes\n", path,
                             CFG_MAX_FILE);
                goto fail;
            }
            cap = cap ? 2 * cap : 16384;
            nb = realloc(buf, cap);
            if (nb == NULL) {
                if (errs_len > 0)
                    snprintf(errs, errs_len, "%s: out of memory\n", path);
                goto fail;
            }
            buf = nb;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                if (errs_len > 0)
                    snprintf(errs, errs_len, "cannot read %s: %s\n", path, strerror(errno));
                goto fail;
            }
            break;
        }
    }
    others_read = fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH);
    fclose(f);
    cfg = config_load_buffer(path, buf, len, errs, errs_len);
    free(buf);
    if (cfg != NULL && cfg->literal_secret != NULL && others_read)
        log_warn("%s:%s: a secret is written out in a file that every user can read (mode "
                 "%04o): chmod 640 %s (owner root, group of the daemon), or read the secret "
                 "from {file: PATH}, {env: NAME} or {credential: NAME}",
                 path, cfg->literal_secret, (unsigned)(st.st_mode & 07777), path);
    return cfg;
fail:
    fclose(f);
    free(buf);
    return NULL;
}

void config_free(struct config *cfg)
{
    if (cfg == NULL)
        return;
    secret_free(cfg->redis_password);
    free(cfg->literal_secret);
    options_free(top_opts, cfg);
    http_sink_free(&cfg->sink_alertmanager, alertmanager_opts);
    http_sink_free(&cfg->sink_webhook, webhook_opts);
    for (size_t i = 0; i < cfg->n_topics; i++)
        topic_config_clear(&cfg->topics[i]);
    free(cfg->topics);
    kv_array_free(&cfg->kafka_props, &cfg->n_kafka_props);
    for (int r = 0; r < RULE__COUNT; r++)
        options_free(rule_text_opts, &cfg->rules[r]);
    free(cfg->path);
    free(cfg);
}

const struct topic_config *config_topic(const struct config *cfg, const char *topic)
{
    for (size_t i = 0; i < cfg->n_topics; i++)
        if (strcmp(cfg->topics[i].name, topic) == 0)
            return &cfg->topics[i];
    return NULL;
}
