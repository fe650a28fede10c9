/* log.h — leveled logging to stderr, with journald priority prefixes under systemd
 * and a token-bucket rate limit for anything an input can trigger. */
#ifndef CW_LOG_H
#define CW_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_LVL_ERROR = 3, LOG_LVL_WARN = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

/* Sets the threshold and whether to prefix lines with "<N>" (journald priority).
 * When journald is false, lines carry a timestamp and level name instead. */
void log_init(enum log_level level, bool journald);
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);
/* Parses "error", "warn", "info", "debug"; returns -1 on anything else. */
int log_level_parse(const char *name, enum log_level *out);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)                                                                              \
    do {                                                                                           \
        if (log_enabled(LOG_LVL_INFO))                                                             \
            log_msg(LOG_LVL_INFO, __VA_ARGS__);                                                    \
    } while (0)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_enabled(LOG_LVL_DEBUG))                                                            \
            log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                                                   \
    } while (0)

/* A rate limit: at most `burst` lines, refilled at `per_sec` lines per second.
 * log_ratelimit_allow() returns true when a line may be written; the number of
 * lines suppressed since the last allowed one is stored in *suppressed. */
struct log_ratelimit {
    double tokens;
    double per_sec;
    double burst;
    int64_t last_ns;
    uint64_t suppressed;
};
void log_ratelimit_init(struct log_ratelimit *rl, double per_sec, double burst);
bool log_ratelimit_allow(struct log_ratelimit *rl, uint64_t *suppressed);

#endif
