/* test_sinks.c — the HTTP sinks' pure parts: Alertmanager alerts made from alert notices
 * (am_alert.h), HMAC-SHA256 (hmac.h, RFC 4231 vectors), the webhook signature, the
 * sinks.alertmanager / sinks.webhook configuration, and the rate-limited log lines of
 * failed requests (http_client.h). Runs with the working directory tests/. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "am_alert.h"
#include "config.h"
#include "customer.h"
#include "decode.h"
#include "fixtures.h"
#include "hmac.h"
#include "http_client.h"
#include "log.h"
#include "rules.h"
#include "sink.h"

/* ---- Alertmanager alerts ---- */

static const char am_firing[] =
    "{\"alert_id\": \"00112233aabbccdd\", \"customer_id\": \"c\\\"1\\\\x\\n\\u00e9\", "
    "\"rule\": \"order_gap\", \"status\": \"firing\", \"level\": \"alarm\", \"score\": 62.5, "
    "\"tier\": \"key\", \"started_at\": \"2024-01-05T10:00:00.000Z\", "
    "\"ts\": \"2024-01-06T00:00:00.000Z\", \"summary\": \"no order for 30.0 days\\t<b>\", "
    "\"evidence\": {\"value\": 30, \"threshold\": 21, \"baseline\": 7, \"unit\": \"days\"}, "
    "\"signals\": [\"order_gap\", \"complaint_unresolved\"], \"action\": \"Call \\\"them\\\"\"}";

static const char am_resolved[] =
    "{\"alert_id\": \"00112233aabbccdd\", \"customer_id\": \"c1\", \"rule\": \"order_gap\", "
    "\"status\": \"resolved\", \"level\": \"ok\", \"score\": 0, \"tier\": \"key\", "
    "\"started_at\": \"2024-01-05T10:00:00.000Z\", \"ts\": \"2024-02-01T12:30:00.000Z\", "
    "\"summary\": \"order received\", \"evidence\": {\"value\": 1, \"threshold\": 21, "
    "\"baseline\": 7, \"unit\": \"days\"}, \"signals\": [], \"action\": \"ignored\"}";

static const char *amtest_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsString(v), "%s is not a string", key);
    return v->valuestring;
}

/* Parses s as a notice; the alert goes through print and parse, as it does on the way
 * to Alertmanager and the Redis hash. */
static cJSON *amtest_alert(const char *s, const char *generator_url, struct am_notice *n)
{
    const char *why = NULL;
    cr_assert_eq(am_notice_parse(s, strlen(s), generator_url, n, &why), 0, "%s", why);
    char *text = cJSON_PrintUnformatted(n->alert);
    cr_assert_not_null(text);
    cJSON *a = cJSON_Parse(text);
    cr_assert_not_null(a, "not JSON: %s", text);
    cJSON_free(text);
    return a;
}

Test(am_alert, firing_labels_annotations_times)
{
    struct am_notice n;
    cJSON *a = amtest_alert(am_firing, "https://crm.example/c", &n);
    cr_assert(n.firing);
    cr_assert_str_eq(n.alert_id, "00112233aabbccdd");

    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(a, "labels");
    cr_assert_eq(cJSON_GetArraySize(labels), 5);
    cr_assert_str_eq(amtest_str(labels, "alertname"), "order_gap");
    cr_assert_str_eq(amtest_str(labels, "customer_id"), "c\"1\\x\n\xc3\xa9");
    cr_assert_str_eq(amtest_str(labels, "tier"), "key");
    cr_assert_str_eq(amtest_str(labels, "severity"), "alarm");
    cr_assert_str_eq(amtest_str(labels, "source"), "churnwatch");

    const cJSON *ann = cJSON_GetObjectItemCaseSensitive(a, "annotations");
    cr_assert_eq(cJSON_GetArraySize(ann), 6);
    cr_assert_str_eq(amtest_str(ann, "summary"), "no order for 30.0 days\t<b>");
    cr_assert_str_eq(amtest_str(ann, "evidence"),
                     "{\"value\":30,\"threshold\":21,\"baseline\":7,\"unit\":\"days\"}");
    cr_assert_str_eq(amtest_str(ann, "action"), "Call \"them\"");
    cr_assert_str_eq(amtest_str(ann, "alert_id"), "00112233aabbccdd");
    cr_assert_str_eq(amtest_str(ann, "score"), "62.5");
    cr_assert_str_eq(amtest_str(ann, "signals"), "order_gap,complaint_unresolved");

    cr_assert_str_eq(amtest_str(a, "startsAt"), "2024-01-05T10:00:00.000Z");
    cr_assert_str_eq(amtest_str(a, "generatorURL"), "https://crm.example/c");
    cr_assert_not(cJSON_HasObjectItem(a, "endsAt"), "endsAt is the sink's to set");
    cr_assert_eq(cJSON_GetArraySize(a), 4);
    cJSON_Delete(a);
    am_notice_clear(&n);
}

Test(am_alert, resolved_has_its_end_and_no_action)
{
    struct am_notice n;
    cJSON *a = amtest_alert(am_resolved, NULL, &n);
    int64_t want;
    cr_assert_not(n.firing);
    cr_assert_eq(decode_rfc3339("2024-02-01T12:30:00.000Z", 24, &want), 0);
    cr_assert_eq(n.resolved_ms, want);
    const cJSON *ann = cJSON_GetObjectItemCaseSensitive(a, "annotations");
    cr_assert_not(cJSON_HasObjectItem(ann, "action"), "a resolved alert suggests nothing");
    cr_assert_str_eq(amtest_str(ann, "signals"), "");
    cr_assert_str_eq(amtest_str(ann, "score"), "0");
    cr_assert_not(cJSON_HasObjectItem(a, "generatorURL"));
    cr_assert_str_eq(amtest_str(cJSON_GetObjectItemCaseSensitive(a, "labels"), "severity"), "ok");
    cJSON_Delete(a);
    am_notice_clear(&n);
}

Test(am_alert, ends_set_replaced_and_never_before_start)
{
    struct am_notice n;
    const char *why;
    cr_assert_eq(am_notice_parse(am_firing, strlen(am_firing), NULL, &n, &why), 0);
    int64_t start;
    cr_assert_eq(decode_rfc3339("2024-01-05T10:00:00.000Z", 24, &start), 0);

    cr_assert_eq(am_alert_set_ends(n.alert, start + 3 * 60000 + 7), 0);
    cr_assert_str_eq(amtest_str(n.alert, "endsAt"), "2024-01-05T10:03:00.007Z");
    cr_assert_eq(am_alert_set_ends(n.alert, start + 86400000), 0);
    cr_assert_str_eq(amtest_str(n.alert, "endsAt"), "2024-01-06T10:00:00.000Z");
    /* an end before the start (an event clock ahead of the wall clock) becomes the start */
    cr_assert_eq(am_alert_set_ends(n.alert, start - 1000), 0);
    cr_assert_str_eq(amtest_str(n.alert, "endsAt"), "2024-01-05T10:00:00.000Z");
    int count = 0;
    for (const cJSON *c = n.alert->child; c; c = c->next)
        count += strcmp(c->string, "endsAt") == 0;
    cr_assert_eq(count, 1, "one endsAt");

    cJSON *bare = cJSON_Parse("{\"labels\": {}}");
    cr_assert_eq(am_alert_set_ends(bare, start), -1, "no startsAt");
    cJSON_Delete(bare);
    am_notice_clear(&n);
}

Test(am_alert, malformed_notices)
{
    static const char *const bad[] = {
        "not json",
        "[1, 2]",
        "{\"customer_id\": \"a\"}",
        "{\"alert_id\": \"short\", \"customer_id\": \"a\", \"rule\": \"r\", \"status\": "
        "\"firing\", \"level\": \"ok\", \"tier\": \"key\", \"started_at\": "
        "\"2024-01-05T10:00:00Z\", \"ts\": \"2024-01-05T10:00:00Z\"}",
        "{\"alert_id\": \"00112233aabbccdd\", \"customer_id\": \"a\", \"rule\": \"r\", "
        "\"status\": \"open\", \"level\": \"ok\", \"tier\": \"key\", \"started_at\": "
        "\"2024-01-05T10:00:00Z\", \"ts\": \"2024-01-05T10:00:00Z\"}",
        "{\"alert_id\": \"00112233aabbccdd\", \"customer_id\": \"a\", \"rule\": \"r\", "
        "\"status\": \"firing\", \"level\": \"ok\", \"tier\": \"key\", \"started_at\": "
        "\"yesterday\", \"ts\": \"2024-01-05T10:00:00Z\"}",
        "{\"alert_id\": \"00112233aabbccdd\", \"customer_id\": \"\", \"rule\": \"r\", "
        "\"status\": \"firing\", \"level\": \"ok\", \"tier\": \"key\", \"started_at\": "
        "\"2024-01-05T10:00:00Z\", \"ts\": \"2024-01-05T10:00:00Z\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct am_notice n;
        const char *why = NULL;
        cr_assert_eq(am_notice_parse(bad[i], strlen(bad[i]), NULL, &n, &why), -1, "%s", bad[i]);
        cr_assert_not_null(why);
        cr_assert_null(n.alert);
    }
}

/* What alerts.c writes maps as documented: the real payload of a fired order_gap. */
Test(am_alert, from_alert_format)
{
    struct config cfg;
    struct customer c;
    struct notice_list nl;
    struct alert_list l = {0};
    fixture_config(&cfg);
    customer_init(&c, "real-1");
    for (int i = 0; i < 3; i++) {
        struct event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = EV_ORDER;
        ev.ts_ms = 1704067200000LL + i * 10 * 86400000LL;
        ev.tier = -1;
        ev.amount = 10;
        snprintf(ev.customer_id, sizeof ev.customer_id, "real-1");
        nl.count = 0;
        rules_apply_event(&cfg, &c, &ev, &nl);
    }
    nl.count = 0;
    rules_advance(&cfg, &c, 1704067200000LL + 60 * 86400000LL, &nl);
    cr_assert_eq(nl.count, 1);
    cr_assert_eq(alert_format(&cfg, &c, &nl.n[0], &l), 0);

    struct am_notice n;
    cJSON *a = amtest_alert(alert_list_get(&l, 0), NULL, &n);
    cJSON *src = cJSON_Parse(alert_list_get(&l, 0));
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(a, "labels");
    const cJSON *ann = cJSON_GetObjectItemCaseSensitive(a, "annotations");
    cr_assert_str_eq(amtest_str(labels, "customer_id"), "real-1");
    cr_assert_str_eq(amtest_str(labels, "alertname"), "order_gap");
    cr_assert_str_eq(amtest_str(labels, "severity"), amtest_str(src, "level"));
    cr_assert_str_eq(amtest_str(ann, "alert_id"), amtest_str(src, "alert_id"));
    cr_assert_str_eq(amtest_str(ann, "summary"), amtest_str(src, "summary"));
    cr_assert_str_eq(amtest_str(a, "startsAt"), amtest_str(src, "started_at"));
    cJSON *ev = cJSON_Parse(amtest_str(ann, "evidence"));
    cr_assert(cJSON_Compare(ev, cJSON_GetObjectItemCaseSensitive(src, "evidence"), true));
    cJSON_Delete(ev);
    cJSON_Delete(src);
    cJSON_Delete(a);
    am_notice_clear(&n);
    alert_list_free(&l);
}

/* ---- HMAC-SHA256 ---- */

static void hmactest_one(const void *key, size_t key_len, const char *msg, const char *want)
{
    char out[HMAC_SHA256_HEX_LEN + 1];
    struct hmac_part part = {msg, strlen(msg)};
    cr_assert_eq(hmac_sha256_hex(key, key_len, &part, 1, out), 0);
    cr_assert_str_eq(out, want);
}

Test(hmac, rfc4231_vectors)
{
    unsigned char k1[20], k6[131];
    memset(k1, 0x0b, sizeof k1);
    memset(k6, 0xaa, sizeof k6);
    /* test case 1 */
    hmactest_one(k1, sizeof k1, "Hi There",
                 "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* test case 2 */
    hmactest_one("Jefe", 4, "what do ya want for nothing?",
                 "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* test case 6: a key longer than the block size */
    hmactest_one(k6, sizeof k6, "Test Using Larger Than Block-Size Key - Hash Key First",
                 "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

Test(hmac, parts_are_concatenated)
{
    char whole[HMAC_SHA256_HEX_LEN + 1], split[HMAC_SHA256_HEX_LEN + 1];
    struct hmac_part one = {"what do ya want for nothing?", 28};
    struct hmac_part three[] = {{"what do ", 8}, {"", 0}, {"ya want for nothing?", 20}};
    cr_assert_eq(hmac_sha256_hex("Jefe", 4, &one, 1, whole), 0);
    cr_assert_eq(hmac_sha256_hex("Jefe", 4, three, 3, split), 0);
    cr_assert_str_eq(whole, split);
    cr_assert_eq(hmac_sha256_hex("", 0, &one, 1, whole), -1, "an empty key is refused");
    cr_assert_str_empty(whole);
}

/* The value of X-Churnwatch-Signature; the vector is
 * printf '1700000000.[{"a":1}]' | openssl dgst -sha256 -hmac k */
Test(hmac, webhook_signature)
{
    char sig[SINK_WEBHOOK_SIGNATURE_MAX];
    const char body[] = "[{\"a\":1}]";
    cr_assert_eq(sink_webhook_sign("k", "1700000000", body, strlen(body), sig), 0);
    cr_assert_str_eq(sig,
                     "sha256=a031f5e23b61f405ae1a385944717e1428cf1454b2ae5014c12122e2391e1c5d");
    cr_assert_eq(sink_webhook_sign("k", "1700000001", body, strlen(body), sig), 0);
    cr_assert_str_neq(sig,
                      "sha256=a031f5e23b61f405ae1a385944717e1428cf1454b2ae5014c12122e2391e1c5d",
                      "the timestamp is signed");
}

/* ---- sinks.alertmanager and sinks.webhook ---- */

static struct config *sinkcfg_load(const char *sinks, char *errs, size_t len)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml, "kafka: {topics: [{name: t}]}\nsinks:\n%s", sinks);
    return config_load_buffer("t.yaml", yaml, strlen(yaml), errs, len);
}

Test(sinks_config, off_by_default_with_defaults)
{
    char errs[1024];
    struct config *cfg = sinkcfg_load("  log: true\n", errs, sizeof errs);
    cr_assert_not_null(cfg, "%s", errs);
    cr_assert_not(cfg->sink_alertmanager.enabled);
    cr_assert_not(cfg->sink_webhook.enabled);
    cr_assert_eq(cfg->sink_alertmanager.resend_interval_ms, 60000);
    cr_assert_eq(cfg->sink_alertmanager.timeout_ms, 10000);
    cr_assert_eq(cfg->sink_alertmanager.max_alerts, 500);
    cr_assert(cfg->sink_alertmanager.tls_verify);
    cr_assert_eq(cfg->sink_webhook.timeout_ms, 5000);
    cr_assert_eq(cfg->sink_webhook.max_alerts, 100);
    cr_assert(cfg->sink_webhook.tls_verify);
    cr_assert_not(cfg->sink_webhook.follow_redirects);
    cr_assert_null(cfg->sink_webhook.secret);
    config_free(cfg);
    cfg = sinkcfg_load("  alertmanager:\n  webhook: ~\n", errs, sizeof errs);
    cr_assert_not_null(cfg, "%s", errs);
    cr_assert_not(cfg->sink_alertmanager.enabled, "an empty section is off");
    cr_assert_not(cfg->sink_webhook.enabled);
    config_free(cfg);
}

Test(sinks_config, both_on)
{
    char errs[1024];
    setenv("CW_SINKTEST_SECRET", "from the environment", 1);
    struct config *cfg = sinkcfg_load("  alertmanager:\n"
                                      "    url: http://127.0.0.1:9093\n"
                                      "    resend_interval: 30s\n"
                                      "    generator_url: https://crm.example/c\n"
                                      "    headers: {Authorization: {env: CW_SINKTEST_SECRET}}\n"
                                      "  webhook:\n"
                                      "    url: https://hooks.example/churn\n"
                                      "    secret: {env: CW_SINKTEST_SECRET}\n"
                                      "    timeout: 1500ms\n"
                                      "    tls_verify: false\n"
                                      "    ca_file: config/good-full.yaml\n"
                                      "    follow_redirects: yes\n"
                                      "    max_alerts: 1\n"
                                      "    headers:\n"
                                      "      X-Team: ops\n"
                                      "      X-Api-Token: t0ken\n",
                                      errs, sizeof errs);
    cr_assert_not_null(cfg, "%s", errs);
    const struct http_sink_config *am = &cfg->sink_alertmanager, *wh = &cfg->sink_webhook;
    cr_assert(am->enabled);
    cr_assert_str_eq(am->url, "http://127.0.0.1:9093");
    cr_assert_eq(am->resend_interval_ms, 30000);
    cr_assert_str_eq(am->generator_url, "https://crm.example/c");
    cr_assert_eq(am->n_headers, 1);
    cr_assert_str_eq(am->headers[0].key, "Authorization");
    cr_assert_str_eq(am->headers[0].value, "from the environment");
    cr_assert(wh->enabled);
    cr_assert_str_eq(wh->url, "https://hooks.example/churn");
    cr_assert_str_eq(wh->secret, "from the environment");
    cr_assert_eq(wh->timeout_ms, 1500);
    cr_assert_not(wh->tls_verify);
    cr_assert_str_eq(wh->ca_file, "config/good-full.yaml");
    cr_assert(wh->follow_redirects);
    cr_assert_eq(wh->max_alerts, 1);
    cr_assert_eq(wh->n_headers, 2);
    cr_assert_str_eq(wh->headers[1].key, "X-Api-Token");
    cr_assert_str_eq(wh->headers[1].value, "t0ken");
    /* a token written out in the file is remembered for the world-readable warning */
    cr_assert_not_null(cfg->literal_secret);
    cr_assert(strstr(cfg->literal_secret, "sinks.webhook.headers.X-Api-Token") != NULL, "%s",
              cfg->literal_secret);
    config_free(cfg);
    unsetenv("CW_SINKTEST_SECRET");
}

/* ---- failed requests in the log ---- */

Test(http_result_log, levels_and_rate_limit_summary)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    log_set_stream(f);
    log_init(LOG_LVL_INFO, LOG_FMT_JSON);
    struct log_ratelimit rl;
    log_ratelimit_init(&rl, 1e-9, 2); /* no refill while the test runs */
    struct http_result refused = {.status = 0, .what = "Connection refused"};
    struct http_result forbidden = {.status = 403, .what = "no"};
    struct http_result unavailable = {.status = 503, .what = ""};
    for (int i = 0; i < 4; i++)
        http_result_log("webhook sink", "a request of 2 alerts", &refused, &rl);
    cr_assert_eq(rl.suppressed, 2);
    rl.tokens = 2; /* as if seconds had passed */
    http_result_log("webhook sink", "a request of 2 alerts", &forbidden, &rl);
    rl.tokens = 1;
    http_result_log("webhook sink", "a request of 1 alerts", &unavailable, &rl);

    char lines[8][512];
    size_t n = 0;
    fflush(f);
    rewind(f);
    while (n < 8 && fgets(lines[n], sizeof lines[n], f) != NULL)
        n++;
    log_set_stream(NULL);
    fclose(f);
    static const struct {
        const char *level, *msg;
    } want[] = {
        {"warn", "webhook sink: a request of 2 alerts not delivered: Connection refused; "
                 "retried with back-off"},
        {"warn", "webhook sink: a request of 2 alerts not delivered: Connection refused; "
                 "retried with back-off"},
        {"error", "webhook sink: 2 similar lines suppressed (rate limit)"},
        {"error", "webhook sink: a request of 2 alerts refused with HTTP 403: no: check the url, "
                  "the headers and the receiver; nothing is dropped: retried with back-off "
                  "until it accepts them"},
        {"warn", "webhook sink: a request of 1 alerts not delivered: HTTP 503; retried with "
                 "back-off"},
    };
    cr_assert_eq(n, sizeof want / sizeof want[0], "%zu lines", n);
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_Parse(lines[i]);
        cr_assert_not_null(o, "%s", lines[i]);
        cr_assert_str_eq(amtest_str(o, "level"), want[i].level, "line %zu", i);
        cr_assert_str_eq(amtest_str(o, "msg"), want[i].msg, "line %zu", i);
        if (i == 2) {
            cr_assert_str_eq(amtest_str(o, "source"), "webhook sink");
            cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "suppressed")),
                         2);
        }
        cJSON_Delete(o);
    }
}
