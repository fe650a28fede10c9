/* log.c — see log.h. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level log_threshold = LOG_LVL_INFO;
static bool log_journald;

void log_init(enum log_level level, bool journald)
{
    log_threshold = level;
    log_journald = journald;
}

void log_set_level(enum log_level level)
{
    log_threshold = level;
}

bool log_enabled(enum log_level level)
{
    return level <= log_threshold;
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

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    int saved = errno;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (log_journald) {
        fprintf(stderr, "<%d>%s\n", (int)level, line);
    } else {
        struct timespec ts;
        struct tm tm;
        char when[32];
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(stderr, "%s.%03ldZ %s: %s\n", when, ts.tv_nsec / 1000000, log_level_name(level),
                line);
    }
    errno = saved;
}

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

bool log_ratelimit_allow(struct log_ratelimit *rl, uint64_t *suppressed)
{
    int64_t now = log_now_ns();
    rl->tokens += (double)(now - rl->last_ns) / 1e9 * rl->per_sec;
    if (rl->tokens > rl->burst)
        rl->tokens = rl->burst;
    rl->last_ns = now;
    if (rl->tokens < 1.0) {
        rl->suppressed++;
        return false;
    }
    rl->tokens -= 1.0;
    *suppressed = rl->suppressed;
    rl->suppressed = 0;
    return true;
}
