/* test_config.c — config_load: values, defaults, and golden error files.
 * Runs with the working directory tests/. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

#define DAY_MS (86400000LL)

/* Reads a whole file; the caller frees. NULL if it cannot. */
static char *cfgtest_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;
    long size;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)size + 1);
        if (buf != NULL) {
            n = fread(buf, 1, (size_t)size, f);
            buf[n] = '\0';
        }
    }
    fclose(f);
    if (len != NULL)
        *len = n;
    return buf;
}

/* Returns a new string with every `from` in `s` replaced by `to`; the caller frees. */
static char *cfgtest_replace(const char *s, const char *from, const char *to)
{
    size_t lf = strlen(from), lt = strlen(to), count = 0;
    for (const char *c = strstr(s, from); c != NULL; c = strstr(c + lf, from))
        count++;
    char *out = malloc(strlen(s) + count * lt + 1), *o = out;
    cr_assert_not_null(out);
    for (const char *c; (c = strstr(s, from)) != NULL; s = c + lf) {
        memcpy(o, s, (size_t)(c - s));
        o += c - s;
        memcpy(o, to, lt);
        o += lt;
    }
    strcpy(o, s);
    return out;
}

static struct config *cfgtest_load_ok(const char *path)
{
    char errs[4096] = "";
    struct config *cfg = config_load(path, errs, sizeof errs);
    cr_assert_not_null(cfg, "%s did not load:\n%s", path, errs);
    cr_assert_str_empty(errs);
    return cfg;
}

static void cfgtest_assert_pointer(const struct json_pointer *p, int depth, const char *t0,
                                   const char *t1)
{
    cr_assert_eq(p->depth, depth);
    cr_assert_str_eq(p->token[0], t0);
    if (depth > 1)
        cr_assert_str_eq(p->token[1], t1);
    for (int i = depth; i < CW_PTR_MAX_DEPTH; i++)
        cr_assert_null(p->token[i]);
}

Test(config, full_file_values)
{
    struct config *cfg = cfgtest_load_ok("config/good-full.yaml");

    cr_assert_str_eq(cfg->path, "config/good-full.yaml");
    cr_assert_str_eq(cfg->brokers, "b1:9092,b2:9092");
    cr_assert_str_eq(cfg->group_id, "cw-test");
    cr_assert_str_eq(cfg->alerts_topic, "alerts");
    cr_assert_str_eq(cfg->dead_letter_topic, "dlq");
    cr_assert_eq(cfg->poll_batch_max, 250);
    cr_assert_eq(cfg->poll_batch_ms, 2000);
    cr_assert_eq(cfg->n_kafka_props, 2);
    cr_assert_str_eq(cfg->kafka_props[0].key, "security.protocol");
    cr_assert_str_eq(cfg->kafka_props[0].value, "ssl");
    cr_assert_str_eq(cfg->kafka_props[1].key, "fetch.max.bytes");
    cr_assert_str_eq(cfg->kafka_props[1].value, "1048576");

    cr_assert_eq(cfg->n_topics, 2);
    const struct topic_config *orders = &cfg->topics[0], *events = &cfg->topics[1];
    cr_assert_str_eq(orders->name, "orders");
    cr_assert_eq(orders->fixed_type, EV_ORDER);
    cfgtest_assert_pointer(&orders->field[F_CUSTOMER_ID], 2, "customer", "id");
    cfgtest_assert_pointer(&orders->field[F_AMOUNT], 2, "totals", "gross");
    cfgtest_assert_pointer(&orders->field[F_ORDER_ID], 2, "a/b", "c~d"); /* ~1 and ~0 */
    cfgtest_assert_pointer(&orders->field[F_TS], 1, "ts", NULL);         /* default */
    cr_assert_str_eq(events->name, "events");
    cr_assert_eq(events->fixed_type, -1);
    cfgtest_assert_pointer(&events->field[F_CUSTOMER_ID], 1, "customer_id", NULL);
    cr_assert_eq(config_topic(cfg, "events"), events);
    cr_assert_eq(config_topic(cfg, "orders"), orders);
    cr_assert_null(config_topic(cfg, "support"));

    cr_assert_str_eq(cfg->redis_host, "redis.local");
    cr_assert_eq(cfg->redis_port, 6380);
    cr_assert_str_eq(cfg->redis_unix, "/run/redis.sock");
    cr_assert_str_eq(cfg->redis_user, "cw");
    cr_assert_str_eq(cfg->redis_password, "s3cret");
    cr_assert_eq(cfg->redis_db, 3);
    cr_assert_eq(cfg->redis_timeout_ms, 500);
    cr_assert_str_eq(cfg->key_prefix, "churn");

    cr_assert_eq(cfg->clock, CLOCK_EVENT);
    cr_assert_eq(cfg->lateness_ms, 5 * 60000);
    cr_assert_eq(cfg->max_message_bytes, 4096);
    cr_assert_eq(cfg->timer_interval_ms, 250);
    cr_assert_float_eq(cfg->watch_score, 10.5, 1e-9);
    cr_assert_float_eq(cfg->alarm_score, 40, 1e-9);
    cr_assert_float_eq(cfg->watch_clear_score, 5, 1e-9);
    cr_assert_float_eq(cfg->alarm_clear_score, 30.5, 1e-9);

    /* order_gap: tiers come first in the file but start from the rule's own values. */
    const struct rule_config *og = &cfg->rules[RULE_ORDER_GAP];
    const struct rule_params *std = &og->tier[TIER_STANDARD], *key = &og->tier[TIER_KEY],
                             *strat = &og->tier[TIER_STRATEGIC];
    cr_assert_float_eq(std->factor, 4, 1e-9);
    cr_assert_eq(std->min_orders, 5);
    cr_assert_float_eq(std->weight, 35, 1e-9);
    cr_assert_eq(std->repeat_interval_ms, 0);
    cr_assert(std->enabled);
    cr_assert_float_eq(key->factor, 2, 1e-9);
    cr_assert_eq(key->min_orders, 5);
    cr_assert_float_eq(key->weight, 35, 1e-9);
    cr_assert(key->enabled);
    cr_assert_float_eq(strat->factor, 1.5, 1e-9);
    cr_assert_float_eq(strat->weight, 60, 1e-9);
    cr_assert_not(strat->enabled);
    cr_assert_eq(strat->min_orders, 5);
    cr_assert_str_eq(og->summary, "Orders have slowed down");
    cr_assert_str_eq(og->action, "Call the buyer");

    const struct rule_config *sd = &cfg->rules[RULE_SPEND_DROP];
    cr_assert_eq(sd->tier[TIER_KEY].duration_ms, 56 * DAY_MS);
    cr_assert_float_eq(sd->tier[TIER_KEY].drop, 0.3, 1e-9);
    cr_assert_null(sd->summary);
    cr_assert_eq(sd->tier[TIER_STANDARD].pending_ms, 3600000LL);
    cr_assert_eq(sd->tier[TIER_STRATEGIC].pending_ms, 3600000LL);
    cr_assert_eq(sd->tier[TIER_KEY].pending_ms, 2 * DAY_MS, "tier override of pending");
    cr_assert_not_null(sd->action, "built-in action");
    cr_assert_null(cfg->rules[RULE_UNSUBSCRIBED].action, "action: \"\" removes it");
    const struct rule_params *ls = &cfg->rules[RULE_LOW_SATISFACTION].tier[TIER_STANDARD];
    cr_assert_eq(ls->at_most, 1);
    cr_assert_eq(ls->duration_ms, 12 * 3600000LL);
    const struct rule_config *cu = &cfg->rules[RULE_COMPLAINT_UNRESOLVED];
    cr_assert_eq(cu->tier[TIER_STANDARD].duration_ms, 3 * DAY_MS);
    cr_assert_eq(cu->tier[TIER_KEY].duration_ms, 3 * DAY_MS);
    cr_assert_eq(cu->tier[TIER_STRATEGIC].duration_ms, 1 * DAY_MS);
    cr_assert_eq(cu->tier[TIER_STRATEGIC].repeat_interval_ms, 1 * DAY_MS);
    cr_assert_eq(cu->tier[TIER_KEY].repeat_interval_ms, 7 * DAY_MS);
    for (int t = 0; t < TIER__COUNT; t++)
        cr_assert_not(cfg->rules[RULE_UNSUBSCRIBED].tier[t].enabled);

    cr_assert_not(cfg->sink_log);
    cr_assert_eq(cfg->log_level, LOG_LVL_DEBUG);
    cr_assert_eq(cfg->log_format, LOG_FMT_JSON);
    cr_assert_str_eq(cfg->metrics_listen, "[::1]:9100");
    config_free(cfg);
}

Test(config, defaults)
{
    struct config *cfg = cfgtest_load_ok("config/good-minimal.yaml");
    static const struct {
        enum rule_id rule;
        double weight;
        int64_t duration_ms;
    } rules[] = {
        {RULE_ORDER_GAP, 30, 120 * DAY_MS}, /* min_gap */
        {RULE_FIRST_REPEAT_OVERDUE, 20, 90 * DAY_MS},
        {RULE_SPEND_DROP, 25, 90 * DAY_MS},
        {RULE_COMPLAINT_UNRESOLVED, 30, 7 * DAY_MS},
        {RULE_OPEN_COMPLAINTS, 20, 0},
        {RULE_COMPLAINT_REOPENED, 25, 0},
        {RULE_SUPPORT_UNANSWERED, 20, 2 * DAY_MS},
        {RULE_LOW_SATISFACTION, 15, 30 * DAY_MS},
        {RULE_UNSUBSCRIBED, 20, 0},
        {RULE_MANAGER_CHANGED, 15, 60 * DAY_MS},
    };

    cr_assert_str_eq(cfg->brokers, "localhost:9092");
    cr_assert_str_eq(cfg->group_id, "churnwatch");
    cr_assert_null(cfg->alerts_topic);
    cr_assert_null(cfg->dead_letter_topic);
    cr_assert_eq(cfg->n_kafka_props, 0);
    cr_assert_eq(cfg->poll_batch_max, 5000);
    cr_assert_eq(cfg->poll_batch_ms, 50);
    cr_assert_eq(cfg->n_topics, 1);
    cr_assert_str_eq(cfg->topics[0].name, "orders");
    cr_assert_eq(cfg->topics[0].fixed_type, -1);
    for (int f = 0; f < F__COUNT; f++)
        cfgtest_assert_pointer(&cfg->topics[0].field[f], 1, field_name((enum field_id)f), NULL);

    cr_assert_str_eq(cfg->redis_host, "127.0.0.1");
    cr_assert_eq(cfg->redis_port, 6379);
    cr_assert_null(cfg->redis_unix);
    cr_assert_null(cfg->redis_user);
    cr_assert_null(cfg->redis_password);
    cr_assert_eq(cfg->redis_db, 0);
    cr_assert_eq(cfg->redis_timeout_ms, 2000);
    cr_assert_str_eq(cfg->key_prefix, "cw");

    cr_assert_eq(cfg->clock, CLOCK_WALL);
    cr_assert_eq(cfg->lateness_ms, 0);
    cr_assert_eq(cfg->max_message_bytes, 65536);
    cr_assert_eq(cfg->timer_interval_ms, 1000);
    cr_assert_float_eq(cfg->watch_score, 20, 1e-9);
    cr_assert_float_eq(cfg->alarm_score, 50, 1e-9);
    cr_assert_float_eq(cfg->watch_clear_score, 20, 1e-9, "clear defaults to raise");
    cr_assert_float_eq(cfg->alarm_clear_score, 50, 1e-9);
    cr_assert(cfg->sink_log);
    cr_assert_eq(cfg->log_level, LOG_LVL_INFO);
    cr_assert_eq(cfg->log_format, LOG_FMT_AUTO);
    cr_assert_str_eq(cfg->metrics_listen, "127.0.0.1:9465");

    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const struct rule_config *rc = &cfg->rules[rules[i].rule];
        const struct rule_params *rp = &rc->tier[TIER_STANDARD];
        cr_assert(rp->enabled, "%s", rule_name(rules[i].rule));
        cr_assert_float_eq(rp->weight, rules[i].weight, 1e-9, "%s", rule_name(rules[i].rule));
        cr_assert_eq(rp->duration_ms, rules[i].duration_ms, "%s", rule_name(rules[i].rule));
        cr_assert_eq(rp->repeat_interval_ms, 7 * DAY_MS);
        cr_assert_null(rc->summary);
        cr_assert_not_null(rc->action, "%s has a built-in action", rule_name(rules[i].rule));
        cr_assert_gt(strlen(rc->action), 10);
        cr_assert_eq(rp->pending_ms, 0);
        for (int t = 1; t < TIER__COUNT; t++)
            cr_assert_eq(memcmp(&rc->tier[t], rp, sizeof *rp), 0, "%s tier %d",
                         rule_name(rules[i].rule), t);
    }
    const struct rule_params *og = &cfg->rules[RULE_ORDER_GAP].tier[TIER_STANDARD];
    /* defaults chosen by the CDNOW backtest (docs/backtest-cdnow.md) */
    cr_assert_float_eq(og->factor, 2, 1e-9);
    cr_assert_eq(og->min_orders, 2);
    cr_assert_eq(og->duration_ms, 120 * DAY_MS, "min_gap");
    cr_assert_float_eq(cfg->rules[RULE_SPEND_DROP].tier[0].drop, 0.5, 1e-9);
    cr_assert_eq(cfg->rules[RULE_OPEN_COMPLAINTS].tier[0].at_least, 3);
    cr_assert_eq(cfg->rules[RULE_LOW_SATISFACTION].tier[0].at_most, 2);
    config_free(cfg);
}

Test(config, example_config_loads)
{
    struct config *cfg = cfgtest_load_ok("../config/churnwatch.yaml");
    cr_assert_eq(cfg->n_topics, 4);
    cr_assert_not_null(config_topic(cfg, "orders"));
    cr_assert_not_null(config_topic(cfg, "complaints"));
    cr_assert_not_null(config_topic(cfg, "support"));
    cr_assert_not_null(config_topic(cfg, "customers"));
    for (size_t i = 0; i < cfg->n_topics; i++)
        cr_assert_eq(cfg->topics[i].fixed_type, -1);
    cr_assert_str_eq(cfg->alerts_topic, "churn-alerts");
    cr_assert_str_eq(cfg->dead_letter_topic, "churn-dlq");
    config_free(cfg);
}

Test(config, demo_config_after_substitution)
{
    char errs[4096] = "";
    size_t len;
    char *raw = cfgtest_slurp("../config/demo.yaml", &len);
    cr_assert_not_null(raw);

    /* As it is, the placeholders do not parse. */
    cr_assert_null(config_load_buffer("demo.yaml", raw, len, errs, sizeof errs));
    cr_assert_str_not_empty(errs);

    char *a = cfgtest_replace(raw, "@BROKERS@", "127.0.0.1:19092");
    char *b = cfgtest_replace(a, "@REDIS_PORT@", "16379");
    struct config *cfg = config_load_buffer("demo.yaml", b, strlen(b), errs, sizeof errs);
    cr_assert_not_null(cfg, "%s", errs);
    cr_assert_str_eq(cfg->path, "demo.yaml");
    cr_assert_str_eq(cfg->brokers, "127.0.0.1:19092");
    cr_assert_str_eq(cfg->redis_host, "127.0.0.1");
    cr_assert_eq(cfg->redis_port, 16379);
    cr_assert_str_eq(cfg->alerts_topic, "churn-alerts");
    cr_assert_eq(cfg->clock, CLOCK_EVENT);
    cr_assert_eq(cfg->n_topics, 4);
    cr_assert_not_null(config_topic(cfg, "customers"));
    const struct rule_params *og = &cfg->rules[RULE_ORDER_GAP].tier[TIER_KEY];
    cr_assert_float_eq(og->factor, 1.5, 1e-9);
    cr_assert_float_eq(cfg->rules[RULE_ORDER_GAP].tier[TIER_STANDARD].factor, 2, 1e-9);
    cr_assert(cfg->tiers_derive);
    cr_assert_eq(og->min_orders, 2);
    cr_assert_eq(og->repeat_interval_ms, 0);
    const struct rule_params *cu = &cfg->rules[RULE_COMPLAINT_UNRESOLVED].tier[TIER_STRATEGIC];
    cr_assert_eq(cu->duration_ms, 14 * DAY_MS);
    cr_assert_eq(cu->repeat_interval_ms, 0);
    config_free(cfg);
    free(b);
    free(a);
    free(raw);
}

/* metrics.listen: "off", null and "" turn the endpoint off (NULL); a port may be 0. */
Test(config, metrics_listen_off_and_port_zero)
{
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"metrics: {listen: \"off\"}", NULL},
        {"metrics: {listen: off}", NULL},
        {"metrics: {listen: ~}", NULL},
        {"metrics: {listen: }", NULL},
        {"metrics: {listen: \"\"}", NULL},
        {"metrics:", "127.0.0.1:9465"},
        {"metrics: {listen: \"127.0.0.1:0\"}", "127.0.0.1:0"},
        {"metrics: {listen: \"localhost:9100\"}", "localhost:9100"},
        {"metrics: {listen: \"[::]:9465\"}", "[::]:9465"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[256], errs[1024] = "";
        snprintf(buf, sizeof buf, "kafka: {topics: [{name: orders}]}\n%s\n", cases[i].yaml);
        struct config *cfg = config_load_buffer("m.yaml", buf, strlen(buf), errs, sizeof errs);
        cr_assert_not_null(cfg, "%s: %s", cases[i].yaml, errs);
        if (cases[i].want == NULL)
            cr_assert_null(cfg->metrics_listen, "%s", cases[i].yaml);
        else
            cr_assert_str_eq(cfg->metrics_listen, cases[i].want, "%s", cases[i].yaml);
        config_free(cfg);
    }
}

/* ---- golden files: tests/config/bad-NAME.yaml must fail with bad-NAME.err exactly ---- */

/* Criterion runs each case in a new process: parameters hold no pointers. */
struct cfgtest_golden {
    char name[64];
};

static const char *const cfgtest_golden_names[] = {
    "bad-alias",       "bad-duplicates",   "bad-duration",     "bad-empty",     "bad-empty-topics",
    "bad-levels",      "bad-levels-equal", "bad-many",         "bad-multidoc",  "bad-no-kafka",
    "bad-no-topics",   "bad-pointer",      "bad-range",        "bad-rule-key",  "bad-section-type",
    "bad-strings",     "bad-syntax",       "bad-syntax-quote", "bad-top-level", "bad-topics",
    "bad-unknown-key", "bad-unknown-rule", "bad-unknown-tier", "bad-utf8",      "bad-wrong-type",
    "bad-levels-clear", "bad-new-keys", "bad-sinks", "bad-metrics",
};
#define CFGTEST_N_GOLDEN (sizeof cfgtest_golden_names / sizeof cfgtest_golden_names[0])

ParameterizedTestParameters(config, golden)
{
    static struct cfgtest_golden cases[CFGTEST_N_GOLDEN];
    for (size_t i = 0; i < CFGTEST_N_GOLDEN; i++)
        snprintf(cases[i].name, sizeof cases[i].name, "%s", cfgtest_golden_names[i]);
    return cr_make_param_array(struct cfgtest_golden, cases, CFGTEST_N_GOLDEN);
}

ParameterizedTest(struct cfgtest_golden *g, config, golden)
{
    char yaml[256], err[256], errs[8192];
    snprintf(yaml, sizeof yaml, "config/%s.yaml", g->name);
    snprintf(err, sizeof err, "config/%s.err", g->name);
    char *want = cfgtest_slurp(err, NULL);
    cr_assert_not_null(want, "missing %s", err);

    memset(errs, 'x', sizeof errs);
    struct config *cfg = config_load(yaml, errs, sizeof errs);
    cr_assert_null(cfg, "%s loaded", yaml);
    cr_assert_str_eq(errs, want, "%s: got\n%s", yaml, errs);
    free(want);
}

/* Every bad-*.yaml is in the table above and has its .err file. */
Test(config, golden_table_is_complete)
{
    glob_t g;
    cr_assert_eq(glob("config/bad-*.yaml", 0, NULL, &g), 0);
    cr_assert_eq(g.gl_pathc, CFGTEST_N_GOLDEN);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char name[256];
        const char *base = g.gl_pathv[i] + strlen("config/");
        size_t n = strlen(base) - strlen(".yaml");
        bool found = false;
        snprintf(name, sizeof name, "%.*s", (int)n, base);
        for (size_t j = 0; j < CFGTEST_N_GOLDEN; j++)
            found = found || strcmp(cfgtest_golden_names[j], name) == 0;
        cr_assert(found, "%s is not in cfgtest_golden_names", g.gl_pathv[i]);
    }
    globfree(&g);
}

/* ---- durations, through a whole config ---- */

struct cfgtest_duration {
    char text[32];
    long long ms; /* -1: must be rejected */
};

ParameterizedTestParameters(config, durations)
{
    static struct cfgtest_duration cases[] = {
        {"0", 0},
        {"0s", 0},
        {"500ms", 500},
        {"30s", 30000},
        {"5m", 300000},
        {"2h", 7200000},
        {"7d", 7 * DAY_MS},
        {"2w", 14 * DAY_MS},
        {"106751991167d", 106751991167LL * DAY_MS},
        {"5", -1},
        {"1.5s", -1},
        {"-1s", -1},
        {"s", -1},
        {"10 s", -1},
        {"10S", -1},
        {"1y", -1},
        {"106751991168d", -1},
        {"99999999999999999999ms", -1},
    };
    return cr_make_param_array(struct cfgtest_duration, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct cfgtest_duration *d, config, durations)
{
    char yaml[256], errs[1024], want[512];
    snprintf(yaml, sizeof yaml, "kafka: {topics: [{name: t}]}\nengine:\n  lateness: \"%s\"\n",
             d->text);
    struct config *cfg = config_load_buffer("d.yaml", yaml, strlen(yaml), errs, sizeof errs);
    if (d->ms >= 0) {
        cr_assert_not_null(cfg, "%s: %s", d->text, errs);
        cr_assert_eq(cfg->lateness_ms, d->ms, "%s", d->text);
        config_free(cfg);
    } else {
        cr_assert_null(cfg, "%s accepted", d->text);
        snprintf(want, sizeof want,
                 "d.yaml:3:13: engine.lateness: expected a duration (a whole number with unit ms, "
                 "s, m, h, d or w, e.g. 30s), got \"%s\"\n",
                 d->text);
        cr_assert_str_eq(errs, want);
    }
}

Test(config, booleans)
{
    static const char *const yes[] = {"true", "yes", "on", "True"}, *const no[] = {"false", "no",
                                                                                   "off", "OFF"};
    char yaml[128], errs[512];
    for (int i = 0; i < 8; i++) {
        const char *word = i < 4 ? yes[i] : no[i - 4];
        snprintf(yaml, sizeof yaml, "kafka: {topics: [{name: t}]}\nsinks: {log: %s}\n", word);
        struct config *cfg = config_load_buffer("b.yaml", yaml, strlen(yaml), errs, sizeof errs);
        cr_assert_not_null(cfg, "%s: %s", word, errs);
        cr_assert_eq(cfg->sink_log, i < 4, "%s", word);
        config_free(cfg);
    }
}

/* ---- error buffer handling ---- */

Test(config, cannot_open)
{
    char errs[256];
    cr_assert_null(config_load("config/no-such-file.yaml", errs, sizeof errs));
    cr_assert_str_eq(errs, "cannot open config/no-such-file.yaml: No such file or directory\n");
}

Test(config, errs_cleared_on_success)
{
    char errs[64] = "stale";
    struct config *cfg = config_load("config/good-minimal.yaml", errs, sizeof errs);
    cr_assert_not_null(cfg);
    cr_assert_str_empty(errs);
    config_free(cfg);
}

Test(config, no_error_buffer)
{
    cr_assert_null(config_load("config/bad-many.yaml", NULL, 0));
    config_free(NULL);
}

/* With every buffer size, the output is a prefix of the full one, made of whole lines
 * (or a cut first line), NUL-terminated, and nothing past the buffer is touched. */
Test(config, errs_truncate_cleanly)
{
    char full[8192];
    cr_assert_null(config_load("config/bad-many.yaml", full, sizeof full));
    size_t full_len = strlen(full);
    cr_assert_gt(full_len, 100);
    const char *first_nl = strchr(full, '\n');
    cr_assert_not_null(first_nl);
    size_t first_len = (size_t)(first_nl - full) + 1;

    for (size_t size = 1; size <= full_len + 2; size++) {
        char buf[8192 + 16];
        memset(buf, '#', sizeof buf);
        cr_assert_null(config_load("config/bad-many.yaml", buf, size));
        for (size_t i = size; i < sizeof buf; i++)
            cr_assert_eq(buf[i], '#', "size %zu: byte %zu written", size, i);
        size_t n = strlen(buf);
        cr_assert_lt(n, size);
        cr_assert_eq(strncmp(buf, full, n), 0, "size %zu: not a prefix", size);
        if (size <= first_len)
            cr_assert_eq(n, size - 1, "size %zu: first line should be cut to fit", size);
        else
            cr_assert(n > 0 && buf[n - 1] == '\n', "size %zu: ends mid-line", size);
    }
}

Test(config, all_errors_reported)
{
    char errs[8192];
    cr_assert_null(config_load("config/bad-many.yaml", errs, sizeof errs));
    size_t lines = 0;
    for (const char *c = errs; *c; c++)
        lines += *c == '\n';
    cr_assert_eq(lines, 11, "%s", errs);
}

/* A newline in a value quoted by a message (here from a YAML escape; a folded flow scalar
 * does the same) is written as \x0a: every error line keeps its file:line:column. Keys
 * are quoted by quote(), which shows control characters as '?'. */
Test(config, hostile_text_in_errors_stays_on_one_line)
{
    static const char yaml[] = "kafka:\n"
                               "  topics: [{name: orders}]\n"
                               "  properties:\n"
                               "    sasl.password: {env: \"CW_UNSET\\nx.yaml:1:1: forged\"}\n"
                               "\"bad\\nkey\\u0007\": 1\n";
    char errs[1024];
    cr_assert_null(config_load_buffer("x.yaml", yaml, sizeof yaml - 1, errs, sizeof errs));
    cr_assert_str_eq(errs, "x.yaml:4:21: kafka.properties.sasl.password.env: environment variable "
                           "CW_UNSET\\x0ax.yaml:1:1: forged is not set\n"
                           "x.yaml:5:1: unknown key \"bad?key?\"\n");
}

/* url: "" is stored as no URL, so it is missing: the sinks never start without one (it
 * loaded, and the Alertmanager sink then took strlen of a NULL url). */
Test(config, empty_sink_url_is_missing)
{
    static const char yaml[] = "kafka:\n"
                               "  topics: [{name: orders}]\n"
                               "sinks:\n"
                               "  alertmanager: {url: \"\"}\n"
                               "  webhook: {url: ''}\n";
    char errs[1024];
    cr_assert_null(config_load_buffer("x.yaml", yaml, sizeof yaml - 1, errs, sizeof errs));
    cr_assert_str_eq(errs, "x.yaml:4:3: sinks.alertmanager: missing required key \"url\"\n"
                           "x.yaml:5:3: sinks.webhook: missing required key \"url\"\n");
}
