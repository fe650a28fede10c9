/* test_secret.c — secret.c (files, environment, systemd credentials, masking) and the
 * secret forms of the config (redis.password, kafka.properties), with their errors as
 * FILE:LINE:COL, the literal-secret warning, and the value reaching librdkafka.
 * Runs with the working directory tests/; scratch files go to a fresh directory in /tmp. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "kafka_conf.h"
#include "secret.h"

static char sectest_dir[64];

/* A fresh scratch directory for each test (each test runs in its own process). */
static void sectest_setup(void)
{
    strcpy(sectest_dir, "/tmp/cw-secret-XXXXXX");
    cr_assert_not_null(mkdtemp(sectest_dir));
}

static void sectest_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", sectest_dir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", sectest_dir);
}

/* Writes `len` bytes of `data` to sectest_dir/name with `mode`; returns the path (static). */
static const char *sectest_write(const char *name, const char *data, size_t len, mode_t mode)
{
    static char path[256];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", sectest_dir, name);
    f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(chmod(path, mode), 0);
    return path;
}

static const char *sectest_write_str(const char *name, const char *text, mode_t mode)
{
    return sectest_write(name, text, strlen(text), mode);
}

/* Resolves and checks the result; err must stay free of `expect`. */
static void sectest_expect_ok(enum secret_source src, const char *ref, const char *cfg_path,
                              const char *expect)
{
    char err[512] = "";
    char *s = secret_resolve(src, ref, cfg_path, err, sizeof err);
    cr_assert_not_null(s, "%s %s: %s", secret_source_name(src), ref, err);
    cr_assert_str_eq(s, expect);
    secret_free(s);
}

/* Resolves, expects failure with an error containing `part`. */
static void sectest_expect_err(enum secret_source src, const char *ref, const char *part)
{
    char err[512] = "";
    char *s = secret_resolve(src, ref, NULL, err, sizeof err);
    cr_assert_null(s, "%s %s: expected an error", secret_source_name(src), ref);
    cr_assert_not_null(strstr(err, part), "error '%s' lacks '%s'", err, part);
}

TestSuite(secret, .init = sectest_setup, .fini = sectest_teardown);

Test(secret, source_names)
{
    enum secret_source src;
    cr_assert_eq(secret_source_parse("file", &src), 0);
    cr_assert_eq(src, SECRET_FILE);
    cr_assert_eq(secret_source_parse("env", &src), 0);
    cr_assert_eq(src, SECRET_ENV);
    cr_assert_eq(secret_source_parse("credential", &src), 0);
    cr_assert_eq(src, SECRET_CREDENTIAL);
    cr_assert_eq(secret_source_parse("vault", &src), -1);
    cr_assert_eq(secret_source_parse("", &src), -1);
    cr_assert_str_eq(secret_source_name(SECRET_CREDENTIAL), "credential");
}

Test(secret, file_trailing_newlines_stripped)
{
    const char *p = sectest_write_str("a", "pa ss\n", 0600);
    sectest_expect_ok(SECRET_FILE, p, NULL, "pa ss");
    p = sectest_write_str("b", "crlf\r\n\n", 0600);
    sectest_expect_ok(SECRET_FILE, p, NULL, "crlf");
    p = sectest_write_str("c", "no-newline", 0600);
    sectest_expect_ok(SECRET_FILE, p, NULL, "no-newline");
    /* only trailing ones: a PEM key keeps its inner lines */
    p = sectest_write_str("d", "line1\nline2\n", 0600);
    sectest_expect_ok(SECRET_FILE, p, NULL, "line1\nline2");
}

Test(secret, file_relative_to_the_config)
{
    char cfg_path[256];
    sectest_write_str("pw", "rel\n", 0600);
    snprintf(cfg_path, sizeof cfg_path, "%s/churnwatch.yaml", sectest_dir);
    sectest_expect_ok(SECRET_FILE, "pw", cfg_path, "rel");
}

Test(secret, file_errors)
{
    char missing[256], err[512] = "";
    snprintf(missing, sizeof missing, "%s/missing", sectest_dir);
    sectest_expect_err(SECRET_FILE, missing, "cannot read secret file");
    sectest_expect_err(SECRET_FILE, missing, "No such file or directory");
    sectest_expect_err(SECRET_FILE, missing, missing);
    sectest_expect_err(SECRET_FILE, sectest_write_str("empty", "", 0600), "is empty");
    sectest_expect_err(SECRET_FILE, sectest_write_str("nl", "\n\r\n", 0600), "is empty");
    sectest_expect_err(SECRET_FILE, sectest_write("nul", "ab\0cd", 5, 0600), "NUL byte");
    sectest_expect_err(SECRET_FILE, sectest_dir, "not a regular file");
    sectest_expect_err(SECRET_FILE, "", "expected a non-empty path");
    /* a file over the limit is refused without reading it */
    char *big = malloc(SECRET_MAX_BYTES + 1);
    cr_assert_not_null(big);
    memset(big, 'x', SECRET_MAX_BYTES + 1);
    const char *p = sectest_write("big", big, SECRET_MAX_BYTES + 1, 0600);
    free(big);
    cr_assert_null(secret_resolve(SECRET_FILE, p, NULL, err, sizeof err));
    cr_assert_not_null(strstr(err, "larger than"), "%s", err);
}

Test(secret, environment)
{
    cr_assert_eq(setenv("CW_TEST_SECRET", "from-env", 1), 0);
    sectest_expect_ok(SECRET_ENV, "CW_TEST_SECRET", NULL, "from-env");
    cr_assert_eq(unsetenv("CW_TEST_SECRET"), 0);
    sectest_expect_err(SECRET_ENV, "CW_TEST_SECRET",
                       "environment variable CW_TEST_SECRET is not set");
    cr_assert_eq(setenv("CW_TEST_SECRET", "", 1), 0);
    sectest_expect_err(SECRET_ENV, "CW_TEST_SECRET",
                       "environment variable CW_TEST_SECRET is empty");
    sectest_expect_err(SECRET_ENV, "A=B", "not an environment variable name");
}

Test(secret, credential)
{
    sectest_write_str("redis.pw", "from-credential\n", 0400);
    cr_assert_eq(setenv("CREDENTIALS_DIRECTORY", sectest_dir, 1), 0);
    sectest_expect_ok(SECRET_CREDENTIAL, "redis.pw", NULL, "from-credential");
    sectest_expect_err(SECRET_CREDENTIAL, "other", "cannot read credential other");
    sectest_expect_err(SECRET_CREDENTIAL, "../redis.pw", "is not a credential name");
    sectest_expect_err(SECRET_CREDENTIAL, "..", "is not a credential name");
    cr_assert_eq(unsetenv("CREDENTIALS_DIRECTORY"), 0);
    sectest_expect_err(SECRET_CREDENTIAL, "redis.pw", "$CREDENTIALS_DIRECTORY is not set");
    sectest_expect_err(SECRET_CREDENTIAL, "redis.pw", "LoadCredential=redis.pw:PATH");
}

Test(secret, sensitive_names_and_mask)
{
    static const char *const yes[] = {"sasl.password",
                                      "ssl.key.password",
                                      "SASL.PASSWORD",
                                      "ssl.keystore.password",
                                      "sasl.oauthbearer.client.secret",
                                      "ssl.key.pem",
                                      "sasl.oauthbearer.config"};
    static const char *const no[] = {"sasl.username",   "security.protocol", "sasl.mechanisms",
                                     "ssl.ca.location", "ssl.key.location",  ""};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        cr_assert(secret_key_is_sensitive(yes[i]), "%s", yes[i]);
        cr_assert_str_eq(secret_mask(yes[i], "hunter2"), SECRET_MASK);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        cr_assert_not(secret_key_is_sensitive(no[i]), "%s", no[i]);
        cr_assert_str_eq(secret_mask(no[i], "plain"), "plain");
    }
}

Test(secret, free_accepts_null)
{
    secret_free(NULL);
}

/* ---- the config's secret forms ---- */

/* Writes `body` (redis and kafka keys; a topic is added) as sectest_dir/cw.yaml with
 * `mode` and loads it. Returns the config or NULL with errs filled. */
static struct config *sectest_load(const char *body, mode_t mode, char *errs, size_t errs_len)
{
    char text[2048];
    snprintf(text, sizeof text, "kafka:\n  topics:\n    - name: orders\n%s", body);
    return config_load(sectest_write_str("cw.yaml", text, mode), errs, errs_len);
}

/* Loads `body`, expects exactly one error line, equal to "<cw.yaml>:" + tail + "\n". */
static void sectest_expect_config_error(const char *body, const char *tail)
{
    char errs[2048] = "", want[1024];
    struct config *cfg = sectest_load(body, 0600, errs, sizeof errs);
    cr_assert_null(cfg, "loaded although it should not");
    snprintf(want, sizeof want, "%s/cw.yaml:%s\n", sectest_dir, tail);
    cr_assert_str_eq(errs, want);
}

TestSuite(config_secret, .init = sectest_setup, .fini = sectest_teardown);

Test(config_secret, redis_password_sources)
{
    char errs[2048] = "";
    struct config *cfg;

    /* line 4 of the file is "redis:" (the topic takes lines 1-3) */
    sectest_write_str("redis.pw", "pw-file\n", 0600);
    cfg = sectest_load("redis:\n  user: alice\n  password: {file: redis.pw}\n", 0644, errs,
                       sizeof errs);
    cr_assert_not_null(cfg, "%s", errs);
    cr_assert_str_eq(cfg->redis_user, "alice");
    cr_assert_str_eq(cfg->redis_password, "pw-file");
    cr_assert_null(cfg->literal_secret);
    config_free(cfg);

    cr_assert_eq(setenv("CW_REDIS_PW", "pw-env", 1), 0);
    cfg = sectest_load("redis:\n  password:\n    env: CW_REDIS_PW\n", 0600, errs, sizeof errs);
    cr_assert_not_null(cfg, "%s", errs);
    cr_assert_str_eq(cfg->redis_password, "pw-env");
    config_free(cfg);

    cr_assert_eq(setenv("CREDENTIALS_DIRECTORY", sectest_dir, 1), 0);
    cfg = sectest_load("redis:\n  password: {credential: redis.pw}\n", 0600, errs, sizeof errs);
    cr_assert_not_null(cfg, "%s", errs);
    cr_assert_str_eq(cfg->redis_password, "pw-file");
    config_free(cfg);

    /* written out, and empty (no password) */
    cfg = sectest_load("redis:\n  password: lit\n", 0600, errs, sizeof errs);
    cr_assert_not_null(cfg, "%s", errs);
    cr_assert_str_eq(cfg->redis_password, "lit");
    cr_assert_str_eq(cfg->literal_secret, "5:13: redis.password");
    config_free(cfg);
    cfg = sectest_load("redis:\n  password: \"\"\n", 0600, errs, sizeof errs);
    cr_assert_not_null(cfg, "%s", errs);
    cr_assert_null(cfg->redis_password);
    cr_assert_null(cfg->literal_secret);
    config_free(cfg);
}

Test(config_secret, errors_name_file_line_col)
{
    char tail[512];

    snprintf(tail, sizeof tail,
             "5:14: redis.password.file: cannot read secret file %s/nope: No such file or "
             "directory",
             sectest_dir);
    sectest_expect_config_error("redis:\n  password: {file: nope}\n", tail);

    cr_assert_eq(unsetenv("CW_NO_SUCH_VAR"), 0);
    sectest_expect_config_error("redis:\n  password:\n    env: CW_NO_SUCH_VAR\n",
                                "6:5: redis.password.env: environment variable CW_NO_SUCH_VAR "
                                "is not set");

    cr_assert_eq(unsetenv("CREDENTIALS_DIRECTORY"), 0);
    sectest_expect_config_error(
        "redis:\n  password: {credential: redis.pw}\n",
        "5:14: redis.password.credential: credential redis.pw: $CREDENTIALS_DIRECTORY is not "
        "set (systemd sets it for a unit with LoadCredential=redis.pw:PATH; elsewhere use "
        "{file: PATH} or {env: NAME})");

    sectest_write_str("empty", "\n", 0600);
    snprintf(tail, sizeof tail, "5:14: redis.password.file: secret file %s/empty is empty",
             sectest_dir);
    sectest_expect_config_error("redis:\n  password: {file: empty}\n", tail);

    sectest_expect_config_error("redis:\n  password: {file: \"\"}\n",
                                "5:20: redis.password.file: expected a non-empty path, got "
                                "\"\"");
    /* the unknown key is not quoted: it might be the secret, mistyped */
    sectest_expect_config_error("redis:\n  password: {s3cret}\n",
                                "5:14: redis.password: unknown secret source (expected one "
                                "key: file, env or credential)");
    sectest_expect_config_error("redis:\n  password: {file: a, env: B}\n",
                                "5:13: redis.password: expected one key: file, env or "
                                "credential, got 2 keys");
    sectest_expect_config_error("redis:\n  password: [x]\n",
                                "5:13: redis.password: expected a string or {file: PATH}, "
                                "{env: NAME} or {credential: NAME}, got a sequence");
    sectest_expect_config_error("  properties:\n    sasl.password: {env: CW_NO_SUCH_VAR}\n",
                                "5:21: kafka.properties.sasl.password.env: environment variable "
                                "CW_NO_SUCH_VAR is not set");
}

Test(config_secret, kafka_properties)
{
    char errs[2048] = "";
    struct config *cfg;

    sectest_write_str("sasl.pw", "kafka-pw\n", 0600);
    cr_assert_eq(setenv("CW_KEY_PW", "key-pw", 1), 0);
    cfg = sectest_load("  properties:\n"
                       "    security.protocol: SASL_SSL\n"
                       "    sasl.username: churnwatch\n"
                       "    sasl.password: {file: sasl.pw}\n"
                       "    ssl.key.password: {env: CW_KEY_PW}\n",
                       0644, errs, sizeof errs);
    cr_assert_not_null(cfg, "%s", errs);
    cr_assert_eq(cfg->n_kafka_props, 4);
    cr_assert_str_eq(cfg->kafka_props[2].key, "sasl.password");
    cr_assert_str_eq(cfg->kafka_props[2].value, "kafka-pw");
    cr_assert_str_eq(cfg->kafka_props[3].key, "ssl.key.password");
    cr_assert_str_eq(cfg->kafka_props[3].value, "key-pw");
    cr_assert_null(cfg->literal_secret); /* sasl.username is not a secret */

    /* ... and reaches librdkafka */
    char err[512] = "", value[64];
    size_t n = sizeof value;
    rd_kafka_conf_t *conf = kafka_conf_new(cfg, "test", err, sizeof err);
    cr_assert_not_null(conf, "%s", err);
    cr_assert_eq(rd_kafka_conf_get(conf, "sasl.password", value, &n), RD_KAFKA_CONF_OK);
    cr_assert_str_eq(value, "kafka-pw");
    n = sizeof value;
    cr_assert_eq(rd_kafka_conf_get(conf, "sasl.username", value, &n), RD_KAFKA_CONF_OK);
    cr_assert_str_eq(value, "churnwatch");
    rd_kafka_conf_destroy(conf);
    config_free(cfg);

    /* written out: noted at its value */
    cfg = sectest_load("  properties:\n    sasl.password: lit\n", 0600, errs, sizeof errs);
    cr_assert_not_null(cfg, "%s", errs);
    cr_assert_str_eq(cfg->kafka_props[0].value, "lit");
    cr_assert_str_eq(cfg->literal_secret, "5:20: kafka.properties.sasl.password");
    config_free(cfg);
}

/* The literal-secret warning goes to stderr (the log) once, names the key's position and
 * the fix, and never the secret; a file others cannot read gets none. */
Test(config_secret_warning, literal_secret_readable_by_others, .init = cr_redirect_stderr)
{
    char errs[2048] = "", text[4096] = "";
    struct config *cfg;
    FILE *f;
    size_t n;

    sectest_setup();
    cfg = sectest_load("redis:\n  password: hunter2\n", 0640, errs, sizeof errs);
    cr_assert_not_null(cfg, "%s", errs);
    config_free(cfg);
    cfg = sectest_load("  properties:\n    sasl.password: hunter3\nredis:\n  password: hunter2\n",
                       0644, errs, sizeof errs);
    cr_assert_not_null(cfg, "%s", errs);
    config_free(cfg);
    fflush(stderr);
    f = cr_get_redirected_stderr();
    n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    cr_assert_null(strstr(text, "hunter"), "the secret was printed: %s", text);
    char want[512];
    snprintf(want, sizeof want,
             "%s/cw.yaml:5:20: kafka.properties.sasl.password: a secret is written out in a "
             "file that every user can read (mode 0644): chmod 640 %s/cw.yaml",
             sectest_dir, sectest_dir);
    cr_assert_not_null(strstr(text, want), "no warning '%s' in: %s", want, text);
    cr_assert_not_null(strstr(text, "{credential: NAME}"), "%s", text);
    /* once: one line for the file with two secrets, none for the 0640 one */
    size_t lines = 0;
    for (const char *c = text; (c = strstr(c, "every user can read")) != NULL; c++)
        lines++;
    cr_assert_eq(lines, 1, "%s", text);
    sectest_teardown();
}
