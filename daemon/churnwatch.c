/* churnwatch.c — the operator's command-line tool (DESIGN.md §6).
 *
 *   churnwatch replay -c FILE [--until TIME] [--topic NAME] EVENTS.jsonl|-
 *   churnwatch replay -c FILE --labels LABELS.csv [--alerts] [--json] [--until TIME] ...
 *   churnwatch check-config FILE
 *   churnwatch --version
 *
 * Exit status: 0 success, 1 failure (bad config, unreadable input), 2 usage error. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backtest.h"
#include "config.h"
#include "decode.h"
#include "replay.h"
#include "version.h"

#define ERRS_MAX 65536

static void usage(FILE *f)
{
    fprintf(f,
            "usage: churnwatch replay -c FILE [--until TIME] [--topic NAME]\n"
            "                         [--labels LABELS.csv [--alerts] [--json]] EVENTS.jsonl|-\n"
            "       churnwatch check-config [-c] FILE\n"
            "       churnwatch --version\n"
            "\n"
            "replay     run the rules over a file of events in event time and print the\n"
            "           alerts as JSON lines; a summary goes to stderr\n"
            "  -c, --config FILE   configuration (rules, thresholds, topic mappings)\n"
            "  -u, --until TIME    at the end, advance the clock to TIME (RFC 3339 or epoch\n"
            "                      milliseconds) so that timers due by then fire\n"
            "  -t, --topic NAME    decode with the field mapping of this configured topic\n"
            "                      (default: the default field names)\n"
            "  -l, --labels FILE   backtest: FILE has lines customer_id,churned (1/0,\n"
            "                      true/false); print precision, recall, balanced accuracy\n"
            "                      and lead time per rule (docs/backtest.md) instead of the\n"
            "                      alerts\n"
            "  -a, --alerts        with --labels: print the alerts too, before the report\n"
            "  -j, --json          with --labels: print the report as one JSON object\n"
            "check-config  validate FILE, print every error, say \"configuration OK\"\n");
}

/* TIME: an RFC 3339 timestamp with offset, or epoch milliseconds. */
static int parse_time(const char *s, int64_t *ms)
{
    if (*s == '\0')
        return -1;
    const char *p = s + (*s == '-');
    if (*p != '\0' && strspn(p, "0123456789") == strlen(p)) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno != 0 || *end != '\0')
            return -1;
        *ms = v;
        return 0;
    }
    return decode_rfc3339(s, strlen(s), ms);
}

static struct config *load_config(const char *path)
{
    char *errs = calloc(1, ERRS_MAX);
    if (errs == NULL) {
        fprintf(stderr, "churnwatch: out of memory\n");
        return NULL;
    }
    struct config *cfg = config_load(path, errs, ERRS_MAX);
    if (cfg == NULL) {
        size_t n = strlen(errs);
        if (n == 0)
            fprintf(stderr, "%s: cannot load configuration\n", path);
        else
            fprintf(stderr, "%s%s", errs, errs[n - 1] == '\n' ? "" : "\n");
    }
    free(errs);
    return cfg;
}

/* Reads the labels of a backtest. Returns a new backtest, or NULL after printing every
 * error ("FILE:LINE: message") to stderr. */
static struct backtest *load_labels(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return NULL;
    }
    struct backtest *bt = backtest_new();
    char *errs = calloc(1, ERRS_MAX);
    if (bt == NULL || errs == NULL) {
        fprintf(stderr, "churnwatch: out of memory\n");
    } else if (backtest_read_labels(bt, f, path, errs, ERRS_MAX) < 0) {
        fputs(errs, stderr);
        backtest_free(bt);
        bt = NULL;
    }
    free(errs);
    fclose(f);
    return bt;
}

static int cmd_check_config(int argc, char **argv)
{
    const char *path = NULL;
    if (argc == 2)
        path = argv[1];
    else if (argc == 3 && strcmp(argv[1], "-c") == 0)
        path = argv[2];
    if (path == NULL || path[0] == '-') {
        usage(stderr);
        return 2;
    }
    struct config *cfg = load_config(path);
    if (cfg == NULL)
        return 1;
    config_free(cfg);
    printf("configuration OK\n");
    return 0;
}

static int cmd_replay(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"until", required_argument, NULL, 'u'},
        {"topic", required_argument, NULL, 't'},
        {"labels", required_argument, NULL, 'l'},
        {"alerts", no_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    const char *labels_path = NULL;
    bool alerts = false, json = false;
    struct replay_opts opts = {0};
    int ch;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "+c:u:t:l:ajh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config_path = optarg;
            break;
        case 'u':
            if (parse_time(optarg, &opts.until_ms) < 0) {
                fprintf(stderr, "churnwatch: --until %s: expected RFC 3339 (e.g. "
                                "2024-01-31T00:00:00Z) or epoch milliseconds\n",
                        optarg);
                return 2;
            }
            opts.has_until = true;
            break;
        case 't':
            opts.topic = optarg;
            break;
        case 'l':
            labels_path = optarg;
            break;
        case 'a':
            alerts = true;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (config_path == NULL) {
        fprintf(stderr, "churnwatch replay: -c FILE is required\n");
        usage(stderr);
        return 2;
    }
    if (argc - optind != 1) {
        fprintf(stderr, "churnwatch replay: expected one events file (or - for stdin)\n");
        usage(stderr);
        return 2;
    }
    if ((alerts || json) && labels_path == NULL) {
        fprintf(stderr, "churnwatch replay: --alerts and --json need --labels\n");
        usage(stderr);
        return 2;
    }
    const char *in_path = argv[optind];

    struct config *cfg = load_config(config_path);
    if (cfg == NULL)
        return 1;
    struct backtest *bt = NULL;
    if (labels_path != NULL) {
        bt = load_labels(labels_path);
        if (bt == NULL) {
            config_free(cfg);
            return 1;
        }
        opts.backtest = bt;
        opts.no_alerts = !alerts;
    }
    FILE *in = stdin;
    const char *in_name = "-";
    if (strcmp(in_path, "-") != 0) {
        in = fopen(in_path, "r");
        if (in == NULL) {
            fprintf(stderr, "%s: %s\n", in_path, strerror(errno));
            backtest_free(bt);
            config_free(cfg);
            return 1;
        }
        in_name = in_path;
    }
    struct replay_stats st;
    int rc = replay_run(cfg, in, in_name, &opts, stdout, stderr, &st);
    if (in != stdin)
        fclose(in);
    if (rc == 0) {
        char line[1024];
        replay_stats_format(&st, line, sizeof line);
        fprintf(stderr, "%s\n", line);
    }
    if (rc == 0 && bt != NULL) {
        struct backtest_report rep;
        if (backtest_report(bt, &rep) < 0) {
            fprintf(stderr, "churnwatch: out of memory\n");
            rc = -1;
        } else {
            if (alerts && !json)
                fputc('\n', stdout);
            if (json)
                backtest_report_print_json(&rep, stdout);
            else
                backtest_report_print_table(&rep, stdout);
            if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "churnwatch: write error: %s\n", strerror(errno));
                rc = -1;
            }
        }
    }
    backtest_free(bt);
    config_free(cfg);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("churnwatch %s\n", CW_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "replay") == 0)
        return cmd_replay(argc - 1, argv + 1);
    if (strcmp(cmd, "check-config") == 0)
        return cmd_check_config(argc - 1, argv + 1);
    fprintf(stderr, "churnwatch: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
