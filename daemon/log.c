/* log.c — see log.h. */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "json_escape.h"

_Static_assert(LOG_LVL_ERROR == LOG_ERR && LOG_LVL_WARN == LOG_WARNING &&
                   LOG_LVL_INFO == LOG_INFO && LOG_LVL_DEBUG == LOG_DEBUG,
               "log levels are the syslog priorities journald reads from <N>");

#define LOG_MSG_MAX 4096    /* a message is cut after this many bytes */
#define LOG_LINE_MAX 16384  /* a formatted line; room for a message mostly escaped */
#define LOG_FIELDS_MAX 1024 /* the JSON of a line's structured fields */

static atomic_int log_threshold = LOG_LVL_INFO;
static atomic_int log_format = LOG_FMT_TEXT;
static FILE *log_stream; /* NULL: stderr */

bool log_stderr_is_journal(void)
{
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    char extra;
    struct stat st;
    if (e == NULL || sscanf(e, "%llu:%llu%c", &dev, &ino, &extra) != 2)
        return false;
    if (fstat(STDERR_FILENO, &st) < 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(enum log_level level, enum log_format format)
{
    int saved = errno;
    if (format == LOG_FMT_AUTO)
        format = log_stderr_is_journal() ? LOG_FMT_JOURNALD : LOG_FMT_TEXT;
    atomic_store_explicit(&log_threshold, (int)level, memory_order_relaxed);
    atomic_store_explicit(&log_format, (int)format, memory_order_relaxed);
    errno = saved;
}

void log_set_level(enum log_level level)
{
    atomic_store_explicit(&log_threshold, (int)level, memory_order_relaxed);
}

bool log_enabled(enum log_level level)
{
    return (int)level <= atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

enum log_format log_current_format(void)
{
    return (enum log_format)atomic_load_explicit(&log_format, memory_order_relaxed);
}

void log_set_stream(FILE *f)
{
    log_stream = f;
}

int log_level_parse(const char *name, enum log_level *out)
{
    static const struct {
        const char *name;
        enum log_level level;
    } names[] = {{"error", LOG_LVL_ERROR},
                 {"warn", LOG_LVL_WARN},
                 {"warning", LOG_LVL_WARN},
                 {"info", LOG_LVL_INFO},
                 {"debug", LOG_LVL_DEBUG}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    }
    return -1;
}

int log_format_parse(const char *name, enum log_format *out)
{
    static const char *const names[] = {[LOG_FMT_AUTO] = "auto",
                                        [LOG_FMT_TEXT] = "text",
                                        [LOG_FMT_JOURNALD] = "journald",
                                        [LOG_FMT_JSON] = "json"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (enum log_format)i;
            return 0;
        }
    }
    return -1;
}

static const char *log_level_name(enum log_level level)
{
    switch (level) {
    case LOG_LVL_ERROR:
        return "error";
    case LOG_LVL_WARN:
        return "warn";
    case LOG_LVL_INFO:
        return "info";
    case LOG_LVL_DEBUG:
        return "debug";
    }
    return "?";
}

/* ---- formatting ---- */

/* A line being written into out[0..size): len < size always, so there is room for the
 * NUL. Each put stops at `limit` (<= size - 1) and says whether it all fitted. */
struct line {
    char *p;
    size_t size, len;
};

static bool put(struct line *l, size_t limit, const char *s, size_t n)
{
    if (l->len + n > limit)
        return false;
    memcpy(l->p + l->len, s, n);
    l->len += n;
    return true;
}

static bool put_str(struct line *l, size_t limit, const char *s)
{
    return put(l, limit, s, strlen(s));
}

/* s as the contents of a JSON string (json_escape.h); false if it was cut. */
static bool put_json(struct line *l, size_t limit, const char *s)
{
    char esc[JSON_ESC_MAX];
    while (*s != '\0') {
        size_t n = json_escape_next(&s, esc);
        if (!put(l, limit, esc, n))
            return false;
    }
    return true;
}

/* s for a text line (json_escape.h: one-line text), so that a message quoting hostile input
 * stays one printable line. */
static void put_text(struct line *l, size_t limit, const char *s)
{
    char esc[TEXT_ESC_MAX];
    while (*s != '\0') {
        size_t n = text_escape_next(&s, esc);
        if (!put(l, limit, esc, n))
            return;
    }
}

/* ,"key":value for each field, into out (LOG_FIELDS_MAX); fields that do not fit are
 * left out whole. */
static void format_fields(char *out, const struct log_field *f, size_t n)
{
    struct line l = {out, LOG_FIELDS_MAX, 0};
    size_t limit = LOG_FIELDS_MAX - 1;
    for (size_t i = 0; i < n; i++) {
        size_t mark = l.len;
        char num[24];
        bool ok =
            put_str(&l, limit, ",\"") && put_json(&l, limit, f[i].key) && put_str(&l, limit, "\":");
        if (f[i].str != NULL) {
            ok = ok && put_str(&l, limit, "\"") && put_json(&l, limit, f[i].str) &&
                 put_str(&l, limit, "\"");
        } else {
            snprintf(num, sizeof num, "%" PRId64, f[i].num);
            ok = ok && put_str(&l, limit, num);
        }
        if (!ok) {
            l.len = mark;
            break;
        }
    }
    out[l.len] = '\0';
}

size_t log_format_line(char *out, size_t size, enum log_format format, enum log_level level,
                       const struct timespec *when, const struct log_field *fields, size_t n,
                       const char *msg)
{
    struct line l = {out, size, 0};
    char head[128], when_s[32];
    struct tm tm;

    if (size == 0)
        return 0;
    gmtime_r(&when->tv_sec, &tm);
    strftime(when_s, sizeof when_s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (format == LOG_FMT_JSON) {
        char extra[LOG_FIELDS_MAX];
        format_fields(extra, fields, n);
        size_t tail = strlen(extra) + 3; /* the fields, "}\n" and the message's quote */
        snprintf(head, sizeof head, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":\"", when_s,
                 when->tv_nsec / 1000000, log_level_name(level));
        if (size > strlen(head) + tail) {
            put_str(&l, size - 1, head);
            put_json(&l, size - 1 - tail, msg);
            put_str(&l, size - 1, "\"");
            put_str(&l, size - 1, extra);
            put_str(&l, size - 1, "}\n");
        }
    } else {
        if (format == LOG_FMT_JOURNALD)
            snprintf(head, sizeof head, "<%d>", (int)level);
        else
            snprintf(head, sizeof head, "%s.%03ldZ %s: ", when_s, when->tv_nsec / 1000000,
                     log_level_name(level));
        if (size > strlen(head) + 1) {
            put_str(&l, size - 1, head);
            put_text(&l, size - 2, msg);
            put_str(&l, size - 1, "\n");
        }
    }
    out[l.len] = '\0';
    return l.len;
}

static void log_write(enum log_level level, const struct log_field *fields, size_t n,
                      const char *fmt, va_list ap)
{
    char msg[LOG_MSG_MAX], line[LOG_LINE_MAX];
    struct timespec now;
    vsnprintf(msg, sizeof msg, fmt, ap);
    clock_gettime(CLOCK_REALTIME, &now);
    size_t len =
        log_format_line(line, sizeof line, log_current_format(), level, &now, fields, n, msg);
    /* one write per line; a failed write has nowhere to be reported */
    if (fwrite(line, 1, len, log_stream ? log_stream : stderr) != len)
        return;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    log_write(level, NULL, 0, fmt, ap);
    va_end(ap);
    errno = saved;
}

void log_msg_fields(enum log_level level, const struct log_field *fields, size_t n, const char *fmt,
                    ...)
{
    if (!log_enabled(level))
        return;
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    log_write(level, fields, n, fmt, ap);
    va_end(ap);
    errno = saved;
}

/* ---- rate limits ---- */

static int64_t log_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void log_ratelimit_init(struct log_ratelimit *rl, double per_sec, double burst)
{
    rl->tokens = burst;
    rl->per_sec = per_sec;
    rl->burst = burst;
    rl->last_ns = log_now_ns();
    rl->suppressed = 0;
}

/* Adds the tokens earned since the last call, up to the burst. */
static void log_ratelimit_refill(struct log_ratelimit *rl, int64_t now_ns)
{
    if (now_ns <= rl->last_ns)
        return; /* a clock read earlier by another path: nothing earned */
    rl->tokens += (double)(now_ns - rl->last_ns) / 1e9 * rl->per_sec;
    if (rl->tokens > rl->burst)
        rl->tokens = rl->burst;
    rl->last_ns = now_ns;
}

bool log_ratelimit_allow_at(struct log_ratelimit *rl, int64_t now_ns, uint64_t *suppressed)
{
    log_ratelimit_refill(rl, now_ns);
    if (rl->tokens < 1.0) {
        rl->suppressed++;
        return false;
    }
    rl->tokens -= 1.0;
    *suppressed = rl->suppressed;
    rl->suppressed = 0;
    return true;
}

static void log_suppressed(const char *source, enum log_level level, uint64_t n)
{
    struct log_field f[] = {LOG_STR("source", source), LOG_INT("suppressed", n)};
    log_msg_fields(level, f, 2, "%s: %" PRIu64 " similar lines suppressed (rate limit)", source, n);
}

static void log_limited_v(struct log_ratelimit *rl, const char *source, enum log_level level,
                          const struct log_field *fields, size_t n, const char *fmt, va_list ap)
{
    uint64_t suppressed;
    if (!log_enabled(level) || !log_ratelimit_allow_at(rl, log_now_ns(), &suppressed))
        return;
    if (suppressed > 0)
        log_suppressed(source, level, suppressed);
    log_write(level, fields, n, fmt, ap);
}

void log_limited(struct log_ratelimit *rl, const char *source, enum log_level level,
                 const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    log_limited_v(rl, source, level, NULL, 0, fmt, ap);
    va_end(ap);
    errno = saved;
}

void log_limited_fields(struct log_ratelimit *rl, const char *source, enum log_level level,
                        const struct log_field *fields, size_t n, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    log_limited_v(rl, source, level, fields, n, fmt, ap);
    va_end(ap);
    errno = saved;
}

void log_ratelimit_flush(struct log_ratelimit *rl, const char *source, enum log_level level)
{
    if (rl->suppressed == 0 || !log_enabled(level))
        return;
    int saved = errno;
    log_ratelimit_refill(rl, log_now_ns());
    if (rl->tokens >= 1.0) { /* else the summary waits: no line is counted for it */
        uint64_t n = rl->suppressed;
        rl->tokens -= 1.0;
        rl->suppressed = 0;
        log_suppressed(source, level, n);
    }
    errno = saved;
}
