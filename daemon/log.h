/* log.h — leveled logging to stderr in one of three formats (text, journald priority
 * prefixes, JSON lines), and token-bucket rate limits for anything an input or a remote
 * failure can trigger.
 *
 * Thread-safe: librdkafka logs from its own threads. A line is formatted into a buffer
 * and written with one call, so lines never interleave; level and format are atomics, so
 * a reload may change them while other threads log. Every function preserves errno. */
#ifndef CW_LOG_H
#define CW_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* The values are the syslog priorities (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG): the
 * journald format writes them as the "<N>" prefix. */
enum log_level { LOG_LVL_ERROR = 3, LOG_LVL_WARN = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

/* logging.format. AUTO is JOURNALD when stderr is the journal stream (systemd sets
 * $JOURNAL_STREAM to its device:inode), else TEXT. */
enum log_format { LOG_FMT_AUTO, LOG_FMT_TEXT, LOG_FMT_JOURNALD, LOG_FMT_JSON };

/* Sets the threshold and the format (AUTO is resolved here, once). */
void log_init(enum log_level level, enum log_format format);
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);
/* The format lines are written in (never AUTO). */
enum log_format log_current_format(void);
/* Parses "error", "warn" (or "warning"), "info", "debug"; returns -1 on anything else. */
int log_level_parse(const char *name, enum log_level *out);
/* Parses "auto", "text", "journald", "json"; returns -1 on anything else. */
int log_format_parse(const char *name, enum log_format *out);
/* True when stderr is the stream $JOURNAL_STREAM names. */
bool log_stderr_is_journal(void);
/* Where lines go (tests); NULL means stderr, the default. Not owned. */
void log_set_stream(FILE *f);

/* A structured field of a line: written as its own key in the JSON format, left out of
 * the text formats (the message says the same in words). Keys are plain identifiers;
 * string values are escaped like the message. */
struct log_field {
    const char *key;
    const char *str; /* NULL: the field is the integer `num` */
    int64_t num;
};
#define LOG_STR(k, v) ((struct log_field){.key = (k), .str = (v)})
#define LOG_INT(k, v) ((struct log_field){.key = (k), .num = (int64_t)(v)})

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* log_msg with `n` structured fields (e.g. topic, partition, offset of a rejected message). */
void log_msg_fields(enum log_level level, const struct log_field *fields, size_t n, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

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

/* Writes one line, newline included, for `msg` at `when` into out (size > 0, always
 * NUL-terminated) in `format` (not AUTO). A message too long for `out` is cut, never in
 * the middle of a JSON escape or of the closing of the object. Returns the length. Pure:
 * log_msg's formatting, for the tests. */
size_t log_format_line(char *out, size_t size, enum log_format format, enum log_level level,
                       const struct timespec *when, const struct log_field *fields, size_t n,
                       const char *msg);

/* A rate limit: at most `burst` lines at once, refilled at `per_sec` lines per second.
 * One per source (a topic's rejects, a Redis connection, a sink, a Kafka client), so that
 * a flood from one source does not hide the others. Not thread-safe: a limiter is used
 * by one thread (kafka_conf.c locks the ones librdkafka's threads use). */
struct log_ratelimit {
    double tokens;
    double per_sec;
    double burst;
    int64_t last_ns;
    uint64_t suppressed;
};
void log_ratelimit_init(struct log_ratelimit *rl, double per_sec, double burst);
/* Returns true when a line may be written at monotonic time now_ns; the number of lines
 * suppressed since the last allowed one is then stored in *suppressed (and the count
 * restarts). log_limited and log_limited_fields call it (with errno kept); tests too. */
bool log_ratelimit_allow_at(struct log_ratelimit *rl, int64_t now_ns, uint64_t *suppressed);

/* Writes the line if `rl` allows it, preceded, when lines were suppressed since the
 * last one it allowed, by "SOURCE: N similar lines suppressed (rate limit)" (JSON fields
 * "source" and "suppressed"). `source` names what the lines are about, e.g. "topic
 * orders: rejected messages", "redis 10.0.0.5:6379". */
void log_limited(struct log_ratelimit *rl, const char *source, enum log_level level,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void log_limited_fields(struct log_ratelimit *rl, const char *source, enum log_level level,
                        const struct log_field *fields, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Writes the "N similar lines suppressed" summary of `rl` now, if it has suppressed lines
 * and allows a line: for a source that went quiet after a flood, whose next line may
 * never come. Cheap when nothing was suppressed (no clock read). */
void log_ratelimit_flush(struct log_ratelimit *rl, const char *source, enum log_level level);

#endif
