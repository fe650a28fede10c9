/* test_log.c — log.c: the three line formats, escaping of hostile messages, the journal
 * stream detection and the rate limits. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json_escape.h"
#include "log.h"

/* 2024-03-01T12:34:56.789Z */
static const struct timespec logtest_when = {1709296496, 789000000};

static char *logtest_line(enum log_format fmt, enum log_level level, const struct log_field *f,
                          size_t n, const char *msg)
{
    static char out[16384];
    size_t len = log_format_line(out, sizeof out, fmt, level, &logtest_when, f, n, msg);
    cr_assert_eq(len, strlen(out));
    return out;
}

/* Every byte of s is printable ASCII (or a tab, if `tabs`) or part of valid UTF-8, and s
 * ends with its only newline. */
static void logtest_assert_clean_line(const char *s, bool tabs)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    cr_assert(len > 0 && s[len - 1] == '\n', "line does not end with a newline: %s", s);
    for (size_t i = 0; i + 1 < len;) {
        if (p[i] >= 0x80) {
            int n = utf8_seq_len(p + i);
            cr_assert(n > 0, "invalid UTF-8 at byte %zu of %s", i, s);
            i += (size_t)n;
        } else {
            cr_assert((p[i] >= 0x20 && p[i] != 0x7f) || (tabs && p[i] == '\t'),
                      "control byte 0x%02x at %zu of %s", p[i], i, s);
            i++;
        }
    }
}

/* Parses a JSON line and checks ts and level; the caller deletes the object. */
static cJSON *logtest_parse(const char *line, const char *level)
{
    logtest_assert_clean_line(line, false);
    cJSON *o = cJSON_Parse(line);
    cr_assert_not_null(o, "not JSON: %s", line);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "ts")),
                     "2024-03-01T12:34:56.789Z");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "level")), level);
    return o;
}

Test(log_format, text)
{
    cr_assert_str_eq(logtest_line(LOG_FMT_TEXT, LOG_LVL_WARN, NULL, 0, "hello"),
                     "2024-03-01T12:34:56.789Z warn: hello\n");
    cr_assert_str_eq(logtest_line(LOG_FMT_TEXT, LOG_LVL_DEBUG, NULL, 0, ""),
                     "2024-03-01T12:34:56.789Z debug: \n");
}

Test(log_format, journald_priorities)
{
    /* journald reads "<N>" as the syslog priority: 3 err, 4 warning, 6 info, 7 debug */
    cr_assert_str_eq(logtest_line(LOG_FMT_JOURNALD, LOG_LVL_ERROR, NULL, 0, "e"), "<3>e\n");
    cr_assert_str_eq(logtest_line(LOG_FMT_JOURNALD, LOG_LVL_WARN, NULL, 0, "w"), "<4>w\n");
    cr_assert_str_eq(logtest_line(LOG_FMT_JOURNALD, LOG_LVL_INFO, NULL, 0, "i"), "<6>i\n");
    cr_assert_str_eq(logtest_line(LOG_FMT_JOURNALD, LOG_LVL_DEBUG, NULL, 0, "d"), "<7>d\n");
}

Test(log_format, json_fields)
{
    struct log_field f[] = {LOG_STR("topic", "orders"), LOG_INT("partition", 7),
                            LOG_INT("offset", 12345678901LL), LOG_STR("reason", "invalid_json")};
    const char *line = logtest_line(LOG_FMT_JSON, LOG_LVL_WARN, f, 4, "orders/7/12345678901: x");
    cr_assert_str_eq(line, "{\"ts\":\"2024-03-01T12:34:56.789Z\",\"level\":\"warn\",\"msg\":"
                           "\"orders/7/12345678901: x\",\"topic\":\"orders\",\"partition\":7,"
                           "\"offset\":12345678901,\"reason\":\"invalid_json\"}\n");
    cJSON *o = logtest_parse(line, "warn");
    cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "partition")), 7);
    cJSON_Delete(o);
    o = logtest_parse(logtest_line(LOG_FMT_JSON, LOG_LVL_ERROR, NULL, 0, "plain"), "error");
    cr_assert_eq(cJSON_GetArraySize(o), 3, "ts, level and msg only");
    cJSON_Delete(o);
}

/* Messages quote hostile input: control characters, quotes, backslashes, bytes that are
 * not UTF-8 (lone continuation, truncated sequence, overlong form, surrogate, beyond
 * U+10FFFF), next to valid multi-byte characters. */
static const char logtest_hostile[] = "a\"b\\c\x01\n<3>forged\r\t\x7f|\xff|\xc3(|\xc0\xaf|"
                                      "\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82|\xc3\xa9\xe4\xb8\xad"
                                      "\xf0\x9f\x98\x80";

Test(log_format, json_escapes_hostile_messages)
{
    struct log_field f[] = {LOG_STR("customer_id", logtest_hostile)};
    cJSON *o =
        logtest_parse(logtest_line(LOG_FMT_JSON, LOG_LVL_WARN, f, 1, logtest_hostile), "warn");
    /* what a JSON reader gets back: every invalid byte is one U+FFFD (EF BF BD) */
    static const char expect[] = "a\"b\\c\x01\n<3>forged\r\t\x7f|\xef\xbf\xbd|\xef\xbf\xbd(|"
                                 "\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
                                 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
                                 "\xef\xbf\xbd\xef\xbf\xbd|\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80";
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "msg")), expect);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "customer_id")),
                     expect);
    cJSON_Delete(o);
}

Test(log_format, text_keeps_hostile_messages_on_one_line)
{
    const char *line = logtest_line(LOG_FMT_JOURNALD, LOG_LVL_WARN, NULL, 0, logtest_hostile);
    logtest_assert_clean_line(line, true);
    cr_assert_str_eq(line, "<4>a\"b\\c\\x01\\x0a<3>forged\\x0d\t\\x7f|\\xff|\\xc3(|\\xc0\\xaf|"
                           "\\xed\\xa0\\x80|\\xf4\\x90\\x80\\x80|\\xe2\\x82|\xc3\xa9\xe4\xb8\xad"
                           "\xf0\x9f\x98\x80\n");
}

Test(log_format, long_messages_are_cut_into_valid_lines)
{
    char msg[3000];
    memset(msg, '\x01', sizeof msg - 1); /* 6 bytes each once escaped */
    msg[sizeof msg - 1] = '\0';
    struct log_field f[] = {LOG_STR("topic", "orders"), LOG_INT("offset", 42)};
    for (size_t size = 64; size <= 20000; size = size * 3 / 2) {
        char *out = malloc(size);
        cr_assert_not_null(out);
        size_t len =
            log_format_line(out, size, LOG_FMT_JSON, LOG_LVL_INFO, &logtest_when, f, 2, msg);
        cr_assert(len < size);
        if (len > 0) { /* too small for even the fields: nothing at all */
            cJSON *o = logtest_parse(out, "info");
            cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "offset")), 42,
                         "size %zu", size);
            cJSON_Delete(o);
        } else {
            cr_assert(size < 128, "size %zu gave no line", size);
        }
        len = log_format_line(out, size, LOG_FMT_TEXT, LOG_LVL_INFO, &logtest_when, NULL, 0, msg);
        cr_assert(len < size && len > 0, "size %zu", size);
        logtest_assert_clean_line(out, false);
        free(out);
    }
}

Test(log_format, parse_names)
{
    enum log_format f;
    enum log_level l;
    cr_assert_eq(log_format_parse("auto", &f), 0);
    cr_assert_eq(f, LOG_FMT_AUTO);
    cr_assert_eq(log_format_parse("journald", &f), 0);
    cr_assert_eq(f, LOG_FMT_JOURNALD);
    cr_assert_eq(log_format_parse("json", &f), 0);
    cr_assert_eq(f, LOG_FMT_JSON);
    cr_assert_eq(log_format_parse("text", &f), 0);
    cr_assert_eq(f, LOG_FMT_TEXT);
    cr_assert_eq(log_format_parse("JSON", &f), -1);
    cr_assert_eq(log_format_parse("", &f), -1);
    cr_assert_eq(log_level_parse("warning", &l), 0);
    cr_assert_eq(l, LOG_LVL_WARN);
    cr_assert_eq(log_level_parse("notice", &l), -1);
}

Test(log_format, journal_stream_detection)
{
    struct stat st;
    char env[64];
    cr_assert_eq(fstat(STDERR_FILENO, &st), 0);
    snprintf(env, sizeof env, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    cr_assert_eq(setenv("JOURNAL_STREAM", env, 1), 0);
    cr_assert(log_stderr_is_journal());
    log_init(LOG_LVL_INFO, LOG_FMT_AUTO);
    cr_assert_eq(log_current_format(), LOG_FMT_JOURNALD);

    snprintf(env, sizeof env, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino + 1);
    setenv("JOURNAL_STREAM", env, 1); /* stderr redirected elsewhere by the service */
    cr_assert_not(log_stderr_is_journal());
    log_init(LOG_LVL_INFO, LOG_FMT_AUTO);
    cr_assert_eq(log_current_format(), LOG_FMT_TEXT);
    setenv("JOURNAL_STREAM", "garbage", 1);
    cr_assert_not(log_stderr_is_journal());
    unsetenv("JOURNAL_STREAM");
    cr_assert_not(log_stderr_is_journal());
    log_init(LOG_LVL_INFO, LOG_FMT_JSON); /* explicit formats are kept as they are */
    cr_assert_eq(log_current_format(), LOG_FMT_JSON);
}

Test(log_ratelimit, token_bucket)
{
    struct log_ratelimit rl;
    uint64_t sup = 99;
    const int64_t s = 1000000000;
    log_ratelimit_init(&rl, 1, 3);
    rl.last_ns = 0;
    for (int i = 0; i < 3; i++) {
        cr_assert(log_ratelimit_allow_at(&rl, 0, &sup), "burst line %d", i);
        cr_assert_eq(sup, 0);
    }
    for (int i = 0; i < 7; i++)
        cr_assert_not(log_ratelimit_allow_at(&rl, s / 2, &sup), "line %d over the burst", i);
    /* 2 s later: 2 tokens; the first allowed line reports the 7 suppressed */
    cr_assert(log_ratelimit_allow_at(&rl, 2 * s, &sup));
    cr_assert_eq(sup, 7);
    cr_assert(log_ratelimit_allow_at(&rl, 2 * s, &sup));
    cr_assert_eq(sup, 0);
    cr_assert_not(log_ratelimit_allow_at(&rl, 2 * s, &sup));
    /* a long pause refills to the burst, not beyond */
    for (int i = 0; i < 3; i++)
        cr_assert(log_ratelimit_allow_at(&rl, 1000 * s, &sup));
    cr_assert_eq(sup, 0, "the suppressed line was reported by the first of these");
    cr_assert_not(log_ratelimit_allow_at(&rl, 1000 * s, &sup));
    /* a clock that goes back does not add tokens */
    cr_assert_not(log_ratelimit_allow_at(&rl, 10 * s, &sup));
}

/* Reads back what the log wrote to f, one line per element of out (at most max). */
static size_t logtest_read_lines(FILE *f, char out[][512], size_t max)
{
    size_t n = 0;
    fflush(f);
    rewind(f);
    while (n < max && fgets(out[n], 512, f) != NULL)
        n++;
    return n;
}

Test(log_ratelimit, limited_lines_and_summaries)
{
    FILE *f = tmpfile();
    char lines[16][512];
    struct log_ratelimit rl;
    cr_assert_not_null(f);
    log_set_stream(f);
    log_init(LOG_LVL_INFO, LOG_FMT_JSON);
    log_ratelimit_init(&rl, 1e-9, 2); /* no refill while the test runs */
    struct log_field fld[] = {LOG_STR("topic", "orders")};
    for (int i = 0; i < 5; i++)
        log_limited_fields(&rl, "topic orders: rejected messages", LOG_LVL_WARN, fld, 1,
                           "reject %d", i);
    log_limited(&rl, "topic orders: rejected messages", LOG_LVL_DEBUG, "below the level");
    cr_assert_eq(rl.suppressed, 3, "the debug line is not counted: it is not written anyway");
    rl.tokens = 1; /* as if a second had passed */
    log_limited(&rl, "topic orders: rejected messages", LOG_LVL_WARN, "reject %d", 5);
    rl.tokens = 0;
    log_limited(&rl, "topic orders: rejected messages", LOG_LVL_WARN, "reject %d", 6);
    log_ratelimit_flush(&rl, "topic orders: rejected messages", LOG_LVL_WARN);
    cr_assert_eq(rl.suppressed, 1, "no token: the summary waits");
    rl.tokens = 1;
    log_ratelimit_flush(&rl, "topic orders: rejected messages", LOG_LVL_WARN);
    log_ratelimit_flush(&rl, "topic orders: rejected messages", LOG_LVL_WARN);

    size_t n = logtest_read_lines(f, lines, 16);
    log_set_stream(NULL);
    fclose(f);
    cr_assert_eq(n, 5);
    static const char *const msgs[] = {
        "reject 0", "reject 1",
        "topic orders: rejected messages: 3 similar lines suppressed (rate limit)", "reject 5",
        "topic orders: rejected messages: 1 similar lines suppressed (rate limit)"};
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_Parse(lines[i]);
        cr_assert_not_null(o, "%s", lines[i]);
        cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "msg")), msgs[i]);
        if (i == 0)
            cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "topic")),
                             "orders");
        if (i == 2) {
            cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "suppressed")),
                         3);
            cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "source")),
                             "topic orders: rejected messages");
        }
        cJSON_Delete(o);
    }
}

Test(log_ratelimit, level_threshold_and_errno)
{
    FILE *f = tmpfile();
    char lines[4][512];
    cr_assert_not_null(f);
    log_set_stream(f);
    log_init(LOG_LVL_WARN, LOG_FMT_TEXT);
    errno = 42;
    log_info("not written");
    log_debug("not written");
    log_error("written %d", 1);
    cr_assert_eq(errno, 42);
    log_set_level(LOG_LVL_DEBUG);
    log_debug("written %d", 2);
    size_t n = logtest_read_lines(f, lines, 4);
    log_set_stream(NULL);
    fclose(f);
    cr_assert_eq(n, 2);
    cr_assert(strstr(lines[0], "Z error: written 1\n") != NULL, "%s", lines[0]);
    cr_assert(strstr(lines[1], "Z debug: written 2\n") != NULL, "%s", lines[1]);
}

Test(text_escape, cuts_whole_characters_only)
{
    char out[8];
    /* "a\n" -> "a\x0a" (5 bytes); the next form does not fit in 8 with the NUL */
    cr_assert_eq(text_escape(out, sizeof out, "a\n\x01z"), 5);
    cr_assert_str_eq(out, "a\\x0a");
    cr_assert_eq(text_escape(out, sizeof out, "\t\xc3\xa9\xff"), 7);
    cr_assert_str_eq(out, "\t\xc3\xa9\\xff");
    cr_assert_eq(text_escape(out, 7, "\t\xc3\xa9\xff"), 3);
    cr_assert_str_eq(out, "\t\xc3\xa9");
    cr_assert_eq(text_escape(out, 1, "abc"), 0);
    cr_assert_str_empty(out);
}
