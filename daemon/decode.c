/* decode.c — bytes to struct event (DESIGN.md §2), using a topic's field mapping.
 *
 * One cJSON parse per message, then direct lookups along each field's JSON pointer. The
 * parse tree lives in a per-thread arena (cJSON's allocation hooks, see parse_arena below):
 * no malloc or free per message unless a message needs more than the arena holds.
 *
 * Policies worth knowing (they are all deliberate):
 * - Duplicate keys: the first occurrence wins (as cJSON_GetObjectItem does); later ones are
 *   ignored.
 * - JSON null counts as "absent" for every field, except account_manager, where null means
 *   "the customer has no manager" (has_account_manager = 1, account_manager = "").
 * - Ids (customer_id, event_id, order_id, complaint_id, ticket_id) must be JSON strings of
 *   1..CW_ID_MAX bytes; numbers are rejected (REJ_WRONG_TYPE) rather than converted, because
 *   a number's text form is ambiguous (1e3 vs 1000) and would break the Kafka key.
 * - A NUL in a string (raw NUL bytes are not JSON at all; "\u0000" escapes are) rejects the
 *   field that carries it (REJ_BAD_VALUE). Keys containing "\u0000" never match a mapping.
 * - Trailing bytes after the top-level object other than whitespace: REJ_INVALID_JSON.
 * - Text fields (currency, category, channel, account_manager, name) longer than
 *   CW_TEXT_MAX - 1 bytes are truncated at a UTF-8 character boundary, not rejected.
 * - ts given as a number is epoch milliseconds (not seconds) and must be integral with
 *   |ts| <= 2^53. A leap second (":60") counts as the first second of the next minute.
 * - struct event: tier is -1 unless a customer.updated event carries one; the other fields
 *   of types that do not have them are zero / "". After a rejection *ev holds whatever was
 *   decoded before the bad field; do not use it.
 */
#include "decode.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

/* Private flags OR-ed into cJSON->type of our own parse tree when a message contains
 * "\u0000" escapes (see mark_nul_strings). cJSON only uses the low 10 bits; cJSON_Is*()
 * mask with 0xFF and cJSON_Delete looks only at IsReference / StringIsConst. */
#define CW_NUL_KEY (1 << 12)   /* the member's key contains a NUL */
#define CW_NUL_VALUE (1 << 13) /* the string value contains a NUL */

#define TS_NUM_LIMIT 9007199254740992.0 /* 2^53: beyond this doubles lose integers */

struct decoder {
    const struct topic_config *topic;
    const cJSON *root;
    enum reject_reason *why;
    char *err;
    size_t err_len;
};

/* ---------------------------------------------------------------- parse arena
 *
 * cJSON allocates every node and string separately; per message that was ~20 malloc/free
 * pairs, a third of the decoding time. While decode_event parses, cJSON's hooks hand out
 * memory from a per-thread buffer instead, reset after the message; what does not fit
 * (large messages) falls back to malloc and is freed by cJSON_Delete as before. Outside a
 * parse the hooks are plain malloc/free, so other cJSON users are unaffected. */
#define ARENA_BYTES 16384

struct parse_arena {
    _Alignas(max_align_t) unsigned char buf[ARENA_BYTES];
    size_t used;
    bool active;
    size_t fallbacks; /* allocations of this parse that went to malloc */
};
static _Thread_local struct parse_arena arena;

static void *arena_malloc(size_t n)
{
    if (arena.active) {
        size_t need = (n + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1);
        if (need <= ARENA_BYTES - arena.used) {
            void *p = arena.buf + arena.used;
            arena.used += need;
            return p;
        }
        arena.fallbacks++;
    }
    return malloc(n);
}

static void arena_free(void *p)
{
    const unsigned char *b = p;
    if (b >= arena.buf && b < arena.buf + ARENA_BYTES)
        return; /* released all at once when the parse is done */
    free(p);
}

static cJSON *arena_parse(const char *buf, size_t len, const char **parse_end)
{
    static bool hooked; /* decode_event runs on one thread at a time per process image */
    if (!hooked) {
        cJSON_Hooks h = {arena_malloc, arena_free};
        cJSON_InitHooks(&h);
        hooked = true;
    }
    arena.used = 0;
    arena.fallbacks = 0;
    arena.active = true;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, len, parse_end, 0);
    arena.active = false;
    return root;
}

/* Frees a tree arena_parse returned: only the parts that went to malloc need it. */
static void arena_release(cJSON *root)
{
    if (arena.fallbacks > 0)
        cJSON_Delete(root);
    arena.used = 0;
}

/* ---------------------------------------------------------------- time */

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. The year is counted from March so
 * that the leap day is the last day of a year; 400-year cycles ("eras") have 146097 days. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    if (m <= 2)
        y -= 1;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;                         /* 0..399 */
    int64_t mar = (m + 9) % 12;                          /* March = 0 .. February = 11 */
    int64_t doy = (153 * mar + 2) / 5 + d - 1;           /* 0..365, day of the March year */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* 0..146096 */
    return era * 146097 + doe - 719468;                  /* 719468: 0000-03-01 to 1970-01-01 */
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;                                      /* 0..146096 */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* 0..365 */
    int64_t mar = (5 * doy + 2) / 153;                                   /* 0..11 */
    *d = (int)(doy - (153 * mar + 2) / 5 + 1);
    *m = (int)(mar < 10 ? mar + 3 : mar - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Reads n decimal digits at s; returns -1 if any is not a digit. */
static int read_digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int decode_rfc3339(const char *s, size_t len, int64_t *ms)
{
    /* YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+hh:mm|-hh:mm) */
    if (len < 20 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':')
        return -1;
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        return -1;
    int year = read_digits(s, 4), mon = read_digits(s + 5, 2), day = read_digits(s + 8, 2);
    int hour = read_digits(s + 11, 2), min = read_digits(s + 14, 2);
    int sec = read_digits(s + 17, 2);
    if (year < 0 || mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon))
        return -1;
    if (hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 60)
        return -1;

    size_t i = 19;
    int frac_ms = 0;
    if (i < len && s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 9) {
            if (i - start < 3)
                frac_ms += (s[i] - '0') * (i - start == 0 ? 100 : i - start == 1 ? 10 : 1);
            i++;
        }
        if (i == start)
            return -1;
    }

    int offset_min = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        if (len - i < 6 || s[i + 3] != ':')
            return -1;
        int oh = read_digits(s + i + 1, 2), om = read_digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -1;
        offset_min = (s[i] == '-' ? -1 : 1) * (oh * 60 + om);
        i += 6;
    } else {
        return -1; /* no offset: local time is ambiguous */
    }
    if (i != len)
        return -1;

    int64_t secs = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec -
                   (int64_t)offset_min * 60;
    *ms = secs * 1000 + frac_ms;
    return 0;
}

void format_rfc3339(int64_t ms, char out[32])
{
    /* Floor division written so that INT64_MIN cannot overflow. */
    int64_t secs = ms / 1000, days;
    int milli = (int)(ms % 1000), sod;
    if (milli < 0) {
        milli += 1000;
        secs--;
    }
    days = secs / 86400;
    sod = (int)(secs % 86400);
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    /* |y| < 3e8 for any int64 ms, so this fits 32 bytes. */
    snprintf(out, 32, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, d, sod / 3600,
             sod / 60 % 60, sod % 60, milli);
}

/* ---------------------------------------------------------------- NUL escapes */

/* True if the (already validated) JSON text holds a "\u0000" escape. Every backslash in
 * valid JSON starts an escape inside a string, so skipping two bytes keeps us aligned. */
static bool has_nul_escape(const char *p, const char *end)
{
    while ((p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
        if (end - p >= 6 && p[1] == 'u' && memcmp(p + 2, "0000", 4) == 0)
            return true;
        if (end - p <= 2)
            break;
        p += 2;
    }
    return false;
}

/* Moves *pos past the next string token of the JSON text; true if it holds "\u0000". */
static bool next_string_has_nul(const char **pos, const char *end)
{
    const char *p = memchr(*pos, '"', (size_t)(end - *pos));
    bool nul = false;
    if (p == NULL) {
        *pos = end;
        return false;
    }
    for (p++; p < end && *p != '"'; p++) {
        if (*p == '\\') {
            if (end - p >= 6 && p[1] == 'u' && memcmp(p + 2, "0000", 4) == 0)
                nul = true;
            if (end - p < 2)
                break;
            p++; /* skip the escaped byte (it may be a quote) */
        }
    }
    *pos = p < end ? p + 1 : end;
    return nul;
}

/* Walks the tree in document order, in step with the string tokens of the text (cJSON keeps
 * members and elements in order, each key before its value), and flags the keys and string
 * values that held "\u0000": in the tree they are cut short at the NUL. Rare path. */
static void mark_nul_strings(cJSON *node, const char **pos, const char *end)
{
    if (node->string != NULL && next_string_has_nul(pos, end))
        node->type |= CW_NUL_KEY;
    if (cJSON_IsString(node)) {
        if (next_string_has_nul(pos, end))
            node->type |= CW_NUL_VALUE;
    } else if (cJSON_IsObject(node) || cJSON_IsArray(node)) {
        for (cJSON *c = node->child; c != NULL; c = c->next)
            mark_nul_strings(c, pos, end);
    }
}

/* ---------------------------------------------------------------- lookups */

static const cJSON *object_get(const cJSON *obj, const char *key)
{
    for (const cJSON *c = obj->child; c != NULL; c = c->next)
        if (c->string != NULL && strcmp(c->string, key) == 0 && !(c->type & CW_NUL_KEY))
            return c; /* first of duplicate keys wins */
    return NULL;
}

static const cJSON *array_get(const cJSON *arr, const char *tok)
{
    /* RFC 6901 array index: "0" or digits without a leading zero. */
    size_t n = strlen(tok);
    int idx = n >= 1 && n <= 9 && (n == 1 || tok[0] != '0') ? read_digits(tok, (int)n) : -1;
    if (idx < 0)
        return NULL;
    const cJSON *c = arr->child;
    while (c != NULL && idx-- > 0)
        c = c->next;
    return c;
}

/* The node the field's pointer designates, NULL if absent or unmapped. null stays null. */
static const cJSON *field_node(const struct decoder *d, enum field_id f)
{
    const struct json_pointer *p = &d->topic->field[f];
    if (p->depth <= 0)
        return NULL;
    const cJSON *n = d->root;
    int depth = p->depth < CW_PTR_MAX_DEPTH ? p->depth : CW_PTR_MAX_DEPTH;
    for (int i = 0; i < depth && n != NULL; i++) {
        if (cJSON_IsObject(n))
            n = object_get(n, p->token[i]);
        else if (cJSON_IsArray(n))
            n = array_get(n, p->token[i]);
        else
            n = NULL;
    }
    return n;
}

/* Same, with JSON null treated as absent. */
static const cJSON *field_get(const struct decoder *d, enum field_id f)
{
    const cJSON *n = field_node(d, f);
    return cJSON_IsNull(n) ? NULL : n;
}

/* ---------------------------------------------------------------- errors */

static const char *json_type_name(const cJSON *n)
{
    switch (n->type & 0xFF) {
    case cJSON_False:
    case cJSON_True:
        return "a boolean";
    case cJSON_NULL:
        return "null";
    case cJSON_Number:
        return "a number";
    case cJSON_String:
        return "a string";
    case cJSON_Array:
        return "an array";
    case cJSON_Object:
        return "an object";
    default:
        return "?";
    }
}

/* Writes the field's pointer ("/customer/id", with ~ and / escaped) into out. */
static void field_path(const struct decoder *d, enum field_id f, char *out, size_t out_len)
{
    const struct json_pointer *p = &d->topic->field[f];
    size_t o = 0;
    if (p->depth <= 0) {
        snprintf(out, out_len, "%s (not mapped)", field_name(f));
        return;
    }
    for (int i = 0; i < p->depth && i < CW_PTR_MAX_DEPTH; i++) {
        if (o + 1 < out_len)
            out[o++] = '/';
        for (const char *t = p->token[i]; t != NULL && *t != '\0'; t++) {
            const char *esc = *t == '~' ? "~0" : *t == '/' ? "~1" : NULL;
            if (esc != NULL && o + 2 < out_len) {
                out[o++] = esc[0];
                out[o++] = esc[1];
            } else if (esc == NULL && o + 1 < out_len) {
                out[o++] = *t;
            }
        }
    }
    out[o] = '\0';
}

/* A short, printable, quoted copy of a string value for messages. */
static void quote_value(const char *s, char out[48])
{
    size_t o = 0;
    out[o++] = '"';
    for (; *s != '\0' && o < 40; s++)
        out[o++] = ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"') ? '?' : *s;
    if (*s != '\0') {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = '\0';
}

static int reject(const struct decoder *d, enum reject_reason r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int reject(const struct decoder *d, enum reject_reason r, const char *fmt, ...)
{
    *d->why = r;
    if (d->err_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->err, d->err_len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int reject_field(const struct decoder *d, enum reject_reason r, enum field_id f,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int reject_field(const struct decoder *d, enum reject_reason r, enum field_id f,
                        const char *fmt, ...)
{
    char path[160], msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    field_path(d, f, path, sizeof path);
    return reject(d, r, "field %s: %s", path, msg);
}

/* ---------------------------------------------------------------- field readers */

/* A string field: *out is NULL when absent (and not required). Returns 0 or -1. */
static int get_string(const struct decoder *d, enum field_id f, bool required, const char **out)
{
    const cJSON *n = field_get(d, f);
    *out = NULL;
    if (n == NULL)
        return required ? reject_field(d, REJ_MISSING_FIELD, f, "missing") : 0;
    if (!cJSON_IsString(n))
        return reject_field(d, REJ_WRONG_TYPE, f, "expected a string, got %s", json_type_name(n));
    if (n->type & CW_NUL_VALUE)
        return reject_field(d, REJ_BAD_VALUE, f, "contains a NUL character (\\u0000)");
    *out = n->valuestring;
    return 0;
}

/* An id: 1..CW_ID_MAX bytes, copied into dst ("" when absent and not required). */
static int get_id(const struct decoder *d, enum field_id f, bool required, char dst[CW_ID_MAX + 1])
{
    const char *s;
    if (get_string(d, f, required, &s) < 0)
        return -1;
    if (s == NULL)
        return 0;
    size_t n = strnlen(s, CW_ID_MAX + 1);
    if (n == 0 || n > CW_ID_MAX)
        return reject_field(d, REJ_BAD_VALUE, f, "%s, expected 1..%d bytes",
                            n == 0 ? "empty" : "too long", CW_ID_MAX);
    memcpy(dst, s, n + 1);
    return 0;
}

/* Copies s into dst[CW_TEXT_MAX], cutting at a UTF-8 character boundary if too long. */
static void copy_text(char dst[CW_TEXT_MAX], const char *s)
{
    size_t n = strnlen(s, CW_TEXT_MAX);
    if (n == CW_TEXT_MAX) {
        n = CW_TEXT_MAX - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--; /* s[n] continues a character: cut before that character starts */
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* An optional text field (truncated, never rejected for length). */
static int get_text(const struct decoder *d, enum field_id f, char dst[CW_TEXT_MAX])
{
    const char *s;
    if (get_string(d, f, false, &s) < 0)
        return -1;
    if (s != NULL)
        copy_text(dst, s);
    return 0;
}

/* An optional name from a table (severity, tier): *out = parse(value), or `absent`. */
static int get_name(const struct decoder *d, enum field_id f, int (*parse)(const char *),
                    int absent, int *out)
{
    const char *s;
    char q[48];
    *out = absent;
    if (get_string(d, f, false, &s) < 0)
        return -1;
    if (s == NULL)
        return 0;
    *out = parse(s);
    if (*out < 0) {
        quote_value(s, q);
        return reject_field(d, REJ_BAD_VALUE, f, "unknown value %s", q);
    }
    return 0;
}

static int get_amount(const struct decoder *d, double *out)
{
    const cJSON *n = field_get(d, F_AMOUNT);
    if (n == NULL)
        return reject_field(d, REJ_MISSING_FIELD, F_AMOUNT, "missing");
    if (!cJSON_IsNumber(n))
        return reject_field(d, REJ_WRONG_TYPE, F_AMOUNT, "expected a number >= 0, got %s",
                            json_type_name(n));
    if (!isfinite(n->valuedouble) || n->valuedouble < 0)
        return reject_field(d, REJ_BAD_VALUE, F_AMOUNT, "expected a number >= 0, got %g",
                            n->valuedouble);
    *out = n->valuedouble + 0.0; /* -0 -> 0 */
    return 0;
}

static int get_satisfaction(const struct decoder *d, int *out)
{
    const cJSON *n = field_get(d, F_SATISFACTION);
    *out = 0;
    if (n == NULL)
        return 0;
    if (!cJSON_IsNumber(n))
        return reject_field(d, REJ_WRONG_TYPE, F_SATISFACTION, "expected an integer 1..5, got %s",
                            json_type_name(n));
    double v = n->valuedouble;
    if (!(v >= 1 && v <= 5) || v != floor(v))
        return reject_field(d, REJ_BAD_VALUE, F_SATISFACTION, "expected an integer 1..5, got %g",
                            v);
    *out = (int)v;
    return 0;
}

static int get_ts(const struct decoder *d, int64_t *out)
{
    const cJSON *n = field_get(d, F_TS);
    if (n == NULL)
        return reject_field(d, REJ_MISSING_FIELD, F_TS, "missing");
    if (cJSON_IsString(n)) {
        char q[48];
        if (!(n->type & CW_NUL_VALUE) &&
            decode_rfc3339(n->valuestring, strlen(n->valuestring), out) == 0)
            return 0;
        quote_value(n->valuestring, q);
        return reject_field(d, REJ_BAD_TIMESTAMP, F_TS,
                            "expected RFC 3339 with offset (1997-01-01T10:00:00Z), got %s", q);
    }
    if (cJSON_IsNumber(n)) {
        double v = n->valuedouble;
        if (v >= -TS_NUM_LIMIT && v <= TS_NUM_LIMIT && v == floor(v)) {
            *out = (int64_t)v;
            return 0;
        }
        return reject_field(d, REJ_BAD_TIMESTAMP, F_TS,
                            "expected integer epoch milliseconds within +-2^53, got %g", v);
    }
    return reject_field(d, REJ_BAD_TIMESTAMP, F_TS,
                        "expected an RFC 3339 string or epoch milliseconds, got %s",
                        json_type_name(n));
}

static int get_type(const struct decoder *d, enum event_type *out)
{
    const char *s;
    char q[48];
    if (d->topic->fixed_type >= 0 && d->topic->fixed_type < EV__COUNT) {
        *out = (enum event_type)d->topic->fixed_type;
        return 0;
    }
    if (get_string(d, F_TYPE, true, &s) < 0)
        return -1;
    int t = event_type_parse(s);
    if (t < 0) {
        quote_value(s, q);
        return reject_field(d, REJ_UNKNOWN_TYPE, F_TYPE, "unknown event type %s", q);
    }
    *out = (enum event_type)t;
    return 0;
}

/* account_manager: absent -> has_account_manager 0; null -> 1 and ""; string -> 1 and text. */
static int get_account_manager(const struct decoder *d, struct event *ev)
{
    const cJSON *n = field_node(d, F_ACCOUNT_MANAGER);
    if (n == NULL)
        return 0;
    if (!cJSON_IsNull(n) && get_text(d, F_ACCOUNT_MANAGER, ev->account_manager) < 0)
        return -1;
    ev->has_account_manager = 1;
    return 0;
}

/* The fields that depend on the type. */
static int decode_type_fields(const struct decoder *d, struct event *ev)
{
    int v;
    switch (ev->type) {
    case EV_ORDER:
    case EV_ORDER_CANCELLED:
        if (get_id(d, F_ORDER_ID, true, ev->ref_id) < 0 || get_amount(d, &ev->amount) < 0)
            return -1;
        return get_text(d, F_CURRENCY, ev->currency);
    case EV_COMPLAINT_OPENED:
        if (get_id(d, F_COMPLAINT_ID, true, ev->ref_id) < 0 ||
            get_name(d, F_SEVERITY, severity_parse, SEV_NONE, &v) < 0)
            return -1;
        ev->severity = (enum severity)v;
        return get_text(d, F_CATEGORY, ev->category);
    case EV_COMPLAINT_RESOLVED:
    case EV_COMPLAINT_REOPENED:
        return get_id(d, F_COMPLAINT_ID, true, ev->ref_id);
    case EV_SUPPORT_OPENED:
        if (get_id(d, F_TICKET_ID, true, ev->ref_id) < 0)
            return -1;
        return get_text(d, F_CHANNEL, ev->channel);
    case EV_SUPPORT_REPLIED:
        return get_id(d, F_TICKET_ID, true, ev->ref_id);
    case EV_SUPPORT_CLOSED:
        if (get_id(d, F_TICKET_ID, true, ev->ref_id) < 0)
            return -1;
        return get_satisfaction(d, &ev->satisfaction);
    case EV_CUSTOMER_UNSUBSCRIBED:
        return 0;
    case EV_CUSTOMER_UPDATED:
        if (get_name(d, F_TIER, tier_parse, -1, &ev->tier) < 0 || get_account_manager(d, ev) < 0)
            return -1;
        return get_text(d, F_NAME, ev->name);
    case EV__COUNT:
        break;
    }
    return -1;
}

static bool only_whitespace(const char *p, const char *end)
{
    for (; p < end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return false;
    return true;
}

int decode_event(const struct topic_config *topic, size_t max_bytes, const char *buf, size_t len,
                 struct event *ev, enum reject_reason *why, char *err, size_t err_len)
{
    enum reject_reason why_local;
    struct decoder d = {topic, NULL, why != NULL ? why : &why_local, err,
                        err != NULL ? err_len : 0};
    const char *end, *parse_end = NULL;
    int rc = -1;

    memset(ev, 0, sizeof *ev);
    ev->tier = -1;
    *d.why = REJ_NONE;
    if (d.err_len > 0)
        err[0] = '\0';

    if (len > max_bytes)
        return reject(&d, REJ_TOO_LARGE, "message of %zu bytes exceeds the limit of %zu", len,
                      max_bytes);
    if (len == 0 || buf == NULL)
        return reject(&d, REJ_INVALID_JSON, "empty message");
    end = buf + len;
    /* cJSON treats a raw NUL as whitespace and cuts strings at it; it is never valid JSON. */
    const char *nul = memchr(buf, '\0', len);
    if (nul != NULL)
        return reject(&d, REJ_INVALID_JSON, "invalid JSON: NUL byte at offset %zu",
                      (size_t)(nul - buf));

    cJSON *root = arena_parse(buf, len, &parse_end);
    if (root == NULL) {
        size_t at = parse_end != NULL && parse_end <= end ? (size_t)(parse_end - buf) : len;
        return reject(&d, REJ_INVALID_JSON, "invalid JSON near offset %zu", at);
    }
    if (parse_end == NULL || parse_end < buf || parse_end > end ||
        !only_whitespace(parse_end, end)) {
        reject(&d, REJ_INVALID_JSON, "invalid JSON: trailing data after the value");
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        reject(&d, REJ_INVALID_JSON, "expected a JSON object, got %s", json_type_name(root));
        goto out;
    }
    if (has_nul_escape(buf, end)) {
        const char *pos = buf;
        mark_nul_strings(root, &pos, end);
    }
    d.root = root;

    /* Type first: a message of another kind is "unknown type", not "missing customer_id". */
    if (get_type(&d, &ev->type) < 0 || get_id(&d, F_CUSTOMER_ID, true, ev->customer_id) < 0 ||
        get_ts(&d, &ev->ts_ms) < 0 || get_id(&d, F_EVENT_ID, false, ev->event_id) < 0 ||
        decode_type_fields(&d, ev) < 0)
        goto out;
    rc = 0;
out:
    arena_release(root);
    return rc;
}
