/* fuzz_config.c — libFuzzer harness for config_load_buffer() (`make fuzz`, docs/fuzzing.md).
 *
 * Each input is a whole configuration file. It is parsed twice: with a roomy error buffer
 * and with a small one. A broken promise calls abort(), which libFuzzer reports as a crash
 * with the input saved; leaks are reported by LeakSanitizer.
 *
 * Invariants checked:
 * - on success: the error buffer is "", at least one topic, every topic named and its
 *   JSON pointers 0..CW_PTR_MAX_DEPTH tokens deep with every token set, key_prefix of at
 *   most CW_KEY_PREFIX_MAX bytes, max_message_bytes > 0; each topic then decodes a fixed
 *   message without trouble (whatever pointers the config wrote), and config_free();
 * - on failure: the error buffer is NUL-terminated inside its length, not empty, ends with
 *   a newline, and every line starts with the name given followed by ':';
 * - the small buffer gets the same verdict and a prefix of the roomy buffer's text (lines
 *   that do not fit are dropped, never cut, unless even the first does not fit).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "decode.h"
#include "event.h"

#define NAME "fuzz.yaml"
#define ERRS_LEN 16384
#define SMALL_LEN 100

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_config: invariant broken: %s\n", what);
        abort();
    }
}

/* An event with nested parts, so that pointers from the config find something. */
static const char sample[] =
    "{\"type\":\"order\",\"customer_id\":\"c-1\",\"ts\":\"2024-01-01T00:00:00Z\","
    "\"order_id\":\"o-1\",\"amount\":5,\"customer\":{\"id\":\"c-2\",\"tier\":\"key\"},"
    "\"lines\":[{\"total\":3}],\"a/b\":{\"c~d\":\"x\"}}";

static void check_config(const struct config *cfg)
{
    char err[256];
    struct event ev;
    enum reject_reason why;

    check(cfg->n_topics >= 1 && cfg->topics != NULL, "at least one topic");
    check(cfg->key_prefix == NULL || strlen(cfg->key_prefix) <= CW_KEY_PREFIX_MAX,
          "key_prefix length");
    check(cfg->max_message_bytes > 0, "max_message_bytes > 0");
    for (size_t i = 0; i < cfg->n_topics; i++) {
        const struct topic_config *t = &cfg->topics[i];
        check(t->name != NULL, "topic named");
        check(t->fixed_type >= -1 && t->fixed_type < EV__COUNT, "fixed type in range");
        for (int f = 0; f < F__COUNT; f++) {
            const struct json_pointer *p = &t->field[f];
            check(p->depth >= 0 && p->depth <= CW_PTR_MAX_DEPTH, "pointer depth");
            for (int k = 0; k < p->depth; k++)
                check(p->token[k] != NULL, "pointer token set");
        }
        check(config_topic(cfg, t->name) != NULL, "config_topic finds the topic");
        int rc = decode_event(t, cfg->max_message_bytes, sample, strlen(sample), &ev, &why, err,
                              sizeof err);
        check(rc == 0 || (why != REJ_NONE && err[0] != '\0'), "decode with config's topic");
    }
}

/* Checks a failure's error text in errs[len]. */
static void check_errors(const char *errs, size_t len)
{
    size_t n = strnlen(errs, len), name_len = strlen(NAME);
    check(n < len, "errors NUL-terminated");
    check(n > 0, "errors not empty");
    check(errs[n - 1] == '\n', "errors end with a newline");
    for (const char *line = errs; line < errs + n;) {
        const char *nl = memchr(line, '\n', (size_t)(errs + n - line));
        check(nl != NULL, "line ends");
        check((size_t)(nl - line) > name_len && memcmp(line, NAME, name_len) == 0 &&
                  line[name_len] == ':',
              "every error line starts with the name and ':'");
        line = nl + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exact-size heap buffers, so that ASan catches a write one byte too far. */
    char *errs = malloc(ERRS_LEN), *small = malloc(SMALL_LEN);
    check(errs != NULL && small != NULL, "malloc");
    memset(errs, 'x', ERRS_LEN);
    memset(small, 'x', SMALL_LEN);

    struct config *cfg = config_load_buffer(NAME, (const char *)data, size, errs, ERRS_LEN);
    if (cfg != NULL) {
        check(errs[0] == '\0', "success leaves no errors");
        check_config(cfg);
    } else {
        check_errors(errs, ERRS_LEN);
    }

    struct config *cfg2 = config_load_buffer(NAME, (const char *)data, size, small, SMALL_LEN);
    check((cfg == NULL) == (cfg2 == NULL), "same verdict whatever the buffer size");
    size_t n = strnlen(small, SMALL_LEN);
    check(n < SMALL_LEN, "small buffer NUL-terminated");
    check(strncmp(small, errs, n) == 0, "small buffer holds a prefix of the errors");
    /* Whole lines only, unless the first line alone did not fit. */
    check(n == 0 || small[n - 1] == '\n' || memchr(small, '\n', n) == NULL,
          "small buffer holds whole lines");
    check(cfg != NULL || n > 0, "small buffer not empty on failure");

    config_free(cfg);
    config_free(cfg2);
    free(errs);
    free(small);
    return 0;
}
