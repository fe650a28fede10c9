/* alerts.c — alert ids and alert payloads (DESIGN.md §4). Pure: no I/O.
 *
 * Payloads are written by hand straight into the alert_list buffer: after the list has
 * grown to the size of a batch, formatting allocates nothing. */
#include "alerts.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "json_escape.h"

#define ALERT_ID_SEED 0x616c7274 /* "alrt" */

void alert_id(const char *customer_id, enum rule_id rule, int64_t started_ms,
              char out[CW_ALERT_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    const char *name = rule_name(rule);
    uint8_t ts[8];
    for (int i = 0; i < 8; i++)
        ts[i] = (uint8_t)((uint64_t)started_ms >> (8 * i));
    /* the NUL terminators separate the parts: ("ab","c") and ("a","bc") differ */
    uint64_t h = cw_hash64(customer_id, strlen(customer_id) + 1, ALERT_ID_SEED);
    h = cw_hash64(name, strlen(name) + 1, h);
    h = cw_hash64(ts, sizeof ts, h);
    for (int i = 0; i < CW_ALERT_ID_LEN; i++)
        out[i] = hex[(h >> (4 * (CW_ALERT_ID_LEN - 1 - i))) & 0xf];
    out[CW_ALERT_ID_LEN] = '\0';
}

void alert_list_clear(struct alert_list *l)
{
    l->len = 0;
    l->count = 0;
}

void alert_list_free(struct alert_list *l)
{
    if (l == NULL)
        return;
    free(l->buf);
    free(l->offset);
    free(l->length);
    free(l->customer);
    free(l->kind);
    memset(l, 0, sizeof *l);
}

/* ---- an appender on the list's buffer; `err` sticks after the first ENOMEM ---- */

struct out {
    struct alert_list *l;
    int err;
};

static int out_reserve(struct out *o, size_t n)
{
    struct alert_list *l = o->l;
    if (o->err)
        return -1;
    if (l->cap - l->len >= n)
        return 0;
    size_t cap = l->cap ? l->cap : 4096;
    while (cap - l->len < n) {
        if (cap > SIZE_MAX / 2) {
            o->err = 1;
            return -1;
        }
        cap *= 2;
    }
    char *b = realloc(l->buf, cap);
    if (b == NULL) {
        o->err = 1;
        return -1;
    }
    l->buf = b;
    l->cap = cap;
    return 0;
}

static void out_mem(struct out *o, const char *s, size_t n)
{
    if (out_reserve(o, n) == 0) {
        memcpy(o->l->buf + o->l->len, s, n);
        o->l->len += n;
    }
}

static void out_str(struct out *o, const char *s)
{
    out_mem(o, s, strlen(s));
}

static void out_char(struct out *o, char ch)
{
    out_mem(o, &ch, 1);
}

/* A JSON string, escaped by json_escape.h: always valid JSON, whatever the bytes. */
static void out_json_string(struct out *o, const char *s)
{
    char esc[JSON_ESC_MAX];
    out_char(o, '"');
    while (*s != '\0') {
        size_t n = json_escape_next(&s, esc);
        out_mem(o, esc, n);
    }
    out_char(o, '"');
}

/* At most 2 decimals, trailing zeros removed: 30, 12.5, 0.33. Non-finite values as 0. */
static void format_number(char *buf, size_t len, double v)
{
    if (!isfinite(v))
        v = 0;
    snprintf(buf, len, "%.2f", v);
    char *dot = strchr(buf, '.');
    if (dot != NULL) {
        char *end = buf + strlen(buf);
        while (end > dot + 1 && end[-1] == '0')
            end--;
        if (end == dot + 1)
            end = dot;
        *end = '\0';
    }
    if (strcmp(buf, "-0") == 0)
        strcpy(buf, "0");
}

static void out_number(struct out *o, double v)
{
    char buf[400];
    format_number(buf, sizeof buf, v);
    out_str(o, buf);
}

static void out_key(struct out *o, const char *key)
{
    out_char(o, '"');
    out_str(o, key);
    out_str(o, "\": ");
}

/* The built-in one-line explanation of a notice: what was measured, against what. */
static void format_summary(const struct notice *n, char *buf, size_t len)
{
    char limit[400], base[400], val[400];
    double value = isfinite(n->value) ? n->value : 0;
    double baseline = isfinite(n->baseline) ? n->baseline : 0;
    format_number(limit, sizeof limit, n->threshold);
    format_number(base, sizeof base, baseline);
    format_number(val, sizeof val, value);
    switch (n->rule) {
    case RULE_ORDER_GAP:
        if (n->firing)
            snprintf(buf, len, "no order for %.1f days; usually one every %.1f days", value,
                     baseline);
        else
            snprintf(buf, len, "ordered again after %.1f days", value);
        return;
    case RULE_FIRST_REPEAT_OVERDUE:
        if (n->firing)
            snprintf(buf, len, "no second order %.1f days after the first (limit %s)", value,
                     limit);
        else
            snprintf(buf, len, "second order %.1f days after the first", value);
        return;
    case RULE_SPEND_DROP:
        if (n->firing)
            snprintf(buf, len, "spend in the recent window %s, below %s (baseline %s)", val,
                     limit, base);
        else
            snprintf(buf, len, "spend recovered to %s (clear level %s, baseline %s)", val, limit,
                     base);
        return;
    case RULE_COMPLAINT_UNRESOLVED:
        if (n->firing)
            snprintf(buf, len, "complaint open for %.1f days (limit %s)", value, limit);
        else
            snprintf(buf, len, "complaint resolved after %.1f days", value);
        return;
    case RULE_OPEN_COMPLAINTS:
        if (n->firing)
            snprintf(buf, len, "%s complaints open at once (limit %s)", val, limit);
        else
            snprintf(buf, len, "%s complaints open now (limit %s)", val, limit);
        return;
    case RULE_COMPLAINT_REOPENED:
        if (n->firing)
            snprintf(buf, len, "a resolved complaint was reopened (%s reopened open)", val);
        else
            snprintf(buf, len, "reopened complaint resolved again");
        return;
    case RULE_SUPPORT_UNANSWERED:
        if (n->firing)
            snprintf(buf, len, "support ticket without a first reply for %.1f hours (limit %s)",
                     value, limit);
        else
            snprintf(buf, len, "support ticket answered or closed after %.1f hours", value);
        return;
    case RULE_LOW_SATISFACTION:
        if (n->firing)
            snprintf(buf, len, "support ticket rated %s (low: %s or less)", val, limit);
        else
            snprintf(buf, len, "no low satisfaction rating for %.1f days (hold %s)", value,
                     limit);
        return;
    case RULE_UNSUBSCRIBED:
        if (n->firing)
            snprintf(buf, len, "unsubscribed from communication %.1f days ago", value);
        else
            snprintf(buf, len, "ordered again %.1f days after unsubscribing", value);
        return;
    case RULE_MANAGER_CHANGED:
        if (n->firing)
            snprintf(buf, len, "account manager changed %.1f days ago (watched for %s days)",
                     value, limit);
        else
            snprintf(buf, len, "new account manager in place for %.1f days", value);
        return;
    default:
        snprintf(buf, len, "%s %s", rule_name(n->rule), n->firing ? "firing" : "resolved");
        return;
    }
}

static int slots_reserve(struct alert_list *l)
{
    if (l->count < l->slots)
        return 0;
    size_t slots = l->slots ? l->slots * 2 : 64;
    size_t *offset = realloc(l->offset, slots * sizeof *offset);
    if (offset == NULL)
        return -1;
    l->offset = offset;
    size_t *length = realloc(l->length, slots * sizeof *length);
    if (length == NULL)
        return -1;
    l->length = length;
    char(*customer)[CW_ID_MAX + 1] = realloc(l->customer, slots * sizeof *customer);
    if (customer == NULL)
        return -1;
    l->customer = customer;
    struct alert_kind *kind = realloc(l->kind, slots * sizeof *kind);
    if (kind == NULL)
        return -1;
    l->kind = kind;
    l->slots = slots;
    return 0;
}

/* Ends the payload begun at `start` (its NUL) and records it as entry `count` (slots
 * reserved by the caller); on a write error drops what was written. Returns 0 or -1. */
static int list_close(struct out *o, size_t start, const char *customer, struct alert_kind kind)
{
    struct alert_list *l = o->l;
    out_char(o, '\0');
    if (o->err) {
        l->len = start;
        return -1;
    }
    size_t i = l->count++;
    l->offset[i] = start;
    l->length[i] = l->len - start - 1;
    snprintf(l->customer[i], sizeof l->customer[i], "%s", customer);
    l->kind[i] = kind;
    return 0;
}

int alert_format(const struct config *cfg, const struct customer *c, const struct notice *n,
                 struct alert_list *l)
{
    if (slots_reserve(l) < 0)
        return -1;

    const struct rule_config *rc = &cfg->rules[n->rule < RULE__COUNT ? n->rule : 0];
    struct out o = {l, 0};
    size_t start = l->len;
    char id[CW_ALERT_ID_LEN + 1], t1[32], t2[32], builtin[1280];

    alert_id(c->id, n->rule, n->started_ms, id);
    format_rfc3339(n->started_ms, t1);
    format_rfc3339(n->ts_ms, t2);
    /* a configured summary replaces the built-in text of firing notices */
    const char *summary = builtin;
    if (n->firing && rc->summary != NULL)
        summary = rc->summary;
    else
        format_summary(n, builtin, sizeof builtin);

    out_str(&o, "{\"alert_id\": \"");
    out_str(&o, id);
    out_str(&o, "\", ");
    out_key(&o, "customer_id");
    out_json_string(&o, c->id);
    out_str(&o, ", ");
    out_key(&o, "rule");
    out_json_string(&o, rule_name(n->rule));
    out_str(&o, ", ");
    out_key(&o, "status");
    out_str(&o, n->firing ? "\"firing\", " : "\"resolved\", ");
    out_key(&o, "level");
    out_json_string(&o, risk_level_name((enum risk_level)n->level));
    out_str(&o, ", ");
    out_key(&o, "score");
    out_number(&o, n->score);
    out_str(&o, ", ");
    out_key(&o, "tier");
    out_json_string(&o, tier_name((enum tier)c->tier));
    out_str(&o, ", ");
    out_key(&o, "started_at");
    out_json_string(&o, t1);
    out_str(&o, ", ");
    out_key(&o, "ts");
    out_json_string(&o, t2);
    out_str(&o, ", ");
    out_key(&o, "summary");
    out_json_string(&o, summary);
    out_str(&o, ", ");
    out_key(&o, "evidence");
    out_str(&o, "{");
    out_key(&o, "value");
    out_number(&o, n->value);
    out_str(&o, ", ");
    out_key(&o, "threshold");
    out_number(&o, n->threshold);
    out_str(&o, ", ");
    out_key(&o, "baseline");
    out_number(&o, n->baseline);
    out_str(&o, ", ");
    out_key(&o, "unit");
    out_json_string(&o, n->unit ? n->unit : "");
    out_str(&o, "}, ");
    out_key(&o, "signals");
    out_char(&o, '[');
    bool first = true;
    for (int r = 0; r < RULE__COUNT; r++) {
        if (!(n->signals & (1u << r)))
            continue;
        if (!first)
            out_str(&o, ", ");
        out_json_string(&o, rule_name((enum rule_id)r));
        first = false;
    }
    out_char(&o, ']');
    if (n->repeat)
        out_str(&o, ", \"repeat\": true");
    if (n->escalation != 0)
        out_str(&o, n->escalation > 0 ? ", \"escalation\": \"up\"" : ", \"escalation\": \"down\"");
    if (n->silence_ended)
        out_str(&o, ", \"silence_ended\": true");
    if (n->firing && rc->action != NULL) {
        out_str(&o, ", ");
        out_key(&o, "action");
        out_json_string(&o, rc->action);
    }
    out_char(&o, '}');
    return list_close(&o, start, c->id, (struct alert_kind){(uint8_t)n->rule, n->level, n->firing});
}

int alert_list_append(struct alert_list *l, const char *customer, struct alert_kind kind,
                      const char *json, size_t len)
{
    if (slots_reserve(l) < 0)
        return -1;
    struct out o = {l, 0};
    size_t start = l->len;
    out_mem(&o, json, len);
    return list_close(&o, start, customer, kind);
}

int alert_format_all(const struct config *cfg, const struct customer *c,
                     const struct notice_list *nl, struct alert_list *out)
{
    for (int i = 0; i < nl->count; i++)
        if (alert_format(cfg, c, &nl->n[i], out) < 0)
            return -1;
    return 0;
}

struct alert_kind alert_kind_parse(const char *json, size_t len)
{
    struct alert_kind k = {RULE__COUNT, 0, false};
    cJSON *root = cJSON_ParseWithLength(json, len);
    const char *rule = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "rule"));
    const char *level = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "level"));
    const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "status"));
    int r = rule ? rule_parse(rule) : -1;
    for (int lv = 0; r >= 0 && level && status && lv <= LEVEL_ALARM; lv++)
        if (strcmp(level, risk_level_name((enum risk_level)lv)) == 0)
            k = (struct alert_kind){(uint8_t)r, (uint8_t)lv, strcmp(status, "firing") == 0};
    cJSON_Delete(root);
    return k;
}
